"""Gradient clipping with PyTorch's semantics."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from retroprop.tensor import Tensor, grad_array


def _with_grads(parameters: Iterable[Tensor] | Tensor) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p._grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale all gradients together so their global norm is at most ``max_norm``.

    Returns the global norm before clipping (as torch). ``norm_type`` may be ``inf``.
    """
    params = _with_grads(parameters)
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be non-negative, got {max_norm}")
    if not params:
        return 0.0
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        # np.max propagates NaN (Python's max() would skip it)
        grads = [grad_array(p) for p in params]
        total = float(np.max([np.abs(g).max() if g.size else 0.0 for g in grads]))
    else:
        total = float(sum(float((np.abs(grad_array(p), dtype=np.float64) ** norm_type).sum())
                          for p in params) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total gradient norm is {total}; pass error_if_nonfinite=False to "
            "clip anyway"
        )
    # As torch: scale by min(max_norm / (total + 1e-6), 1), which is NaN when the norm is NaN
    # and 0 when it is infinite (so an infinite gradient element becomes NaN, as there).
    coefficient = max_norm / (total + 1e-6)
    if math.isnan(coefficient) or coefficient < 1.0:
        with np.errstate(invalid="ignore"):
            for p in params:
                grad = grad_array(p)
                grad *= grad.dtype.type(coefficient)
    return total


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]`` in place."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    for p in _with_grads(parameters):
        grad = grad_array(p)
        np.clip(grad, -clip_value, clip_value, out=grad)
