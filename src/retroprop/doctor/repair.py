"""Repair: snapshots of healthy states, roll-backs, trying remedies in turn, undoing one that did harm,
and the best model seen. ``Doctor`` repairs through these methods (``Repairing``); the records they
keep are ``TreatmentRecord``, ``Snapshot`` and ``Best``.

At every probe that shows no symptom the doctor keeps a snapshot (copies of the weights, the optimizer's
state and the random generator's state; the initial state is the first), taken and put back by the
model's adapter (``adapter.ModelAdapter``), which also applies the remedies: nothing here depends on
the framework. On a diagnosis it rolls back to
that snapshot, applies the problem's first untried remedy and lets the run go on; if the problem comes
back it rolls back again and adds the next remedy; when none is left it says so. A treatment that made
the run measurably worse is undone and the next remedy tried.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from retroprop.doctor import rules
from retroprop.doctor.adapter import ModelAdapter, Snapshot
from retroprop.doctor.checks import feature_rows
from retroprop.doctor.diagnosis import SETUP_PROBLEMS, USER_REMEDIES, Diagnosis
from retroprop.doctor.table import TREATMENT_PRIORITY

if TYPE_CHECKING:
    from retroprop.doctor.remedies import Treatment

__all__ = ["Best", "Repairing", "Snapshot", "TreatmentRecord"]

# problems that say the run has not learned anything (the loss is still near where it started, every
# step climbed it, the decay is wiping out what was learned, or the loss has not yet got below the
# targets' mean's, whose scale the remedy changes under the weights): a treatment for them rolls back to
# the state the current recipe started from
NOTHING_LEARNED = ("slow_convergence", "dropout_too_high", "gradient_ascent", "weight_decay_too_high",
                   "unscaled_targets")
# problems that do no damage a roll-back undoes: steps that follow single samples leave the weights as
# good as the last snapshot's (which may be thousands of steps back when the noisy loss never looked
# calm enough for one), so their remedy (a lower rate: annealing) starts from where the run stands;
# running statistics that evaluation normalizes with are no part of what the steps learn (training
# normalizes each batch by its own), so their remedy keeps the trained weights
IN_PLACE = ("batch_too_small", "batchnorm_statistics")
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
# remedies whose size is a guess, so that the problem's return asks for more of the same on top (a rate
# cut sized from one layer's update ratio may fall short): their return is no sign of harm
SIZED_REMEDIES = ("lower_lr", "higher_lr")
# an update-to-weight ratio that explodes while the gradient grows less than this from the last layer to
# the first is the learning rate's doing: gradients amplified through depth grow by orders of magnitude
DEPTH_GROWTH = 10.0
# steps a treated run must go on for its problem's absence to count (the longest rule window, smoothed)
CONFIRM_STEPS = rules.PLATEAU_STEPS + rules.LOSS_EMA_STEPS


def divergence_factor(losses: Any, quadratic: bool = False) -> float | None:
    """The learning-rate factor that stops a loss climbing geometrically, or None when it does not.

    A gradient step at rate ``lr`` multiplies the error along a direction of curvature ``c`` by
    ``1 - lr c``: an overshooting rate (``lr c > 2``) makes the error grow by ``e = lr c - 1`` per
    step, and the rate ``lr / (1 + e)`` brings ``lr c`` to 1, the fastest stable step there. A squared
    error (``quadratic``) grows as the error's square, ``g = e^2`` per step; a cross-entropy or an
    absolute error grows about linearly with the outputs once they are far off, ``g = e``. ``g`` is the
    mean growth over the latest strictly rising run of finite losses, when it rose
    ``rules.FIRST_STEP_OVERSHOOT`` times in all (a climb that steep is no batch-to-batch noise). Where
    the rise was not from the steepest direction alone the cut is too small, and the problem's return
    lowers the rate again.
    """
    values = np.asarray(losses, dtype=np.float64)[-rules.HORIZON:]
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size < 2:
        return None
    values = values[:finite[-1] + 1]  # up to the last finite loss (a NaN or Inf may follow it)
    falls = np.flatnonzero(~(values[1:] > values[:-1]))  # where the rise was broken (or not finite)
    begin = int(falls[-1]) + 1 if falls.size else 0
    rise = values[begin:]
    if rise.size < 2 or not rise[0] > 0 or not rise[-1] >= rules.FIRST_STEP_OVERSHOOT * rise[0]:
        return None
    growth = (rise[-1] / rise[0]) ** (1.0 / (rise.size - 1))
    return 1.0 / (1.0 + (math.sqrt(growth) if quadratic else growth))


@dataclass
class TreatmentRecord:
    """One entry of the treatment log: what was diagnosed, what was done, and how it went.

    ``outcome``: ``"resolved"`` (the problem was not diagnosed again over at least 120 steps, and the
    measured outcome did not get worse), ``"worse"`` (the validation metric or the training loss got
    measurably worse than before the treatment: it was undone and the next remedy tried),
    ``"unconfirmed"`` (not again, but the run ended too soon to tell), ``"returned"`` (it was, and
    the next remedy followed unless the run had ended), ``"skipped"`` (the remedy does not apply to
    this model), ``"exhausted"`` (no remedy left), ``"left"`` (not treated: a consequence of a setup
    problem only the user can fix) or ``"pending"`` while the run goes on.
    ``measured``: the outcome compared (``metric``, its value ``before`` the treatment and ``after``),
    once it is (None before).
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
    layer_label: str | None = None  # the layer's human label (``Diagnosis.layer_label``), for display

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
class Best:
    """The best model seen in a repaired run, by its validation metric (training loss without one).

    ``weights`` are copies (in the adapter's form: a retroprop ``state_dict``); ``model`` builds a fresh
    model with the structure it had then and these weights (each access gives a new one).
    """

    epoch: int
    metric: str
    value: float
    weights: Any = field(repr=False)
    config: dict[str, Any] = field(default_factory=dict)
    # an adapter over a copy of the structure, never trained (``ModelAdapter.copy``)
    skeleton: ModelAdapter | None = field(default=None, repr=False)

    @property
    def model(self) -> Any:
        return self.skeleton.with_weights(self.weights)


def apply_remedy(adapter: ModelAdapter, remedy: str, layer: str | None = None, **options: Any) -> Treatment:
    """Apply ``remedy`` through ``adapter`` (``ModelAdapter.apply``): the one place repair changes a model."""
    return adapter.apply(remedy, layer, **options)


def _users_to_fix(diagnosis: Diagnosis) -> bool:
    """Whether ``diagnosis`` is a setup problem whose every remedy only the user can make (training
    labels of one class, validation data unlike the training data, a loss on the wrong kind of output)."""
    return diagnosis.problem in SETUP_PROBLEMS and bool(diagnosis.remedies) and all(
        remedy in USER_REMEDIES for remedy, _ in diagnosis.remedies)


def _metric(logs: dict[str, float]) -> tuple[str, float, float]:
    """(name, value, score to maximize) of an epoch's logs for choosing the best model."""
    for name, sign in (("val_accuracy", 1.0), ("val_loss", -1.0), ("loss", -1.0)):
        value = logs.get(name)
        if value is not None and math.isfinite(value):
            return name, value, sign * value
    return "loss", float("nan"), -math.inf


def _oversized(record: Any) -> tuple[str, float] | None:
    """When the weighted layers' weights (Linear and convolution), against the He scale sqrt(2 / fan_in)
    that keeps a ReLU network's signal steady (a sigmoid's flatter slope counted), multiply up to more
    than ``rules.OVERSIZED_GAIN`` along the network (``rules.weight_gain``): a description and that
    product (the amplification their scale alone causes)."""
    gain, factors = rules.weight_gain([vars(layer) for layer in record.layers],
                                      [vars(a) for a in record.activations])
    if gain > rules.OVERSIZED_GAIN and math.isfinite(gain):
        return (f"the {len(factors)} weighted layers' weights are {min(factors):.2g}-{max(factors):.2g}x "
                "the He scale sqrt(2 / fan_in) (a sigmoid's flatter slope counted)"), gain
    return None


class Repairing:
    """The repair half of ``Doctor``: it reads the doctor's ``adapter``, ``recorder``, ``episodes``,
    ``epoch_logs`` and ``samples`` and keeps the repair state ``_new_run`` sets."""

    def _new_repairs(self) -> None:
        """A new run: no treatment, snapshot or best model yet."""
        self.treatments: list[TreatmentRecord] = []
        self.stop_reason: str | None = None  # set when a treatment ends the run
        self.best: Best | None = None
        self._best_score = -math.inf
        self._tried: dict[str, dict[str, int]] = {}  # problem -> remedy -> times applied
        self._trial: dict[str, Any] | None = None  # the latest treatment, watched for harm
        self._undo: dict[str, Any] | None = None  # a treatment found harmful, undone by the next ``treat``
        self._snapshot: Snapshot | None = None  # the latest healthy state
        self._origin: Snapshot | None = None  # the state the current recipe started from
        self._epoch_best: tuple[float, Snapshot] | None = None  # lowest validation loss, this recipe
        # best validation metric, this recipe: (score, its snapshot, the metric's name, its value)
        self._metric_best: tuple[float, Snapshot, str, float] | None = None
        self._skeleton: ModelAdapter | None = None  # the structure for ``Best``, copied once per change
        self._skeleton_repr = ""
        self._stats: dict[str, Any] | None = None  # the training inputs' statistics, when first needed
        self._epoch_ends: list[tuple[int, dict[str, float]]] = []  # (steps taken, validation logs) per epoch

    def _new_recipe(self, step: int, epoch: int) -> None:
        """A recipe starts (the run, or a treatment): its state now is the one to roll back to, and its
        own best epochs are still to come (the model's structure may have changed)."""
        self._epoch_best = self._metric_best = None
        self._skeleton = None
        self._snapshot = self._origin = self._take_snapshot(step, epoch)

    def _settle_treatments(self, again: set[str], steps: int) -> None:
        """At the end of a run of ``steps`` steps: each pending treatment's outcome (``again``: the
        problems diagnosed anew at the end), compared with what was measured before it."""
        for record in self.treatments:
            if record.outcome != "pending":
                continue
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

    # -- repair -------------------------------------------------------------------------------
    def _take_snapshot(self, step: int, epoch: int) -> Snapshot:
        return self.adapter.snapshot(step, epoch)

    def _restore(self, snapshot: Snapshot) -> None:
        self.adapter.restore(snapshot)

    def _logged_at(self, step: int) -> dict[str, float] | None:
        """The validation metrics of the last epoch that ended at or before ``step`` steps (the state a
        roll-back to ``step`` starts from, or one at most an epoch behind it); None before any."""
        index = bisect.bisect_right([steps for steps, _ in self._epoch_ends], step) - 1
        return self._epoch_ends[index][1] if index >= 0 else None

    def _track_best(self, epoch: int, logs: dict[str, float]) -> None:
        self._epoch_ends.append((self.recorder.step, {k: float(logs[k]) for k in ("val_accuracy", "val_loss")
                                                      if k in logs and math.isfinite(logs[k])}))
        name, value, score = _metric(logs)
        if not math.isfinite(score):
            return
        if self.best is None or score > self._best_score:
            self._best_score = score
            if self._skeleton is None:  # the structure changed (or this is the first best)
                self._skeleton = self.adapter.copy()
                self._skeleton.optimizer = None  # the structure alone
                self._skeleton_repr = repr(self.adapter.model)
            self.best = Best(epoch=epoch, metric=name, value=value, weights=self.adapter.weights(),
                             config=self._config(), skeleton=self._skeleton)
        snapshot = None
        if self._metric_best is None or score > self._metric_best[0]:
            snapshot = self._take_snapshot(self.recorder.step, epoch)
            self._metric_best = (score, snapshot, name, value)
        val_loss = logs.get("val_loss")
        if val_loss is not None and math.isfinite(val_loss) and (
                self._epoch_best is None or val_loss < self._epoch_best[0]):
            self._epoch_best = (val_loss, snapshot or self._take_snapshot(self.recorder.step, epoch))

    def _config(self) -> dict[str, Any]:
        rates = self.adapter.learning_rates()
        return {"model": self._skeleton_repr, "optimizer": type(self.adapter.optimizer).__name__,
                "lr": float(rates[0]) if rates else math.nan, "clip_grad_norm": self.clip_grad_norm,
                "shuffle": self.shuffle,
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
        if self._undo is not None or self._blame_trial(diagnoses):
            return self._undo_trial()
        by_problem: dict[str, Diagnosis] = {}
        for d in reversed(diagnoses):
            if d.escalated_from is not None:
                continue
            root = self.episodes.find(d.caused_by)
            if root is not None and (_users_to_fix(root) or self._left_to_user(root)) and (
                    d.problem != "non_finite"):
                self._leave_to_cause(d, root)  # NaN/Inf aside: the last finite weights are kept whatever
                continue
            if root is not None and not self._exhausted(root.problem):
                d = root
            by_problem[d.problem] = d
        # one remedy at a time, except for the setup's problems, which are independent fixes of what the
        # run starts from (the output against the loss, the inputs' scale): each gets its own at once
        applied: list[TreatmentRecord] = []
        for problem in sorted(by_problem, key=TREATMENT_PRIORITY.index):
            if applied and problem not in SETUP_PROBLEMS:
                break
            diagnosis = by_problem[problem]
            for earlier in self.treatments:
                if earlier.problem == problem and earlier.outcome == "pending":
                    earlier.outcome = "returned"
            if self._exhausted(problem):
                continue  # said so when it happened
            record = self._apply_next(diagnosis, tuple(remedy for remedy, _ in diagnosis.remedies))
            if record is not None:
                applied.append(record)
                if problem not in SETUP_PROBLEMS:
                    break
        return applied[0] if applied else None

    def _leave_to_cause(self, diagnosis: Diagnosis, root: Diagnosis) -> None:
        """Say once per problem that ``diagnosis`` is left untreated: its cause is the user's to fix."""
        if any(t.problem == diagnosis.problem and t.outcome == "left" for t in self.treatments):
            return
        self.treatments.append(TreatmentRecord(
            self.recorder.step - 1, self._epoch, diagnosis.problem, diagnosis.layer, None,
            f"{diagnosis.problem} not treated: it is a consequence of {root.problem}, whose fix is yours to "
            "make (in the data, the loss or the model's output); a treatment of the run would act on its "
            "symptom, from data or a pairing the run cannot change", False, outcome="left",
            layer_label=diagnosis.layer_label))

    def _left_to_user(self, root: Diagnosis) -> bool:
        """Whether ``root``, an output that does not fit the loss, is the user's to fix in this run: each
        of its remedies was found not to apply (a structural fix to an activation applied as a function in
        ``forward``, say: advice with the edit to make) and none was applied. Its consequences are then left
        as those of a user's fix are: no rate or initialization mends a pairing the run cannot change, and
        treating them acts on the symptom (a higher rate on the stall that clipped scores cause kills the
        units). An input scale the doctor cannot standardize in place is another matter: batch
        normalization or a lower rate, the symptom's remedies, compensate for it."""
        return root.problem == "loss_output_mismatch" and self._exhausted(root.problem) and not any(
            t.problem == root.problem and t.applied for t in self.treatments)

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
                try:
                    options = self._options(remedy, diagnosis)
                    trial = apply_remedy(self.adapter.copy(), remedy, layer, **options)
                except Exception as err:  # one remedy that cannot act on this model leaves the others
                    reason = f"{remedy} skipped: applying it raised {type(err).__name__}: {err}"
                else:
                    if trial.applied:
                        chosen = remedy
                        break
                    reason = trial.description
            uses[remedy] = LOWER_LR_TRIES  # not applicable to this model: never tried again
            said = [t.description for t in self.treatments if t.step == step and t.problem == problem
                    and t.outcome == "skipped" and not t.description.endswith("for the same reason")]
            if said and said[-1].split(" skipped: ", 1)[-1] == reason.split(" skipped: ", 1)[-1]:
                reason = f"{remedy} skipped for the same reason"
            self.treatments.append(TreatmentRecord(step, self._epoch, problem, layer, remedy, reason, False,
                                                   outcome="skipped", layer_label=diagnosis.layer_label))
        if chosen is None:
            note = (f"every remedy for {problem} was tried ({', '.join(remedies)}); the problem persists"
                    if any(t.problem == problem and t.applied for t in self.treatments) else
                    f"no remedy for {problem} applies here ({', '.join(remedies)}: each skipped, above)")
            exhausted = TreatmentRecord(step, self._epoch, problem, layer, None, note, False,
                                        outcome="exhausted", layer_label=diagnosis.layer_label)
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
        # a problem that did no damage keeps the weights it has: nothing rolled back, nothing discarded
        back, wasted = (None, 0) if problem in IN_PLACE else self._roll_back(target)
        # to undo the remedy if it does harm
        saved, clip, shuffle = self.adapter.copy(), self.clip_grad_norm, self.shuffle
        remedy = chosen
        treatment = apply_remedy(self.adapter, remedy, layer, **self._options(remedy, diagnosis))
        if treatment.clip_grad_norm is not None:
            self.clip_grad_norm = treatment.clip_grad_norm
        if treatment.shuffle is not None:
            self.shuffle = treatment.shuffle
        if remedy == "early_stopping":
            self.stop_reason = (f"early stopping (the treatment for {problem}): the weights of the best "
                                f"validation epoch of this recipe, epoch {target.epoch + 1}, were restored")
        record = TreatmentRecord(step, self._epoch, problem, layer, remedy, treatment.description, True,
                                 rolled_back_to=back, wasted_steps=wasted,
                                 outcome="resolved" if remedy == "early_stopping" else "pending",
                                 layer_label=diagnosis.layer_label)
        self.treatments.append(record)
        self._start_segment(fresh=back is not None and back < rules.LOSS_EMA_STEPS)
        self._trial = {"record": record, "diagnosis": diagnosis, "remedies": remedies, "saved": saved,
                       "clip": clip, "shuffle": shuffle, "start": self.recorder.step,
                       "epochs": len(self.epoch_logs),
                       "age": wasted, "before": before,
                       "origin": self._logged_at(self.recorder.step if back is None else back),
                       "checked": False}
        return record

    def _measure(self) -> dict[str, float]:
        """This recipe's outcome now: the latest epoch's validation accuracy and loss (when logged), the
        mean training loss of its last ``LOSS_EMA_STEPS`` steps (inf when not finite) and that mean's
        standard error (``loss_noise``; inf from one step: a treatment at the run's start has one batch's
        loss to be compared with, one sample's at batch size 1)."""
        measured: dict[str, float] = {}
        logs = self.epoch_logs[self._epoch_start:] if self._epoch_start < len(self.epoch_logs) else []
        for name in ("val_accuracy", "val_loss"):
            value = logs[-1].get(name) if logs else None
            if value is not None and math.isfinite(value):
                measured[name] = float(value)
        losses = self.recorder.losses[self._loss_start:]
        if len(losses):
            window = np.asarray(losses[-rules.LOSS_EMA_STEPS:], dtype=np.float64)
            mean = float(np.mean(window))
            measured["loss"] = mean if math.isfinite(mean) else math.inf
            noise = float(np.std(window, ddof=1) / math.sqrt(window.size)) if window.size > 1 else math.inf
            measured["loss_noise"] = noise if math.isfinite(noise) else math.inf
        return measured

    def _compare(self, before: dict[str, float], after: dict[str, float],
                 remedy: str | None) -> dict[str, Any] | None:
        """The first outcome measured both before and after a treatment (validation accuracy, then
        validation loss, then training loss), with ``verdict`` "better", "same" or "worse" (beyond
        ``WORSE_ACCURACY``/twice the accuracy's sampling noise, or ``WORSE_LOSS``/twice the noise of the
        two training-loss means); None if none."""
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
                if name == "loss":  # and beyond twice the noise of the two windows' means
                    noise = math.hypot(before.get("loss_noise", 0.0), after.get("loss_noise", 0.0))
                    margin = max(margin, 2 * noise)
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
        self._found_harmful(trial, comparison)

    def _found_harmful(self, trial: dict[str, Any], comparison: dict[str, Any]) -> None:
        """Mark the treatment on ``trial`` ``worse`` (with what was compared), to be undone by the next
        ``treat``."""
        record = trial["record"]
        record.outcome = "worse"
        record.measured = {k: comparison[k] for k in ("metric", "before", "after")}
        self._undo, self._trial = trial, None

    def _blame_trial(self, diagnoses: list[Diagnosis]) -> bool:
        """Whether a problem found while the latest treatment is still on trial (for ``CONFIRM_STEPS``
        steps at least, however long the recipe it replaced had trained) with the run measurably worse than
        before that treatment and than the state it rolled back to, is the treatment's doing (dropout that
        stops a deep network learning shows as a collapsing loss, or as the overfitting it was to cure,
        now with the validation accuracy below where it began): the treatment is then marked ``worse``, to
        be undone and the next remedy for its problem tried, not a remedy on top. A problem that returns
        after a learning-rate change (``SIZED_REMEDIES``) is not blamed on it: the next cut goes on top."""
        trial = self._trial
        if trial is None or trial["checked"] or trial["record"].outcome != "pending":
            return False
        if all(d.problem == trial["record"].problem for d in diagnoses) and (
                trial["record"].remedy in SIZED_REMEDIES):
            return False  # its own problem back after a rate change: the next cut (or remedy) goes on top
        if trial["record"].problem in SETUP_PROBLEMS:
            return False  # a fix of what the run starts from, made at its start: the run's other bugs remain
        if self.recorder.step - trial["start"] < CONFIRM_STEPS:
            # too soon to judge it in steps, whatever the epochs (a treated run's loss may spike once as it
            # settles; an inserted BatchNorm's running statistics need tens of steps before they validate)
            return False
        if not trial["origin"]:
            return False  # restarted before any epoch was measured: only as long a trial is a fair one
        # worse than before the treatment and than the state it rolled back to, both: a run restarted from
        # an earlier state is not yet as far as the one it replaced, but must not fall below where it began
        now = self._measure()
        comparison = self._compare(trial["before"], now, trial["record"].remedy)
        origin = self._compare(trial["origin"], now, trial["record"].remedy)
        if comparison is None or comparison["verdict"] != "worse" or origin is None or (
                origin["verdict"] != "worse"):
            return False
        self._found_harmful(trial, comparison)
        return True

    def _keep_best(self) -> TreatmentRecord | None:
        """At the end of a run the doctor treated: when its final epoch is measurably worse (``_compare``'s
        margins) than the best epoch of its latest recipe, that epoch's weights are restored, as Keras's
        ``restore_best_weights``: a repaired run never ends below the best state its last treatment
        reached (the choice is made on the validation data, as early stopping's is)."""
        treated = [t for t in self.treatments if t.applied]
        if (not self.repair or self._off or self.stop_reason or not treated or self._metric_best is None
                or not self.epoch_logs):
            return None
        _, snapshot, name, best = self._metric_best
        now = self.epoch_logs[-1].get(name)
        if now is None or not math.isfinite(now) or snapshot.step >= self.recorder.step:
            return None  # the last epoch is the best
        comparison = self._compare({name: best}, {name: now}, None)
        if comparison is None or comparison["verdict"] != "worse":
            return None
        self._restore(snapshot)
        step = self.recorder.step - 1
        record = TreatmentRecord(
            step, self._epoch, treated[-1].problem, None, "early_stopping",
            f"the run ended with {name} {now:.3g}, below its best since the last treatment, {best:.3g} at "
            f"epoch {snapshot.epoch + 1}: that epoch's weights were restored", True,
            rolled_back_to=snapshot.step, wasted_steps=step - snapshot.step, outcome="resolved",
            measured={"metric": name, "before": now, "after": best})
        self.treatments.append(record)
        return record

    def _undo_trial(self) -> TreatmentRecord | None:
        """Undo the treatment found harmful: the model (in place: the training loop holds it), the
        optimizer and the clipping as they were just before its remedy; then the next remedy."""
        trial, self._undo = self._undo, None
        self.adapter.adopt(trial["saved"])
        self.clip_grad_norm = trial["clip"]
        self.shuffle = trial["shuffle"]
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
        if remedy == "standardize_targets" and self._raw_targets is not None:
            y = np.asarray(self._raw_targets, dtype=np.float64).reshape(len(self._raw_targets), -1)
            spread = y.std(axis=0)
            return {"mean": y.mean(axis=0), "scale": np.where(spread > 0, spread, 1.0),
                    "loss": self._loss_kind, "adaptive": self._adaptive}
        if remedy == "recompute_batchnorm_statistics":
            return {"inputs": self._raw_inputs, "batch_size": self._batch_size()}
        if remedy == "standardize_inputs" and self._input_stats() is not None:
            mean, scale = self._input_stats()["mean"], self._input_stats()["scale"]
            # a constant feature carries nothing but an offset: a model without biases (a column of
            # ones next to the data) fits its intercept through it, so it is scaled to +-1, not
            # centred to 0
            spread = scale > 0
            return {"mean": np.where(spread, mean, 0.0),
                    "scale": np.where(spread, scale, np.where(mean != 0, np.abs(mean), 1.0))}
        if remedy not in ("lower_lr", "higher_lr"):
            return {}
        ratios = self._latest_update_ratios()
        if remedy == "lower_lr":
            factor = LOWER_TARGET / float(np.median(ratios)) if ratios else 0.1
            measured = divergence_factor(self.recorder.losses[self._loss_start:],
                                         quadratic=self._loss_kind == "mse")
            if measured is not None:
                factor = max(factor, measured)  # the instability measured on the loss itself decides
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
        batch = self._batch_size()
        if problem == "non_finite" and (evidence or {}).get("before_any_update"):
            return (f"{remedy} skipped: the loss was not finite before any update, so no step caused it and "
                    "none can undo it: the model's forward pass is the user's to change (an activation that "
                    "cannot overflow, smaller initial weights, scaled inputs, or a loss defined for its "
                    "outputs)")
        if remedy == "batchnorm" and batch is not None and batch < 2:
            return ("batchnorm skipped: the batches hold one sample, and batch normalization needs at "
                    "least two per batch to normalize over (in training it would stop the run)")
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
                and self._unscaled_inputs(layer) and self._applies("standardize_inputs")):
            spread, offset = self._input_stats()["spread"], self._input_stats()["offset"]
            return (f"{remedy} skipped: the first layer saturates because the inputs are not "
                    f"standardized (a feature's standard deviation reaches {spread:.3g}, a mean "
                    f"{offset:.3g}); standardizing them treats the cause")
        return None

    def _input_stats(self) -> dict[str, Any] | None:
        """Per-feature mean and standard deviation of the training inputs, and the largest of each
        (``spread``, ``offset``), computed when first needed."""
        if self._stats is None and self._raw_inputs is not None:
            x = np.asarray(self._raw_inputs)
            # rows as they are; (N, C, ...) samples: each channel's values (as Standardize reads them),
            # of every sample up to about 2**20 values in all (evenly spaced samples beyond)
            x = x.astype(np.float64) if x.ndim == 2 else feature_rows(x, limit=len(x))
            constant = (x == x[:1]).all(axis=0)  # exactly their value and no spread
            mean = np.where(constant, x[0], x.mean(axis=0))
            scale = np.sqrt(np.where(constant, 0.0, x.var(axis=0)))
            self._stats = {"mean": mean, "scale": scale, "spread": float(np.max(scale)),
                           "offset": float(np.max(np.abs(mean)))}
        return self._stats

    def _applies(self, remedy: str) -> bool:
        """Whether ``remedy`` would change this model (tried on a copy)."""
        return apply_remedy(self.adapter.copy(), remedy, None, **self._options(remedy)).applied

    def _inputs_unscaled(self) -> bool:
        """Whether the training inputs (when known) are not standardized: a feature's standard deviation
        or |mean| above ``INPUT_SCALE``."""
        stats = self._input_stats()
        return stats is not None and max(stats["spread"], stats["offset"]) > INPUT_SCALE

    def _unscaled_inputs(self, layer: str | None) -> bool:
        """Whether ``layer`` is the first activation and the training inputs are not standardized."""
        first_activation = self.recorder.probe.activation_names[:1]
        return bool(first_activation) and first_activation[0] == layer and self._inputs_unscaled()

    def _roll_back(self, snapshot: Snapshot) -> tuple[int, int]:
        self._restore(snapshot)
        step = self.recorder.step
        return snapshot.step, max(step - snapshot.step, 0)

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

