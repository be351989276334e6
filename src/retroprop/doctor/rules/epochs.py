"""The detectors on epoch logs: overfitting, and validation accuracy that oscillates or collapses;
they read a bounded window of logs plus a running ``EpochBest``. And, at each epoch's end, batch
normalization's running statistics against the batches' (``batchnorm_statistics``), and a fitted loss
against the predictions' distance from regression targets (``loss_not_fit``); once, whether two
evaluation passes over the same rows agree (``random_evaluation``)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

from retroprop.doctor.rules.common import (
    EVALUATION_SPREAD,
    FITTED_LEVEL,
    OVERFIT_CAPACITY,
    OVERFIT_EPOCHS,
    OVERFIT_GAP,
    OVERFIT_RISE,
    STATS_FORGOTTEN,
    SWING,
    SWINGS,
    UNSTABLE_FACTOR,
    Finding,
    _accuracy_noise,
    _fmt,
    _generalization_gap,
    _pct,
)


@dataclass
class EpochBest:
    """What the epoch rules need of a recipe's whole history, kept at constant cost: call ``update``
    with each epoch's logs (in order). ``epoch``: the index (from 0, among the updates) of the
    lowest finite validation loss ``val_loss``, with the training loss ``train_loss`` then;
    ``val_accuracy``: the highest validation accuracy; ``epochs``: the updates so far; ``invalid``:
    whether some epoch's validation loss was missing or not finite (the overfitting rule then waits
    for a clean history, as it did when it read the whole)."""

    epoch: int = -1
    val_loss: float = math.inf
    train_loss: float = math.nan
    val_accuracy: float = -math.inf
    epochs: int = 0
    invalid: bool = False

    def update(self, log: dict[str, float]) -> None:
        val = log.get("val_loss")
        if val is None or not math.isfinite(val):
            self.invalid = True
        elif val < self.val_loss:
            self.epoch, self.val_loss, self.train_loss = self.epochs, float(val), float(log["loss"])
        accuracy = log.get("val_accuracy")
        if accuracy is not None and math.isfinite(accuracy):
            self.val_accuracy = max(self.val_accuracy, float(accuracy))
        self.epochs += 1

    @classmethod
    def of(cls, epoch_logs: Sequence[dict[str, float]]) -> EpochBest:
        best = cls()
        for log in epoch_logs:
            best.update(log)
        return best


def overfitting(epoch_logs: Sequence[dict[str, float]],
                samples: tuple[int, int] | None = None, first_epoch: int = 0, *,
                best: EpochBest | None = None, parameters: int | None = None,
                reference: float | None = None) -> list[Finding]:
    """Validation loss above its minimum for several epochs (or validation accuracy collapsed from
    its best by ``SWING`` and three times its noise) while the training loss does not rise with it,
    and a generalization gap over those same epochs. ``samples`` = (training,
    validation) sample counts: with them, an accuracy gap must also exceed twice its sampling
    noise (a few dozen samples give accuracies that differ by chance). ``first_epoch``: the run's
    0-based number of the recipe's first epoch; the evidence's ``best_epoch`` counts from 0 like
    it (as every record does), the explanation from 1.

    ``best``: the recipe's running ``EpochBest`` (updated with every log, the latest included);
    with it only the last ``OVERFIT_EPOCHS`` logs are read (constant cost per epoch), without it
    ``epoch_logs`` must be the recipe's whole history. The training loss may sit at its floor (a
    tiny training set is memorized early): it must only not rise by as much as the validation
    loss must.

    ``parameters``: the model's parameter count, when known: a model with fewer than
    ``OVERFIT_CAPACITY`` times its training samples cannot memorize them, and a validation loss that
    climbs away from such a model's training loss is the steps' doing, not memory.

    ``reference``: a blind guess's loss (else the run's start), when known: a validation loss still at
    most ``FITTED_LEVEL`` of it generalizes well, however far it rose from a near-perfect best (a
    regression fitted to 1e-5 of its targets' variance wanders by multiples of that).
    """
    if parameters and samples and samples[0] and parameters < OVERFIT_CAPACITY * samples[0]:
        return []
    latest = epoch_logs[-1].get("val_loss") if epoch_logs else None
    if (reference is not None and math.isfinite(reference) and reference > 0 and latest is not None
            and latest <= FITTED_LEVEL * reference):
        return []
    if best is None:
        best = EpochBest.of(epoch_logs)
    recent = list(epoch_logs[-OVERFIT_EPOCHS:])
    val = [log.get("val_loss") for log in recent]
    if (best.invalid or best.epochs < OVERFIT_EPOCHS + 1 or len(recent) < OVERFIT_EPOCHS
            or any(v is None or not math.isfinite(v) for v in val)):
        return []
    # a rise relative to the best; a best of exactly 0 (a perfect fit) has no scale of its own
    scale = best.val_loss if best.val_loss > 0 else max(abs(log["loss"]) for log in recent) or 1.0
    risen = (best.epoch < best.epochs - OVERFIT_EPOCHS
             and all(v > best.val_loss + OVERFIT_RISE * scale for v in val))
    train_now = recent[-1]["loss"]
    if risen:
        # memorizing holds the training loss down while the validation loss climbs; both climbing
        # together over the window is the steps' doing (an oscillation at the floor, say), not memory
        memorizing = (train_now < best.train_loss + OVERFIT_RISE * scale
                      and train_now - recent[0]["loss"] < OVERFIT_RISE * scale)
    else:  # the validation accuracy collapsed, its loss rose less: the training loss must not climb
        memorizing = (_accuracy_collapsed(recent, best.val_accuracy, samples)
                      and train_now <= recent[0]["loss"])
    if not memorizing:
        return []
    # the rule is asked again every epoch: a gap that crosses its noise bar on one epoch only is
    # what chance gives over a long run, so the gap must hold over the whole window of the rise
    gaps = [_generalization_gap(log, samples) for log in recent]
    if not all(gap >= needed for gap, needed in gaps):
        return []
    gap, needed = gaps[-1]
    shown = first_epoch + best.epoch + 1  # counted from 1 for people
    if not risen:
        what = (f"the validation accuracy fell from its best, {best.val_accuracy:.0%}, to "
                f"{recent[-1]['val_accuracy']:.0%}")
    elif best.val_loss > 0:
        what = f"the validation loss is {_pct(val[-1] / best.val_loss - 1)} above its best (epoch {shown})"
    else:
        what = f"the validation loss rose from {_fmt(best.val_loss)} (epoch {shown}) to {_fmt(val[-1])}"
    return [Finding(
        "overfitting", None, None, "warning",
        {"best_epoch": first_epoch + best.epoch, "val_loss_best": best.val_loss, "val_loss_now": val[-1],
         "train_loss_now": train_now, "train_loss_at_best": best.train_loss, "generalization_gap": gap,
         "gap_needed": needed, "epochs": OVERFIT_EPOCHS, "val_loss_risen": risen},
        what + (" while the training loss keeps falling" if train_now < best.train_loss
                else " while the training loss stays at its floor")
        + ": the network is memorizing its training data.",
    )]


def memorized(epoch_logs: Sequence[dict[str, float]], samples: tuple[int, int] | None = None, *,
              parameters: int | None = None, chance_loss: float | None = None,
              majority: Callable[[], float | None] | None = None) -> list[Finding]:
    """``overfitting``, case ``memorized``: over each of the last ``OVERFIT_EPOCHS`` epochs the training
    loss is at most ``FITTED_LEVEL`` of a blind guess's (``chance_loss``: the loss of predicting the
    training targets' mean or class frequencies, whatever the input) while the validation loss is at or
    above it: the model fits the rows it has seen and predicts new ones no better than a guess that
    ignores them. Nothing it learned carries over, whether or not the validation loss ever rose (it
    may never have fallen: 20 rows pin down 20 of 200 weights, and the other 180 stay noise). Not for
    a model with fewer parameters than ``OVERFIT_CAPACITY`` of its training samples (``samples``),
    which cannot memorize them.

    A classifier's loss on new rows says little by itself (a few confident mistakes of huge logits
    outweigh many right answers): where a validation accuracy is logged, it must also be no better than
    always answering the commonest training class (``majority()``, its share) beyond twice its noise;
    without that share, nothing is said."""
    if parameters and samples and samples[0] and parameters < OVERFIT_CAPACITY * samples[0]:
        return []
    if chance_loss is None or not (math.isfinite(chance_loss) and chance_loss > 0):
        return []
    recent = list(epoch_logs[-OVERFIT_EPOCHS:])
    if len(recent) < OVERFIT_EPOCHS:
        return []
    for log in recent:
        train, val = log.get("loss"), log.get("val_loss")
        if train is None or val is None or not (math.isfinite(train) and math.isfinite(val)):
            return []
        if not (train <= FITTED_LEVEL * chance_loss and val >= chance_loss):
            return []
    accuracy = recent[-1].get("val_accuracy")
    evidence: dict[str, Any] = {}
    if accuracy is not None:
        share = majority() if majority is not None else None
        if share is None or not math.isfinite(accuracy):
            return []
        if accuracy > share + 2 * _accuracy_noise(share, samples[1] if samples else None):
            return []  # it sorts new rows better than a guess: its loss is overconfidence, not memory
        evidence = {"val_accuracy": float(accuracy), "majority_share": float(share)}
    train, val = float(recent[-1]["loss"]), float(recent[-1]["val_loss"])
    return [Finding(
        "overfitting", None, None, "warning",
        {"case": "memorized", "train_loss_now": train, "val_loss_now": val, "reference_loss": chance_loss,
         "epochs": OVERFIT_EPOCHS, "val_loss_risen": False, **evidence},
        f"the training loss is {_fmt(train)}, {train / chance_loss:.1%} of a blind guess's "
        f"({_fmt(chance_loss)}), while the validation loss is {_fmt(val)}, no better than that guess, for "
        f"{OVERFIT_EPOCHS} epochs: "
        "the model fits the rows it has seen and predicts new ones no better than ignoring their inputs: "
        "it has memorized its training data.",
    )]


def _accuracy_collapsed(recent: Sequence[dict[str, float]], top: float,
                        samples: tuple[int, int] | None) -> bool:
    """Whether the validation accuracy of every one of ``recent`` epochs is below its best ``top``
    by at least ``SWING`` and three times the sampling noise of the difference."""
    count = samples[1] if samples else None
    for log in recent:
        accuracy = log.get("val_accuracy")
        if accuracy is None or not math.isfinite(accuracy) or not math.isfinite(top):
            return False
        noise = math.sqrt(_accuracy_noise(top, count) ** 2 + _accuracy_noise(accuracy, count) ** 2)
        if top - accuracy < max(SWING, 3 * noise):
            return False
    return True


def oscillating_validation(epoch_logs: Sequence[dict[str, float]],
                           samples: tuple[int, int] | None = None) -> list[Finding]:
    """Validation accuracy swinging up and down by tens of points from epoch to epoch: ``SWINGS``
    consecutive changes of alternating sign, two of them drops, each at least ``SWING`` and (with
    ``samples``, the training and validation counts) three times the sampling noise of a difference of
    two accuracies. Steps that overshoot throw the model from one side of the minimum to the other
    (``unstable_loss``); a healthy run's validation accuracy moves by a few points, mostly one way.
    Reads only the last ``SWINGS + 1`` logs."""
    recent = [log.get("val_accuracy") for log in epoch_logs[-(SWINGS + 1):]]
    if len(recent) < SWINGS + 1 or any(a is None or not math.isfinite(a) for a in recent):
        return []
    changes = [after - before for before, after in itertools.pairwise(recent)]
    count = samples[1] if samples else None
    for before, after in itertools.pairwise(recent):
        noise = math.sqrt(_accuracy_noise(before, count) ** 2 + _accuracy_noise(after, count) ** 2)
        if abs(after - before) < max(SWING, 3 * noise):
            return []
    if any(first * second >= 0 for first, second in itertools.pairwise(changes)):
        return []
    if sum(change < 0 for change in changes) < 2:
        return []  # a rise is learning (a young run climbs fast): only repeated drops are overshooting
    swing = min(abs(c) for c in changes)
    shown = ", ".join(f"{a:.0%}" for a in recent)
    return [Finding(
        "unstable_loss", None, None, "warning",
        {"val_accuracy": [float(a) for a in recent], "smallest_swing": swing, "epochs": SWINGS + 1,
         "oscillating": True},
        f"the validation accuracy swings up and down by {swing:.0%} or more from epoch to epoch "
        f"({shown}): the steps overshoot, throwing the model from one side of the minimum to the other.",
    )]


def collapsing_validation(epoch_logs: Sequence[dict[str, float]],
                          samples: tuple[int, int] | None = None, *,
                          best: EpochBest | None = None) -> list[Finding]:
    """The epoch training loss rising on each of the last ``OVERFIT_EPOCHS`` epochs while the
    validation accuracy fell from its best by at least ``SWING`` and three times its sampling noise
    (``samples``: training and validation counts): not memorizing (the training loss would fall),
    but steps that undo what was learned (``unstable_loss``), too slowly for the smoothed per-step
    loss to double. ``best``: the recipe's running ``EpochBest`` (then only the last
    ``OVERFIT_EPOCHS + 1`` logs are read); without it, ``epoch_logs`` is the recipe's history."""
    top = (best if best is not None else EpochBest.of(epoch_logs)).val_accuracy
    recent = list(epoch_logs[-(OVERFIT_EPOCHS + 1):])
    train = [log.get("loss") for log in recent]
    accuracy = recent[-1].get("val_accuracy") if recent else None
    if (len(recent) < OVERFIT_EPOCHS + 1 or accuracy is None or not math.isfinite(top)
            or any(t is None or not math.isfinite(t) for t in train)):
        return []
    if not all(after > before for before, after in itertools.pairwise(train)):
        return []
    count = samples[1] if samples else None
    noise = math.sqrt(_accuracy_noise(top, count) ** 2 + _accuracy_noise(accuracy, count) ** 2)
    drop = top - accuracy
    if drop < max(SWING, 3 * noise):
        return []
    return [Finding(
        "unstable_loss", None, None, "warning",
        {"val_accuracy_best": top, "val_accuracy_now": accuracy, "train_loss_then": train[0],
         "train_loss_now": train[-1], "epochs": OVERFIT_EPOCHS, "collapsing": True},
        f"the validation accuracy fell from {top:.0%} to {accuracy:.0%} while the training loss rose on "
        f"each of the last {OVERFIT_EPOCHS} epochs ({_fmt(train[0])} to {_fmt(train[-1])}): the steps "
        "undo what was learned.",
    )]


def batchnorm_statistics(measured: Sequence[dict], steps: int,
                         reference: float | None = None, steps_left: int | None = None) -> list[Finding]:
    """Batch normalization whose running statistics do not describe the data it trains on: with the
    same weights, on the same training rows, the loss with the running statistics (evaluation mode:
    what validation and predictions use) is more than ``UNSTABLE_FACTOR`` times the loss with the
    batch's own statistics (training mode), and above it by more than ``FITTED_LEVEL`` of
    ``reference`` (a blind guess's loss, else the run's start; a gap between two losses that small is
    a fitted model's), at each of the last two epoch ends. ``measured``: those epochs' measures, newest
    last (``batch`` and ``running`` losses, each layer's ``momentum``, None for a cumulative average).

    Judged once the running statistics have had ``steps`` steps to forget their initial mean 0 and
    variance 1 (``(1 - momentum)^steps`` below ``STATS_FORGOTTEN`` in every layer), or can never forget
    them: a momentum of 0 never updates them, and evaluation normalizes with mean 0 and variance 1,
    whatever the data; or at the run's end (``steps_left`` 0) when they still have not (case
    ``unsettled``: too few steps for the momentum, and the model is left to predict with statistics
    that are mostly their initial values). Dropout is off in both measures: with statistics that
    describe the batches, the two losses are close."""
    if len(measured) < 2 or steps < 1:
        return []
    momenta = measured[-1]["momenta"]
    frozen = any(m == 0 for m in momenta)
    settled = all(m is None or m == 0 or (1.0 - m) ** steps < STATS_FORGOTTEN for m in momenta)
    unsettled = not (frozen or settled) and steps_left == 0
    if not (frozen or settled or unsettled):
        return []
    margin = FITTED_LEVEL * reference if reference is not None and math.isfinite(reference) else 0.0
    if not all(_loss_apart(entry, margin) or _accuracy_apart(entry) for entry in measured[-2:]):
        return []
    batch, running = measured[-1]["batch"], measured[-1]["running"]
    if unsettled:
        slowest = min(m for m in momenta if m is not None and m > 0)
        kept = (1.0 - slowest) ** steps
        why = (f" (the run ended after {steps} steps, too few for a momentum of {_fmt(slowest)}: {kept:.0%} "
               "of the statistics are still their initial mean 0 and variance 1; more steps, a larger "
               "momentum, or statistics recomputed on the training data set them right).")
    elif frozen:
        why = " (a momentum of 0 never updates them: evaluation normalizes with mean 0 and variance 1)."
    else:
        why = (" (batches unlike one another, as from sorted data or tiny batches, or a momentum that keeps "
               "only the latest batch).")
    accuracies = {}
    if measured[-1].get("batch_accuracy") is not None and measured[-1].get("running_accuracy") is not None:
        accuracies = {"accuracy_batch_statistics": measured[-1]["batch_accuracy"],
                      "accuracy_running_statistics": measured[-1]["running_accuracy"]}
    told = (f", and the accuracy {accuracies['accuracy_running_statistics']:.0%} against "
            f"{accuracies['accuracy_batch_statistics']:.0%}" if accuracies else "")
    return [Finding(
        "batchnorm_statistics", None, None, "critical",
        {"loss_batch_statistics": batch, "loss_running_statistics": running, **accuracies,
         "momenta": list(momenta), "steps": steps,
         **({"case": "unsettled", "initial_share": kept} if unsettled else {})},
        f"with the same weights, on the same training rows, the loss is {_fmt(running)} in evaluation mode "
        f"against {_fmt(batch)} in training mode{told}: batch normalization's running statistics, which "
        "validation and predictions use, do not describe the data the model trains on" + why,
    )]


def _loss_apart(entry: dict[str, Any], margin: float) -> bool:
    """Whether one epoch's measure has the loss with the running statistics above ``UNSTABLE_FACTOR``
    times the loss with the batch's, and above it by more than ``margin``."""
    batch, running = entry["batch"], entry["running"]
    return running > UNSTABLE_FACTOR * batch and running - batch > margin


def _accuracy_apart(entry: dict[str, Any]) -> bool:
    """Whether one epoch's measure (of a classification: ``batch_accuracy`` and ``running_accuracy`` on
    its ``rows``) has the accuracy with the running statistics below the accuracy with the batch's by
    ``OVERFIT_GAP`` and twice the noise of the two (on the same rows, the statistics alone differ: a
    network confident enough to classify them, not yet to show it in its loss, shows it here)."""
    batch, running, rows = entry.get("batch_accuracy"), entry.get("running_accuracy"), entry.get("rows")
    if batch is None or running is None or not rows:
        return False
    noise = math.hypot(_accuracy_noise(batch, rows), _accuracy_noise(running, rows))
    return batch - running >= max(OVERFIT_GAP, 2 * noise)


def class_accuracy(outputs: Any, targets: Any) -> float | None:
    """The share of rows whose largest output is the target class: ``targets`` class indices (N,) or
    one-hot rows (N, C) against ``outputs`` (N, C), C > 1; None for anything else (one output unit,
    whose threshold depends on the loss, or targets that are not classes)."""
    out, y = np.asarray(outputs), np.asarray(targets)
    if out.ndim != 2 or out.shape[1] < 2 or len(y) != len(out) or not len(out):
        return None
    if y.ndim == 2 and y.shape == out.shape:
        y = y.argmax(axis=1)
    elif y.ndim != 1 or (y.dtype.kind == "f" and not np.array_equal(y, np.round(y))):
        return None
    if not np.isfinite(out).all():
        return None
    return float(np.mean(out.argmax(axis=1) == y.astype(np.int64)))


FIT_MIN_ROWS = 8  # rows a prediction's distance from the targets is read on, at least


def prediction_fit(outputs: Any, targets: Any) -> dict[str, float] | None:
    """How well ``outputs`` (the model's, on some training rows) predict regression ``targets``:
    ``error``, each column's mean squared error over its targets' variance (1: no better than
    predicting their mean), averaged over the columns; ``rank_correlation``, the columns' mean
    Spearman correlation (whether the predictions order the rows as the targets do, on any scale).
    None when the targets are no regression's: another shape than the outputs' (class indices), a
    column of at most two values (labels, one-hot or binary targets), fewer than ``FIT_MIN_ROWS`` rows,
    or values that are not finite."""
    if outputs is None or targets is None:
        return None
    out, y = np.asarray(outputs, dtype=np.float64), np.asarray(targets)
    if y.dtype.kind not in "biuf" or len(y) != len(out) or len(y) < FIT_MIN_ROWS:
        return None
    out, y = out.reshape(len(out), -1), y.astype(np.float64).reshape(len(y), -1)
    if out.shape != y.shape or not (np.isfinite(out).all() and np.isfinite(y).all()):
        return None
    errors, correlations = [], []
    for column in range(y.shape[1]):
        target, predicted = y[:, column], out[:, column]
        if len(np.unique(target)) <= 2:
            return None
        errors.append(float(np.mean((predicted - target) ** 2) / np.var(target)))
        ranks, order = rankdata(predicted), rankdata(target)
        spread = float(np.std(ranks) * np.std(order))
        correlations.append(float(np.mean((ranks - ranks.mean()) * (order - order.mean())) / spread)
                            if spread > 0 else 0.0)
    return {"error": float(np.mean(errors)), "rank_correlation": float(np.mean(correlations)),
            "rows": len(y)}


def classes_fit(accuracy: float | None, majority: float | None, rows: int) -> dict[str, Any] | None:
    """A classification's fit at an epoch end: its training ``accuracy``, the ``majority`` class's share
    (what answering that class always scores) and the ``rows`` the accuracy stands for; None when either
    share is not known."""
    if accuracy is None or majority is None or not (math.isfinite(accuracy) and math.isfinite(majority)):
        return None
    return {"task": "classification", "accuracy": float(accuracy), "majority": float(majority),
            "rows": int(rows)}


def _sorts_by_chance(entry: dict[str, Any]) -> bool:
    """Whether a ``classes_fit`` accuracy is within two standard errors of always answering the majority
    class, or below it."""
    share = entry["majority"]
    return entry["accuracy"] <= share + 2.0 * math.sqrt(share * (1.0 - share) / max(entry["rows"], 1))


def loss_not_fit(measured: Sequence[dict[str, Any] | None], start: dict[str, Any] | None) -> list[Finding]:
    """A loss that is smallest somewhere other than at the targets: at each of the last two epoch ends
    the training loss had fallen to ``FITTED_LEVEL`` of the run's start or below (the loss says the
    model fits; ``measured`` holds ``prediction_fit`` for such epochs) while, on training rows, the
    predictions are farther from the regression targets than the targets' mean is (``error`` >= 1)
    and than they were at the first step (``start``: a fall of the loss that only learned the targets'
    mean, from an untrained model's outputs near 0, is ordinary under a proper loss on large targets),
    and do not even order the rows as the targets do (squared rank correlation below 1 -
    ``FITTED_LEVEL``: a loss measured through any monotone map of the outputs, fitted that far, leaves
    the ranks nearly in place). A log loss on a regression's linear output, for one, falls to 0 on any
    output above 1, whatever the target."""
    if len(measured) < 2 or any(m is None for m in measured[-2:]):
        return []
    if any(m.get("task") == "classification" for m in measured[-2:]):
        return _classes_not_fit(measured[-2:])
    if start is None:
        return []
    for entry in measured[-2:]:
        if not (entry["error"] >= max(1.0, start["error"])
                and entry["rank_correlation"] ** 2 < 1.0 - FITTED_LEVEL):
            return []
    entry = measured[-1]
    return [Finding(
        "loss_output_mismatch", None, None, "critical",
        {"case": "loss_not_fit", "error": entry["error"], "error_at_start": start["error"],
         "rank_correlation": entry["rank_correlation"], "rows": entry["rows"], "fix_by": "user",
         "fix_note": "This is yours to fix: fit cannot change the loss for you (a regression needs a loss "
                     "that is smallest where the predictions equal the targets: mse, l1, huber)."},
        f"the training loss has fallen to {_pct(FITTED_LEVEL)} of its start or below, yet on "
        f"{entry['rows']} training rows the predictions' squared error is {_fmt(entry['error'])} times "
        f"the targets' variance (predicting their mean scores 1; {_fmt(start['error'])} at the first "
        f"step), with a rank correlation of "
        f"{entry['rank_correlation']:.2f}: the loss is smallest somewhere other than at the targets, so "
        "lowering it does not fit them.",
    )]


def _classes_not_fit(measured: Sequence[dict[str, Any]]) -> list[Finding]:
    """``loss_not_fit`` for a classification: the loss fitted that far (``measured``: the latest two
    epoch ends, ``classes_fit`` each) while the model sorts the training rows no better than always
    answering the most frequent class. A loss that scores the classification cannot fall to a tenth of
    its start with the right class no more often on top than a constant guess puts it there: it is
    smallest somewhere else (a log of raw scores, outputs it rewards for growing, a flipped sign)."""
    if not all(m.get("task") == "classification" and _sorts_by_chance(m) for m in measured):
        return []
    entry = measured[-1]
    return [Finding(
        "loss_output_mismatch", None, None, "critical",
        {"case": "classes_not_fit", "accuracy": entry["accuracy"], "majority": entry["majority"],
         "rows": entry["rows"], "fix_by": "user",
         "fix_note": "This is yours to fix: fit cannot change the loss for you (a classification needs a "
                     "loss that is smallest where the right class scores highest: cross_entropy on the "
                     "class scores, bce_with_logits on one score per label)."},
        f"the training loss has fallen to {_pct(FITTED_LEVEL)} of its start or below, yet the model puts "
        f"the right class on top for {_pct(entry['accuracy'])} of the training rows, no better than "
        f"always answering the most frequent class ({_pct(entry['majority'])}): the loss is smallest "
        "somewhere other than at the right classes (a log of raw scores instead of probabilities, outputs "
        "it rewards for growing), so lowering it does not classify.",
    )]


def spread(first: Any, second: Any) -> float | None:
    """How far two outputs of the same rows part: their largest difference over the largest output's
    size (0 when they agree bit for bit). None when they differ in shape or are not finite."""
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if first.shape != second.shape or not first.size or not (np.isfinite(first).all()
                                                               and np.isfinite(second).all()):
        return None
    scale = float(np.abs(first).max())
    difference = float(np.abs(first - second).max())
    return 0.0 if difference == 0.0 else difference / max(scale, np.finfo(np.float64).tiny)


def random_evaluation(spread: float | None, rows: int, training: bool = False) -> list[Finding]:
    """Evaluation that draws at random: two passes of the model, as the loop evaluates it, over the same
    ``rows`` rows gave outputs apart by ``spread`` (``spread``) beyond ``EVALUATION_SPREAD``: a dropout
    still on (a functional dropout called without ``training=self.training``, a mode flag of the model's
    own that ``eval()`` does not switch, or a loop that evaluates in training mode: ``training``), so the
    validation scores measure a damaged copy of the model, lower and noisier than what it learned."""
    if spread is None or not math.isfinite(spread) or spread <= EVALUATION_SPREAD:
        return []
    how = ("in training mode (no model.eval() before it)" if training else
           "in evaluation mode")
    return [Finding(
        "validation_mismatch", None, None, "warning",
        {"case": "random_evaluation", "spread": float(spread), "rows": int(rows), "training_mode": training,
         "fix_by": "user",
         "fix_note": "This is yours to fix: evaluate in evaluation mode (model.eval()), and make every "
                     "dropout follow the module's mode (F.dropout(x, p, training=self.training))."},
        f"two passes of the model over the same {rows} rows, {how} as the loop evaluates it, gave outputs "
        f"that differ by {_pct(spread)} of their size: something random (a dropout) stays on while the model "
        "is evaluated, so its validation scores measure a randomly damaged copy of it, lower and noisier "
        "than what it learned.",
    )]
