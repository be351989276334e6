"""Stateless differentiable functions for networks: activations, linear, dropout, batch norm; the
losses live in ``retroprop.losses`` and are re-exported here.

Each is a fused ``Function`` with an analytic backward: one graph node instead of many, fewer
temporaries, and the numerically stable form (max-shifted log-softmax, ``log1p(exp(-|x|))`` in
the logistic loss). Exported as ``retroprop.F``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from retroprop.backend import array_module, special_module
from retroprop.conv import *  # noqa: F403 - conv1d, conv2d, pad (conv.__all__)
from retroprop.interpolate import *  # noqa: F403 - interpolate (interpolate.__all__)
from retroprop.losses import *  # noqa: F403 - cross_entropy, nll_loss, mse_loss, ... (losses.__all__)
from retroprop.losses import (  # noqa: F401 - the loss Functions and helpers, once defined here
    _REDUCTIONS,
    BCEWithLogits,
    BinaryCrossEntropy,
    CrossEntropy,
    CrossEntropyProbs,
    HuberLoss,
    KLDiv,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
    _check_reduction,
    _class_targets,
    _labels_operand,
    _mean,
    _reduce,
    _reduced_grad,
    _same_shape,
)
from retroprop.normalization import *  # noqa: F403 - layer_norm, embedding (normalization.__all__)
from retroprop.pool import *  # noqa: F403 - max, avg and adaptive avg pooling (pool.__all__)
from retroprop.random import get_generator
from retroprop.selection import one_hot  # noqa: F401 - F.one_hot, torch's spelling
from retroprop.tensor import Function, ShapeError, Tensor, as_array  # noqa: F401 - F.as_array, as before

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _sigmoid(x: Any) -> Any:
    """``1 / (1 + exp(-x))`` as torch computes it: exp overflows to inf for very negative x,
    giving exactly 0 with full relative precision elsewhere (and 4x faster than scipy's expit)."""
    xp = array_module(x)
    e = xp.negative(x, out=xp.empty(x.shape, dtype=xp.result_type(x.dtype, xp.float16)))
    with np.errstate(over="ignore"):
        xp.exp(e, out=e)
    e += 1
    return xp.reciprocal(e, out=e)


def _floats_only(x: Any, name: str) -> None:
    if x.dtype.kind != "f":
        raise RuntimeError(f"{name}: not implemented for {x.dtype} tensors, as in torch; cast to a "
                           "float dtype first (x.float())")


def _axis(axis: int, dim: int | None) -> int:
    return axis if dim is None else dim


def _sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``x.sum()`` through the ufunc directly: NumPy's method adds a Python layer (µs per call)."""
    return array_module(x).add.reduce(x, axis=axis, keepdims=keepdims)


def _max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return array_module(x).maximum.reduce(x, axis=axis, keepdims=keepdims)


# ---------------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------------
class ReLU(Function):
    saves = ()
    # Strict x > 0: the gradient at exactly 0 is 0, as in PyTorch.
    exact_gradients = True

    def forward(self, x: Any) -> Any:
        out = array_module(x).maximum(x, 0)
        self.mask = out > 0
        return out

    def backward(self, grad: Any) -> Any:
        if self.grad_owned and grad.shape == self.mask.shape:
            grad *= self.mask  # in place: the engine says no one else holds this array
            return grad
        return grad * self.mask


class LeakyReLU(Function):
    saves = ()

    def forward(self, x: Any, negative_slope: float) -> Any:
        _floats_only(x, "leaky_relu")
        xp = array_module(x)
        one, slope = x.dtype.type(1), x.dtype.type(negative_slope)
        self.slope = xp.where(x > 0, one, slope)
        return x * self.slope

    def backward(self, grad: Any) -> Any:
        return grad * self.slope


class ELU(Function):
    """``scale * (x if x > 0 else alpha * (exp(x) - 1))``; SELU is ELU with fixed constants."""

    saves = ()

    def forward(self, x: Any, alpha: float, scale: float) -> Any:
        _floats_only(x, "elu")
        xp = array_module(x)
        positive = ~(x <= 0)  # NaN takes the linear side's gradient, as torch's
        negative_part = alpha * xp.expm1(xp.minimum(x, 0))  # min() keeps exp from overflowing
        out = xp.where(positive, x, negative_part)
        if scale != 1.0:
            out = out * scale
        # d/dx alpha*(exp(x)-1) = alpha*exp(x) = negative_part + alpha (x <= 0 side, as torch)
        self.local = xp.where(positive, scale, scale * (negative_part + alpha)).astype(x.dtype)
        return out.astype(x.dtype, copy=False)

    def backward(self, grad: Any) -> Any:
        return grad * self.local


class GELU(Function):
    saves = ()

    def forward(self, x: Any, approximate: str) -> Any:
        _floats_only(x, "gelu")
        with np.errstate(over="ignore", invalid="ignore"):  # ±inf give NaN (inf * 0), as torch's
            out = self._forward(array_module(x), x, approximate)
        self.local = self.local.astype(x.dtype, copy=False)  # float16 stays float16 (scipy's erfc)
        return out.astype(x.dtype, copy=False)

    def _forward(self, xp: Any, x: Any, approximate: str) -> Any:
        if approximate == "none":
            # Phi(x) = erfc(-x/sqrt2)/2 avoids the cancellation in 1 + erf(x/sqrt2) for x < 0
            cdf = 0.5 * special_module(xp).erfc(x * -_SQRT_HALF)
            pdf = xp.exp(-0.5 * x * x) * _INV_SQRT_2PI
            self.local = cdf + x * pdf
            return x * cdf
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)
        t = xp.tanh(inner)
        d_inner = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)
        self.local = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner
        return 0.5 * x * (1.0 + t)

    def backward(self, grad: Any) -> Any:
        return grad * self.local


class Sigmoid(Function):
    saves = (-1,)

    def forward(self, x: Any) -> Any:
        self.out = _sigmoid(x if x.dtype.kind == "f" else x.astype(np.float32))  # as torch's
        return self.out

    def backward(self, grad: Any) -> Any:
        out = self.out
        return grad * out * (1 - out)


class Tanh(Function):
    saves = (-1,)

    def forward(self, x: Any) -> Any:
        self.out = array_module(x).tanh(x if x.dtype.kind == "f" else x.astype(np.float32))  # as torch's
        return self.out

    def backward(self, grad: Any) -> Any:
        out = self.out
        return grad * (1 - out * out)


class Softplus(Function):
    """``log(1 + exp(beta x)) / beta``, linear above ``threshold`` (as torch)."""

    saves = ()

    def forward(self, x: Any, beta: float, threshold: float) -> Any:
        _floats_only(x, "softplus")
        xp = array_module(x)
        with np.errstate(over="ignore", invalid="ignore"):  # NaN stays NaN, as torch's
            scaled = x * beta
            linear = scaled > threshold
            self.local = xp.where(linear, 1.0, _sigmoid(scaled)).astype(x.dtype)
            return xp.where(linear, x, xp.logaddexp(0, scaled) / beta).astype(x.dtype, copy=False)

    def backward(self, grad: Any) -> Any:
        return grad * self.local


class LogSoftmax(Function):
    saves = ()

    def forward(self, x: Any, axis: int) -> Any:
        xp = array_module(x)
        shifted = x - _max(x, axis, keepdims=True)  # the max shift keeps exp() finite
        probs = xp.exp(shifted)
        sum_exp = _sum(probs, axis, keepdims=True)
        shifted -= xp.log(sum_exp)
        probs /= sum_exp  # kept for backward: cheaper than exp(out) there
        self.probs, self.axis = probs, axis
        return shifted

    def backward(self, grad: Any) -> Any:
        return grad - self.probs * _sum(grad, self.axis, keepdims=True)


class Softmax(Function):
    saves = (-1,)

    def forward(self, x: Any, axis: int) -> Any:
        xp = array_module(x)
        e = x - _max(x, axis, keepdims=True)  # the max shift keeps exp() finite
        xp.exp(e, out=e)
        e /= _sum(e, axis, keepdims=True)
        self.out, self.axis = e, axis
        return e

    def backward(self, grad: Any) -> Any:
        out = self.out
        return out * (grad - _sum(grad * out, self.axis, keepdims=True))


def relu(x: Tensor) -> Tensor:
    """``max(x, 0)``; gradient 1 where ``x > 0`` and 0 elsewhere (0 included)."""
    return ReLU.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``x`` where ``x > 0``, else ``negative_slope * x``."""
    return LeakyReLU.apply(x, negative_slope=negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    return ELU.apply(x, alpha=alpha, scale=1.0)


def selu(x: Tensor) -> Tensor:
    """Self-normalizing ELU (Klambauer et al. 2017) with its fixed ``alpha`` and ``scale``."""
    return ELU.apply(x, alpha=SELU_ALPHA, scale=SELU_SCALE)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """``x * Phi(x)`` with the exact erf form, or ``approximate='tanh'`` as in PyTorch."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(x, approximate=approximate)


def sigmoid(x: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))``, computed without overflow."""
    return Sigmoid.apply(x)


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(x)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Smooth ReLU ``log(1 + exp(beta x)) / beta``; linear where ``beta x > threshold``."""
    return Softplus.apply(x, beta=beta, threshold=threshold)


def _over_one_element(op: type[Function], x: Tensor, axis: int) -> Tensor:
    """``op`` on a 0-d tensor, as torch's: over its one element (dim 0 or -1), a 0-d result."""
    if isinstance(axis, bool) or axis not in (0, -1):
        raise IndexError(f"{op.__name__.lower()}: Dimension out of range (expected to be in range of "
                         f"[-1, 0], but got {axis}) for a 0-d tensor")
    return op.apply(x.reshape(1), axis=0).reshape(())


def softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """Softmax along ``axis``, max-shifted so large logits cannot overflow."""
    axis = _axis(axis, dim)
    if x.ndim == 0:
        return _over_one_element(Softmax, x, axis)
    return Softmax.apply(x, axis=axis)


def log_softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """``log(softmax(x))`` computed as ``x - max - log(sum(exp(x - max)))``."""
    axis = _axis(axis, dim)
    if x.ndim == 0:
        return _over_one_element(LogSoftmax, x, axis)
    return LogSoftmax.apply(x, axis=axis)


# ---------------------------------------------------------------------------------------------
# More activations: torch's formulas, values at the kinks and NaN/inf results
# ---------------------------------------------------------------------------------------------
class SiLU(Function):
    """``x * sigmoid(x)`` (swish); derivative ``s * (1 + x * (1 - s))`` with ``s = sigmoid(x)``."""

    saves = (0,)

    def forward(self, x: Any) -> Any:
        _floats_only(x, "silu")
        self.x, self.s = x, _sigmoid(x)
        with np.errstate(invalid="ignore"):  # -inf * 0 is NaN, as torch's
            return x * self.s

    def backward(self, grad: Any) -> Any:
        s = self.s
        with np.errstate(invalid="ignore"):
            return grad * s * (1 + self.x * (1 - s))


class Mish(Function):
    """``x * tanh(softplus(x))``; derivative ``t + x * sigmoid(x) * (1 - t^2)``, ``t = tanh(softplus(x))``."""

    saves = (0,)

    def forward(self, x: Any) -> Any:
        _floats_only(x, "mish")
        xp = array_module(x)
        self.x = x
        with np.errstate(all="ignore"):
            self.t = xp.tanh(xp.logaddexp(0, x))  # softplus without overflow at large x
            return x * self.t

    def backward(self, grad: Any) -> Any:
        t = self.t
        with np.errstate(all="ignore"):
            return grad * (t + self.x * _sigmoid(self.x) * (1 - t * t))


class Hardswish(Function):
    """``x * relu6(x + 3) / 6``; derivative 0 for ``x <= -3``, ``x / 3 + 1/2`` below 3 and 1 from 3
    on (torch's: so 0 at -3, 1 at 3, 1 for NaN)."""

    saves = (0,)

    def forward(self, x: Any) -> Any:
        _floats_only(x, "hardswish")
        self.x = x
        with np.errstate(invalid="ignore"):  # -inf * 0 is NaN, as torch's
            return x * array_module(x).clip(x + 3, 0, 6) / 6

    def backward(self, grad: Any) -> Any:
        xp, x = array_module(grad), self.x
        local = xp.where(x <= -3, 0, xp.where(x < 3, x / 3 + 0.5, 1)).astype(x.dtype, copy=False)
        return grad * local


class Hardsigmoid(Function):
    """``relu6(x + 3) / 6``; derivative 1/6 strictly between -3 and 3, else 0 (NaN included)."""

    saves = (0,)

    def forward(self, x: Any) -> Any:
        _floats_only(x, "hardsigmoid")
        self.x = x
        return array_module(x).clip(x + 3, 0, 6) / 6

    def backward(self, grad: Any) -> Any:
        x = self.x
        return grad * (((x > -3) & (x < 3)) * x.dtype.type(1 / 6))


class Hardtanh(Function):
    """Clamp to ``[min_val, max_val]``; unlike ``clamp``, no gradient passes at the bounds (torch's
    ``x <= min_val or x >= max_val`` gives 0, so NaN passes). Integer tensors stay integer, with
    the bounds truncated to integers, as torch's."""

    saves = ()

    def forward(self, x: Any, min_val: float, max_val: float) -> Any:
        if x.dtype.kind == "b":
            raise RuntimeError("hardtanh: bool inputs are not supported, as in torch; cast them first")
        cast = int if x.dtype.kind in "iu" else x.dtype.type
        low, high = cast(min_val), cast(max_val)
        self.mask = ~((x <= low) | (x >= high))
        return array_module(x).clip(x, low, high)

    def backward(self, grad: Any) -> Any:
        return grad * self.mask


class Softsign(Function):
    """``x / (1 + |x|)``; integers give float32. torch composes it of abs, add and div, and so is
    its gradient computed here (``1/d - x/d/d * sign(x)``, NaN at ±inf, as torch's)."""

    saves = (0,)

    def forward(self, x: Any) -> Any:
        if x.dtype.kind == "b":
            raise RuntimeError("softsign: bool inputs are not supported, as in torch; cast them first")
        x = x if x.dtype.kind == "f" else x.astype(np.float32)
        self.x, self.d = x, array_module(x).abs(x) + 1
        with np.errstate(invalid="ignore"):  # inf / inf
            self.out = x / self.d
        return self.out

    def backward(self, grad: Any) -> Any:
        d = self.d
        with np.errstate(invalid="ignore"):
            through_abs = -grad * (self.out / d) * array_module(grad).sign(self.x)
            return grad / d + through_abs


class LogSigmoid(Function):
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))`` without overflow; derivative
    ``sigmoid(-x)`` in torch's form."""

    saves = (0,)

    def forward(self, x: Any) -> Any:
        _floats_only(x, "logsigmoid")
        xp = array_module(x)
        self.x = x
        z = xp.exp(-xp.abs(x))
        self.q = z / (1 + z)
        return xp.minimum(x, 0) - xp.log1p(z)

    def backward(self, grad: Any) -> Any:
        q = self.q
        return grad * array_module(grad).where(self.x < 0, 1 - q, q)


def silu(x: Tensor) -> Tensor:
    """``x * sigmoid(x)`` (swish)."""
    return SiLU.apply(x)


def mish(x: Tensor) -> Tensor:
    """``x * tanh(softplus(x))``."""
    return Mish.apply(x)


def hardswish(x: Tensor) -> Tensor:
    """``x * relu6(x + 3) / 6``: 0 up to -3, ``x`` from 3 on."""
    return Hardswish.apply(x)


def hardsigmoid(x: Tensor) -> Tensor:
    """``relu6(x + 3) / 6``: 0 up to -3, 1 from 3 on, linear between."""
    return Hardsigmoid.apply(x)


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """Clamp to ``[min_val, max_val]``; the gradient is 0 at and beyond the bounds."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val (got {min_val} > {max_val})")
    return Hardtanh.apply(x, min_val=min_val, max_val=max_val)


def relu6(x: Tensor) -> Tensor:
    """``min(max(x, 0), 6)``; the gradient is 0 at 0 and at 6 (``hardtanh(x, 0, 6)``, as torch's)."""
    return Hardtanh.apply(x, min_val=0.0, max_val=6.0)


def softsign(x: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return Softsign.apply(x)


def logsigmoid(x: Tensor) -> Tensor:
    """``log(sigmoid(x))``, stable for large ``|x|``."""
    return LogSigmoid.apply(x)


# ---------------------------------------------------------------------------------------------
# Linear
# ---------------------------------------------------------------------------------------------
class Linear(Function):
    """``x @ W.T + b`` with ``W`` shaped ``(out_features, in_features)`` as in PyTorch."""

    saves = (0, 1)
    read_for = ((1,), (0,))  # x for the weight's gradient, the weight for x's
    exact_gradients = True

    def forward(self, x: Any, weight: Any, bias: Any = None) -> Any:
        # shapes are checked by linear() and nn.Linear, outside this hot path
        self.x, self.weight = x, weight
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    def backward(self, grad: Any) -> tuple[Any, Any, Any]:
        need_x, need_w, need_b = self.needs_input_grad
        x = self.x
        grad_x = grad @ self.weight if need_x else None
        if x.ndim != 2:  # fold leading axes into one batch axis
            grad = grad.reshape(-1, grad.shape[-1])
            x = x.reshape(-1, x.shape[-1])
        grad_w = grad.T @ x if need_w else None
        grad_b = _sum(grad, 0) if need_b else None
        return grad_x, grad_w, grad_b


class LinearReLU(Linear):
    """``relu(x @ W.T + b)`` as one node: what ``Sequential`` runs for a Linear followed by a ReLU.

    The same arithmetic as the two ops apart (strict ``> 0`` mask), without a second node, a
    second output array or a second module call.
    """

    def forward(self, x: Any, weight: Any, bias: Any = None) -> Any:
        out = super().forward(x, weight, bias)
        self.mask = out > 0
        array_module(out).maximum(out, 0, out=out)  # in place: out is this node's own array
        return out

    def backward(self, grad: Any) -> tuple[Any, Any, Any]:
        if self.grad_owned:
            grad *= self.mask  # in place: the engine says no one else holds this array
        else:
            grad = grad * self.mask
        return super().backward(grad)


def linear_relu(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``relu(linear(x, weight, bias))`` in one fused node (same values and gradients)."""
    _check_linear_shapes(x, weight, bias)
    return LinearReLU.apply(x, weight, bias)


def _shape_of(value: Any) -> tuple[int, ...]:
    return tuple(value.shape) if isinstance(value, Tensor) or hasattr(value, "shape") else np.shape(value)


def _check_linear_shapes(x: Any, weight: Any, bias: Any) -> None:
    shape, w_shape = _shape_of(x), _shape_of(weight)
    if not shape or len(w_shape) != 2 or shape[-1] != w_shape[1]:
        raise ShapeError(
            f"linear: input of shape {shape} has {shape[-1] if shape else 0} features on its last "
            f"axis, but the weight of shape {w_shape} expects {w_shape[-1] if w_shape else 0} "
            "(weight is (out_features, in_features))"
        )
    if bias is not None and _shape_of(bias) != (w_shape[0],):
        raise ShapeError(
            f"linear: bias of shape {_shape_of(bias)} does not match the weight's {w_shape[0]} "
            "output features"
        )


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Affine map ``x @ weight.T + bias``; ``weight`` is ``(out_features, in_features)``."""
    _check_linear_shapes(x, weight, bias)
    return Linear.apply(x, weight, bias)


# ---------------------------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------------------------
class Dropout(Function):
    saves = ()

    def forward(self, x: Any, p: float, generator: np.random.Generator) -> Any:
        xp = array_module(x)
        if p >= 1.0:
            self.mask = xp.zeros_like(x)  # every unit dropped: zeros out, zero gradient, no 0/0
        else:
            draw_dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float32
            keep = generator.random(x.shape, dtype=draw_dtype) >= p
            # inverted dropout: scale the kept units by 1/(1-p) so eval needs no rescaling
            self.mask = keep * x.dtype.type(1.0 / (1.0 - p))
        return x * self.mask

    def backward(self, grad: Any) -> Any:
        return grad * self.mask


def dropout(x: Tensor, p: float = 0.5, training: bool = True, generator: Any = None) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    ``p`` is the drop rate: 0.0 changes nothing, 1.0 drops everything (zeros, zero gradient).
    Identity when ``training`` is False.
    """
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)):
        raise TypeError(f"dropout: p must be a number in [0, 1], got {type(p).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p is the drop rate and must be in [0, 1], got {p}")
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if not training or p == 0.0:
        return x
    return Dropout.apply(x, p=float(p), generator=get_generator(generator))


# ---------------------------------------------------------------------------------------------
# Batch normalization
# ---------------------------------------------------------------------------------------------
class BatchNorm(Function):
    """Batch normalization over every axis but the channel axis 1 (inputs ``(N, C, *)``, as torch's)."""

    saves = (1,)

    def forward(self, x: Any, weight: Any = None, bias: Any = None, *, running_mean: Any,
                running_var: Any, training: bool, momentum: float, eps: float) -> Any:
        xp = array_module(x)
        if x.ndim < 2:
            raise ShapeError(f"batch_norm: expected input of shape (N, C, *) with at least 2 dimensions, got "
                             f"{x.shape}")
        channels = x.shape[1]
        for name, arr in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                          ("running_var", running_var)):
            if arr is not None and arr.shape != (channels,):
                raise ShapeError(
                    f"batch_norm: {name} has shape {arr.shape} but the input has {channels} "
                    f"channels (axis 1 of {x.shape})"
                )
        axes = (0, *range(2, x.ndim))
        bshape = (1, channels) + (1,) * (x.ndim - 2)
        count = x.size // channels if channels else 0
        if training:
            if count <= 1:
                raise ValueError(
                    f"batch_norm: expected more than 1 value per channel when training, got "
                    f"input of shape {x.shape}; use a batch of at least 2 samples (or eval())"
                )
            mean = _sum(x, axes) / count
            centered = x - mean.reshape(bshape)
            var = _sum(centered * centered, axes) / count  # biased variance normalizes the batch
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                # the running estimate stores the unbiased variance, as PyTorch does
                running_var *= 1 - momentum
                running_var += (momentum * count / (count - 1)) * var
        else:
            if running_mean is None or running_var is None:
                raise ValueError("batch_norm: evaluation mode needs running_mean and running_var")
            centered = x - running_mean.reshape(bshape).astype(x.dtype, copy=False)
            var = running_var.astype(x.dtype, copy=False)
        inv_std = (1.0 / xp.sqrt(var + eps)).astype(x.dtype, copy=False).reshape(bshape)
        x_hat = centered
        x_hat *= inv_std  # in place: ``centered`` is not needed any more
        self.x_hat, self.inv_std, self.axes = x_hat, inv_std, axes
        self.weight, self.training, self.count, self.bshape = weight, training, count, bshape
        out = x_hat * weight.reshape(bshape) if weight is not None else x_hat.copy()
        if bias is not None:
            out += bias.reshape(bshape)
        return out

    def backward(self, grad: Any) -> tuple[Any, Any, Any]:
        need_x, need_w, need_b = self.needs_input_grad
        x_hat, axes, bshape = self.x_hat, self.axes, self.bshape
        train_x = need_x and self.training
        # sum(grad * x_hat) and sum(grad) are the weight's and bias's gradients, and (times the
        # weight) the two means the input's gradient needs: each is reduced once
        sum_gx = _sum(grad * x_hat, axes) if need_w or train_x else None
        sum_g = _sum(grad, axes) if need_b or train_x else None
        grad_x = None
        if need_x:
            weight = self.weight.reshape(bshape) if self.weight is not None else None
            if self.training:
                # dx = inv_std * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat)), g_hat = grad * w
                scale = self.inv_std if weight is None else weight * self.inv_std
                mean_g = sum_g.reshape(bshape) / self.count
                mean_gx = sum_gx.reshape(bshape) / self.count
                grad_x = x_hat * mean_gx
                grad_x += mean_g
                array_module(grad).subtract(grad, grad_x, out=grad_x)
                grad_x *= scale
            else:
                grad_x = grad * (self.inv_std if weight is None else weight * self.inv_std)
        return grad_x, sum_gx if need_w else None, sum_g if need_b else None


def batch_norm(x: Tensor, running_mean: Any, running_var: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Normalize each channel (axis 1), as ``torch.nn.functional.batch_norm``.

    Training normalizes with the batch's biased variance and updates ``running_mean`` and
    ``running_var`` in place (the latter with the unbiased variance); evaluation uses them.
    """
    running_mean = running_mean.data if isinstance(running_mean, Tensor) else running_mean
    running_var = running_var.data if isinstance(running_var, Tensor) else running_var
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"batch_norm: momentum must be in [0, 1], got {momentum}")
    if eps <= 0:
        raise ValueError(f"batch_norm: eps must be positive, got {eps}")
    options = {"running_mean": running_mean, "running_var": running_var, "training": training,
               "momentum": momentum, "eps": eps}
    return BatchNorm.apply(x, weight, bias, **options)


for _name, _fn in {"relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax,
                   "log_softmax": log_softmax}.items():
    setattr(Tensor, _name, _fn)
