"""The Doctor: watches a run and turns the detectors' findings into diagnoses; with ``repair=True`` it
also treats the run (``repair.Repairing``: roll back to the last healthy state, apply the next remedy,
undo one that did harm).

Its parts: the ``Recorder`` (the schedule: when to probe, and the per-step losses), the checks
(``checking.Checking``: which family of the rules table runs when, on what evidence), the rules table
(``table``, its detectors in ``rules`` and ``checks``), ``Episodes`` (each problem said once per
episode, causes first), repair (``repair.Repairing``), and the model's adapter
(``adapter.ModelAdapter``), the only part that knows the framework: it measures the model, describes
it, snapshots and restores it and applies the remedies. This class is the facade: the public API
(``attach``, ``observe``, ``end_epoch``, ``finish``, ``treat``, ``summary``), the run's state, and
the guard that keeps a failing part of the doctor from ending the run.

A doctor that fails never ends the run it watches: a rule that raises is skipped for the rest of the
run, a failing probe hook stops measuring its layer, a failure elsewhere in ``observe`` leaves only
the losses recorded, one in a treatment stops repairs; each is listed in ``errors`` (``fit``:
``History.doctor_errors``) and in ``summary()``. A run that ``fit`` stopped on NaN/Inf is
diagnosed ``non_finite`` (``note_stop``), and one whose loss ended far above its start ``unstable_loss``
(``rules.diverged``): neither is ever reported healthy.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import numpy as np

from retroprop.doctor import rules, table
from retroprop.doctor.adapter import ModelAdapter, adapter_for, optional_member
from retroprop.doctor.checking import LOSS_CHECK_FIRST, Checking, Movement
from retroprop.doctor.diagnosis import Diagnosis, consequences_of
from retroprop.doctor.episodes import Episodes
from retroprop.doctor.recorder import Recorder
from retroprop.doctor.repair import Repairing
from retroprop.doctor.table import Evidence


def _numeric(data: Any) -> np.ndarray | None:
    """``data`` as a NumPy array of numbers with at least one row, else None (what cannot be read as
    one is left out of the checks that compare data sets, not an error)."""
    try:
        array = np.asarray(data)
    except Exception:
        return None
    if array.ndim == 0 or not len(array) or array.dtype.kind not in "biuf":
        return None
    return array


def _same_data(first: Any, second: Any) -> bool:
    """Whether two data sets are the same values. Different data sets of one shape differ in their first
    rows as a rule, so those are compared before the whole (which costs a pass over both)."""
    if first is second:
        return True
    if np.shape(first) != np.shape(second):
        return False
    first, second = np.asarray(first), np.asarray(second)
    if first.ndim and len(first) > 1 and not np.array_equal(first[:1], second[:1]):
        return False
    return bool(np.array_equal(first, second))


class Doctor(Checking, Repairing):
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

    The doctor touches the model only through its adapter (``adapter.ModelAdapter``, made by
    ``adapter.adapter_for``): a retroprop model gets ``RetropropAdapter``; ``model`` may also be an
    adapter (then it brings its own optimizer).
    """

    def __init__(self, model: Any = None, optimizer: Any = None, *,
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
        self.shuffle: bool | None = None  # set by the shuffle remedy; fit applies it
        self.batch_size: int | None = None
        self._raw_inputs: Any = None
        self._raw_targets: Any = None
        self._loss_kind: str | None = None
        self._loss_given = False  # whether the setup handed the loss itself (fit does)
        self._adaptive = False
        self._validation_is_training = False
        self.samples: tuple[int, int] | None = None
        self.lr_scheduled = False
        self.planned_steps: int | None = None  # the steps the run will take, when known (attach's steps)
        self._new_run()
        self.adapter: ModelAdapter | None = None
        self._optimizer = optimizer  # until a model is attached
        if model is not None:
            self.attach(model, optimizer)

    def _new_run(self) -> None:
        """Forget the run watched so far: its records, diagnoses, treatments and schedules (the
        clipping a remedy set stays: it is part of the treated recipe, which ``fit`` applies)."""
        self._new_repairs()  # treatments, snapshots, the best model (``repair.Repairing``)
        self.epoch_logs: list[dict[str, float]] = []
        self._epoch_count = 0  # the epoch of steps observed without one: end_epoch calls so far
        self.episodes = Episodes()  # the diagnoses, each problem once per episode, causes first
        self.diagnoses = self.episodes.diagnoses
        self.passed = self.episodes.passed  # diagnoses of problems the run left by itself, untreated
        self._setup: list[rules.Finding] = []  # the static checks' findings, reported at the first step
        self._held: list[rules.Finding] = []  # of those, the ones held until the run shows their cost
        # what the data allows, once measured: the task it was measured for, and the yardstick
        self._yardstick: tuple[str | None, dict[str, Any] | None] | None = None
        self._setup_data: tuple = (None, None, None, None, None, None)
        self._chance_given = False
        self._seen_output: dict[str, Any] | None = None  # ``complete_setup``'s output layer
        self._loss_broadcast: Any = None  # ``complete_setup``'s broadcast, seen under a loss given
        self._unregistered: dict[str, Any] | None = None  # ``complete_setup``'s unregistered tensors
        self._setup_loss: Any = None  # the loss the setup was checked with
        self._validation_checked = False  # ``check_validation`` has run
        self._evaluation_checked = False  # ``check_evaluation`` has run
        # internal errors: a rule, probe or step of the doctor that raised; the run went on without it
        self.errors: list[dict[str, Any]] = []
        self._disabled: set[str] = set()  # the rules that raised (skipped for the rest of the run)
        self._off = False  # True once a part that every step needs (recorder, probes) raised
        self._running_best: rules.EpochBest | None = None  # the epoch rules' running best, this recipe
        self._probe_lrs: dict[int, tuple[float, ...]] = {}  # probed step -> the learning rates then
        self._loss_start = 0  # the current segment (since the last treatment) starts here
        self._record_start = 0
        self._epoch_start = 0
        self._run_start: tuple[float | None, float | None] = (None, None)
        self._run_from = 0  # the step the run's start loss is read from (a fresh restart moves it)
        self._movement = Movement()  # how far this recipe's steps have moved the weights, in all
        self._unconfirmed: tuple[list[dict[str, Any]], Any] | None = None  # a large update to confirm
        self._parameters: int | None = None  # the model's parameter count (0: the adapter cannot say)
        self._batchnorm: list[dict[str, Any]] = []  # this recipe's latest two batchnorm_losses measures
        self._sample_rows: tuple[Any, Any] | None = None  # the training rows they are measured on
        self._input_rows: np.ndarray | None = None  # the targets' rows the inputs hold, when a sample
        self._fit: list[dict[str, Any]] = []  # this recipe's latest two rules.prediction_fit measures
        self._majority: float | None = None  # the most frequent training class's share (nan: not known)
        self._fit_start: dict[str, Any] | None = None  # and the one at its first step
        self._epoch = 0
        self._checked = 0  # losses before this step were checked for NaN/Inf already
        self._unknown_losses = 0  # steps observed with no loss (``observe(None)``)
        self._last_loss_check = 0
        self._next_loss_check = LOSS_CHECK_FIRST
        self._quiet_until = 0  # steps before this one need only their loss (``quiet_steps``)
        # a quiet step whose loss exceeds this is observed in full (``Checking._alarm``); set from the
        # recipe's first loss
        self.loss_alarm = math.inf
        self._looking: set[str] = set()  # symptoms under a close look (denser probes)
        self._cleared: set[str] = set()  # symptoms a close look found transient, while they last

    @property
    def model(self) -> Any:
        """The model watched (the framework's own object; a treatment may change it in place)."""
        return None if self.adapter is None else self.adapter.model

    @property
    def optimizer(self) -> Any:
        """The optimizer of the run: after a treatment, go on with this one (it may be a new one)."""
        return self._optimizer if self.adapter is None else self.adapter.optimizer

    @optimizer.setter
    def optimizer(self, optimizer: Any) -> None:
        if self.adapter is None:
            self._optimizer = optimizer
        else:
            self.adapter.optimizer = optimizer

    def attach(self, model: Any, optimizer: Any = None, *, chance_loss: float | None = None,
               inputs: Any = None, samples: tuple[int, int] | None = None,
               lr_scheduled: bool = False, validation_inputs: Any = None, loss: Any = None,
               targets: Any = None, n_classes: int | None = None, batch_size: int | None = None,
               steps: int | None = None, validation_targets: Any = None,
               shuffled: bool | None = None, input_rows: Any = None) -> None:
        """Start watching ``model`` (a model, or a ``ModelAdapter``; ``fit`` does this): a new run, with
        fresh records, diagnoses and treatments (an earlier run's stay in its ``History``).
        ``chance_loss``: the loss of a blind guess (ln C for a C-class cross-entropy), the mark for 'has
        not learned anything'. ``inputs``: the training inputs, whose per-feature scale a repair may
        need (``standardize_inputs``).
        ``samples``: the training and validation sample counts (the overfitting rule weighs an
        accuracy gap against its sampling noise). ``lr_scheduled``: a schedule may raise the learning
        rate later (a warm-up), so small early steps are deliberate, not a sign of a rate too small.
        ``validation_inputs``: the validation inputs; when they are the training inputs themselves, a
        gap between the two is no evidence of memorizing and ``overfitting`` is not looked for.
        ``validation_targets``: the validation targets, whose classes are checked against the training
        targets' (``validation_mismatch``). ``shuffled``: whether each epoch draws the training samples
        in a new random order (``fit``'s ``shuffle``); None when unknown. With False, the order of
        ``targets`` is the order they are trained in (``unshuffled_data``).
        ``loss`` (a loss module, function or fit's name for it), ``targets`` and ``n_classes`` (None for
        a regression) let the setup be checked before the first step (``checks``: the output against
        the loss, stacked Linear layers, the scale of inputs and targets); what those checks find is
        reported at the first ``observe``; for a regression under ``mse`` or ``l1`` (mean reduction)
        without a ``chance_loss``, the loss of predicting the targets' mean (or median) takes its place.
        ``batch_size``: the samples per step. ``steps``: the steps the run will take, when known
        (``fit`` passes its epochs times its batches per epoch): a run that will end before its loss
        can fall is then named while there is time to treat it, not only at ``finish``. ``input_rows``:
        the rows of ``targets`` that ``inputs`` hold, when the inputs are a sample of the training set
        and the targets all of it (``retroprop.torch`` reads at most ``checks.SAMPLE_ROWS`` inputs of a
        loader's dataset): the checks that pair inputs with their targets read those rows."""
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, (int, np.integer))
                                  or steps < 0):
            raise ValueError(f"Doctor.attach: steps must be an int >= 0 (the steps the run will take) or "
                             f"None, got {steps!r}")
        adapter = adapter_for(model, optimizer)
        if self.repair and adapter.optimizer is None:
            raise ValueError("Doctor(repair=True) needs the optimizer: Doctor(model, optimizer, repair=True)")
        if self.recorder is not None:
            self.close()
            self._new_run()
        self.adapter = adapter
        self.recorder = Recorder(adapter, every=self.every)
        self._dropout_rates = adapter.dropout_rates()
        self.chance_loss = chance_loss
        self.samples = samples
        self.lr_scheduled = bool(lr_scheduled)
        # (N, features) rows, or (N, C, ...) samples whose channels are the features
        self._raw_inputs = inputs if np.ndim(inputs) >= 2 and len(inputs) else None
        self._input_rows = None if input_rows is None or self._raw_inputs is None else np.asarray(input_rows)
        self.batch_size = batch_size
        self._setup_data = (targets, n_classes, inputs, validation_inputs, validation_targets, shuffled)
        self._setup_loss = loss
        from retroprop.doctor.checks import unstepped

        found = optional_member(adapter, "optimizer_coverage")  # an optimizer of another model's weights
        self._unregistered = found if unstepped(found) else None
        self._setup = self._check_setup(loss, *self._setup_data)
        self._chance_given = chance_loss is not None
        self._guess_chance(loss, targets, n_classes)
        self.planned_steps = None if steps is None else int(steps)
        self._validation_is_training = validation_inputs is not None and inputs is not None and (
            _same_data(validation_inputs, inputs))
        if self.repair:
            self._new_recipe(0, 0)  # the initial state is the first to roll back to

    def _guess_chance(self, loss: Any, targets: Any, n_classes: int | None) -> None:
        """Without a given ``chance_loss``, a mean-reduced regression or binary loss's blind guess (the
        targets' mean or median)."""
        from retroprop.doctor.checks import BINARY_LOSSES, mean_guess_loss

        if (not self._chance_given and (n_classes is None or self._loss_kind in BINARY_LOSSES)
                and getattr(loss, "reduction", "mean") == "mean"):
            self.chance_loss = mean_guess_loss(self._loss_kind, targets)

    def complete_setup(self, loss: Any = None, output: dict[str, Any] | None = None,
                       width: int | None = None, *, inputs: Any = None, targets: Any = None,
                       inputs_transformed: bool = False, classes_guessed: bool = False,
                       broadcast: Any = None, unregistered: dict[str, Any] | None = None) -> bool:
        """What the setup lacked, found once the first step has run (``retroprop.torch`` reads it from
        the first forward pass and the first loss's autograd graph): the setup is checked again with it
        before the first step is observed. Returns whether anything was taken: nothing after the first
        ``observe``, nor what ``attach`` was given.

        ``loss``: the loss (when ``attach`` had none); a mean categorical loss then gets its blind
        guess's ln C, C the ``n_classes`` given, else the output's ``width`` (a cross-entropy scores one
        output per class). ``output``: a layer dict (as ``describe`` gives) for what the graph shows the
        model's output went through last, appended to the described layers when these do not say.
        ``inputs``, ``targets``: one batch of them (when ``attach`` had none), read for their scale only
        (``checks.check_setup``'s ``inputs_sample``, ``targets_sample``). ``inputs_transformed``: the
        inputs ``attach`` was given are not what the model takes (the loop transforms them): the batch
        ``inputs`` takes their place, and the validation inputs given beside them are set aside.
        ``classes_guessed``: the ``n_classes`` given was read from integer targets that the loss shows
        to be no class indices: it is set aside. ``broadcast``: (the output's shape, the compared
        shape) when the loss ``attach`` was given broadcast the output against targets of another shape
        (a loss found here carries its own). ``unregistered``: the trainable tensors the graph of the
        model's first output reaches outside the model's and the optimizer's parameters (``tensors``,
        ``entries``, ``shapes``; ``checks.unregistered_parameters``)."""
        if self.recorder is None or self.recorder.step:  # every observe counts a step
            return False
        from retroprop.doctor.checks import CATEGORICAL_LOSSES, unstepped

        given_targets, n_classes, given_inputs, validation_inputs, *rest = self._setup_data
        if inputs_transformed and inputs is not None:
            given_inputs = validation_inputs = None
        if classes_guessed:
            n_classes = None
        take_loss = loss is not None and not self._loss_given
        inputs_sample = given_inputs is None and inputs is not None and np.ndim(inputs) >= 2 and len(inputs)
        targets_sample = given_targets is None and targets is not None
        take_broadcast = broadcast is not None and self._loss_given and self._loss_broadcast is None
        take_unregistered = bool(unregistered and (unregistered.get("tensors") or unstepped(unregistered))
                                 ) and self._unregistered is None
        if not (take_loss or inputs_sample or targets_sample or classes_guessed or take_broadcast
                or take_unregistered):
            return False
        if take_unregistered:
            self._unregistered = dict(unregistered)
        if take_broadcast:
            self._loss_broadcast = broadcast
        self._setup_data = (given_targets, n_classes, given_inputs, validation_inputs, *rest)
        if take_loss:
            self._seen_output, self._setup_loss = output, loss
        if inputs_sample:
            self._raw_inputs, self._input_rows = inputs, None
        self._setup = self._check_setup(
            self._setup_loss, targets if targets_sample else given_targets, n_classes,
            inputs if inputs_sample else given_inputs, validation_inputs, *rest,
            inputs_sample=bool(inputs_sample), targets_sample=targets_sample)
        if take_loss or classes_guessed:
            self._guess_chance(self._setup_loss, given_targets, n_classes)  # a regression's, whole targets
            classes = n_classes or width
            mean = getattr(loss, "reduction", "mean") == "mean"
            if self._loss_kind in CATEGORICAL_LOSSES and mean and not self._chance_given and classes and (
                    classes >= 2):
                self.chance_loss = math.log(classes)
        return True

    def _check_setup(self, loss: Any, targets: Any, n_classes: int | None, inputs: Any = None,
                     validation_inputs: Any = None, validation_targets: Any = None,
                     shuffled: bool | None = None, *, inputs_sample: bool = False,
                     targets_sample: bool = False) -> list[rules.Finding]:
        """The static checks' findings on this setup (``checks.check_setup``)."""
        try:
            from retroprop.doctor.checks import REGRESSION_LOSSES, check_setup

            adapter = self.adapter
            adaptive = adapter.adaptive
            y = targets if targets is not None and np.ndim(targets) in (1, 2) and len(targets) else None
            self._loss_kind = None if loss is None else adapter.describe_loss(loss)
            self._loss_given = loss is not None
            self._adaptive = bool(adaptive)
            # a regression's whole targets, for standardize_targets
            self._raw_targets = y if n_classes is None and not targets_sample else None
            traced = getattr(adapter, "describe_traced", None)  # optional in the adapter interface
            layers = (traced(self._raw_inputs) if traced is not None and self._raw_inputs is not None
                      and not inputs_sample else adapter.describe())
            if self._seen_output is not None:
                layers = [*layers, self._seen_output]
            broadcast = getattr(loss, "broadcast", None) or self._loss_broadcast
            scored = getattr(adapter, "loss_broadcast", None)  # optional in the adapter interface
            if broadcast is None and scored is not None and self._loss_kind in REGRESSION_LOSSES and (
                    not targets_sample):  # a loss whose shapes are not recorded: its value on a few rows
                broadcast = self._rule("loss_broadcast", scored, loss, self._loss_kind, self._raw_inputs,
                                       y) or None
            coupled = getattr(adapter, "loss_rows_coupled", None)  # optional in the adapter interface
            rows_coupled = (self._rule("loss_rows_coupled", coupled, loss, self._raw_inputs, y) or None
                            if coupled is not None and loss is not None and self._loss_kind is None
                            and not targets_sample else None)  # a custom loss: does it score rows alone?
            found = check_setup(layers, self._loss_kind, self._raw_inputs, y, n_classes,
                                adaptive, validation_inputs=_numeric(validation_inputs),
                                raw_inputs=_numeric(inputs), validation_targets=_numeric(validation_targets),
                                batch_size=self.batch_size, shuffled=shuffled,
                                unit_symmetry=optional_member(adapter, "unit_symmetry"),
                                batchnorm_momenta=optional_member(adapter, "batchnorm_momenta"),
                                dropout_rates=self._dropout_rates, maximize=any(
                                    group.get("maximize") for group in getattr(adapter.optimizer,
                                                                                "param_groups", ())),
                                inputs_sample=inputs_sample, targets_sample=targets_sample,
                                loss_broadcast=broadcast, loss_rows_coupled=rows_coupled,
                                unregistered=self._unregistered)
        except Exception as err:
            self._failed("checks", err, 0)
            return []
        return found

    def observe(self, loss: Any, epoch: int | None = None, *, grads_finite: bool = True,
                rerun: Any = None) -> list[Diagnosis]:
        """Record one step; returns the diagnoses that are new at this step.

        Call it once per step, after ``loss.backward()`` and before ``optimizer.step()``, with the
        step's loss (a Tensor or a float), or None when the loss is not known (``retroprop.torch.watch``
        without ``observe``): such a step is probed as any other, but once a step's loss is unknown the
        rules on the loss (and the loss's NaN/Inf check) are off for the run; the layer rules still run,
        without the loss's evidence that a network learns well. ``epoch`` (0-based) defaults to the
        doctor's count of ``end_epoch`` calls. ``grads_finite=False`` says the step's gradients hold
        NaN/Inf although the loss may not. When a step that was not due for a probe is non-finite, it is
        probed after the fact to find the layer where NaN/Inf began; ``rerun()``, when given, runs that
        step's forward pass again so that its activations are seen too (``fit`` passes one).
        """
        recorder = self.recorder
        if recorder is None:
            raise RuntimeError("Doctor.observe: no model attached; create Doctor(model, optimizer) first")
        epoch = self._epoch_count if epoch is None else epoch
        self._epoch = epoch
        if grads_finite and recorder.step < self._quiet_until:
            if type(loss) is float and loss - loss == 0.0 and loss <= self.loss_alarm:
                recorder.record_loss(loss)  # the common step: nothing but its (finite) loss is needed
                return []
            if loss is None:
                self._unknown_losses += 1
                recorder.record_loss(math.nan)  # nothing is due: the unknown loss is all there is
                return []
        if loss is None:
            self._unknown_losses += 1
        step = recorder.step
        if not self._off:
            try:
                setup, self._setup = self._setup, []
                if setup and self.losses_known:  # the losses will show what a scale costs
                    self._held += [f for f in setup if table.held_until(f)]
                    setup = [f for f in setup if not table.held_until(f)]
                new = self._report(setup, step, epoch, "setup") if setup else []
                new += self._observe(loss, epoch, grads_finite, rerun)
                self._drain_probe_errors()
                self._quiet_until = recorder.step + self.quiet_steps()
                return new
            except Exception as err:  # a failing doctor must never end the training it watches
                self._failed("observe", err, step)
                self._turn_off()
        if recorder.step == step:  # the step is still counted, so later records line up
            recorder.record_loss(math.nan if loss is None else float(
                loss.item() if hasattr(loss, "item") else loss))
        return []

    @property
    def losses_known(self) -> bool:
        """Whether every step so far was observed with its loss (else the loss rules are off)."""
        return self._unknown_losses == 0

    def quiet_steps(self) -> int:
        """How many of the coming steps need nothing but their loss, as long as it is finite (no
        probe and no loss rule is due in them). ``fit`` records such a step with
        ``doctor.recorder.record_loss(loss)`` and calls ``observe`` for the others (and for a step
        whose loss is above ``loss_alarm``); ask again after every ``observe``, ``end_epoch`` or
        ``treat``."""
        recorder = self.recorder
        if recorder is None:
            return 0
        if self._off:
            return 1 << 40  # only the losses are recorded now
        if self._unconfirmed is not None and self.losses_known:
            return 0  # each loss may confirm a large update (``Checking._confirm_update``): a few steps
        loss_due = self._next_loss_check - recorder.step if self.losses_known else 1 << 40  # none: unknown
        return max(min(recorder.quiet_steps(), loss_due), 0)

    def _measure(self) -> dict[str, float]:
        """The recipe's outcome now (``Repairing._measure``), without the training loss when it is unknown."""
        measured = super()._measure()
        if not self.losses_known:
            measured.pop("loss", None)
        return measured

    def _unresolved(self) -> bool:
        """Whether a problem is in an episode that has not ended (not a state to roll back to)."""
        return self.episodes.unresolved()

    def check_validation(self, inputs: Any) -> list[Diagnosis]:
        """Validation inputs seen only once the run is under way (``retroprop watch``: the first batch a
        script validates on), checked once against the training inputs' scale as ``attach`` checks
        them (``validation_mismatch``; their RMS only), and reported at the current step. Returns the
        new diagnoses: none when ``attach`` had validation inputs, or the training inputs (or a batch
        of them) are not known."""
        recorder = self.recorder
        if recorder is None or self._off or self._validation_checked:
            return []
        self._validation_checked = True
        if self._setup_data[3] is not None or self._raw_inputs is None or inputs is None:
            return []
        step = max(recorder.step - 1, 0)
        try:
            from retroprop.doctor.checks import validation_mismatch

            return self._report(validation_mismatch(self._raw_inputs, inputs), step, self._epoch, "setup")
        except Exception as err:
            self._failed("checks", err, step)
            return []

    def check_evaluation(self, inputs: Any, training: bool = False) -> list[Diagnosis]:
        """Whether the model evaluates at random (``rules.random_evaluation``), once per run: two passes
        over ``inputs`` (a few rows the loop evaluates on) as the loop runs them (evaluation mode, or
        training mode with ``training``), through the adapter's optional ``evaluation_spread``, reported
        at the current step. ``retroprop.torch.watch`` calls it with the first batch it sees evaluated;
        else ``end_epoch`` does, at the first epoch whose logs have validation scores, on the validation
        inputs (else the training inputs). Returns the new diagnoses."""
        recorder = self.recorder
        measure = getattr(self.adapter, "evaluation_spread", None)  # optional in the adapter interface
        if recorder is None or self._off or self._evaluation_checked or measure is None or inputs is None:
            return []
        self._evaluation_checked = True
        step = max(recorder.step - 1, 0)
        rows = inputs[:rules.EVALUATION_ROWS]
        try:
            found = rules.random_evaluation(measure(rows, training), len(rows), training)
        except Exception as err:
            self._failed("rule random_evaluation", err, step)
            return []
        return self._report(found, step, self._epoch, "epoch") if found else []

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

    @property
    def undo_pending(self) -> bool:
        """Whether the latest treatment made the run measurably worse: the next ``treat`` (with or
        without new diagnoses) undoes it and tries the next remedy. ``fit`` does this; a hand-written
        loop calls ``doctor.treat([])`` after ``end_epoch`` when this is True."""
        return self._undo is not None

    def _report(self, findings: list[rules.Finding], step: int, epoch: int, family: str) -> list[Diagnosis]:
        """New diagnoses from ``findings`` of one family of checks (``episodes.Episodes.report``); a
        held setup finding goes first when one of its consequences is among them."""
        released = [held for held in self._held if any(f.problem in consequences_of(held) for f in findings)]
        if released:
            findings = [*released, *findings]
            self._held = [held for held in self._held if all(held is not r for r in released)]
        return self.episodes.report(findings, step, epoch, family, note=self._overrides)

    def causal_order(self) -> list[tuple[Diagnosis, int]]:
        """The diagnoses as one story: each root cause, then what it caused (``Episodes.causal_order``)."""
        return self.episodes.causal_order()

    def _start_segment(self, fresh: bool = False) -> None:
        """After a treatment: the detectors start afresh on the treated model, whose current state
        becomes the one to roll back to if the next remedy is needed. ``fresh``: the treatment rolled
        back to a model that had learned nothing yet, so the run starts over, and its start loss (the
        reference of the rules that ask how far the loss fell) is read anew from the treated model's
        first steps: a remedy such as standardizing the inputs changes that loss by itself."""
        recorder = self.recorder
        if fresh:
            self._run_start, self._run_from = (None, None), len(recorder.losses)
        elif self._run_start == (None, None):
            first = recorder.losses[self._run_from:self._run_from + rules.LOSS_EMA_STEPS]
            first = first[np.isfinite(first)]
            self._run_start = ((float(first[:5].mean()), float(first.mean())) if first.size
                               else (None, None))
        self._unconfirmed = self._parameters = None
        self._batchnorm = []  # measured again on the treated model
        self._fit, self._fit_start = [], None
        # each probe rule's window fills once
        recorder.restart(self.adapter, follow_up=rules.DEAD_WINDOW)
        self._quiet_until = 0
        self.loss_alarm = math.inf  # set anew from the treated recipe's first loss
        self._dropout_rates = self.adapter.dropout_rates()
        self._loss_start = len(recorder.losses)
        self._record_start = len(recorder.records)
        self._movement = Movement(self._loss_start)
        self._epoch_start = len(self.epoch_logs)
        self.episodes.restart()
        self._running_best = None
        self._looking, self._cleared = set(), set()
        self._new_recipe(recorder.step, self._epoch)

    def finish(self, *, backward_passes: int | None = None) -> list[Diagnosis]:
        """End of the run (``fit`` calls it; call it after a hand-written loop): the loss rules read
        the steps since their last run, the run's end is checked (``backward_passes``: how many losses
        a hand-written loop back-propagated outside the optimizer's steps, when it counts them:
        ``retroprop.torch.watch`` does), and a treatment whose problem did not come back is
        ``resolved`` when the run went on long enough for the rules to see it again
        (``CONFIRM_STEPS``), else ``unconfirmed``. Returns the diagnoses that are new."""
        new: list[Diagnosis] = []
        recorder = self.recorder
        steps = recorder.step if recorder else 0
        # the run's end, read by the loss rules whenever a step came after their last run (those that
        # judge the end, ``steps_left`` 0, see it whatever the run's length), or by any run of a few
        # steps that ended before their first (``rules.unfinished`` reads it)
        if recorder is not None and (steps - 1 > self._last_loss_check or (
                self._last_loss_check == 0 and steps >= rules.SHORT_RUN_STEPS)) and (
                not self.stop_reason) and not self._off and self.losses_known:
            try:
                new = self._report(self._loss_rules(steps - 1, final=True), steps - 1, self._epoch, "loss")
            except Exception as err:
                self._failed("finish", err, steps - 1)
        if self._held and not self._off and self.losses_known:
            try:
                new += self._report(self._held_harm(0), max(steps - 1, 0), self._epoch, "loss")
            except Exception as err:
                self._failed("finish", err, max(steps - 1, 0))
        if backward_passes is not None and not self._off:
            try:
                new += self._report(self._run("stop", Evidence(backward_passes=backward_passes, steps=steps)),
                                    max(steps - 1, 0), self._epoch, "stop")
            except Exception as err:
                self._failed("finish", err, max(steps - 1, 0))
        self._settle_treatments({d.problem for d in new if d.escalated_from is None}, steps)
        try:
            self._set_aside_passed(steps - 1)
        except Exception as err:
            self._failed("finish", err, steps - 1)
        try:
            self._keep_best()
        except Exception as err:
            self._failed("finish", err, steps - 1)
        self.close()
        return new

    def close(self) -> None:
        """Detach the doctor's hooks (the model runs at full speed again)."""
        if self.recorder is not None:
            self.recorder.close()
        if self.adapter is not None:
            self.adapter.close()

    def note_carried_gradients(self, carried: list[float], parameter: str | None = None, *,
                               gradless: int = 0, checked: int = 0) -> list[Diagnosis]:
        """An adapter that reads the gradients as the optimizer steps (``retroprop.torch``'s) says how
        closely each of the first steps' gradients still held the previous step's (``carried``, read on
        the tensor ``parameter``), and on how many of the ``checked`` first steps no tensor the optimizer
        holds had a gradient (``gradless``): ``rules.steps_without_gradients`` and
        ``rules.gradients_carried`` on them, reported at the current step. Returns the diagnoses that
        are new."""
        if self._off or self.recorder is None:
            return []
        found = (self._rule("steps_without_gradients", rules.steps_without_gradients, gradless, checked)
                 or self._rule("gradients_carried", rules.gradients_carried, carried, parameter))
        step = max(self.recorder.step - 1, 0)
        return self._report(found, step, self._epoch, "update") if found else []

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

    @property
    def watching(self) -> bool:
        """Whether the doctor still watches the run (False once a failure, or ``give_up``, turned it off:
        then only the losses are recorded)."""
        return not self._off

    def give_up(self, where: str, error: BaseException, step: int | None = None) -> None:
        """Stop watching and repairing for the rest of the run, recording why in ``errors`` (at 0-based
        ``step``, default the latest observed): an adapter's own failure, e.g. ranks of a distributed
        run whose doctors drifted apart. The run goes on, with its losses still recorded."""
        self._failed(where, error, step)
        self._turn_off()
        self.repair = False

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
        passed = ["", "Passed by itself (said when seen; the run left it untreated):",
                  *(f"- {d}" for d in self.passed)] if self.passed else []
        if not self.diagnoses:
            steps = self.recorder.step if self.recorder else 0
            if errors:
                return "\n".join([f"No problems found in {steps} steps, but the doctor did not watch all of "
                                  "it:", *errors, *passed])
            return "\n".join([f"No problems found in {steps} steps.", *passed])
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
        return "\n".join([*lines, "", *details, *passed, *treated, *failed])

    def to_json(self) -> str:
        return json.dumps({"every": self.every or "default", "repair": self.repair,
                           "diagnoses": [d.to_dict() for d in self.diagnoses],
                           "passed": [d.to_dict() for d in self.passed],
                           "treatments": [t.to_dict() for t in self.treatments],
                           "errors": self.errors}, default=float)
