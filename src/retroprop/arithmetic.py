"""torch's arithmetic names: ``add``/``sub``/``mul``/``div`` (with ``alpha=`` and ``rounding_mode=``),
``floor_divide`` and ``//``, ``remainder`` and ``%``, ``fmod``, ``prod``, ``mm``, ``bmm``, ``dot``, the
comparisons (``eq``, ``lt``, ...), and the module-level forms of the reductions (``rp.sum``,
``rp.mean``, ``rp.max``, ...).

As torch's: integer division (``//``, ``div(rounding_mode=...)``, ``%``, ``fmod``) keeps integer
dtypes and raises RuntimeError("ZeroDivisionError") for a zero divisor; float division by zero gives
inf or NaN, without NumPy's warnings. ``remainder`` takes the divisor's sign (Python's ``%``), ``fmod``
the dividend's (C's). ``div`` with a rounding mode has gradient 0; ``floor_divide`` has none (its
backward raises, as torch's). ``prod``'s gradient is right where the input holds zeros. ``sum`` and
``prod`` of integer or bool tensors give int64; ``dtype=`` casts the input first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from retroprop.backend import array_module, is_array
from retroprop.ops import (
    Add,
    Cast,
    Clone,
    Div,
    MatMul,
    Mean,
    Mul,
    Neg,
    Reshape,
    Sub,
    Sum,
    _as_dtype,
    _Broadcasting,
    _check_dim,
    _expand_reduced,
    _reduced_shape,
    _zero_d_axis,
    reduction_args,
    result_dtype,
)
from retroprop.tensor import Function, ShapeError, Tensor, _operand, is_grad_enabled, no_grad

__all__ = [
    "add", "amax", "amin", "argmax", "argmin", "bmm", "clone", "div", "divide", "dot", "eq",
    "floor_divide", "fmod", "ge", "ger", "greater", "greater_equal", "gt", "inner", "le", "less",
    "less_equal", "lt", "matmul", "max", "mean", "min", "mm", "mul", "multiply", "mv", "ne", "neg",
    "negative", "norm", "not_equal", "numel", "outer", "prod", "remainder", "std", "sub", "subtract", "sum",
    "true_divide", "var",
]

_ROUNDING_MODES = (None, "trunc", "floor")


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def _input(x: Any, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be a Tensor, not {type(x).__name__}")
    return x


def _pair(input: Any, other: Any, name: str) -> tuple[Any, Any]:
    """The operands of a binary op: at least one Tensor; numbers, arrays and lists beside it."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"{name}(): expects a Tensor (and a Tensor or a number), got "
                        f"{type(input).__name__} and {type(other).__name__}")
    return _operand(input, name), _operand(other, name)


def _dtype_of(x: Any) -> np.dtype:
    return x.dtype if is_array(x) or isinstance(x, np.generic) else np.asarray(x).dtype


def _refuse_zero_divisor(b: Any) -> None:
    """torch raises for an integer division by zero (floats give inf or NaN)."""
    if (b == 0).any() if is_array(b) else b == 0:
        raise RuntimeError("ZeroDivisionError: integer division (//, %, fmod or div with a rounding mode) "
                           "by zero, which torch refuses for integer tensors; divide floats for inf/NaN")


def _integer_operands(a: Any, b: Any, name: str) -> tuple[Any, Any, bool]:
    """The operands in torch's result dtype, and whether that dtype is an integer one (bool refused)."""
    want = result_dtype(a, b)
    if want.kind == "b":
        raise NotImplementedError(f"{name}: not implemented for bool tensors, as in torch; cast them to an "
                                  "integer or float dtype first")
    a, b = _as_dtype(a, want), _as_dtype(b, want)
    integer = want.kind in "iu"
    if integer:
        _refuse_zero_divisor(b)
    return a, b, integer


def _floor_divide_floats(xp: Any, a: Any, b: Any) -> Any:
    # NumPy's floor_divide is torch's c10::div_floor_floating (fmod-based; a / b where b == 0), but
    # for the sign of a zero result, which torch takes from a / b
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = xp.floor_divide(a, b)
        zero = out == 0
        if zero.any():
            out = xp.where(zero, xp.copysign(0, a / b), out).astype(out.dtype, copy=False)
    return out


def _trunc_divide_floats(xp: Any, a: Any, b: Any) -> Any:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return xp.trunc(a / b)


def _trunc_divide_integers(xp: Any, a: Any, b: Any) -> Any:
    with np.errstate(over="ignore"):  # INT_MIN // -1 wraps, as torch's
        floor = xp.floor_divide(a, b)
        inexact = xp.remainder(a, b) != 0
    # floor and trunc differ where the quotient is negative and inexact
    return floor + (inexact & ((a < 0) != (b < 0))).astype(floor.dtype)


def _python_remainder_floats(xp: Any, a: Any, b: Any) -> Any:
    # torch's: fmod, then shifted by b where the signs differ (a zero keeps a's sign)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mod = xp.fmod(a, b)
        shift = (mod != 0) & ((b < 0) != (mod < 0))
        return xp.where(shift, mod + b, mod).astype(mod.dtype, copy=False)


# ---------------------------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------------------------
class TrueDivide(Div):
    """``a / b`` (integers give float32); division by zero gives inf or NaN, without warnings."""

    def forward(self, a: Any, b: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return super().forward(a, b)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return super().backward(grad)


class RoundedDivide(_Broadcasting):
    """``a / b`` rounded toward zero (``trunc``) or down (``floor``); integer dtypes stay integer.
    Gradient 0 for both operands (torch's for ``div`` with a rounding mode); with ``gradient=False``
    (``floor_divide``, ``//``) backward raises, as torch's has no derivative for it."""

    saves = ()
    symbol = "//"

    def forward(self, a: Any, b: Any, mode: str, gradient: bool) -> Any:
        self.gradient = gradient
        a, b, integer = _integer_operands(a, b, "floor_divide" if not gradient else f"div({mode!r})")
        xp = array_module(a, b)
        if integer:
            if mode == "floor":
                with np.errstate(over="ignore"):
                    return xp.floor_divide(a, b)
            return _trunc_divide_integers(xp, a, b)
        return (_floor_divide_floats if mode == "floor" else _trunc_divide_floats)(xp, a, b)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        if not self.gradient:
            raise RuntimeError("the derivative for 'floor_divide' (//) is not implemented, as in torch; "
                               "for a gradient of 0 use div(a, b, rounding_mode='floor'), or compute it "
                               "under no_grad() or on detached tensors")
        need_a, need_b = self.needs_input_grad
        zeros = array_module(grad).zeros_like(grad)
        return (zeros if need_a else None, zeros.copy() if need_b else None)


class _Modulo(_Broadcasting):
    """``a - b * q`` with ``q`` the quotient rounded (``Remainder``: down, ``Fmod``: toward zero).
    Gradients as torch's: ``grad`` for ``a``, ``-grad * q`` for ``b``."""

    saves = (0, 1)
    read_for = ((1,), (1,))  # both only for b's gradient

    def forward(self, a: Any, b: Any) -> Any:
        a, b, integer = _integer_operands(a, b, self.symbol)
        self.a, self.b = a, b
        xp = array_module(a, b)
        if integer:
            return self.integers(xp, a, b)
        return self.floats(xp, a, b)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        need_a, need_b = self.needs_input_grad
        grad_b = None
        if need_b:
            with np.errstate(invalid="ignore", over="ignore"):
                grad_b = -grad * self.quotient(array_module(grad), self.a, self.b)
        return (grad if need_a else None, grad_b)


class Remainder(_Modulo):
    symbol = "remainder"
    quotient = staticmethod(_floor_divide_floats)
    floats = staticmethod(_python_remainder_floats)
    integers = staticmethod(lambda xp, a, b: xp.remainder(a, b))


class Fmod(_Modulo):
    symbol = "fmod"
    quotient = staticmethod(_trunc_divide_floats)
    integers = staticmethod(lambda xp, a, b: xp.fmod(a, b))

    @staticmethod
    def floats(xp: Any, a: Any, b: Any) -> Any:
        with np.errstate(invalid="ignore"):  # fmod(x, 0) and fmod(inf, x) are NaN, as torch's
            return xp.fmod(a, b)


class Prod(Function):
    """The product over ``axis`` (all elements when None). Its gradient is ``prod / x`` where ``x``
    has no zero; otherwise, as torch's, the product of the other elements (0 where two are 0)."""

    saves = (0, -1)

    def forward(self, a: Any, axis: int | None, keepdims: bool) -> Any:
        self.shape, self.axis, self.keepdims = a.shape, axis, keepdims
        with np.errstate(over="ignore", invalid="ignore"):
            kept = a.prod(axis=axis, keepdims=True)
        if self.needs_input_grad[0]:
            self.a, self.kept = a, kept
        if keepdims:
            return kept
        return kept.reshape(_reduced_shape(a.shape, axis))

    def backward(self, grad: Any) -> Any:
        xp = array_module(grad)
        grad = _expand_reduced(grad, self.shape, self.axis, self.keepdims)
        a = self.a
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if not (a == 0).any():
                return grad * (self.kept / a)
            flat = a.reshape(-1) if self.axis is None else a
            axis = 0 if self.axis is None else self.axis
            others = (_exclusive_cumprod(xp, flat, axis, reverse=False)
                      * _exclusive_cumprod(xp, flat, axis, reverse=True))
            return grad * others.reshape(a.shape)


def _exclusive_cumprod(xp: Any, a: Any, axis: int, reverse: bool) -> Any:
    """The product of the elements before each one along ``axis`` (after it, with ``reverse``)."""
    if reverse:
        a = xp.flip(a, axis)
    inclusive = xp.cumprod(a, axis=axis)
    ones = xp.ones_like(xp.take(a, [0], axis=axis))
    out = xp.concatenate([ones, xp.take(inclusive, xp.arange(a.shape[axis] - 1), axis=axis)], axis=axis)
    return xp.flip(out, axis) if reverse else out


# ---------------------------------------------------------------------------------------------
# add, sub, mul, div, ...
# ---------------------------------------------------------------------------------------------
def _scaled(input: Any, other: Any, alpha: Any, name: str) -> Any:
    """``other * alpha``, with torch's checks on ``alpha``."""
    if alpha is None or (alpha == 1 and not isinstance(alpha, (bool, np.bool_))):
        return other
    want = result_dtype(input, other)
    if isinstance(alpha, (bool, np.bool_)) and want.kind != "b":
        raise RuntimeError(f"{name}: Boolean alpha only supported for Boolean results.")
    if isinstance(alpha, (float, np.floating)) and want.kind in "biu":
        raise RuntimeError(f"{name}: For integral input tensors, argument alpha must not be a floating point "
                           "number.")
    if isinstance(other, Tensor):
        return Mul.apply(other, alpha)
    return other * alpha


def _into(out: Any, result: Tensor, name: str) -> Tensor:
    """torch's ``out=``: ``result`` written into ``out`` (resized when its shape differs; cast to its
    dtype), outside any graph, as torch refuses ``out=`` where a gradient would be needed."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if is_grad_enabled() and (result.requires_grad or out.requires_grad):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    with no_grad():
        if out.shape != result.shape:
            out.data = np.empty(result.shape, dtype=out.dtype)
        out.copy_(result)
    return out


def add(input: Any, other: Any, *, alpha: Any = 1, out: Tensor | None = None) -> Tensor:
    """``input + alpha * other``, with broadcasting."""
    input, other = _pair(input, other, "add")
    return _into(out, Add.apply(input, _scaled(input, other, alpha, "add")), "add")


def sub(input: Any, other: Any, *, alpha: Any = 1, out: Tensor | None = None) -> Tensor:
    """``input - alpha * other``, with broadcasting."""
    input, other = _pair(input, other, "sub")
    if _dtype_of(input).kind == "b" and _dtype_of(other).kind == "b":
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. Use the "
                           "`^` or `logical_xor()` operator instead.")
    return _into(out, Sub.apply(input, _scaled(input, other, alpha, "sub")), "sub")


subtract = sub


def mul(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """``input * other``, with broadcasting."""
    return _into(out, Mul.apply(*_pair(input, other, "mul")), "mul")


multiply = mul


def div(input: Any, other: Any, *, rounding_mode: str | None = None,
        out: Tensor | None = None) -> Tensor:
    """``input / other`` (a float result, integers giving float32); with ``rounding_mode='trunc'``
    or ``'floor'`` the quotient rounded toward zero or down, in the operands' dtype (gradient 0)."""
    input, other = _pair(input, other, "div")
    if rounding_mode not in _ROUNDING_MODES:
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                           f"{rounding_mode!r}")
    if rounding_mode is None:
        return _into(out, TrueDivide.apply(input, other), "div")
    return _into(out, RoundedDivide.apply(input, other, mode=rounding_mode, gradient=True), "div")


divide = div


def true_divide(input: Any, other: Any) -> Tensor:
    """``input / other``, always a float result."""
    return TrueDivide.apply(*_pair(input, other, "true_divide"))


def floor_divide(input: Any, other: Any) -> Tensor:
    """``input // other``: the quotient rounded down; integer dtypes stay integer. Not
    differentiable (as torch's: backward through it raises)."""
    input, other = _pair(input, other, "floor_divide")
    return RoundedDivide.apply(input, other, mode="floor", gradient=False)


def remainder(input: Any, other: Any) -> Tensor:
    """``input % other`` with the sign of ``other`` (Python's rule)."""
    return Remainder.apply(*_pair(input, other, "remainder"))


def fmod(input: Any, other: Any) -> Tensor:
    """The remainder of ``input / other`` with the sign of ``input`` (C's ``fmod``)."""
    return Fmod.apply(*_pair(input, other, "fmod"))


def neg(input: Tensor) -> Tensor:
    """``-input``."""
    if _input(input, "neg").dtype.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
                           "to invert a mask, use the `~` or `logical_not()` operator instead.")
    return Neg.apply(input)


negative = neg


# ---------------------------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------------------------
def _same_dtype(a: Tensor, b: Tensor, name: str) -> None:
    if a.dtype != b.dtype:
        raise RuntimeError(f"{name}: expected both operands to have the same dtype, but got {a.dtype} and "
                           f"{b.dtype}; cast one (x.to(y.dtype))")


def mm(input: Tensor, mat2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The matrix product of two 2-D tensors (no broadcasting)."""
    input, mat2 = _input(input, "mm"), _input(mat2, "mm")
    if input.ndim != 2:
        raise RuntimeError(f"mm: self must be a matrix (2-D), got shape {input.shape}")
    if mat2.ndim != 2:
        raise RuntimeError(f"mm: mat2 must be a matrix (2-D), got shape {mat2.shape}")
    if input.shape[1] != mat2.shape[0]:
        raise ShapeError(f"mm: mat1 and mat2 shapes cannot be multiplied ({input.shape[0]}x{input.shape[1]} "
                         f"and {mat2.shape[0]}x{mat2.shape[1]})")
    _same_dtype(input, mat2, "mm")
    return _into(out, MatMul.apply(input, mat2), "mm")


def bmm(input: Tensor, mat2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Matrix products of two batches of matrices, ``(b, n, m) @ (b, m, p)`` (no broadcasting)."""
    input, mat2 = _input(input, "bmm"), _input(mat2, "bmm")
    if input.ndim != 3:
        raise RuntimeError(f"bmm: batch1 must be a 3D tensor, got shape {input.shape}")
    if mat2.ndim != 3:
        raise RuntimeError(f"bmm: batch2 must be a 3D tensor, got shape {mat2.shape}")
    want = [input.shape[0], input.shape[2]]
    if list(mat2.shape[:2]) != want:
        raise ShapeError(f"bmm: Expected size for first two dimensions of batch2 tensor to be: {want} but "
                         f"got: {list(mat2.shape[:2])}.")
    _same_dtype(input, mat2, "bmm")
    return _into(out, MatMul.apply(input, mat2), "bmm")


def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """The inner product of two 1-D tensors of the same length (a 0-d tensor)."""
    input, tensor = _input(input, "dot"), _input(tensor, "dot")
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors")
    if input.shape != tensor.shape:
        raise ShapeError(f"dot: inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
                         f"[{tensor.shape[0]}] to have the same number of elements, but got "
                         f"{input.shape[0]} and {tensor.shape[0]} elements respectively")
    _same_dtype(input, tensor, "dot")
    return MatMul.apply(input, tensor)


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """The product of a matrix and a vector."""
    input, vec = _input(input, "mv"), _input(vec, "mv")
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"mv: vector + matrix @ vector expected, got shapes {input.shape} and {vec.shape}")
    if input.shape[1] != vec.shape[0]:
        raise ShapeError(f"mv: size mismatch, got mat ({input.shape[0]}x{input.shape[1]}), vec "
                         f"({vec.shape[0]})")
    _same_dtype(input, vec, "mv")
    return MatMul.apply(input, vec)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """The outer product of two 1-D tensors, ``input[i] * vec2[j]`` (dtypes promoted)."""
    input, vec2 = _input(input, "outer"), _input(vec2, "outer")
    for name, x in (("self", input), ("vec2", vec2)):
        if x.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {x.ndim}-D")
    return Mul.apply(Reshape.apply(input, shape=(-1, 1)), vec2)


ger = outer


def inner(input: Tensor, other: Tensor) -> Tensor:
    """The sum over the last dims of ``input`` and ``other`` of their products (``dot`` for 1-D)."""
    input, other = _input(input, "inner"), _input(other, "inner")
    if input.ndim == 0 or other.ndim == 0:
        return Mul.apply(input, other)
    if input.shape[-1] != other.shape[-1]:
        raise ShapeError(f"inner() the last dimension must match on both input tensors but got shapes "
                         f"{list(input.shape)} and {list(other.shape)}")
    # input (..., k) times other's rows (..., k) as columns
    columns = Reshape.apply(other, shape=(-1, other.shape[-1])).T
    return Reshape.apply(MatMul.apply(input, columns), shape=(*input.shape[:-1], *other.shape[:-1]))


def matmul(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The matrix product with NumPy's rules (1-D operands, broadcast batch dims)."""
    return _into(out, MatMul.apply(_input(input, "matmul"), other), "matmul")


# ---------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------
def _no_out(out: Any, name: str) -> None:
    if out is not None:  # NumPy's np.sum(t) passes out=None
        raise TypeError(f"{name}(): out= is not supported; use the returned tensor")


def _cast(input: Tensor, dtype: Any) -> Tensor:
    dtype = np.dtype(dtype)
    return input if input.dtype == dtype else Cast.apply(input, dtype=dtype)


def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None, axis: Any = None,
        keepdims: bool | None = None, out: None = None) -> Tensor:
    """The sum over ``dim`` (all elements when None); integer and bool tensors give int64, and
    ``dtype=`` casts the input first."""
    input = _input(input, "sum")
    _no_out(out, "sum")
    axis, keep = reduction_args(axis, keepdim if keepdims is None else keepdims, dim)
    if dtype is not None:
        input = _cast(input, dtype)
    elif input.dtype.kind in "biu" and input.dtype != np.int64:
        input = _cast(input, np.int64)
    out = Sum.apply(input, axis=_zero_d_axis(axis, input.ndim), keepdims=keep)
    return out if out.dtype == input.dtype else _cast(out, input.dtype)  # NumPy widens int32 sums


def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None, axis: Any = None,
         keepdims: bool | None = None, out: None = None) -> Tensor:
    """The mean over ``dim`` (all elements when None); ``dtype=`` casts the input first."""
    input = _input(input, "mean")
    _no_out(out, "mean")
    axis, keep = reduction_args(axis, keepdim if keepdims is None else keepdims, dim)
    if dtype is not None:
        input = _cast(input, dtype)
    return Mean.apply(input, axis=_zero_d_axis(axis, input.ndim), keepdims=keep)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None,
         axis: int | None = None, keepdims: bool | None = None, out: None = None) -> Tensor:
    """The product of all elements, or along one ``dim``; integer and bool tensors give int64."""
    input = _input(input, "prod")
    _no_out(out, "prod")
    dim, keepdim = reduction_args(axis, keepdim if keepdims is None else keepdims, dim)
    if dtype is not None:
        input = _cast(input, dtype)
    elif input.dtype.kind in "biu" and input.dtype != np.int64:
        input = _cast(input, np.int64)
    if dim is None:
        out = Prod.apply(input, axis=None, keepdims=bool(keepdim) and input.ndim > 0)
    else:
        axis = _check_dim(dim, input.ndim, "prod")
        out = Prod.apply(input, axis=axis if input.ndim else None, keepdims=bool(keepdim))
    return out if out.dtype == input.dtype else _cast(out, input.dtype)  # NumPy widens int32 products


def max(input: Tensor, dim: Any = None, keepdim: bool = False, **kwargs: Any) -> Any:
    """The max of all elements; ``max(input, dim)`` the (values, indices) along ``dim``;
    ``max(input, other)`` the elementwise maximum."""
    return _input(input, "max").max(dim, keepdim, **kwargs)


def min(input: Tensor, dim: Any = None, keepdim: bool = False, **kwargs: Any) -> Any:
    """The min of all elements; ``min(input, dim)`` the (values, indices) along ``dim``;
    ``min(input, other)`` the elementwise minimum."""
    return _input(input, "min").min(dim, keepdim, **kwargs)


def amax(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """The max over ``dim`` (one or several dims; ties share the gradient)."""
    return _input(input, "amax").amax(dim=dim, keepdim=keepdim)


def amin(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """The min over ``dim`` (one or several dims; ties share the gradient)."""
    return _input(input, "amin").amin(dim=dim, keepdim=keepdim)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index (int64) of the max, over the flattened tensor when ``dim`` is None."""
    return _input(input, "argmax").argmax(dim=dim, keepdim=keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index (int64) of the min, over the flattened tensor when ``dim`` is None."""
    return _input(input, "argmin").argmin(dim=dim, keepdim=keepdim)


def var(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """The variance over ``dim`` (unbiased unless ``correction=0`` or ``unbiased=False``)."""
    return _input(input, "var").var(*args, **kwargs)


def std(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """The standard deviation over ``dim`` (unbiased unless ``correction=0`` or ``unbiased=False``)."""
    return _input(input, "std").std(*args, **kwargs)


def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
    """The 2-norm (``p=2`` or ``'fro'``) over ``dim`` or all elements."""
    return _input(input, "norm").norm(p, dim, keepdim)


def clone(input: Tensor) -> Tensor:
    """A copy, in the graph (the gradient passes through)."""
    return Clone.apply(_input(input, "clone"))


def numel(input: Tensor) -> int:
    """The number of elements."""
    return _input(input, "numel").numel()


# ---------------------------------------------------------------------------------------------
# Comparisons (bool tensors, not differentiable)
# ---------------------------------------------------------------------------------------------
def eq(input: Tensor, other: Any) -> Tensor:
    """``input == other`` elementwise."""
    return _input(input, "eq") == other


def ne(input: Tensor, other: Any) -> Tensor:
    """``input != other`` elementwise."""
    return _input(input, "ne") != other


def lt(input: Tensor, other: Any) -> Tensor:
    """``input < other`` elementwise."""
    return _input(input, "lt") < other


def le(input: Tensor, other: Any) -> Tensor:
    """``input <= other`` elementwise."""
    return _input(input, "le") <= other


def gt(input: Tensor, other: Any) -> Tensor:
    """``input > other`` elementwise."""
    return _input(input, "gt") > other


def ge(input: Tensor, other: Any) -> Tensor:
    """``input >= other`` elementwise."""
    return _input(input, "ge") >= other


not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge


# ---------------------------------------------------------------------------------------------
# Tensor methods
# ---------------------------------------------------------------------------------------------
def _reflected(fn: Any) -> Any:
    def method(self: Tensor, other: Any) -> Tensor:
        return fn(_operand(other, fn.__name__), self)

    return method


_METHODS = {
    "add": add, "sub": sub, "subtract": sub, "mul": mul, "multiply": mul, "div": div, "divide": div,
    "true_divide": true_divide, "floor_divide": floor_divide, "remainder": remainder, "fmod": fmod,
    "neg": neg, "negative": neg, "prod": prod, "mm": mm, "bmm": bmm, "dot": dot, "mv": mv, "outer": outer,
    "ger": outer, "inner": inner, "sum": sum, "mean": mean,
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "not_equal": ne, "less": lt,
    "less_equal": le, "greater": gt, "greater_equal": ge,
    "__floordiv__": floor_divide, "__rfloordiv__": _reflected(floor_divide),
    "__mod__": remainder, "__rmod__": _reflected(remainder),
}
for _name, _method in _METHODS.items():
    setattr(Tensor, _name, _method)
