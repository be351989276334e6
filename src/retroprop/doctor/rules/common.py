"""What every detector shares: the thresholds (each derived from its mechanism, in a comment), the
``Finding`` a detector returns, and the smoothing and sampling-noise helpers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

VANISHING_RATIO, VANISHING_CRITICAL = 1e-3, 1e-5
EXPLODING_UPDATE_RATIO, EXPLODING_GROWTH = 0.5, 1e3
# weights an order of magnitude below their LeCun scale (PyTorch's default init is 0.58x it, He's 1.4x)
# were started near zero: an update ratio against them measures growth from nothing, not a layer thrown away
TINY_WEIGHTS = 0.1
# Linear weights whose RMS over the He scale sqrt(2 / fan_in), multiplied along the network, exceeds
# this amplify the signal by an order of magnitude from the initialization on (PyTorch's default init
# is about 0.4x He per layer, Xavier 0.7-1x, He 1x: products at most about 1)
OVERSIZED_GAIN = 10.0
# the run's first step from random weights at a high but healthy rate may throw the next batch's loss
# up several-fold (it overshoots until the weights have grown to a working scale, then recovers); a
# loss an order of magnitude above its start after one step means outputs thrown far past any target
FIRST_STEP_OVERSHOOT = 10.0
# a step taken against the gradient (every optimizer that minimizes: SGD's is -g, momentum's and Adam's
# start as -g and -g/|g| from a fresh state) has a negative cosine with it; momentum carried across a
# valley can point a step uphill now and then, never from a fresh state and never on several probes in a
# row while the loss climbs. A cosine this far above 0 in every layer is a step up the slope
ASCENT_COSINE = 0.3
# consecutive probed updates from the run's (or a fresh restart's) first steps that must all climb
ASCENT_PROBES = 3
# the first of them within this many steps of the start: before any momentum of the run's own
ASCENT_OPENING = 10
# weight decay adds wd * W to each weight's gradient (coupled decay: SGD's, Adam's L2, RMSprop's): at a
# minimum of the penalized loss the two balance (||g|| = wd ||W||); a pull this many times the data's
# gradient, probe after probe, shrinks the weights toward 0 faster than the data can hold them up
DECAY_DOMINANCE = 2.0
# consecutive probes the decay must outweigh the gradient on (in the median decayed layer)
DECAY_PROBES = 3
# and the harm: the smoothed loss, having fallen below PLATEAU_LEVEL of its start, climbed back this
# share of the way (a pull above 2 also shows while a deep net sits on its first plateau, its data
# gradient small: the weights settle from their init toward the decay's balance, and the loss then falls)
DECAY_RISE = 0.25
# or the weights wiped out: the decayed layers' norm a tenth of the recipe's first probe's or less (a
# 3-layer net's output scale then a thousandth of it) while the loss never fell below PLATEAU_LEVEL
DECAY_COLLAPSE = 0.1
# a cross-entropy grows linearly with the logits, a squared error quadratically with the outputs: a
# loss a million times its start (or a blind guess's) means outputs 1e3-1e6 times too large, which
# only weights and gradients grown geometrically make
ASTRONOMICAL_LOSS = 1e6
# a loss that climbs geometrically (by a constant factor each step, as an overshooting step size makes
# it) passes a decade in a few steps and overflows within tens: each time the loss passes
# LOSS_ALARM times the recipe's start (or a blind guess's), then each further decade, the loss rules
# run and a probe is brought forward at once, whatever the schedule (a handful of extra checks per run)
LOSS_ALARM = 10.0
DEAD_SHARE, DEAD_CRITICAL, DEAD_WINDOW = 0.5, 0.9, 5
# a live unit that fires on a share p of the inputs stays silent on n samples with chance (1 - p)^n:
# the window must hold enough samples for a unit firing on 5 % of them to show with 95 % confidence
DEAD_RARE_FIRING, DEAD_CONFIDENCE = 0.05, 0.95
DEAD_SAMPLES = math.ceil(math.log(1 - DEAD_CONFIDENCE) / math.log(1 - DEAD_RARE_FIRING))  # 59
SATURATED_SHARE = 0.5
# a flat region's derivative is under 1/100 of its peak: a layer whose weights still get 1/100 of the
# output layer's gradient through the saturated units has not had its gradient cut off by them
SATURATED_PASSES = 0.01
LOSS_EMA_STEPS, UNSTABLE_FACTOR = 20, 2.0
# the fewest steps a run is judged on at its end (one per quarter of the pace read by ``unfinished``)
SHORT_RUN_STEPS = 4
# Per-sample losses spread about as widely as their mean (a coefficient of variation of 1-2); a mean
# over n samples wobbles by CV / sqrt(n), and the lowest and highest of many such means lie about 4 of
# those errors either side of the middle. A doubling stays out of chance's reach when
# (1 + 4e) / (1 - 4e) < 2, e < 1/12: n >= (12 * CV)^2 = 576 samples at CV = 2 (20 steps of 29).
LOSS_SMOOTH_SAMPLES = 576
DIVERGED_FACTOR, DIVERGED_MIN_STEPS = 3.0, 10
PLATEAU_STEPS, PLATEAU_FALL, PLATEAU_LEVEL = 100, 0.01, 0.9
# a loss an order of magnitude below its start has fitted the data: what a layer lost costs nothing seen
FITTED_LEVEL = 0.1
# batch normalization's running statistics have forgotten their initial mean 0 and variance 1 once
# these weigh less than this in them ((1 - momentum)^steps): from then on they describe the batches
STATS_FORGOTTEN = 0.05
SLOW_UPDATE = 1e-4
# steps (the largest update-to-weight ratio) shrunk to this share of the run's first have reached a
# stationary point (of the loss, or of the loss and its weight decay together): updates below SLOW_UPDATE
# are then the minimum's, not a rate too small, which keeps its steps near their first size while the
# slope it descends hardly changes
CONVERGED_STEP = 0.01
# problems that stop the steps without a minimum: units that died pass no gradient, and a loss that
# diverged or went non-finite leaves weights whose steps say nothing of what the model can fit
DEGENERATE_STOPS = frozenset({"dead_relu", "exploding_gradients", "unstable_loss", "non_finite"})
# a learning rate cut an order of magnitude below the run's own start (by the optimizer's decay or a
# schedule): steps that suited the start are then ten times smaller, and shrinking
RATE_DECAYED = 10.0
# Losses back-propagated with no optimizer step between them: gradient accumulation sums a few to tens of
# micro-batches into each step, over many steps; this many backward passes outside the optimizer's steps
# with at most one step in all is a loop whose step is missing or stands outside the loop over batches
STEPLESS_BACKWARDS = 100
# a run that moves its weights by less than a tenth of their size in all (the sum over its steps of the
# largest update-to-weight ratio) changes the network's function by about as little; slow_steps's 1e-4
# per step is this over 1000 steps
UNFINISHED_MOVEMENT = 0.1
# a loss whose fall over the last quarter of its steps is at least half its mean fall per quarter has
# not slowed down: a descent limited by its steps (a rate-bound optimizer moves about the same distance
# each step), far from the flattening near a minimum
PACE_KEPT = 0.5
OVERFIT_RISE, OVERFIT_EPOCHS, OVERFIT_GAP = 0.10, 3, 0.10
# a model with fewer parameters than this share of its training samples cannot memorize them: the
# gap that fitting their noise opens between training and validation error is of order
# parameters / samples (a linear model's is sigma^2 p / n), far below what the rule asks for
OVERFIT_CAPACITY = 0.1
# two evaluation passes over the same rows: a deterministic model repeats its outputs bit for bit on
# a CPU, and to about 1e-6 of their size on a GPU whose reductions add in a varying order; a dropout
# left on changes units by their own size. Outputs apart by more than this share of the largest differ;
# the passes read this many rows
EVALUATION_SPREAD, EVALUATION_ROWS = 1e-3, 32
# validation accuracy swinging by tens of points, up and down, on consecutive epochs
SWING, SWINGS = 0.2, 3
# underfitting: a plateau held for this many plateau windows, still above 3/4 of a blind guess's loss.
# Labels that are noisy set a floor no model can pass: with a share e of two classes mislabelled the
# best cross-entropy is H(e), 0.61 ln 2 at e = 0.15 and 0.72 ln 2 at e = 0.2; a stall below 3/4 of a
# guess's loss may be that floor, not too little capacity
UNDERFIT_WINDOWS, UNDERFIT_LEVEL = 10, 0.75
# batch_too_small: the per-step noise of the loss at least half its level (for per-sample losses of
# CV about 1 that is a batch of 4 or fewer) and no fall beyond that noise over the window
NOISE_LEVEL, BATCH_WINDOWS = 0.5, 4
# a batch is small when even per-sample losses spread only as widely as their mean (CV 1) leave its
# loss a noise of 1/sqrt(B) >= NOISE_LEVEL of its level: B <= 1 / NOISE_LEVEL^2 (larger batches that
# are noisy have samples that differ that much, which a larger batch does not cure as well)
SMALL_BATCH = round(1 / NOISE_LEVEL**2)  # 4
HORIZON = 2000  # loss rules look at the last this many steps (and the first few): bounded cost
DROPOUT_RATE = 0.8
# a rate this close to 1 passes a twentieth of each layer's units or less: it alone stops nearly all
# learning (rate 1.0 learns nothing), so the loss needs half the plateau window to confirm it (critical)
DROPOUT_NEAR_TOTAL = 0.95


def smoothing_span(batch_size: int | None = None) -> int:
    """Steps the loss is smoothed over: ``LOSS_EMA_STEPS``, or as many as hold ``LOSS_SMOOTH_SAMPLES``
    samples when the batches are smaller (a batch of 1 needs 576 steps)."""
    if not batch_size or batch_size <= 0:
        return LOSS_EMA_STEPS
    return max(LOSS_EMA_STEPS, math.ceil(LOSS_SMOOTH_SAMPLES / batch_size))


def dead_window_probes(batch_size: int | None = None) -> int:
    """Probes the dead-unit rule needs: ``DEAD_WINDOW``, or as many as hold ``DEAD_SAMPLES`` samples."""
    if not batch_size or batch_size <= 0:
        return DEAD_WINDOW
    return max(DEAD_WINDOW, math.ceil(DEAD_SAMPLES / batch_size))


@dataclass
class Finding:
    """A detector's raw output, before the doctor turns it into a Diagnosis."""

    problem: str
    layer: str | None
    label: str | None
    severity: str
    evidence: dict[str, Any] = field(default_factory=dict)
    explanation: str = ""


def _fmt(value: float) -> str:
    return f"{value:.2g}" if value and (abs(value) < 1e-2 or abs(value) >= 1e3) else f"{value:.3g}"


def _pct(share: float) -> str:
    """A share as a percentage with two significant digits (0.012 %, 3.4 %, 45 %): a small change
    never prints as a 0.0 % that contradicts the words around it."""
    percent = 100 * share
    return f"{percent:.0f}%" if abs(percent) >= 10 else f"{percent:.2g}%"


def _all_finite(values: Sequence[float]) -> bool:
    return bool(np.isfinite(np.asarray(values, dtype=np.float64)).all())


def _mean(values: Sequence[float]) -> float:
    """The mean of a short run of values (np.mean's wrapper costs more than the sum here)."""
    array = np.asarray(values, dtype=np.float64)
    return float(np.add.reduce(array)) / array.size if array.size else math.nan


def _window_sums(values: Sequence[float], span: int) -> np.ndarray:
    """Sums over every window of ``span`` consecutive steps (from a running sum)."""
    total = np.add.accumulate(np.asarray(values, dtype=np.float64))
    sums = total[span - 1:].copy()
    sums[1:] -= total[:-span]
    return sums


def _smooth(values: Sequence[float], span: int) -> np.ndarray:
    """Moving average over ``span`` steps (one value per full window)."""
    return _window_sums(values, span) / span


def _lowest_smoothed(losses: Sequence[float], span: int = LOSS_EMA_STEPS) -> float:
    """The lowest moving average of the loss over the last ``HORIZON`` steps: a loss that has been
    well below its start made progress, so the plateau tests do not call it slow."""
    return float(np.minimum.reduce(_smooth(losses[-max(HORIZON, 4 * span):], span)))


def _falling(before: np.ndarray, now: np.ndarray) -> bool:
    """Whether the loss over the steps ``now`` is lower than over ``before`` by more than
    ``PLATEAU_FALL`` of it and by more than twice the sampling noise of the difference (as ``_rising``)."""
    return _rising(now, before)


def _start_of(losses: Sequence[float], start: float | None, span: int = 5) -> float:
    """The loss the run began from: ``start``, else the mean of its first ``span`` steps."""
    if start is not None:
        return float(start)
    first = np.asarray(losses[:span], dtype=np.float64)
    return _mean(first) if first.size and np.isfinite(first).all() else math.nan


def _fall_and_noise(before: np.ndarray, now: np.ndarray) -> tuple[float, float]:
    """How far the mean loss falls from the steps ``before`` to the steps ``now`` (negative: it rose),
    and the sampling noise of that difference (the two means' standard errors combined)."""
    fall = float(np.add.reduce(before)) / before.size - float(np.add.reduce(now)) / now.size
    return fall, math.sqrt(float(np.var(before)) / before.size + float(np.var(now)) / now.size)


def _rising(before: np.ndarray, now: np.ndarray) -> bool:
    """Whether the loss over the steps ``now`` is higher than over the steps ``before`` by more than
    ``PLATEAU_FALL`` of it and by more than twice the sampling noise of the difference of the two
    means (a flat loss of noisy mini-batches rises that far by chance about one check in 40)."""
    fall, noise = _fall_and_noise(before, now)
    return -fall > PLATEAU_FALL * float(np.add.reduce(before)) / before.size and -fall > 2 * noise


def _generalization_gap(log: dict[str, float], samples: tuple[int, int] | None) -> tuple[float, float]:
    """One epoch's generalization gap and the least gap that counts: train accuracy - validation
    accuracy when both are logged, else the validation loss's relative excess over the training loss."""
    needed = OVERFIT_GAP
    if "accuracy" in log and "val_accuracy" in log:  # memorizing shows as a generalization gap
        if samples and min(samples) > 0:
            # the standard error of a difference of two accuracies measured on n and m samples
            measured = ((log["accuracy"], samples[0]), (log["val_accuracy"], samples[1]))
            noise = math.sqrt(sum(_accuracy_noise(p, n) ** 2 for p, n in measured))
            needed = max(needed, 2 * noise)
        return log["accuracy"] - log["val_accuracy"], needed
    return (log["val_loss"] - log["loss"]) / max(abs(log["loss"]), 1e-12), needed


def _accuracy_noise(accuracy: float, count: int | None) -> float:
    """The standard error of one accuracy measured on ``count`` samples (0 when unknown):
    sqrt(p (1 - p) / count) at the true rate p, estimated by Agresti and Coull's centre
    (k + 2) / (count + 4) for k correct. The measured share itself says 0 at 0 % or 100 %, which on
    a handful of samples is luck, not certainty (one validation sample is right or wrong)."""
    if not count or count <= 0:
        return 0.0
    correct = min(max(accuracy, 0.0), 1.0) * count
    p = (correct + 2) / (count + 4)
    return math.sqrt(p * (1 - p) / count)


def compound_dropout(rates: Sequence[float]) -> float:
    """The one dropout rate equivalent to ``rates`` applied one after another along the network:
    1 - prod(1 - p). Each inverted dropout multiplies its units by noise of variance p / (1 - p), and
    noise passed through several layers compounds to 1 / prod(1 - p) - 1, the variance a single rate
    of 1 - prod(1 - p) gives: seven dropouts of 0.5 pass as little signal as one of 0.992. 0 without
    any."""
    keep = 1.0
    for rate in rates:
        keep *= 1.0 - float(rate)
    return 1.0 - keep


def dropout_level(rates: Sequence[float]) -> float:
    """How much of the signal the model's dropouts drop: the largest single rate, or the rates taken
    together (``compound_dropout``) when these reach ``DROPOUT_NEAR_TOTAL``. Moderate rates after
    every block (VGG's 0.2 to 0.5) compound to 0.8-0.9 in networks that train well with them; rates
    that together keep under 5 % of the signal starve the network as one near-total rate does. 0
    without any."""
    together = compound_dropout(rates)
    return together if together >= DROPOUT_NEAR_TOTAL else max(rates, default=0.0)
