"""Losses with torch's semantics (``F.cross_entropy``, ``F.nll_loss``, ``F.binary_cross_entropy``, ...).

Each is one fused ``Function`` with an analytic backward and the numerically stable form
(max-shifted log-softmax; ``log1p(exp(-|x|))`` in the logistic loss). Re-exported by
``retroprop.functional`` (``F``).

Class-index losses take scores ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)`` with integer targets
``()``, ``(N,)`` or ``(N, d1, ...)``; they are computed over rows ``(M, C)`` with the class axis last.
As torch's: a weighted ``'mean'`` divides by the summed weights of the targets that are not
``ignore_index`` (``nan`` when there are none); ``cross_entropy`` also takes class probabilities (a
float target of the input's shape), whose ``'mean'`` divides by ``M``. Class weights and
``pos_weight`` are constants: one that requires grad is refused, as torch refuses it.

Differences from torch: integer class targets of any integer dtype are accepted (torch wants int64);
the elementwise losses refuse targets of another shape (torch warns and broadcasts); there are no
``size_average``/``reduce`` arguments. For retroprop's earlier positional order,
``cross_entropy(x, t, 'sum', 0.1)``, ``nll_loss(x, t, 'sum')`` and
``binary_cross_entropy_with_logits(x, t, 'none')`` still read a string third argument as the reduction.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from retroprop.backend import array_module, is_array
from retroprop.tensor import Function, ShapeError, Tensor, as_array, is_grad_enabled

__all__ = ["ClassIndexError", "LossError", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "cross_entropy", "huber_loss", "kl_div", "l1_loss", "mse_loss", "nll_loss", "smooth_l1_loss"]

_REDUCTIONS = ("mean", "sum", "none")
_BCE_EPSILON = 1e-12  # torch's floor on x (1 - x) in binary_cross_entropy's input gradient
_LOG_FLOOR = -100.0  # torch clamps binary_cross_entropy's logarithms here, so that p = 0 or 1 gives 100


class LossError(ValueError, RuntimeError):
    """A bad argument or value for a loss (an option, a probability outside [0, 1], a weight).

    A ``RuntimeError``, as torch raises for these, and a ``ValueError``, as retroprop does."""


class ClassIndexError(LossError, IndexError):
    """A class-index target outside ``[0, C)`` (torch raises ``IndexError``)."""


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def _sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``x.sum()`` through the ufunc directly: NumPy's method adds a Python layer (µs per call)."""
    return array_module(x).add.reduce(x, axis=axis, keepdims=keepdims)


def _max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return array_module(x).maximum.reduce(x, axis=axis, keepdims=keepdims)


def _mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    total = _sum(x, axis, keepdims)
    if axis is None:
        count = x.size
    elif isinstance(axis, tuple):
        count = math.prod(x.shape[a] for a in axis)
    else:
        count = x.shape[axis]
    return total / count


def _check_reduction(reduction: str, where: str, allowed: tuple[str, ...] = _REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{where}: reduction must be one of {allowed}, got {reduction!r}")


def _reduce(loss: Any, reduction: str) -> Any:
    if reduction == "mean":
        if not loss.size:  # 0 / 0 = nan, as torch's
            return array_module(loss).full((), np.nan, dtype=loss.dtype)
        return _sum(loss) / loss.size
    if reduction == "sum":
        return _sum(loss)
    return loss


def _reduced_grad(grad: Any, reduction: str, count: Any) -> Any:
    """The per-element upstream gradient of a 'mean', 'sum' or 'none' reduction."""
    if reduction == "mean":
        if not count:  # an empty or all-ignored mean: its gradient has no elements to reach
            return grad * np.nan
        return grad / count
    return grad


def _float_input(input: Any, where: str) -> Tensor:
    """``input`` as a float Tensor (an array is wrapped, as the fused ops always accepted)."""
    if not isinstance(input, Tensor):
        input = Tensor(input)
    if input.dtype.kind != "f":
        raise TypeError(f"{where}: input must be a float tensor (scores or probabilities), got "
                        f"{input.dtype}; cast it first (x.float())")
    return input


def _constant(value: Any, dtype: Any, where: str, name: str) -> Any:
    """A class weight or ``pos_weight`` as an array of ``dtype`` (None stays None). They get no
    gradient; one that requires it is refused, as torch refuses it."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        if value.requires_grad and is_grad_enabled():
            raise LossError(f"{where}: not differentiable with respect to {name}; pass {name}.detach() "
                            "(torch refuses a weight that requires grad too)")
        array = value._data
    else:
        array = as_array(value, copy=False) if is_array(value) else np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {name} must hold numbers, got dtype {array.dtype}")
    return array.astype(dtype, copy=False)


def _as_input_dtype(target: Any, dtype: Any) -> Any:
    """A target that is not a tensor as an array of the input's dtype (a list of Python floats is
    read at that precision, not through float32)."""
    if is_array(target) or isinstance(target, np.generic):
        return target.astype(dtype, copy=False)
    return as_array(target, dtype=dtype)


def _to_rows(x: Any) -> Any:
    """Scores ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)`` as rows ``(M, C)``, the class axis last."""
    if x.ndim == 2:
        return x
    if x.ndim == 1:
        return x[None, :]
    return array_module(x).moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _from_rows(g: Any, shape: tuple[int, ...]) -> Any:
    """The inverse of ``_to_rows`` for a gradient of rows ``g``."""
    if len(shape) == 2:
        return g
    if len(shape) == 1:
        return g[0]
    return array_module(g).moveaxis(g.reshape(shape[0], *shape[2:], shape[1]), -1, 1)


def _check_scores(shape: tuple[int, ...], where: str) -> None:
    if len(shape) == 0:
        raise ShapeError(f"{where}: input must be scores of shape (C,), (N, C) or (N, C, d1, ...), got a "
                         "0-d tensor")


def _label_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The class-index target shape for scores of ``shape``: the input's without its class axis."""
    return () if len(shape) == 1 else (shape[0], *shape[2:])


def _class_targets(target: Any, logits_shape: tuple[int, ...], where: str,
                   ignore_index: int | None = None) -> np.ndarray:
    """Validate integer class labels for scores of ``logits_shape``; returns them as an int64 array.

    Labels equal to ``ignore_index`` may lie outside ``[0, C)``."""
    return _index_targets(target, logits_shape, where, ignore_index)[0]


def _index_targets(target: Any, logits_shape: tuple[int, ...], where: str,
                   ignore_index: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The validated labels (int64) and the mask of those equal to ``ignore_index`` (None if none)."""
    labels = target._data if isinstance(target, Tensor) else as_array(target, copy=False)
    _check_scores(logits_shape, where)
    expected = _label_shape(logits_shape)
    if labels.shape != expected:
        # the shape is checked first, as torch's (a float (N, 1) target is a ShapeError, not a dtype error)
        multi = len(logits_shape) <= 2 and labels.ndim > 1
        raise ShapeError(
            (f"{where}: 0D or 1D target tensor expected, multi-target not supported; " if multi else
             f"{where}: ")
            + f"input of shape {logits_shape} needs a target of shape {expected}, got {labels.shape}"
        )
    if labels.dtype.kind not in "iu":
        raise TypeError(
            f"{where}: target must hold integer class indices, got dtype {labels.dtype}"
            + (" (round or cast labels with .astype(int))" if labels.dtype.kind == "f" else "")
        )
    n_classes = logits_shape[1] if len(logits_shape) > 1 else logits_shape[0]
    if not labels.size:
        return labels.astype(np.int64, copy=False), None
    low, high = np.minimum.reduce(labels, axis=None), np.maximum.reduce(labels, axis=None)
    ignored = None
    if ignore_index is not None and low <= ignore_index <= high:
        ignored = labels == ignore_index
        if not ignored.any():
            ignored = None
    if low < 0 or high >= n_classes:
        bad = (labels < 0) | (labels >= n_classes)
        if ignored is not None:
            bad &= ~ignored
        if bad.any():
            first = int(np.flatnonzero(bad.ravel())[0])
            raise ClassIndexError(
                f"{where}: target labels must lie in [0, {n_classes}) for {n_classes} classes; got "
                f"{labels.ravel()[first]} at position {first}"
                + ("" if ignore_index in (None, -100) else f" (ignore_index is {ignore_index})")
            )
    return labels.astype(np.int64, copy=False), ignored


def _labels_operand(target: Any, labels: np.ndarray) -> Any:
    """The target tensor itself when the labels are its own array (so that its version counter
    sees in-place edits before backward), else the validated labels."""
    return target if isinstance(target, Tensor) and labels is target._data else labels


def _class_weight(weight: Any, shape: tuple[int, ...], dtype: Any, where: str) -> Any:
    array = _constant(weight, dtype, where, "weight")
    n_classes = shape[1] if len(shape) > 1 else shape[0]
    if array is not None and array.shape != (n_classes,):
        raise ShapeError(f"{where}: weight must have shape ({n_classes},), one per class of input "
                         f"{shape}, got {array.shape}")
    return array


def _same_shape(input: Tensor, target: Any, where: str) -> Any:
    target_shape = np.shape(target._data if isinstance(target, Tensor) else target)
    if tuple(target_shape) != input.shape:
        raise ShapeError(
            f"{where}: input shape {input.shape} and target shape {tuple(target_shape)} differ; "
            "broadcasting them would compare every prediction with every target. Reshape one "
            "to match (e.g. target.reshape(-1, 1) or input.reshape(-1))"
        )
    if not isinstance(target, Tensor):
        target = _as_input_dtype(target, input.dtype)
    return target


def _elementwise_weight(weight: Any, shape: tuple[int, ...], dtype: Any, where: str,
                        name: str = "weight") -> Any:
    """A weight that broadcasts to the input's ``shape`` without growing it."""
    array = _constant(weight, dtype, where, name)
    if array is not None:
        try:
            grown = np.broadcast_shapes(array.shape, shape)
        except ValueError:
            grown = None
        if grown != shape:
            raise ShapeError(f"{where}: {name} of shape {array.shape} does not broadcast to the input's "
                             f"shape {shape}")
    return array


def _legacy_order(weight: Any, reduction: str) -> tuple[Any, str]:
    """retroprop's earlier positional order put ``reduction`` where torch puts ``weight``."""
    if isinstance(weight, str):
        return None, weight
    return weight, reduction


# ---------------------------------------------------------------------------------------------
# Class-index losses
# ---------------------------------------------------------------------------------------------
class CrossEntropy(Function):
    """Fused log-softmax + negative log-likelihood over integer labels, with class weights,
    ``ignore_index`` (``ignored``: the mask of those labels) and label smoothing."""

    saves = (1,)

    def forward(self, logits: Any, target: Any, reduction: str, label_smoothing: float,
                weight: Any = None, ignored: Any = None) -> Any:
        xp = array_module(logits)
        z = _to_rows(logits)
        n, n_classes = z.shape
        t = target.reshape(-1)
        kept = None
        if ignored is not None:
            kept = ~ignored.reshape(-1)
            t = xp.where(kept, t, 0)  # any valid index: those rows are zeroed
        rows = xp.arange(n)
        shifted = z - _max(z, 1, keepdims=True)  # the max shift keeps exp() finite
        # loss_i = log(sum_j exp(s_ij)) - s_i,t_i, without materializing log-probabilities
        loss = -shifted[rows, t]
        if label_smoothing:
            smooth = shifted @ weight if weight is not None else _sum(shifted, 1)
        exp = xp.exp(shifted, out=shifted)
        sum_exp = _sum(exp, 1, keepdims=True)
        log_sum = xp.log(sum_exp).reshape(-1)
        loss += log_sum
        target_weight = None  # per row: the target class's weight, 0 where ignored
        if weight is not None:
            target_weight = weight[t]
            if kept is not None:
                target_weight[~kept] = 0
        elif kept is not None:
            target_weight = kept.astype(loss.dtype)
        if target_weight is not None:
            loss *= target_weight
        if label_smoothing:
            # the uniform part: sum_c w_c (log_sum - s_c) / C, zero where ignored
            loss *= 1 - label_smoothing
            total = _sum(weight) if weight is not None else n_classes
            smooth = log_sum * total - smooth
            if kept is not None:
                smooth *= kept
            smooth *= label_smoothing / n_classes
            loss += smooth
        self.total_weight = n if target_weight is None else _sum(target_weight)
        self.exp, self.sum_exp = exp, sum_exp
        self.target_weight, self.weight, self.kept = target_weight, weight, kept
        self.rows, self.target, self.n_classes, self.shape = rows, t, n_classes, logits.shape
        self.labels = target  # the array itself: see Function.saves
        self.reduction, self.smoothing = reduction, label_smoothing
        if reduction == "mean":
            if self.total_weight == 0:  # all ignored or weighted 0: nan, as torch's (its NLL part is 0 / 0)
                return xp.full((), xp.nan, dtype=loss.dtype)
            return _sum(loss) / self.total_weight
        if reduction == "sum":
            return _sum(loss)
        return loss.reshape(target.shape)

    def backward(self, grad: Any) -> tuple[Any, None]:
        # d loss_i / d z_ij = p_ij [(1 - s) w_t + s/C sum(w)] - (1 - s) w_t [j == t_i] - s/C w_j
        g = self.exp / self.sum_exp  # the softmax probabilities, a fresh array
        s, w_t, weight = self.smoothing, self.target_weight, self.weight
        if w_t is None:
            g[self.rows, self.target] -= 1 - s
        else:
            coef = (1 - s) * w_t
            if s:
                coef += s / self.n_classes * (_sum(weight) if weight is not None else self.n_classes)
            g *= coef[:, None]
            g[self.rows, self.target] -= (1 - s) * w_t
        if s:
            g -= s / self.n_classes if weight is None else (s / self.n_classes) * weight
        if self.reduction == "none":
            g *= grad.reshape(-1, 1)
        elif self.reduction == "sum" or self.total_weight != 0:  # else all nan or 0: _zero_ignored
            g *= _reduced_grad(grad, self.reduction, self.total_weight)
        _zero_ignored(g, self.kept, self.reduction, self.total_weight)
        return _from_rows(g, self.shape), None


def _zero_ignored(g: Any, kept: Any, reduction: str, total_weight: Any) -> None:
    """Ignored rows get no gradient; with a 'mean' over zero total weight the others get nan (0 / 0),
    as torch's."""
    if reduction == "mean" and total_weight == 0:
        g[...] = np.nan if kept is None else 0
        if kept is not None:
            g[kept] = np.nan
    elif kept is not None:
        g[~kept] = 0


class CrossEntropyProbs(Function):
    """Cross-entropy against class probabilities (a float target of the input's shape)."""

    saves = (1,)

    def forward(self, logits: Any, target: Any, reduction: str, label_smoothing: float,
                weight: Any = None) -> Any:
        xp = array_module(logits)
        z, p_target = _to_rows(logits), _to_rows(target)
        n, n_classes = z.shape
        if label_smoothing:
            p_target = p_target * (1 - label_smoothing) + label_smoothing / n_classes
        log_probs = z - _max(z, 1, keepdims=True)
        log_probs -= xp.log(_sum(xp.exp(log_probs), 1, keepdims=True))
        weighted = p_target * weight if weight is not None else p_target
        loss = -_sum(weighted * log_probs, 1)
        self.log_probs, self.weighted, self.weight = log_probs, weighted, weight
        self.target, self.shape, self.n = target, logits.shape, n  # target: see Function.saves
        self.reduction, self.smoothing = reduction, label_smoothing
        if reduction != "none":
            return _reduce(loss, reduction)  # 'mean': over the n rows, whatever the weights
        return loss.reshape(_label_shape(logits.shape))

    def backward(self, grad: Any) -> tuple[Any, Any]:
        xp = array_module(grad)
        scale = grad.reshape(-1, 1) if self.reduction == "none" else _reduced_grad(grad, self.reduction,
                                                                                   self.n)
        need_x, need_t = self.needs_input_grad
        grad_x = grad_t = None
        if need_x:  # d/dz_j of -sum_c w_c t_c log p_c = p_j sum_c(w_c t_c) - w_j t_j
            grad_x = xp.exp(self.log_probs)
            grad_x *= _sum(self.weighted, 1, keepdims=True)
            grad_x -= self.weighted
            grad_x *= scale
            grad_x = _from_rows(grad_x, self.shape)
        if need_t:
            grad_t = self.log_probs * (-(1 - self.smoothing) * scale)
            if self.weight is not None:
                grad_t *= self.weight
            grad_t = _from_rows(grad_t, self.shape)
        return grad_x, grad_t


class NLLLoss(Function):
    """Negative log-likelihood of integer labels given log-probabilities, with class weights and
    ``ignore_index`` (``ignored``: the mask of those labels)."""

    saves = (1,)

    def forward(self, log_probs: Any, target: Any, reduction: str, weight: Any = None,
                ignored: Any = None) -> Any:
        xp = array_module(log_probs)
        z = _to_rows(log_probs)
        t = target.reshape(-1)
        kept = None
        if ignored is not None:
            kept = ~ignored.reshape(-1)
            t = xp.where(kept, t, 0)
        rows = xp.arange(z.shape[0])
        loss = -z[rows, t]
        target_weight = None
        if weight is not None:
            target_weight = weight[t]
            if kept is not None:
                target_weight[~kept] = 0
        elif kept is not None:
            target_weight = kept.astype(loss.dtype)
        if target_weight is not None:
            loss *= target_weight
        self.total_weight = z.shape[0] if target_weight is None else _sum(target_weight)
        self.rows, self.target, self.target_weight, self.kept = rows, t, target_weight, kept
        self.shape, self.rows_shape = log_probs.shape, z.shape
        self.labels = target  # the array itself: see Function.saves
        self.reduction = reduction
        if reduction == "mean":
            if self.total_weight == 0:  # all ignored or weighted 0: 0 / 0 = nan, as torch's
                return xp.full((), xp.nan, dtype=loss.dtype)
            return _sum(loss) / self.total_weight
        if reduction == "sum":
            return _sum(loss)
        return loss.reshape(target.shape)

    def backward(self, grad: Any) -> tuple[Any, None]:
        xp = array_module(grad)
        g = xp.zeros(self.rows_shape, dtype=grad.dtype)
        # all ignored or weighted 0 under 'mean': 0 / 0, nan at the kept targets, as torch's
        per_row = -_reduced_grad(grad, self.reduction, self.total_weight).reshape(-1)
        if self.target_weight is not None and (self.reduction != "mean" or self.total_weight != 0):
            per_row = per_row * self.target_weight
        if self.kept is not None:
            per_row = xp.where(self.kept, per_row, 0)
        g[self.rows, self.target] = per_row
        return _from_rows(g, self.shape), None


def cross_entropy(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between scores ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)`` and a target of
    class indices (``()``, ``(N,)`` or ``(N, d1, ...)``) or of class probabilities (the input's
    shape, float).

    Log-softmax inside, fused and max-shifted. ``weight`` (C,) rescales each class; targets equal
    to ``ignore_index`` add nothing and are left out of the 'mean', which divides by the summed
    weights of the other targets; ``label_smoothing`` mixes the target with the uniform
    distribution, as in PyTorch.
    """
    if isinstance(weight, str) and ignore_index != -100:  # (x, t, 'sum', 0.1): the earlier order, in which
        ignore_index, label_smoothing = -100, ignore_index  # the number after the reduction is the smoothing
    weight, reduction = _legacy_order(weight, reduction)
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    input = _float_input(input, "cross_entropy")
    target_array = target._data if isinstance(target, Tensor) else np.asarray(target)
    if target_array.shape == input.shape and input.ndim:
        if target_array.dtype.kind != "f":
            raise TypeError(f"cross_entropy: a target of the input's shape {input.shape} holds class "
                            f"probabilities and must be float, got {target_array.dtype}; pass class "
                            f"indices of shape {_label_shape(input.shape)} or cast it (target.float())")
        if ignore_index != -100:
            raise LossError("cross_entropy: ignore_index is not supported for class-probability targets "
                            f"(a float target of the input's shape), got ignore_index={ignore_index}")
        weight = _class_weight(weight, input.shape, input.dtype, "cross_entropy")
        if not isinstance(target, Tensor):
            target = _as_input_dtype(target, input.dtype)
        return CrossEntropyProbs.apply(input, target, reduction=reduction,
                                       label_smoothing=float(label_smoothing), weight=weight)
    labels, ignored = _index_targets(target, input.shape, "cross_entropy", ignore_index)
    weight = _class_weight(weight, input.shape, input.dtype, "cross_entropy")
    options: dict[str, Any] = {}
    if weight is not None:
        options["weight"] = weight
    if ignored is not None:
        options["ignored"] = ignored
    return CrossEntropy.apply(input, _labels_operand(target, labels), reduction=reduction,
                              label_smoothing=float(label_smoothing), **options)


def nll_loss(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of integer labels given log-probabilities ``(C,)``, ``(N, C)`` or
    ``(N, C, d1, ...)``, with class ``weight`` and ``ignore_index`` as ``cross_entropy``."""
    weight, reduction = _legacy_order(weight, reduction)
    _check_reduction(reduction, "nll_loss")
    input = _float_input(input, "nll_loss")
    labels, ignored = _index_targets(target, input.shape, "nll_loss", ignore_index)
    weight = _class_weight(weight, input.shape, input.dtype, "nll_loss")
    return NLLLoss.apply(input, _labels_operand(target, labels), reduction=reduction, weight=weight,
                         ignored=ignored)


# ---------------------------------------------------------------------------------------------
# Binary losses
# ---------------------------------------------------------------------------------------------
class BCEWithLogits(Function):
    """Logistic loss on raw scores: ``(1 - y) x - l log(sigmoid(x))``, ``l = 1 + (pos_weight - 1) y``,
    times ``weight``."""

    saves = (0, 1)

    def forward(self, logits: Any, target: Any, reduction: str, weight: Any = None,
                pos_weight: Any = None) -> Any:
        xp = array_module(logits)
        # log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): no overflow for large |x|
        exp_neg = xp.exp(-xp.abs(logits))
        softplus_neg = xp.log1p(exp_neg)  # log(1 + exp(-|x|))
        if pos_weight is None:
            loss = xp.maximum(logits, 0) - logits * target + softplus_neg
        else:
            log_weight = (pos_weight - 1) * target + 1
            loss = (1 - target) * logits - log_weight * (xp.minimum(logits, 0) - softplus_neg)
            self.log_weight, self.softplus_neg = log_weight, softplus_neg
        if weight is not None:
            loss *= weight
        self.logits, self.target, self.exp_neg = logits, target, exp_neg
        self.reduction, self.weight, self.pos_weight = reduction, weight, pos_weight
        return _reduce(loss, reduction)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        xp = array_module(grad)
        upstream = _reduced_grad(grad, self.reduction, self.logits.size)
        if self.weight is not None:
            upstream = upstream * self.weight
        need_x, need_y = self.needs_input_grad
        grad_x = grad_y = None
        x, y = self.logits, self.target
        if need_x:
            # sigmoid(x) from exp(-|x|): 1 / (1 + e) for x >= 0, e / (1 + e) below
            sig = xp.where(x >= 0, 1, self.exp_neg) / (1 + self.exp_neg)
            if self.pos_weight is None:
                grad_x = (sig - y) * upstream
            else:  # (1 - y) - l sigmoid(-x)
                grad_x = ((1 - y) - self.log_weight * (1 - sig)) * upstream
        if need_y:
            if self.pos_weight is None:
                grad_y = -x * upstream
            else:  # -x - (pos_weight - 1) log(sigmoid(x))
                log_sig = xp.minimum(x, 0) - self.softplus_neg
                grad_y = (-x - (self.pos_weight - 1) * log_sig) * upstream
        return grad_x, grad_y


class BinaryCrossEntropy(Function):
    """``-w (y log(x) + (1 - y) log(1 - x))`` on probabilities, the logarithms clamped at -100."""

    saves = (0, 1)

    def forward(self, probs: Any, target: Any, reduction: str, weight: Any = None) -> Any:
        xp = array_module(probs)
        with np.errstate(divide="ignore"):
            log_p = xp.maximum(xp.log(probs), _LOG_FLOOR)
            log_q = xp.maximum(xp.log1p(-probs), _LOG_FLOOR)
        loss = (target - 1) * log_q - target * log_p
        if weight is not None:
            loss *= weight
        self.probs, self.target, self.weight, self.reduction = probs, target, weight, reduction
        return _reduce(loss, reduction)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        xp = array_module(grad)
        upstream = _reduced_grad(grad, self.reduction, self.probs.size)
        if self.weight is not None:
            upstream = upstream * self.weight
        x, y = self.probs, self.target
        need_x, need_y = self.needs_input_grad
        grad_x = grad_y = None
        if need_x:  # torch's: (x - y) / max(x (1 - x), 1e-12)
            grad_x = (x - y) / xp.maximum((1 - x) * x, _BCE_EPSILON) * upstream
        if need_y:  # -logit(x), unclamped: +-inf at 0 and 1, as torch's
            with np.errstate(divide="ignore"):
                grad_y = -xp.log(x / (1 - x)) * upstream
        return grad_x, grad_y


def _check_unit_interval(values: Any, what: str, where: str) -> None:
    inside = (values >= 0) & (values <= 1)  # False for nan too, as torch's check
    if not inside.all():
        first = int(np.flatnonzero(~inside.ravel())[0])
        raise LossError(f"{where}: all elements of {what} should be between 0 and 1; got "
                        f"{values.ravel()[first]} at position {first}"
                        + (" (scores? use binary_cross_entropy_with_logits)" if what == "input" else ""))


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy on probabilities ``input`` in [0, 1]; the logarithms are clamped at
    -100, as in PyTorch (prefer ``binary_cross_entropy_with_logits`` on raw scores)."""
    weight, reduction = _legacy_order(weight, reduction)
    _check_reduction(reduction, "binary_cross_entropy")
    input = _float_input(input, "binary_cross_entropy")
    target = _same_shape(input, target, "binary_cross_entropy")
    weight = _elementwise_weight(weight, input.shape, input.dtype, "binary_cross_entropy")
    _check_unit_interval(input._data, "input", "binary_cross_entropy")
    _check_unit_interval(target._data if isinstance(target, Tensor) else target, "target",
                         "binary_cross_entropy")
    return BinaryCrossEntropy.apply(input, target, reduction=reduction, weight=weight)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Logistic loss on raw scores, in the stable form ``max(x,0) - x*y + log1p(exp(-|x|))``.

    ``weight`` rescales each element; ``pos_weight`` (broadcast along the last axis, e.g. one per
    class) rescales the positive term, as in PyTorch.
    """
    weight, reduction = _legacy_order(weight, reduction)
    where = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, where)
    input = _float_input(input, where)
    target = _same_shape(input, target, where)
    weight = _elementwise_weight(weight, input.shape, input.dtype, where)
    pos_weight = _elementwise_weight(pos_weight, input.shape, input.dtype, where, "pos_weight")
    options: dict[str, Any] = {}
    if weight is not None:
        options["weight"] = weight
    if pos_weight is not None:
        options["pos_weight"] = pos_weight
    return BCEWithLogits.apply(input, target, reduction=reduction, **options)


# ---------------------------------------------------------------------------------------------
# Regression and divergence losses
# ---------------------------------------------------------------------------------------------
class _Elementwise(Function):
    """A loss of ``d = input - target``, elementwise; subclasses give ``loss(d)`` and ``slope(d)``."""

    saves = ()

    def forward(self, prediction: Any, target: Any, reduction: str, **options: Any) -> Any:
        self.diff, self.reduction, self.options = prediction - target, reduction, options
        return _reduce(self.loss(self.diff, **options), reduction)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        g = self.slope(self.diff, **self.options)
        g *= _reduced_grad(grad, self.reduction, self.diff.size)
        need_p, need_t = self.needs_input_grad
        return (g if need_p else None, -g if need_t else None)

    def loss(self, d: Any, **options: Any) -> Any:
        raise NotImplementedError

    def slope(self, d: Any, **options: Any) -> Any:
        raise NotImplementedError


class MSELoss(_Elementwise):
    def loss(self, d: Any) -> Any:
        return d * d

    def slope(self, d: Any) -> Any:
        return d * 2


class L1Loss(_Elementwise):
    def loss(self, d: Any) -> Any:
        return array_module(d).abs(d)

    def slope(self, d: Any) -> Any:  # 0 at d = 0, as torch's sign
        return array_module(d).sign(d)


class SmoothL1Loss(_Elementwise):
    def loss(self, d: Any, beta: float) -> Any:
        xp = array_module(d)
        a = xp.abs(d)
        return xp.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)

    def slope(self, d: Any, beta: float) -> Any:
        xp = array_module(d)
        return xp.where(d <= -beta, -1.0, xp.where(d >= beta, 1.0, d / beta)).astype(d.dtype, copy=False)


class HuberLoss(_Elementwise):
    def loss(self, d: Any, delta: float) -> Any:
        xp = array_module(d)
        a = xp.abs(d)
        return xp.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))

    def slope(self, d: Any, delta: float) -> Any:
        return array_module(d).clip(d, -delta, delta)


class KLDiv(Function):
    """``target (log(target) - input)`` pointwise (``exp(target) (target - input)`` for log targets)."""

    saves = (0, 1)

    def forward(self, log_probs: Any, target: Any, reduction: str, log_target: bool) -> Any:
        xp = array_module(log_probs)
        if log_target:
            loss = xp.exp(target) * (target - log_probs)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):  # xlogy: 0 log 0 = 0
                loss = xp.where(target == 0, 0, target * xp.log(target)) - target * log_probs
        self.input, self.target, self.reduction, self.log_target = log_probs, target, reduction, log_target
        if reduction == "batchmean":
            return _sum(loss) / log_probs.shape[0]
        return _reduce(loss, reduction)

    def _scale(self, grad: Any) -> Any:
        if self.reduction == "batchmean":
            return grad / self.input.shape[0]
        return _reduced_grad(grad, self.reduction, self.input.size)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        xp = array_module(grad)
        scale = self._scale(grad)
        x, t = self.input, self.target
        need_x, need_t = self.needs_input_grad
        grad_x = grad_t = None
        if need_x:
            grad_x = -(xp.exp(t) if self.log_target else t) * scale
        if need_t:
            if self.log_target:
                grad_t = xp.exp(t) * (t - x + 1) * scale
            else:
                # torch differentiates xlogy(t, t): log(t) + t / t, which is nan at t = 0
                with np.errstate(divide="ignore", invalid="ignore"):
                    grad_t = (xp.where(t == 0, xp.nan, xp.log(t) + 1) - x) * scale
        return grad_x, grad_t


def _elementwise_loss(op: type[Function], input: Tensor, target: Any, reduction: str, where: str,
                      **options: Any) -> Tensor:
    _check_reduction(reduction, where)
    input = _float_input(input, where)
    return op.apply(input, _same_shape(input, target, where), reduction=reduction, **options)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error; ``input`` and ``target`` must have the same shape."""
    return _elementwise_loss(MSELoss, input, target, reduction, "mse_loss")


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean absolute error; ``input`` and ``target`` must have the same shape."""
    return _elementwise_loss(L1Loss, input, target, reduction, "l1_loss")


def smooth_l1_loss(input: Tensor, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (``beta = 0``: the L1 loss)."""
    if beta < 0:
        raise LossError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return _elementwise_loss(L1Loss, input, target, reduction, "smooth_l1_loss")
    return _elementwise_loss(SmoothL1Loss, input, target, reduction, "smooth_l1_loss", beta=float(beta))


def huber_loss(input: Tensor, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``."""
    if not delta > 0:
        raise LossError(f"huber_loss: delta must be positive, got {delta}")
    return _elementwise_loss(HuberLoss, input, target, reduction, "huber_loss", delta=float(delta))


def kl_div(input: Tensor, target: Any, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence of ``target`` from log-probabilities ``input``, pointwise
    ``target (log(target) - input)``.

    'mean' averages over every element, as torch's; 'batchmean' (the divergence's true mean) divides
    the sum by the batch size ``input.shape[0]``.
    """
    _check_reduction(reduction, "kl_div", (*_REDUCTIONS, "batchmean"))
    input = _float_input(input, "kl_div")
    if reduction == "batchmean" and input.ndim == 0:
        raise ShapeError("kl_div: reduction='batchmean' needs a batch axis; got a 0-d input")
    target = _same_shape(input, target, "kl_div")
    if reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides the total loss by both the batch size and the "
                      "support size; 'batchmean' divides only by the batch size, as the KL divergence's "
                      "definition (torch warns the same)", UserWarning, stacklevel=2)
    return KLDiv.apply(input, target, reduction=reduction, log_target=bool(log_target))
