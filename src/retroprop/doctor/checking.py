"""The checks of a run: which of the rules table's families runs at each step, on what evidence.

``Checking`` is the part of ``Doctor`` that turns a step (``Doctor.observe``) or an epoch's end into
checks: the update check on the step after a probe, the probe check on a probed step, the loss check
on its schedule (every ``LOSS_CHECK_FIRST`` steps over a recipe's first 100, every ``LOSS_CHECK_STEPS``
after), the epoch check; it builds each check's ``table.Evidence`` from the recorder and the epoch logs,
runs the table (``table.run``) and hands the findings to the episodes. It also decides when a probe
that shows a symptom calls for a closer look (denser probes) and when the state is healthy enough to
keep as the snapshot a repair rolls back to.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from retroprop.doctor import rules, table
from retroprop.doctor.adapter import optional_member
from retroprop.doctor.diagnosis import TREATMENT_ORDER, Diagnosis
from retroprop.doctor.recorder import SETTLE_AFTER
from retroprop.doctor.repair import DEPTH_GROWTH, _oversized
from retroprop.doctor.table import Evidence, held_until

# the loss rules run every LOSS_CHECK_FIRST steps over the first 100 (the dropout window is read at
# step 100, as soon as it is full), every LOSS_CHECK_STEPS after that, as often as the settled probes;
# unstable_loss looks at every step since its last run, so no climb between two runs is missed
LOSS_CHECK_FIRST, LOSS_CHECK_STEPS = 50, 100


class Movement:
    """How far a recipe's steps have moved the weights, in all: the sum over its steps of the largest
    update-to-weight ratio of any layer, each probe's ratio standing for the steps until the next
    probe (an estimate of the path of the layer that moves most, relative to its size), at O(1) per
    probe."""

    def __init__(self, first_step: int = 0) -> None:
        self.total = 0.0  # up to the latest probe whose update is known
        self.rate: float | None = None  # that probe's largest ratio, per step
        self.since = first_step  # that probe's step

    def add(self, step: int, largest_ratio: float) -> None:
        """The update of the probe at ``step`` is known: its largest ratio is ``largest_ratio``."""
        if not math.isfinite(largest_ratio) or step < self.since:
            return
        if self.rate is not None:
            self.total += self.rate * (step - self.since)
        self.rate, self.since = largest_ratio, step

    def until(self, step: int) -> float | None:
        """The movement over the steps before ``step``; None before any probe's update is known."""
        if self.rate is None:
            return None
        return self.total + self.rate * max(step - self.since, 1)


class Checking:
    """The checks half of ``Doctor``: it reads the doctor's ``recorder``, ``episodes``, ``adapter``,
    ``epoch_logs``, ``samples``, ``chance_loss`` and ``batch_size`` and keeps the schedule state that
    ``_new_run`` and ``_start_segment`` set."""

    def _observe(self, loss: Any, epoch: int, grads_finite: bool, rerun: Any) -> list[Diagnosis]:
        recorder = self.recorder
        step = recorder.step
        if step == self._loss_start:  # this recipe's first step, before its update: the start's predictions
            self._fit_start = self._prediction_fit()
        record = recorder.observe(loss, epoch)
        known = self.losses_known
        finite = grads_finite and (not known or math.isfinite(recorder.last_loss))
        alarmed = known and finite and self._alarm(recorder.last_loss)
        new: list[Diagnosis] = []
        updates: list[rules.Finding] = []
        completed = recorder.completed
        if completed is not None and not completed.replayed:
            self._movement.add(completed.step, recorder.largest_update_ratio)
            opening = self._opening()
            if any(r is completed for r in opening) and rules.opening_climbs(
                    [r.as_plain() for r in opening], self._run_from):
                recorder.hasten(rules.ASCENT_PROBES)  # the first steps climbed: the next, soon, confirm it
        if self._unconfirmed is not None:
            updates = self._confirm_update(completed)
            new = self._report(updates, step, epoch, "update")
        if completed is not None and not recorder.largest_update_ratio <= rules.EXPLODING_UPDATE_RATIO:
            # the last probed step's update is known now, and one layer's is large (this step may be
            # probed itself, as with a cadence of 1)
            # with the probes before it (a layer of tiny weights needs a second large step, or a loss
            # that rose, to confirm) and the loss after the update (this step's, on the updated weights)
            evidence_probes = [r.as_plain() for r in self._window() if r.step <= completed.step]
            found = self._run("update", Evidence(
                probes=evidence_probes, loss_after=recorder.last_loss if self.losses_known else None,
                first_step=self._run_from, batch_size=self._batch_size()))
            new += self._report(self._step_size_cause(found, completed), step, epoch, "update")
            updates += found
            if not found:
                # a large update that needs confirming (the first, or of tiny weights): the losses
                # until the next probe, brought forward, confirm or clear it
                recorder.hasten(1)
                self._unconfirmed = (evidence_probes, completed)
        if alarmed:
            # the loss passed its alarm: this step is probed (after the fact, if it was not due) and
            # the loss rules run on the next, after the update check, so that a cause the probe
            # shows (an overshooting step) is named before the divergence it causes
            self._next_loss_check = min(self._next_loss_check, step + 1)
        if record is None:
            if finite and not alarmed:
                if step >= self._next_loss_check and known:
                    new += self._report(self._loss_rules(step), step, epoch, "loss")
                return new
            record = recorder.replay(epoch, rerun, measure_update=alarmed)
        self._probe_lrs[record.step] = self._learning_rates()  # the rates this probe's update will use
        loss_due = step >= self._next_loss_check and known and not alarmed
        probes = [r.as_plain() for r in self._window()]
        since = max(self._checked, self._loss_start)  # losses not yet looked at for NaN/Inf
        self._checked = recorder.step
        unchecked = recorder.losses[since:] if known else ()
        # each probe rule needs its problem to show on the latest probe (its window adds
        # persistence), so a probe without symptoms is checked by ``symptoms`` alone
        batch = self._batch_size()
        symptoms = self._rule("symptoms", functools.partial(rules.symptoms, ongoing=self._dead_ongoing(),
                                                            batch_size=batch, loss_known=known), probes[-1])
        decays = self._weight_decays()
        if decays and self._rule("decay_dominates", rules.decay_dominates, probes[-1], decays):
            symptoms = [*symptoms, "weight_decay_too_high"]  # looked at closely, and no state to roll back to
        findings = self._run("probe", self._evidence(batch, probes=probes, unchecked=unchecked,
                                                     since=since, symptoms=symptoms,
                                                     first_step=self._run_from, weight_decays=decays,
                                                     opening=[r.as_plain() for r in self._opening()],
                                                     dead_ongoing=self._dead_ongoing(),
                                                     dropout_rates=self._dropout_rates, loss_known=known,
                                                     loss_can_be_undefined=self._loss_can_be_undefined()))
        if any(f.problem == "non_finite" for f in findings):
            return new + self._report(findings, step, epoch, "probe")
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
        elif (self.repair and not findings and not updates and not loss_findings and finite and not alarmed
              and recorder.largest_update_ratio <= rules.EXPLODING_UPDATE_RATIO and self._unconfirmed is None
              and not self._unresolved()
              and not (known and self._rule("loss_symptoms",
                                            functools.partial(rules.loss_symptoms, batch_size=batch),
                                            recorder.losses[self._loss_start:]))):
            self._snapshot = self._take_snapshot(step, epoch)
        return new

    def _alarm(self, loss: float) -> bool:
        """Whether ``loss`` (finite) passed ``loss_alarm``: ``rules.LOSS_ALARM`` times the recipe's first
        loss (or a blind guess's, when larger), then each further decade. Set at the recipe's first step.
        A loss that climbs geometrically overflows within tens of steps, sooner than the next scheduled
        check may come."""
        if self.loss_alarm == math.inf:
            self.loss_alarm = rules.LOSS_ALARM * max(loss, self.chance_loss or 0.0)
            return False
        if loss <= self.loss_alarm:
            return False
        self.loss_alarm = rules.LOSS_ALARM * loss
        return True

    def _loss_can_be_undefined(self) -> bool:
        """Whether the loss handed to the setup may be NaN on finite outputs: a custom loss that
        declares no kind, or one on probabilities (their log is undefined for values <= 0). The
        library's losses on scores (cross-entropy on logits, mse, ...) are finite wherever the
        outputs and targets are."""
        return self._loss_given and self._loss_kind in (None, "cross_entropy_probs", "bce", "nll")

    def _confirm_update(self, completed: Any) -> list[rules.Finding]:
        """A large update left unconfirmed (``rules.exploding_updates``) is an explosion after all when
        the highest loss since it (the steps up to the next probe) confirms it: the exploding finding
        then, with that loss as the one after the step. The next probe's own update decides otherwise."""
        probes, record = self._unconfirmed
        if self.losses_known:
            since = self.recorder.losses[record.step + 1:]
            peak = float(np.max(since)) if since.size and not np.isnan(since).any() else math.nan
            found = self._run("update", Evidence(probes=probes, loss_after=peak, first_step=self._run_from,
                                                 batch_size=self._batch_size())) if since.size else []
            if found:
                self._unconfirmed = None
                return self._step_size_cause(found, record)
        if completed is not None and completed is not record:
            self._unconfirmed = None  # the next probe's update is known: the usual check decides
            if self.recorder.largest_update_ratio <= rules.EXPLODING_UPDATE_RATIO:
                # a small one: what the first step did to the units its layer feeds may still confirm it
                found = self._run("update", Evidence(
                    probes=[*probes, completed.as_plain()], loss_after=None, first_step=self._run_from,
                    batch_size=self._batch_size()))
                return self._step_size_cause(found, record) if found else []
        return []

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
        if growth >= DEPTH_GROWTH or _oversized(first) or self._inputs_unscaled():
            return findings
        for finding in findings:
            finding.evidence.update(cause="learning_rate", gradient_growth=growth)
            finding.explanation += (f" The gradient does not grow from layer to layer (the first layer's is "
                                    f"{rules._fmt(growth)}x the last's): the step is this large because the "
                                    "learning rate is.")
        return findings

    def _opening(self) -> list[Any]:
        """The recipe's first probe records (up to ``rules.ASCENT_PROBES``): the updates ascent is read on."""
        return self.recorder.records[self._record_start:self._record_start + rules.ASCENT_PROBES]

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
        return self.episodes.ongoing("probe", "dead_relu")

    def _recent_logs(self) -> list[dict[str, float]]:
        """This recipe's latest ``rules.OVERFIT_EPOCHS`` epoch logs (fewer before its third epoch): O(1)."""
        return self.epoch_logs[max(self._epoch_start, len(self.epoch_logs) - rules.OVERFIT_EPOCHS):]

    def _evidence(self, batch: int | None, **fields: Any) -> Evidence:
        """The evidence of a probe or loss check: this recipe's losses, the run's start, the batch size,
        the latest epoch log and what the layer rules need to tell a network that learns well."""
        logs = self._recent_logs()
        losses = self.recorder.losses[self._loss_start:] if self.losses_known else None
        return Evidence(losses=losses, start=self._run_start[0],
                        start20=self._run_start[1], batch_size=batch,
                        accuracy=logs[-1].get("accuracy") if logs else None, epoch_logs=logs,
                        samples=self.samples, chance_loss=self.chance_loss, **fields)

    def _run(self, family: str, evidence: Evidence) -> list[rules.Finding]:
        """One check of ``family``: the rules table's detectors on ``evidence`` (``table.run``)."""
        return table.run(family, evidence, self._call)

    def _call(self, detector: table.Detector, evidence: Evidence) -> list[rules.Finding]:
        return self._rule(detector.name, detector.detect, evidence)

    def _loss_rules(self, step: int, final: bool = False) -> list[rules.Finding]:
        """The rules on the per-step losses (they need no probe; their windows span 20-100 steps).
        ``final``: the run ended with this step."""
        recent = step - self._last_loss_check
        self._last_loss_check = step
        young = step - self._loss_start < SETTLE_AFTER  # a run's (or a treated recipe's) first 100 steps
        self._next_loss_check = step + (LOSS_CHECK_FIRST if young else LOSS_CHECK_STEPS)
        steps_left = 0 if final else self._steps_left(step)
        found = self._run("loss", self._evidence(
            self._batch_size(), recent=recent, update_ratios=self._steady_updates(),
            dropout_rates=self._dropout_rates, recipe_problems={d.problem for d in self.episodes.recipe},
            movement=None if self.lr_scheduled else self._movement.until(step + 1), steps_left=steps_left,
            attainable=self._attainable, attainable_error=self._attainable_error, rates=self._rate_change(),
            recent_update_ratios=self._steady_updates(steady=False), sorted_now=self._sorted_now,
            step_fall=self._step_fall()))
        return [*self._held_harm(steps_left), *found] if self._held else found

    def _set_aside_passed(self, step: int) -> None:
        """At the run's end (``step``, its last): this recipe's plateaus and shortfalls (``rules.PASSING``)
        that the run left by itself, untreated (``rules.passed_by_itself``), move from ``diagnoses`` to
        ``passed`` (``Episodes.set_aside``): said when seen, they no longer describe the run."""
        if self.stop_reason or self._off or not self.losses_known:
            return
        losses, batch = self.recorder.losses, self._batch_size()
        span = rules.smoothing_span(batch)
        shown: dict[tuple[str, str | None, int], dict[str, Any]] = {}
        for diagnosis in self.episodes.recipe:
            case = diagnosis.evidence.get("case") if isinstance(diagnosis.evidence, dict) else None
            if diagnosis.escalated_from is not None or (diagnosis.problem, case) not in rules.PASSING:
                continue
            then = losses[max(diagnosis.step + 1 - span, self._loss_start):diagnosis.step + 1]
            then = then[np.isfinite(then)]
            if not then.size:
                continue
            evidence = rules.passed_by_itself(
                float(then.mean()), losses[self._loss_start:], batch_size=batch,
                chance_loss=self.chance_loss, epoch_logs=self.epoch_logs[self._epoch_start:],
                samples=self.samples, attainable=self._attainable, attainable_error=self._attainable_error,
                sorted_now=self._sorted_now)
            if evidence is not None:
                shown[diagnosis.problem, diagnosis.layer, diagnosis.step] = evidence
        if shown:
            self.episodes.set_aside(shown, step)

    def _step_fall(self) -> float | None:
        """The largest update-to-weight ratio of this recipe's latest probe whose update is known over
        that of its first: how far its steps have shrunk. None before two such probes, or when the
        first is not above 0."""
        records = self.recorder.records  # read in place: the list grows with the run, a slice copies it
        first = next((max(ratios) for index in range(self._record_start, len(records))
                      if (ratios := [layer.update_ratio for layer in records[index].layers
                                     if layer.update_ratio is not None])), None)
        latest = self._steady_updates(steady=False)
        if first is None or not latest or not (math.isfinite(first) and first > 0):
            return None
        return latest[-1] / first

    def _sorted_now(self) -> float | None:
        """The share of up to ``table.TRAINING_ROWS`` training rows (``_training_rows``) the model sorts
        now, in evaluation mode (``adapter.outputs``, optional; ``rules.class_accuracy``): a loop that
        logs no training accuracy still says how well the model fits. None for a regression, without
        the training inputs and their own targets, or an adapter that gives outputs."""
        from retroprop.doctor.checks import is_classification

        measure = getattr(self.adapter, "outputs", None)  # optional in the adapter interface
        targets, n_classes = self._paired_targets(), self._setup_data[1]
        if (measure is None or self._raw_inputs is None or targets is None
                or len(targets) != len(self._raw_inputs)  # a batch of inputs: no rows to pair
                or not is_classification(self._loss_kind, n_classes)):
            return None

        def measured() -> float | None:
            inputs, labels = self._training_rows()
            outputs = measure(inputs)
            return None if outputs is None else rules.class_accuracy(outputs, labels)

        found = self._rule("sorted_now", measured)
        return found if isinstance(found, float) else None

    def _steps_left(self, step: int) -> int | None:
        """The steps the run has left after ``step`` (0-based), as planned; None when not known."""
        return None if self.planned_steps is None else max(self.planned_steps - step - 1, 0)

    def _attainable(self) -> dict[str, Any] | None:
        """What a classification's training data allows (``checks.attainable_accuracy``); None for a
        regression (``_attainable_error``), without the data, or when it cannot be read."""
        return self._yardstick_of("classification")

    def _attainable_error(self) -> dict[str, Any] | None:
        """What a regression's training data allows under a squared error (``checks.attainable_error``);
        None for a classification (``_attainable``), another loss, without the data, or when it cannot
        be read."""
        return self._yardstick_of("regression")

    def _yardstick_of(self, task: str) -> dict[str, Any] | None:
        """The yardstick of what the training inputs and targets given to the setup allow, measured once
        per run when first asked, by the task the loss says they are (``"classification"`` or
        ``"regression"``); None when asked for the other task's."""
        if self._yardstick is None:
            from retroprop.doctor.checks import attainable_accuracy, attainable_error, is_classification

            targets, n_classes = self._paired_targets(), self._setup_data[1]
            found, measured = None, None
            if self._raw_inputs is not None and targets is not None:
                if is_classification(self._loss_kind, n_classes):
                    measured = "classification"
                    found = self._rule("attainable_accuracy", attainable_accuracy, self._raw_inputs, targets)
                elif self._loss_kind == "mse":
                    measured = "regression"
                    found = self._rule("attainable_error", attainable_error, self._raw_inputs, targets)
            self._yardstick = (measured, found or None)
        return self._yardstick[1] if self._yardstick[0] == task else None

    def _held_harm(self, steps_left: int | None) -> list[rules.Finding]:
        """The setup findings held for their scale (``table.held_until``), released (and no longer
        held) when the losses show their cost (``rules.scale_cost``), dropped when they show none; none
        while it is too early to tell. Those held for a consequence wait for it (``_report``)."""
        scale = [f for f in self._held if held_until(f) == "scale"]
        if not scale:
            return []
        verdict = self._rule("scale_cost", lambda: rules.scale_cost(
            self.recorder.losses[self._loss_start:], self.chance_loss, steps_left,
            batch_size=self._batch_size()))
        if verdict in ("harm", "none"):
            self._held = [f for f in self._held if held_until(f) != "scale"]
        return scale if verdict == "harm" else []

    def _overrides(self, problem: str) -> str:
        """For a problem whose remedies lower the learning rate, found after this recipe's loss was
        called slow (advice to raise the rate): a sentence that withdraws that advice, else ''."""
        if "lower_lr" not in TREATMENT_ORDER[problem]:
            return ""
        slow = [d.step for d in self.episodes.recipe if d.problem == "slow_convergence"]
        if not slow:
            return ""
        return (f" This withdraws the advice to raise the learning rate given with slow_convergence at step "
                f"{slow[0] + 1}.")

    def _learning_rates(self) -> tuple[float, ...]:
        return self.adapter.learning_rates()

    def _weight_decays(self) -> dict[str, float]:
        """Per layer, the weight decay added to its gradient (none when the adapter does not say)."""
        return optional_member(self.adapter, "weight_decays") or {}

    def _rate_change(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """The learning rates at this segment's first probe and now; None before its first probe."""
        records = self.recorder.records
        if len(records) <= self._record_start:
            return None
        first = self._probe_lrs.get(records[self._record_start].step)
        return None if first is None else (first, self._learning_rates())

    def _steady_updates(self, steady: bool = True) -> list[float]:
        """The largest update-to-weight ratio at each of the latest two probes of this segment whose
        update is known and whose learning rates are today's; none when a schedule may raise the rate
        later. ``steady=False``: at whatever rates they ran."""
        if self.lr_scheduled and steady:
            return []
        now = self._learning_rates()
        largest: list[float] = []
        records = self.recorder.records
        for index in range(len(records) - 1, self._record_start - 1, -1):  # newest first; two suffice
            record = records[index]
            ratios = [layer.update_ratio for layer in record.layers if layer.update_ratio is not None]
            if not ratios:
                continue  # its update has not happened yet
            if (steady and self._probe_lrs.get(record.step) != now) or len(largest) == 2:
                break
            largest.insert(0, max(ratios))
        return largest

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
        if self._parameters is None:  # counted once per recipe (a treatment may change the model)
            count = getattr(self.adapter, "parameter_count", None)  # optional in the adapter interface
            self._parameters = count() if count else 0
        self._measure_batchnorm(logs[-1] if logs else {})
        self._measure_fit(logs[-1] if logs else {})
        found_first: list[Diagnosis] = []
        if not self._evaluation_checked and logs and any(key.startswith("val_") for key in logs[-1]):
            validation = self._setup_data[3]  # the rows this loop validates on, else training rows
            found_first = self.check_evaluation(validation if validation is not None else self._raw_inputs)
        findings = self._run("epoch", Evidence(
            epoch_logs=logs, samples=self.samples, best=best, first_epoch=epoch - best.epochs + 1,
            validation_is_training=self._validation_is_training, parameters=self._parameters or None,
            batchnorm=tuple(self._batchnorm), fit=tuple(self._fit), fit_start=self._fit_start,
            steps=self.recorder.step - self._loss_start if self.recorder else 0,  # this recipe's (a
            # treatment may have inserted the layers, whose statistics start over)
            steps_left=self._steps_left(self.recorder.step - 1) if self.recorder else None,
            chance_loss=self.chance_loss, start=self._run_start[0],
            losses=self.recorder.losses[self._loss_start:] if self.recorder and self.losses_known else None))
        new = found_first + self._report(findings, step, epoch, "epoch")
        if self.repair:
            self._check_harm()
        return new

    def _measure_batchnorm(self, log: dict[str, float]) -> None:
        """The loss on up to ``table.TRAINING_ROWS`` training rows (spread over the set: sorted data
        gives every class) with batch normalization's batch and running statistics
        (``adapter.batchnorm_losses``, optional), kept for the latest two epochs, measured only when
        the epoch's ``log`` shows the symptom: a validation loss more than ``UNSTABLE_FACTOR`` times the
        training loss, or a validation accuracy ``OVERFIT_GAP`` below the training accuracy (two forward
        passes per epoch cost nothing a healthy run pays). Nothing without the training inputs and
        targets, the loss, or an adapter that measures it."""
        measure = getattr(self.adapter, "batchnorm_losses", None)  # optional in the adapter interface
        targets, loss = self._setup_data[0], self._setup_loss
        train, val = log.get("loss", math.nan), log.get("val_loss", math.nan)
        fitted, judged = log.get("accuracy", math.nan), log.get("val_accuracy", math.nan)
        # NaN: not shown
        if not (val > rules.UNSTABLE_FACTOR * train >= 0 or fitted - judged >= rules.OVERFIT_GAP):
            self._batchnorm = []
            return
        if measure is None or self._raw_inputs is None or targets is None or loss is None:
            return

        found = self._rule("batchnorm_losses", lambda: measure(*self._training_rows(), loss))
        # one that raises is skipped after; consecutive epochs only: a measure that failed starts the
        # pair again
        self._batchnorm = [*self._batchnorm[-1:], found] if isinstance(found, dict) else []

    def _paired_targets(self) -> Any:
        """The training targets of the rows the training inputs hold: all of them, or those at
        ``input_rows`` when the inputs are a sample of the set (``attach``); None when not known."""
        targets, rows = self._setup_data[0], self._input_rows
        if (targets is None or rows is None or self._raw_inputs is None or len(rows) != len(self._raw_inputs)
                or len(targets) == len(self._raw_inputs) or not len(rows) or rows.max() >= len(targets)):
            return targets
        return np.asarray(targets)[rows]

    def _training_rows(self) -> tuple[Any, Any]:
        """Up to ``table.TRAINING_ROWS`` training inputs and their targets (``_paired_targets``), spread
        over the set (sorted data gives every class), taken once per run."""
        if self._sample_rows is None:
            inputs, labels = np.asarray(self._raw_inputs), np.asarray(self._paired_targets())
            if len(labels) != len(inputs):
                raise ValueError(f"{len(labels)} targets for {len(inputs)} inputs")
            n = len(inputs)
            rows = np.unique(np.linspace(0, n - 1, min(n, table.TRAINING_ROWS)).astype(np.int64))
            self._sample_rows = (inputs[rows], labels[rows])
        return self._sample_rows

    def _measure_fit(self, log: dict[str, float]) -> None:
        """How far the predictions on the training rows are from regression targets
        (``rules.prediction_fit``, through ``adapter.outputs``, optional), measured only when the epoch's
        training loss in ``log`` has fallen to ``rules.FITTED_LEVEL`` of the run's start or below (one
        forward pass on a few rows then; none in a run whose loss has not fallen that far), kept for
        the latest two epochs; an epoch not measured breaks the pair. Nothing without the training
        inputs and targets, or an adapter that gives outputs."""
        start = self._run_start[0]
        if start is None and self.recorder is not None and self.losses_known:  # this recipe's first losses
            first = np.asarray(self.recorder.losses[self._loss_start:self._loss_start + 5])
            first = first[np.isfinite(first)]
            start = float(first.mean()) if first.size else None
        train = log.get("loss", math.nan)
        fitted = (start is not None and math.isfinite(start) and start > 0
                  and train <= rules.FITTED_LEVEL * start)
        if fitted and self._classifying():
            # fitted below a blind guess's loss too: a run that started far above it (oversized weights)
            # falls a long way just to reach it, and sorts by chance there
            chance = self.chance_loss
            blind = chance is None or not math.isfinite(chance) or train <= rules.FITTED_LEVEL * chance
            found = self._classes_fit(log) if blind else None
        else:
            found = self._prediction_fit() if fitted and self._fit_start is not None else None
        self._fit = [*self._fit[-1:], found] if found is not None else []

    def _classifying(self) -> bool:
        from retroprop.doctor.checks import is_classification

        return is_classification(self._loss_kind, self._setup_data[1])

    def _classes_fit(self, log: dict[str, float]) -> dict[str, Any] | None:
        """How well the model sorts the training rows (``rules.classes_fit``): the epoch's training
        accuracy in ``log`` when it has one, else measured on up to ``table.TRAINING_ROWS`` rows
        (``_sorted_now``); against the share of the most frequent training class. None without the
        training targets or a measure of the accuracy."""
        from retroprop.doctor.checks import majority_share

        targets = self._setup_data[0]
        if targets is None:
            return None
        if self._majority is None:
            found = self._rule("majority_share", majority_share, targets)
            self._majority = found if isinstance(found, float) else math.nan
        accuracy = log.get("accuracy", math.nan)
        if not math.isfinite(accuracy):
            accuracy = self._sorted_now()
        rows = min(self.samples[0], table.TRAINING_ROWS) if self.samples else table.TRAINING_ROWS
        return rules.classes_fit(accuracy, self._majority, rows)

    def _prediction_fit(self) -> dict[str, Any] | None:
        """``rules.prediction_fit`` of the model's outputs on the training rows (``adapter.outputs``,
        optional), or None: without the training inputs and as many targets, an adapter that gives
        outputs, or targets that are no regression's (a classification's, with its classes known, is
        not run through the model at all); nor under a library regression loss (mse, l1, huber: smallest
        where the predictions equal the targets, whatever an unstable run's epoch mean says)."""
        from retroprop.doctor.checks import REGRESSION_LOSSES

        measure = getattr(self.adapter, "outputs", None)  # optional in the adapter interface
        targets, n_classes = self._setup_data[0], self._setup_data[1]
        if (measure is None or self._raw_inputs is None or targets is None or n_classes is not None
                or self._loss_kind in REGRESSION_LOSSES  # smallest at the targets by construction
                or len(targets) != len(self._raw_inputs)):  # no regression rows of both to read
            return None

        def measured() -> dict[str, Any] | None:
            inputs, labels = self._training_rows()
            return rules.prediction_fit(measure(inputs), labels)

        found = self._rule("prediction_fit", measured)  # one that raises is skipped after
        return found if isinstance(found, dict) else None
