"""Elementwise math with torch's names and meaning: trigonometric, hyperbolic, exponential and
logarithmic functions, rounding, ``sign``, ``reciprocal``, ``rsqrt``, ``square``, ``erf``, ``atan2``.

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
from retroprop.ops import Abs, Clip, Exp, Log, Sqrt, _Broadcasting, _float_input, _promoted
from retroprop.tensor import Function, Tensor

__all__ = [
    "abs", "acos", "arccos", "arcsin", "arctan", "arctan2", "asin", "atan", "atan2", "ceil", "clamp",
    "clip", "cos", "cosh", "erf", "exp", "exp2", "expm1", "floor", "frac", "log", "log1p", "log2",
    "log10", "reciprocal", "relu", "round", "rsqrt", "sigmoid", "sign", "sin", "sinh", "sqrt", "square",
    "tan", "tanh", "trunc",
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
