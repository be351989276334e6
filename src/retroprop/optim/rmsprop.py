"""RMSprop, plain or centered, with optional momentum (as torch)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from retroprop.optim.optimizer import Optimizer, ParamsT, check_real, decayed_grad, lerp_


class RMSprop(Optimizer):
    """RMSprop (``torch.optim.RMSprop``).

    ``v = alpha * v + (1 - alpha) * g²``; the step divides ``g`` by ``sqrt(v) + eps`` (``centered``
    subtracts the squared running mean of ``g`` from ``v`` first) and is taken directly, or through
    a momentum buffer ``buf = momentum * buf + g / (sqrt(v) + eps)``.
    """

    _state_arrays: ClassVar[tuple[str, ...]] = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
                    "weight_decay": weight_decay, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_options(self, options: dict[str, Any], where: str) -> None:
        check_real("RMSprop", "lr", options["lr"], where=where)
        check_real("RMSprop", "alpha", options["alpha"], high=1.0, where=where)
        check_real("RMSprop", "eps", options["eps"], where=where)
        check_real("RMSprop", "weight_decay", options["weight_decay"], where=where)
        check_real("RMSprop", "momentum", options["momentum"], high=1.0, where=where)

    def _step_group(self, group: dict[str, Any]) -> None:
        lr = group["lr"]
        alpha = group["alpha"]
        eps = group["eps"]
        momentum = group["momentum"]
        centered = group["centered"]
        for p, grad in self._grads(group):
            param = p.data
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["square_avg"] = np.zeros_like(param)
                if momentum > 0:
                    state["momentum_buffer"] = np.zeros_like(param)
                if centered:
                    state["grad_avg"] = np.zeros_like(param)
            state["step"] += 1
            g, _ = decayed_grad(param, grad, group["weight_decay"], group["maximize"])

            square_avg = state["square_avg"]
            tmp = np.empty_like(param)
            square_avg *= alpha
            np.multiply(g, 1.0 - alpha, out=tmp)
            tmp *= g
            square_avg += tmp
            if centered:
                grad_avg = _buffer(state, "grad_avg", param)
                lerp_(grad_avg, g, 1.0 - alpha, tmp)
                np.multiply(grad_avg, grad_avg, out=tmp)
                np.subtract(square_avg, tmp, out=tmp)
                avg = np.sqrt(tmp, out=tmp)
            else:
                avg = np.sqrt(square_avg, out=tmp)
            avg += eps
            update = np.divide(g, avg, out=tmp)
            if momentum > 0:
                buf = _buffer(state, "momentum_buffer", param)
                buf *= momentum
                buf += update
                update = np.multiply(buf, lr, out=tmp)
            else:
                update *= lr
            param -= update


def _buffer(state: dict[str, Any], key: str, param: np.ndarray) -> np.ndarray:
    """``state[key]``, created as zeros if an option that needs it was switched on late."""
    buf = state.get(key)
    if buf is None:
        buf = state[key] = np.zeros_like(param)
    return buf
