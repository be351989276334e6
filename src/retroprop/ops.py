"""Primitive differentiable operations: arithmetic, reductions, shape and indexing.

Each op works on raw arrays. Gradients that come out in a broadcast shape are summed back to the
input's shape by the engine (``tensor.sum_to_shape``), never here.

Conventions at kinks and ties follow PyTorch: ``abs`` has gradient 0 at 0; ``clip`` passes the
gradient at its bounds; ``max``/``min`` reductions share the gradient equally between tied
elements (as ``torch.amax``); ``maximum``/``minimum`` give each side half on ties.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from retroprop.backend import array_module, is_array
from retroprop.tensor import Function, ShapeError, Tensor, as_array, share_counter

Axis = int | tuple[int, ...] | None


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def _shape(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(x))


class _Broadcasting(Function):
    """Base of the binary elementwise ops: explains broadcasting mismatches."""

    symbol = "?"

    @classmethod
    def explain_error(cls, err: ValueError, arrays: list[Any], options: dict[str, Any]) -> str | None:
        shapes = [_shape(a) for a in arrays]
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            pairs = ", ".join(str(s) for s in shapes)
            return (
                f"'{cls.symbol}' ({cls.__name__.lower()}): shapes {pairs} cannot be broadcast "
                "together; aligned from the last axis, each pair of sizes must be equal or one "
                "of them 1"
            )
        return None


def _normalize_axis(axis: Axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise np.exceptions.AxisError(int(a), ndim)
        out.append(int(a) % ndim if ndim else 0)
    return tuple(out)


def reduction_args(axis: Axis, keepdims: bool, dim: Axis = None,
                   keepdim: bool | None = None) -> tuple[Axis, bool]:
    """Merge NumPy's (axis, keepdims) and torch's (dim, keepdim) spellings."""
    if dim is not None:
        if axis is not None:
            raise TypeError("pass either axis= or dim=, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    if isinstance(axis, list):
        axis = tuple(axis)
    return axis, bool(keepdims)


def _expand_reduced(grad: Any, shape: tuple[int, ...], axis: Axis, keepdims: bool) -> Any:
    """Reshape a reduction's gradient so that it broadcasts against the input shape."""
    if not keepdims:
        axes = _normalize_axis(axis, len(shape))
        kept = tuple(1 if i in axes else n for i, n in enumerate(shape))
        grad = grad.reshape(kept)
    return grad


def _count(shape: tuple[int, ...], axis: Axis) -> int:
    return int(np.prod([shape[a] for a in _normalize_axis(axis, len(shape))], dtype=np.int64))


# ---------------------------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------------------------
class Add(_Broadcasting):
    saves = ()
    symbol = "+"

    def forward(self, a: Any, b: Any) -> Any:
        return a + b

    def backward(self, grad: Any) -> tuple[Any, Any]:
        return grad, grad


class Sub(_Broadcasting):
    saves = ()
    symbol = "-"

    def forward(self, a: Any, b: Any) -> Any:
        return a - b

    def backward(self, grad: Any) -> tuple[Any, Any]:
        return grad, (-grad if self.needs_input_grad[1] else None)


class Mul(_Broadcasting):
    saves = (0, 1)
    read_for = ((1,), (0,))  # each operand for the other's gradient
    symbol = "*"

    def forward(self, a: Any, b: Any) -> Any:
        self.a, self.b = a, b
        return a * b

    def backward(self, grad: Any) -> tuple[Any, Any]:
        need_a, need_b = self.needs_input_grad
        return (grad * self.b if need_a else None, grad * self.a if need_b else None)


class Div(_Broadcasting):
    saves = (1, -1)
    read_for = (None, (1,))  # the output for b's gradient only
    symbol = "/"

    def forward(self, a: Any, b: Any) -> Any:
        self.b = b
        self.out = a / b
        return self.out

    def backward(self, grad: Any) -> tuple[Any, Any]:
        need_a, need_b = self.needs_input_grad
        grad_a = grad / self.b if need_a else None
        grad_b = -grad * self.out / self.b if need_b else None
        return grad_a, grad_b


class Neg(Function):
    saves = ()

    def forward(self, a: Any) -> Any:
        return -a

    def backward(self, grad: Any) -> Any:
        return -grad


class Pow(Function):
    """``x ** p`` for a scalar exponent ``p``."""

    saves = (0,)

    def forward(self, a: Any, exponent: float) -> Any:
        self.a, self.exponent = a, exponent
        return a**exponent

    def backward(self, grad: Any) -> Any:
        p = self.exponent
        if p == 0:
            return grad * 0
        if p == 2:
            return grad * (2 * self.a)
        return grad * (p * self.a ** (p - 1))


class ScalarPow(Function):
    """``b ** x`` for a scalar base ``b``."""

    saves = (-1,)

    def forward(self, a: Any, base: float) -> Any:
        self.log_base = float(np.log(base))
        self.out = base**a
        return self.out

    def backward(self, grad: Any) -> Any:
        return grad * (self.out * self.log_base)


class MatMul(Function):
    """``a @ b`` with NumPy's rules: 1-D operands and broadcast batch axes included."""

    saves = (0, 1)
    read_for = ((1,), (0,))  # each operand for the other's gradient

    @classmethod
    def explain_error(cls, err: ValueError, arrays: list[Any], options: dict[str, Any]) -> str | None:
        a, b = (_shape(x) for x in arrays)
        if not a or not b:
            return f"'@' (matmul): operands must have at least one axis; got shapes {a} and {b}"
        inner_a = a[-1]
        inner_b = b[0] if len(b) == 1 else b[-2]
        if inner_a != inner_b:
            return (
                f"'@' (matmul): cannot multiply shapes {a} and {b}: the last axis of the left "
                f"operand ({inner_a}) must equal the "
                f"{'only' if len(b) == 1 else 'second-to-last'} axis of the right one ({inner_b})"
            )
        return (
            f"'@' (matmul): batch axes of shapes {a} and {b} cannot be broadcast together "
            f"({a[:-2]} vs {b[:-2]})"
        )

    def forward(self, a: Any, b: Any) -> Any:
        self.a, self.b = a, b
        return a @ b

    def backward(self, grad: Any) -> tuple[Any, Any]:
        a, b = self.a, self.b
        xp = array_module(a, b)
        need_a, need_b = self.needs_input_grad
        if a.ndim == 1 and b.ndim == 1:  # inner product: grad is 0-d
            return (grad * b if need_a else None, grad * a if need_b else None)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = grad
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        grad_a = grad_b = None
        if need_a:
            grad_a = g2 @ xp.swapaxes(b2, -1, -2)
            if a.ndim == 1:
                grad_a = grad_a[..., 0, :]
        if need_b:
            grad_b = xp.swapaxes(a2, -1, -2) @ g2
            if b.ndim == 1:
                grad_b = grad_b[..., 0]
        return grad_a, grad_b


class Cast(Function):
    saves = ()

    def forward(self, a: Any, dtype: np.dtype) -> Any:
        self.dtype = a.dtype
        return a.astype(dtype)

    def backward(self, grad: Any) -> Any:
        return grad.astype(self.dtype)


# ---------------------------------------------------------------------------------------------
# Elementwise functions
# ---------------------------------------------------------------------------------------------
class Exp(Function):
    saves = (-1,)

    def forward(self, a: Any) -> Any:
        self.out = array_module(a).exp(a)
        return self.out

    def backward(self, grad: Any) -> Any:
        return grad * self.out


class Log(Function):
    saves = (0,)

    def forward(self, a: Any) -> Any:
        self.a = a
        return array_module(a).log(a)

    def backward(self, grad: Any) -> Any:
        return grad / self.a


class Sqrt(Function):
    saves = (-1,)

    def forward(self, a: Any) -> Any:
        self.out = array_module(a).sqrt(a)
        return self.out

    def backward(self, grad: Any) -> Any:
        return grad / (2 * self.out)


class Abs(Function):
    saves = ()

    def forward(self, a: Any) -> Any:
        xp = array_module(a)
        self.sign = xp.sign(a)
        return xp.abs(a)

    def backward(self, grad: Any) -> Any:
        return grad * self.sign


class Clip(Function):
    """Clamp to ``[low, high]``; the gradient passes where ``low <= x <= high`` (bounds included)."""

    saves = ()

    def forward(self, a: Any, low: float | None, high: float | None) -> Any:
        xp = array_module(a)
        if low is not None and high is not None and low > high:
            raise ValueError(f"clip: low ({low}) must not exceed high ({high})")
        mask = None
        if low is not None:
            mask = a >= low
        if high is not None:
            mask = (a <= high) if mask is None else mask & (a <= high)
        self.mask = mask
        return xp.clip(a, low, high) if mask is not None else a.copy()

    def backward(self, grad: Any) -> Any:
        return grad * self.mask if self.mask is not None else grad


class _Extremum(_Broadcasting):
    """Elementwise maximum/minimum; ties give each side half the gradient (as torch)."""

    saves = ()

    def forward(self, a: Any, b: Any) -> Any:
        xp = array_module(a, b)
        self.wins = self._wins(a, b)
        self.ties = a == b
        return self._pick(xp, a, b)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        need_a, need_b = self.needs_input_grad
        share_a = array_module(grad).array(self.wins, dtype=grad.dtype)  # a new array, even 0-d
        share_a[self.ties] = 0.5
        grad_a = grad * share_a if need_a else None
        grad_b = grad * (1 - share_a) if need_b else None
        return grad_a, grad_b


class Maximum(_Extremum):
    symbol = "maximum"

    @staticmethod
    def _wins(a: Any, b: Any) -> Any:
        return a > b

    @staticmethod
    def _pick(xp: Any, a: Any, b: Any) -> Any:
        return xp.maximum(a, b)


class Minimum(_Extremum):
    symbol = "minimum"

    @staticmethod
    def _wins(a: Any, b: Any) -> Any:
        return a < b

    @staticmethod
    def _pick(xp: Any, a: Any, b: Any) -> Any:
        return xp.minimum(a, b)


class Where(_Broadcasting):
    saves = (0,)
    symbol = "where"

    def forward(self, condition: Any, a: Any, b: Any) -> Any:
        xp = array_module(condition, a, b)
        self.condition = condition
        return xp.where(condition, a, b)

    def backward(self, grad: Any) -> tuple[Any, Any, Any]:
        _, need_a, need_b = self.needs_input_grad
        return (
            None,
            grad * self.condition if need_a else None,
            grad * ~self.condition if need_b else None,
        )


# ---------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------
class Sum(Function):
    saves = ()

    def forward(self, a: Any, axis: Axis, keepdims: bool) -> Any:
        self.shape, self.axis, self.keepdims = a.shape, axis, keepdims
        return a.sum(axis=axis, keepdims=keepdims)

    def backward(self, grad: Any) -> Any:
        grad = _expand_reduced(grad, self.shape, self.axis, self.keepdims)
        return array_module(grad).broadcast_to(grad, self.shape)


class Mean(Function):
    saves = ()

    def forward(self, a: Any, axis: Axis, keepdims: bool) -> Any:
        self.shape, self.axis, self.keepdims = a.shape, axis, keepdims
        return a.mean(axis=axis, keepdims=keepdims)

    def backward(self, grad: Any) -> Any:
        grad = _expand_reduced(grad, self.shape, self.axis, self.keepdims)
        grad = grad / _count(self.shape, self.axis)
        return array_module(grad).broadcast_to(grad, self.shape)


class _Extreme(Function):
    """max/min over axes; tied elements share the gradient equally (torch.amax's rule)."""

    saves = ()

    def forward(self, a: Any, axis: Axis, keepdims: bool) -> Any:
        if a.size == 0:
            raise ValueError(f"{type(self).__name__.lower()}() of an empty tensor {a.shape}")
        self.shape, self.axis, self.keepdims = a.shape, axis, keepdims
        kept = self._reduce(a, axis)
        if self.needs_input_grad[0]:
            share = (a == kept).astype(a.dtype)
            share /= share.sum(axis=axis, keepdims=True)
            self.share = share
        return kept if keepdims else kept.reshape(_reduced_shape(a.shape, axis))

    def backward(self, grad: Any) -> Any:
        grad = _expand_reduced(grad, self.shape, self.axis, self.keepdims)
        return grad * self.share


def _reduced_shape(shape: tuple[int, ...], axis: Axis) -> tuple[int, ...]:
    axes = _normalize_axis(axis, len(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


class Max(_Extreme):
    @staticmethod
    def _reduce(a: Any, axis: Axis) -> Any:
        return a.max(axis=axis, keepdims=True)


class Min(_Extreme):
    @staticmethod
    def _reduce(a: Any, axis: Axis) -> Any:
        return a.min(axis=axis, keepdims=True)


class Var(Function):
    """Variance with ``ddof`` (0 by default, as NumPy); ``std=True`` gives its square root."""

    saves = ()

    def forward(self, a: Any, axis: Axis, keepdims: bool, ddof: int, std: bool) -> Any:
        xp = array_module(a)
        n = _count(a.shape, axis)
        if n - ddof <= 0:
            raise ValueError(
                f"{'std' if std else 'var'}: ddof={ddof} leaves no degrees of freedom for "
                f"{n} value(s) per reduction"
            )
        self.shape, self.axis, self.keepdims, self.std = a.shape, axis, keepdims, std
        centered = a - a.mean(axis=axis, keepdims=True)
        var = (centered * centered).sum(axis=axis, keepdims=True) / (n - ddof)
        out = xp.sqrt(var) if std else var
        if self.needs_input_grad[0]:
            # d var / d x = 2 (x - mean) / (n - ddof); d std / d x = (x - mean) / ((n - ddof) std).
            # Where std == 0 (all values equal) that is 0/0: the gradient is 0 there, as in torch.
            if std:
                scale = (n - ddof) * out
                self.local = xp.divide(centered, scale, out=xp.zeros_like(centered),
                                       where=scale != 0)
            else:
                self.local = centered * (2 / (n - ddof))
        return out if keepdims else out.reshape(_reduced_shape(a.shape, axis))

    def backward(self, grad: Any) -> Any:
        grad = _expand_reduced(grad, self.shape, self.axis, self.keepdims)
        return grad * self.local


# ---------------------------------------------------------------------------------------------
# Shape and indexing
# ---------------------------------------------------------------------------------------------
class _View(Function):
    """An op whose output may be a view of its input's array: the two share a version counter."""

    saves = ()

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Tensor:
        result = super().apply(*inputs, **options)
        share_counter(inputs[0], result)
        return result


class Reshape(_View):
    def forward(self, a: Any, shape: tuple[int, ...]) -> Any:
        self.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ShapeError(
                f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) "
                f"into {tuple(shape)}"
            ) from None

    def backward(self, grad: Any) -> Any:
        return grad.reshape(self.shape)


class Transpose(_View):
    def forward(self, a: Any, axes: tuple[int, ...] | None) -> Any:
        if axes is None:
            axes = tuple(reversed(range(a.ndim)))
        if sorted(int(x) % max(a.ndim, 1) for x in axes) != list(range(a.ndim)):
            raise ValueError(
                f"transpose: axes {tuple(axes)} are not a permutation of the {a.ndim} axes of "
                f"shape {a.shape}"
            )
        self.inverse = tuple(np.argsort([int(x) % a.ndim for x in axes]))
        return a.transpose(axes)

    def backward(self, grad: Any) -> Any:
        return grad.transpose(self.inverse)


def _is_advanced(index: Any) -> bool:
    """True when an index holds integer arrays (which may repeat positions)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(is_array(p) and p.dtype.kind in "iu" for p in parts)


class GetItem(_View):
    """``x[index]``; repeated integer indices accumulate their gradients."""

    def forward(self, a: Any, index: Any) -> Any:
        self.shape, self.dtype = a.shape, a.dtype
        # backward scatters by the index it saw: index arrays are copied (as torch makes a tensor of
        # them), so a later in-place edit of an index tensor or array cannot misroute gradients
        simple = type(index) is slice or type(index) is int
        self.index = index if simple or not self.needs_input_grad[0] else _copied_arrays(index)
        try:
            return a[index]
        except IndexError as err:
            raise IndexError(f"indexing a tensor of shape {a.shape}: {err}") from None

    def backward(self, grad: Any) -> Any:
        xp = array_module(grad)
        full = xp.zeros(self.shape, dtype=grad.dtype)
        if _is_advanced(self.index):
            xp.add.at(full, self.index, grad)
        else:
            full[self.index] = grad
        return full


def _copied_arrays(index: Any) -> Any:
    if type(index) is tuple:
        for part in index:
            if is_array(part):
                return tuple([part.copy() if is_array(part) else part for part in index])
        return index
    return index.copy() if is_array(index) else index


def _normalize_index(index: Any) -> Any:
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, list):
        return as_array(index, copy=False)
    if isinstance(index, tuple):
        return tuple(_normalize_index(i) for i in index)
    return index


class Concatenate(Function):
    saves = ()

    def forward(self, *arrays: Any, axis: int) -> Any:
        xp = array_module(*arrays)
        self.axis = axis
        self.sizes = [a.shape[axis] for a in arrays]
        try:
            return xp.concatenate(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ShapeError(
                f"concatenate along axis {axis}: shapes {shapes} must match on every other axis"
            ) from None

    def backward(self, grad: Any) -> tuple[Any, ...]:
        xp = array_module(grad)
        cuts = np.cumsum(self.sizes)[:-1]
        return tuple(xp.split(grad, cuts, axis=self.axis))


class Stack(Function):
    saves = ()

    def forward(self, *arrays: Any, axis: int) -> Any:
        xp = array_module(*arrays)
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ShapeError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
        out = xp.stack(arrays, axis=axis)
        self.axis = axis % out.ndim
        return out

    def backward(self, grad: Any) -> tuple[Any, ...]:
        lead = (slice(None),) * self.axis
        return tuple(grad[(*lead, i)] for i in range(grad.shape[self.axis]))


# ---------------------------------------------------------------------------------------------
# Module-level functions and Tensor methods
# ---------------------------------------------------------------------------------------------
def _as_tensors(tensors: Sequence[Any], name: str) -> list[Any]:
    if isinstance(tensors, Tensor) or not len(tensors):
        raise TypeError(f"{name} takes a non-empty sequence of tensors")
    return list(tensors)


def concatenate(tensors: Sequence[Tensor], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis."""
    return Concatenate.apply(*_as_tensors(tensors, "concatenate"), axis=axis if dim is None else dim)


def stack(tensors: Sequence[Tensor], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along a new axis."""
    return Stack.apply(*_as_tensors(tensors, "stack"), axis=axis if dim is None else dim)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``condition`` holds, else ``b`` (differentiable in ``a`` and ``b``)."""
    cond = condition._data if isinstance(condition, Tensor) else as_array(condition, copy=False)
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    elif isinstance(condition, Tensor):
        cond = condition  # backward reads its array: the tensor, so its version counter is checked
    return Where.apply(cond, a, b)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; on ties each side gets half the gradient."""
    return Maximum.apply(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum; on ties each side gets half the gradient."""
    return Minimum.apply(a, b)


def _reducer(op: type[Function]) -> Any:
    """A Tensor method for ``op`` taking NumPy's (axis, keepdims) or torch's (dim, keepdim)."""

    def method(self: Tensor, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
               keepdim: bool | None = None) -> Tensor:
        axis, keepdims = reduction_args(axis, keepdims, dim, keepdim)
        return op.apply(self, axis=axis, keepdims=keepdims)

    method.__name__ = op.__name__.lower()
    method.__doc__ = f"{op.__name__} over ``axis`` (all axes when None)."
    return method


def _spread(std: bool) -> Any:
    """``var`` or ``std`` with NumPy's ``ddof`` (0 by default) or torch's ``correction``."""

    def method(self: Tensor, axis: Axis = None, keepdims: bool = False, ddof: int = 0, *,
               dim: Axis = None, keepdim: bool | None = None,
               correction: int | None = None) -> Tensor:
        axis, keepdims = reduction_args(axis, keepdims, dim, keepdim)
        ddof = ddof if correction is None else correction
        return Var.apply(self, axis=axis, keepdims=keepdims, ddof=ddof, std=std)

    method.__name__ = "std" if std else "var"
    return method


def _shape_args(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _reshape(self: Tensor, *shape: Any) -> Tensor:
    return Reshape.apply(self, shape=_shape_args(shape))


def _transpose(self: Tensor, *axes: Any) -> Tensor:
    axes_t = _shape_args(axes) if axes else None
    return Transpose.apply(self, axes=axes_t)


def _permute(self: Tensor, *dims: Any) -> Tensor:
    return Transpose.apply(self, axes=_shape_args(dims))


def _squeeze(self: Tensor, axis: Axis = None, *, dim: Axis = None) -> Tensor:
    axis = axis if dim is None else dim
    axes = _normalize_axis(axis, self.ndim) if axis is not None else None
    if axes is None:
        new = tuple(n for n in self.shape if n != 1)
    else:
        bad = [a for a in axes if self.shape[a] != 1]
        if bad:
            raise ValueError(
                f"squeeze: axis {bad[0]} of shape {self.shape} has size {self.shape[bad[0]]}, "
                "not 1"
            )
        new = tuple(n for i, n in enumerate(self.shape) if i not in axes)
    return Reshape.apply(self, shape=new)


def _unsqueeze(self: Tensor, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    axis = axis if dim is None else dim
    if axis is None:
        raise TypeError("unsqueeze() needs an axis")
    ndim = self.ndim + 1
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(axis, ndim)
    axis %= ndim
    return Reshape.apply(self, shape=(*self.shape[:axis], 1, *self.shape[axis:]))


def _flatten(self: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if self.ndim == 0:
        return Reshape.apply(self, shape=(1,))
    start, end = start_dim % self.ndim, end_dim % self.ndim
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = int(np.prod(self.shape[start : end + 1], dtype=np.int64))
    return Reshape.apply(self, shape=(*self.shape[:start], merged, *self.shape[end + 1 :]))


def _getitem(self: Tensor, index: Any) -> Tensor:
    return GetItem.apply(self, index=_normalize_index(index))


def _clip(self: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    return Clip.apply(self, low=min, high=max)


_METHODS = {
    "sum": _reducer(Sum),
    "mean": _reducer(Mean),
    "max": _reducer(Max),
    "min": _reducer(Min),
    "var": _spread(std=False),
    "std": _spread(std=True),
    "reshape": _reshape,
    "view": _reshape,
    "transpose": _transpose,
    "permute": _permute,
    "squeeze": _squeeze,
    "unsqueeze": _unsqueeze,
    "flatten": _flatten,
    "__getitem__": _getitem,
    "clip": _clip,
    "clamp": _clip,
    "exp": lambda self: Exp.apply(self),
    "log": lambda self: Log.apply(self),
    "sqrt": lambda self: Sqrt.apply(self),
    "abs": lambda self: Abs.apply(self),
    "__abs__": lambda self: Abs.apply(self),
}
for _name, _method in _METHODS.items():
    setattr(Tensor, _name, _method)
