"""Linear (fully connected), Flatten and Identity layers."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from retroprop import functional as F
from retroprop.nn import init as nn_init
from retroprop.nn.module import Module
from retroprop.nn.parameter import Parameter
from retroprop.tensor import ShapeError, Tensor

_linear = F.Linear.apply  # bound once: these are called once per layer and step
_linear_relu = F.LinearReLU.apply


def _positive_int(value: Any, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{where}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _fresh_parameter(shape: tuple[int, ...], dtype: np.dtype) -> Parameter:
    """A Parameter wrapping a new uninitialized array: ``Parameter(array)`` would copy it, holding the
    weights twice while a layer is built (and rp.load builds every layer)."""
    parameter = Parameter._make(np.empty(shape, dtype=dtype))
    parameter.requires_grad = True  # refuses a dtype that is not floating point
    return parameter


class Linear(Module):
    """``y = x @ weight.T + bias`` with ``weight`` shaped ``(out_features, in_features)``.

    ``init`` picks the weight initialization: None (PyTorch's default, U(±1/sqrt(in_features)) for
    weight and bias), a name from ``nn.init.INITIALIZERS`` ('he_normal', 'xavier_uniform',
    'orthogonal', ...; the bias then starts at zero), or a callable that fills the weight tensor.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init: str | Callable[[Tensor], Any] | None = None, dtype: Any = None,
                 generator: Any = None) -> None:
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features", "Linear")
        self.out_features = _positive_int(out_features, "out_features", "Linear")
        if init is not None and not callable(init) and init not in nn_init.INITIALIZERS:
            raise ValueError(
                f"Linear: unknown init {init!r}; expected None, a callable or one of "
                f"{', '.join(sorted(nn_init.INITIALIZERS))}"
            )
        self._init = init  # a name, a callable or None; reset_parameters() reuses it
        dtype = np.float32 if dtype is None else np.dtype(dtype)
        self.weight = _fresh_parameter((self.out_features, self.in_features), dtype)
        if bias:
            self.bias = _fresh_parameter((self.out_features,), dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(init, generator)

    def reset_parameters(self, init: str | Callable[[Tensor], Any] | None = None,
                         generator: Any = None) -> None:
        """Draw fresh weights (and bias) with the given or the layer's own initialization."""
        init = self._init if init is None else init
        bound = 1.0 / math.sqrt(self.in_features)
        if init is None:
            # PyTorch's default: kaiming_uniform_(a=sqrt(5)) gives exactly U(-1/sqrt(fan_in), +)
            nn_init.uniform_(self.weight, -bound, bound, generator)
            if self.bias is not None:
                nn_init.uniform_(self.bias, -bound, bound, generator)
            return
        if callable(init):
            init(self.weight)
        else:
            nn_init.INITIALIZERS[init](self.weight, generator)
        if self.bias is not None:
            nn_init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        try:
            return _linear(x, self.weight, self.bias)
        except ValueError:
            self._explain_width(x)
            raise

    def forward_relu(self, x: Tensor) -> Tensor:
        """``relu(self(x))`` as one fused node; ``Sequential`` uses it for a Linear then a ReLU."""
        try:
            return _linear_relu(x, self.weight, self.bias)
        except ValueError:
            self._explain_width(x)
            raise

    def _explain_width(self, x: Any) -> None:
        # checked only on failure (a wrong width fails in the matmul): the hot path stays lean
        shape = np.shape(x.data if isinstance(x, Tensor) else x)
        if not shape or shape[-1] != self.in_features:
            raise ShapeError(
                f"{self.label()} expects {self.in_features} input features on the last axis, got "
                f"input of shape {tuple(shape)} ({shape[-1] if shape else None} features)"
            ) from None

    def label(self) -> str:
        return f"Linear {self.in_features}→{self.out_features}"

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")

    def get_config(self) -> dict[str, Any]:
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.bias is not None}


class Flatten(Module):
    """Merge axes ``start_dim..end_dim`` into one (the batch axis 0 is kept by default)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def get_config(self) -> dict[str, Any]:
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}


class Identity(Module):
    """Return the input unchanged (a placeholder, e.g. where an activation was removed)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x

    def get_config(self) -> dict[str, Any]:
        return {}
