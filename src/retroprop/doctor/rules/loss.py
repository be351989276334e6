"""The detectors on the per-step losses: unstable, diverged or astronomical, stalled (slow or
underfitting), too noisy (batches too small), dropout too high; and ``learns_well``, the harm gate of
the layer detectors. Windows are bounded (``HORIZON``) and counted in samples when the batch size is
given."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np

from retroprop.doctor.rules.common import (
    ASTRONOMICAL_LOSS,
    BATCH_WINDOWS,
    CONVERGED_STEP,
    DEGENERATE_STOPS,
    DIVERGED_FACTOR,
    DIVERGED_MIN_STEPS,
    DROPOUT_NEAR_TOTAL,
    DROPOUT_RATE,
    EXPLODING_UPDATE_RATIO,
    FITTED_LEVEL,
    HORIZON,
    LOSS_EMA_STEPS,
    NOISE_LEVEL,
    OVERFIT_EPOCHS,
    OVERFIT_GAP,
    PACE_KEPT,
    PLATEAU_FALL,
    PLATEAU_LEVEL,
    PLATEAU_STEPS,
    RATE_DECAYED,
    SHORT_RUN_STEPS,
    SLOW_UPDATE,
    SMALL_BATCH,
    STEPLESS_BACKWARDS,
    UNDERFIT_LEVEL,
    UNDERFIT_WINDOWS,
    UNFINISHED_MOVEMENT,
    UNSTABLE_FACTOR,
    Finding,
    _accuracy_noise,
    _all_finite,
    _fall_and_noise,
    _falling,
    _fmt,
    _generalization_gap,
    _lowest_smoothed,
    _mean,
    _pct,
    _rising,
    _smooth,
    _start_of,
    _window_sums,
    dropout_level,
    smoothing_span,
)


def loss_symptoms(losses: Sequence[float], *, batch_size: int | None = None) -> list[str]:
    """``["unstable_loss"]`` when the smoothed loss (over ``smoothing_span(batch_size)`` steps) is
    already above twice its lowest value (on its way back up), else ``[]``."""
    span = smoothing_span(batch_size)
    if len(losses) < 2 * span:
        return []
    recent = np.asarray(losses[-max(HORIZON, 4 * span):], dtype=np.float64)
    if not np.isfinite(recent).all():
        return []
    smooth = _smooth(recent, span)
    return ["unstable_loss"] if smooth[-1] > UNSTABLE_FACTOR * smooth.min() else []


def learns_well(losses: Sequence[float], start: float | None = None, *, batch_size: int | None = None,
                accuracy: float | None = None, epoch_logs: Sequence[dict[str, float]] = (),
                samples: tuple[int, int] | None = None, chance_loss: float | None = None) -> bool:
    """Whether the network demonstrably learns well, so that odd-looking units in it (dead, or
    saturated) are no alarm: it has fitted its training data (``loss_trend`` says ``"fitted"``: a
    training accuracy of 1, or a loss an order of magnitude below its start and a blind guess's,
    ``chance_loss``, when known: a start thrown far above it is no mark) and, when the latest
    of ``epoch_logs`` has both accuracies, it generalizes: no gap reaching ``OVERFIT_GAP`` and
    twice its sampling noise (``samples`` the training and validation counts) on every one of the
    last ``OVERFIT_EPOCHS`` logs given that has both (one epoch's gap alone is what chance gives
    over a long run, as for ``overfitting``; a caller that passes one log judges by it). A loss that
    merely falls is no proof: saturated units still let the output layer fit the training data,
    slowly or by memorizing it (a generalization gap)."""
    trend = loss_trend(losses, start, batch_size=batch_size, accuracy=accuracy, chance_loss=chance_loss)
    if trend != "fitted":
        return False
    if not epoch_logs or not ("accuracy" in epoch_logs[-1] and "val_accuracy" in epoch_logs[-1]):
        return True
    for log in epoch_logs[-OVERFIT_EPOCHS:]:
        if "accuracy" in log and "val_accuracy" in log:
            gap, needed = _generalization_gap(log, samples)
            if gap < needed:
                return True
    return False


def unstable_loss(losses: Sequence[float], start: float | None = None, recent: int = 1, *,
                  batch_size: int | None = None, chance_loss: float | None = None) -> list[Finding]:
    """The smoothed loss climbed back: above twice its lowest value so far and more than half-way
    to its start. The untrained model's loss (``untrained_loss``) counts as the first value: a loss
    thrown to many times its start by the first steps and falling back climbed too, though no
    smoothed window ever rose (the jump sits in the first one).

    ``start`` is the loss the run began from (default: the mean of the first smoothing window; the
    untrained model's loss when larger: a loss that falls fast within the first window began above
    that window's mean, and the progress is counted from where the run began). The
    climb is looked for among the last ``recent`` smoothed values (the steps since the rule last
    ran), so that a loss which climbs and falls back between two runs of the rule is still caught.
    The loss is smoothed over ``smoothing_span(batch_size)`` steps (samples, not steps, set the
    noise). ``chance_loss``, when known, is the least the progress is measured from: a loss that
    has converged far below it and wobbles (a doubling of 1e-6) has not undone anything.
    """
    span = smoothing_span(batch_size)
    if len(losses) < 2 * span:
        return []
    sums = _window_sums(losses[-max(HORIZON, 4 * span):], span)  # window sums: the ratios need no scaling
    recent = min(max(recent, 1), sums.size)
    untrained = untrained_loss(losses)
    peak = float(np.maximum.reduce(sums[-recent:]))
    low = min(float(np.minimum.reduce(sums)), untrained * span)
    if not (math.isfinite(peak) and math.isfinite(low)) or peak <= UNSTABLE_FACTOR * low:
        return []  # no recent value is twice the lowest of all (the common case: one pass, no more)
    if start is None:
        start = _mean(losses[:span])
    reference = max(start, chance_loss) if chance_loss and math.isfinite(chance_loss) else start
    if math.isfinite(untrained):  # a fast first fall is inside the first window: the run began above it
        reference = max(reference, untrained)
    smooth = sums / span
    lowest = np.minimum.accumulate(smooth)[-recent:]  # the lowest value before each point
    if math.isfinite(untrained):  # the untrained model's loss is the first of them
        lowest = np.minimum(lowest, untrained)
    now = smooth[-len(lowest):]
    # small late wobbles of a nearly-converged loss double it easily: the climb must also undo
    # more than half of the progress made so far
    climbed = (lowest > 0) & (now > UNSTABLE_FACTOR * lowest) & (now - lowest > 0.5 * (reference - lowest))
    if not climbed.any():
        return []
    worst = int(np.argmax(np.where(climbed, now / np.where(lowest > 0, lowest, 1.0), -np.inf)))
    peak, low = float(now[worst]), float(lowest[worst])
    from_start = low == untrained
    return [Finding(
        "unstable_loss", None, None, "warning",
        {"loss_smoothed": peak, "lowest_smoothed": low, "start_smoothed": start,
         "loss_smoothed_now": float(smooth[-1]), "smoothed_steps": span, "untrained_loss": untrained,
         "above_start": from_start},
        f"the smoothed training loss rose to {peak:.3g}, {peak / low:.1f}x "
        + (f"the untrained model's ({low:.3g}): the first steps threw the weights far past the minimum."
           if from_start else
           f"its lowest value ({low:.3g}), undoing most of the progress: the steps overshoot the minimum."),
    )]


def untrained_loss(losses: Sequence[float]) -> float:
    """The loss of the untrained model: the first step's (measured before any update), or the median of
    the first ``LOSS_EMA_STEPS`` steps when larger (one small batch may be a lucky few samples; a median
    is not moved by the few steps a jump or a divergence has already blown up). NaN when not finite."""
    first = np.asarray(losses[:LOSS_EMA_STEPS], dtype=np.float64)
    if not first.size or not np.isfinite(first).all():
        return math.nan
    ordered = np.sort(first)  # the median (np.median's wrapper costs ~40 us; this is the same number)
    middle = ordered.size // 2
    median = ordered[middle] if ordered.size % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return max(float(first[0]), float(median))


def diverged(losses: Sequence[float], chance_loss: float | None = None, *, start: float | None = None,
             batch_size: int | None = None) -> list[Finding]:
    """The loss ended far above where it started: more than ``DIVERGED_FACTOR`` times the untrained
    model's (the first step's, measured before any update) and, when known, than a blind guess's.

    The end is the mean of the last ``smoothing_span(batch_size)`` steps (of the last half of a
    shorter run, at least ``DIVERGED_MIN_STEPS`` steps). No healthy run ends worse than it began, let
    alone several times worse than guessing: the steps threw the weights past the minimum (critical).
    ``start``: the run's starting loss when ``losses`` begin later (after a treatment). With batches
    too small to smooth over ``LOSS_EMA_STEPS`` steps and no ``chance_loss``, the first step's loss
    is a lucky few samples as often as not, so the start is the larger of it and the median of the
    first ``LOSS_EMA_STEPS`` steps.
    """
    if len(losses) < DIVERGED_MIN_STEPS:
        return []
    span = min(smoothing_span(batch_size), len(losses) // 2)
    if start is None:
        start = float(losses[0])
        if not chance_loss and smoothing_span(batch_size) > LOSS_EMA_STEPS:
            # one small batch's loss may be a lucky few samples; the median of the first steps is
            # not moved by the few that a fast divergence has already blown up
            start = max(start, float(np.median(np.asarray(losses[:min(LOSS_EMA_STEPS, len(losses) // 2)]))))
    now = _mean(losses[-span:])
    if not (math.isfinite(start) and math.isfinite(now)) or start <= 0:
        return []  # NaN/Inf are non_finite's to name
    mark = max(start, chance_loss or 0.0)
    if now <= DIVERGED_FACTOR * mark:
        return []
    against = f" and a blind guess's ({_fmt(chance_loss)})" if chance_loss else ""
    return [Finding(
        "unstable_loss", None, None, "critical",
        {"loss_start": start, "loss_now": now, "chance_loss": chance_loss, "steps": span, "diverged": True},
        f"the training loss ended at {_fmt(now)} (mean of the last {span} steps), far above the untrained "
        f"model's ({_fmt(start)}){against}, {_fmt(now / mark)}x the larger: the steps threw the weights "
        "far past the minimum and the run diverged.",
    )]


def astronomical_loss(losses: Sequence[float], start: float | None = None,
                      chance_loss: float | None = None, recent: int = 1) -> list[Finding]:
    """A finite loss more than ``ASTRONOMICAL_LOSS`` times the larger of the run's start and a blind
    guess's, on any of the last ``recent`` steps: outputs that large come only from weights and
    gradients that grew geometrically (``exploding_gradients``, critical). Named alongside the
    diverged ``unstable_loss`` it causes. ``start`` defaults to the first step's loss."""
    if not len(losses):
        return []
    if start is None:
        start = float(losses[0])
    mark = max(start if math.isfinite(start) else 0.0, chance_loss or 0.0)
    tail = np.asarray(losses[-max(recent, 1):], dtype=np.float64)
    tail = tail[np.isfinite(tail)]  # NaN/Inf are non_finite's to name
    if mark <= 0 or not tail.size:
        return []
    peak = float(np.maximum.reduce(tail))
    if peak <= ASTRONOMICAL_LOSS * mark:
        return []
    return [Finding(
        "exploding_gradients", None, None, "critical",
        {"loss_peak": peak, "loss_start": start, "chance_loss": chance_loss, "growth": peak / mark},
        f"the training loss reached {_fmt(peak)}, {_fmt(peak / mark)}x where it started"
        + (f" (or a blind guess's, {_fmt(chance_loss)})" if chance_loss else "")
        + ": outputs this large come only from weights and gradients that grew geometrically.",
    )]


def loss_trend(losses: Sequence[float], start: float | None = None, *, batch_size: int | None = None,
               accuracy: float | None = None, chance_loss: float | None = None) -> str | None:
    """Where the training loss stands: ``"fitted"`` (a training accuracy of 1, or a smoothed loss
    below ``FITTED_LEVEL`` of ``start``, and of ``chance_loss`` when given: a start far above a blind
    guess's, as from a bad init, is no mark to have fallen from), else ``"falling"`` or ``"rising"``
    (the latest smoothed window against the one ``PLATEAU_STEPS`` earlier, beyond 1 % and twice their
    noise) or ``"stalled"``; None when the steps are too few to tell (or not finite). A fitted loss
    needs only its start and one smoothed window after it: a run that fell tenfold within its first
    hundred steps is fitted before any trend can be read.

    The harm test of the layer rules: units that are dead or saturated in a network whose loss
    still falls, or has fitted its data, cost nothing measurable. ``start``: the run's starting
    loss (default: the mean of its first 5 steps, or of its first smoothing window when
    ``batch_size`` is given); ``accuracy``: the latest training
    accuracy, when known.
    """
    if accuracy is not None and accuracy >= 1.0:
        return "fitted"
    span = smoothing_span(batch_size)
    window = max(PLATEAU_STEPS, span)
    if len(losses) < 2 * span:  # a start and a window after it
        return None
    start = _start_of(losses, start, span if batch_size else 5)
    now = np.asarray(losses[-span:], dtype=np.float64)
    if not (np.isfinite(now).all() and math.isfinite(start)):
        return None
    mark = min(start, chance_loss) if chance_loss and math.isfinite(chance_loss) else start
    if mark > 0 and _mean(now) <= FITTED_LEVEL * mark:
        return "fitted"
    if len(losses) < window + span:
        return None
    recent = np.asarray(losses[-(window + span):], dtype=np.float64)
    if not np.isfinite(recent).all():
        return None
    before = recent[:span]
    if _falling(before, now):
        return "falling"
    return "rising" if _rising(before, now) else "stalled"


def _rose_from_start(losses: Sequence[float], start: float, span: int, start_steps: int = 5) -> bool:
    """Whether the loss now (its last ``span`` steps) is above ``start`` (a mean of ``start_steps``
    steps) by more than 1 % and twice the noise of the difference (the per-step spread read on the
    recent steps): a loss that rose is not held up by small steps (each lowers it, to first order)."""
    now = np.asarray(losses[-span:], dtype=np.float64)
    rise = _mean(now) - start
    spread = float(np.var(now))
    return rise > PLATEAU_FALL * abs(start) and rise > 2 * math.sqrt(spread / now.size + spread / start_steps)


def slow_convergence(losses: Sequence[float], start: float | None = None, *,
                     batch_size: int | None = None, chance_loss: float | None = None,
                     steps_left: int | None = None) -> list[Finding]:
    """A plateau: hardly any fall over the last ``PLATEAU_STEPS`` steps, never far below the start's
    loss, nor below a blind guess's (``chance_loss``, when known and lower: a start thrown far above
    it by a bad initialization is no mark to have fallen from, and a loss at a guess's level, the
    class frequencies' or the targets' mean's, has learned nothing of the inputs); and no clear rise,
    over the window or since the start: a loss that climbs is not held up by small steps.

    Slow is measured against the run's length: a loss that still falls (beyond twice the noise of
    the window's two ends) at a pace that, kept over the ``steps_left`` the run has (when known),
    would take it below ``PLATEAU_LEVEL`` of its mark is leaving the plateau (as a network does on
    escaping the flat start of a symmetric or saturated initialization), and is not named; each later
    check reads the pace again, so a fall that fades is named then.

    ``start`` is the loss the run began from (default: the mean of the first 5 values, or of the
    first smoothing window when ``batch_size`` is given). The two ends of the window are smoothed
    over ``smoothing_span(batch_size)`` steps.
    """
    span = smoothing_span(batch_size)
    window = max(PLATEAU_STEPS, span)
    if len(losses) < window + span:  # one full window, smoothed
        return []
    recent = np.asarray(losses[-(window + span):], dtype=np.float64)
    start_steps = span if batch_size and start is None else 5  # a few single samples mislead
    if start is None:
        start = _start_of(losses, None, start_steps)
    if not (np.isfinite(recent).all() and math.isfinite(start)):
        return []
    add = np.add.reduce  # the two ends of the moving average are all this rule needs
    before = float(add(recent[1:span + 1])) / span
    now = float(add(recent[-span:])) / span
    if before <= 0 or start <= 0:
        return []
    guess = chance_loss is not None and math.isfinite(chance_loss) and 0 < chance_loss < start
    mark = chance_loss if guess else start
    fall = (before - now) / before
    if fall < PLATEAU_FALL and now > PLATEAU_LEVEL * mark:
        lowest = _lowest_smoothed(losses, span)
        if lowest < PLATEAU_LEVEL * mark:
            return []  # it made progress and lost it: unstable_loss's to name, not a plateau
        if _rising(recent[1:span + 1], recent[-span:]) or _rose_from_start(losses, start, span, start_steps):
            return []  # a climbing loss: steps too small cannot raise it (each lowers it to first order)
        if steps_left and _leaves_plateau(recent, span, steps_left, PLATEAU_LEVEL * mark):
            return []
        where = (f"{now / mark:.0%} of a blind guess's ({_fmt(mark)}; it fell from its start, "
                 f"{_fmt(start)}, only to what guessing scores)" if guess
                 else f"{now / start:.0%} of where it started")
        return [Finding(
            "slow_convergence", None, None, "warning",
            {"loss_start": start, "loss_now": now, "fall_last_steps": fall, "steps": window,
             "lowest_smoothed": lowest, **({"reference_loss": mark} if guess else {})},
            (f"the loss fell only {_pct(fall)}" if fall > 0 else "the loss did not fall" if fall == 0
             else f"the loss rose {_pct(-fall)}")
            + f" over the last {window} steps and is still {where}: the model is not learning at this pace.",
        )]
    return []


def _leaves_plateau(recent: np.ndarray, span: int, steps_left: int, level: float) -> bool:
    """Whether the loss falls from the first ``span`` steps of ``recent`` (after its first) to its last
    ``span`` beyond twice the noise of the difference, at a pace that, kept for ``steps_left`` more
    steps, would bring it below ``level``."""
    now = recent[-span:]
    fall, noise = _fall_and_noise(recent[1:span + 1], now)
    if not fall > 2 * noise:
        return False
    per_step = fall / (recent.size - 1 - span)  # the two ends' centres lie this many steps apart
    return _mean(now) - per_step * steps_left < level


def slow_steps(losses: Sequence[float], update_ratios: Sequence[float],
               start: float | None = None) -> list[Finding]:
    """Steps too small to learn: on the last two probes no layer's update moved its weights by
    ``SLOW_UPDATE`` of their size, and the loss is still near where it started and never fell far
    below it (as for ``slow_convergence``).

    ``update_ratios``: the largest update-to-weight ratio of any layer at each probe whose update
    is known, oldest first, all under the same fixed learning rate (a schedule that may raise the
    rate later makes small early steps deliberate). ``start``: as for ``slow_convergence``.
    """
    ratios = [float(r) for r in update_ratios[-2:]]
    if len(ratios) < 2 or len(losses) < LOSS_EMA_STEPS or not all(0 < r < SLOW_UPDATE for r in ratios):
        return []  # no update at all is a lack of gradient (dead units, say), not a small rate
    if start is None:
        start = _mean(losses[:5])
    now = _mean(losses[-LOSS_EMA_STEPS:])
    if not (math.isfinite(start) and math.isfinite(now)) or start <= 0 or now <= PLATEAU_LEVEL * start:
        return []
    if _lowest_smoothed(losses) < PLATEAU_LEVEL * start:
        return []  # it learned, then lost it: steps that shrank since (dying units, say) are not the rate's
    if _rose_from_start(losses, start, LOSS_EMA_STEPS):
        return []  # a loss that rose was not held up by small steps
    largest = max(ratios)
    return [Finding(
        "slow_convergence", None, None, "warning",
        {"loss_start": start, "loss_now": now, "largest_update_ratio": largest, "probes": len(ratios)},
        f"each step moves the weights by at most {largest:.1e} of their size (healthy runs: about 1e-3 "
        f"to 1e-2), so 1000 steps would change them by {1000 * largest:.2%} at most, and the "
        f"loss is still {now / start:.0%} of where it started: the learning rate is too small to learn.",
    )]


def rate_decayed(losses: Sequence[float], rates: tuple[Sequence[float], Sequence[float]] | None,
                 update_ratios: Sequence[float], start: float | None = None, *,
                 batch_size: int | None = None, chance_loss: float | None = None,
                 epoch_logs: Sequence[dict[str, float]] = (), samples: tuple[int, int] | None = None,
                 attainable: Callable[[], dict[str, Any] | None] | None = None) -> list[Finding]:
    """``slow_convergence``, case ``rate_decayed``: the learning rate was cut (by the optimizer's own
    decay, or a schedule) to at most 1 / ``RATE_DECAYED`` of its start, the steps it now takes are too
    small to move the weights (the largest update-to-weight ratio of the last two probes under
    ``SLOW_UPDATE``, whatever rates they ran at), and the loss has stalled (``loss_trend``) short of a
    fit: the latest epoch log's accuracy (``_sorted_share``) short of what a nearest-neighbour vote sorts
    (``attainable``, as for ``underfitting``) by ``OVERFIT_GAP`` and twice their sampling noise, or,
    without that yardstick, the loss above ``UNDERFIT_LEVEL`` of a blind guess's (``chance_loss``; else
    of ``start``). A run that converged before its rate fell has nothing left to fit, and is not named.

    ``rates``: (the rates of the run's first probe, the rates now), one per parameter group; the
    largest of each is compared. ``update_ratios``: the largest update ratio at each probe, oldest
    first, at whatever rate each ran.
    """
    if rates is None or not rates[0] or not rates[1]:
        return []
    first, now_rate = max(float(r) for r in rates[0]), max(float(r) for r in rates[1])
    if not (first > 0 and now_rate >= 0 and now_rate * RATE_DECAYED <= first):
        return []
    ratios = [float(r) for r in update_ratios[-2:]]
    if len(ratios) < 2 or not all(0 <= r < SLOW_UPDATE for r in ratios):
        return []
    start = _start_of(losses, start)
    if loss_trend(losses, start, batch_size=batch_size, chance_loss=chance_loss) != "stalled":
        return []
    now = _mean(losses[-smoothing_span(batch_size):])
    log = epoch_logs[-1] if epoch_logs else {}
    yardstick = attainable() if attainable is not None and "accuracy" in log else None
    if yardstick is not None:
        reachable, accuracy = float(yardstick["accuracy"]), _sorted_share(log)
        if _shortfall(accuracy, yardstick, samples) is None:
            return []
        short = (f"the model sorting {accuracy:.1%} of its rows (training or validation, the higher), "
                 f"where a {yardstick.get('neighbours')}-nearest-neighbour vote sorts {reachable:.1%} of the "
                 "training rows")
        evidence: dict[str, Any] = {"accuracy": accuracy, "attainable_accuracy": reachable}
    else:
        level = chance_loss if chance_loss and math.isfinite(chance_loss) else start
        if not (level > 0 and math.isfinite(now) and now > UNDERFIT_LEVEL * level):
            return []
        against = "a blind guess's" if level is chance_loss else "its start"
        short = f"a loss of {_fmt(now)}, {now / level:.0%} of {against} ({_fmt(level)})"
        evidence = {"loss_now": now, "reference_loss": level}
    return [Finding(
        "slow_convergence", None, None, "warning",
        {"case": "rate_decayed", "learning_rate_start": first, "learning_rate_now": now_rate,
         "rate_fall": first / now_rate if now_rate > 0 else None, "largest_update_ratio": max(ratios),
         "steps": len(losses), **evidence},
        f"the learning rate has fallen from {_fmt(first)} to {_fmt(now_rate)} during the run (its decay or "
        f"schedule), so each step now moves the weights by at most {max(ratios):.1e} of their size, and "
        f"the loss has stopped falling with {short}: the rate decayed before the model could fit its "
        "data.",
    )]


def ended_short(losses: Sequence[float], steps_left: int | None, start: float | None = None, *,
                batch_size: int | None = None, chance_loss: float | None = None,
                epoch_logs: Sequence[dict[str, float]] = (), samples: tuple[int, int] | None = None,
                attainable: Callable[[], dict[str, Any] | None] | None = None) -> list[Finding]:
    """``slow_convergence``, case ``ended_short``: at the run's end (``steps_left`` 0) the loss is still
    falling (``loss_trend``) and the latest epoch log's accuracy (``_sorted_share``) is short of what a
    nearest-neighbour vote on the training rows sorts (``attainable``) by ``OVERFIT_GAP`` and twice
    their sampling noise: the run stopped while it was still learning, far from what the data allows
    (too few steps, or steps too small). A run still falling near that mark has little left to gain.
    A run too short for ``loss_trend`` to read (a few full-batch epochs: a dozen steps) is falling when
    its losses fall at an undiminished pace to its end (``_pace_kept``, as ``unfinished`` reads it)."""
    if steps_left != 0 or attainable is None:
        return []
    log = epoch_logs[-1] if epoch_logs else {}
    accuracy = _sorted_share(log)
    if accuracy is None or accuracy > 1 - OVERFIT_GAP:
        return []
    trend = loss_trend(losses, start, batch_size=batch_size, chance_loss=chance_loss)
    if trend is None:  # too few steps to read a trend (or losses not finite: _pace_kept refuses them)
        trend = "falling" if _pace_kept(np.asarray(losses[-HORIZON:], dtype=np.float64)) is not None else None
    if trend != "falling":
        return []
    yardstick = attainable()
    if yardstick is None:
        return []
    reachable = float(yardstick["accuracy"])
    needed = _shortfall(accuracy, yardstick, samples)
    if needed is None:
        return []
    return [Finding(
        "slow_convergence", None, None, "warning",
        {"case": "ended_short", "accuracy": accuracy, "attainable_accuracy": reachable,
         "neighbours": yardstick.get("neighbours"), "rows": yardstick.get("rows"), "shortfall_needed": needed,
         "steps": len(losses)},
        f"the run ended after {len(losses)} steps with the training loss still falling and the model "
        f"sorting {accuracy:.1%} of its rows (its training or validation accuracy, the higher), where a "
        f"{yardstick.get('neighbours')}-nearest-neighbour vote sorts {reachable:.1%} of the training rows: "
        "it stopped while still learning, far from what the data allows (too few steps, or steps too small).",
    )]


def _pace_kept(recent: np.ndarray) -> tuple[list[float], float, int] | None:
    """Whether ``recent`` losses fall at an undiminished pace: split in four quarters, the last
    quarter's mean below the third's by more than twice their noise, ``PLATEAU_FALL`` of its level
    and ``PACE_KEPT`` of the mean fall per quarter. The quarters' means, that last fall and the last
    quarter's length; None when the pace was not kept (or the losses are not finite)."""
    if recent.size < SHORT_RUN_STEPS or not np.isfinite(recent).all():
        return None
    quarters = np.array_split(recent, 4)
    means = [float(q.mean()) for q in quarters]
    length = quarters[-1].size
    fall = means[2] - means[3]
    noise = math.sqrt(float(quarters[2].var()) / quarters[2].size + float(quarters[3].var()) / length)
    kept = fall >= PACE_KEPT * (means[0] - means[3]) / 3  # against the mean fall per quarter
    if not (fall > 2 * noise and fall > PLATEAU_FALL * means[3] and kept):
        return None
    return means, fall, length


def steps_not_taken(backward_passes: int | None, steps: int) -> list[Finding]:
    """At the run's end: at least ``STEPLESS_BACKWARDS`` losses back-propagated outside the optimizer's
    steps and at most one step in all (``optimizer.step()`` missing, or below the loop over batches): the
    gradients only added up and the weights never moved while the model trained. ``backward_passes``:
    None when the loop's backward passes are not counted (``fit``'s own loop steps after each)."""
    if backward_passes is None or backward_passes < STEPLESS_BACKWARDS or steps > 1:
        return []
    ran = "never ran" if steps == 0 else "ran once"
    return [Finding(
        "slow_convergence", None, None, "critical",
        {"case": "steps_not_taken", "backward_passes": backward_passes, "optimizer_steps": steps},
        f"the loss was back-propagated {backward_passes} times but optimizer.step() {ran}: the weights did "
        "not change while the model trained (the gradients only added up in .grad).",
    )]


def unfinished(losses: Sequence[float], start: float | None = None, *, movement: float | None,
               steps_left: int | None, chance_loss: float | None = None,
               batch_size: int | None = None) -> list[Finding]:
    """A run that ends (or, at its pace, will end) before its loss could fall: too few steps, or steps
    too small, for its length. ``steps_left``: the steps the run has left (0 at its end; None when not
    known: nothing is judged); at its end, a run of at least ``SHORT_RUN_STEPS`` steps is read however
    short (each quarter of it may be one step). Either of:

    - the weights barely move: the loss is still (and always was) above ``PLATEAU_LEVEL`` of ``start``
      and not rising, while ``movement`` (the sum over the steps so far of the largest update-to-weight
      ratio, ``checking.Movement``) kept at its pace to the run's end stays below
      ``UNFINISHED_MOVEMENT``;
    - the loss falls at an undiminished pace (its fall over the last quarter of the last ``HORIZON``
      steps beyond twice its noise, ``PLATEAU_FALL`` of its level and ``PACE_KEPT`` of its mean fall per
      quarter) but stands above a blind guess's (``chance_loss``), where that pace, kept over the steps
      left, would still leave it (a falling loss flattens as it nears a minimum, so the run will end
      higher still).
    """
    n = len(losses)
    # a run shorter than one smoothing window is read at its end, on what it has
    if steps_left is None or n < (SHORT_RUN_STEPS if steps_left == 0 else LOSS_EMA_STEPS):
        return []
    start = _start_of(losses, start)
    if not math.isfinite(start) or start <= 0:
        return []
    span = min(smoothing_span(batch_size), n // 2)
    now = _mean(losses[-span:])
    if not math.isfinite(now):
        return []
    total = n + steps_left
    if (movement is not None and 0 < movement and now >= PLATEAU_LEVEL * start
            and _lowest_smoothed(losses, span) >= PLATEAU_LEVEL * start
            and not _rose_from_start(losses, start, span)):
        projected = movement * total / n  # at the pace so far; steps that shrink move the weights less
        if projected < UNFINISHED_MOVEMENT:
            ending = (f", and at this pace will have moved by {_pct(projected)} when the run ends, "
                      f"{steps_left} steps from now" if steps_left else "")
            return [Finding(
                "slow_convergence", None, None, "warning",
                {"loss_start": start, "loss_now": now, "steps": n, "steps_left": steps_left,
                 "movement": movement, "projected_movement": projected},
                f"in {n} steps the weights have moved by about {_pct(movement)} of their size in all (the "
                f"largest update-to-weight ratio, summed over the steps){ending}; the loss is still "
                f"{now / start:.0%} of its start: the run is too short, or its steps too small, for the "
                "weights, and so what the network computes, to change.",
            )]
    if not chance_loss or not math.isfinite(chance_loss) or chance_loss <= 0 or now <= chance_loss:
        return []
    recent = np.asarray(losses[-HORIZON:], dtype=np.float64)
    if recent.size < (SHORT_RUN_STEPS if steps_left == 0 else 2 * LOSS_EMA_STEPS):
        return []
    pace = _pace_kept(recent)
    if pace is None:
        return []
    means, fall, length = pace
    # the last quarter's mean stands at its middle: its pace, kept to the end of the run
    projected = means[3] - fall / length * (steps_left + length / 2)
    if projected <= chance_loss:
        return []
    ending = (f"kept over the {steps_left} steps left, that pace would bring it to about {_fmt(projected)}, "
              "still above it (and a falling loss slows down as it nears a minimum)" if steps_left else
              "the run ended there")
    return [Finding(
        "slow_convergence", None, None, "warning",
        {"loss_start": start, "loss_now": means[3], "reference_loss": chance_loss, "steps": n,
         "steps_left": steps_left, "fall_per_100_steps": 100 * fall / length, "projected_loss": projected},
        f"the loss still falls at an undiminished pace ({_fmt(100 * fall / length)} per 100 steps) but "
        f"stands at {_fmt(means[3])}, above a blind guess's ({_fmt(chance_loss)}); {ending}: the run is "
        "too short, or its steps too small, to fit the data.",
    )]


def scale_cost(losses: Sequence[float], chance_loss: float | None, steps_left: int | None, *,
               batch_size: int | None = None) -> str | None:
    """Whether a setup's scale (regression targets far from unit scale) costs the run what it can
    measure: ``"none"`` once the smoothed loss is at or below a blind guess's (``chance_loss``, the
    targets' mean: the scale has been learned, and a loss that passed it shows the model fits what
    remains); ``"harm"`` when it stands above and, at its pace over the last ``PLATEAU_STEPS`` steps
    kept over the ``steps_left``, would still stand above it when the run ends (a falling loss slows
    down as it nears a minimum, so the pace flatters it), or when the guess, the steps left or a
    finite loss are not known; None while it may still get there, or before one smoothing window
    after the first (at the run's end, ``steps_left`` 0, the last half of a shorter run is read)."""
    span = smoothing_span(batch_size)
    n = len(losses)
    if steps_left == 0 and n:
        span = min(span, max(n // 2, 1))
    if n < 2 * span:
        return None
    now = _mean(losses[-span:])
    if not math.isfinite(now):
        return "harm"
    if chance_loss is None or not math.isfinite(chance_loss) or chance_loss <= 0:
        return "harm"
    if now <= chance_loss:
        return "none"
    if steps_left is None:
        return "harm"
    window = min(PLATEAU_STEPS, n - span)
    before = _mean(losses[-(window + span):-window])
    pace = max(before - now, 0.0) / window if math.isfinite(before) else 0.0
    return "harm" if now - pace * steps_left > chance_loss else None


def dropout_too_high(losses: Sequence[float], dropout_rates: Sequence[float],
                     chance_loss: float | None = None) -> list[Finding]:
    """A near-total dropout rate and a training loss still at the level of guessing.

    The rate is ``dropout_level``: the largest, or the rates taken together when these are
    near-total (several rates one after another drop as much signal as one rate of 1 - prod(1 - p)).
    The reference level is the loss of a uniform guess (``chance_loss``, ln C for C classes) when
    known, else the loss at the start; dropout inflates early losses, so chance is the fairer mark.
    The loss is read over ``PLATEAU_STEPS`` steps, half as many at a rate of ``DROPOUT_NEAR_TOTAL``.
    """
    if not dropout_rates:
        return []
    rate = dropout_level(dropout_rates)
    window = PLATEAU_STEPS // 2 if rate >= DROPOUT_NEAR_TOTAL else PLATEAU_STEPS
    if len(losses) < window or not _all_finite(losses[-LOSS_EMA_STEPS:]):
        return []
    start = _mean(losses[:5])
    reference = min(start, chance_loss) if chance_loss else start
    now = _mean(losses[-LOSS_EMA_STEPS:])
    if rate >= DROPOUT_RATE and reference > 0 and now > PLATEAU_LEVEL * reference:
        return [Finding(
            "dropout_too_high", None, None, "critical" if rate >= DROPOUT_NEAR_TOTAL else "warning",
            {"dropout_rate": rate, "dropout_rates": [float(r) for r in dropout_rates], "loss_start": start,
             "loss_now": now, "reference_loss": reference},
            _dropout_words(rate, dropout_rates)
            + f" and the training loss ({now:.3g}) is still "
            f"{now / reference:.0%} of a blind guess's ({reference:.3g}): too little signal gets through to "
            "fit even the training data.",
        )]
    return []


def _dropout_words(rate: float, dropout_rates: Sequence[float]) -> str:
    """What the model's dropouts drop, in words: the one rate (``rate``, ``dropout_level``), or the rates
    taken together when they pass as little signal as one larger rate."""
    if len(dropout_rates) == 1 or rate == max(dropout_rates):
        return f"dropout drops {rate:.0%} of the units at each step"
    return (f"{len(dropout_rates)} dropouts (rates {', '.join(f'{r:g}' for r in dropout_rates)}) one after "
            f"another pass as little signal as one rate of {rate:.1%}")


def dropout_ended_short(losses: Sequence[float], dropout_rates: Sequence[float], steps_left: int | None,
                        start: float | None = None, *, batch_size: int | None = None,
                        chance_loss: float | None = None, epoch_logs: Sequence[dict[str, float]] = (),
                        samples: tuple[int, int] | None = None,
                        attainable: Callable[[], dict[str, Any] | None] | None = None) -> list[Finding]:
    """``dropout_too_high``, case ``ended_short``: under dropout that passes little signal
    (``dropout_level`` at least ``DROPOUT_RATE``), the run ended still learning, short of what its data
    allows (``ended_short``'s reading: the loss still falling, the model sorting ``OVERFIT_GAP`` and twice
    the noise less than a nearest-neighbour vote). A loss well below a blind guess's is no stall for
    ``dropout_too_high``'s first reading, yet so little signal reaches each step that the run stops far
    from a fit."""
    rate = dropout_level(dropout_rates)
    if rate < DROPOUT_RATE:
        return []
    found = ended_short(losses, steps_left, start, batch_size=batch_size, chance_loss=chance_loss,
                        epoch_logs=epoch_logs, samples=samples, attainable=attainable)
    if not found:
        return []
    evidence = found[0].evidence
    drops = _dropout_words(rate, dropout_rates)
    return [Finding(
        "dropout_too_high", None, None, "warning",
        {**evidence, "case": "ended_short", "dropout_rate": rate,
         "dropout_rates": [float(r) for r in dropout_rates]},
        f"{drops}, and the run ended after {evidence['steps']} steps with the training loss still falling "
        f"and the model sorting {evidence['accuracy']:.1%} of its rows, where a "
        f"{evidence['neighbours']}-nearest-neighbour vote sorts {evidence['attainable_accuracy']:.1%}: so "
        "little signal gets through each step that the run stopped far short of what the data allows.",
    )]


def underfitting(losses: Sequence[float], update_ratios: Sequence[float], start: float | None = None, *,
                 chance_loss: float | None = None, batch_size: int | None = None,
                 epoch_logs: Sequence[dict[str, float]] = (),
                 samples: tuple[int, int] | None = None,
                 attainable: Callable[[], dict[str, Any] | None] | None = None,
                 attainable_error: Callable[[], dict[str, Any] | None] | None = None,
                 steps_left: int | None = None, step_fall: float | None = None,
                 diagnosed: Collection[str] = ()) -> list[Finding]:
    """Healthy gradients, and a training loss stuck far above what the data allows.

    After ``UNDERFIT_WINDOWS`` plateau windows (1000 steps), or at the run's end (``steps_left`` 0:
    a shorter run ends on its plateau, with no later steps to leave it), all of: the loss learned something
    (its lowest smoothed value below ``PLATEAU_LEVEL`` of ``start``, else it is
    ``slow_convergence``'s), has stopped falling over the last window (and is not rising; before the
    run's end, nor falls, below a blind guess's loss, over the last ``UNDERFIT_WINDOWS`` windows' two
    halves at a plateau's pace or faster, ``_pace_over``, a pace that kept over the ``steps_left``
    would take it below ``PLATEAU_LEVEL`` of where it stands: the noise of small batches hides a slow
    fall from one window; a fall toward a guess's loss from above learns nothing of the inputs), and is
    still above ``UNDERFIT_LEVEL`` of a blind guess's (``chance_loss``; else of ``start``); the
    updates are in range (the largest update-to-weight ratio of the last two probes between
    ``SLOW_UPDATE`` and ``EXPLODING_UPDATE_RATIO``: not a rate too small or too large; or below it in
    a run at a stationary point, its steps shrunk to ``step_fall``, at most ``CONVERGED_STEP``, of
    the recipe's first: a minimum of what the model can fit, where steps of any rate are small; not
    after one of ``DEGENERATE_STOPS`` was ``diagnosed`` in the recipe: dead units and a diverged loss
    stop the steps without a minimum); and,
    when the latest epoch log has both accuracies, no generalization gap (training accuracy less
    than ``OVERFIT_GAP`` and twice the noise above validation accuracy: a model that fits its own
    data no better than unseen data has not the capacity or the steps to fit it). Labels too noisy
    to fit look the same: the explanation says so.

    ``attainable`` (called once the loss has stalled under steps of a healthy size and the latest log
    has a training accuracy of at most 1 - ``OVERFIT_GAP``; the doctor measures it once per run):
    what the data allows (``checks.attainable_accuracy``: a nearest-neighbour vote's leave-one-out
    accuracy on the training rows). With it, the level is judged against the data instead of a blind
    guess: the training accuracy must fall short of that vote's by ``OVERFIT_GAP`` and twice their
    sampling noise, whatever the loss's level (a model at 60 % of a blind guess's loss may still sort
    a third of what a neighbour vote sorts; one at 80 % may fit all that noisy labels allow); a
    training accuracy above 1 - ``OVERFIT_GAP`` is short of nothing. A vote and a model both no better
    than guessing the commonest class (case ``unpredictable_labels``, ``_unpredictable``) is named as
    soon as the loss stalls, learned or not, or while it still falls toward a blind guess's from above
    it: the inputs do not predict the labels. For a regression under a squared error
    (``attainable_error``: ``checks.attainable_error``), a loss below ``UNDERFIT_LEVEL`` of a blind
    guess's (the targets' variance) is judged against a nearest-neighbour average's error instead
    (``_error_short_of_attainable``), once the two halves of its last ``UNDERFIT_WINDOWS`` windows are
    within ``PLATEAU_FALL`` of each other (``_flat_halves``).
    """
    span = smoothing_span(batch_size)
    window = max(PLATEAU_STEPS, span)
    ratios = [float(r) for r in update_ratios[-2:]]
    converged = (step_fall is not None and 0 <= step_fall <= CONVERGED_STEP
                 and not DEGENERATE_STOPS.intersection(diagnosed))
    if len(ratios) < 2 or not all((SLOW_UPDATE <= r or converged) and 0 <= r <= EXPLODING_UPDATE_RATIO
                                  for r in ratios):
        return []
    start = _start_of(losses, start)
    trend = loss_trend(losses, start, batch_size=batch_size, chance_loss=chance_loss)
    now = _mean(losses[-span:])
    # a loss still above a blind guess's falls toward it, not toward a fit: a start thrown above it (by
    # the initial weights) is being undone, which says nothing of whether the labels can be learned
    toward_guess = (trend == "falling" and chance_loss is not None and math.isfinite(chance_loss)
                    and now > chance_loss)
    if not (trend == "stalled" or toward_guess) or not start > 0:
        return []
    log = epoch_logs[-1] if epoch_logs else {}
    yardstick = None
    if attainable is not None and "accuracy" in log:
        if _sorted_share(log) > 1 - OVERFIT_GAP:
            return []  # it cannot fall OVERFIT_GAP short of any yardstick: none is measured
        yardstick = attainable()
        # labels the inputs do not predict show as soon as the loss stalls (or falls only toward a
        # blind guess's): no capacity would help
        unpredictable = (_unpredictable(log["accuracy"], yardstick, len(losses),
                                        toward=(now, chance_loss) if toward_guess else None)
                         if yardstick else [])
        if unpredictable:
            return unpredictable
    if trend != "stalled":
        return []
    if len(losses) < UNDERFIT_WINDOWS * window and steps_left != 0:
        return []
    below_guess = chance_loss is None or not math.isfinite(chance_loss) or now < chance_loss
    pace = _pace_over(losses, UNDERFIT_WINDOWS * window) if steps_left and below_guess else None
    if pace is not None and pace * steps_left > (1 - PLATEAU_LEVEL) * now:
        return []  # still learning, at a pace the short window's noise hid, with the steps to go on
    level = chance_loss if chance_loss and math.isfinite(chance_loss) else start
    if _lowest_smoothed(losses, span) >= PLATEAU_LEVEL * start:
        return []  # it never learned anything: slow_convergence's
    if "accuracy" in log and "val_accuracy" in log:
        gap, needed = _generalization_gap(log, samples)
        if gap >= needed:
            return []  # it fits its own data better than unseen data: capacity is not what is short
    if yardstick is not None:
        return _short_of_attainable(_sorted_share(log), yardstick, samples, len(losses), ratios)
    if now <= UNDERFIT_LEVEL * level:
        # below the level, a regression is judged against what its data allows, when measured, once its
        # loss shows a plateau: the halves of the last windows within PLATEAU_FALL of each other (a slow
        # fall hidden in the noise of heavy-tailed targets is no plateau)
        if (attainable_error is not None and chance_loss and math.isfinite(chance_loss) and chance_loss > 0
                and _flat_halves(losses, UNDERFIT_WINDOWS * window)):
            measured = attainable_error()
            if measured is not None:
                return _error_short_of_attainable(now / chance_loss, measured, len(losses), ratios)
        return []
    against = "a blind guess's" if level is chance_loss else "its start"
    return [Finding(
        "underfitting", None, None, "warning",
        {"loss_start": start, "loss_now": now, "reference_loss": level, "largest_update_ratio": max(ratios),
         "steps": len(losses)},
        f"after {len(losses)} steps the training loss has stopped falling at {_fmt(now)}, still "
        f"{now / level:.0%} of {against} ({_fmt(level)}), while the updates are of a healthy size: the "
        "model has too little capacity (or too few steps) for its data (or the labels are too noisy "
        "to fit).",
    )]


def _pace_over(losses: Sequence[float], steps: int) -> float | None:
    """The loss's fall per step from the first half of its last ``steps`` to the second, when it falls
    by more than twice the noise of the difference and at least ``PLATEAU_FALL`` of its level per
    ``PLATEAU_STEPS`` steps (a fall that the noise of a plateau window's smoothed ends can hide, with
    mini-batches of a few samples, read on halves many windows long); else None."""
    halves = _halves(losses, steps)
    if halves is None:
        return None
    before, after = halves
    fall, noise = _fall_and_noise(before, after)
    pace = fall / ((before.size + after.size) / 2)  # the halves' centres lie half the steps apart
    return pace if fall > 2 * noise and pace * PLATEAU_STEPS > PLATEAU_FALL * _mean(before) else None


def _halves(losses: Sequence[float], steps: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The first and second half of the last ``steps`` losses; None when they hold fewer than
    ``2 * LOSS_EMA_STEPS`` or any is not finite."""
    recent = np.asarray(losses[-steps:], dtype=np.float64)
    if recent.size < 2 * LOSS_EMA_STEPS or not np.isfinite(recent).all():
        return None
    return recent[:recent.size // 2], recent[recent.size // 2:]


def _unpredictable(accuracy: float, yardstick: dict[str, Any], steps: int,
                   toward: tuple[float, float] | None = None) -> list[Finding]:
    """``underfitting``, case ``unpredictable_labels``: the nearest-neighbour vote (``yardstick``) and
    the model's training ``accuracy`` both no better than a blind guess (the commonest class's share,
    ``majority``) by twice the vote's sampling noise: the inputs do not predict the labels.
    ``toward``: (the loss now, a blind guess's loss) when the loss still falls toward that guess's
    from above it, rather than stalled."""
    reachable, rows, majority = float(yardstick["accuracy"]), yardstick.get("rows"), yardstick.get("majority")
    if majority is None:
        return []
    blind = majority + 2 * _accuracy_noise(majority, rows)
    if reachable > blind or accuracy > blind:
        return []
    return [Finding(
        "underfitting", None, None, "warning",
        {"case": "unpredictable_labels", "accuracy": accuracy, "attainable_accuracy": reachable,
         "majority": majority, "neighbours": yardstick.get("neighbours"), "rows": rows, "steps": steps},
        (f"after {steps} steps the training loss has stopped falling with a training accuracy of "
         if toward is None else
         f"after {steps} steps the training loss ({_fmt(toward[0])}) falls only toward a blind guess's "
         f"({_fmt(toward[1])}), with a training accuracy of ")
        + f"{accuracy:.1%}, and a nearest-neighbour vote on the same training rows sorts only "
        f"{reachable:.1%}, no better than always guessing the commonest class ({majority:.1%}): the "
        "inputs do not predict these labels, so no model fits them (labels shuffled apart from their "
        "inputs, or labels that are noise).",
    )]


def _sorted_share(log: dict[str, float]) -> float | None:
    """The share of rows a model sorts, read from an epoch log to set against a neighbour vote: its
    training accuracy, or its validation accuracy when higher (dropout, and weights that moved during
    the epoch, hold a training accuracy measured on the fly below what the model sorts; the vote's
    leave-one-out accuracy, too, is that of rows left out); None without a training accuracy."""
    if "accuracy" not in log:
        return None
    return max(float(log["accuracy"]), float(log.get("val_accuracy", -math.inf)))


def _shortfall(accuracy: float, yardstick: dict[str, Any], samples: tuple[int, int] | None,
               margin: float = OVERFIT_GAP) -> float | None:
    """The margin by which ``accuracy`` falls short of a nearest-neighbour vote's (``yardstick``) when it
    falls short of what the data allows (by ``margin``, or twice their sampling noise if larger);
    None when it does not."""
    reachable = float(yardstick["accuracy"])
    noise = math.hypot(_accuracy_noise(reachable, yardstick.get("rows")),
                       _accuracy_noise(accuracy, samples[0] if samples else None))
    needed = max(margin, 2 * noise)
    return needed if reachable - accuracy >= needed else None


def _short_of_attainable(accuracy: float, yardstick: dict[str, Any], samples: tuple[int, int] | None,
                         steps: int, ratios: Sequence[float]) -> list[Finding]:
    """``underfitting`` judged against what the data allows: the ``accuracy`` the model sorts
    (``_sorted_share``) short of the nearest-neighbour vote's (``yardstick``) by ``OVERFIT_GAP`` and
    twice their sampling noise."""
    reachable = float(yardstick["accuracy"])
    needed = _shortfall(accuracy, yardstick, samples)
    if needed is None:
        return []
    return [Finding(
        "underfitting", None, None, "warning",
        {"accuracy": accuracy, "attainable_accuracy": reachable, "neighbours": yardstick.get("neighbours"),
         "rows": yardstick.get("rows"), "shortfall_needed": needed, "largest_update_ratio": max(ratios),
         "steps": steps},
        f"after {steps} steps the training loss has stopped falling with the model sorting {accuracy:.1%} "
        f"of its rows (training or validation, the higher), while a {yardstick.get('neighbours')}-nearest-"
        "neighbour vote sorts "
        f"{reachable:.1%} of the same training rows (each left out of its own vote), and the updates are "
        "of a healthy size: the data allows more than the model fits, so it has too little capacity (or "
        "too few steps) for its data.",
    )]


def _flat_halves(losses: Sequence[float], steps: int) -> bool:
    """Whether the mean loss of the second half of the last ``steps`` is within ``PLATEAU_FALL`` of the
    first half's (each half averages hundreds of steps' noise away)."""
    halves = _halves(losses, steps)
    if halves is None:
        return False
    level = _mean(halves[0])
    return level > 0 and _fall_and_noise(*halves)[0] < PLATEAU_FALL * level


def _fits_as_allowed(level: float, chance_loss: float | None, epoch_logs: Sequence[dict[str, float]],
                     samples: tuple[int, int] | None,
                     attainable: Callable[[], dict[str, Any] | None] | None,
                     attainable_error: Callable[[], dict[str, Any] | None] | None,
                     sorted_now: Callable[[], float | None] | None = None, *,
                     margin: float = OVERFIT_GAP) -> bool:
    """Whether the model fits its training data about as well as the data allows: the share of rows it
    sorts (``_sorted_share`` of the latest epoch log, else ``sorted_now``, measured) not short of a
    nearest-neighbour vote's (``attainable``) by ``_shortfall``'s ``margin``; or, for a regression, the loss
    ``level`` over a blind guess's (``chance_loss``, the targets' variance) not the underfitting rule's
    distance above a nearest-neighbour average's (``attainable_error``). False when neither is known."""
    log = epoch_logs[-1] if epoch_logs else {}
    sorted_share = _sorted_share(log)
    if sorted_share is None and sorted_now is not None and attainable is not None:
        sorted_share = sorted_now()
    if sorted_share is not None and attainable is not None:
        yardstick = attainable()
        if yardstick is not None:
            return _shortfall(sorted_share, yardstick, samples, margin) is None
    if attainable_error is not None and chance_loss and chance_loss > 0:
        yardstick = attainable_error()
        if yardstick is not None:
            return _error_shortfall(level / chance_loss, yardstick) is None
    return False


# the problems a run can leave by itself: those whose claim is about the outcome, that the model does not
# learn its data (at this pace), which an end that fits the data refutes: slow_convergence's plain
# plateau and its small steps (no ``case``), underfitting's shortfall (no ``case``, or ``regression``).
# Not the symptoms of the process (saturated units, vanishing gradients, a loss that climbs back): a
# run that fits its data in the end still went through them, at a cost (a slower or noisier descent,
# a wider gap to unseen data) that its end does not measure; nor the cases whose claim is about the
# run's end or its recipe (``ended_short``, ``rate_decayed``, steps not taken), nor labels that no
# model can fit (``unpredictable_labels``)
PASSING = {("slow_convergence", None), ("underfitting", None), ("underfitting", "regression")}


def passed_by_itself(loss_then: float, losses: Sequence[float], *, batch_size: int | None = None,
                     chance_loss: float | None = None, epoch_logs: Sequence[dict[str, float]] = (),
                     samples: tuple[int, int] | None = None,
                     attainable: Callable[[], dict[str, Any] | None] | None = None,
                     attainable_error: Callable[[], dict[str, Any] | None] | None = None,
                     sorted_now: Callable[[], float | None] | None = None) -> dict[str, float] | None:
    """Whether a plateau or a shortfall (``PASSING``), diagnosed when the smoothed loss stood at
    ``loss_then``, has passed by the run's end with no treatment: the loss of the last
    ``smoothing_span(batch_size)`` steps below ``PLATEAU_LEVEL`` of ``loss_then`` (it fell since, beyond
    what a plateau's noise moves), and the model fits its training data as well as the data allows
    (``_fits_as_allowed`` with no margin beyond the noise: a classification sorts at least what a
    nearest-neighbour vote on its training rows sorts, less twice their sampling noise; a regression as
    there. Without a yardstick nothing refutes the diagnosis; a model a few points short of the vote,
    within ``underfitting``'s margin, may still be one that a slow rate held back). The end refutes what
    the diagnosis claimed, that the model does not learn its data at this pace: the run escaped a slow
    start (a saddle of small initial weights, a near-chance opening) on its own. Returns the loss then
    and at the end, else None."""
    span = smoothing_span(batch_size)
    tail = np.asarray(losses[-span:], dtype=np.float64)
    if not (math.isfinite(loss_then) and loss_then > 0) or tail.size == 0 or not np.isfinite(tail).all():
        return None
    now = _mean(tail)
    if not now < PLATEAU_LEVEL * loss_then:
        return None
    if not _fits_as_allowed(now, chance_loss, epoch_logs, samples, attainable, attainable_error, sorted_now,
                            margin=0.0):
        return None
    return {"loss_then": float(loss_then), "loss_end": now}


def _error_shortfall(error: float, yardstick: dict[str, Any]) -> float | None:
    """The margin by which a regression's ``error`` (over the targets' variance) falls short of a
    nearest-neighbour average's (``yardstick``) when it does: at least ``UNSTABLE_FACTOR`` times it and
    above it by ``FITTED_LEVEL`` of the variance and twice that average's noise; None when it does not."""
    reachable, noise = float(yardstick["error"]), float(yardstick.get("noise") or 0.0)
    needed = max(FITTED_LEVEL, 2 * noise)
    return needed if error >= UNSTABLE_FACTOR * reachable and error - reachable >= needed else None


def _error_short_of_attainable(error: float, yardstick: dict[str, Any], steps: int,
                               ratios: Sequence[float]) -> list[Finding]:
    """``underfitting`` of a regression judged against what the data allows: the training loss's
    ``error`` (over a blind guess's, the targets' variance) at least ``UNSTABLE_FACTOR`` times a
    nearest-neighbour average's (``yardstick``, ``checks.attainable_error``) and above it by
    ``FITTED_LEVEL`` of the variance and twice that average's noise."""
    reachable = float(yardstick["error"])
    needed = _error_shortfall(error, yardstick)
    if needed is None:
        return []
    return [Finding(
        "underfitting", None, None, "warning",
        {"case": "regression", "error": error, "attainable_error": reachable,
         "neighbours": yardstick.get("neighbours"), "rows": yardstick.get("rows"), "shortfall_needed": needed,
         "largest_update_ratio": max(ratios), "steps": steps},
        f"after {steps} steps the training loss has stopped falling at {error:.0%} of the targets' variance, "
        f"while the average of each training row's {yardstick.get('neighbours')} nearest neighbours (the row "
        f"left out) misses by {reachable:.0%} of it, and the updates are of a healthy size: the data "
        "allows a closer fit than the model makes, so it has too little capacity (or too few steps, or "
        "too few input features) for its data.",
    )]


def batch_too_small(losses: Sequence[float], batch_size: int | None, start: float | None = None, *,
                    chance_loss: float | None = None, epoch_logs: Sequence[dict[str, float]] = (),
                    samples: tuple[int, int] | None = None,
                    attainable: Callable[[], dict[str, Any] | None] | None = None,
                    attainable_error: Callable[[], dict[str, Any] | None] | None = None,
                    sorted_now: Callable[[], float | None] | None = None) -> list[Finding]:
    """Gradient noise dominates: over the last window (``PLATEAU_STEPS`` steps, or
    ``LOSS_SMOOTH_SAMPLES`` samples when the batches are smaller), the loss's per-step noise (the
    spread of its step-to-step differences over sqrt 2) is at least ``NOISE_LEVEL`` of its level;
    over the last ``BATCH_WINDOWS`` windows, the loss fell from the first to the last by no more than
    twice the noise of that difference (all of them: a healthy single-sample run may sit on a plateau
    of the loss surface for a few windows before it finds its way down, and a noise-bound loss stays
    where it is); and it is not fitted (above ``FITTED_LEVEL`` of a blind guess's loss ``chance_loss``
    when known, else of ``start``: an untrained model whose confident outputs start far above a blind
    guess, as on unscaled inputs, has learned nothing by falling to one). A mini-batch gradient's noise grows
    as 1/sqrt(batch size), and so does the loss's: each step follows its few samples more than the
    data. ``batch_size`` must be known (the remedy raises it) and at most ``SMALL_BATCH``. Not when
    the validation loss of the last ``OVERFIT_EPOCHS`` epochs (``epoch_logs``) stayed within
    ``PLATEAU_FALL`` of its level: weights that noisy steps push around move it from epoch to epoch,
    so a loss that jumps from step to step over weights that have settled is the spread of the
    samples' own losses (a fitted regression's residuals), not the steps'. Nor when the model already
    fits its data as well as it allows (``_fits_as_allowed``: a classification's training accuracy,
    logged or else measured by the doctor, ``sorted_now``, within reach of a nearest-neighbour vote's,
    ``attainable``; a regression's loss within reach of a nearest-neighbour average's,
    ``attainable_error``): a flat, noisy loss is then the spread of classes that overlap, which no
    batch size narrows."""
    if not batch_size or not 0 < batch_size <= SMALL_BATCH:
        return []
    settled = [log.get("val_loss") for log in epoch_logs[-OVERFIT_EPOCHS:]]
    known = len(settled) == OVERFIT_EPOCHS and all(
        v is not None and math.isfinite(v) and v > 0 for v in settled)
    if known and max(settled) - min(settled) <= PLATEAU_FALL * min(settled):
        return []
    window = max(PLATEAU_STEPS, smoothing_span(batch_size))
    if len(losses) < BATCH_WINDOWS * window:
        return []
    span = np.asarray(losses[-BATCH_WINDOWS * window:], dtype=np.float64)
    recent = span[-window:]
    start = _start_of(losses, start)
    if not (np.isfinite(span).all() and math.isfinite(start)) or start <= 0:
        return []
    level = _mean(recent)
    noise = float(np.std(np.diff(recent))) / math.sqrt(2)
    reference = chance_loss if chance_loss else start
    if level <= FITTED_LEVEL * reference or noise < NOISE_LEVEL * level:
        return []
    fall = _mean(span[:window]) - level
    if fall > 2 * noise * math.sqrt(2 / window):
        return []  # it still learns through the noise
    if _fits_as_allowed(level, chance_loss, epoch_logs, samples, attainable, attainable_error, sorted_now):
        return []
    steps = span.size
    return [Finding(
        "batch_too_small", None, None, "warning",
        {"batch_size": int(batch_size), "loss_noise": noise, "loss_level": level,
         "noise_share": noise / level, "fall": fall, "steps": steps},
        f"with batches of {batch_size}, the loss jumps by {noise / level:.0%} of its level ({_fmt(level)}) "
        f"from step to step and made no progress beyond that noise over the last {steps} steps: "
        "each step follows its few samples more than the data.",
    )]
