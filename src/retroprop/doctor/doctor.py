"""The Doctor: watches a run, turns the detectors' findings into diagnoses, and repairs the run.

Repair (``Doctor(repair=True)``): at every probe that shows no symptom the doctor keeps a snapshot
(copies of the weights, the optimizer's state and the random generator's state; the initial state
is the first). On a diagnosis it rolls back to that snapshot, applies the problem's first untried
remedy (``diagnosis.TREATMENT_ORDER``) and lets the run go on; if the problem comes back it rolls
back again and adds the next remedy; when none is left it says so. Each treatment is logged.

A doctor that fails never ends the run it watches: a rule that raises is skipped for the rest of the
run, a failing probe hook stops measuring its layer, a failure elsewhere in ``observe`` leaves only
the losses recorded, one in a treatment stops repairs; each is listed in ``errors`` (``fit``:
``History.doctor_errors``) and in ``summary()``. A run that ``fit`` stopped on NaN/Inf is
diagnosed ``non_finite`` (``note_stop``), and one whose loss ended far above its start ``unstable_loss``
(``rules.diverged``): neither is ever reported healthy.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import sys
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from retroprop import optim
from retroprop.data import StandardScaler
from retroprop.doctor import rules
from retroprop.doctor.diagnosis import (
    CAUSAL_ORDER,
    CONSEQUENCES,
    OUTPUT_CASE_REMEDY,
    REMEDIES,
    TREATMENT_ORDER,
    Diagnosis,
)
from retroprop.doctor.recorder import SETTLE_AFTER, Recorder
from retroprop.doctor.remedies import apply_remedy
from retroprop.nn import Dropout, Module, Sequential
from retroprop.random import default_generator

# problems that say the run has not learned anything (the loss is still near where it started): a
# treatment for them rolls back to the state the current recipe started from
NOTHING_LEARNED = ("slow_convergence", "dropout_too_high")
# Linear weights whose RMS over the He scale sqrt(2 / fan_in), multiplied along the network, exceeds
# this amplify the signal by an order of magnitude from the initialization on (PyTorch's default init
# is about 0.4x He per layer, Xavier 0.7-1x, He 1x: products at most about 1)
OVERSIZED = 10.0
# activations with a standard deviation below this in every layer are not exploding
ORDINARY_ACTIVATION = 10.0
# inputs whose features have a standard deviation or |mean| above this are "not standardized"
INPUT_SCALE = 3.0
# update-to-weight ratios the learning-rate remedies aim for, on the median layer (lowering, raising)
LOWER_TARGET, RAISE_TARGET = 2e-2, 5e-3
# a treated recipe is measurably worse than before its treatment when its validation accuracy is lower by
# more than this (or twice its sampling noise), or its validation or training loss higher by this share
WORSE_ACCURACY, WORSE_LOSS = 0.02, 0.10
HARM_EPOCHS = 3  # epochs a treated recipe trains before it is compared (unless CONFIRM_STEPS come first)
# remedies that change what the training loss measures (dropout masks units while training): the training
# loss before and after them is not compared
CHANGES_TRAINING_LOSS = ("dropout", "lower_dropout")
# the most times lower_lr is applied for one problem, while the update ratios stay above LOWER_TARGET
LOWER_LR_TRIES = 3
# an update-to-weight ratio that explodes while the gradient grows less than this from the last layer to
# the first is the learning rate's doing: gradients amplified through depth grow by orders of magnitude
DEPTH_GROWTH = 10.0
# steps a treated run must go on for its problem's absence to count (the longest rule window, smoothed)
CONFIRM_STEPS = rules.PLATEAU_STEPS + rules.LOSS_EMA_STEPS
# the loss rules run every LOSS_CHECK_FIRST steps over the first 100 (the dropout window is read at
# step 100, as soon as it is full), every LOSS_CHECK_STEPS after that, as often as the settled probes;
# unstable_loss looks at every step since its last run, so no climb between two runs is missed
LOSS_CHECK_FIRST, LOSS_CHECK_STEPS = 50, 100
# a problem that was not seen on this many consecutive checks has ended; seen again, it is a new episode
EPISODE_GAP = 2
# an episode is reported again when its severity rises
SEVERITY_RANK = {"warning": 0, "critical": 1}
# which of several problems diagnosed at once is treated first: causes before their consequences
# (an overflow or exploding gradients make the loss unstable; units in their flat regions pass almost no
# gradient, so saturation makes gradients vanish; vanishing gradients make the loss slow)
TREATMENT_PRIORITY = ("loss_output_mismatch", "missing_nonlinearity", "unscaled_inputs", "unscaled_targets",
                      "non_finite", "exploding_gradients", "saturated_activations", "vanishing_gradients",
                      "dead_relu", "unstable_loss", "batch_too_small", "dropout_too_high", "overfitting",
                      "underfitting", "slow_convergence")


@dataclass
class TreatmentRecord:
    """One entry of the treatment log: what was diagnosed, what was done, and how it went.

    ``outcome``: ``"resolved"`` (the problem was not diagnosed again over at least 120 steps, and the
    measured outcome did not get worse), ``"worse"`` (the validation metric or the training loss got
    measurably worse than before the treatment: it was undone and the next remedy tried),
    ``"unconfirmed"`` (not again, but the run ended too soon to tell), ``"returned"`` (it was, and
    the next remedy followed unless the run had ended), ``"skipped"`` (the remedy does not apply to
    this model), ``"exhausted"`` (no remedy left) or ``"pending"`` while the run goes on.
    ``measured``: the outcome compared (``metric``, its value ``before`` the treatment and ``after``).
    """

    step: int
    epoch: int
    problem: str
    layer: str | None
    remedy: str | None
    description: str
    applied: bool
    rolled_back_to: int | None = None  # the step whose state the run went back to
    wasted_steps: int = 0  # steps whose progress the roll-back discarded
    outcome: str = "pending"
    measured: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        back = "" if self.rolled_back_to is None else f", rolled back to step {self.rolled_back_to + 1}"
        measured = self.measured or {}
        change = (f"; {measured['metric']} {measured['before']:.3g} -> {measured['after']:.3g}"
                  if measured.get("after") is not None else "")
        return (f"step {self.step + 1} (epoch {self.epoch + 1}): {self.problem} -> "
                f"{self.remedy or 'none'}: {self.description}{back}{change} [{self.outcome}]")


@dataclass
class Snapshot:
    """A state to roll back to; every array is a private copy (later steps update theirs in place)."""

    step: int  # the state before this step's update
    epoch: int
    model_state: OrderedDict[str, np.ndarray]
    optimizer_state: dict[str, Any]
    rng_state: dict[str, Any]


@dataclass
class Best:
    """The best model seen in a repaired run, by its validation metric (training loss without one).

    ``weights`` are copies; ``model`` builds a fresh model with the structure it had then and these
    weights (each access gives a new one).
    """

    epoch: int
    metric: str
    value: float
    weights: OrderedDict[str, np.ndarray] = field(repr=False)
    config: dict[str, Any] = field(default_factory=dict)
    skeleton: Module | None = field(default=None, repr=False)  # a copy of the structure, never trained

    @property
    def model(self) -> Module:
        model = copy.deepcopy(self.skeleton)
        model.load_state_dict(self.weights)
        return model


def _metric(logs: dict[str, float]) -> tuple[str, float, float]:
    """(name, value, score to maximize) of an epoch's logs for choosing the best model."""
    for name, sign in (("val_accuracy", 1.0), ("val_loss", -1.0), ("loss", -1.0)):
        value = logs.get(name)
        if value is not None and math.isfinite(value):
            return name, value, sign * value
    return "loss", float("nan"), -math.inf


def _oversized(record: Any) -> tuple[str, float] | None:
    """When the Linear layers' weights, against the He scale sqrt(2 / fan_in) that keeps a ReLU
    network's signal steady, multiply up to more than ``OVERSIZED`` along the network: a
    description and that product (the amplification their scale alone causes)."""
    factors = [layer.weight_norm / math.sqrt(layer.size) / math.sqrt(2.0 / layer.fan_in)
               for layer in record.layers if layer.fan_in and layer.size]
    gain = math.prod(factors) if factors else 0.0
    if gain > OVERSIZED and math.isfinite(gain):
        return (f"the {len(factors)} Linear layers' weights are {min(factors):.2g}-{max(factors):.2g}x "
                "the He scale sqrt(2 / fan_in)"), gain
    return None


class Doctor:
    """Diagnose a training run per layer, and optionally repair it.

    With ``rp.fit(..., doctor=True)`` (or ``doctor=rp.Doctor(every=...)``) it is wired in for you;
    ``rp.fit(..., repair=True)`` also treats what it finds. In a hand-written loop:
    ``doctor = rp.Doctor(model, optimizer)`` and ``doctor.observe(loss)`` once per step, after
    ``loss.backward()`` and before ``optimizer.step()``. The loss is checked every step; the
    per-layer probes and detectors run every ``every`` steps (default: at steps 0, 37 and 74, then
    every 100, closer together while a symptom shows; the loss rules every 50 steps for the first
    100, then every 100, and at ``finish()``). ``doctor.diagnoses`` lists what was found, each
    problem once per episode (and again if it grows from a warning to critical). With
    ``repair=True`` in ``fit``, the steps that roll-backs discard are given back as extra epochs,
    at most ``make_up`` times the planned number (0 turns this off), so that the treated recipe
    trains about as long as a healthy run. By hand, call
    ``doctor.treat(new)`` with what ``observe`` returned, skip that step's update when it returns a
    record, and go on with ``doctor.optimizer`` (the model is changed in place; the optimizer may
    be a new one).
    """

    def __init__(self, model: Module | None = None, optimizer: Any = None, *,
                 every: int | None = None, repair: bool = False, make_up: float = 0.5) -> None:
        if isinstance(make_up, bool) or not isinstance(make_up, (int, float)) or not 0 <= make_up:
            raise ValueError(f"Doctor: make_up must be a number >= 0 (a share of the planned epochs), "
                             f"got {make_up!r}")
        self.every = every
        self.repair = bool(repair)
        self.verbose = True  # say on stderr (once per part) when a part of the doctor failed
        self.make_up = float(make_up)
        self.recorder: Recorder | None = None
        self.clip_grad_norm: float | None = None  # set by the clipping remedy; fit applies it
        self.batch_size: int | None = None
        self._raw_inputs: Any = None
        self._validation_is_training = False
        self.samples: tuple[int, int] | None = None
        self.lr_scheduled = False
        self._new_run()
        self.model: Module | None = None
        self.optimizer = optimizer
        if model is not None:
            self.attach(model, optimizer)

    def _new_run(self) -> None:
        """Forget the run watched so far: its records, diagnoses, treatments and schedules (the
        clipping a remedy set stays: it is part of the treated recipe, which ``fit`` applies)."""
        self.diagnoses: list[Diagnosis] = []
        self.treatments: list[TreatmentRecord] = []
        self.epoch_logs: list[dict[str, float]] = []
        self._epoch_count = 0  # the epoch of steps observed without one: end_epoch calls so far
        self.stop_reason: str | None = None  # set when a treatment ends the run
        self.best: Best | None = None
        self._active: dict[tuple[str, str, str | None], int] = {}  # (family, problem, layer) -> check
        self._episodes: dict[tuple[str, str, str | None], Diagnosis] = {}  # key -> its latest diagnosis
        self._diagnosis_start = 0  # the current recipe's diagnoses start here
        self._checks = dict.fromkeys(("setup", "probe", "update", "loss", "epoch", "stop"), 0)
        self._setup: list[rules.Finding] = []  # the static checks' findings, reported at the first step
        # internal errors: a rule, probe or step of the doctor that raised; the run went on without it
        self.errors: list[dict[str, Any]] = []
        self._disabled: set[str] = set()  # the rules that raised (skipped for the rest of the run)
        self._off = False  # True once a part that every step needs (recorder, probes) raised
        self._tried: dict[str, dict[str, int]] = {}  # problem -> remedy -> times applied
        self._trial: dict[str, Any] | None = None  # the latest treatment, watched for harm
        self._undo: dict[str, Any] | None = None  # a treatment found harmful, undone by the next ``treat``
        self._snapshot: Snapshot | None = None
        self._origin: Snapshot | None = None  # the state the current recipe started from
        self._epoch_best: tuple[float, Snapshot] | None = None  # lowest validation loss, this recipe
        self._running_best: rules.EpochBest | None = None  # the epoch rules' running best, this recipe
        self._metric_best: tuple[float, Snapshot] | None = None  # best validation metric, this recipe
        self._skeleton: Module | None = None  # the model's structure for ``Best``, copied once per change
        self._probe_lrs: dict[int, tuple[float, ...]] = {}  # probed step -> the learning rates then
        self._stats: dict[str, Any] | None = None
        self._skeleton_repr = ""
        self._loss_start = 0  # the current segment (since the last treatment) starts here
        self._record_start = 0
        self._epoch_start = 0
        self._run_start: tuple[float | None, float | None] = (None, None)
        self._epoch = 0
        self._checked = 0  # losses before this step were checked for NaN/Inf already
        self._last_loss_check = 0
        self._next_loss_check = LOSS_CHECK_FIRST
        self._quiet_until = 0  # steps before this one need only their loss (``quiet_steps``)
        self._looking: set[str] = set()  # symptoms under a close look (denser probes)
        self._cleared: set[str] = set()  # symptoms a close look found transient, while they last

    def attach(self, model: Module, optimizer: Any = None, *, chance_loss: float | None = None,
               inputs: Any = None, samples: tuple[int, int] | None = None,
               lr_scheduled: bool = False, validation_inputs: Any = None, loss: Any = None,
               targets: Any = None, n_classes: int | None = None, batch_size: int | None = None) -> None:
        """Start watching ``model`` (done by ``fit``): a new run, with fresh records, diagnoses and
        treatments (an earlier run's stay in its ``History``). ``chance_loss``: the loss of a blind guess
        (ln C for a C-class cross-entropy), the mark for 'has not learned anything'. ``inputs``: the
        training inputs, whose per-feature scale a repair may need (``standardize_inputs``).
        ``samples``: the training and validation sample counts (the overfitting rule weighs an
        accuracy gap against its sampling noise). ``lr_scheduled``: a schedule may raise the learning
        rate later (a warm-up), so small early steps are deliberate, not a sign of a rate too small.
        ``validation_inputs``: the validation inputs; when they are the training inputs themselves, a
        gap between the two is no evidence of memorizing and ``overfitting`` is not looked for.
        ``loss`` (a loss module, function or fit's name for it), ``targets`` and ``n_classes`` (None for
        a regression) let the setup be checked before the first step (``checks``: the output against
        the loss, stacked Linear layers, the scale of inputs and targets); what those checks find is
        reported at the first ``observe``. ``batch_size``: the samples per step."""
        if self.repair and optimizer is None:
            raise ValueError("Doctor(repair=True) needs the optimizer: Doctor(model, optimizer, repair=True)")
        if self.recorder is not None:
            self.recorder.close()
            self._new_run()
        self.model, self.optimizer = model, optimizer
        self.recorder = Recorder(model, every=self.every)
        self._dropout_rates = [m.p for m in model.modules() if isinstance(m, Dropout)]
        self.chance_loss = chance_loss
        self.samples = samples
        self.lr_scheduled = bool(lr_scheduled)
        self._raw_inputs = inputs if np.ndim(inputs) == 2 and len(inputs) else None
        self.batch_size = batch_size
        self._setup = self._check_setup(model, optimizer, loss, targets, n_classes)
        self._validation_is_training = validation_inputs is not None and inputs is not None and (
            validation_inputs is inputs or (np.shape(validation_inputs) == np.shape(inputs)
                                            and np.array_equal(validation_inputs, inputs)))
        if self.repair:
            self._snapshot = self._origin = self._take_snapshot(0, 0)  # the initial state

    def _check_setup(self, model: Module, optimizer: Any, loss: Any, targets: Any,
                     n_classes: int | None) -> list[rules.Finding]:
        """The static checks' findings on this setup (``checks.check_setup``). Stacked Linear layers are
        named only when the whole model is linear: a redundant layer inside a network that has
        activations elsewhere learns as well (it is a note, not a failure)."""
        try:
            from retroprop.doctor.checks import check_setup
            from retroprop.doctor.structure import describe_loss, describe_model

            adaptive = None if optimizer is None else isinstance(
                optimizer, (optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad))
            y = targets if targets is not None and np.ndim(targets) in (1, 2) and len(targets) else None
            found = check_setup(describe_model(model), None if loss is None else describe_loss(loss),
                                self._raw_inputs, y, n_classes, adaptive)
        except Exception as err:
            self._failed("checks", err, 0)
            return []
        return [f for f in found if f.problem != "missing_nonlinearity" or f.evidence.get("model_is_linear")]

    def observe(self, loss: Any, epoch: int | None = None, *, grads_finite: bool = True,
                rerun: Any = None) -> list[Diagnosis]:
        """Record one step; returns the diagnoses that are new at this step.

        Call it once per step, after ``loss.backward()`` and before ``optimizer.step()``, with the
        step's loss (a Tensor or a float). ``epoch`` (0-based) defaults to the doctor's count of
        ``end_epoch`` calls. ``grads_finite=False`` says the step's gradients hold NaN/Inf although
        the loss may not. When a step that was not due for a probe is non-finite, it is probed after
        the fact to find the layer where NaN/Inf began; ``rerun()``, when given, runs that step's forward
        pass again so that its activations are seen too (``fit`` passes one).
        """
        recorder = self.recorder
        if recorder is None:
            raise RuntimeError("Doctor.observe: no model attached; create Doctor(model, optimizer) first")
        epoch = self._epoch_count if epoch is None else epoch
        self._epoch = epoch
        if grads_finite and type(loss) is float and loss - loss == 0.0 and recorder.step < self._quiet_until:
            recorder.record_loss(loss)  # the common step: nothing but its (finite) loss is needed
            return []
        step = recorder.step
        if not self._off:
            try:
                setup, self._setup = self._setup, []
                new = self._report(setup, step, epoch, "setup") if setup else []
                new += self._observe(loss, epoch, grads_finite, rerun)
                self._drain_probe_errors()
                self._quiet_until = recorder.step + self.quiet_steps()
                return new
            except Exception as err:  # a failing doctor must never end the training it watches
                self._failed("observe", err, step)
                self._turn_off()
        if recorder.step == step:  # the step is still counted, so later records line up
            recorder.record_loss(float(loss.item() if hasattr(loss, "item") else loss))
        return []

    def quiet_steps(self) -> int:
        """How many of the coming steps need nothing but their loss, as long as it is finite (no
        probe and no loss rule is due in them). ``fit`` records such a step with
        ``doctor.recorder.record_loss(loss)`` and calls ``observe`` for the others; ask again after
        every ``observe``, ``end_epoch`` or ``treat``."""
        recorder = self.recorder
        if recorder is None:
            return 0
        if self._off:
            return 1 << 40  # only the losses are recorded now
        return max(min(recorder.quiet_steps(), self._next_loss_check - recorder.step), 0)

    def _observe(self, loss: Any, epoch: int, grads_finite: bool, rerun: Any) -> list[Diagnosis]:
        recorder = self.recorder
        step = recorder.step
        record = recorder.observe(loss, epoch)
        finite = grads_finite and math.isfinite(recorder.last_loss)
        new: list[Diagnosis] = []
        updates: list[rules.Finding] = []
        completed = recorder.completed
        if completed is not None and not recorder.largest_update_ratio <= rules.EXPLODING_UPDATE_RATIO:
            # the last probed step's update is known now, and one layer's is large (this step may be
            # probed itself, as with a cadence of 1)
            updates = self._rule("exploding_gradients", rules.exploding_updates, [completed.as_plain()])
            new = self._report(self._step_size_cause(updates, completed), step, epoch, "update")
        if record is None:
            if finite:
                if step >= self._next_loss_check:
                    new += self._report(self._loss_rules(step), step, epoch, "loss")
                return new
            record = recorder.replay(epoch, rerun)
        self._probe_lrs[record.step] = self._learning_rates()  # the rates this probe's update will use
        loss_due = step >= self._next_loss_check
        probes = [r.as_plain() for r in self._window()]
        since = max(self._checked, self._loss_start)  # losses not yet looked at for NaN/Inf
        self._checked = recorder.step
        # each probe rule needs its problem to show on the latest probe (its window adds
        # persistence), so a probe without symptoms is checked by ``symptoms`` alone
        batch = self._batch_size()
        symptoms = self._rule("symptoms", functools.partial(rules.symptoms, ongoing=self._dead_ongoing(),
                                                            batch_size=batch), probes[-1])
        findings = []
        if symptoms:
            findings = self._rule("non_finite", rules.non_finite, probes, recorder.losses[since:], since)
            if findings:
                return new + self._report(findings, step, epoch, "probe")
            findings = (self._rule("vanishing_gradients", rules.vanishing_gradients, probes)
                        + self._rule("dead_relu", functools.partial(
                            rules.dead_relu, ongoing=self._dead_ongoing(), **self._harm(batch)), probes)
                        + self._rule("saturated_activations", functools.partial(
                            rules.saturated_activations, **self._harm(batch)), probes))
        # gradient norms are known at the probe itself
        findings += self._rule("exploding_gradients (growth)", rules.exploding_growth, probes)
        new += self._report(findings, step, epoch, "probe")
        loss_findings = self._loss_rules(step) if loss_due else []
        if loss_due:
            new += self._report(loss_findings, step, epoch, "loss")
        # a symptom that went away may be looked at closely again when it returns
        self._cleared &= set(symptoms)
        if self._looking and not findings:
            if not recorder.looking_closely:
                self._cleared |= self._looking  # found transient: no second close look while it lasts
                self._looking = set()
            elif not self._looking & set(symptoms):
                recorder.calm()  # what was looked at is gone already: back to the regular cadence
                self._looking = set()
        if symptoms and not findings:
            fresh = set(symptoms) - self._cleared - self._looking
            if fresh:
                # something shows on this probe alone: look again soon, so that a rule whose window
                # spans several probes confirms or clears it within a few steps, not a hundred
                recorder.hasten(rules.DEAD_WINDOW)
                self._looking |= fresh
        elif (self.repair and not findings and not updates and not loss_findings and finite
              and not self._unresolved()
              and not self._rule("loss_symptoms", functools.partial(rules.loss_symptoms, batch_size=batch),
                                 recorder.losses[self._loss_start:])):
            self._snapshot = self._take_snapshot(step, epoch)
        return new

    def _step_size_cause(self, findings: list[rules.Finding], record: Any) -> list[rules.Finding]:
        """Exploding updates whose gradient does not grow from the last layer to the first (less than
        ``DEPTH_GROWTH``x), from weights of ordinary scale and standardized inputs, are the learning
        rate's doing: the evidence says so, and lowering the rate comes first."""
        layers = [layer for layer in record.layers if math.isfinite(layer.grad_rms)]
        if not findings or len(layers) < 2 or not layers[-1].grad_rms > 0:
            return findings
        growth = layers[0].grad_rms / layers[-1].grad_rms
        first = self.recorder.records[self._record_start] if len(self.recorder.records) > self._record_start \
            else record
        stats = self._input_stats()
        unscaled = stats is not None and max(stats["spread"], stats["offset"]) > INPUT_SCALE
        if growth >= DEPTH_GROWTH or _oversized(first) or unscaled:
            return findings
        for finding in findings:
            finding.evidence.update(cause="learning_rate", gradient_growth=growth)
            finding.explanation += (f" The gradient does not grow from layer to layer (the first layer's is "
                                    f"{rules._fmt(growth)}x the last's): the step is this large because the "
                                    "learning rate is.")
        return findings

    def _window(self) -> list[Any]:
        """The probe records the gradient rules read: the latest few since the last treatment."""
        records = self.recorder.records
        wanted = max(rules.DEAD_WINDOW, 3, rules.dead_window_probes(self._batch_size()))
        return records[max(self._record_start, len(records) - wanted):]

    def _batch_size(self) -> int | None:
        """Samples per step: ``fit``'s batch size, else the probed batch's (a hand-written loop)."""
        if self.batch_size:
            return self.batch_size
        records = self.recorder.records
        for activation in records[-1].activations if records else ():
            if activation.samples:
                return activation.samples
        return None

    def _dead_ongoing(self) -> set[str]:
        """The activation layers in a ``dead_relu`` episode (the rule's hysteresis band)."""
        checks = self._checks["probe"]
        return {layer for (family, problem, layer), last in self._active.items()
                if family == "probe" and problem == "dead_relu" and layer and checks - last <= EPISODE_GAP}

    def _harm(self, batch: int | None) -> dict[str, Any]:
        """What the layer rules need to tell a network that learns well (``rules.learns_well``)."""
        logs = self.epoch_logs[max(self._epoch_start, len(self.epoch_logs) - 1):]  # O(1), not O(epochs)
        return {"losses": self.recorder.losses[self._loss_start:], "start": self._run_start[0],
                "batch_size": batch, "accuracy": logs[-1].get("accuracy") if logs else None,
                "epoch_logs": logs, "samples": self.samples}

    def _loss_rules(self, step: int) -> list[rules.Finding]:
        """The rules on the per-step losses (they need no probe; their windows span 20-100 steps)."""
        recent = step - self._last_loss_check
        self._last_loss_check = step
        young = step - self._loss_start < SETTLE_AFTER  # a run's (or a treated recipe's) first 100 steps
        self._next_loss_check = step + (LOSS_CHECK_FIRST if young else LOSS_CHECK_STEPS)
        losses = self.recorder.losses[self._loss_start:]
        start5, start20 = self._run_start
        # a run that ended far above its start diverged: critical, and more than a climb
        batch = self._batch_size()
        found = (self._rule("unstable_loss (diverged)", functools.partial(
                     rules.diverged, start=start5, batch_size=batch), losses, self.chance_loss)
                 or self._rule("unstable_loss", functools.partial(
                     rules.unstable_loss, batch_size=batch, chance_loss=self.chance_loss),
                     losses, start20, recent))
        found += self._rule("exploding_gradients (loss)", rules.astronomical_loss, losses, start5,
                            self.chance_loss, recent)
        found += self._rule("batch_too_small", functools.partial(
            rules.batch_too_small, chance_loss=self.chance_loss), losses, batch, start5)
        if not any(f.problem in ("unstable_loss", "exploding_gradients") for f in found):
            found += self._rule("underfitting", functools.partial(
                rules.underfitting, chance_loss=self.chance_loss, batch_size=batch,
                epoch_logs=self.epoch_logs[max(self._epoch_start, len(self.epoch_logs) - 1):],
                samples=self.samples),
                losses, self._steady_updates(), start5)
        if len(losses) >= rules.LOSS_EMA_STEPS:
            # the other three need the loss still above 90 % of its start (or of a blind guess's):
            # a run that has learned something skips them
            mark = start5 if start5 is not None else float(np.add.reduce(losses[:5])) / 5
            if self.chance_loss:
                mark = min(mark, self.chance_loss)
            if not float(np.add.reduce(losses[-rules.LOSS_EMA_STEPS:])) / rules.LOSS_EMA_STEPS > (
                    rules.PLATEAU_LEVEL * mark):
                return found
        dropout = self._rule("dropout_too_high", rules.dropout_too_high, losses, self._dropout_rates,
                             self.chance_loss)
        if not self._plateau_explained(found + dropout):
            found += (self._rule("slow_convergence", functools.partial(
                          rules.slow_convergence, batch_size=batch), losses, start5)
                      or self._rule("slow_convergence (steps)", rules.slow_steps, losses,
                                    self._steady_updates(), start5))
        return found + dropout

    def _overrides(self, problem: str) -> str:
        """For a problem whose remedies lower the learning rate, found after this recipe's loss was
        called slow (advice to raise the rate): a sentence that withdraws that advice, else ''."""
        if "lower_lr" not in TREATMENT_ORDER[problem]:
            return ""
        slow = [d.step for d in self.diagnoses[self._diagnosis_start:] if d.problem == "slow_convergence"]
        if not slow:
            return ""
        return (f" This withdraws the advice to raise the learning rate given with slow_convergence at step "
                f"{slow[0] + 1}.")

    def _plateau_explained(self, found: list[rules.Finding]) -> str | None:
        """Why a stalled loss is not to be named ``slow_convergence`` in this recipe (whose first
        remedy raises the learning rate), or None. ``found``: this check's other loss findings.

        - A dropout rate of at least ``rules.DROPOUT_RATE``: the stall is ``dropout_too_high``'s to
          name (at 1.0 the units are all dropped and no rate can lower the loss; from 0.8 the dropout
          rule fires, from its 100-step window on, whenever the loss is high enough for a plateau).
        - A problem whose remedies lower the learning rate (an unstable or diverged loss, exploding
          gradients, dead units, NaN/Inf) found now or earlier in this recipe: advice to raise the
          same rate would contradict it, and a loss held up by dead units or overshooting steps is
          their consequence. After a treatment the new recipe's rate is judged afresh.
        """
        if max(self._dropout_rates, default=0.0) >= rules.DROPOUT_RATE:
            return "dropout"
        problems = {f.problem for f in found} | {d.problem for d in self.diagnoses[self._diagnosis_start:]}
        lowering = sorted(p for p in problems if "lower_lr" in TREATMENT_ORDER[p])
        return lowering[0] if lowering else None

    def _learning_rates(self) -> tuple[float, ...]:
        return tuple(group.get("lr", math.nan) for group in getattr(self.optimizer, "param_groups", ()))

    def _steady_updates(self) -> list[float]:
        """The largest update-to-weight ratio at each probe of this segment whose update is known and
        whose learning rates are today's; none when a schedule may raise the rate later."""
        if self.lr_scheduled:
            return []
        now = self._learning_rates()
        largest: list[float] = []
        records = self.recorder.records
        for index in range(len(records) - 1, self._record_start - 1, -1):  # newest first; two suffice
            record = records[index]
            ratios = [layer.update_ratio for layer in record.layers if layer.update_ratio is not None]
            if not ratios:
                continue  # its update has not happened yet
            if self._probe_lrs.get(record.step) != now or len(largest) == 2:
                break
            largest.insert(0, max(ratios))
        return largest

    def _unresolved(self) -> bool:
        """Whether a problem is in an episode that has not ended (not a state to roll back to)."""
        return any(self._checks[family] - last <= EPISODE_GAP for (family, *_), last in self._active.items())

    def end_epoch(self, epoch: int | None = None, logs: dict[str, float] | None = None) -> list[Diagnosis]:
        """The end of an epoch: its checks (overfitting needs ``logs`` with ``loss``, ``val_loss`` and,
        when measured, ``accuracy`` and ``val_accuracy``); returns the diagnoses that are new. ``epoch``
        (0-based) defaults to the doctor's own count: 0 until the first call, one more after each, so
        that steps observed without an ``epoch`` are placed in the right one. ``fit`` calls this."""
        epoch = self._epoch_count if epoch is None else epoch
        self._epoch_count = epoch + 1
        logs = {} if logs is None else logs
        if self._off:
            return []
        try:
            return self._end_epoch(epoch, logs)
        except Exception as err:
            self._failed("end_epoch", err)
            self._turn_off()
            return []

    def _end_epoch(self, epoch: int, logs: dict[str, float]) -> list[Diagnosis]:
        self.epoch_logs.append(dict(logs))
        self._epoch = epoch
        step = max(self.recorder.step - 1, 0) if self.recorder else 0
        if self.repair:
            self._track_best(epoch, logs)
        if self._running_best is None:
            self._running_best = rules.EpochBest()
        best = self._running_best  # this recipe's best epoch, kept at constant cost
        best.update(logs)
        logs = self.epoch_logs[-(rules.SWINGS + 1):][-best.epochs:]  # this recipe's latest epochs
        findings = [] if self._validation_is_training else self._rule(
            "overfitting", functools.partial(rules.overfitting, best=best), logs[-rules.OVERFIT_EPOCHS:],
            self.samples, epoch - best.epochs + 1)
        findings += self._rule("unstable_loss (validation)", rules.oscillating_validation, logs, self.samples)
        findings += self._rule("unstable_loss (collapse)", functools.partial(
            rules.collapsing_validation, best=best), logs, self.samples)
        new = self._report(findings, step, epoch, "epoch")
        if self.repair:
            self._check_harm()
        return new

    @property
    def undo_pending(self) -> bool:
        """Whether the latest treatment made the run measurably worse: the next ``treat`` (with or
        without new diagnoses) undoes it and tries the next remedy. ``fit`` does this; a hand-written
        loop calls ``doctor.treat([])`` after ``end_epoch`` when this is True."""
        return self._undo is not None

    def _report(self, findings: list[rules.Finding], step: int, epoch: int, family: str) -> list[Diagnosis]:
        """New diagnoses from ``findings`` of one family of checks (probe, update, loss, epoch):
        a problem seen again within ``EPISODE_GAP`` checks of its family is the same episode, reported
        again only when its severity rises (a warning that became critical): the new diagnosis, with
        the new evidence and step, has ``escalated_from`` set to the step of the milder one, and
        ``treat`` leaves it alone (the episode was handed to it when first diagnosed)."""
        self._checks[family] += 1
        checks = self._checks[family]
        new: list[Diagnosis] = []
        seen = set()
        order = {problem: rank for rank, problem in enumerate(CAUSAL_ORDER)}
        # causes first; of two findings of one problem at one place, the graver is said
        findings = sorted(findings, key=lambda f: (order.get(f.problem, len(order)),
                                                   -SEVERITY_RANK[f.severity]))
        for finding in findings:
            key = (family, finding.problem, finding.layer)
            if key in seen:
                continue
            seen.add(key)
            last = self._active.get(key)
            earlier = None if last is None or checks - last > EPISODE_GAP else self._episodes.get(key)
            explanation = finding.explanation
            if earlier is not None:
                if SEVERITY_RANK[finding.severity] <= SEVERITY_RANK[earlier.severity]:
                    self._active[key] = checks
                    continue  # the same episode, no worse than already said
                explanation += (f" It has grown worse since step {earlier.step + 1}, when it was diagnosed "
                                f"as a {earlier.severity}.")
            explanation += self._overrides(finding.problem)
            root = self._root_cause(finding.problem) if earlier is None else None
            diagnosis = Diagnosis(
                problem=finding.problem, layer=finding.layer, step=step, epoch=epoch,
                severity=finding.severity, evidence=finding.evidence,
                explanation=explanation, layer_label=finding.label,
                escalated_from=None if earlier is None else earlier.step,
                caused_by=None if root is None else {"problem": root.problem, "layer": root.layer,
                                                     "layer_label": root.layer_label, "step": root.step},
                remedies=self._remedies(finding),
            )
            if root is not None and diagnosis.severity == "critical" and not self._critical(root):
                new.append(self._escalate_root(root, diagnosis))
            self.diagnoses.append(diagnosis)
            new.append(diagnosis)
            self._episodes[key] = diagnosis
            self._active[key] = checks
        return new

    @staticmethod
    def _remedies(finding: rules.Finding) -> list[tuple[str, str]]:
        """The remedies in the order to try them: the problem's, with lowering the learning rate first
        when the evidence blames the rate."""
        order = list(TREATMENT_ORDER[finding.problem])
        if finding.problem == "loss_output_mismatch":  # one remedy fits each way of mismatching
            order = [OUTPUT_CASE_REMEDY.get(finding.evidence.get("case"), "fix_output_loss")]
        if finding.evidence.get("cause") == "learning_rate" and "lower_lr" in order:
            order.remove("lower_lr")
            order.insert(0, "lower_lr")
        return [(remedy, REMEDIES[remedy]) for remedy in order]

    def _root_cause(self, problem: str) -> Diagnosis | None:
        """The root cause of a new ``problem`` among this recipe's diagnoses: the earliest diagnosis of a
        problem that can cause it (``diagnosis.CONSEQUENCES``), followed to its own root; or None."""
        for earlier in self.diagnoses[self._diagnosis_start:]:
            if earlier.escalated_from is None and problem in CONSEQUENCES.get(earlier.problem, ()):
                return self._find(earlier.caused_by) or earlier
        return None

    def _find(self, cause: dict[str, Any] | None) -> Diagnosis | None:
        """The first diagnosis that ``cause`` (a ``caused_by`` record) names."""
        if cause is None:
            return None
        return next((d for d in self.diagnoses if d.escalated_from is None and (d.problem, d.layer, d.step)
                     == (cause["problem"], cause["layer"], cause["step"])), None)

    def _critical(self, root: Diagnosis) -> bool:
        """Whether ``root``'s episode has been reported as critical (first or on escalation)."""
        return any(d.problem == root.problem and d.layer == root.layer and d.severity == "critical"
                   and (d is root or d.escalated_from == root.step) for d in self.diagnoses)

    def _escalate_root(self, root: Diagnosis, consequence: Diagnosis) -> Diagnosis:
        """``root`` again, now critical: it caused a critical ``consequence`` (the first critical
        diagnosis of a run is its cause, not a symptom further down the chain)."""
        escalated = Diagnosis(
            problem=root.problem, layer=root.layer, step=consequence.step, epoch=consequence.epoch,
            severity="critical", evidence={**root.evidence, "critical_consequence": consequence.problem},
            explanation=(f"{root.explanation} It is critical now: it has caused {consequence.problem} "
                         f"({consequence.layer_label or 'the whole model'}), which is critical."),
            layer_label=root.layer_label, remedies=list(root.remedies), escalated_from=root.step)
        self.diagnoses.append(escalated)
        return escalated

    def causal_order(self) -> list[tuple[Diagnosis, int]]:
        """The diagnoses as one story: each root cause in the order found, then its escalations, then
        what it caused, as ``(diagnosis, depth)`` pairs (depth 1 for a consequence)."""
        def same(d: Diagnosis, root: Diagnosis, link: dict[str, Any] | None) -> bool:
            return link is not None and (link["problem"], link["layer"], link["step"]) == (
                root.problem, root.layer, root.step) and d is not root

        ordered: list[tuple[Diagnosis, int]] = []
        for root in self.diagnoses:
            if root.caused_by is not None or (root.escalated_from is not None and any(
                    d.escalated_from is None and (d.problem, d.layer, d.step)
                    == (root.problem, root.layer, root.escalated_from) for d in self.diagnoses)):
                continue  # listed under its root
            ordered.append((root, 0))
            ordered += [(d, 0) for d in self.diagnoses if d.caused_by is None and d.escalated_from is not None
                        and root.escalated_from is None and (d.problem, d.layer, d.escalated_from)
                        == (root.problem, root.layer, root.step)]
            ordered += [(d, 1) for d in self.diagnoses if same(d, root, d.caused_by)]
        return ordered

    # -- repair -------------------------------------------------------------------------------
    def _take_snapshot(self, step: int, epoch: int) -> Snapshot:
        return Snapshot(step, epoch, self.model.state_dict(), self.optimizer.state_dict(),
                        copy.deepcopy(default_generator().bit_generator.state))

    def _restore(self, snapshot: Snapshot) -> None:
        self.model.load_state_dict(snapshot.model_state)  # copies into the model's own arrays
        self.optimizer.load_state_dict(snapshot.optimizer_state)
        default_generator().bit_generator.state = copy.deepcopy(snapshot.rng_state)

    def _copies(self) -> tuple[Module, Any]:
        """Deep copies of the model (without the doctor's hooks) and of its optimizer, together."""
        armed = self.recorder is not None and self.recorder.probe.armed
        if armed:
            self.recorder.probe.disarm()
        try:
            return copy.deepcopy((self.model, self.optimizer))
        finally:
            if armed:
                self.recorder.probe.arm()

    def _track_best(self, epoch: int, logs: dict[str, float]) -> None:
        name, value, score = _metric(logs)
        if not math.isfinite(score):
            return
        if self.best is None or score > self._best_score:
            self._best_score = score
            if self._skeleton is None:  # the structure changed (or this is the first best)
                self._skeleton = self._copies()[0]
                self._skeleton_repr = repr(self.model)
            self.best = Best(epoch=epoch, metric=name, value=value, weights=self.model.state_dict(),
                             config=self._config(), skeleton=self._skeleton)
        snapshot = None
        if self._metric_best is None or score > self._metric_best[0]:
            snapshot = self._take_snapshot(self.recorder.step, epoch)
            self._metric_best = (score, snapshot)
        val_loss = logs.get("val_loss")
        if val_loss is not None and math.isfinite(val_loss) and (
                self._epoch_best is None or val_loss < self._epoch_best[0]):
            self._epoch_best = (val_loss, snapshot or self._take_snapshot(self.recorder.step, epoch))

    def _config(self) -> dict[str, Any]:
        optimizer = self.optimizer
        return {"model": self._skeleton_repr, "optimizer": type(optimizer).__name__,
                "lr": float(optimizer.param_groups[0]["lr"]), "clip_grad_norm": self.clip_grad_norm,
                "treatments": [t.remedy for t in self.treatments if t.applied]}

    def treat(self, diagnoses: list[Diagnosis]) -> TreatmentRecord | None:
        """Repair the run for the most pressing of ``diagnoses`` (those ``observe`` or ``end_epoch``
        just returned): roll back, apply the problem's next remedy, and return the log entry; None
        when nothing was done (repair off, or every remedy for these problems tried already)."""
        if not self.repair or (not diagnoses and self._undo is None) or self.stop_reason or self._off:
            return None
        try:
            return self._treat(diagnoses)
        except Exception as err:
            self._failed("treat", err)
            self.repair = False  # diagnosing goes on; repairs stop (the model is as the failure left it)
            return None

    def _treat(self, diagnoses: list[Diagnosis]) -> TreatmentRecord | None:
        # an escalation continues an episode that was handed to ``treat`` when first diagnosed (a treatment
        # would have ended it): its remedies were tried then, or none is left. A consequence is treated
        # through its root cause, unless every remedy of the cause has been tried.
        if self._undo is not None:
            return self._undo_trial()
        by_problem: dict[str, Diagnosis] = {}
        for d in reversed(diagnoses):
            if d.escalated_from is not None:
                continue
            root = self._find(d.caused_by)
            if root is not None and not self._exhausted(root.problem):
                d = root
            by_problem[d.problem] = d
        for problem in sorted(by_problem, key=TREATMENT_PRIORITY.index):
            diagnosis = by_problem[problem]
            for earlier in self.treatments:
                if earlier.problem == problem and earlier.outcome == "pending":
                    earlier.outcome = "returned"
            if self._exhausted(problem):
                continue  # said so when it happened
            record = self._apply_next(diagnosis, tuple(remedy for remedy, _ in diagnosis.remedies))
            if record is not None:
                return record
        return None

    def _exhausted(self, problem: str) -> bool:
        return any(t.problem == problem and t.outcome == "exhausted" for t in self.treatments)

    def _may_try(self, problem: str, remedy: str) -> bool:
        """Whether ``remedy`` may be tried (again) for ``problem``: each remedy once, except that
        ``lower_lr`` goes on lowering (up to ``LOWER_LR_TRIES`` times) while the measured update
        ratios are still above the range it aims for: one cut sized from the median layer may not
        be enough for the layer that overshoots."""
        uses = self._tried.get(problem, {}).get(remedy, 0)
        if remedy != "lower_lr" or uses == 0:
            return uses == 0
        ratios = self._latest_update_ratios()
        return uses < LOWER_LR_TRIES and bool(ratios) and max(ratios) > LOWER_TARGET

    def _apply_next(self, diagnosis: Diagnosis, remedies: tuple[str, ...]) -> TreatmentRecord | None:
        step = self.recorder.step - 1
        problem, layer = diagnosis.problem, diagnosis.layer
        uses = self._tried.setdefault(problem, {})
        # which remedy applies is found on a copy, so that a run is rolled back only to be treated
        chosen = None
        for remedy in remedies:
            if not self._may_try(problem, remedy):
                continue
            reason = self._ruled_out(problem, remedy, layer, diagnosis.evidence)
            if reason is None:
                model, optimizer = self._copies()
                options = self._options(remedy, diagnosis)
                trial = apply_remedy(remedy, model, optimizer, layer, **options)
                if trial.applied:
                    chosen = remedy
                    break
                reason = trial.description
            uses[remedy] = LOWER_LR_TRIES  # not applicable to this model: never tried again
            said = [t.description for t in self.treatments if t.step == step and t.problem == problem
                    and t.outcome == "skipped" and not t.description.endswith("for the same reason")]
            if said and said[-1].split(" skipped: ", 1)[-1] == reason.split(" skipped: ", 1)[-1]:
                reason = f"{remedy} skipped for the same reason"
            self.treatments.append(TreatmentRecord(step, self._epoch, problem, layer, remedy,
                                                   reason, False, outcome="skipped"))
        if chosen is None:
            note = (f"every remedy for {problem} was tried ({', '.join(remedies)}); the problem persists")
            exhausted = TreatmentRecord(step, self._epoch, problem, layer, None, note, False,
                                        outcome="exhausted")
            if problem == "non_finite":  # nothing left but to keep the last healthy weights
                exhausted.rolled_back_to, exhausted.wasted_steps = self._roll_back(self._snapshot)
                self.stop_reason = f"{note}; stopped with the weights of step {exhausted.rolled_back_to + 1}"
            self.treatments.append(exhausted)
            return None
        uses[chosen] = uses.get(chosen, 0) + 1
        target = self._snapshot
        if problem in NOTHING_LEARNED:
            target = self._origin  # by the rule's own measure nothing was learned since
        elif problem == "overfitting" and self._epoch_best is not None:
            # before memorizing began: the lowest validation loss since the last treatment; a run
            # that stops here keeps the epoch of its best validation metric (accuracy when measured)
            target = self._epoch_best[1]
            if chosen == "early_stopping" and self._metric_best is not None:
                target = self._metric_best[1]
        before = self._measure()
        back, wasted = self._roll_back(target)
        saved, clip = self._copies(), self.clip_grad_norm  # to undo the remedy if it does harm
        remedy = chosen
        options = self._options(remedy, diagnosis)
        treatment = apply_remedy(remedy, self.model, self.optimizer, layer, **options)
        self.model, self.optimizer = treatment.model, treatment.optimizer
        if treatment.clip_grad_norm is not None:
            self.clip_grad_norm = treatment.clip_grad_norm
        if remedy == "early_stopping":
            self.stop_reason = (f"early stopping (the treatment for {problem}): the weights of the best "
                                f"validation epoch of this recipe, epoch {target.epoch + 1}, were restored")
        record = TreatmentRecord(step, self._epoch, problem, layer, remedy, treatment.description, True,
                                 rolled_back_to=back, wasted_steps=wasted,
                                 outcome="resolved" if remedy == "early_stopping" else "pending")
        record.measured = {"metric": None, "before": before}
        self.treatments.append(record)
        self._start_segment()
        self._trial = {"record": record, "diagnosis": diagnosis, "remedies": remedies, "saved": saved,
                       "clip": clip, "start": self.recorder.step, "epochs": len(self.epoch_logs),
                       "age": wasted, "before": before, "checked": False}
        return record

    def _measure(self) -> dict[str, float]:
        """This recipe's outcome now: the latest epoch's validation accuracy and loss (when logged) and
        the mean training loss of its last ``LOSS_EMA_STEPS`` steps (inf when not finite)."""
        measured: dict[str, float] = {}
        logs = self.epoch_logs[self._epoch_start:] if self._epoch_start < len(self.epoch_logs) else []
        for name in ("val_accuracy", "val_loss"):
            value = logs[-1].get(name) if logs else None
            if value is not None and math.isfinite(value):
                measured[name] = float(value)
        losses = self.recorder.losses[self._loss_start:]
        if len(losses):
            mean = float(np.mean(losses[-rules.LOSS_EMA_STEPS:]))
            measured["loss"] = mean if math.isfinite(mean) else math.inf
        return measured

    def _compare(self, before: dict[str, float], after: dict[str, float],
                 remedy: str | None) -> dict[str, Any] | None:
        """The first outcome measured both before and after a treatment (validation accuracy, then
        validation loss, then training loss), with ``verdict`` "better", "same" or "worse" (beyond
        ``WORSE_ACCURACY``/twice the accuracy's sampling noise, or ``WORSE_LOSS``); None if none."""
        for name in ("val_accuracy", "val_loss", "loss"):
            if name not in before or name not in after or (
                    name == "loss" and remedy in CHANGES_TRAINING_LOSS):
                continue
            old, new = before[name], after[name]
            if name == "val_accuracy":
                n = self.samples[1] if self.samples and self.samples[1] else 0
                margin = max(WORSE_ACCURACY, 2 * math.sqrt(old * (1 - old) / n) if n else 0.0)
                gain = new - old
            else:
                margin = WORSE_LOSS * abs(old) if math.isfinite(old) else math.inf
                gain = old - new if math.isfinite(old) or not math.isfinite(new) else math.inf
            verdict = "better" if gain > 0 else "worse" if gain < -margin else "same"
            return {"metric": name, "before": old, "after": new, "verdict": verdict}
        return None

    def _check_harm(self) -> None:
        """Once the latest treatment has trained as long as the recipe it replaced did after the state
        both started from, and for ``CONFIRM_STEPS`` steps or ``HARM_EPOCHS`` epochs at least, compare
        their measured outcomes (the treated recipe's now, the other's when it was treated); a treatment
        that made things worse is marked ``worse``, to be undone by the next ``treat``, which then
        tries the next remedy (``undo_pending``)."""
        trial = self._trial
        if trial is None or trial["checked"] or trial["record"].outcome != "pending":
            return
        steps, epochs = self.recorder.step - trial["start"], len(self.epoch_logs) - trial["epochs"]
        if steps < trial["age"] or (steps < CONFIRM_STEPS and epochs < HARM_EPOCHS):
            return
        trial["checked"] = True
        comparison = self._compare(trial["before"], self._measure(), trial["record"].remedy)
        if comparison is None or comparison["verdict"] != "worse":
            return
        record = trial["record"]
        record.outcome = "worse"
        record.measured = {k: comparison[k] for k in ("metric", "before", "after")}
        self._undo, self._trial = trial, None

    def _undo_trial(self) -> TreatmentRecord | None:
        """Undo the treatment found harmful: the model (in place: the training loop holds it), the
        optimizer and the clipping as they were just before its remedy; then the next remedy."""
        trial, self._undo = self._undo, None
        model, optimizer = trial["saved"]
        self.model.__dict__.clear()
        self.model.__dict__.update(model.__dict__)
        self.optimizer, self.clip_grad_norm = optimizer, trial["clip"]
        wasted = self.recorder.step - trial["start"]
        self._start_segment()
        record = self._apply_next(trial["diagnosis"], trial["remedies"])
        if record is None:
            return trial["record"]  # nothing left to try: the run goes on from the state before it
        record.rolled_back_to = trial["record"].rolled_back_to
        record.wasted_steps += wasted
        return record

    def _options(self, remedy: str, diagnosis: Diagnosis | None = None) -> dict[str, Any]:
        """The learning-rate remedies move the rate by as much as the update ratios say.

        A step's update is proportional to the learning rate (for SGD, momentum, Adam, RMSprop
        alike), so scaling the rate by ``target / ratio`` brings the update-to-weight ratio to the
        target, read on the median layer (one odd layer, such as the small first layer of a net on
        2-D inputs, does not decide): 2e-2 when lowering (the upper quartile of the median-layer
        ratios of healthy first steps in the clinic's dev split), 5e-3 when raising (their median).
        Lowering is by 10x at least, raising by 10x at least. Without measured ratios the factor is 10.
        If the problem returns, ``lower_lr`` is applied again while the ratios stay above the target
        (``LOWER_LR_TRIES``): a search down from the first, measured cut.
        """
        if remedy == "fix_output_loss" and diagnosis is not None:
            return {"case": diagnosis.evidence.get("case"), "loss": diagnosis.evidence.get("loss")}
        if remedy == "standardize_inputs" and self._input_stats() is not None:
            scale = self._input_stats()["scale"]
            return {"mean": self._input_stats()["mean"], "scale": np.where(scale > 0, scale, 1.0)}
        if remedy not in ("lower_lr", "higher_lr"):
            return {}
        ratios = self._latest_update_ratios()
        if remedy == "lower_lr":
            factor = LOWER_TARGET / float(np.median(ratios)) if ratios else 0.1
            return {"factor": min(max(factor, 1e-4), 0.1)}
        factor = RAISE_TARGET / float(np.median(ratios)) if ratios else 10.0
        return {"factor": min(max(factor, 10.0), 1e6)}

    def _latest_update_ratios(self) -> list[float]:
        """The finite, positive update-to-weight ratios of the newest probe whose update is known."""
        return next(([layer.update_ratio for layer in record.layers
                      if layer.update_ratio is not None and math.isfinite(layer.update_ratio)
                      and layer.update_ratio > 0]
                     for record in reversed(self.recorder.records)
                     if any(layer.update_ratio is not None for layer in record.layers)), [])

    def _ruled_out(self, problem: str, remedy: str, layer: str | None,
                   evidence: dict[str, Any] | None = None) -> str | None:
        """Why the evidence rules ``remedy`` out for ``problem`` (the mechanism points elsewhere), or None."""
        records = self.recorder.records
        if problem == "exploding_gradients" and remedy == "batchnorm" and (evidence or {}).get(
                "cause") == "learning_rate":
            growth = rules._fmt(evidence["gradient_growth"])
            return (f"batchnorm skipped: the gradient does not grow from layer to layer (the first layer's "
                    f"is {growth}x the last's), so the updates are too large because of the learning rate, "
                    "not the signal")
        first = records[self._record_start] if len(records) > self._record_start else None
        if problem == "dead_relu" and remedy in ("lower_lr", "leaky_relu") and first is not None:
            # units already silent on the first batch the recipe saw were not killed by its steps:
            # their initial weights and biases hold them below zero
            activation = next((a for a in first.activations if a.name == layer), None)
            fired = None if activation is None else activation.fired
            silent = 1.0 - np.count_nonzero(fired) / fired.size if fired is not None and fired.size else 0.0
            if silent >= rules.DEAD_SHARE:
                return (f"{remedy} skipped: {silent:.0%} of the units were "
                        "silent on the first batch, before any update: their initial weights and biases "
                        "are the cause, which He initialization (zero biases) resets")
        if problem == "exploding_gradients" and remedy != "he_init" and first is not None:
            # the course page's mechanism: large weights make products of large terms; when the
            # weights the recipe started from are far above their initialization scale, that is
            # the cause, and fresh weights of the right scale the cure
            oversized = _oversized(first)
            if oversized:
                what, gain = oversized
                return (f"{remedy} skipped: from the start, {what}; together they amplify the signal "
                        f"about {gain:.2g}x: the products of large terms begin at the initialization, "
                        "which He initialization resets")
        if problem == "exploding_gradients" and remedy == "batchnorm" and first is not None:
            # BatchNorm tames activations that grow layer after layer; when they are of ordinary
            # size and the updates are still huge, the step (the learning rate) is too large
            latest = records[-1]
            sizes = [a.std for a in latest.activations if math.isfinite(a.std)]
            saturated = [a.saturated_share or 0.0 for a in latest.activations]
            calm = max(saturated, default=0.0) < rules.SATURATED_SHARE
            if sizes and max(sizes) < ORDINARY_ACTIVATION and calm:
                return (f"batchnorm skipped: the activations are of ordinary size (std at most "
                        f"{max(sizes):.3g}), so the updates are too large because of the learning rate, "
                        "not the signal")
        if (problem == "saturated_activations" and remedy != "he_init" and first is not None
                and not self._unscaled_inputs(layer)):
            # weights far too large push the pre-activations into the flat regions: the scale of
            # the initialization is the cause, and its reset keeps the activations the model chose
            oversized = _oversized(first)
            if oversized:
                what, gain = oversized
                return (f"{remedy} skipped: from the start, {what}; together they amplify the signal "
                        f"about {gain:.2g}x, which pushes the units into their flat regions: He "
                        "initialization resets the scale")
        if (problem == "saturated_activations" and remedy in ("relu", "batchnorm")
                and self._unscaled_inputs(layer) and isinstance(self.model, Sequential)):
            spread, offset = self._input_stats()["spread"], self._input_stats()["offset"]
            return (f"{remedy} skipped: the first layer saturates because the inputs are not "
                    f"standardized (a feature's standard deviation reaches {spread:.3g}, a mean "
                    f"{offset:.3g}); standardizing them treats the cause")
        return None

    def _input_stats(self) -> dict[str, Any] | None:
        """Per-feature mean and standard deviation of the training inputs, and the largest of each
        (``spread``, ``offset``), computed when first needed."""
        if self._stats is None and self._raw_inputs is not None:
            scaler = StandardScaler().fit(np.asarray(self._raw_inputs, dtype=np.float64))
            scale = np.sqrt(scaler.var_)
            self._stats = {"mean": scaler.mean_, "scale": scale, "spread": float(np.max(scale)),
                           "offset": float(np.max(np.abs(scaler.mean_)))}
        return self._stats

    def _unscaled_inputs(self, layer: str | None) -> bool:
        """Whether ``layer`` is the first activation and the training inputs are not standardized."""
        stats = self._input_stats()
        if stats is None:
            return False
        first_activation = self.recorder.probe.activation_modules[:1]
        return (bool(first_activation) and first_activation[0][0] == layer
                and max(stats["spread"], stats["offset"]) > INPUT_SCALE)

    def _roll_back(self, snapshot: Snapshot) -> tuple[int, int]:
        self._restore(snapshot)
        step = self.recorder.step
        return snapshot.step, max(step - snapshot.step, 0)

    def _start_segment(self) -> None:
        """After a treatment: the detectors start afresh on the treated model, whose current state
        becomes the one to roll back to if the next remedy is needed."""
        recorder = self.recorder
        if self._run_start == (None, None):
            first = recorder.losses[:rules.LOSS_EMA_STEPS]
            first = first[np.isfinite(first)]
            self._run_start = ((float(first[:5].mean()), float(first.mean())) if first.size
                               else (None, None))
        recorder.restart(self.model, follow_up=rules.DEAD_WINDOW)  # each probe rule's window fills once
        self._quiet_until = 0
        self._dropout_rates = [m.p for m in self.model.modules() if isinstance(m, Dropout)]
        self._loss_start = len(recorder.losses)
        self._record_start = len(recorder.records)
        self._epoch_start = len(self.epoch_logs)
        self._active, self._episodes = {}, {}
        self._diagnosis_start = len(self.diagnoses)
        self._epoch_best = self._metric_best = None
        self._running_best = None
        self._skeleton = None
        self._looking, self._cleared = set(), set()
        self._snapshot = self._origin = self._take_snapshot(recorder.step, self._epoch)

    @property
    def wasted_steps(self) -> int:
        """Steps whose progress roll-backs discarded, over the whole run."""
        return sum(t.wasted_steps for t in self.treatments)

    def make_up_epochs(self, steps_per_epoch: int, planned_epochs: int) -> int:
        """Epochs to add to a run of ``planned_epochs`` to give back the discarded steps (at least as
        many, and at most ``make_up`` times the plan)."""
        if not self.repair or steps_per_epoch <= 0:
            return 0
        return min(math.ceil(self.wasted_steps / steps_per_epoch), int(self.make_up * planned_epochs))

    def finish(self) -> list[Diagnosis]:
        """End of the run (``fit`` calls it; call it after a hand-written loop): the loss rules read
        the steps since their last run, and a treatment whose problem did not come back is
        ``resolved`` when the run went on long enough for the rules to see it again
        (``CONFIRM_STEPS``), else ``unconfirmed``. Returns the diagnoses that are new."""
        new: list[Diagnosis] = []
        recorder = self.recorder
        steps = recorder.step if recorder else 0
        # the steps since the loss rules last ran, if they are enough to move the smoothed loss
        if recorder is not None and steps - 1 >= self._last_loss_check + rules.LOSS_EMA_STEPS and (
                not self.stop_reason) and not self._off:
            try:
                new = self._report(self._loss_rules(steps - 1), steps - 1, self._epoch, "loss")
            except Exception as err:
                self._failed("finish", err, steps - 1)
        again = {d.problem for d in new if d.escalated_from is None}
        for record in self.treatments:
            if record.outcome == "pending":
                watched = steps - record.step - 1
                record.outcome = ("returned" if record.problem in again
                                  else "resolved" if watched >= CONFIRM_STEPS else "unconfirmed")
                trial = self._trial if self._trial is not None and self._trial["record"] is record else None
                comparison = None if trial is None else self._compare(trial["before"], self._measure(),
                                                                      record.remedy)
                if comparison is not None:
                    record.measured = {k: comparison[k] for k in ("metric", "before", "after")}
                    if record.outcome == "resolved" and comparison["verdict"] == "worse":
                        record.outcome = "worse"  # gone from the rule's view, but the run is worse off
        self.close()
        return new

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()

    def note_stop(self, reason: str, step: int, epoch: int) -> list[Diagnosis]:
        """``fit`` says the run stopped on NaN/Inf (``reason``, at 0-based ``step``): a run that did is
        never healthy, so unless this run was already diagnosed ``non_finite`` it is now (critical).
        Returns the diagnoses that are new."""
        if any(d.problem == "non_finite" for d in self.diagnoses):
            return []
        finding = rules.Finding("non_finite", None, None, "critical", {"stop_reason": reason},
                                f"training stopped on non-finite values at step {step + 1}: {reason}.")
        return self._report([finding], step, epoch, "stop")

    def _rule(self, name: str, rule: Any, *args: Any) -> list[Any]:
        """Run one detector; one that raises is reported once and skipped for the rest of the run."""
        if name in self._disabled:
            return []
        try:
            return rule(*args)
        except Exception as err:
            self._disabled.add(name)
            self._failed(f"rule {name}", err)
            return []

    def _failed(self, where: str, err: BaseException, step: int | None = None) -> None:
        """Record an internal error of the doctor (``errors``; ``History.doctor_errors`` in ``fit``)."""
        if step is None:
            step = max(self.recorder.step - 1, 0) if self.recorder else 0
        self.errors.append({"step": int(step), "epoch": int(self._epoch), "where": where, "error": repr(err)})
        if self.verbose and sum(e["where"] == where for e in self.errors) == 1:
            print(f"Doctor: internal error in {where} at step {step + 1}: {err!r}; the run goes on "
                  "without it", file=sys.stderr)

    def _drain_probe_errors(self) -> None:
        probe = self.recorder.probe if self.recorder else None
        while probe is not None and probe.errors:
            name, err = probe.errors.pop(0)
            self._failed(f"probe {name}", err)  # its hook ran in the forward pass of the step just observed

    def _turn_off(self) -> None:
        """After a failure in a part every step needs: record losses only, hooks detached."""
        self._off = True
        try:
            if self.recorder is not None:
                self.recorder.close()
        except Exception as err:  # pragma: no cover - closing only removes hooks
            self._failed("close", err)

    # -- reporting ----------------------------------------------------------------------------
    def summary(self) -> str:
        """A readable table of the diagnoses (and of the doctor's own errors, if any)."""
        errors = [f"- internal doctor error in {e['where']} at step {e['step'] + 1}: {e['error']}; "
                  "the run went on without it" for e in self.errors]
        if not self.diagnoses:
            steps = self.recorder.step if self.recorder else 0
            if errors:
                return "\n".join([f"No problems found in {steps} steps, but the doctor did not watch all of "
                                  "it:", *errors])
            return f"No problems found in {steps} steps."
        rows = [("step", "severity", "problem", "where", "first remedy")]
        story = self.causal_order()  # each cause first, what it caused indented below it
        for d, depth in story:
            remedy = f"(treat {d.caused_by['problem']})" if d.caused_by else d.remedies[0][0]
            where = d.layer_label or "whole model"
            rows.append((str(d.step + 1), d.severity, "  " * depth + d.problem, where, remedy))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                 for row in rows]
        lines.insert(1, "  ".join("-" * width for width in widths))
        details = [f"{'  ' * depth}- {d}" for d, depth in story]
        treated = ["", "Treatments:", *(f"- {t}" for t in self.treatments)] if self.treatments else []
        failed = ["", "Internal doctor errors:", *errors] if errors else []
        return "\n".join([*lines, "", *details, *treated, *failed])

    def to_json(self) -> str:
        return json.dumps({"every": self.every or "default", "repair": self.repair,
                           "diagnoses": [d.to_dict() for d in self.diagnoses],
                           "treatments": [t.to_dict() for t in self.treatments],
                           "errors": self.errors}, default=float)
