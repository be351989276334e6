"""The detectors: one table of rules over plain per-layer statistics.

Detectors see only numbers (dicts of floats, lists, NumPy arrays), never retroprop types, so any
framework's probes can feed them. Each probe record is a dict with ``step``, ``epoch``, ``loss``,
optionally ``grad_norm_total``, ``layers`` (weighted layers, input side first: ``name``, ``label``,
``grad_rms``, ``grad_norm``, ``update_ratio``, ``nonfinite_grad``, ``nonfinite_weight``) and
``activations`` (``name``, ``label``, ``kind``, ``fired`` (per-unit booleans for ReLU),
``saturated_share``, ``nonfinite``, optionally ``samples`` (the batch's sample count) and ``after``
(the name of the weighted layer feeding it)).

The layer rules are gated on harm when given the evidence (keyword arguments: the losses, the
batch size, the latest training accuracy): units dead or saturated in a network that still learns,
or has fitted its data, are no alarm. The loss rules smooth over samples, not steps, when the batch
size is given. Epoch rules read a bounded window of logs plus a running ``EpochBest``.

The thresholds come from the mechanisms the course page describes; they are a first setting, to be
frozen against the labelled scenarios of the clinic (benchmarks/clinic/) and reported there.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# One row per rule: what is measured, the threshold, over which window, and why (the mechanism).
RULES: list[dict[str, str]] = [
    {"problem": "non_finite", "signal": "NaN/Inf count in loss (every step), gradients, weights, activations",
     "threshold": "> 0", "window": "one step",
     "why": "one overflow poisons every later product; nothing learned after it is meaningful"},
    {"problem": "vanishing_gradients", "signal": "RMS weight gradient of the first layer / of the last layer",
     "threshold": "< 1e-3 (critical < 1e-5), with at least 3 weighted layers",
     "window": "2 consecutive probes",
     "why": "backpropagation multiplies one derivative per layer; small ones (sigmoid's is at most 1/4) "
            "shrink the gradient geometrically toward the input"},
    {"problem": "exploding_gradients", "signal": "update-to-weight ratio of a layer (checked on the step "
     "after each probe, when the update is known; a zero-initialized layer's update against the norm of "
     "LeCun-scaled weights of its shape), or gradient-norm growth, or a finite loss against the larger "
     "of its start and a blind guess's",
     "threshold": "update/weight > 0.5, or total gradient norm > 1e3 x its value 4 probes earlier, or a "
     "loss > 1e6 x (critical)",
     "window": "one probe (ratio), 3 consecutive rising probes (growth), any step since the last check "
     "(loss)",
     "why": "large weights make the products of many large terms grow geometrically; an update as large as "
            "the weights themselves throws the layer away; a loss a million times its start needs outputs "
            "1e3-1e6 times too large"},
    {"problem": "dead_relu", "signal": "share of ReLU units that never fired (> 0) on any probed batch",
     "threshold": ">= 0.5 (critical >= 0.9); with episodes tracked, entered at 0.5 + and left at 0.5 - "
     "3 standard errors of the share from the units that fired on some batches only; not in a network "
     "that learns well (training accuracy 1 or loss < 10 % of its start, and no generalization gap)",
     "window": "the last 5 probed batches and at least 59 samples (a unit firing on 5 % of them shows "
     "with 95 % confidence)",
     "why": "a unit whose weighted sum stays below 0 outputs 0 and passes no gradient, so nothing can "
            "bring it back"},
    {"problem": "saturated_activations", "signal": "share of sigmoid/tanh outputs where the derivative "
     "is below 1/100 of its peak; whether the network learns well",
     "threshold": ">= 0.5; not in a network that learns well (training accuracy 1 or loss < 10 % of its "
     "start, and no generalization gap >= 0.10 and twice its noise)",
     "window": "2 consecutive probes",
     "why": "in their flat regions sigmoid and tanh pass almost no gradient; a network that learns well "
            "with them loses nothing"},
    {"problem": "unstable_loss", "signal": "moving average (20 steps, or 576 samples when the batches "
     "are smaller) of the training loss; validation accuracy by epoch",
     "threshold": "> 2 x its lowest value so far and back more than half-way to its start (or a blind "
     "guess's); or validation accuracy swinging up and down 3 times in a row (2 drops) by >= 0.2 and 3 x its "
     "sampling noise; or falling >= 0.2 below its best while the epoch training loss rose 3 epochs in a "
     "row",
     "window": "20 steps (any step since the rule last ran); 4 epochs",
     "why": "steps too large overshoot the minimum and climb the other side"},
    {"problem": "slow_convergence", "signal": "relative fall of the loss moving average over the last 100 "
     "steps, and the loss against its starting value; or the largest update-to-weight ratio of any layer "
     "(a fixed learning rate) and the loss against its start",
     "threshold": "< 1 % fall (and no rise beyond 1 % and twice its noise, over the window or since the "
     "start) while still > 90 % of the starting loss, never below it since; or every layer's ratio < 1e-4 "
     "while the loss is still (and always was) > 90 % of its start; not named when dropout >= 0.8 or a "
     "problem that lowers the rate explains the stall",
     "window": "100 steps; or 2 probes",
     "why": "a plateau: steps too small (or gradients too weak) to move the loss; at 1e-4 of the weights "
            "per step (healthy runs: 1e-3 to 1e-2), 1000 steps change them by 10 % at most"},
    {"problem": "overfitting", "signal": "validation loss by epoch, against its running minimum, while the "
     "training loss does not rise with it; the generalization gap (train accuracy - validation accuracy, "
     "else the validation loss's excess over the training loss, relative)",
     "threshold": "> 10 % above its minimum for 3 consecutive epochs, the training loss below its value "
     "then + 10 % of that minimum (or the validation accuracy >= 0.2 and 3 x its noise below its best for "
     "3 epochs, the training loss not rising over them), and over those epochs a gap >= 0.10 and >= "
     "twice the accuracies' sampling noise",
     "window": "3 epochs", "why": "the network memorizes its training data instead of generalizing: it "
     "does better on what it has seen than on what it has not (a gap of a few points and a wobbling "
     "validation loss are ordinary in healthy runs)"},
    {"problem": "underfitting", "signal": "the training loss's trend and level against a blind guess's "
     "(else its start); the largest update-to-weight ratio; the generalization gap",
     "threshold": "after 1000 steps: stopped falling (< 1 % and twice its noise over 100 steps, not rising) "
     "at > 75 % of a blind guess's loss, having been below 90 % of its start; ratios in 1e-4 - 0.5; "
     "no gap >= 0.10",
     "window": "100 steps; 2 probes; the latest epoch",
     "why": "gradients and steps are healthy yet the model fits its own data no better than unseen data "
            "and far from a fit: too little capacity or too few steps (or labels too noisy to fit)"},
    {"problem": "batch_too_small", "signal": "the loss's step-to-step noise (std of its differences / "
     "sqrt 2) against its level, and its fall, with the batch size known",
     "threshold": "batches of <= 4 samples, noise >= 50 % of the level and a fall over the last 4 windows "
     "within twice its noise, above 10 % of the start",
     "window": "100 steps, or 576 samples when the batches are smaller",
     "why": "a mini-batch gradient's noise grows as 1/sqrt(batch size): each step follows its few samples "
            "more than the data"},
    {"problem": "dropout_too_high", "signal": "largest dropout rate in the model and the training loss "
     "against a blind guess's (ln C for C classes; else the starting loss)",
     "threshold": "rate >= 0.8 and loss > 90 % of that level after 100 steps",
     "window": "100 steps",
     "why": "dropping nearly every unit leaves too little signal to fit even the training data (1.0 = "
            "learn nothing)"},
]

VANISHING_RATIO, VANISHING_CRITICAL = 1e-3, 1e-5
EXPLODING_UPDATE_RATIO, EXPLODING_GROWTH = 0.5, 1e3
# a cross-entropy grows linearly with the logits, a squared error quadratically with the outputs: a
# loss a million times its start (or a blind guess's) means outputs 1e3-1e6 times too large, which
# only weights and gradients grown geometrically make
ASTRONOMICAL_LOSS = 1e6
DEAD_SHARE, DEAD_CRITICAL, DEAD_WINDOW = 0.5, 0.9, 5
# a live unit that fires on a share p of the inputs stays silent on n samples with chance (1 - p)^n:
# the window must hold enough samples for a unit firing on 5 % of them to show with 95 % confidence
DEAD_RARE_FIRING, DEAD_CONFIDENCE = 0.05, 0.95
DEAD_SAMPLES = math.ceil(math.log(1 - DEAD_CONFIDENCE) / math.log(1 - DEAD_RARE_FIRING))  # 59
SATURATED_SHARE = 0.5
LOSS_EMA_STEPS, UNSTABLE_FACTOR = 20, 2.0
# Per-sample losses spread about as widely as their mean (a coefficient of variation of 1-2); a mean
# over n samples wobbles by CV / sqrt(n), and the lowest and highest of many such means lie about 4 of
# those errors either side of the middle. A doubling stays out of chance's reach when
# (1 + 4e) / (1 - 4e) < 2, e < 1/12: n >= (12 * CV)^2 = 576 samples at CV = 2 (20 steps of 29).
LOSS_SMOOTH_SAMPLES = 576
DIVERGED_FACTOR, DIVERGED_MIN_STEPS = 3.0, 10
PLATEAU_STEPS, PLATEAU_FALL, PLATEAU_LEVEL = 100, 0.01, 0.9
# a loss an order of magnitude below its start has fitted the data: what a layer lost costs nothing seen
FITTED_LEVEL = 0.1
SLOW_UPDATE = 1e-4
OVERFIT_RISE, OVERFIT_EPOCHS, OVERFIT_GAP = 0.10, 3, 0.10
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


# ---------------------------------------------------------------------------------------------
# Gradient and activation rules (over probe records)
# ---------------------------------------------------------------------------------------------
def non_finite(probes: Sequence[dict[str, Any]], losses: Sequence[float],
               first_step: int = 0) -> list[Finding]:
    """NaN/Inf anywhere, at the layer where it began.

    Weights are searched first (a poisoned weight poisons everything after it), then activations
    from the input side (the forward pass runs that way), then gradients from the output side (the
    backward pass runs that way), then the loss (``losses[0]`` is step ``first_step``).
    """
    if probes:
        probe = probes[-1]
        searches = (("weights", probe["layers"], "nonfinite_weight"),
                     ("activations", probe["activations"], "nonfinite"),
                     ("gradients", probe["layers"][::-1], "nonfinite_grad"))
        for kind, entries, key in searches:
            for entry in entries:
                count = int(entry.get(key) or 0)
                # values so large that their mean overflows poison the next layer just the same
                overflow = kind == "activations" and not math.isfinite(entry.get("mean", 0.0))
                if count or overflow:
                    origin = {"weights": "an earlier update overflowed and wrote NaN/Inf into it",
                              "activations": "the forward pass overflowed here first",
                              "gradients": "the backward pass overflowed here first, on its way from "
                                           "the loss to the input"}[kind]
                    return [Finding(
                        "non_finite", entry["name"], entry["label"], "critical",
                        {"nonfinite_values": count, "overflowing": overflow, "where": kind,
                         "step": probe["step"], "replayed": bool(probe.get("replayed"))},
                        f"{count} NaN/Inf values in the {kind} of {entry['label']} at step "
                        f"{probe['step'] + 1}" + (" (and values so large their mean overflows)"
                                                  if overflow else "")
                        + f": {origin}; nothing computed after it is meaningful.",
                    )]
    bad = np.flatnonzero(~np.isfinite(np.asarray(losses, dtype=np.float64)))
    if bad.size:
        first = int(bad[0])
        return [Finding(
            "non_finite", None, None, "critical",
            {"first_step": first_step + first, "loss": float(losses[first])},
            f"the loss became {float(losses[first])} at step {first_step + first + 1}: an overflow happened "
            "somewhere in the forward pass or the loss itself.",
        )]
    return []


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


def symptoms(probe: dict[str, Any], losses: Sequence[float] | None = None, *,
             ongoing: Collection[str] = (), batch_size: int | None = None) -> list[str]:
    """Problems that show on this one probe (and the recent losses), without the persistence the
    rules require. ``ongoing``: the activation layers in a ``dead_relu`` episode (their threshold
    is lower, as in ``dead_relu``); ``batch_size``: as for ``loss_symptoms``.

    A probe with none is a healthy state, fit to roll back to: the windows of the rules guard
    against false alarms, this check guards against saving a state already on its way down.
    """
    found = loss_symptoms(losses, batch_size=batch_size) if losses is not None else []
    layers = probe["layers"]
    if any(layer.get("nonfinite_grad") or layer.get("nonfinite_weight") for layer in layers) or any(
            a.get("nonfinite") or not math.isfinite(a.get("mean", 0.0)) for a in probe["activations"]
    ) or not math.isfinite(probe["loss"]):
        found.append("non_finite")
    if len(layers) >= 3 and layers[-1]["grad_rms"] > 0 and (
            layers[0]["grad_rms"] / layers[-1]["grad_rms"] < VANISHING_RATIO):
        found.append("vanishing_gradients")
    if any((layer.get("update_ratio") or 0.0) > EXPLODING_UPDATE_RATIO for layer in layers):
        found.append("exploding_gradients")
    for activation in probe["activations"]:
        fired = activation.get("fired")
        if fired is not None and fired.size:
            needed = DEAD_SHARE - dead_margin(fired.size) if activation.get("name") in ongoing else DEAD_SHARE
            if 1.0 - np.count_nonzero(fired) / fired.size >= needed:
                found.append("dead_relu")
        share = activation.get("saturated_share")
        if share is not None and share >= SATURATED_SHARE:
            found.append("saturated_activations")
    return sorted(set(found))


def vanishing_gradients(probes: Sequence[dict[str, Any]]) -> list[Finding]:
    """The input-side layer's gradient is a tiny fraction of the output-side layer's, persistently."""
    if len(probes) < 2:
        return []
    ratios = []
    for probe in probes[-2:]:
        layers = probe["layers"]
        if len(layers) < 3:
            return []
        first, last = layers[0]["grad_rms"], layers[-1]["grad_rms"]
        if not (math.isfinite(first) and math.isfinite(last)) or last <= 0:
            return []
        ratios.append(first / last)
    if max(ratios) >= VANISHING_RATIO:
        return []
    layers = probes[-1]["layers"]
    ratio = ratios[-1]
    first, last = layers[0]["label"], layers[-1]["label"]
    if ratio == 0.0:
        measured = (f"{first} gets no gradient at all (RMS exactly 0; {last}'s is "
                    f"{_fmt(layers[-1]['grad_rms'])})")
    else:
        measured = f"{first}'s gradient is {_fmt(ratio)} times {last}'s"
    return [Finding(
        "vanishing_gradients", layers[0]["name"], layers[0]["label"],
        "critical" if ratio < VANISHING_CRITICAL else "warning",
        {"grad_rms_first": layers[0]["grad_rms"], "grad_rms_last": layers[-1]["grad_rms"], "ratio": ratio,
         "layers": len(layers)},
        f"{measured}: backpropagation multiplied many small derivatives on the way to the input, so the "
        "first layers barely learn.",
    )]


def exploding_gradients(probes: Sequence[dict[str, Any]]) -> list[Finding]:
    """An update as large as the weights, or a gradient norm that grew a thousandfold and rising."""
    return exploding_updates(probes) or exploding_growth(probes)


def exploding_updates(probes: Sequence[dict[str, Any]]) -> list[Finding]:
    """One optimizer step changed a layer by more than half its size (read on the newest probe
    whose update is known: a probe's update ratio is filled in after the optimizer's step)."""
    probe = next((p for p in reversed(probes)
                  if any(layer.get("update_ratio") is not None for layer in p["layers"])), None)
    for layer in probe["layers"] if probe is not None else ():
        ratio = layer.get("update_ratio")
        if ratio is not None and math.isfinite(ratio) and ratio > EXPLODING_UPDATE_RATIO:
            size = f"{_fmt(ratio)} times its own size"
            return [Finding(
                "exploding_gradients", layer["name"], layer["label"],
                "critical" if ratio > 1.0 else "warning",
                {"update_ratio": ratio, "grad_norm": layer["grad_norm"]},
                f"one optimizer step changed {layer['label']} by {size}: gradients this large (products of "
                "many large terms) throw away what the layer learned.",
            )]
    return []


def _total_grad_norm(probe: dict[str, Any]) -> float:
    """All layers' weight gradients as one vector: its 2-norm (``grad_norm_total`` when the probe has it)."""
    total = probe.get("grad_norm_total")
    if total is None or math.isnan(total):
        total = math.sqrt(sum(layer["grad_norm"] ** 2 for layer in probe["layers"]))
    return total


def exploding_growth(probes: Sequence[dict[str, Any]]) -> list[Finding]:
    """The total gradient norm grew more than ``EXPLODING_GROWTH``-fold over the window and rose on
    each of the last three probes."""
    if len(probes) < 3:
        return []
    totals = [_total_grad_norm(p) for p in probes]
    if not totals[-1] > totals[-2] > totals[-3]:
        return []
    if totals[0] > 0 and all(math.isfinite(t) for t in totals[-3:]):
        growth = totals[-1] / totals[0]
        if growth > EXPLODING_GROWTH and totals[-1] > totals[-2] > totals[-3]:
            return [Finding(
                "exploding_gradients", None, None, "warning",
                {"grad_norm_first": totals[0], "grad_norm_now": totals[-1], "growth": growth},
                f"the total gradient norm grew {_fmt(growth)}x since the first probe and is still rising: "
                "products of large terms grow geometrically.",
            )]
    return []


def fired_in_window(probes: Sequence[dict[str, Any]], name: str) -> np.ndarray | None:
    """Per unit of the activation layer ``name``: whether it fired on any of ``probes`` (None
    unless every probe saw which of its units fired)."""
    masks = []
    for probe in probes:
        match = next((a for a in probe["activations"] if a["name"] == name), None)
        if match is None or match.get("fired") is None:
            return None
        masks.append(match["fired"])
    return np.logical_or.reduce(np.asarray(masks, dtype=bool), axis=0)


def dead_margin(units: int, flickering: int | None = None) -> float:
    """Half the hysteresis band of the dead-unit share of a layer of ``units`` units: three standard
    errors of that share from units that fire on some batches and not on others (``flickering`` of
    them, each silent over a window by chance: a variance of at most 1/4 apiece; all of them when
    unknown). A layer sitting at the threshold crosses it by this much about one window in 700 (it
    is asked at every probe); units that never fire, or always do, do not move it."""
    flickering = units if flickering is None else flickering
    return 3 * math.sqrt(flickering / 4) / max(units, 1)


def _window_by_samples(probes: Sequence[dict[str, Any]], name: str) -> list[dict[str, Any]] | None:
    """The latest probes that together saw ``DEAD_SAMPLES`` samples in the layer ``name`` (at least
    ``DEAD_WINDOW`` of them); None when ``probes`` hold too few. A probe that does not say how many
    samples it saw counts as enough (records from before sample counts)."""
    if len(probes) < DEAD_WINDOW:
        return None
    seen = 0
    for back, probe in enumerate(reversed(probes), start=1):
        match = next((a for a in probe["activations"] if a["name"] == name), None)
        samples = None if match is None else match.get("samples")
        seen = DEAD_SAMPLES if samples is None else seen + samples
        if back >= DEAD_WINDOW and seen >= DEAD_SAMPLES:
            return list(probes[-back:])
    return None


def _fired_always(probes: Sequence[dict[str, Any]], name: str) -> np.ndarray:
    """Per unit of the activation layer ``name``: whether it fired on every one of ``probes``."""
    masks = [next(a for a in probe["activations"] if a["name"] == name)["fired"] for probe in probes]
    return np.logical_and.reduce(np.asarray(masks, dtype=bool), axis=0)


def dead_relu(probes: Sequence[dict[str, Any]], *, ongoing: Collection[str] | None = None,
              losses: Sequence[float] | None = None, start: float | None = None,
              batch_size: int | None = None, accuracy: float | None = None,
              epoch_logs: Sequence[dict[str, float]] = (),
              samples: tuple[int, int] | None = None) -> list[Finding]:
    """ReLU units that fired on none of the latest probed batches: the last ``DEAD_WINDOW`` of them
    and as many more as it takes to hold ``DEAD_SAMPLES`` samples (pass that many probes: see
    ``dead_window_probes``).

    Hysteresis: a layer enters at ``DEAD_SHARE`` plus ``dead_margin`` (from the units that fired on
    some of the window's batches but not all) and, while its episode lasts (its name in
    ``ongoing``), stays until it falls below ``DEAD_SHARE`` minus that margin, so that a layer
    sitting at the threshold does not flip. ``ongoing=None`` (the default) turns the band off: every
    layer is judged at ``DEAD_SHARE`` (for callers that do not track episodes). Harm: with
    ``losses`` (and the other keywords, as for ``learns_well``) nothing is named in a network that
    learns well: units it lost cost it nothing measurable.
    """
    if len(probes) < DEAD_WINDOW:
        return []
    findings = []
    for activation in probes[-1]["activations"]:
        fired = activation.get("fired")
        if fired is None or not fired.size:
            continue
        ongoing_here = ongoing is not None and activation["name"] in ongoing
        # units that fired on this batch alone are alive: when they are enough, the window need not be
        # read (the widest band, every unit flickering, bounds the threshold from below)
        lowest = DEAD_SHARE - dead_margin(fired.size) if ongoing_here else DEAD_SHARE
        if fired.size - np.count_nonzero(fired) < lowest * fired.size:
            continue
        window = _window_by_samples(probes, activation["name"])
        ever = None if window is None else fired_in_window(window, activation["name"])
        if ever is None or not ever.size:
            continue
        always = _fired_always(window, activation["name"])
        margin = dead_margin(ever.size, int(np.count_nonzero(ever)) - int(np.count_nonzero(always)))
        needed = (DEAD_SHARE if ongoing is None
                  else DEAD_SHARE - margin if ongoing_here else DEAD_SHARE + margin)
        share = 1.0 - float(np.count_nonzero(ever)) / ever.size
        if share < needed:
            continue
        seen = sum(next((a.get("samples") or 0 for a in p["activations"]
                         if a["name"] == activation["name"]), 0) for p in window)
        findings.append(Finding(
            "dead_relu", activation["name"], activation["label"],
            "critical" if share >= DEAD_CRITICAL else "warning",
            {"dead_share": share, "dead_units": int(ever.size - np.count_nonzero(ever)),
             "units": int(ever.size), "window_batches": len(window), "window_samples": seen or None,
             "share_needed": needed},
            f"{share:.0%} of the units in {activation['label']} output 0 on every one of the last "
            f"{len(window)} probed batches" + (f" ({seen} samples)" if seen else "")
            + ": their weighted sums stay below 0, so they pass no gradient and cannot recover.",
        ))
    if findings and losses is not None:
        if learns_well(losses, start, batch_size=batch_size, accuracy=accuracy, epoch_logs=epoch_logs,
                       samples=samples):
            return []  # the units the network lost cost it nothing it can measure
        trend = loss_trend(losses, start, batch_size=batch_size, accuracy=accuracy)
        for finding in findings:
            finding.evidence["loss_trend"] = trend
    return findings


def gradient_share(probe: dict[str, Any], layer: str | None) -> float | None:
    """The RMS gradient of the weighted layer ``layer`` over the output-side layer's: how much of
    the gradient still reaches it (None when either is unknown, not finite, or the output-side
    layer gets none)."""
    layers = probe["layers"]
    if layer is None or len(layers) < 2:
        return None
    here = next((entry for entry in layers if entry["name"] == layer), None)
    last = layers[-1]["grad_rms"]
    if here is None or here is layers[-1] or not (math.isfinite(here["grad_rms"]) and math.isfinite(last)):
        return None
    return here["grad_rms"] / last if last > 0 else None


def learns_well(losses: Sequence[float], start: float | None = None, *, batch_size: int | None = None,
                accuracy: float | None = None, epoch_logs: Sequence[dict[str, float]] = (),
                samples: tuple[int, int] | None = None) -> bool:
    """Whether the network demonstrably learns well, so that odd-looking units in it (dead, or
    saturated) are no alarm: it has fitted its training data (``loss_trend`` says ``"fitted"``: a
    training accuracy of 1, or a loss an order of magnitude below its start) and, when the latest
    of ``epoch_logs`` has both accuracies, it generalizes (no gap reaching ``OVERFIT_GAP`` and
    twice its sampling noise, ``samples`` the training and validation counts). A loss that merely
    falls is no proof: saturated units still let the output layer fit the training data, slowly or
    by memorizing it (a generalization gap)."""
    if loss_trend(losses, start, batch_size=batch_size, accuracy=accuracy) != "fitted":
        return False
    log = epoch_logs[-1] if epoch_logs else {}
    if "accuracy" in log and "val_accuracy" in log:
        gap, needed = _generalization_gap(log, samples)
        return gap < needed
    return True


def saturated_activations(probes: Sequence[dict[str, Any]], *, losses: Sequence[float] | None = None,
                          start: float | None = None, batch_size: int | None = None,
                          accuracy: float | None = None, epoch_logs: Sequence[dict[str, float]] = (),
                          samples: tuple[int, int] | None = None) -> list[Finding]:
    """Most sigmoid/tanh outputs in their flat regions, on two probes in a row, in a network that
    does not demonstrably learn well.

    With ``losses`` (this recipe's per-step losses; ``start`` the run's starting loss,
    ``batch_size``, ``accuracy`` the latest training accuracy, ``epoch_logs`` this recipe's epoch
    logs, ``samples`` the training and validation counts), nothing is named when ``learns_well``:
    a network that fits its data and generalizes with saturated units is healthy. Without them,
    saturation alone is named, as before. The evidence has the loss's trend and the gradient that
    reaches the layer feeding the units against the output layer's (``gradient_share``).
    """
    if len(probes) < 2:
        return []
    findings = []
    for activation in probes[-1]["activations"]:
        share = activation.get("saturated_share")
        if share is None or share < SATURATED_SHARE:
            continue
        before = [a for a in probes[-2]["activations"] if a["name"] == activation["name"]]
        if before and (before[0].get("saturated_share") or 0.0) >= SATURATED_SHARE:
            findings.append(Finding(
                "saturated_activations", activation["name"], activation["label"], "warning",
                {"saturated_share": share,
                 "gradient_share": gradient_share(probes[-1], activation.get("after"))},
                f"{share:.0%} of {activation['label']}'s outputs sit in its flat regions, where the "
                "derivative is nearly 0: almost no gradient passes through.",
            ))
    if not findings or losses is None:
        return findings
    if learns_well(losses, start, batch_size=batch_size, accuracy=accuracy, epoch_logs=epoch_logs,
                   samples=samples):
        return []  # it fits its data and generalizes: the flat regions cost it nothing it can measure
    trend = loss_trend(losses, start, batch_size=batch_size, accuracy=accuracy)
    for finding in findings:
        finding.evidence["loss_trend"] = trend
        if trend in ("stalled", "rising"):
            finding.explanation += f" The training loss is {trend}."
    return findings


# ---------------------------------------------------------------------------------------------
# Loss rules (over the per-step losses and per-epoch logs)
# ---------------------------------------------------------------------------------------------
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


def unstable_loss(losses: Sequence[float], start: float | None = None, recent: int = 1, *,
                  batch_size: int | None = None, chance_loss: float | None = None) -> list[Finding]:
    """The smoothed loss climbed back: above twice its lowest value so far and more than half-way
    to its start.

    ``start`` is the loss the run began from (default: the mean of the first smoothing window). The
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
    peak, low = float(np.maximum.reduce(sums[-recent:])), float(np.minimum.reduce(sums))
    if not (math.isfinite(peak) and math.isfinite(low)) or peak <= UNSTABLE_FACTOR * low:
        return []  # no recent value is twice the lowest of all (the common case: one pass, no more)
    if start is None:
        start = _mean(losses[:span])
    reference = max(start, chance_loss) if chance_loss and math.isfinite(chance_loss) else start
    smooth = sums / span
    lowest = np.minimum.accumulate(smooth)[-recent:]  # the lowest value before each point
    now = smooth[-len(lowest):]
    # small late wobbles of a nearly-converged loss double it easily: the climb must also undo
    # more than half of the progress made so far
    climbed = (lowest > 0) & (now > UNSTABLE_FACTOR * lowest) & (now - lowest > 0.5 * (reference - lowest))
    if not climbed.any():
        return []
    worst = int(np.argmax(np.where(climbed, now / np.where(lowest > 0, lowest, 1.0), -np.inf)))
    peak, low = float(now[worst]), float(lowest[worst])
    return [Finding(
        "unstable_loss", None, None, "warning",
        {"loss_smoothed": peak, "lowest_smoothed": low, "start_smoothed": start,
         "loss_smoothed_now": float(smooth[-1]), "smoothed_steps": span},
        f"the smoothed training loss rose to {peak:.3g}, {peak / low:.1f}x its lowest value "
        f"({low:.3g}), undoing most of the progress: the steps overshoot the minimum.",
    )]


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


def loss_trend(losses: Sequence[float], start: float | None = None, *, batch_size: int | None = None,
               accuracy: float | None = None) -> str | None:
    """Where the training loss stands: ``"fitted"`` (a training accuracy of 1, or a smoothed loss
    below ``FITTED_LEVEL`` of ``start``), else ``"falling"`` or ``"rising"`` (the latest smoothed
    window against the one ``PLATEAU_STEPS`` earlier, beyond 1 % and twice their noise) or
    ``"stalled"``; None when the steps are too few to tell (or not finite).

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
    if len(losses) < window + span:
        return None
    recent = np.asarray(losses[-(window + span):], dtype=np.float64)
    start = _start_of(losses, start, span if batch_size else 5)
    if not (np.isfinite(recent).all() and math.isfinite(start)):
        return None
    before, now = recent[:span], recent[-span:]
    if start > 0 and _mean(now) <= FITTED_LEVEL * start:
        return "fitted"
    if _falling(before, now):
        return "falling"
    return "rising" if _rising(before, now) else "stalled"


def _rising(before: np.ndarray, now: np.ndarray) -> bool:
    """Whether the loss over the steps ``now`` is higher than over the steps ``before`` by more than
    ``PLATEAU_FALL`` of it and by more than twice the sampling noise of the difference of the two
    means (a flat loss of noisy mini-batches rises that far by chance about one check in 40)."""
    rise = float(np.add.reduce(now)) / now.size - float(np.add.reduce(before)) / before.size
    noise = math.sqrt(float(np.var(before)) / before.size + float(np.var(now)) / now.size)
    return rise > PLATEAU_FALL * float(np.add.reduce(before)) / before.size and rise > 2 * noise


def _rose_from_start(losses: Sequence[float], start: float, span: int, start_steps: int = 5) -> bool:
    """Whether the loss now (its last ``span`` steps) is above ``start`` (a mean of ``start_steps``
    steps) by more than 1 % and twice the noise of the difference (the per-step spread read on the
    recent steps): a loss that rose is not held up by small steps (each lowers it, to first order)."""
    now = np.asarray(losses[-span:], dtype=np.float64)
    rise = _mean(now) - start
    spread = float(np.var(now))
    return rise > PLATEAU_FALL * abs(start) and rise > 2 * math.sqrt(spread / now.size + spread / start_steps)


def slow_convergence(losses: Sequence[float], start: float | None = None, *,
                     batch_size: int | None = None) -> list[Finding]:
    """A plateau: hardly any fall over the last ``PLATEAU_STEPS`` steps, far from the start's loss
    (and no clear rise, over the window or since the start: a loss that climbs is not held up by
    small steps).

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
    fall = (before - now) / before
    if fall < PLATEAU_FALL and now > PLATEAU_LEVEL * start:
        lowest = _lowest_smoothed(losses, span)
        if lowest < PLATEAU_LEVEL * start:
            return []  # it made progress and lost it: unstable_loss's to name, not a plateau
        if _rising(recent[1:span + 1], recent[-span:]) or _rose_from_start(losses, start, span, start_steps):
            return []  # a climbing loss: steps too small cannot raise it (each lowers it to first order)
        return [Finding(
            "slow_convergence", None, None, "warning",
            {"loss_start": start, "loss_now": now, "fall_last_steps": fall, "steps": window,
             "lowest_smoothed": lowest},
            (f"the loss fell only {_pct(fall)}" if fall > 0 else "the loss did not fall" if fall == 0
             else f"the loss rose {_pct(-fall)}")
            + f" over the last {window} steps and is still {now / start:.0%} of where it started: "
            "the model is not learning at this pace.",
        )]
    return []


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
                best: EpochBest | None = None) -> list[Finding]:
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
    """
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
        memorizing = train_now < best.train_loss + OVERFIT_RISE * scale
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


def _generalization_gap(log: dict[str, float], samples: tuple[int, int] | None) -> tuple[float, float]:
    """One epoch's generalization gap and the least gap that counts: train accuracy - validation
    accuracy when both are logged, else the validation loss's relative excess over the training loss."""
    needed = OVERFIT_GAP
    if "accuracy" in log and "val_accuracy" in log:  # memorizing shows as a generalization gap
        if samples and min(samples) > 0:
            # the standard error of a difference of two accuracies measured on n and m samples
            noise = math.sqrt(sum(p * (1 - p) / n for p, n in ((log["accuracy"], samples[0]),
                                                               (log["val_accuracy"], samples[1]))))
            needed = max(needed, 2 * noise)
        return log["accuracy"] - log["val_accuracy"], needed
    return (log["val_loss"] - log["loss"]) / max(abs(log["loss"]), 1e-12), needed


def dropout_too_high(losses: Sequence[float], dropout_rates: Sequence[float],
                     chance_loss: float | None = None) -> list[Finding]:
    """A near-total dropout rate and a training loss still at the level of guessing.

    The reference level is the loss of a uniform guess (``chance_loss``, ln C for C classes) when
    known, else the loss at the start; dropout inflates early losses, so chance is the fairer mark.
    """
    if not dropout_rates or len(losses) < PLATEAU_STEPS or not _all_finite(losses[-LOSS_EMA_STEPS:]):
        return []
    rate = max(dropout_rates)
    start = _mean(losses[:5])
    reference = min(start, chance_loss) if chance_loss else start
    now = _mean(losses[-LOSS_EMA_STEPS:])
    if rate >= DROPOUT_RATE and reference > 0 and now > PLATEAU_LEVEL * reference:
        return [Finding(
            "dropout_too_high", None, None, "critical" if rate >= 0.95 else "warning",
            {"dropout_rate": rate, "loss_start": start, "loss_now": now, "reference_loss": reference},
            f"dropout drops {rate:.0%} of the units at each step and the training loss ({now:.3g}) is still "
            f"{now / reference:.0%} of a blind guess's ({reference:.3g}): too little signal gets through to "
            "fit even the training data.",
        )]
    return []


def _accuracy_noise(accuracy: float, count: int | None) -> float:
    """The standard error of one accuracy measured on ``count`` samples (0 when unknown)."""
    if not count or count <= 0:
        return 0.0
    p = min(max(accuracy, 0.0), 1.0)
    return math.sqrt(p * (1 - p) / count)


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


def underfitting(losses: Sequence[float], update_ratios: Sequence[float], start: float | None = None, *,
                 chance_loss: float | None = None, batch_size: int | None = None,
                 epoch_logs: Sequence[dict[str, float]] = (),
                 samples: tuple[int, int] | None = None) -> list[Finding]:
    """Healthy gradients, and a training loss stuck far above what the data allows.

    After ``UNDERFIT_WINDOWS`` plateau windows (1000 steps), all of: the loss learned something
    (its lowest smoothed value below ``PLATEAU_LEVEL`` of ``start``, else it is
    ``slow_convergence``'s), has stopped falling over the last window (and is not rising), and is
    still above ``UNDERFIT_LEVEL`` of a blind guess's (``chance_loss``; else of ``start``); the
    updates are in range (the largest update-to-weight ratio of the last two probes between
    ``SLOW_UPDATE`` and ``EXPLODING_UPDATE_RATIO``: not a rate too small or too large); and,
    when the latest epoch log has both accuracies, no generalization gap (training accuracy less
    than ``OVERFIT_GAP`` and twice the noise above validation accuracy: a model that fits its own
    data no better than unseen data has not the capacity or the steps to fit it). Labels too noisy
    to fit look the same: the explanation says so.
    """
    span = smoothing_span(batch_size)
    window = max(PLATEAU_STEPS, span)
    ratios = [float(r) for r in update_ratios[-2:]]
    if (len(losses) < UNDERFIT_WINDOWS * window or len(ratios) < 2
            or not all(SLOW_UPDATE <= r <= EXPLODING_UPDATE_RATIO for r in ratios)):
        return []
    start = _start_of(losses, start)
    trend = loss_trend(losses, start, batch_size=batch_size)
    if trend != "stalled" or not start > 0:
        return []
    now = _mean(losses[-span:])
    level = chance_loss if chance_loss and math.isfinite(chance_loss) else start
    if now <= UNDERFIT_LEVEL * level or _lowest_smoothed(losses, span) >= PLATEAU_LEVEL * start:
        return []
    log = epoch_logs[-1] if epoch_logs else {}
    if "accuracy" in log and "val_accuracy" in log:
        gap, needed = _generalization_gap(log, samples)
        if gap >= needed:
            return []  # it fits its own data better than unseen data: capacity is not what is short
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


def batch_too_small(losses: Sequence[float], batch_size: int | None, start: float | None = None, *,
                    chance_loss: float | None = None) -> list[Finding]:
    """Gradient noise dominates: over the last window (``PLATEAU_STEPS`` steps, or
    ``LOSS_SMOOTH_SAMPLES`` samples when the batches are smaller), the loss's per-step noise (the
    spread of its step-to-step differences over sqrt 2) is at least ``NOISE_LEVEL`` of its level;
    over the last ``BATCH_WINDOWS`` windows (at least two), the loss fell from the first to the last
    by no more than twice the noise of that difference; and it is not fitted (above
    ``FITTED_LEVEL`` of ``start`` and of a blind guess's loss). A mini-batch gradient's noise grows
    as 1/sqrt(batch size), and so does the loss's: each step follows its few samples more than the
    data. ``batch_size`` must be known (the remedy raises it) and at most ``SMALL_BATCH``."""
    if not batch_size or not 0 < batch_size <= SMALL_BATCH:
        return []
    window = max(PLATEAU_STEPS, smoothing_span(batch_size))
    if len(losses) < 2 * window:
        return []
    span = np.asarray(losses[-BATCH_WINDOWS * window:], dtype=np.float64)
    recent = span[-window:]
    start = _start_of(losses, start)
    if not (np.isfinite(span).all() and math.isfinite(start)) or start <= 0:
        return []
    level = _mean(recent)
    noise = float(np.std(np.diff(recent))) / math.sqrt(2)
    reference = max(start, chance_loss or 0.0)
    if level <= FITTED_LEVEL * reference or noise < NOISE_LEVEL * level:
        return []
    fall = _mean(span[:window]) - level
    if fall > 2 * noise * math.sqrt(2 / window):
        return []  # it still learns through the noise
    steps = span.size
    return [Finding(
        "batch_too_small", None, None, "warning",
        {"batch_size": int(batch_size), "loss_noise": noise, "loss_level": level,
         "noise_share": noise / level, "fall": fall, "steps": steps},
        f"with batches of {batch_size}, the loss jumps by {noise / level:.0%} of its level ({_fmt(level)}) "
        f"from step to step and made no progress beyond that noise over the last {steps} steps: "
        "each step follows its few samples more than the data.",
    )]
