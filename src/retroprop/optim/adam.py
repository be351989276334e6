"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay (as torch)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from retroprop.optim.optimizer import Optimizer, ParamsT, check_real, decayed_grad, lerp_


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``), optionally AMSGrad.

    ``m = b1 * m + (1 - b1) * g``, ``v = b2 * v + (1 - b2) * g²`` (``v̂ = max(v̂, v)`` with amsgrad),
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``. ``weight_decay`` adds
    ``weight_decay * p`` to the gradient, or, with ``decoupled_weight_decay`` (AdamW), scales
    ``p`` by ``1 - lr * weight_decay`` before the update.
    """

    _state_arrays: ClassVar[tuple[str, ...]] = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = False) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _check_options(self, options: dict[str, Any], where: str) -> None:
        name = self._name
        check_real(name, "lr", options["lr"], where=where)
        betas = options["betas"]
        if isinstance(betas, str) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}{where}")
        for i, beta in enumerate(betas):
            check_real(name, f"betas[{i}]", beta, high=1.0, where=where)
        options["betas"] = (float(betas[0]), float(betas[1]))
        check_real(name, "eps", options["eps"], where=where)
        check_real(name, "weight_decay", options["weight_decay"], where=where)

    def _step_group(self, group: dict[str, Any]) -> None:
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        eps = group["eps"]
        weight_decay = group["weight_decay"]
        amsgrad = group["amsgrad"]
        decoupled = group["decoupled_weight_decay"]
        for p, grad in self._grads(group):
            param = p.data
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = np.zeros_like(param)
                state["exp_avg_sq"] = np.zeros_like(param)
                if amsgrad:
                    state["max_exp_avg_sq"] = np.zeros_like(param)
            step = state["step"] = state["step"] + 1

            if decoupled:
                if weight_decay != 0:
                    param *= 1.0 - lr * weight_decay
                g, _ = decayed_grad(param, grad, 0, group["maximize"])
            else:
                g, _ = decayed_grad(param, grad, weight_decay, group["maximize"])

            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            tmp = np.empty_like(param)
            lerp_(exp_avg, g, 1.0 - beta1, tmp)
            exp_avg_sq *= beta2
            np.multiply(g, 1.0 - beta2, out=tmp)
            tmp *= g
            exp_avg_sq += tmp

            bias_correction1 = 1.0 - beta1**step
            bias_correction2_sqrt = (1.0 - beta2**step) ** 0.5
            step_size = lr / bias_correction1
            second = exp_avg_sq
            if amsgrad:
                second = state.get("max_exp_avg_sq")
                if second is None:  # amsgrad switched on after the first step
                    second = state["max_exp_avg_sq"] = np.zeros_like(param)
                np.maximum(second, exp_avg_sq, out=second)
            denom = np.sqrt(second, out=tmp)
            denom /= bias_correction2_sqrt
            denom += eps
            update = np.divide(exp_avg, denom, out=tmp)
            update *= step_size
            param -= update


class AdamW(Adam):
    """AdamW (``torch.optim.AdamW``): Adam with decoupled weight decay, default 1e-2."""

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def _check_options(self, options: dict[str, Any], where: str) -> None:
        super()._check_options(options, where)
        options["decoupled_weight_decay"] = True  # as torch: an AdamW always decouples
