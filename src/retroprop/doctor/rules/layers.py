"""The detectors on probed layers: NaN/Inf (and where it began), vanishing and exploding gradients,
dead ReLU units and saturated sigmoid/tanh units, gated on harm; and ``symptoms``, what the latest
probe shows."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from retroprop.doctor.rules.common import (
    DEAD_CRITICAL,
    DEAD_SAMPLES,
    DEAD_SHARE,
    DEAD_WINDOW,
    DROPOUT_RATE,
    EXPLODING_GROWTH,
    EXPLODING_UPDATE_RATIO,
    FIRST_STEP_OVERSHOOT,
    FITTED_LEVEL,
    LOSS_ALARM,
    OVERSIZED_GAIN,
    PLATEAU_LEVEL,
    SATURATED_PASSES,
    SATURATED_SHARE,
    SMALL_BATCH,
    TINY_WEIGHTS,
    UNSTABLE_FACTOR,
    VANISHING_CRITICAL,
    VANISHING_RATIO,
    Finding,
    _fmt,
    _mean,
    _start_of,
    dropout_level,
    smoothing_span,
)
from retroprop.doctor.rules.loss import learns_well, loss_symptoms, loss_trend


def non_finite(probes: Sequence[dict[str, Any]], losses: Sequence[float],
               first_step: int = 0, *, loss_known: bool = True) -> list[Finding]:
    """NaN/Inf anywhere, at the layer where it began.

    Weights are searched first (a poisoned weight poisons everything after it), then activations
    from the input side (the forward pass runs that way), then the probed step's loss (the backward
    pass starts from it: a NaN loss makes every gradient NaN), then gradients from the output side
    (the backward pass runs that way), then the losses since (``losses[0]`` is step ``first_step``).
    ``loss_known``: False when the losses are not known (a loop that does not pass them: recorded NaN).
    """
    if probes:
        probe = probes[-1]
        forward = (("weights", probe["layers"], "nonfinite_weight"),
                   ("activations", probe["activations"], "nonfinite"))
        backward = (("gradients", probe["layers"][::-1], "nonfinite_grad"),)
        found = _first_nonfinite(probe, forward)
        if found:
            return found
        loss = probe.get("loss")
        if loss_known and loss is not None and not math.isfinite(loss):
            # at the run's first step no update has been made: the initial weights' forward pass gives it
            initial = probe["step"] == 0
            return [Finding(
                "non_finite", None, None, "critical",
                {"nonfinite_values": 1, "overflowing": False, "where": "loss", "loss": loss,
                 "step": probe["step"], "replayed": bool(probe.get("replayed")),
                 "before_any_update": initial},
                (f"the loss was {loss} at step 1, before any update, while the weights and the activations "
                 "the doctor measures were finite: the forward pass of the initial weights overflows (in a "
                 "layer or function it does not measure: an activation that grows without bound, weights "
                 "or inputs of a huge scale) or the loss is undefined for the outputs it gives; no step has "
                 "been taken, so neither the learning rate nor clipping plays a part." if initial else
                 f"the loss itself became {loss} at step {probe['step'] + 1} while the weights and the "
                 "activations the doctor measures were finite: the loss is undefined (or overflows) for "
                 "the outputs the model gives it, and every gradient computed from it is NaN."),
            )]
        found = _first_nonfinite(probe, backward)
        if found:
            return found
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


def _first_nonfinite(probe: dict[str, Any], searches: Sequence[tuple[str, Sequence[dict[str, Any]], str]]
                     ) -> list[Finding]:
    """The first entry of ``searches`` ((kind, entries, count key), in order) holding NaN/Inf, as a
    ``non_finite`` finding; [] when none does."""
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
    return []


def _forward_finite(probe: dict[str, Any]) -> bool:
    """Whether the probe's weights and activations are finite (their means too: no overflow)."""
    return not any(layer.get("nonfinite_weight") for layer in probe["layers"]) and not any(
        a.get("nonfinite") or not math.isfinite(a.get("mean", 0.0)) for a in probe["activations"])


def symptoms(probe: dict[str, Any], losses: Sequence[float] | None = None, *,
             ongoing: Collection[str] = (), batch_size: int | None = None,
             loss_known: bool = True) -> list[str]:
    """Problems that show on this one probe (and the recent losses), without the persistence the
    rules require. ``ongoing``: the activation layers in a ``dead_relu`` episode (their threshold
    is lower, as in ``dead_relu``); ``batch_size``: as for ``loss_symptoms``.

    A probe with none is a healthy state, fit to roll back to: the windows of the rules guard
    against false alarms, this check guards against saving a state already on its way down.
    """
    found = loss_symptoms(losses, batch_size=batch_size) if losses is not None else []
    layers = probe["layers"]
    if (not _forward_finite(probe) or any(layer.get("nonfinite_grad") for layer in layers)
            or (loss_known and not math.isfinite(probe["loss"]))):
        found.append("non_finite")
    if _gradient_cut(probe):
        found.append("loss_output_mismatch")
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


def _gradient_cut(probe: dict[str, Any]) -> bool:
    """Whether the weighted layers' gradients were computed (``grad_norm_total`` is a number, not NaN)
    and are all exactly 0, and so is the output layer's bias gradient (``output_bias_grad``, known),
    although the probe's loss is finite and above 0, and no activation layer is wholly silent."""
    layers = probe["layers"]
    loss = probe.get("loss")
    if not layers or loss is None or not (math.isfinite(loss) and loss > 0):
        return False
    # the weights' gradients together: 0 only when every one is; NaN when none was computed
    if probe.get("grad_norm_total") != 0.0 or probe.get("output_bias_grad") != 0.0:
        return False
    return not any(activation.get("fired") is not None and activation["fired"].size
                   and not activation["fired"].any() for activation in probe["activations"])


def undefined_loss(probes: Sequence[dict[str, Any]], possible: bool = True) -> list[Finding]:
    """The loss is NaN on the latest probe while every weight and activation is finite: the outputs
    are finite too, and a loss that is well defined on them (cross-entropy on logits, a squared error)
    cannot be NaN there. What makes it NaN is in the loss: a log of a value <= 0 (a log loss on outputs
    that are no probabilities: linear, ReLU), a 0/0, or a naive softmax whose exp overflowed.
    ``possible``: the loss is known and is one that can be undefined (custom, or on probabilities)."""
    if not probes or not possible:
        return []
    probe = probes[-1]
    loss = probe.get("loss")
    if loss is None or not math.isnan(loss) or not probe["layers"]:
        return []
    if not _forward_finite(probe):
        return []
    output = probe["layers"][-1]
    return [Finding(
        "loss_output_mismatch", output["name"], output["label"], "critical",
        {"case": "loss_undefined", "step": probe["step"], "fix_by": "user",
         "fix_note": "This is yours to fix: fit cannot change the loss for you (a log loss needs "
                     "probabilities: a sigmoid or softmax before it, or the library's loss on logits)."},
        f"the loss is NaN at step {probe['step'] + 1} although every weight and activation is finite: "
        f"it is undefined for what {output['label']} outputs (a log of a value <= 0, as a log loss on "
        "outputs that are no probabilities takes, or a 0/0), not overflowed.",
    )]


def no_gradient(probes: Sequence[dict[str, Any]], dropout_rates: Sequence[float] = (),
                start: float | None = None) -> list[Finding]:
    """The loss passes the model no gradient: on the last two probes every weighted layer's gradient
    is exactly 0 while the loss is finite and above 0.

    The output layer's weight gradient is the loss's gradient in the outputs times the output
    layer's inputs, which are 0 for a sample whose units before it are all silent (dead ReLUs,
    ``dead_relu``'s) or dropped (``dropout_rates`` reaching ``DROPOUT_RATE``, ``dropout_level``:
    ``dropout_too_high``'s).
    Its bias gradient is the loss's gradient in the outputs alone, summed over the batch: with that
    0 too (``output_bias_grad``; an output layer without a bias is not judged), the loss is flat in
    the outputs: computed through a clip, a rounding, a comparison or an argmax, or from detached
    outputs. A loss at its minimum (exactly 0) is excluded, and so is one below ``FITTED_LEVEL`` of
    the run's ``start``: a loss that clips its probabilities (as Keras's do, at 1e-7) is flat for
    samples already classified with confidence, and a small batch may hold only those."""
    if dropout_level(dropout_rates) >= DROPOUT_RATE:
        return []
    if len(probes) < 2 or not all(_gradient_cut(probe) for probe in probes[-2:]):
        return []
    if start is not None and math.isfinite(start) and any(
            probe["loss"] <= FITTED_LEVEL * start for probe in probes[-2:]):
        return []
    probe = probes[-1]
    output = probe["layers"][-1]
    return [Finding(
        "loss_output_mismatch", output["name"], output["label"], "critical",
        {"case": "no_gradient", "loss_at_probe": probe["loss"], "layers": len(probe["layers"]),
         "fix_by": "user",
         "fix_note": "This is yours to fix: fit cannot change the loss for you (compute it from the "
                     "model's raw outputs with a library loss: cross-entropy on logits, mse, ...)."},
        f"no layer gets any gradient (not even {output['label']}, next to the loss) while the loss stands "
        f"at {_fmt(probe['loss'])}: the loss is flat in the model's outputs, as a loss computed through a "
        "clip, a rounding, a comparison or detached outputs is, so nothing can learn.",
    )]


def _silent_after(probe: dict[str, Any], layer: str) -> bool:
    """Whether a ReLU-like activation fed by ``layer`` fired on no unit (or channel) of the probed batch:
    then no gradient at all reaches ``layer`` through it."""
    return any(a.get("after") == layer and a.get("fired") is not None and not np.any(a["fired"])
               for a in probe.get("activations", ()))


def vanishing_gradients(probes: Sequence[dict[str, Any]], batch_size: int | None = None) -> list[Finding]:
    """The input-side layer's gradient is a tiny fraction of the output-side layer's, persistently:
    on the last two probes, or, when two batches hold fewer than ``DEAD_SAMPLES`` samples
    (``batch_size``), pooled (root mean square) over the latest probes that hold that many, with the
    latest probe showing it too. One sample's gradient follows that sample's own path: with ReLUs a
    sample whose first-layer units are all off gives the first layer exactly nothing, and a network
    is judged on its samples together, as dead units are."""
    if len(probes) < 2:
        return []
    span = 2
    if batch_size and 2 * batch_size < DEAD_SAMPLES:
        span = math.ceil(DEAD_SAMPLES / batch_size)
        if len(probes) < span:
            return []
    ratios, firsts, lasts = [], [], []
    for probe in probes[-span:]:
        layers = probe["layers"]
        if len(layers) < 3:
            return []
        first, last = layers[0]["grad_rms"], layers[-1]["grad_rms"]
        if not (math.isfinite(first) and math.isfinite(last)) or last <= 0:
            return []
        ratios.append(first / last)
        firsts.append(first * first)
        lasts.append(last * last)
    if span > 2:
        ratios = [ratios[-1], math.sqrt(sum(firsts) / sum(lasts))]
    if max(ratios) >= VANISHING_RATIO:
        return []
    layers = probes[-1]["layers"]
    ratio = ratios[-1]
    if ratio == 0.0 and _silent_after(probes[-1], layers[0]["name"]):
        return []  # the ReLUs fed by the first layer are all off: dead_relu's to name, no product of slopes
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
         "layers": len(layers), "probes": span},
        f"{measured}" + (f" (pooled over the last {span} probed batches)" if span > 2 else "")
        + ": backpropagation multiplied many small derivatives on the way to the input, so the "
        "first layers barely learn.",
    )]


def exploding_gradients(probes: Sequence[dict[str, Any]]) -> list[Finding]:
    """An update as large as the weights, or a gradient norm that grew a thousandfold and rising."""
    return exploding_updates(probes) or exploding_growth(probes)


def exploding_updates(probes: Sequence[dict[str, Any]], *, loss_after: float | None = None,
                      first_step: int = 0, batch_size: int | None = None) -> list[Finding]:
    """One optimizer step changed a layer by more than half its size (read on the newest probe
    whose update is known: a probe's update ratio is filled in after the optimizer's step).

    A layer whose weights were tiny at that probe (``tiny_weights``: zero-initialized, or an order
    of magnitude below their initialization scale) has no size of its own to measure a step against:
    its first moves toward a solution of ordinary size are many times its weights. Nor has the run's
    very first update (``first_step``; a treatment that restarts the run moves it) of weights at a
    working scale (``weight_gain`` at most ``OVERSIZED_GAIN``) anything learned to throw away:
    random initial weights point nowhere, and a first step toward the data at a high but healthy
    rate may be as large as they are (a small output layer under plain SGD). Such a ratio is named
    only when confirmed: ``loss_after`` (the loss of the step right after the update, computed with
    the updated weights) is not finite or more than ``UNSTABLE_FACTOR`` (tiny weights past the first
    step) or ``FIRST_STEP_OVERSHOOT`` (the first step, tiny or not: weights that start tiny beside a
    layer of working or larger scale move the loss at once) times the probe's loss (the step
    overshot: a step that overshoots the minimum by a factor r multiplies that part of the loss by
    r^2), or an earlier
    probe in ``probes`` also had a large update in that layer. A good first step lowers the loss; a
    diverging one raises it by orders of magnitude. Without either piece of evidence the ratio is
    named, as for any layer.

    With batches of at most ``SMALL_BATCH`` samples (``batch_size``: a step's noise is then at least
    half its size), one step follows a sample or two: one misclassified sample with large activations
    moves a small layer by much of its size, and the next sample's loss says nothing about the step.
    Every large ratio then needs the next probe's (or the previous one's) to be large too, or the loss
    after it to be non-finite.
    """
    index = next((i for i in range(len(probes) - 1, -1, -1)
                  if any(layer.get("update_ratio") is not None for layer in probes[i]["layers"])), None)
    if index is None:
        return []
    probe = probes[index]
    first = (probe.get("step") == first_step
             and weight_gain(probe["layers"], probe.get("activations", ()))[0] <= OVERSIZED_GAIN)
    few = bool(batch_size) and batch_size <= SMALL_BATCH
    for layer in probe["layers"]:
        ratio = layer.get("update_ratio")
        if ratio is None or not math.isfinite(ratio) or ratio <= EXPLODING_UPDATE_RATIO:
            continue
        tiny = tiny_weights(layer)
        if (tiny or first or few) and not _update_confirmed(
                probes[:index], layer["name"], probe.get("loss"), loss_after,
                overshoot=math.inf if few else FIRST_STEP_OVERSHOOT if first else UNSTABLE_FACTOR):
            continue  # a large first move of weights that had no size (or nothing learned) yet, and the
            # loss did not overshoot after it
        size = f"{_fmt(ratio)} times its own size"
        evidence = {"update_ratio": ratio, "grad_norm": layer["grad_norm"]}
        if tiny:
            evidence["weights_tiny"] = True
        if tiny or first:
            evidence.update(loss_before=probe.get("loss"), loss_after=loss_after)
        return [Finding(
            "exploding_gradients", layer["name"], layer["label"],
            "critical" if ratio > 1.0 else "warning", evidence,
            f"one optimizer step changed {layer['label']} by {size}: gradients this large (products of "
            "many large terms) throw away what the layer learned."
            + (f" The loss went from {_fmt(probe['loss'])} to {_fmt(loss_after)} over that step: it "
               "overshot." if (tiny or first) and loss_after is not None and probe.get("loss") is not None
               else ""),
        )]
    return _first_step_saturated(probes[:index], probe, first_step)


def _first_step_saturated(earlier: Sequence[dict[str, Any]], probe: dict[str, Any],
                          first_step: int) -> list[Finding]:
    """The run's first update, of weights at a working scale, larger than ``EXPLODING_UPDATE_RATIO``
    and not confirmed by the loss (``exploding_updates`` lets it pass), confirmed by what it did: the
    squashing units its layer feeds, below ``SATURATED_SHARE`` in their flat regions on the first
    probe, are above it on the next (``probe``). A first step toward the data does not pin the units
    it feeds; one of many times their working size does (a loss that fell to a degenerate fit, all
    outputs at a bound, says nothing against it)."""
    if not earlier or earlier[-1].get("step") != first_step:
        return []
    opening = earlier[-1]
    if weight_gain(opening["layers"], opening.get("activations", ()))[0] > OVERSIZED_GAIN:
        return []  # oversized weights are named as such, from the first step
    pinned = {a.get("after"): a for a in probe.get("activations", ()) if saturated(a, probe)}
    calm = {a.get("after") for a in opening.get("activations", ())
            if a.get("saturated_share") is not None and a["saturated_share"] < SATURATED_SHARE}
    for layer in opening["layers"]:
        ratio = layer.get("update_ratio")
        name = layer["name"]
        if (ratio is None or not math.isfinite(ratio) or ratio <= EXPLODING_UPDATE_RATIO
                or tiny_weights(layer) or name not in pinned or name not in calm):
            continue
        units = pinned[name]
        return [Finding(
            "exploding_gradients", name, layer["label"], "critical" if ratio > 1.0 else "warning",
            {"update_ratio": ratio, "grad_norm": layer["grad_norm"], "confirmed_by": "saturation",
             "saturated_share": units["saturated_share"], "step_of_update": opening.get("step")},
            f"the run's first optimizer step changed {layer['label']} by {_fmt(ratio)} times its own size "
            f"and threw the units it feeds into their flat regions: {units['saturated_share']:.0%} of "
            f"{units['label']}'s outputs sit there now, under {SATURATED_SHARE:.0%} before it. A step "
            "toward the data does not pin them; one this large overshoots, because the learning rate is "
            "too large for these weights.",
        )]
    return []


# The slope at 0 of squashing units flatter there than ReLU's effective 1/sqrt(2) (it passes half the
# signal's energy): a layer feeding them amplifies the signal that much less than its weights say, so
# weights 4x Glorot's before a sigmoid (Glorot and Bengio's advice for it) keep the signal steady
FLAT_SLOPES = {"sigmoid": 0.25, "hardsigmoid": 1.0 / 6.0}


def weight_gain(layers: Sequence[dict[str, Any]], activations: Sequence[dict[str, Any]] = ()
                ) -> tuple[float, list[float]]:
    """How much the weights' scale alone amplifies the signal along the network: the product over the
    weighted layers (``weight_norm``, ``size``, ``fan_in``) of their RMS over the He scale
    sqrt(2 / fan_in), each times the ``FLAT_SLOPES`` of the units it feeds over ReLU's 1/sqrt(2)
    (``activations``: their ``kind``, and ``after``, the layer that feeds them), and the factors
    themselves (layers of unknown shape are left out; (0, []) without any)."""
    slopes = {a.get("after"): FLAT_SLOPES[a["kind"]] * math.sqrt(2.0) for a in activations
              if a.get("kind") in FLAT_SLOPES and a.get("after")}
    factors = [layer["weight_norm"] / math.sqrt(layer["size"]) / math.sqrt(2.0 / layer["fan_in"])
               * slopes.get(layer.get("name"), 1.0)
               for layer in layers if layer.get("fan_in") and layer.get("size")]
    return (math.prod(factors) if factors else 0.0), factors


def oversized_init(opening: Sequence[dict[str, Any]], first_step: int = 0,
                   chance_loss: float | None = None, samples: tuple[int, int] | None = None) -> list[Finding]:
    """A run started from weights far above a working scale: on its first probe (``opening[0]``, at
    ``first_step``), the weights' scale alone amplifies the signal by more than ``OVERSIZED_GAIN``
    along the network (``weight_gain``), and the outputs show it: the loss is more than ``LOSS_ALARM``
    times a blind guess's (``chance_loss``, needed), where an untrained model at a working scale scores
    about that guess. Outputs that large are confident and mostly wrong: the loss and its gradients
    start orders of magnitude too large, and the steps must first undo the scale. Not when a
    sigmoid or tanh layer of that probe has ``SATURATED_SHARE`` of its outputs in the flat regions:
    squashing units cap the signal, and what the oversized weights do there is saturate them
    (``saturated_activations``' to name). With a single weighted layer nothing multiplies its scale,
    and a linear model's loss is convex in its weights: the steps undo a large start, unless the
    training rows (``samples[0]``, needed then) are no more than the layer's inputs: the data then fix
    only as many directions of each unit's weights as there are rows, and the rest keep their initial
    scale in every prediction on new data."""
    if not opening or not chance_loss or not chance_loss > 0:
        return []
    probe = opening[0]
    loss = probe.get("loss")
    if probe.get("step") != first_step or loss is None or not math.isfinite(loss):
        return []
    if any((a.get("saturated_share") or 0.0) >= SATURATED_SHARE for a in probe.get("activations", ())):
        return []
    gain, factors = weight_gain(probe["layers"], probe.get("activations", ()))
    if gain <= OVERSIZED_GAIN or loss <= LOSS_ALARM * chance_loss:
        return []
    sized = [layer for layer in probe["layers"] if layer.get("fan_in") and layer.get("size")]
    largest = max(range(len(factors)), key=factors.__getitem__)
    layer = sized[largest]
    rows = samples[0] if samples else None
    if len(factors) < 2 and not (rows and rows <= layer["fan_in"]):
        return []  # one layer, and enough rows to fix all its weights: a large start costs steps only
    kept = (f"; with {rows} training rows for {layer['fan_in']} inputs, the data fix only {rows} directions "
            "of each unit's weights, and the rest keep their initial scale in every prediction on new data"
            if len(factors) < 2 else "; the steps must first undo the scale")
    return [Finding(
        "exploding_gradients", layer["name"], layer["label"], "critical",
        {"case": "oversized_init", "cause": "initialization", "weight_gain": gain,
         "layer_gains": [round(f, 3) for f in factors], "loss_at_start": loss, "chance_loss": chance_loss,
         **({"training_rows": rows} if len(factors) < 2 else {})},
        f"the initial weights are {_fmt(max(factors))} times the scale that keeps the signal steady (He's, "
        f"sqrt(2 / fan_in), for the units they feed) in {layer['label']} and amplify "
        f"the signal {_fmt(gain)}-fold along the network: the first loss is {_fmt(loss)}, "
        f"{_fmt(loss / chance_loss)} times a blind guess's ({_fmt(chance_loss)}), from outputs that large "
        "and confidently wrong" + kept + ".",
    )]


def tiny_weights(layer: dict[str, Any]) -> bool:
    """Whether a layer's weights (``weight_norm``; ``size`` and ``fan_in`` when known) are all zero or
    below ``TINY_WEIGHTS`` of the norm LeCun-scaled weights of that shape have (entries of standard
    deviation 1/sqrt(fan_in)): started near zero, not at a working scale. False when unknown."""
    norm = layer.get("weight_norm")
    if norm is None or not math.isfinite(norm):
        return False
    if norm == 0.0:
        return True
    size, fan_in = layer.get("size"), layer.get("fan_in")
    return bool(size and fan_in) and norm < TINY_WEIGHTS * math.sqrt(size / fan_in)


def _update_confirmed(earlier: Sequence[dict[str, Any]], name: str, loss_before: float | None,
                      loss_after: float | None, *, overshoot: float = UNSTABLE_FACTOR) -> bool:
    """Whether a large update of the layer ``name`` (from tiny weights, or the run's first) is an
    explosion: the newest of ``earlier`` probes whose update is known had a large update in that layer
    too, or the loss after it is not finite or more than ``overshoot`` times the loss before it.
    Without the losses: True (nothing clears it).

    Tiny weights barely move the loss until they reach a working size (``UNSTABLE_FACTOR``). A first
    step from random weights at a high, healthy rate may throw the next batch's loss up several-fold
    and recover at once (``FIRST_STEP_OVERSHOOT``); an explosion goes on, and the next probe (brought
    forward) shows it."""
    previous = next((layer.get("update_ratio") for probe in reversed(earlier) for layer in probe["layers"]
                     if layer["name"] == name and layer.get("update_ratio") is not None), None)
    if previous is not None and not previous <= EXPLODING_UPDATE_RATIO:  # NaN counts as large
        return True
    if loss_after is None or loss_before is None or not math.isfinite(loss_before):
        return True
    return not math.isfinite(loss_after) or loss_after > overshoot * loss_before


def _total_grad_norm(probe: dict[str, Any]) -> float:
    """All layers' weight gradients as one vector: its 2-norm (``grad_norm_total`` when the probe has it)."""
    total = probe.get("grad_norm_total")
    if total is None or math.isnan(total):
        total = math.sqrt(sum(layer["grad_norm"] ** 2 for layer in probe["layers"]))
    return total


def exploding_growth(probes: Sequence[dict[str, Any]], batch_size: int | None = None) -> list[Finding]:
    """The total gradient norm grew more than ``EXPLODING_GROWTH``-fold over the window and rose on
    each of the last three probes. Not with batches of at most ``SMALL_BATCH`` samples: one sample's
    gradient norm spans orders of magnitude (a confidently right one next to a wrong one), and three
    rising in a row is what one draw in six gives. The growth is counted from the first probe whose
    batch was not already fit (a loss at least ``FITTED_LEVEL`` of the window's median): a batch the
    model gets right has a near-zero gradient whatever the weights, no measure of their scale."""
    if len(probes) < 3 or (batch_size and batch_size <= SMALL_BATCH):
        return []
    totals = [_total_grad_norm(p) for p in probes]
    if not totals[-1] > totals[-2] > totals[-3]:
        return []
    losses = np.array([math.nan if p.get("loss") is None else p["loss"] for p in probes], dtype=np.float64)
    known = losses[np.isfinite(losses)]
    first = 0
    if known.size:
        fitted = FITTED_LEVEL * float(np.median(known))
        first = next((i for i, loss in enumerate(losses[:-1]) if not loss < fitted), len(probes) - 1)
    if first <= len(probes) - 3 and totals[first] > 0 and all(math.isfinite(t) for t in totals[-3:]):
        growth = totals[-1] / totals[first]
        if growth > EXPLODING_GROWTH and totals[-1] > totals[-2] > totals[-3]:
            return [Finding(
                "exploding_gradients", None, None, "warning",
                {"grad_norm_first": totals[first], "grad_norm_now": totals[-1], "growth": growth},
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
              samples: tuple[int, int] | None = None, chance_loss: float | None = None,
              opening: Sequence[dict[str, Any]] = (), first_step: int | None = None) -> list[Finding]:
    """ReLU units that fired on none of the latest probed batches: the last ``DEAD_WINDOW`` of them
    and as many more as it takes to hold ``DEAD_SAMPLES`` samples (pass that many probes: see
    ``dead_window_probes``). ``opening``: the recipe's first probes; the dead units that fired on none
    of them were born dead (``born_dead`` in the evidence), the others died as the steps went on. Born
    only when the opening starts at ``first_step`` (the run's start, or a fresh restart: weights that
    learned nothing); after a treatment that kept trained weights (a ReLU put in a sigmoid's place),
    the units silent from its start were silenced by those weights, not by the draw of an initialization.

    Hysteresis: a layer enters at ``DEAD_SHARE`` plus ``dead_margin`` (from the units that fired on
    some of the window's batches but not all) and, while its episode lasts (its name in
    ``ongoing``), stays until it falls below ``DEAD_SHARE`` minus that margin, so that a layer
    sitting at the threshold does not flip. ``ongoing=None`` (the default) turns the band off: every
    layer is judged at ``DEAD_SHARE`` (for callers that do not track episodes). Harm: with
    ``losses`` (and the other keywords, as for ``learns_well``) nothing is named in a network that
    learns well: units it lost cost it nothing measurable; and a layer below ``DEAD_CRITICAL`` is
    named, when most of its dead units were born dead, only while the loss has stalled or risen
    (``loss_trend``) and is still above ``PLATEAU_LEVEL`` of its start, or, before a trend can be
    read, while the loss has not yet fallen below that and the share is beyond what a layer of that
    many units leaves silent by chance (``DEAD_SHARE`` plus ``dead_margin``): one that learned did so
    through the units it kept (its width is ``underfitting``'s to judge). When the opening
    did not see which units were born dead (or as many died as were born so), it is named while the
    loss has stalled or risen, or, before a trend can be read, has not yet fallen below
    ``PLATEAU_LEVEL`` of its start. Units the steps killed (a rate too high) are the course page's
    failure, named at once.
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
        fresh = first_step is None or (bool(opening) and opening[0].get("step") == first_step)
        born = _born_dead(opening, activation["name"], ever) if fresh else None
        seen = sum(next((a.get("samples") or 0 for a in p["activations"]
                         if a["name"] == activation["name"]), 0) for p in window)
        findings.append(Finding(
            "dead_relu", activation["name"], activation["label"],
            "critical" if share >= DEAD_CRITICAL else "warning",
            {"dead_share": share, "dead_units": int(ever.size - np.count_nonzero(ever)),
             "units": int(ever.size), "window_batches": len(window), "window_samples": seen or None,
             "share_needed": needed, "born_dead": born},
            f"{share:.0%} of the {'channels' if activation.get('channels') else 'units'} in "
            f"{activation['label']} output 0 {'at every position ' if activation.get('channels') else ''}"
            f"on every one of the last {len(window)} probed batches" + (f" ({seen} samples)" if seen else "")
            + ": their weighted sums stay below 0, so they pass no gradient and cannot recover.",
        ))
    if findings and losses is not None:
        if learns_well(losses, start, batch_size=batch_size, accuracy=accuracy, epoch_logs=epoch_logs,
                       samples=samples, chance_loss=chance_loss):
            return []  # the units the network lost cost it nothing it can measure
        trend = loss_trend(losses, start, batch_size=batch_size, accuracy=accuracy, chance_loss=chance_loss)
        # a layer that keeps fewer than 1 - DEAD_CRITICAL of its units passes almost nothing on, and units
        # the steps killed are the failure itself; otherwise the layer passes its signal through the rest
        # and costs the network something only while the loss shows it: stalled or rising, or, before a
        # trend can be read, not yet below PLATEAU_LEVEL of its start. Units born dead (common in narrow
        # layers) made the layer narrower before any step: that blocks the learning only while the loss
        # has learned nothing (a trend that shows it, still above PLATEAU_LEVEL of its start); a network
        # that learned through the units it kept and then slowed is short of width, underfitting's to
        # name. Before a trend, only a share beyond what a few units give by chance (one unit of two is
        # half a layer): DEAD_SHARE plus dead_margin, every unit counted as flickering
        stalled = trend in ("stalled", "rising")
        fell = _fell(losses, start, batch_size)
        early = trend is None and not fell
        findings = [finding for finding in findings if finding.evidence["dead_share"] >= DEAD_CRITICAL
                    or _mostly_killed(finding.evidence)
                    or ((stalled and not fell) or (early and _beyond_chance(finding.evidence))
                        if _mostly_born_dead(finding.evidence) else stalled or early)]
        for finding in findings:
            finding.evidence["loss_trend"] = trend
    return findings


def _born_dead(opening: Sequence[dict[str, Any]], name: str, ever: np.ndarray) -> int | None:
    """How many of the units silent over the window (``ever`` False) fired on none of the run's
    first probes (``opening``) either: dead from the initial weights, not killed by the steps. None
    when the opening did not see the layer's units."""
    start = fired_in_window(opening, name) if opening else None
    if start is None or start.shape != ever.shape:
        return None
    return int(np.count_nonzero(~start & ~ever))


def _mostly_killed(evidence: dict[str, Any]) -> bool:
    """Whether most of a layer's dead units fired at the run's start: the steps killed them."""
    born = evidence.get("born_dead")
    return born is not None and born < evidence["dead_units"] - born


def _beyond_chance(evidence: dict[str, Any]) -> bool:
    """Whether a layer's dead share exceeds ``DEAD_SHARE`` by ``dead_margin`` of its units, each
    counted as flickering: more than a layer of a few units leaves silent by chance."""
    return evidence["dead_share"] >= DEAD_SHARE + dead_margin(evidence["units"])


def _mostly_born_dead(evidence: dict[str, Any]) -> bool:
    """Whether most of a layer's dead units fired on none of the run's first probes: the initial
    weights, not the steps, silenced them."""
    born = evidence.get("born_dead")
    return born is not None and born > evidence["dead_units"] - born


def _fell(losses: Sequence[float], start: float | None, batch_size: int | None) -> bool:
    """Whether the loss's latest smoothed value (over up to half the steps so far) is below
    ``PLATEAU_LEVEL`` of ``start`` (default: the first 5 steps' mean): it has learned something."""
    if len(losses) < 2:
        return False
    now = _mean(losses[-max(1, min(smoothing_span(batch_size), len(losses) // 2)):])
    first = _start_of(losses, start)
    return math.isfinite(now) and math.isfinite(first) and first > 0 and now < PLATEAU_LEVEL * first


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


def saturation_margin(activation: dict[str, Any], probe: dict[str, Any]) -> float:
    """Three standard errors of a saturated share read on one probed batch: the share of its
    ``samples`` x units outputs in the flat regions wobbles from batch to batch by at least
    sqrt(p (1 - p) / n) at p = ``SATURATED_SHARE`` (more, since a unit's outputs move together), so
    that a layer sitting at the threshold would cross it on two probes in a row about one time in
    four; three standard errors make that about one in 500 000. The units are the output features of
    the weighted layer feeding it (``after``: its ``size`` over its ``fan_in``); 0 when unknown."""
    samples = activation.get("samples")
    feeding = next((layer for layer in probe["layers"] if layer["name"] == activation.get("after")), None)
    if not samples or feeding is None or not feeding.get("fan_in") or not feeding.get("size"):
        return 0.0
    outputs = samples * feeding["size"] / feeding["fan_in"]
    return 3 * math.sqrt(SATURATED_SHARE * (1 - SATURATED_SHARE) / outputs)


def saturated(activation: dict[str, Any], probe: dict[str, Any]) -> bool:
    """Whether ``activation`` has ``SATURATED_SHARE`` of its outputs in the flat regions on ``probe``,
    beyond its batch's sampling noise (``saturation_margin``); False when the share is unknown."""
    share = activation.get("saturated_share")
    return share is not None and share >= SATURATED_SHARE + saturation_margin(activation, probe)


def saturated_activations(probes: Sequence[dict[str, Any]], *, opening: Sequence[dict[str, Any]] = (),
                          losses: Sequence[float] | None = None,
                          start: float | None = None, batch_size: int | None = None,
                          accuracy: float | None = None, epoch_logs: Sequence[dict[str, float]] = (),
                          samples: tuple[int, int] | None = None,
                          chance_loss: float | None = None) -> list[Finding]:
    """Most sigmoid/tanh outputs in their flat regions, on two probes in a row (each beyond its
    batch's sampling noise, ``saturation_margin``), doing harm, in a network that does not
    demonstrably learn well. Harm: the units were saturated on the run's first probe (``opening[0]``:
    the initial weights or the inputs' scale put them there, not the learning), the weighted layer
    feeding them gets under ``SATURATED_PASSES`` of the output layer's gradient (``gradient_share``:
    the flat regions cut it off), or the loss has stalled, is rising, or fitted the training data
    without generalizing (a gap ``learns_well`` reads); units whose share is unknown (fed by the
    output layer: the output's own sigmoid) are judged by ``learns_well`` alone. Units that saturate
    as the run learns, while the gradient still reaches the layer below and the loss falls, are the
    learning's doing (confident features), not a fault.

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
        if not saturated(activation, probes[-1]):
            continue
        share = activation["saturated_share"]
        before = [a for a in probes[-2]["activations"] if a["name"] == activation["name"]]
        if before and saturated(before[0], probes[-2]):
            initial = opening[0]["activations"] if opening else ()
            first = [a for a in initial if a["name"] == activation["name"]]
            born = bool(first) and saturated(first[0], opening[0])
            findings.append(Finding(
                "saturated_activations", activation["name"], activation["label"], "warning",
                {"saturated_share": share, "from_start": born,
                 "gradient_share": gradient_share(probes[-1], activation.get("after"))},
                f"{share:.0%} of {activation['label']}'s outputs sit in its flat regions, where the "
                "derivative is nearly 0: almost no gradient passes through.",
            ))
    if not findings:
        return []
    trend = None if losses is None else loss_trend(losses, start, batch_size=batch_size, accuracy=accuracy,
                                                   chance_loss=chance_loss)
    # harm: saturated from the start, the gradient cut off below the units, a loss that stopped falling,
    # or one that fitted without generalizing (``learns_well`` below tells it from one that generalizes)
    harmed = trend in ("stalled", "rising", "fitted")
    findings = [f for f in findings if harmed or f.evidence["from_start"]
                or f.evidence["gradient_share"] is None or f.evidence["gradient_share"] < SATURATED_PASSES]
    if not findings or losses is None:
        return findings
    if learns_well(losses, start, batch_size=batch_size, accuracy=accuracy, epoch_logs=epoch_logs,
                   samples=samples, chance_loss=chance_loss):
        return []  # it fits its data and generalizes: the flat regions cost it nothing it can measure
    for finding in findings:
        finding.evidence["loss_trend"] = trend
        if trend in ("stalled", "rising"):
            finding.explanation += f" The training loss is {trend}."
        elif trend == "fitted":
            finding.explanation += " The network has fitted its training data but does not generalize."
        if finding.evidence["from_start"]:
            finding.explanation += (" They were saturated from the run's first steps: the initial weights "
                                    "(or the inputs' scale) put them there.")
    return findings
