"""The Doctor: watches a run, turns the detectors' findings into diagnoses, once per episode."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from retroprop.doctor import rules
from retroprop.doctor.diagnosis import Diagnosis
from retroprop.doctor.recorder import DEFAULT_EVERY, Recorder
from retroprop.nn import Dropout, Module

# a problem that was not seen on this many consecutive checks has ended; seen again, it is a new episode
EPISODE_GAP = 2


class Doctor:
    """Diagnose a training run per layer.

    With ``rp.fit(..., doctor=True)`` (or ``doctor=rp.Doctor(every=...)``) it is wired in for you. In a
    hand-written loop: ``doctor = rp.Doctor(model, optimizer)`` and ``doctor.observe(loss)`` once per
    step, after ``loss.backward()`` and before ``optimizer.step()``. The loss is checked every step;
    the per-layer probes and detectors run every ``every`` steps. ``doctor.diagnoses`` lists what
    was found, each problem once per episode.
    """

    def __init__(self, model: Module | None = None, optimizer: Any = None, *,
                 every: int = DEFAULT_EVERY) -> None:
        self.every = every
        self.diagnoses: list[Diagnosis] = []
        self.recorder: Recorder | None = None
        self.epoch_logs: list[dict[str, float]] = []
        self._active: dict[tuple[str, str | None], int] = {}
        self._checks = 0
        self.model: Module | None = None
        self.optimizer = optimizer
        if model is not None:
            self.attach(model, optimizer)

    def attach(self, model: Module, optimizer: Any = None, *, chance_loss: float | None = None) -> None:
        """Start watching ``model`` (done by ``fit``). ``chance_loss``: the loss of a blind guess
        (ln C for a C-class cross-entropy), the mark for 'has not learned anything'."""
        if self.recorder is not None:
            self.recorder.close()
        self.model, self.optimizer = model, optimizer
        self.recorder = Recorder(model, every=self.every)
        self._dropout_rates = [m.p for m in model.modules() if isinstance(m, Dropout)]
        self.chance_loss = chance_loss

    def observe(self, loss: Any, epoch: int = 0) -> list[Diagnosis]:
        """Record one step; returns the diagnoses that are new at this step."""
        if self.recorder is None:
            raise RuntimeError("Doctor.observe: no model attached; create Doctor(model, optimizer) first")
        step = self.recorder.step
        record = self.recorder.observe(loss, epoch)
        value = self.recorder.losses[-1]
        if record is None and math.isfinite(value):  # an unprobed, finite step: nothing to check
            return []
        probes = [r.as_plain() for r in self.recorder.records[-max(rules.DEAD_WINDOW, 3):]]
        losses = np.asarray(self.recorder.losses, dtype=np.float64)  # once, for every loss rule
        findings = rules.non_finite(probes if record is not None else [], losses)
        if record is not None:
            findings += (rules.vanishing_gradients(probes) + rules.exploding_gradients(probes)
                         + rules.dead_relu(probes) + rules.saturated_activations(probes)
                         + rules.unstable_loss(losses) + rules.slow_convergence(losses)
                         + rules.dropout_too_high(losses, self._dropout_rates, self.chance_loss))
        return self._report(findings, step, epoch)

    def end_epoch(self, epoch: int, logs: dict[str, float]) -> list[Diagnosis]:
        """Epoch-level checks (overfitting needs validation losses); ``fit`` calls this."""
        self.epoch_logs.append(dict(logs))
        step = max(self.recorder.step - 1, 0) if self.recorder else 0
        return self._report(rules.overfitting(self.epoch_logs), step, epoch)

    def _report(self, findings: list[rules.Finding], step: int, epoch: int) -> list[Diagnosis]:
        self._checks += 1
        new = []
        seen = set()
        for finding in findings:
            key = (finding.problem, finding.layer)
            if key in seen:
                continue
            seen.add(key)
            last = self._active.get(key)
            if last is None or self._checks - last > EPISODE_GAP:
                diagnosis = Diagnosis(
                    problem=finding.problem, layer=finding.layer, step=step, epoch=epoch,
                    severity=finding.severity, evidence=finding.evidence,
                    explanation=finding.explanation, layer_label=finding.label,
                )
                self.diagnoses.append(diagnosis)
                new.append(diagnosis)
            self._active[key] = self._checks
        return new

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()

    # -- reporting ----------------------------------------------------------------------------
    def summary(self) -> str:
        """A readable table of the diagnoses."""
        if not self.diagnoses:
            steps = self.recorder.step if self.recorder else 0
            return f"No problems found in {steps} steps."
        rows = [("step", "severity", "problem", "where", "first remedy")]
        for d in self.diagnoses:
            rows.append((str(d.step + 1), d.severity, d.problem, d.layer_label or "whole model",
                         d.remedies[0][0]))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                 for row in rows]
        lines.insert(1, "  ".join("-" * width for width in widths))
        details = [f"- {d}" for d in self.diagnoses]
        return "\n".join([*lines, "", *details])

    def to_json(self) -> str:
        return json.dumps({"every": self.every, "diagnoses": [d.to_dict() for d in self.diagnoses]},
                          default=float)
