"""Adagrad: per-element learning rates from the running sum of squared gradients (as torch)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from retroprop.optim.optimizer import Optimizer, ParamsT, check_real, decayed_grad
from retroprop.tensor import Tensor


class Adagrad(Optimizer):
    """Adagrad (``torch.optim.Adagrad``).

    ``sum += g²``, ``p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)``; ``sum`` starts
    at ``initial_accumulator_value``.
    """

    _state_arrays: ClassVar[tuple[str, ...]] = ("sum",)

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *,
                 maximize: bool = False) -> None:
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "maximize": maximize}
        super().__init__(params, defaults)
        for group in self.param_groups:  # as torch, the state exists from the start
            for p in group["params"]:
                self._init_state(p, group)

    def _check_options(self, options: dict[str, Any], where: str) -> None:
        check_real("Adagrad", "lr", options["lr"], where=where)
        check_real("Adagrad", "lr_decay", options["lr_decay"], where=where)
        check_real("Adagrad", "weight_decay", options["weight_decay"], where=where)
        check_real("Adagrad", "initial_accumulator_value", options["initial_accumulator_value"],
                   where=where)
        check_real("Adagrad", "eps", options["eps"], where=where)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])
        return state

    def _step_group(self, group: dict[str, Any]) -> None:
        lr = group["lr"]
        lr_decay = group["lr_decay"]
        eps = group["eps"]
        for p, grad in self._grads(group):
            param = p.data
            state = self._init_state(p, group)  # a group added later starts here
            step = state["step"] = state["step"] + 1
            g, _ = decayed_grad(param, grad, group["weight_decay"], group["maximize"])
            clr = lr / (1 + (step - 1) * lr_decay)

            state_sum = state["sum"]
            tmp = np.multiply(g, g, out=np.empty_like(param))
            state_sum += tmp
            std = np.sqrt(state_sum, out=tmp)
            std += eps
            update = np.divide(g, std, out=tmp)
            update *= clr
            param -= update
