"""Primitive differentiable operations: arithmetic, reductions, shape and indexing.

Each op works on raw arrays. Gradients that come out in a broadcast shape are summed back to the
input's shape by the engine (``tensor.sum_to_shape``), never here.

Conventions at kinks and ties follow PyTorch: ``abs`` has gradient 0 at 0; ``clip`` passes the
gradient at its bounds; ``amax``/``amin`` (and ``max()``/``min()`` over everything) share the
gradient equally between tied elements, ``max(dim)``/``min(dim)`` give it to the returned index (as
torch's); ``maximum``/``minimum`` give each side half on ties. Binary ops promote dtypes as torch's
``result_type`` (``result_dtype``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from retroprop.backend import array_module, is_array
from retroprop.tensor import DEFAULT_DTYPE, Function, ShapeError, Tensor, as_array, share_counter

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
        if not -max(ndim, 1) <= a < max(ndim, 1):  # a 0-d tensor takes 0 and -1, as torch's
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
# Type promotion (torch's, where it differs from NumPy's)
# ---------------------------------------------------------------------------------------------
def _category(dtype: np.dtype) -> int:
    return 2 if dtype.kind == "f" else 0 if dtype.kind == "b" else 1


def _promote_pair(a: np.dtype | None, b: np.dtype | None) -> np.dtype | None:
    """torch.promote_types: an integer with a float gives that float (NumPy may widen it)."""
    if a is None or b is None:
        return b if a is None else a
    ca, cb = _category(a), _category(b)
    if ca != cb and 2 in (ca, cb):
        return a if ca == 2 else b
    return np.promote_types(a, b)


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    # torch's combine_categories: a lower-priority group only counts when its category is higher
    if higher is None:
        return lower
    if lower is None or higher.kind == "f":
        return higher
    if higher.kind == "b" or lower.kind == "f":
        return _promote_pair(higher, lower)
    return higher


def result_dtype(*operands: Any) -> np.dtype:
    """The dtype torch gives an elementwise op on ``operands`` (torch.result_type): arrays with
    axes decide first, then 0-d arrays, then Python scalars (a float counts as the default float
    dtype, float32), each group only where its category (bool < integer < float) is higher."""
    dims = zeros = scalars = None
    for x in operands:
        if isinstance(x, (bool, np.bool_)):
            scalars = _promote_pair(scalars, np.dtype(np.bool_))
        elif isinstance(x, (int, np.integer)) and not is_array(x):
            scalars = _promote_pair(scalars, np.dtype(np.int64))
        elif isinstance(x, (float, np.floating)) and not is_array(x):
            scalars = _promote_pair(scalars, DEFAULT_DTYPE)
        elif x.ndim:
            dims = _promote_pair(dims, x.dtype)
        else:
            zeros = _promote_pair(zeros, x.dtype)
    return _combine(dims, _combine(zeros, scalars))


def _as_dtype(x: Any, dtype: np.dtype) -> Any:
    """``x`` cast to ``dtype`` when it is an array of another dtype (scalars stay: NumPy treats
    them as weak, so they follow the array's dtype; NumPy's own scalars become Python's)."""
    if isinstance(x, np.generic) and x.dtype != dtype:
        return x.item()  # NumPy 2 would let a float64 scalar widen a float32 array
    return x.astype(dtype) if is_array(x) and x.dtype != dtype else x


_WEAK = frozenset((float, int, bool))


def _promoted(a: Any, b: Any, true_division: bool = False) -> tuple[Any, Any]:
    """The operands cast so that NumPy computes in torch's result dtype (fast when they agree)."""
    da, db = getattr(a, "dtype", None), getattr(b, "dtype", None)
    if da is db and da is not None and (da.kind == "f" or not true_division):
        return a, b
    # a float array with a Python number (weak: it takes the array's dtype), the common case
    if (da is not None and da.kind == "f" and type(b) in _WEAK) or (
            db is not None and db.kind == "f" and type(a) in _WEAK):
        return a, b
    want = result_dtype(a, b)
    if true_division and want.kind != "f":
        want = DEFAULT_DTYPE  # integer / integer is a float32 tensor in torch
    return _as_dtype(a, want), _as_dtype(b, want)


def _float_input(a: Any) -> Any:
    """Integer and bool tensors enter exp/log/sqrt as float32 (torch's default float dtype)."""
    return a if a.dtype.kind == "f" else a.astype(DEFAULT_DTYPE)


# ---------------------------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------------------------
class Add(_Broadcasting):
    saves = ()
    symbol = "+"

    def forward(self, a: Any, b: Any) -> Any:
        if type(a) is not type(b) or a.dtype is not b.dtype:
            a, b = _promoted(a, b)
        return a + b

    def backward(self, grad: Any) -> tuple[Any, Any]:
        return grad, grad


class Sub(_Broadcasting):
    saves = ()
    symbol = "-"

    def forward(self, a: Any, b: Any) -> Any:
        if type(a) is not type(b) or a.dtype is not b.dtype:
            a, b = _promoted(a, b)
        return a - b

    def backward(self, grad: Any) -> tuple[Any, Any]:
        return grad, (-grad if self.needs_input_grad[1] else None)


class Mul(_Broadcasting):
    saves = (0, 1)
    read_for = ((1,), (0,))  # each operand for the other's gradient
    symbol = "*"

    def forward(self, a: Any, b: Any) -> Any:
        if type(a) is not type(b) or a.dtype is not b.dtype:
            a, b = _promoted(a, b)
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
        a, b = _promoted(a, b, true_division=True)
        self.b = b
        # a zero divisor gives inf/NaN quietly, as torch's (the test is cheaper than np.errstate)
        if b.all() if hasattr(b, "all") else b:
            self.out = a / b
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
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
        a, exponent = _promoted(a, exponent)
        if a.dtype.kind in "iub" and isinstance(exponent, (int, np.integer)) and exponent < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        self.a, self.exponent = a, exponent
        if exponent >= 0 and float(exponent).is_integer():  # False for NaN and inf too
            return a**exponent
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1 is inf, (-1) ** 0.5 NaN, as torch's
            return a**exponent

    def backward(self, grad: Any) -> Any:
        p = self.exponent
        if p == 0:
            return grad * 0
        if p == 2:
            return grad * (2 * self.a)
        return grad * (p * self.a ** (p - 1))


def _integer_power(xp: Any, a: Any, b: Any) -> Any:
    """Integer ``a ** b`` with negative exponents as torch's (NumPy refuses them): ``1 ** -n`` is
    1, ``(-1) ** -n`` is -1 for odd ``n`` and 1 for even, any other base gives 0."""
    negative = b < 0
    positive_part = a ** xp.where(negative, 0, b)
    odd = (-b) % 2 == 1
    below = xp.where(a == 1, 1, xp.where(a == -1, xp.where(odd, -1, 1), 0)).astype(positive_part.dtype)
    return xp.where(negative, below, positive_part)


class TensorPow(_Broadcasting):
    """``a ** b`` elementwise with broadcasting, differentiable in both, as torch's: the base's
    gradient is 0 where ``b == 0``; the exponent's (``a ** b * log a``) is 0 where ``a == 0`` and
    ``b >= 0``."""

    saves = (0, 1, -1)
    symbol = "**"

    def forward(self, a: Any, b: Any) -> Any:
        if type(a) is not type(b) or a.dtype is not b.dtype:
            a, b = _promoted(a, b)
        self.a, self.b = a, b
        if a.dtype.kind in "iu" and b.dtype.kind in "iu" and (b < 0).any():
            self.out = _integer_power(array_module(a, b), a, b)
            return self.out
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** negative is inf, as torch's
            self.out = a**b
        return self.out

    def backward(self, grad: Any) -> tuple[Any, Any]:
        xp = array_module(grad)
        a, b = self.a, self.b
        need_a, need_b = self.needs_input_grad
        grad_a = grad_b = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if need_a:
                grad_a = grad * xp.where(b == 0, 0, b * a ** (b - 1))
            if need_b:
                grad_b = grad * xp.where((a == 0) & (b >= 0), 0, self.out * xp.log(a))
        return grad_a, grad_b


class ScalarPow(Function):
    """``b ** x`` for a scalar base ``b``. At ``b == 0`` the gradient is 0 where ``x >= 0`` (where
    ``b ** x * log b`` is ``0 * -inf``), as torch's."""

    saves = (-1,)

    def forward(self, a: Any, base: float) -> Any:
        base, a = _promoted(base, a)
        self.base = base
        with np.errstate(divide="ignore"):  # 0 ** negative is inf, as torch's
            self.out = base**a
        return self.out

    def backward(self, grad: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):  # log of 0 or of a negative base
            local = self.out * float(np.log(self.base))
        if self.base == 0:  # out is 0 (x > 0), 1 (x == 0) or inf (x < 0): torch masks x >= 0
            local = array_module(local).where(self.out <= 1, 0, local)
        return grad * local


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


class Clone(Function):
    """``x.clone()``: a copy of the array, in the graph (the gradient passes through)."""

    saves = ()

    def forward(self, a: Any) -> Any:
        return a.copy()

    def backward(self, grad: Any) -> Any:
        return grad


class Norm2(Function):
    """``x.norm()``: the 2-norm over ``axis`` (all elements when None). Its gradient is
    ``x / norm``, and 0 where the norm is 0 (the subgradient torch picks)."""

    saves = (0, -1)

    def forward(self, a: Any, axis: Any, keepdims: bool) -> Any:
        a = _float_input(a)
        self.a, self.axis, self.keepdims = a, axis, keepdims
        self.out = array_module(a).sqrt((a * a).sum(axis=axis, keepdims=keepdims))
        return self.out

    def backward(self, grad: Any) -> Any:
        out, grad = self.out, grad
        if not self.keepdims and self.axis is not None:
            out, grad = np.expand_dims(out, self.axis), np.expand_dims(grad, self.axis)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(out == 0, 0, grad / out)
        return (self.a * scale).astype(self.a.dtype, copy=False)


def _norm(self: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
    """torch's ``norm`` for the 2-norm (``p=2`` or ``'fro'``), over ``dim`` or all elements."""
    if p not in (2, 2.0, "fro"):
        raise ValueError(f"norm: only the 2-norm (p=2 or 'fro') is supported, got p={p!r}")
    if isinstance(dim, list):
        dim = tuple(dim)
    return Norm2.apply(self, axis=dim, keepdims=bool(keepdim))


# ---------------------------------------------------------------------------------------------
# Elementwise functions
# ---------------------------------------------------------------------------------------------
class Exp(Function):
    saves = (-1,)

    def forward(self, a: Any) -> Any:
        with np.errstate(over="ignore"):  # inf, as torch's, without NumPy's warning
            self.out = array_module(a).exp(_float_input(a))
        return self.out

    def backward(self, grad: Any) -> Any:
        with np.errstate(over="ignore", invalid="ignore"):
            return grad * self.out


class Log(Function):
    saves = (0,)

    def forward(self, a: Any) -> Any:
        self.a = a = _float_input(a)
        with np.errstate(divide="ignore", invalid="ignore"):  # -inf at 0, NaN below, as torch's
            return array_module(a).log(a)

    def backward(self, grad: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad / self.a


class Sqrt(Function):
    saves = (-1,)

    def forward(self, a: Any) -> Any:
        with np.errstate(invalid="ignore"):  # NaN below 0, as torch's
            self.out = array_module(a).sqrt(_float_input(a))
        return self.out

    def backward(self, grad: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
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
    """Clamp to ``[low, high]``; the gradient passes where ``low <= x <= high`` (bounds included).
    As torch's: with ``low > high`` every value becomes ``high`` (and no gradient passes); an
    integer tensor with a float bound gives float32."""

    saves = ()

    def forward(self, a: Any, low: float | None, high: float | None) -> Any:
        xp = array_module(a)
        bounds = [b for b in (low, high) if b is not None]
        if not bounds:
            raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
        want = result_dtype(a, *bounds)
        if want != a.dtype:
            a = a.astype(want)
        low, high = (None if b is None else _as_dtype(b, want) for b in (low, high))
        mask = None
        if low is not None:
            mask = a >= low
        if high is not None:
            mask = (a <= high) if mask is None else mask & (a <= high)
        self.mask = mask
        return xp.clip(a, low, high)

    def backward(self, grad: Any) -> Any:
        return grad * self.mask


class _Extremum(_Broadcasting):
    """Elementwise maximum/minimum; ties give each side half the gradient (as torch)."""

    saves = ()

    def forward(self, a: Any, b: Any) -> Any:
        xp = array_module(a, b)
        a, b = _promoted(a, b)
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
        if a.size == 0:  # NaN where nothing is averaged, as torch's (NumPy also warns)
            with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)
                return a.mean(axis=axis, keepdims=keepdims)
        return a.mean(axis=axis, keepdims=keepdims)

    def backward(self, grad: Any) -> Any:
        grad = _expand_reduced(grad, self.shape, self.axis, self.keepdims)
        with np.errstate(invalid="ignore", divide="ignore"):  # an empty mean: no element to reach
            grad = grad / _count(self.shape, self.axis)
        return array_module(grad).broadcast_to(grad, self.shape)


class _Extreme(Function):
    """max/min over axes; tied elements share the gradient equally (torch.amax's rule)."""

    saves = ()

    def forward(self, a: Any, axis: Axis, keepdims: bool) -> Any:
        if a.size == 0:
            name = type(self).__name__.lower()
            if axis is None:
                raise RuntimeError(
                    f"{name}(): Expected reduction dim to be specified for input.numel() == 0 (a "
                    f"tensor of shape {a.shape}). Specify the reduction dim with the 'dim' argument.")
            empty = [d for d in _normalize_axis(axis, a.ndim) if a.shape[d] == 0]
            if empty:
                raise IndexError(f"{name}(): Expected reduction dim {empty[0]} to have non-zero size "
                                 f"(a tensor of shape {a.shape}).")
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
    """Variance dividing by ``n - ddof`` (the method passes torch's default, 1); ``std=True``
    gives its square root. With ``n - ddof <= 0`` the result is NaN or inf, as torch's."""

    saves = ()

    def forward(self, a: Any, axis: Axis, keepdims: bool, ddof: int, std: bool) -> Any:
        xp = array_module(a)
        dof = float(max(_count(a.shape, axis) - ddof, 0))
        self.shape, self.axis, self.keepdims, self.std = a.shape, axis, keepdims, std
        centered = a - a.mean(axis=axis, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):  # no degrees of freedom: NaN, as torch
            var = (centered * centered).sum(axis=axis, keepdims=True) / dof
            out = xp.sqrt(var) if std else var
            if self.needs_input_grad[0]:
                # d var / d x = 2 (x - mean) / (n - ddof); d std / d x = (x - mean) / ((n - ddof) std).
                # Where std == 0 (all values equal) that is 0/0: the gradient is 0 there, as in torch.
                if std:
                    scale = dof * out
                    self.local = xp.divide(centered, scale, out=xp.zeros_like(centered),
                                           where=scale != 0)
                else:
                    self.local = centered * (2 / dof if dof else np.inf)
        return out if keepdims else out.reshape(_reduced_shape(a.shape, axis))

    def backward(self, grad: Any) -> Any:
        grad = _expand_reduced(grad, self.shape, self.axis, self.keepdims)
        return grad * self.local


class TakeAlongAxis(Function):
    """``take_along_axis(a, indices, axis)`` with one index per slice (``max(dim)``'s values): the
    gradient goes to the chosen element only, as torch's ``max(dim)``."""

    saves = ()

    def forward(self, a: Any, indices: Any, axis: int) -> Any:
        self.shape, self.indices, self.axis = a.shape, indices, axis
        return array_module(a).take_along_axis(a, indices, axis)

    def backward(self, grad: Any) -> Any:
        xp = array_module(grad)
        full = xp.zeros(self.shape, dtype=grad.dtype)
        xp.put_along_axis(full, self.indices, grad, self.axis)
        return full


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
            raise ShapeError(
                f"permute: dims {tuple(axes)} are not a permutation of the {a.ndim} dims of "
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
    """Join tensors along a new axis; dtypes are promoted as torch's (int64 with float32 gives float32)."""
    return Stack.apply(*_promote_all(_as_tensors(tensors, "stack")), axis=axis if dim is None else dim)


def _promote_all(tensors: list[Any]) -> list[Any]:
    """``tensors`` (tensors or arrays) cast to their common dtype by torch's promotion (cat, stack)."""
    arrays = [t if isinstance(t, Tensor) else as_array(t, copy=False) for t in tensors]
    dtype = None
    for t in arrays:
        dtype = _promote_pair(dtype, t.dtype)
    return [t if t.dtype == dtype else Cast.apply(t, dtype=dtype) if isinstance(t, Tensor)
            else t.astype(dtype) for t in arrays]


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


def _zero_d_axis(axis: Axis, ndim: int) -> Axis:
    """A 0-d tensor reduces over dim 0 or -1 as over everything (torch's rule; NumPy's ``mean``
    refuses them): the dim is checked, then dropped."""
    if ndim or axis is None:
        return axis
    _normalize_axis(axis, 0)
    return None


def _reducer(op: type[Function]) -> Any:
    """A Tensor method for ``op`` taking torch's (dim, keepdim) or NumPy's (axis, keepdims)."""

    def method(self: Tensor, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
               keepdim: bool | None = None) -> Tensor:
        axis, keepdims = reduction_args(axis, keepdims, dim, keepdim)
        return op.apply(self, axis=_zero_d_axis(axis, self.ndim), keepdims=keepdims)

    method.__name__ = op.__name__.lower()
    method.__doc__ = f"{op.__name__} over ``axis`` (all axes when None)."
    return method


class MaxMin(tuple):
    """What ``max(dim)``/``min(dim)`` return, as torch's ``torch.return_types.max``."""

    __slots__ = ()

    def __new__(cls, values: Tensor, indices: Tensor) -> MaxMin:
        return super().__new__(cls, (values, indices))

    @property
    def values(self) -> Tensor:
        return self[0]

    @property
    def indices(self) -> Tensor:
        return self[1]

    def __repr__(self) -> str:
        return f"(values={self[0]!r}, indices={self[1]!r})"


def _check_dim(dim: Any, ndim: int, where: str) -> int:
    """``dim`` as a non-negative axis; torch's IndexError when out of range (0-d takes 0 and -1)."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{where}: a dimension must be an int, got {type(dim).__name__}")
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"{where}: dimension out of range (expected to be in range of "
                         f"[{-size}, {size - 1}], but got {dim})")
    return int(dim) % size


def _extremum(op: type[Function], pairwise: type[Function], name: str) -> Any:
    """torch's ``max``/``min``: over everything (a 0-d tensor), along ``dim`` as (values,
    indices), or elementwise against another tensor."""
    arg = np.argmax if name == "max" else np.argmin

    def method(self: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
               keepdims: bool | None = None) -> Any:
        if isinstance(dim, Tensor) or is_array(dim):
            return pairwise.apply(self, dim)
        axis, keepdims = reduction_args(axis, keepdim, dim, keepdims)
        if axis is None:
            return op.apply(self, axis=None, keepdims=keepdims)
        if isinstance(axis, tuple):
            raise TypeError(f"{name}(dim) takes one dimension (and returns values and indices); "
                            f"for the {name} over several dimensions use a{name}(dim={axis})")
        axis = _check_dim(axis, self.ndim, f"{name}(dim)")
        data = self._data
        if self.ndim == 0:
            values = Reshape.apply(self, shape=())
            return MaxMin(values, Tensor._make(np.zeros((), dtype=np.int64)))
        if data.shape[axis] == 0:
            raise IndexError(f"{name}(): expected reduction dim {axis} to have non-zero size; "
                             f"the tensor has shape {data.shape}")
        index = arg(data, axis=axis, keepdims=True)
        values = TakeAlongAxis.apply(self, indices=index, axis=axis)
        if not keepdims:
            values = Reshape.apply(values, shape=_reduced_shape(data.shape, axis))
            index = index.reshape(values.shape)
        return MaxMin(values, Tensor._make(index.astype(np.int64, copy=False)))

    method.__name__ = name
    method.__doc__ = (f"torch's ``{name}``: ``{name}()`` over all elements; ``{name}(dim)`` the "
                      f"(values, indices) along ``dim``; ``{name}(other)`` elementwise. For the "
                      f"{name} over several dims (ties share the gradient) use ``a{name}``.")
    return method


def _spread(std: bool) -> Any:
    """``var``/``std`` as torch's: unbiased (``correction=1``) unless ``unbiased=False``,
    ``correction=`` or NumPy's ``ddof=`` says otherwise."""
    name = "std" if std else "var"

    def method(self: Tensor, dim: Axis = None, unbiased: bool | None = None, keepdim: bool = False, *,
               correction: int | None = None, axis: Axis = None, keepdims: bool | None = None,
               ddof: int | None = None) -> Tensor:
        if isinstance(dim, bool):  # torch's var(unbiased) overload
            dim, unbiased = None, dim
        axis, keepdims = reduction_args(axis, keepdim, dim, keepdims)
        given = [v for v in (unbiased, correction, ddof) if v is not None]
        if len(given) > 1:
            raise TypeError(f"{name}: pass one of unbiased=, correction= and ddof=, not several")
        if unbiased is not None:
            ddof = 1 if unbiased else 0
        elif correction is not None:
            ddof = correction
        return Var.apply(self, axis=_zero_d_axis(axis, self.ndim), keepdims=keepdims,
                         ddof=1 if ddof is None else ddof, std=std)

    method.__name__ = name
    return method


def _shape_args(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _reshape(self: Tensor, *shape: Any) -> Tensor:
    return Reshape.apply(self, shape=_shape_args(shape))


def _transpose(self: Tensor, *dims: Any) -> Tensor:
    """torch's ``transpose(dim0, dim1)``: swap two dimensions."""
    if len(dims) != 2:
        shown = ", ".join(repr(d) for d in dims)
        raise TypeError(
            f"transpose(dim0, dim1) swaps two dimensions, as torch's; got transpose({shown}). "
            "For a permutation of all dimensions write permute(...); x.T reverses them (a matrix's "
            "transpose), x.mT swaps the last two"
        )
    first, second = (_check_dim(d, self.ndim, "transpose") for d in dims)
    axes = list(range(self.ndim))
    if self.ndim:
        axes[first], axes[second] = axes[second], axes[first]
    return Transpose.apply(self, axes=tuple(axes))


def _transpose_keywords(self: Tensor, *dims: Any, dim0: Any = None, dim1: Any = None) -> Tensor:
    given = tuple(d for d in (dim0, dim1) if d is not None)
    return _transpose(self, *dims, *given)


def _permute(self: Tensor, *dims: Any) -> Tensor:
    return Transpose.apply(self, axes=_shape_args(dims))


def _matrix_transpose(self: Tensor) -> Tensor:
    if self.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices; got a "
                           f"{self.ndim}-D tensor")
    return _transpose(self, -2, -1)


def _squeeze(self: Tensor, axis: Axis = None, *, dim: Axis = None) -> Tensor:
    """torch's ``squeeze``: drop the given dims (all when None) that have size 1; a given dim of
    another size is left as it is (no error), as torch's. A 0-d tensor takes dim 0 or -1."""
    axis = axis if dim is None else dim
    if isinstance(axis, list):
        axis = tuple(axis)
    if axis is None:
        new = tuple(n for n in self.shape if n != 1)
    else:
        axes = _normalize_axis(axis, self.ndim)
        if len(set(axes)) != len(axes):
            raise RuntimeError(f"squeeze: dim {axis} names a dimension more than once")
        new = tuple(n for i, n in enumerate(self.shape) if i not in axes or n != 1)
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
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = int(np.prod(self.shape[start : end + 1], dtype=np.int64))
    return Reshape.apply(self, shape=(*self.shape[:start], merged, *self.shape[end + 1 :]))


def _split_integers(index: Any) -> tuple[Any, Any] | None:
    """torch's rule for integers beside index arrays: an integer selects (removes its dim) first,
    and only the arrays index together (NumPy counts the integer as one more index array, which
    moves the arrays' dims to the front when a slice separates them). Returns the two steps, or
    None when NumPy's result is torch's already."""
    if type(index) is not tuple:
        return None
    is_int = [isinstance(p, (int, np.integer)) and not isinstance(p, (bool, np.bool_)) for p in index]
    if not any(is_int) or not any(is_array(p) and p.ndim for p in index):
        return None
    select, rest = [], []
    for part, integer in zip(index, is_int, strict=True):
        if integer:
            select.append(part)
        elif part is None:
            select.append(None)
            rest.append(slice(None))
        elif part is Ellipsis:
            select.append(Ellipsis)
            rest.append(Ellipsis)
        else:
            consumed = part.ndim if is_array(part) and part.dtype == np.bool_ else 1
            select.extend([slice(None)] * consumed)
            rest.append(part)
    return tuple(select), tuple(rest)


def _getitem(self: Tensor, index: Any) -> Tensor:
    index = _normalize_index(index)
    steps = _split_integers(index)
    if steps is not None:
        return GetItem.apply(GetItem.apply(self, index=steps[0]), index=steps[1])
    return GetItem.apply(self, index=index)


def _clip(self: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    return Clip.apply(self, low=min, high=max)


_METHODS = {
    "sum": _reducer(Sum),
    "mean": _reducer(Mean),
    "max": _extremum(Max, Maximum, "max"),
    "min": _extremum(Min, Minimum, "min"),
    "amax": _reducer(Max),
    "amin": _reducer(Min),
    "var": _spread(std=False),
    "std": _spread(std=True),
    "reshape": _reshape,
    "view": _reshape,
    "transpose": _transpose_keywords,
    "permute": _permute,
    "squeeze": _squeeze,
    "unsqueeze": _unsqueeze,
    "flatten": _flatten,
    "__getitem__": _getitem,
    "clip": _clip,
    "clamp": _clip,
    "clone": lambda self: Clone.apply(self),
    "norm": _norm,
    "exp": lambda self: Exp.apply(self),
    "log": lambda self: Log.apply(self),
    "sqrt": lambda self: Sqrt.apply(self),
    "abs": lambda self: Abs.apply(self),
    "__abs__": lambda self: Abs.apply(self),
    "T": property(lambda self: Transpose.apply(self, axes=None), doc="The dimensions reversed."),
    "mT": property(_matrix_transpose, doc="The last two dimensions swapped."),
}
for _name, _method in _METHODS.items():
    setattr(Tensor, _name, _method)
