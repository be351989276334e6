"""Weight decay against the data's gradient (``weight_decay_too_high``)."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from retroprop.doctor.rules.common import (
    DECAY_COLLAPSE,
    DECAY_DOMINANCE,
    DECAY_PROBES,
    DECAY_RISE,
    PLATEAU_LEVEL,
    Finding,
    _fmt,
    _lowest_smoothed,
    _start_of,
    smoothing_span,
)


def decay_pulls(probe: dict[str, Any], weight_decays: Mapping[str, float]) -> dict[str, float]:
    """Per layer with a coupled weight decay ``wd`` (``weight_decays``, by layer name): the decay's pull
    on its weights over the data's gradient, ``wd * ||W|| / ||g||`` (layers without a gradient left out)."""
    pulls = {}
    for layer in probe["layers"]:
        decay = weight_decays.get(layer["name"], 0.0)
        grad, weight = layer.get("grad_norm"), layer.get("weight_norm")
        if decay > 0 and grad and weight and math.isfinite(grad) and math.isfinite(weight):
            pulls[layer["name"]] = decay * weight / grad
    return pulls


def decay_dominates(probe: dict[str, Any], weight_decays: Mapping[str, float]) -> bool:
    """Whether the decay's pull is above ``DECAY_DOMINANCE`` in this probe's median decayed layer."""
    pulls = decay_pulls(probe, weight_decays)
    return bool(pulls) and statistics.median(pulls.values()) > DECAY_DOMINANCE


def weight_decay_too_high(probes: Sequence[dict[str, Any]], weight_decays: Mapping[str, float],
                          losses: Sequence[float] | None = None, start: float | None = None, *,
                          first: dict[str, Any] | None = None, batch_size: int | None = None,
                          learns_well: bool = False) -> list[Finding]:
    """Weight decay outweighs the data: on each of the last ``DECAY_PROBES`` probes the decay's pull
    (``decay_pulls``) is above ``DECAY_DOMINANCE`` in the median decayed layer and the decayed weights
    shrank from each of those probes to the next, while the loss (``losses``, this recipe's per-step
    losses, smoothed as the loss rules smooth them), having fallen below ``PLATEAU_LEVEL`` of its
    ``start``, climbed back ``DECAY_RISE`` of the way, or, never having fallen that far, the decayed
    weights are down to ``DECAY_COLLAPSE`` of their norm at ``first`` (the recipe's first probe) or
    less; not in a network that learns well (``learns_well``), nor when the losses are not known.

    At a minimum of the penalized loss the decay and the gradient balance (a pull of 1); a pull
    steadily above it drives the weights toward 0 whatever the data says, and the data's loss climbs
    back toward a blind guess's as they go.
    """
    if learns_well or losses is None or len(probes) < DECAY_PROBES or not any(
            v > 0 for v in weight_decays.values()):
        return []
    span = smoothing_span(batch_size)
    if len(losses) < 2 * span:
        return []
    window = probes[-DECAY_PROBES:]
    medians, norms = [], []
    for probe in window:
        pulls = decay_pulls(probe, weight_decays)
        if not pulls:
            return []
        medians.append(statistics.median(pulls.values()))
        norms.append(math.sqrt(sum(layer["weight_norm"] ** 2 for layer in probe["layers"]
                                   if layer["name"] in pulls)))
    if min(medians) <= DECAY_DOMINANCE or not all(b < a for a, b in itertools.pairwise(norms)):
        return []
    begin = _start_of(losses, start)
    now = float(np.add.reduce(losses[-span:])) / span
    lowest = _lowest_smoothed(losses, span)
    if not (math.isfinite(begin) and math.isfinite(now)):
        return []
    learned = lowest <= PLATEAU_LEVEL * begin
    if learned and now - lowest < DECAY_RISE * (begin - lowest):
        return []  # the loss holds what it learned (or still falls)
    if not learned:
        before = {layer["name"]: layer["weight_norm"] for layer in (first or {}).get("layers", ())}
        pulled = [name for name in decay_pulls(window[-1], weight_decays) if name in before]
        initial = math.sqrt(sum(before[name] ** 2 for name in pulled))
        if not pulled or not initial > 0 or norms[-1] > DECAY_COLLAPSE * initial:
            return []  # nothing learned, and the weights still of a size: a plateau, not the decay's doing
    decays = sorted({v for v in weight_decays.values() if v > 0})
    return [Finding(
        "weight_decay_too_high", None, None, "critical" if medians[-1] > 10 * DECAY_DOMINANCE else "warning",
        {"decay_pull": medians, "weight_norm": norms, "loss": now, "lowest_loss": lowest, "start": begin,
         "weight_decay": decays},
        f"weight decay ({', '.join(_fmt(v) for v in decays)}) pulls the weights toward 0 "
        f"{_fmt(medians[-1])}x harder than the data's gradient pulls them anywhere (median layer; "
        f"{', '.join(_fmt(m) for m in medians)} over the last {len(window)} probes): the weights shrank from "
        f"{_fmt(norms[0])} to {_fmt(norms[-1])} and "
        + (f"the loss climbed back from {_fmt(lowest)} to {_fmt(now)} (it began at {_fmt(begin)})" if learned
           else f"the loss never fell (at {_fmt(now)}, it began at {_fmt(begin)})")
        + ". The decay, not the data, decides where they go.")]
