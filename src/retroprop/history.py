"""``History``: what a training run recorded (``fit`` returns one; callbacks and checkpoints read it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["History"]


@dataclass
class History:
    """What a run recorded: per-epoch values, per-step losses, the model and why it stopped."""

    history: dict[str, list[float]] = field(default_factory=dict)
    epoch: list[int] = field(default_factory=list)
    model: Any = None  # the retroprop Module trained
    params: dict[str, Any] = field(default_factory=dict)
    stop_reason: str | None = None
    wall_time: float = 0.0
    diagnoses: list[Any] = field(default_factory=list)
    passed: list[Any] = field(default_factory=list)  # diagnoses the run left by itself (``Doctor.passed``)
    treatments: list[Any] = field(default_factory=list)  # the doctor's repairs (fit(..., repair=True))
    best: Any = None  # with repair: the best model seen (rp.doctor.Best: epoch, metric, weights, config)
    # the doctor's own failures ({step, epoch, where, error}): a rule or probe that raised was skipped
    doctor_errors: list[dict[str, Any]] = field(default_factory=list)
    _step_loss: list[float] = field(default_factory=list, repr=False)

    @property
    def step_loss(self) -> np.ndarray:
        """The training loss of every step, in order (step 0 first)."""
        return np.asarray(self._step_loss, dtype=np.float64)

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self) -> str:
        keys = ", ".join(self.history)
        return f"History(epochs={len(self.epoch)}, steps={len(self._step_loss)}, keys=[{keys}])"
