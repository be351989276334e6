"""Recorder: the doctor's eyes in a training loop, one ``observe(loss)`` per step.

Call ``observe`` after ``loss.backward()`` and before ``optimizer.step()``. The loss is checked
every step (it is free); the full per-layer probe runs every ``every`` steps (by default at steps
0, 37 and 74, then every 100, and closer together while a symptom shows). Activations of a probed
step are read through hooks armed just before that step's forward pass (by the ``observe`` of the
step before), and the update-to-weight ratio of a probed step is completed by the next
``observe``, when the optimizer's update is visible. Steps in between need only their loss
(``quiet_steps``); ``fit`` records them with ``record_loss`` and calls ``observe`` for the others.

The recorder holds only the schedule and the losses: it measures through a probe
(``adapter.ModelProbe``), made by the model's adapter (``adapter.ModelAdapter.probe``).
"""

from __future__ import annotations

import abc
import json
import math
from typing import Any

import numpy as np

from retroprop.doctor.adapter import ModelAdapter, ModelProbe, adapter_for, missing_members
from retroprop.doctor.probes import ProbeRecord

# The default cadence: three probes while a run is young (at steps 0, 37 and 74), every 100 steps
# after that. Whenever a probe shows a symptom, the next few come closer (``hasten``): every 6 steps
# in the young run, so that a symptom first seen at step 74 fills the longest window of the rules
# (5 probes, dead units) by step 98 and a gradient problem is named within the first 100 steps; every
# quarter of the cadence later.
DEFAULT_EVERY, SETTLED_EVERY, SETTLE_AFTER, EARLY_CLOSE_EVERY = 37, 100, 100, 6


# per protocol: its members, and which of them are methods (typing finds both again at every check)
_MEMBERS: dict[type, tuple[tuple[str, bool], ...]] = {}


def conforms(value: Any, protocol: type) -> bool:
    """``isinstance(value, protocol)`` for the runtime-checkable ``ModelProbe`` and ``ModelAdapter``: every
    member present (a method not None), as ``typing`` checks it, with the members listed once per
    protocol (``typing`` lists them again at each check, about 0.1 ms: a recipe's start pays it thrice)."""
    members = _MEMBERS.get(protocol)
    if members is None:
        names = set(getattr(protocol, "__annotations__", {})) | {
            name for name in vars(protocol) if not name.startswith("_")}
        members = _MEMBERS[protocol] = tuple((name, callable(getattr(protocol, name, None)))
                                             for name in sorted(names))
    for name, method in members:
        try:
            member = getattr(value, name)
        except AttributeError:
            break
        if method and member is None:
            break
    else:
        return True
    return abc.ABCMeta.__instancecheck__(protocol, value)  # typing's last resort: a declared subclass


def as_probe(source: Any) -> ModelProbe:
    """``source`` as a probe: a ``ModelProbe`` as it is, a fresh probe of a ``ModelAdapter`` or of a
    model (through its adapter, ``adapter.adapter_for``)."""
    if conforms(source, ModelProbe):
        return source
    adapter = source if conforms(source, ModelAdapter) else adapter_for(source)
    probe = adapter.probe()
    if not conforms(probe, ModelProbe):
        raise TypeError(f"{type(adapter).__name__}.probe() must return a ModelProbe; its "
                        f"{type(probe).__name__} lacks {', '.join(missing_members(probe, ModelProbe))}")
    return probe


class Recorder:
    """Per-step losses and per-layer probe records of one run. ``source``: what measures the model
    (a ``ModelProbe``, or an adapter or model to make one from, ``as_probe``)."""

    def __init__(self, source: Any, every: int | None = None) -> None:
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
            raise ValueError(
                f"Recorder: every must be a positive integer (steps between probes) or None for the "
                f"default cadence, got {every!r}"
            )
        self.probe = as_probe(source)
        self.every = every
        # per-step losses: appended to a list (cheap), moved in one go into an array grown by
        # doubling whenever ``losses`` is read (no per-step NumPy call, no whole-list copies)
        self._pending: list[float] = []
        # a quiet step (see ``quiet_steps``) is recorded by this alone; the step count is the losses'
        self.record_loss = self._pending.append
        self._losses = np.empty(1024, dtype=np.float64)
        self._stored = 0
        self.records: list[ProbeRecord] = []
        self.first_nonfinite_step: int | None = None
        self._awaiting_ratio: ProbeRecord | None = None
        self._next_probe = 0
        self._follow_up = 0  # probes left at the denser cadence that follows a treatment
        self._hastened = False  # whether that cadence is a hasten's (calm() may end it)
        self._young_until = SETTLE_AFTER  # the dense cadence lasts until this step (a recipe's first 100)
        self.completed: ProbeRecord | None = None  # the record whose update ratios this step filled in
        self.largest_update_ratio = 0.0  # the largest of them (NaN when one is)
        self.probe.arm()  # step 0 is probed

    @property
    def step(self) -> int:
        """Steps observed so far (the index of the next one)."""
        return self._stored + len(self._pending)

    @property
    def last_loss(self) -> float:
        if self._pending:
            return self._pending[-1]
        return float(self._losses[self._stored - 1]) if self._stored else math.nan

    def quiet_steps(self) -> int:
        """How many of the coming steps need nothing but their loss, as long as it is finite: no
        probe is due or completed in them and the step after them is not probed. Such a step may
        be recorded by ``record_loss(loss)`` instead of ``observe`` (the common step's fast path)."""
        if self._awaiting_ratio is not None:
            return 0
        return max(self._next_probe - 1 - self.step, 0)

    def observe(self, loss: Any, epoch: int = 0) -> ProbeRecord | None:
        """Record this step; returns the probe record when this step was probed. ``loss`` None: the
        step's loss is not known (recorded as NaN, which is not taken for an overflow)."""
        unknown = loss is None
        value = math.nan if unknown else loss if type(loss) is float else float(
            loss.item() if hasattr(loss, "item") else loss)
        step = self.step
        self._pending.append(value)
        if step < self._next_probe and self._awaiting_ratio is None and step + 1 < self._next_probe:
            self.completed = None
            if self.first_nonfinite_step is None and not unknown and not math.isfinite(value):
                self.first_nonfinite_step = step
            return None  # the common step: nothing to measure
        if self.first_nonfinite_step is None and not unknown and not math.isfinite(value):
            self.first_nonfinite_step = step
        self.completed = self._awaiting_ratio
        if self._awaiting_ratio is not None:  # the previous probed step's update is now visible
            ratios = self.probe.update_ratios()
            cosines = self.probe.update_cosines() if hasattr(self.probe, "update_cosines") else {}
            largest = 0.0
            for layer in self._awaiting_ratio.layers:
                layer.update_ratio = ratio = ratios.get(layer.name)
                layer.update_cosine = cosines.get(layer.name)
                if ratio is not None and not ratio <= largest:  # NaN counts as the largest
                    largest = ratio
            self.largest_update_ratio = largest
            self._awaiting_ratio = None
        record = None
        if step >= self._next_probe:
            record = self.probe.collect(step, epoch, value)
            self.records.append(record)
            self.probe.snapshot_weights(record)
            self._awaiting_ratio = record
            self._next_probe = step + self._interval(step, hastened=self._follow_up > 0)
            if self._follow_up:
                self._follow_up -= 1
                self._hastened = self._hastened and self._follow_up > 0
        if self.probe.armed:
            self.probe.disarm()
        if self.step >= self._next_probe:
            self.probe.arm()  # the next forward pass is a probed one
        return record

    def _interval(self, step: int, hastened: bool = False) -> int:
        """Steps from a probe at ``step`` to the next: ``every``, else dense while a problem first
        seen at the next probe could still be named within the first ``SETTLE_AFTER`` steps of the
        run (or of a treated recipe). When ``hastened``: a quarter of ``every``, else 6 steps while
        the run is young and a quarter of the settled cadence after that."""
        if hastened:
            if self.every:
                return max(self.every // 4, 1)
            return EARLY_CLOSE_EVERY if step < self._young_until else SETTLED_EVERY // 4
        if self.every:
            return self.every
        return DEFAULT_EVERY if step + DEFAULT_EVERY < self._young_until else SETTLED_EVERY

    def replay(self, epoch: int, rerun: Any = None, measure_update: bool = False) -> ProbeRecord:
        """Probe the step just observed although it was not due: weights and gradients as they are
        (the update has not been applied), activations by calling ``rerun()``, which must run that
        step's forward pass again. The record is marked ``replayed``. ``measure_update``: its update
        ratios are measured on the next step, as a scheduled probe's are."""
        step = self.step - 1
        if rerun is not None:
            self.probe.arm()
            try:
                rerun()
            finally:
                self.probe.disarm()
        record = self.probe.collect(step, epoch, self.last_loss)
        record.replayed = True
        self.records.append(record)
        if measure_update and self._awaiting_ratio is None:
            self.probe.snapshot_weights(record)
            self._awaiting_ratio = record
        if self.step >= self._next_probe:
            self.probe.arm()
        return record

    @property
    def looking_closely(self) -> bool:
        """Whether the denser cadence of a ``hasten`` or a ``restart`` is still on."""
        return self._follow_up > 0

    def hasten(self, probes: int) -> None:
        """Make the next ``probes`` probes come closer together (the first one included): every 6
        steps in the first 100, a quarter of the cadence after that."""
        soon = self.step - 1 + self._interval(self.step - 1, hastened=True)
        if soon < self._next_probe:
            self._next_probe = soon
            self.probe.disarm()
            if self.step >= self._next_probe:
                self.probe.arm()
        self._follow_up = max(self._follow_up, probes - 1)
        self._hastened = True

    def calm(self) -> None:
        """End a ``hasten`` early (the symptom it was for is gone): the next probe comes at the
        regular cadence from the last one. The closer watch after a ``restart`` is kept."""
        if not self._hastened:
            return
        self._hastened = False
        self._follow_up = 0
        last = self.step - 1
        self._next_probe = last + self._interval(last)
        if self.probe.armed and self.step < self._next_probe:
            self.probe.disarm()

    def restart(self, source: Any, follow_up: int = 0) -> None:
        """After a roll-back or a change of the model: measure afresh from the next step (which is
        probed) through ``source`` (a probe of the model as it is now, or an adapter or model,
        ``as_probe``), forgetting the half-finished update ratio of the old state. The next
        ``follow_up`` probes come closer together (as after ``hasten``), to see soon whether a
        treatment worked. The treated recipe is young again: the dense cadence of a run's first
        ``SETTLE_AFTER`` steps applies to its first ones."""
        self.probe.disarm()
        self.probe = as_probe(source)
        self._awaiting_ratio = self.completed = None
        self._next_probe = self.step
        self._young_until = self.step + SETTLE_AFTER
        self._follow_up = follow_up
        self._hastened = False
        self.probe.arm()

    @property
    def losses(self) -> np.ndarray:
        """The loss of every step so far (a read-only view)."""
        if self._pending:
            end = self._stored + len(self._pending)
            if end > len(self._losses):
                grown = np.empty(max(2 * len(self._losses), end), dtype=np.float64)
                grown[:self._stored] = self._losses[:self._stored]
                self._losses = grown
            self._losses[self._stored:end] = self._pending
            self._pending.clear()
            self._stored = end
        view = self._losses[:self._stored]
        view.flags.writeable = False
        return view

    def close(self) -> None:
        """Detach every hook (the model runs at full speed again)."""
        self.probe.disarm()

    def to_json(self) -> str:
        return json.dumps({"every": self.every or "default", "losses": self.losses.tolist(),
                           "first_nonfinite_step": self.first_nonfinite_step,
                           "records": [r.to_dict() for r in self.records]})
