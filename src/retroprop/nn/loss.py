"""Loss modules over the fused functional losses (``retroprop.losses``), with torch's arguments.

Class weights and ``pos_weight`` are buffers, as torch's (saved in ``state_dict``, cast by ``.to``).
For retroprop's earlier positional order, a string first argument of ``CrossEntropyLoss``,
``NLLLoss``, ``BCELoss`` and ``BCEWithLogitsLoss`` is read as the reduction.
"""

from __future__ import annotations

from typing import Any

from retroprop import functional as F
from retroprop.nn.module import Module
from retroprop.tensor import Tensor

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "KLDivLoss", "L1Loss", "MSELoss",
           "NLLLoss", "SmoothL1Loss"]


class _Loss(Module):
    _reductions: tuple[str, ...] = ("mean", "sum", "none")

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in self._reductions:
            allowed = ", ".join(repr(r) for r in self._reductions)
            raise ValueError(f"{type(self).__name__}: reduction must be one of {allowed}, got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction}


class _WeightedLoss(_Loss):
    """A loss with an optional ``weight`` buffer (per class, or per element)."""

    weight: Tensor | None

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        if isinstance(weight, str):  # the earlier positional order: (reduction, ...)
            weight, reduction = None, weight
        super().__init__(reduction)
        self.register_buffer("weight", weight)

    def get_config(self) -> dict[str, Any]:
        weight = None if self.weight is None else self.weight.data.tolist()
        return {**super().get_config(), "weight": weight}


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of scores ``(N, C)`` (or ``(C,)``, ``(N, C, d1, ...)``) against class indices or
    class probabilities (log-softmax inside); see ``F.cross_entropy``."""

    classification = True

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        if isinstance(weight, str) and ignore_index != -100:  # the earlier (reduction, smoothing) order
            ignore_index, label_smoothing = -100, ignore_index
        super().__init__(weight, reduction)
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)
        if not 0.0 <= self.label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                               self.label_smoothing)

    def extra_repr(self) -> str:
        parts = [super().extra_repr()] if self.reduction != "mean" else []
        if self.ignore_index != -100:
            parts.append(f"ignore_index={self.ignore_index}")
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        return ", ".join(parts)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "ignore_index": self.ignore_index,
                "label_smoothing": self.label_smoothing}


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices given log-probabilities; see ``F.nll_loss``."""

    classification = True

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(weight, reduction)
        self.ignore_index = int(ignore_index)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "ignore_index": self.ignore_index}


class BCELoss(_WeightedLoss):
    """Binary cross-entropy on probabilities in [0, 1]; see ``F.binary_cross_entropy``."""

    classification = True  # binary: fit keeps its 0/1 float targets and thresholds outputs at 0.5

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross-entropy on raw scores (the sigmoid is inside, in the stable form), with an
    optional per-element ``weight`` and ``pos_weight``; see ``F.binary_cross_entropy_with_logits``."""

    classification = True
    pos_weight: Tensor | None

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                  pos_weight=self.pos_weight)

    def get_config(self) -> dict[str, Any]:
        pos_weight = None if self.pos_weight is None else self.pos_weight.data.tolist()
        return {**super().get_config(), "pos_weight": pos_weight}


class MSELoss(_Loss):
    """Mean squared error (input and target of the same shape)."""

    classification = False

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error (input and target of the same shape)."""

    classification = False

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    """Squared below ``beta``, absolute above; see ``F.smooth_l1_loss``."""

    classification = False

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = float(beta)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta": self.beta}


class HuberLoss(_Loss):
    """Squared below ``delta``, ``delta``-scaled absolute above; see ``F.huber_loss``."""

    classification = False

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = float(delta)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.huber_loss(input, target, self.reduction, self.delta)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "delta": self.delta}


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of the target from log-probabilities; see ``F.kl_div``."""

    classification = False
    _reductions = ("mean", "sum", "none", "batchmean")

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction)
        self.log_target = bool(log_target)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.kl_div(input, target, self.reduction, self.log_target)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "log_target": self.log_target}
