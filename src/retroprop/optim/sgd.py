"""Stochastic gradient descent, with momentum, Nesterov momentum and L2 weight decay (as torch)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from retroprop.optim.optimizer import Optimizer, ParamsT, check_real, decayed_grad
from retroprop.tensor import grad_array


class SGD(Optimizer):
    """Stochastic gradient descent (``torch.optim.SGD``).

    With momentum ``m`` and dampening ``d``: ``buf = m * buf + (1 - d) * g`` (``buf = g`` on the
    first step), then ``p -= lr * buf`` (or ``lr * (g + m * buf)`` with ``nesterov``). ``g`` is the
    gradient plus ``weight_decay * p``, negated first when ``maximize``.
    """

    _state_arrays: ClassVar[tuple[str, ...]] = ("momentum_buffer",)

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False) -> None:
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_options(self, options: dict[str, Any], where: str) -> None:
        check_real("SGD", "lr", options["lr"], where=where)
        momentum = check_real("SGD", "momentum", options["momentum"], high=1.0, where=where)
        dampening = check_real("SGD", "dampening", options["dampening"], high=1.0, high_open=False,
                               where=where)
        check_real("SGD", "weight_decay", options["weight_decay"], where=where)
        if options["nesterov"] and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov=True requires momentum > 0 and dampening == 0, got "
                             f"momentum={momentum}, dampening={dampening}{where}")

    def _step_group(self, group: dict[str, Any]) -> None:
        lr = group["lr"]
        momentum = group["momentum"]
        dampening = group["dampening"]
        nesterov = group["nesterov"]
        weight_decay, maximize = group["weight_decay"], group["maximize"]
        plain = weight_decay == 0 and not maximize
        state = self.state
        if plain and momentum != 0 and dampening == 0 and not nesterov:
            self._step_heavy_ball(group["params"], group, lr, momentum)
            return
        for p in group["params"]:  # a hot loop: kept flat, one pass per parameter
            grad = grad_array(p)
            if grad is None:
                continue
            param = p.data
            if grad.shape != param.shape:
                self._check_grad_shape(group, p)
            if plain:
                g, owned = grad, False
            else:
                g, owned = decayed_grad(param, grad, weight_decay, maximize)
            if momentum != 0:
                param_state = state[p]
                buf = param_state.get("momentum_buffer")
                if buf is None:
                    buf = param_state["momentum_buffer"] = np.array(g, dtype=param.dtype, copy=True)
                else:
                    buf *= momentum
                    if dampening == 0:
                        buf += g
                    elif owned:  # g is ours and unused below (nesterov needs dampening == 0)
                        g *= 1.0 - dampening
                        buf += g
                    else:
                        buf += np.multiply(g, 1.0 - dampening, out=np.empty_like(param))
                if nesterov:
                    step = np.multiply(buf, momentum, out=np.empty_like(param))
                    step += g
                    g, owned = step, True
                else:
                    g, owned = buf, False
            if owned:
                g *= lr
                param -= g
            else:
                param -= np.multiply(g, lr, out=np.empty_like(param))

    def _step_heavy_ball(self, params: list[Any], group: dict[str, Any], lr: float,
                         momentum: float) -> None:
        """The most common configuration (momentum, nothing else), as a flat loop: the same
        arithmetic as the general path, with a few Python operations less per parameter."""
        state = self.state
        for p in params:
            grad = grad_array(p)
            if grad is None:
                continue
            param = p.data
            if grad.shape != param.shape:
                self._check_grad_shape(group, p)
            param_state = state[p]
            buf = param_state.get("momentum_buffer")
            if buf is None:
                buf = param_state["momentum_buffer"] = np.array(grad, dtype=param.dtype, copy=True)
            else:
                buf *= momentum
                buf += grad
            param -= buf * lr
