"""Lookup layers: ``Embedding``, as PyTorch's (N(0, 1) initialization, ``padding_idx``,
``from_pretrained``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from retroprop import functional as F
from retroprop.nn import init as nn_init
from retroprop.nn.linear import _fresh_parameter, _positive_int
from retroprop.nn.module import Module
from retroprop.nn.parameter import Parameter
from retroprop.normalization import _padding_index
from retroprop.tensor import Tensor

__all__ = ["Embedding"]


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, looked up by integer index, as
    ``torch.nn.Embedding``: input of any integer shape, output ``input.shape + (embedding_dim,)``.

    The weight starts N(0, 1) (drawn from retroprop's generator, or ``generator``), with the row
    ``padding_idx`` zeroed; that row receives no gradient. ``_weight`` gives the initial table
    (copied, used as it is), ``_freeze=True`` makes it untrainable. ``max_norm``,
    ``scale_grad_by_freq`` and ``sparse`` are not implemented (they must keep their defaults).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Any = None, _freeze: bool = False, dtype: Any = None,
                 generator: Any = None) -> None:
        super().__init__()
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise NotImplementedError("Embedding: max_norm, scale_grad_by_freq and sparse are not "
                                      "implemented; leave them at their defaults (None, False, False)")
        self.num_embeddings = _positive_int(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = _positive_int(embedding_dim, "embedding_dim", "Embedding")
        self.padding_idx = _padding_index(padding_idx, self.num_embeddings, "Embedding")
        self.max_norm, self.norm_type = max_norm, float(norm_type)
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:
            self.weight = _fresh_parameter(shape, np.dtype(np.float32 if dtype is None else dtype))
            self.reset_parameters(generator)
        else:
            array = _weight.data if isinstance(_weight, Tensor) else np.asarray(_weight)
            if array.shape != shape:
                raise ValueError(f"Embedding: _weight has shape {array.shape}, which does not match "
                                 f"(num_embeddings, embedding_dim) = {shape}")
            if dtype is not None:
                array = array.astype(dtype)
            if array.dtype.kind != "f":
                raise TypeError(f"Embedding: the weight must be floating point, got dtype {array.dtype}")
            self.weight = Parameter(array)
        if _freeze:
            self.weight.requires_grad = False

    def reset_parameters(self, generator: Any = None) -> None:
        """PyTorch's default: N(0, 1), then the ``padding_idx`` row set to zero."""
        nn_init.normal_(self.weight, generator=generator)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, sparse: bool = False) -> Embedding:
        """An Embedding holding (a copy of) the 2-D ``embeddings``; ``freeze=True``: not trained."""
        array = embeddings.data if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if array.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-dimensional "
                             f"(num_embeddings, embedding_dim), got shape {array.shape}")
        return cls(array.shape[0], array.shape[1], padding_idx, max_norm, norm_type, scale_grad_by_freq,
                   sparse, _weight=array, _freeze=freeze)

    def forward(self, x: Any) -> Tensor:
        return F.embedding(x, self.weight, self.padding_idx)

    def label(self) -> str:
        return f"Embedding {self.num_embeddings}×{self.embedding_dim}"

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text

    def get_config(self) -> dict[str, Any]:
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                "padding_idx": self.padding_idx}
