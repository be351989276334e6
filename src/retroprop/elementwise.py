"""Elementwise math with torch's names and meaning: trigonometric, hyperbolic (and inverse
hyperbolic), exponential and logarithmic functions, rounding, ``sign``, ``reciprocal``, ``rsqrt``,
``square``, ``erf``, ``atan2``, ``logaddexp``, ``copysign``, ``lerp``, ``nan_to_num``; the bitwise
functions and operators (``& | ^ ~ << >>``) on integer and bool tensors, ``logical_*``, and
``isnan``/``isinf``/``isposinf``/``isneginf``/``isfinite`` (never differentiable).

As torch's: integer and bool tensors enter the float functions as float32; ``floor``, ``ceil``,
``round``, ``trunc`` and ``sign`` keep integer dtypes (``sign`` of bool stays bool, rounding a bool
raises) and ``square`` too (of bool: int64); ``frac`` takes floats only. Rounding and ``sign`` have
gradient 0 everywhere; ``sign(nan)`` is 0; ``atan2``'s gradient is 0 where ``a^2 + b^2`` is.
Derivatives follow torch's formulas (``log2``'s is ``grad / (x * ln 2)``); NaN and inf come out
where torch's do, without NumPy's warnings. Exported at the top level (``rp.sin``) and bound as
Tensor methods (``x.sin()``, with NumPy's ``arcsin``-style aliases).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from retroprop.backend import array_module, is_array, special_module
from retroprop.functional import relu, sigmoid, tanh
from retroprop.ops import Abs, Clip, Exp, Log, Sqrt, _Broadcasting, _float_input, _promoted, result_dtype
from retroprop.tensor import Function, Tensor, _in_place

__all__ = [
    "abs", "acos", "acosh", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "asin",
    "asinh", "atan", "atan2", "atanh", "bitwise_and", "bitwise_left_shift", "bitwise_not", "bitwise_or",
    "bitwise_right_shift", "bitwise_xor", "ceil", "clamp", "clip", "copysign", "cos", "cosh", "erf", "exp",
    "exp2", "expm1", "floor", "frac", "isfinite", "isinf", "isnan", "isneginf", "isposinf", "lerp", "log",
    "log1p", "log2", "log10", "logaddexp", "logical_and", "logical_not", "logical_or", "logical_xor",
    "nan_to_num", "reciprocal", "relu", "round", "rsqrt", "sigmoid", "sign", "sin", "sinh", "sqrt",
    "square", "tan", "tanh", "trunc",
]

_LN2 = 0.6931471805599453  # torch's constants in the log2/log10 derivatives
_LN10 = 2.3025850929940456
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# ---------------------------------------------------------------------------------------------
# Float functions of one tensor
# ---------------------------------------------------------------------------------------------
class _FloatUnary(Function):
    """``compute`` on the input as a float (integers and bools as float32); backward multiplies
    the gradient by ``derivative()``, which reads ``self.a`` (the input) or ``self.out``."""

    saves = (0,)

    def forward(self, a: Any) -> Any:
        a = _float_input(a)
        self.a = a
        with np.errstate(all="ignore"):  # NaN and inf are results here, as in torch
            self.out = self.compute(array_module(a), a)
        return self.out

    def backward(self, grad: Any) -> Any:
        with np.errstate(all="ignore"):
            return grad * self.derivative(array_module(grad))

    @staticmethod
    def compute(xp: Any, a: Any) -> Any:
        raise NotImplementedError

    def derivative(self, xp: Any) -> Any:
        raise NotImplementedError


class Sin(_FloatUnary):
    compute = staticmethod(lambda xp, a: xp.sin(a))

    def derivative(self, xp: Any) -> Any:
        return xp.cos(self.a)


class Cos(_FloatUnary):
    compute = staticmethod(lambda xp, a: xp.cos(a))

    def derivative(self, xp: Any) -> Any:
        return -xp.sin(self.a)


class Tan(_FloatUnary):
    saves = (-1,)
    compute = staticmethod(lambda xp, a: xp.tan(a))

    def derivative(self, xp: Any) -> Any:
        return 1 + self.out * self.out


class Sinh(_FloatUnary):
    compute = staticmethod(lambda xp, a: xp.sinh(a))

    def derivative(self, xp: Any) -> Any:
        return xp.cosh(self.a)


class Cosh(_FloatUnary):
    compute = staticmethod(lambda xp, a: xp.cosh(a))

    def derivative(self, xp: Any) -> Any:
        return xp.sinh(self.a)


class Asin(_FloatUnary):
    """``asin``; NaN outside [-1, 1], and its derivative ``1 / sqrt(1 - x^2)`` is inf at ±1."""

    compute = staticmethod(lambda xp, a: xp.arcsin(a))

    def derivative(self, xp: Any) -> Any:
        return 1 / xp.sqrt(-self.a * self.a + 1)


class Acos(_FloatUnary):
    compute = staticmethod(lambda xp, a: xp.arccos(a))

    def derivative(self, xp: Any) -> Any:
        return -(1 / xp.sqrt(-self.a * self.a + 1))


class Atan(_FloatUnary):
    compute = staticmethod(lambda xp, a: xp.arctan(a))

    def derivative(self, xp: Any) -> Any:
        return 1 / (self.a * self.a + 1)


class Exp2(_FloatUnary):
    saves = (-1,)
    compute = staticmethod(lambda xp, a: xp.exp2(a))

    def derivative(self, xp: Any) -> Any:
        return self.out * _LN2


class Log2(_FloatUnary):
    compute = staticmethod(lambda xp, a: xp.log2(a))

    def backward(self, grad: Any) -> Any:
        with np.errstate(all="ignore"):
            return grad / (self.a * _LN2)


class Log10(_FloatUnary):
    compute = staticmethod(lambda xp, a: xp.log10(a))

    def backward(self, grad: Any) -> Any:
        with np.errstate(all="ignore"):
            return grad / (self.a * _LN10)


class Log1p(_FloatUnary):
    """``log(1 + x)``, accurate for small ``x``."""

    compute = staticmethod(lambda xp, a: xp.log1p(a))

    def backward(self, grad: Any) -> Any:
        with np.errstate(all="ignore"):
            return grad / (self.a + 1)


class Expm1(_FloatUnary):
    """``exp(x) - 1``, accurate for small ``x``."""

    saves = (-1,)
    compute = staticmethod(lambda xp, a: xp.expm1(a))

    def derivative(self, xp: Any) -> Any:
        return self.out + 1


class Reciprocal(_FloatUnary):
    saves = (-1,)
    compute = staticmethod(lambda xp, a: 1 / a)

    def backward(self, grad: Any) -> Any:
        with np.errstate(all="ignore"):
            return -grad * (self.out * self.out)


class Rsqrt(_FloatUnary):
    """``1 / sqrt(x)``."""

    saves = (-1,)
    compute = staticmethod(lambda xp, a: 1 / xp.sqrt(a))

    def backward(self, grad: Any) -> Any:
        with np.errstate(all="ignore"):
            return -0.5 * grad * (self.out * self.out * self.out)


class Erf(_FloatUnary):
    # scipy has no float16 loop: its float32 result is cast back, as torch's half stays half
    compute = staticmethod(lambda xp, a: special_module(xp).erf(a).astype(a.dtype, copy=False))

    def backward(self, grad: Any) -> Any:
        with np.errstate(over="ignore"):
            return _TWO_OVER_SQRT_PI * array_module(grad).exp(-(self.a * self.a)) * grad


class Frac(_FloatUnary):
    """``x - trunc(x)``; gradient 1. Floats only, as torch's."""

    saves = ()
    compute = staticmethod(lambda xp, a: a - xp.trunc(a))

    def forward(self, a: Any) -> Any:
        _refuse(a, "frac", "iub")
        with np.errstate(invalid="ignore"):  # frac(inf) is NaN
            return self.compute(array_module(a), a)

    def backward(self, grad: Any) -> Any:
        return grad


def _refuse(a: Any, name: str, kinds: str) -> None:
    if a.dtype.kind in kinds:
        raise RuntimeError(f"{name}: not implemented for {a.dtype} tensors, as in torch; cast to a float "
                           f"dtype first (x.float())")


# ---------------------------------------------------------------------------------------------
# Integer-preserving functions of one tensor (gradient 0)
# ---------------------------------------------------------------------------------------------
class _Step(Function):
    """A piecewise-constant function: integer tensors keep their dtype (and values, for the
    rounding functions); the gradient is 0 everywhere, as torch's."""

    saves = ()

    def backward(self, grad: Any) -> Any:
        return array_module(grad).zeros_like(grad)


class _Rounding(_Step):
    def forward(self, a: Any) -> Any:
        _refuse(a, type(self).__name__.lower(), "b")
        return a.copy() if a.dtype.kind in "iu" else self.compute(array_module(a), a)


class Floor(_Rounding):
    compute = staticmethod(lambda xp, a: xp.floor(a))


class Ceil(_Rounding):
    compute = staticmethod(lambda xp, a: xp.ceil(a))


class Trunc(_Rounding):
    compute = staticmethod(lambda xp, a: xp.trunc(a))


class Round(_Step):
    """Round half to even; with ``decimals`` as torch's ``nearbyint(x * 10^d) / 10^d`` (``d < 0``:
    ``nearbyint(x / 10^-d) * 10^-d``), computed in the input's dtype (float16 in float32)."""

    def forward(self, a: Any, decimals: int) -> Any:
        _refuse(a, "round", "b")
        xp = array_module(a)
        if a.dtype.kind in "iu":
            if decimals:
                _refuse(a, "round(decimals=...)", "iu")
            return a.copy()
        if not decimals:
            return xp.rint(a)
        work = np.float32 if a.dtype == np.float16 else a.dtype.type
        scale = work(10.0 ** (decimals if decimals > 0 else -decimals))  # builtins.abs is shadowed here
        x = a.astype(work, copy=False)
        with np.errstate(over="ignore", invalid="ignore"):
            out = xp.rint(x * scale) / scale if decimals > 0 else xp.rint(x / scale) * scale
        return out.astype(a.dtype, copy=False)


class Sign(_Step):
    """-1, 0 or 1 in the input's dtype; 0 for NaN and for -0.0 (torch's ``(0 < x) - (x < 0)``)."""

    def forward(self, a: Any) -> Any:
        xp = array_module(a)
        if a.dtype.kind == "b":
            return a.copy()
        if a.dtype.kind in "iu":
            return xp.sign(a)
        return (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)


class Square(Function):
    """``x * x``; integers stay integers (bool becomes int64), as torch's."""

    saves = (0,)

    def forward(self, a: Any) -> Any:
        if a.dtype.kind == "b":
            return a.astype(np.int64)
        self.a = a
        with np.errstate(over="ignore"):
            return a * a

    def backward(self, grad: Any) -> Any:
        with np.errstate(over="ignore"):
            return grad * (2 * self.a)


class Atan2(_Broadcasting):
    """``atan2(a, b)``, the angle of the point ``(b, a)``; integers give float32. Gradients
    ``b / (a^2 + b^2)`` and ``-a / (a^2 + b^2)``, both 0 where ``a^2 + b^2`` is 0 (as torch's)."""

    saves = (0, 1)
    symbol = "atan2"

    def forward(self, a: Any, b: Any) -> Any:
        a, b = _promoted(a, b, true_division=True)
        self.a, self.b = a, b
        with np.errstate(invalid="ignore"):
            return array_module(a, b).arctan2(a, b)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        need_a, need_b = self.needs_input_grad
        a, b = self.a, self.b
        with np.errstate(all="ignore"):
            squares = a * a + b * b
            # torch's: 0 where the squares sum to 0 (the origin, or both underflow), else 1 / sum
            recip = array_module(squares).where(squares == 0, 0, 1 / squares)
            return (grad * b * recip if need_a else None, grad * -a * recip if need_b else None)


# ---------------------------------------------------------------------------------------------
# Functions (rp.sin, ...) and Tensor methods (x.sin(), ...)
# ---------------------------------------------------------------------------------------------
def _tensor(x: Any, name: str) -> Any:
    if isinstance(x, Tensor) or is_array(x):
        return x
    raise TypeError(f"{name}(): argument 'input' must be a Tensor, not {type(x).__name__}")


def sin(input: Tensor) -> Tensor:
    return Sin.apply(_tensor(input, "sin"))


def cos(input: Tensor) -> Tensor:
    return Cos.apply(_tensor(input, "cos"))


def tan(input: Tensor) -> Tensor:
    return Tan.apply(_tensor(input, "tan"))


def sinh(input: Tensor) -> Tensor:
    return Sinh.apply(_tensor(input, "sinh"))


def cosh(input: Tensor) -> Tensor:
    return Cosh.apply(_tensor(input, "cosh"))


def asin(input: Tensor) -> Tensor:
    return Asin.apply(_tensor(input, "asin"))


def acos(input: Tensor) -> Tensor:
    return Acos.apply(_tensor(input, "acos"))


def atan(input: Tensor) -> Tensor:
    return Atan.apply(_tensor(input, "atan"))


def exp(input: Tensor) -> Tensor:
    return Exp.apply(_tensor(input, "exp"))


def exp2(input: Tensor) -> Tensor:
    """``2 ** x``."""
    return Exp2.apply(_tensor(input, "exp2"))


def expm1(input: Tensor) -> Tensor:
    """``exp(x) - 1``, accurate for small ``x``."""
    return Expm1.apply(_tensor(input, "expm1"))


def log(input: Tensor) -> Tensor:
    return Log.apply(_tensor(input, "log"))


def log2(input: Tensor) -> Tensor:
    return Log2.apply(_tensor(input, "log2"))


def log10(input: Tensor) -> Tensor:
    return Log10.apply(_tensor(input, "log10"))


def log1p(input: Tensor) -> Tensor:
    """``log(1 + x)``, accurate for small ``x``."""
    return Log1p.apply(_tensor(input, "log1p"))


def sqrt(input: Tensor) -> Tensor:
    return Sqrt.apply(_tensor(input, "sqrt"))


def rsqrt(input: Tensor) -> Tensor:
    """``1 / sqrt(x)``."""
    return Rsqrt.apply(_tensor(input, "rsqrt"))


def reciprocal(input: Tensor) -> Tensor:
    """``1 / x``; integers give float32."""
    return Reciprocal.apply(_tensor(input, "reciprocal"))


def square(input: Tensor) -> Tensor:
    """``x * x``; integers stay integers."""
    return Square.apply(_tensor(input, "square"))


def abs(input: Tensor) -> Tensor:
    return Abs.apply(_tensor(input, "abs"))


def erf(input: Tensor) -> Tensor:
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``."""
    return Erf.apply(_tensor(input, "erf"))


def floor(input: Tensor) -> Tensor:
    """Round down; integer tensors are returned as they are. Gradient 0."""
    return Floor.apply(_tensor(input, "floor"))


def ceil(input: Tensor) -> Tensor:
    """Round up; integer tensors are returned as they are. Gradient 0."""
    return Ceil.apply(_tensor(input, "ceil"))


def trunc(input: Tensor) -> Tensor:
    """Round toward zero; integer tensors are returned as they are. Gradient 0."""
    return Trunc.apply(_tensor(input, "trunc"))


def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    """Round half to even (to ``decimals`` places, as torch's). Gradient 0."""
    if isinstance(decimals, bool) or not isinstance(decimals, (int, np.integer)):
        raise TypeError(f"round(): decimals must be an int, got {type(decimals).__name__}")
    return Round.apply(_tensor(input, "round"), decimals=int(decimals))


def frac(input: Tensor) -> Tensor:
    """``x - trunc(x)`` (the sign of ``x``); floats only. Gradient 1."""
    return Frac.apply(_tensor(input, "frac"))


def sign(input: Tensor) -> Tensor:
    """-1, 0 or 1 (0 for NaN), in the input's dtype. Gradient 0."""
    return Sign.apply(_tensor(input, "sign"))


def atan2(input: Tensor, other: Any) -> Tensor:
    """The angle of the point ``(other, input)`` in ``[-pi, pi]``, elementwise, with broadcasting."""
    operands = (input, other)
    if not any(isinstance(x, Tensor) for x in operands) or not all(
            isinstance(x, (Tensor, int, float, np.generic)) or is_array(x) for x in operands):
        raise TypeError(f"atan2(): expects Tensors (or one Tensor and a number), got "
                        f"{type(input).__name__} and {type(other).__name__}")
    return Atan2.apply(input, other)


def clamp(input: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    """Limit to ``[min, max]``; the gradient passes where ``min <= x <= max`` (as torch's)."""
    return Clip.apply(_tensor(input, "clamp"), low=min, high=max)


clip = clamp
arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2

_METHODS = {
    "sin": sin, "cos": cos, "tan": tan, "sinh": sinh, "cosh": cosh, "asin": asin, "acos": acos,
    "atan": atan, "arcsin": asin, "arccos": acos, "arctan": atan, "exp2": exp2, "expm1": expm1,
    "log2": log2, "log10": log10, "log1p": log1p, "rsqrt": rsqrt, "reciprocal": reciprocal,
    "square": square, "erf": erf, "floor": floor, "ceil": ceil, "trunc": trunc, "round": round,
    "frac": frac, "sign": sign, "atan2": atan2, "arctan2": atan2,
}
for _name, _method in _METHODS.items():
    setattr(Tensor, _name, _method)


# ---------------------------------------------------------------------------------------------
# Bitwise and logical functions, and tests of float classes (never differentiable)
# ---------------------------------------------------------------------------------------------
def _array_operand(x: Any, name: str) -> Any:
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, (bool, int, float, np.generic)) or is_array(x):
        return x
    raise TypeError(f"{name}(): expects Tensors or numbers, got {type(x).__name__}")


def _in_dtype(x: Any, dtype: np.dtype) -> Any:
    """``x`` in ``dtype``; a Python integer wraps around as torch's scalar conversion does."""
    if is_array(x):
        return x if x.dtype == dtype else x.astype(dtype)
    if isinstance(x, (bool, np.bool_)):
        return np.array(bool(x)).astype(dtype)
    value = int(x)
    wide = np.array(value, dtype=np.uint64 if value > np.iinfo(np.int64).max else np.int64)
    with np.errstate(over="ignore"):
        return wide.astype(dtype)


def _integer_pair(input: Any, other: Any, name: str, torch_name: str,
                  allow_bool: bool = True) -> tuple[Any, Any, np.dtype]:
    """Both operands in torch's result dtype, which must be an integer (or bool) dtype."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"{name}(): expects a Tensor (and a Tensor or a number), got "
                        f"{type(input).__name__} and {type(other).__name__}")
    a, b = _array_operand(input, name), _array_operand(other, name)
    want = result_dtype(a, b)
    if want.kind == "f" or (want.kind == "b" and not allow_bool):
        label = {"float16": "Half", "float32": "Float", "float64": "Double"}.get(want.name, "Bool")
        raise NotImplementedError(f"\"{torch_name}_cpu\" not implemented for '{label}' ({name} takes "
                                  f"integer{' or bool' if allow_bool else ''} tensors, got {want})")
    return _in_dtype(a, want), _in_dtype(b, want), want


def _bitwise(op: str, torch_name: str) -> Any:
    def fn(input: Any, other: Any) -> Tensor:
        a, b, _ = _integer_pair(input, other, op, torch_name)
        return Tensor._make(getattr(array_module(a, b), op)(a, b))

    fn.__name__ = op
    fn.__doc__ = f"``{op}`` of two integer or bool tensors (or a tensor and a number), with broadcasting."
    return fn


bitwise_and = _bitwise("bitwise_and", "bitwise_and")
bitwise_or = _bitwise("bitwise_or", "bitwise_or")
bitwise_xor = _bitwise("bitwise_xor", "bitwise_xor")


def bitwise_not(input: Tensor) -> Tensor:
    """``~x``: bitwise not of an integer tensor, logical not of a bool tensor."""
    a = _tensor(input, "bitwise_not")
    data = a._data if isinstance(a, Tensor) else a
    if data.dtype.kind not in "biu":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return Tensor._make(array_module(data).invert(data))


def bitwise_left_shift(input: Any, other: Any) -> Tensor:
    """``input << other`` on integer tensors: the bits of ``input`` moved up, in torch's result
    dtype; a shift that is negative or at least the bit width gives 0 (as torch's CPU kernel)."""
    a, b, want = _integer_pair(input, other, "bitwise_left_shift", "lshift", allow_bool=False)
    xp = array_module(a, b)
    bits = want.itemsize * 8
    unsigned = np.dtype(f"u{want.itemsize}")
    out_of_range = (b < 0) | (b >= bits)
    shift = xp.where(out_of_range, 0, b).astype(unsigned)
    moved = (a.astype(unsigned) << shift).astype(want)
    return Tensor._make(xp.asarray(xp.where(out_of_range, 0, moved).astype(want)))


def bitwise_right_shift(input: Any, other: Any) -> Tensor:
    """``input >> other`` on integer tensors (arithmetic for signed dtypes); a shift that is
    negative or at least the bit width gives the sign fill (0 or -1), as torch's CPU kernel."""
    a, b, want = _integer_pair(input, other, "bitwise_right_shift", "rshift", allow_bool=False)
    xp = array_module(a, b)
    bits = want.itemsize * 8
    out_of_range = (b < 0) | (b >= bits)
    shift = xp.where(out_of_range, 0, b).astype(want)
    moved = a >> shift
    fill = xp.where(a < 0, -1, 0).astype(want) if want.kind == "i" else xp.zeros_like(moved)
    return Tensor._make(xp.asarray(xp.where(out_of_range, fill, moved).astype(want)))


def _truth(x: Any, name: str) -> Any:
    data = _array_operand(x, name)
    return data != 0 if is_array(data) else bool(x)


def logical_not(input: Tensor) -> Tensor:
    """``input == 0`` elementwise (bool), for any dtype."""
    return Tensor._make(array_module(_array_operand(_tensor(input, "logical_not"), "logical_not"))
                        .logical_not(_truth(input, "logical_not")))


def _logical(op: str) -> Any:
    def fn(input: Tensor, other: Any) -> Tensor:
        a, b = _truth(_tensor(input, op), op), _truth(other, op)
        return Tensor._make(np.asarray(getattr(np, op)(a, b)))

    fn.__name__ = op
    fn.__doc__ = f"``{op}`` of the truth values (nonzero) of two tensors, elementwise (bool)."
    return fn


logical_and = _logical("logical_and")
logical_or = _logical("logical_or")
logical_xor = _logical("logical_xor")


def _classify(name: str, test: Any, integer_value: bool = False) -> Any:
    def fn(input: Tensor) -> Tensor:
        data = _array_operand(_tensor(input, name), name)
        xp = array_module(data)
        if data.dtype.kind != "f":
            return Tensor._make(xp.full(data.shape, integer_value, dtype=np.bool_))
        return Tensor._make(xp.asarray(test(xp, data)))

    fn.__name__ = name
    return fn


isnan = _classify("isnan", lambda xp, a: xp.isnan(a))
isinf = _classify("isinf", lambda xp, a: xp.isinf(a))
isposinf = _classify("isposinf", lambda xp, a: xp.isposinf(a))
isneginf = _classify("isneginf", lambda xp, a: xp.isneginf(a))
isfinite = _classify("isfinite", lambda xp, a: xp.isfinite(a), integer_value=True)
isnan.__doc__ = "Where the values are NaN (bool); integer and bool tensors have none."
isinf.__doc__ = "Where the values are +inf or -inf (bool)."
isposinf.__doc__ = "Where the values are +inf (bool)."
isneginf.__doc__ = "Where the values are -inf (bool)."
isfinite.__doc__ = "Where the values are neither NaN nor infinite (bool); integers always are."


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (the dtype's largest and
    smallest finite values by default). Gradient: passed where the input is finite, else 0."""
    return NanToNum.apply(_tensor(input, "nan_to_num"), nan=nan, posinf=posinf, neginf=neginf)


class NanToNum(Function):
    saves = (0,)

    def forward(self, a: Any, nan: float, posinf: float | None, neginf: float | None) -> Any:
        self.a = a
        if a.dtype.kind != "f":
            return a.copy()
        return array_module(a).nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    def backward(self, grad: Any) -> Any:
        return grad * array_module(grad).isfinite(self.a)


# ---------------------------------------------------------------------------------------------
# Inverse hyperbolic functions, log-space addition, copysign, lerp
# ---------------------------------------------------------------------------------------------
class Asinh(_FloatUnary):
    compute = staticmethod(lambda xp, a: xp.arcsinh(a))

    def derivative(self, xp: Any) -> Any:
        return 1 / xp.sqrt(self.a * self.a + 1)


class Acosh(_FloatUnary):
    """``acosh``; NaN below 1, and its derivative ``1 / sqrt(x^2 - 1)`` is inf at 1."""

    compute = staticmethod(lambda xp, a: xp.arccosh(a))

    def derivative(self, xp: Any) -> Any:
        return 1 / xp.sqrt(self.a * self.a - 1)


class Atanh(_FloatUnary):
    """``atanh``; NaN outside [-1, 1], ±inf at ±1; derivative ``1 / (1 - x^2)``."""

    compute = staticmethod(lambda xp, a: xp.arctanh(a))

    def derivative(self, xp: Any) -> Any:
        return 1 / (1 - self.a * self.a)


def asinh(input: Tensor) -> Tensor:
    return Asinh.apply(_tensor(input, "asinh"))


def acosh(input: Tensor) -> Tensor:
    return Acosh.apply(_tensor(input, "acosh"))


def atanh(input: Tensor) -> Tensor:
    return Atanh.apply(_tensor(input, "atanh"))


def _float_operands(input: Any, other: Any, name: str) -> None:
    if not any(isinstance(x, Tensor) for x in (input, other)) or not all(
            isinstance(x, (Tensor, int, float, np.generic)) or is_array(x) for x in (input, other)):
        raise TypeError(f"{name}(): expects Tensors (or one Tensor and a number), got "
                        f"{type(input).__name__} and {type(other).__name__}")


class LogAddExp(_Broadcasting):
    """``log(exp(a) + exp(b))`` without overflow; gradients ``exp(a - out)`` and ``exp(b - out)``."""

    saves = (0, 1, -1)
    symbol = "logaddexp"

    def forward(self, a: Any, b: Any) -> Any:
        a, b = _promoted(a, b, true_division=True)
        self.a, self.b = a, b
        with np.errstate(invalid="ignore"):
            self.out = array_module(a, b).logaddexp(a, b)
        return self.out

    def backward(self, grad: Any) -> tuple[Any, Any]:
        need_a, need_b = self.needs_input_grad
        xp = array_module(grad)
        with np.errstate(all="ignore"):
            grad_a = grad * xp.exp(self.a - self.out) if need_a else None
            grad_b = grad * xp.exp(self.b - self.out) if need_b else None
        return grad_a, grad_b


def logaddexp(input: Tensor, other: Any) -> Tensor:
    """``log(exp(input) + exp(other))``, elementwise with broadcasting, computed without overflow."""
    _float_operands(input, other, "logaddexp")
    return LogAddExp.apply(input, other)


class CopySign(_Broadcasting):
    """``|a|`` with the sign of ``b`` (of its sign bit: -0.0 is negative). Gradient to ``a``:
    ``out / a`` (0 where ``a`` is 0, as torch's); to ``b``: 0."""

    saves = (0, -1)
    symbol = "copysign"

    def forward(self, a: Any, b: Any) -> Any:
        a, b = _promoted(a, b, true_division=True)
        self.a = a
        self.out = array_module(a, b).copysign(a, b)
        return self.out

    def backward(self, grad: Any) -> tuple[Any, Any]:
        need_a, need_b = self.needs_input_grad
        xp = array_module(grad)
        with np.errstate(all="ignore"):
            ratio = xp.where(self.a == 0, 0, self.out / xp.where(self.a == 0, 1, self.a))
        return (grad * ratio if need_a else None, xp.zeros_like(grad) if need_b else None)


def copysign(input: Tensor, other: Any) -> Tensor:
    """The magnitude of ``input`` with the sign of ``other``, elementwise (a float result)."""
    _float_operands(input, other, "copysign")
    return CopySign.apply(input, other)


class Lerp(_Broadcasting):
    """``start + weight * (end - start)`` (as torch's: ``end - (end - start) * (1 - weight)`` where
    ``|weight| >= 0.5``). Gradients ``1 - weight``, ``weight`` and ``end - start``."""

    saves = (0, 1, 2)
    symbol = "lerp"

    def forward(self, start: Any, end: Any, weight: Any) -> Any:
        self.start, self.end, self.weight = start, end, weight
        xp = array_module(start, end)
        diff = end - start
        with np.errstate(all="ignore"):
            out = xp.where(xp.abs(weight) < 0.5, start + weight * diff, end - diff * (1 - weight))
        return out.astype(start.dtype, copy=False)

    def backward(self, grad: Any) -> tuple[Any, Any, Any]:
        need_start, need_end, need_weight = self.needs_input_grad
        return (grad * (1 - self.weight) if need_start else None, grad * self.weight if need_end else None,
                grad * (self.end - self.start) if need_weight else None)


def lerp(input: Tensor, end: Tensor, weight: Any) -> Tensor:
    """Linear interpolation ``input + weight * (end - input)``; ``weight`` a number or a tensor.
    ``input`` and ``end`` (and a tensor ``weight``) must be floating point of one dtype."""
    if not isinstance(input, Tensor) or not isinstance(end, Tensor):
        raise TypeError(f"lerp(): input and end must be Tensors, got {type(input).__name__} and "
                        f"{type(end).__name__}")
    tensors = [input, end] + ([weight] if isinstance(weight, Tensor) else [])
    if any(t.dtype.kind != "f" for t in tensors) or len({t.dtype for t in tensors}) != 1:
        raise RuntimeError(f"lerp(): expected input, end (and a tensor weight) of one floating point dtype, "
                           f"got {', '.join(str(t.dtype) for t in tensors)}")
    if not isinstance(weight, Tensor):
        if not isinstance(weight, (int, float, np.integer, np.floating)) or isinstance(weight, bool):
            raise TypeError(f"lerp(): weight must be a number or a Tensor, got {type(weight).__name__}")
        weight = input.dtype.type(weight)
    return Lerp.apply(input, end, weight)


_NEW_METHODS = {
    "bitwise_and": bitwise_and, "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor,
    "bitwise_not": bitwise_not, "bitwise_left_shift": bitwise_left_shift,
    "bitwise_right_shift": bitwise_right_shift, "logical_not": logical_not, "logical_and": logical_and,
    "logical_or": logical_or, "logical_xor": logical_xor, "isnan": isnan, "isinf": isinf,
    "isposinf": isposinf, "isneginf": isneginf, "isfinite": isfinite, "nan_to_num": nan_to_num,
    "asinh": asinh, "acosh": acosh, "atanh": atanh, "arcsinh": asinh, "arccosh": acosh, "arctanh": atanh,
    "logaddexp": logaddexp, "copysign": copysign, "lerp": lerp,
    "__and__": bitwise_and, "__or__": bitwise_or, "__xor__": bitwise_xor, "__invert__": bitwise_not,
    "__lshift__": bitwise_left_shift, "__rshift__": bitwise_right_shift,
    "__rand__": lambda self, other: bitwise_and(other, self),
    "__ror__": lambda self, other: bitwise_or(other, self),
    "__rxor__": lambda self, other: bitwise_xor(other, self),
    "__rlshift__": lambda self, other: bitwise_left_shift(other, self),
    "__rrshift__": lambda self, other: bitwise_right_shift(other, self),
}


def _bitwise_in_place(name: str, op: Any) -> Any:
    """``x &= y`` and ``x.bitwise_and_(y)``: the result written into ``x`` (its dtype kept, the version
    bumped), as torch's in-place bitwise ops."""
    def method(self: Tensor, other: Any) -> Tensor:
        return _in_place(self, name, op, (other,))

    method.__name__ = name
    return method


for _op_name, _op, _symbol, _dunder in (
        ("bitwise_and", bitwise_and, "&=", "__iand__"), ("bitwise_or", bitwise_or, "|=", "__ior__"),
        ("bitwise_xor", bitwise_xor, "^=", "__ixor__"),
        ("bitwise_left_shift", bitwise_left_shift, "<<=", "__ilshift__"),
        ("bitwise_right_shift", bitwise_right_shift, ">>=", "__irshift__")):
    _NEW_METHODS[f"{_op_name}_"] = _bitwise_in_place(f"{_op_name}_", _op)
    _NEW_METHODS[_dunder] = _bitwise_in_place(_symbol, _op)
for _name, _method in _NEW_METHODS.items():
    setattr(Tensor, _name, _method)
arcsinh, arccosh, arctanh = asinh, acosh, atanh
