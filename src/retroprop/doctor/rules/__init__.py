"""The detectors of the rules table (``table``), on plain per-layer statistics.

Detectors see only numbers (dicts of floats, lists, NumPy arrays), never retroprop types, so any
framework's probes can feed them. Each probe record is a dict with ``step``, ``epoch``, ``loss``,
optionally ``grad_norm_total``, ``layers`` (weighted layers, input side first: ``name``, ``label``,
``grad_rms``, ``grad_norm``, ``update_ratio``, ``update_cosine``, ``nonfinite_grad``,
``nonfinite_weight``) and ``activations`` (``name``, ``label``, ``kind``, ``fired`` (per-unit booleans
for ReLU), ``saturated_share``, ``nonfinite``, optionally ``samples`` (the batch's sample count) and ``after``
(the name of the weighted layer feeding it)).

The layer rules are gated on harm when given the evidence (keyword arguments: the losses, the
batch size, the latest training accuracy): units dead or saturated in a network that still learns,
or has fitted its data, are no alarm. The loss rules smooth over samples, not steps, when the batch
size is given. Epoch rules read a bounded window of logs plus a running ``EpochBest``.

The thresholds come from the mechanisms the course page describes; they are a first setting, to be
frozen against the labelled scenarios of the clinic (benchmarks/clinic/) and reported there.

One module per kind of evidence: ``common`` (thresholds, ``Finding``, smoothing and noise), ``loss``
(the per-step losses), ``layers`` (probed layers), ``direction`` (whether the steps go down the
loss's slope), ``decay`` (weight decay against the gradient) and ``epochs`` (epoch logs); every name is
available here as ``rules.NAME``.
"""

from __future__ import annotations

from retroprop.doctor.rules.common import (
    ASCENT_COSINE,
    ASCENT_OPENING,
    ASCENT_PROBES,
    ASTRONOMICAL_LOSS,
    BATCH_WINDOWS,
    CONVERGED_STEP,
    DEAD_CONFIDENCE,
    DEAD_CRITICAL,
    DEAD_RARE_FIRING,
    DEAD_SAMPLES,
    DEAD_SHARE,
    DEAD_WINDOW,
    DECAY_COLLAPSE,
    DECAY_DOMINANCE,
    DECAY_PROBES,
    DECAY_RISE,
    DEGENERATE_STOPS,
    DIVERGED_FACTOR,
    DIVERGED_MIN_STEPS,
    DROPOUT_NEAR_TOTAL,
    DROPOUT_RATE,
    EVALUATION_ROWS,
    EVALUATION_SPREAD,
    EXPLODING_GROWTH,
    EXPLODING_UPDATE_RATIO,
    FIRST_STEP_OVERSHOOT,
    FITTED_LEVEL,
    HORIZON,
    LOSS_ALARM,
    LOSS_EMA_STEPS,
    LOSS_SMOOTH_SAMPLES,
    NOISE_LEVEL,
    OVERFIT_CAPACITY,
    OVERFIT_EPOCHS,
    OVERFIT_GAP,
    OVERFIT_RISE,
    OVERSIZED_GAIN,
    PACE_KEPT,
    PLATEAU_FALL,
    PLATEAU_LEVEL,
    PLATEAU_STEPS,
    RATE_DECAYED,
    SATURATED_PASSES,
    SATURATED_SHARE,
    SHORT_RUN_STEPS,
    SLOW_UPDATE,
    SMALL_BATCH,
    STATS_FORGOTTEN,
    STEPLESS_BACKWARDS,
    SWING,
    SWINGS,
    TINY_WEIGHTS,
    UNDERFIT_LEVEL,
    UNDERFIT_WINDOWS,
    UNFINISHED_MOVEMENT,
    UNSTABLE_FACTOR,
    VANISHING_CRITICAL,
    VANISHING_RATIO,
    Finding,
    compound_dropout,
    dead_window_probes,
    dropout_level,
    smoothing_span,
)
from retroprop.doctor.rules.common import (
    _accuracy_noise as _accuracy_noise,
)
from retroprop.doctor.rules.common import (
    _all_finite as _all_finite,
)
from retroprop.doctor.rules.common import (
    _falling as _falling,
)
from retroprop.doctor.rules.common import (
    _fmt as _fmt,
)
from retroprop.doctor.rules.common import (
    _generalization_gap as _generalization_gap,
)
from retroprop.doctor.rules.common import (
    _lowest_smoothed as _lowest_smoothed,
)
from retroprop.doctor.rules.common import (
    _mean as _mean,
)
from retroprop.doctor.rules.common import (
    _pct as _pct,
)
from retroprop.doctor.rules.common import (
    _rising as _rising,
)
from retroprop.doctor.rules.common import (
    _smooth as _smooth,
)
from retroprop.doctor.rules.common import (
    _start_of as _start_of,
)
from retroprop.doctor.rules.common import (
    _window_sums as _window_sums,
)
from retroprop.doctor.rules.decay import decay_dominates, decay_pulls, weight_decay_too_high
from retroprop.doctor.rules.direction import (
    CARRIED_SHARE,
    CARRY_CHECKS,
    climbs,
    gradient_ascent,
    gradients_carried,
    opening_climbs,
    steps_without_gradients,
)
from retroprop.doctor.rules.epochs import (
    FIT_MIN_ROWS,
    EpochBest,
    batchnorm_statistics,
    class_accuracy,
    classes_fit,
    collapsing_validation,
    loss_not_fit,
    memorized,
    oscillating_validation,
    overfitting,
    prediction_fit,
    random_evaluation,
    spread,
)
from retroprop.doctor.rules.epochs import (
    _accuracy_collapsed as _accuracy_collapsed,
)
from retroprop.doctor.rules.layers import (
    _fired_always as _fired_always,
)
from retroprop.doctor.rules.layers import (
    _total_grad_norm as _total_grad_norm,
)
from retroprop.doctor.rules.layers import (
    _update_confirmed as _update_confirmed,
)
from retroprop.doctor.rules.layers import (
    _window_by_samples as _window_by_samples,
)
from retroprop.doctor.rules.layers import (
    dead_margin,
    dead_relu,
    exploding_gradients,
    exploding_growth,
    exploding_updates,
    fired_in_window,
    gradient_share,
    no_gradient,
    non_finite,
    oversized_init,
    saturated_activations,
    saturation_margin,
    symptoms,
    tiny_weights,
    undefined_loss,
    vanishing_gradients,
    weight_gain,
)
from retroprop.doctor.rules.loss import (
    PASSING,
    astronomical_loss,
    batch_too_small,
    diverged,
    dropout_ended_short,
    dropout_too_high,
    ended_short,
    learns_well,
    loss_symptoms,
    loss_trend,
    passed_by_itself,
    rate_decayed,
    scale_cost,
    slow_convergence,
    slow_steps,
    steps_not_taken,
    underfitting,
    unfinished,
    unstable_loss,
    untrained_loss,
)
from retroprop.doctor.rules.loss import (
    _rose_from_start as _rose_from_start,
)

__all__ = [
    "ASCENT_COSINE",
    "ASCENT_OPENING",
    "ASCENT_PROBES",
    "ASTRONOMICAL_LOSS",
    "BATCH_WINDOWS",
    "CARRIED_SHARE",
    "CARRY_CHECKS",
    "CONVERGED_STEP",
    "DEAD_CONFIDENCE",
    "DEAD_CRITICAL",
    "DEAD_RARE_FIRING",
    "DEAD_SAMPLES",
    "DEAD_SHARE",
    "DEAD_WINDOW",
    "DECAY_COLLAPSE",
    "DECAY_DOMINANCE",
    "DECAY_PROBES",
    "DECAY_RISE",
    "DEGENERATE_STOPS",
    "DIVERGED_FACTOR",
    "DIVERGED_MIN_STEPS",
    "DROPOUT_NEAR_TOTAL",
    "DROPOUT_RATE",
    "EVALUATION_ROWS",
    "EVALUATION_SPREAD",
    "EXPLODING_GROWTH",
    "EXPLODING_UPDATE_RATIO",
    "FIRST_STEP_OVERSHOOT",
    "FITTED_LEVEL",
    "FIT_MIN_ROWS",
    "HORIZON",
    "LOSS_ALARM",
    "LOSS_EMA_STEPS",
    "LOSS_SMOOTH_SAMPLES",
    "NOISE_LEVEL",
    "OVERFIT_CAPACITY",
    "OVERFIT_EPOCHS",
    "OVERFIT_GAP",
    "OVERFIT_RISE",
    "OVERSIZED_GAIN",
    "PACE_KEPT",
    "PASSING",
    "PLATEAU_FALL",
    "PLATEAU_LEVEL",
    "PLATEAU_STEPS",
    "RATE_DECAYED",
    "SATURATED_PASSES",
    "SATURATED_SHARE",
    "SHORT_RUN_STEPS",
    "SLOW_UPDATE",
    "SMALL_BATCH",
    "STATS_FORGOTTEN",
    "STEPLESS_BACKWARDS",
    "SWING",
    "SWINGS",
    "TINY_WEIGHTS",
    "UNDERFIT_LEVEL",
    "UNDERFIT_WINDOWS",
    "UNFINISHED_MOVEMENT",
    "UNSTABLE_FACTOR",
    "VANISHING_CRITICAL",
    "VANISHING_RATIO",
    "EpochBest",
    "Finding",
    "astronomical_loss",
    "batch_too_small",
    "batchnorm_statistics",
    "class_accuracy",
    "classes_fit",
    "climbs",
    "collapsing_validation",
    "compound_dropout",
    "dead_margin",
    "dead_relu",
    "dead_window_probes",
    "decay_dominates",
    "decay_pulls",
    "diverged",
    "dropout_ended_short",
    "dropout_level",
    "dropout_too_high",
    "ended_short",
    "exploding_gradients",
    "exploding_growth",
    "exploding_updates",
    "fired_in_window",
    "gradient_ascent",
    "gradient_share",
    "gradients_carried",
    "learns_well",
    "loss_not_fit",
    "loss_symptoms",
    "loss_trend",
    "memorized",
    "no_gradient",
    "non_finite",
    "opening_climbs",
    "oscillating_validation",
    "overfitting",
    "oversized_init",
    "passed_by_itself",
    "prediction_fit",
    "random_evaluation",
    "rate_decayed",
    "saturated_activations",
    "saturation_margin",
    "scale_cost",
    "slow_convergence",
    "slow_steps",
    "smoothing_span",
    "spread",
    "steps_not_taken",
    "steps_without_gradients",
    "symptoms",
    "tiny_weights",
    "undefined_loss",
    "underfitting",
    "unfinished",
    "unstable_loss",
    "untrained_loss",
    "vanishing_gradients",
    "weight_decay_too_high",
    "weight_gain",
]
