"""The detectors: one table of rules over plain per-layer statistics.

Detectors see only numbers (dicts of floats, lists, NumPy arrays), never retroprop types, so any
framework's probes can feed them. Each probe record is a dict with ``step``, ``epoch``, ``loss``,
optionally ``grad_norm_total``, ``layers`` (weighted layers, input side first: ``name``, ``label``,
``grad_rms``, ``grad_norm``, ``update_ratio``, ``nonfinite_grad``, ``nonfinite_weight``) and
``activations`` (``name``, ``label``, ``kind``, ``fired`` (per-unit booleans for ReLU),
``saturated_share``, ``nonfinite``).

The thresholds come from the mechanisms the course page describes; they are a first setting, to be
frozen against the labelled scenarios of the clinic (benchmarks/clinic/) and reported there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
     "after each probe, when the update is known), or gradient-norm growth",
     "threshold": "update/weight > 0.5, or total gradient norm > 1e3 x its value 4 probes earlier",
     "window": "one probe (ratio), 3 consecutive rising probes (growth)",
     "why": "large weights make the products of many large terms grow geometrically; an update as large as "
            "the weights themselves throws the layer away"},
    {"problem": "dead_relu", "signal": "share of ReLU units that never fired (> 0) on any probed batch",
     "threshold": ">= 0.5 (critical >= 0.9)", "window": "the last 5 probed batches",
     "why": "a unit whose weighted sum stays below 0 outputs 0 and passes no gradient, so nothing can "
            "bring it back"},
    {"problem": "saturated_activations", "signal": "share of sigmoid/tanh outputs where the derivative "
     "is below 1/100 of its peak", "threshold": ">= 0.5", "window": "2 consecutive probes",
     "why": "in their flat regions sigmoid and tanh pass almost no gradient"},
    {"problem": "unstable_loss", "signal": "moving average (20 steps) of the training loss",
     "threshold": "> 2 x its lowest value so far and back more than half-way to its start",
     "window": "20 steps (any step since the rule last ran)",
     "why": "steps too large overshoot the minimum and climb the other side"},
    {"problem": "slow_convergence", "signal": "relative fall of the loss moving average over the last 100 "
     "steps, and the loss against its starting value; or the largest update-to-weight ratio of any layer "
     "(a fixed learning rate) and the loss against its start",
     "threshold": "< 1 % fall (and no rise beyond 1 % and twice its noise) while still > 90 % of the "
     "starting loss, never below it since; or every layer's ratio < 1e-4 while the loss is still (and "
     "always was) > 90 % of its start; not named when dropout >= 0.8 or a problem that lowers the rate "
     "explains the stall",
     "window": "100 steps; or 2 probes",
     "why": "a plateau: steps too small (or gradients too weak) to move the loss; at 1e-4 of the weights "
            "per step (healthy runs: 1e-3 to 1e-2), 1000 steps change them by 10 % at most"},
    {"problem": "overfitting", "signal": "validation loss by epoch, against its minimum, while the "
     "training loss falls; the generalization gap (train accuracy - validation accuracy, else the "
     "validation loss's excess over the training loss, relative)",
     "threshold": "> 10 % above its minimum for 3 consecutive epochs, and over those epochs a gap >= 0.10 "
     "and >= twice the accuracies' sampling noise",
     "window": "3 epochs", "why": "the network memorizes its training data instead of generalizing: it "
     "does better on what it has seen than on what it has not (a gap of a few points and a wobbling "
     "validation loss are ordinary in healthy runs)"},
    {"problem": "dropout_too_high", "signal": "largest dropout rate in the model and the training loss "
     "against a blind guess's (ln C for C classes; else the starting loss)",
     "threshold": "rate >= 0.8 and loss > 90 % of that level after 100 steps",
     "window": "100 steps",
     "why": "dropping nearly every unit leaves too little signal to fit even the training data (1.0 = "
            "learn nothing)"},
]

VANISHING_RATIO, VANISHING_CRITICAL = 1e-3, 1e-5
EXPLODING_UPDATE_RATIO, EXPLODING_GROWTH = 0.5, 1e3
DEAD_SHARE, DEAD_CRITICAL, DEAD_WINDOW = 0.5, 0.9, 5
SATURATED_SHARE = 0.5
LOSS_EMA_STEPS, UNSTABLE_FACTOR = 20, 2.0
DIVERGED_FACTOR, DIVERGED_MIN_STEPS = 3.0, 10
PLATEAU_STEPS, PLATEAU_FALL, PLATEAU_LEVEL = 100, 0.01, 0.9
SLOW_UPDATE = 1e-4
OVERFIT_RISE, OVERFIT_EPOCHS, OVERFIT_GAP = 0.10, 3, 0.10
HORIZON = 2000  # loss rules look at the last this many steps (and the first few): bounded cost
DROPOUT_RATE = 0.8


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


def loss_symptoms(losses: Sequence[float]) -> list[str]:
    """``["unstable_loss"]`` when the smoothed loss is already above twice its lowest value (on its
    way back up), else ``[]``."""
    if len(losses) < 2 * LOSS_EMA_STEPS:
        return []
    recent = np.asarray(losses[-HORIZON:], dtype=np.float64)
    if not np.isfinite(recent).all():
        return []
    smooth = _smooth(recent, LOSS_EMA_STEPS)
    return ["unstable_loss"] if smooth[-1] > UNSTABLE_FACTOR * smooth.min() else []


def symptoms(probe: dict[str, Any], losses: Sequence[float] | None = None) -> list[str]:
    """Problems that show on this one probe (and the recent losses), without the persistence the
    rules require.

    A probe with none is a healthy state, fit to roll back to: the windows of the rules guard
    against false alarms, this check guards against saving a state already on its way down.
    """
    found = loss_symptoms(losses) if losses is not None else []
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
        if fired is not None and fired.size and 1.0 - np.count_nonzero(fired) / fired.size >= DEAD_SHARE:
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


def dead_relu(probes: Sequence[dict[str, Any]]) -> list[Finding]:
    """ReLU units that fired on none of the last ``DEAD_WINDOW`` probed batches."""
    if len(probes) < DEAD_WINDOW:
        return []
    window = probes[-DEAD_WINDOW:]
    findings = []
    for activation in window[-1]["activations"]:
        fired = activation.get("fired")
        # units that fired on this batch alone are alive: when they are enough, the window need not be read
        if fired is None or fired.size - np.count_nonzero(fired) < DEAD_SHARE * fired.size:
            continue
        ever = fired_in_window(window, activation["name"])
        if ever is not None and ever.size:
            share = 1.0 - float(np.count_nonzero(ever)) / ever.size
            if share >= DEAD_SHARE:
                findings.append(Finding(
                    "dead_relu", activation["name"], activation["label"],
                    "critical" if share >= DEAD_CRITICAL else "warning",
                    {"dead_share": share, "dead_units": int(ever.size - np.count_nonzero(ever)),
                     "units": int(ever.size), "window_batches": DEAD_WINDOW},
                    f"{share:.0%} of the units in {activation['label']} output 0 on every one of the last "
                    f"{DEAD_WINDOW} probed batches: their weighted sums stay below 0, so they pass no "
                    "gradient and cannot recover.",
                ))
    return findings


def saturated_activations(probes: Sequence[dict[str, Any]]) -> list[Finding]:
    """Most sigmoid/tanh outputs in their flat regions, on two probes in a row."""
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
                {"saturated_share": share},
                f"{share:.0%} of {activation['label']}'s outputs sit in its flat regions, where the "
                "derivative is nearly 0: almost no gradient passes through.",
            ))
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


def _lowest_smoothed(losses: Sequence[float]) -> float:
    """The lowest moving average of the loss over the last ``HORIZON`` steps: a loss that has been
    well below its start made progress, so the plateau tests do not call it slow."""
    return float(np.minimum.reduce(_smooth(losses[-HORIZON:], LOSS_EMA_STEPS)))


def unstable_loss(losses: Sequence[float], start: float | None = None, recent: int = 1) -> list[Finding]:
    """The smoothed loss climbed back: above twice its lowest value so far and more than half-way
    to its start.

    ``start`` is the loss the run began from (default: the mean of the first 20 values). The climb
    is looked for among the last ``recent`` smoothed values (the steps since the rule last ran), so
    that a loss which climbs and falls back between two runs of the rule is still caught.
    """
    if len(losses) < 2 * LOSS_EMA_STEPS:
        return []
    sums = _window_sums(losses[-HORIZON:], LOSS_EMA_STEPS)  # window sums: the ratios need no scaling
    recent = min(max(recent, 1), sums.size)
    peak, low = float(np.maximum.reduce(sums[-recent:])), float(np.minimum.reduce(sums))
    if not (math.isfinite(peak) and math.isfinite(low)) or peak <= UNSTABLE_FACTOR * low:
        return []  # no recent value is twice the lowest of all (the common case: one pass, no more)
    if start is None:
        start = _mean(losses[:LOSS_EMA_STEPS])
    smooth = sums / LOSS_EMA_STEPS
    lowest = np.minimum.accumulate(smooth)[-recent:]  # the lowest value before each point
    now = smooth[-len(lowest):]
    # small late wobbles of a nearly-converged loss double it easily: the climb must also undo
    # more than half of the progress made so far
    climbed = (lowest > 0) & (now > UNSTABLE_FACTOR * lowest) & (now - lowest > 0.5 * (start - lowest))
    if not climbed.any():
        return []
    worst = int(np.argmax(np.where(climbed, now / np.where(lowest > 0, lowest, 1.0), -np.inf)))
    peak, low = float(now[worst]), float(lowest[worst])
    return [Finding(
        "unstable_loss", None, None, "warning",
        {"loss_smoothed": peak, "lowest_smoothed": low, "start_smoothed": start,
         "loss_smoothed_now": float(smooth[-1])},
        f"the smoothed training loss rose to {peak:.3g}, {peak / low:.1f}x its lowest value "
        f"({low:.3g}), undoing most of the progress: the steps overshoot the minimum.",
    )]


def diverged(losses: Sequence[float], chance_loss: float | None = None) -> list[Finding]:
    """The loss ended far above where it started: more than ``DIVERGED_FACTOR`` times the untrained
    model's (the first step's, measured before any update) and, when known, than a blind guess's.

    The end is the mean of the last ``LOSS_EMA_STEPS`` steps (of the last half of a shorter run, at
    least ``DIVERGED_MIN_STEPS`` steps). No healthy run ends worse than it began, let alone several
    times worse than guessing: the steps threw the weights past the minimum (critical).
    """
    if len(losses) < DIVERGED_MIN_STEPS:
        return []
    start = float(losses[0])
    span = min(LOSS_EMA_STEPS, len(losses) // 2)
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


def _rising(before: np.ndarray, now: np.ndarray) -> bool:
    """Whether the loss over the steps ``now`` is higher than over the steps ``before`` by more than
    ``PLATEAU_FALL`` of it and by more than twice the sampling noise of the difference of the two
    means (a flat loss of noisy mini-batches rises that far by chance about one check in 40)."""
    rise = float(np.add.reduce(now)) / now.size - float(np.add.reduce(before)) / before.size
    noise = math.sqrt(float(np.var(before)) / before.size + float(np.var(now)) / now.size)
    return rise > PLATEAU_FALL * float(np.add.reduce(before)) / before.size and rise > 2 * noise


def slow_convergence(losses: Sequence[float], start: float | None = None) -> list[Finding]:
    """A plateau: hardly any fall over the last ``PLATEAU_STEPS`` steps, far from the start's loss
    (and no clear rise: a loss that climbs is not held up by small steps).

    ``start`` is the loss the run began from (default: the mean of the first 5 values).
    """
    if len(losses) < PLATEAU_STEPS + LOSS_EMA_STEPS:  # one full window, smoothed
        return []
    recent = np.asarray(losses[-(PLATEAU_STEPS + LOSS_EMA_STEPS):], dtype=np.float64)
    if start is None:
        if not np.isfinite(losses[:5]).all():
            return []
        start = _mean(losses[:5])
    if not (np.isfinite(recent).all() and math.isfinite(start)):
        return []
    add = np.add.reduce  # the two ends of the moving average are all this rule needs
    before = float(add(recent[1:LOSS_EMA_STEPS + 1])) / LOSS_EMA_STEPS
    now = float(add(recent[-LOSS_EMA_STEPS:])) / LOSS_EMA_STEPS
    if before <= 0 or start <= 0:
        return []
    fall = (before - now) / before
    if fall < PLATEAU_FALL and now > PLATEAU_LEVEL * start:
        lowest = _lowest_smoothed(losses)
        if lowest < PLATEAU_LEVEL * start:
            return []  # it made progress and lost it: unstable_loss's to name, not a plateau
        if _rising(recent[1:LOSS_EMA_STEPS + 1], recent[-LOSS_EMA_STEPS:]):
            return []  # a climbing loss: steps too small cannot raise it (each lowers it to first order)
        return [Finding(
            "slow_convergence", None, None, "warning",
            {"loss_start": start, "loss_now": now, "fall_last_steps": fall, "steps": PLATEAU_STEPS,
             "lowest_smoothed": lowest},
            (f"the loss fell only {_pct(fall)}" if fall > 0 else "the loss did not fall" if fall == 0
             else f"the loss rose {_pct(-fall)}")
            + f" over the last {PLATEAU_STEPS} steps and is still {now / start:.0%} of where it started: "
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
    largest = max(ratios)
    return [Finding(
        "slow_convergence", None, None, "warning",
        {"loss_start": start, "loss_now": now, "largest_update_ratio": largest, "probes": len(ratios)},
        f"each step moves the weights by at most {largest:.1e} of their size (healthy runs: about 1e-3 "
        f"to 1e-2), so 1000 steps would change them by {1000 * largest:.2%} at most, and the "
        f"loss is still {now / start:.0%} of where it started: the learning rate is too small to learn.",
    )]


def overfitting(epoch_logs: Sequence[dict[str, float]],
                samples: tuple[int, int] | None = None, first_epoch: int = 0) -> list[Finding]:
    """Validation loss above its minimum for several epochs while the training loss keeps falling,
    and a generalization gap over those same epochs. ``samples`` = (training, validation) sample
    counts: with them, an accuracy gap must also exceed twice its sampling noise (a few dozen
    samples give accuracies that differ by chance). ``first_epoch``: the run's 0-based number of
    the epoch ``epoch_logs[0]`` belongs to; the evidence's ``best_epoch`` counts from 0 like it (as
    every record does), the explanation from 1."""
    val = [log.get("val_loss") for log in epoch_logs]
    if len(val) < OVERFIT_EPOCHS + 1 or any(v is None or not math.isfinite(v) for v in val):
        return []
    best = int(np.argmin(val))
    train = [log["loss"] for log in epoch_logs]
    recent = val[-OVERFIT_EPOCHS:]
    # a rise relative to the best; a best of exactly 0 (a perfect fit) has no scale of its own
    scale = val[best] if val[best] > 0 else max(abs(t) for t in train) or 1.0
    risen = best < len(val) - OVERFIT_EPOCHS and all(v > val[best] + OVERFIT_RISE * scale for v in recent)
    if not (risen and train[-1] < train[best]):
        return []
    # the rule is asked again every epoch: a gap that crosses its noise bar on one epoch only is
    # what chance gives over a long run, so the gap must hold over the whole window of the rise
    gaps = [_generalization_gap(log, samples) for log in epoch_logs[-OVERFIT_EPOCHS:]]
    if not all(gap >= needed for gap, needed in gaps):
        return []
    gap, needed = gaps[-1]
    shown = first_epoch + best + 1  # counted from 1 for people
    return [Finding(
        "overfitting", None, None, "warning",
        {"best_epoch": first_epoch + best, "val_loss_best": val[best], "val_loss_now": val[-1],
         "train_loss_now": train[-1], "train_loss_at_best": train[best], "generalization_gap": gap,
         "gap_needed": needed, "epochs": OVERFIT_EPOCHS},
        (f"the validation loss is {_pct(val[-1] / val[best] - 1)} above its best (epoch {shown})"
         if val[best] > 0 else f"the validation loss rose from {_fmt(val[best])} (epoch {shown}) to "
         f"{_fmt(val[-1])}") + " while the training loss keeps falling: the network is memorizing its "
        "training data.",
    )]


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
