"""Layer and group normalization and embedding lookups as functions (``F.layer_norm``,
``F.group_norm``, ``F.embedding``), with torch's semantics.

``layer_norm`` is one fused ``Function`` with an analytic backward (biased variance, as torch's);
``group_norm`` reshapes the channels into groups, normalizes each with it and applies the
per-channel affine map; ``embedding`` gathers rows of a weight matrix and scatter-adds the
gradient back into them (none into ``padding_idx``'s row).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from retroprop.backend import array_module
from retroprop.tensor import Function, ShapeError, Tensor

__all__ = ["embedding", "group_norm", "layer_norm"]


class NormalizationError(ValueError, RuntimeError):
    """A bad argument to ``layer_norm``, ``group_norm`` or ``embedding`` (a dtype, a padding index).

    A ``RuntimeError``, as torch raises for these, and a ``ValueError``, as retroprop does."""


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_eps(eps: Any, where: str) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)) \
            or not math.isfinite(eps) or eps < 0:
        raise ValueError(f"{where}: eps must be a finite non-negative number, got {eps!r}")
    return float(eps)


def normalized_shape_tuple(normalized_shape: Any, where: str) -> tuple[int, ...]:
    """``normalized_shape`` (an int or a sequence of ints) as a non-empty tuple of non-negative ints."""
    shape = (normalized_shape,) if _is_int(normalized_shape) else normalized_shape
    if not isinstance(shape, Sequence) or isinstance(shape, str) or not all(_is_int(s) for s in shape):
        raise TypeError(f"{where}: normalized_shape must be an int or a sequence of ints, got "
                        f"{normalized_shape!r}")
    shape = tuple(int(s) for s in shape)
    if not shape:
        raise ShapeError(f"{where}: expected normalized_shape to be at least 1-dimensional, i.e. to "
                         "contain at least one element, got ()")
    if any(s < 0 for s in shape):
        raise ShapeError(f"{where}: normalized_shape must not hold negative sizes, got {shape}")
    return shape


# ---------------------------------------------------------------------------------------------
# Layer normalization
# ---------------------------------------------------------------------------------------------
class LayerNorm(Function):
    """Normalize over the last ``dims`` axes, then scale by ``weight`` and shift by ``bias``
    (both shaped as those axes)."""

    saves = (1,)
    read_for = ((0,),)  # the weight, for the input's gradient

    def forward(self, x: Any, weight: Any = None, bias: Any = None, *, dims: int, eps: float) -> Any:
        xp = array_module(x)
        axes = tuple(range(x.ndim - dims, x.ndim))
        count = math.prod(x.shape[x.ndim - dims:])
        mean = xp.add.reduce(x, axis=axes, keepdims=True) / max(count, 1)
        centered = x - mean
        # biased variance, as torch's layer_norm
        var = xp.add.reduce(centered * centered, axis=axes, keepdims=True) / max(count, 1)
        inv_std = (1.0 / xp.sqrt(var + eps)).astype(x.dtype, copy=False)
        x_hat = centered
        x_hat *= inv_std  # in place: ``centered`` is not needed any more
        self.x_hat, self.inv_std, self.axes, self.count = x_hat, inv_std, axes, count
        self.weight = weight if self.needs_input_grad[0] else None
        out = x_hat * weight if weight is not None else x_hat.copy()
        if bias is not None:
            out += bias
        return out

    def backward(self, grad: Any) -> tuple[Any, Any, Any]:
        need_x, need_w, need_b = self.needs_input_grad
        xp = array_module(grad)
        x_hat, axes = self.x_hat, self.axes
        leading = tuple(range(grad.ndim - len(axes)))
        grad_w = xp.add.reduce(grad * x_hat, axis=leading) if need_w else None
        grad_b = xp.add.reduce(grad, axis=leading) if need_b else None
        grad_x = None
        if need_x:
            # dx = inv_std * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat)), g_hat = grad * weight,
            # the means over the normalized axes
            g_hat = grad * self.weight if self.weight is not None else grad
            count = max(self.count, 1)
            mean_g = xp.add.reduce(g_hat, axis=axes, keepdims=True) / count
            mean_gx = xp.add.reduce(g_hat * x_hat, axis=axes, keepdims=True) / count
            grad_x = x_hat * mean_gx
            grad_x += mean_g
            xp.subtract(g_hat, grad_x, out=grad_x)
            grad_x *= self.inv_std
        return grad_x, grad_w, grad_b


def _check_floating(tensors: Sequence[tuple[Any, str]], where: str) -> None:
    """Every given tensor floating point and of the first one's dtype (torch refuses mixed dtypes)."""
    first = tensors[0][0].dtype
    for tensor, what in tensors:
        if tensor is None:
            continue
        if tensor.dtype.kind != "f":
            raise NormalizationError(f"{where}: {what} must be a floating-point tensor, got dtype "
                                     f"{tensor.dtype}; cast it first (x.float())")
        if tensor.dtype != first:
            raise NormalizationError(f"{where}: {what} has dtype {tensor.dtype} but the input has {first}; "
                                     "they must be the same (convert one with .to() or .double()/.float())")


def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the trailing axes ``normalized_shape`` (biased variance), then apply the
    elementwise ``weight`` and ``bias`` of that shape, as ``torch.nn.functional.layer_norm``."""
    where = "layer_norm"
    shape = normalized_shape_tuple(normalized_shape, where)
    eps = _check_eps(eps, where)
    x = _tensor(input)
    weight = None if weight is None else _tensor(weight)
    bias = None if bias is None else _tensor(bias)
    _check_floating([(x, "input"), (weight, "weight"), (bias, "bias")], where)
    for tensor, what in ((weight, "weight"), (bias, "bias")):
        if tensor is not None and tuple(tensor.shape) != shape:
            raise ShapeError(f"{where}: expected {what} to be of the same shape as normalized_shape, but got "
                             f"{what} of shape {tuple(tensor.shape)} and normalized_shape = {shape}")
    if x.ndim < len(shape) or tuple(x.shape[x.ndim - len(shape):]) != shape:
        raise ShapeError(f"{where}: given normalized_shape={list(shape)}, expected input with shape "
                         f"[*, {', '.join(map(str, shape))}], but got input of size {tuple(x.shape)}")
    return LayerNorm.apply(x, weight, bias, dims=len(shape), eps=eps)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalize each sample's channels in ``num_groups`` groups (over the group's channels and every
    position, biased variance), then apply the per-channel ``weight`` and ``bias``, as
    ``torch.nn.functional.group_norm``. Input ``(N, C, *)``."""
    where = "group_norm"
    eps = _check_eps(eps, where)
    x = _tensor(input)
    weight = None if weight is None else _tensor(weight)
    bias = None if bias is None else _tensor(bias)
    if not _is_int(num_groups) or num_groups < 1:
        raise ValueError(f"{where}: num_groups must be a positive integer, got {num_groups!r}")
    _check_floating([(x, "input"), (weight, "weight"), (bias, "bias")], where)
    if x.ndim < 2:
        raise ShapeError(f"{where}: expected an input of shape (N, C, *) with at least 2 dimensions, got "
                         f"shape {tuple(x.shape)}")
    n, channels = x.shape[:2]
    if channels % num_groups:
        raise ShapeError(f"{where}: expected the number of channels in the input ({channels}) to be "
                         f"divisible by num_groups ({num_groups}), got input of shape {tuple(x.shape)}")
    if n * channels // num_groups * math.prod(x.shape[2:]) == 1:
        raise ValueError(f"{where}: expected more than 1 value per channel when training, got input of shape "
                         f"{tuple(x.shape)} (torch refuses N * C / num_groups * positions == 1)")
    for tensor, what in ((weight, "weight"), (bias, "bias")):
        if tensor is not None and tuple(tensor.shape) != (channels,):
            raise ShapeError(f"{where}: expected {what} of shape ({channels},) (one per channel), got "
                             f"{tuple(tensor.shape)}")
    if n * channels == 0:  # nothing to normalize: the reshape below cannot infer a size
        out = x * 1.0
    else:
        grouped = x.reshape(n, num_groups, -1)
        out = LayerNorm.apply(grouped, None, None, dims=1, eps=eps).reshape(x.shape)
    per_channel = (1, channels) + (1,) * (x.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(per_channel)
    if bias is not None:
        out = out + bias.reshape(per_channel)
    return out


# ---------------------------------------------------------------------------------------------
# Embedding
# ---------------------------------------------------------------------------------------------
class Embedding(Function):
    """Rows ``weight[indices]``; backward scatter-adds the gradient into those rows."""

    saves = ()  # backward reads only the indices (its own copy) and the weight's shape

    def forward(self, weight: Any, *, indices: Any, padding_idx: int | None) -> Any:
        self.indices, self.padding_idx, self.weight_shape = indices, padding_idx, weight.shape
        return array_module(weight).take(weight, indices, axis=0)

    def backward(self, grad: Any) -> Any:
        xp = array_module(grad)
        rows, width = self.weight_shape
        flat = self.indices.reshape(-1)
        g = grad.reshape(flat.size, width)
        if xp is np and grad.dtype in (np.float32, np.float64) and flat.size:
            # one sparse (rows, n) @ (n, width) product sums the gradients of repeated indices: 2-10x
            # faster than np.add.at or add.reduceat over sorted runs, however many repeats there are
            from scipy import sparse

            order = np.argsort(flat, kind="stable")
            starts = np.zeros(rows + 1, dtype=np.int64)
            np.cumsum(np.bincount(flat, minlength=rows), out=starts[1:])
            ones = np.ones(flat.size, grad.dtype)
            select = sparse.csr_matrix((ones, order, starts), shape=(rows, flat.size))
            grad_w = np.ascontiguousarray(select @ g)
        else:
            grad_w = xp.zeros(self.weight_shape, dtype=grad.dtype)
            if flat.size:  # sort, then one reduceat over the runs of equal indices
                order = xp.argsort(flat, kind="stable")
                ordered = flat[order]
                starts = xp.flatnonzero(xp.concatenate((xp.asarray([True]), ordered[1:] != ordered[:-1])))
                grad_w[ordered[starts]] = xp.add.reduceat(g[order], starts, axis=0)
        if self.padding_idx is not None:
            grad_w[self.padding_idx] = 0
        return grad_w


def _padding_index(padding_idx: Any, rows: int, where: str) -> int | None:
    """``padding_idx`` as a row in ``[0, rows)`` (a negative one counts from the end), or None."""
    if padding_idx is None:
        return None
    if not _is_int(padding_idx):
        raise TypeError(f"{where}: padding_idx must be an int or None, got {type(padding_idx).__name__}")
    if not -rows <= padding_idx < rows:
        raise ValueError(f"{where}: padding_idx must be within num_embeddings: in [{-rows}, {rows - 1}] for "
                         f"{rows} embeddings, got {padding_idx}")
    return int(padding_idx) % rows


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """The rows of ``weight`` (``(num_embeddings, embedding_dim)``) at the integer ``input`` indices,
    of any shape: the result is ``input.shape + (embedding_dim,)``, as ``torch.nn.functional.embedding``.

    The gradient is added into the rows looked up (repeated indices add up), never into
    ``padding_idx``'s row. An index outside ``[0, num_embeddings)`` raises ``IndexError``.
    ``max_norm``, ``scale_grad_by_freq`` and ``sparse`` are not implemented (they must keep their
    defaults).
    """
    where = "embedding"
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError(f"{where}: max_norm, scale_grad_by_freq and sparse are not implemented; "
                                  "leave them at their defaults (None, False, False)")
    weight = _tensor(weight)
    if weight.ndim != 2:
        raise ShapeError(f"{where}: 'weight' must be 2-D (num_embeddings, embedding_dim), got shape "
                         f"{tuple(weight.shape)}")
    if weight.dtype.kind != "f":
        raise NormalizationError(f"{where}: weight must be a floating-point tensor, got dtype {weight.dtype}")
    indices = input.data if isinstance(input, Tensor) else np.asarray(input)
    if indices.dtype.kind not in "iu":
        raise NormalizationError(f"{where}: expected the indices (input) to be an integer tensor (int64 or "
                                 f"int32), got dtype {indices.dtype}")
    rows = weight.shape[0]
    padding_idx = _padding_index(padding_idx, rows, where)
    if indices.size:
        low, high = int(indices.min()), int(indices.max())
        if low < 0 or high >= rows:
            bad = low if low < 0 else high
            raise IndexError(f"{where}: index {bad} is out of range for a weight of {rows} rows (expected "
                             f"indices in [0, {rows - 1}])" if rows else
                             f"{where}: index {bad} is out of range: the weight has no rows")
    # a copy: an in-place change to the index tensor after the forward pass leaves the gradient right
    indices = indices.astype(np.intp, copy=True)
    return Embedding.apply(weight, indices=indices, padding_idx=padding_idx)
