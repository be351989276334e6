"""The direction of the optimizer's steps: down the loss's slope, or up it (``gradient_ascent``)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from retroprop.doctor.rules.common import ASCENT_COSINE, ASCENT_OPENING, ASCENT_PROBES, Finding, _fmt


def _cosines(probe: dict[str, Any]) -> list[float]:
    values = (layer.get("update_cosine") for layer in probe["layers"])
    return [c for c in values if c is not None and math.isfinite(c)]


def climbs(probe: dict[str, Any]) -> bool:
    """Whether this probe's update moved every layer up its gradient (cosine > 0), the median layer by
    more than ``ASCENT_COSINE``."""
    cosines = _cosines(probe)
    return bool(cosines) and min(cosines) > 0.0 and statistics.median(cosines) > ASCENT_COSINE


def opening_climbs(opening: Sequence[dict[str, Any]], first_step: int = 0) -> bool:
    """Whether every probed update of the run's opening so far climbed (``climbs``): ``opening`` is the
    first probe records of the run (or of a fresh restart at ``first_step``), the first of them within
    ``ASCENT_OPENING`` steps of it. Ascent is suspected, to be confirmed soon."""
    known = list(opening[:ASCENT_PROBES])
    while known and not _cosines(known[-1]):
        known.pop()  # the newest probe's update is not known yet
    return (bool(known) and 0 <= known[0].get("step", -1) - first_step < ASCENT_OPENING
            and all(climbs(probe) for probe in known))


def gradient_ascent(opening: Sequence[dict[str, Any]], first_step: int = 0) -> list[Finding]:
    """The optimizer climbs the loss: the first ``ASCENT_PROBES`` probe records of the run (``opening``;
    of a fresh restart at ``first_step``), the first within ``ASCENT_OPENING`` steps of it, each show an
    update that moved every layer up its gradient (the cosine between the step and the gradient it was
    taken from > 0 in every layer, and > ``ASCENT_COSINE`` in the median layer).

    A step that minimizes goes against the gradient: plain SGD's cosine is -1, and momentum's and
    Adam's first steps from a fresh state are -g and about -g/|g| elementwise, so no minimizing
    optimizer starts uphill; only a flipped sign (``maximize=True``, a hand-written
    ``w += lr * grad``, a negated gradient) does, in every layer. Later, momentum (above all with
    batches of a sample or two, whose gradients disagree) may carry a step uphill, so only the opening
    is read. The loss is not asked: to first order each such step raises it (by the step times the
    gradient), but one batch's loss against another's is noisier than that rise over a few steps at
    a small rate.
    """
    window = list(opening[:ASCENT_PROBES])
    if (len(window) < ASCENT_PROBES or not 0 <= window[0].get("step", -1) - first_step < ASCENT_OPENING
            or not all(climbs(probe) for probe in window)):
        return []
    medians = [statistics.median(_cosines(probe)) for probe in window]
    losses = [p.get("loss") for p in window]
    evidence: dict[str, Any] = {"update_cosines": medians, "steps": [p.get("step") for p in window],
                                "losses": losses}
    climb = ""
    if all(loss is not None and math.isfinite(loss) for loss in losses) and losses[-1] > losses[0]:
        climb = f"; the loss went from {_fmt(losses[0])} to {_fmt(losses[-1])} over them"
    return [Finding(
        "gradient_ascent", None, None, "critical", evidence,
        f"each of the run's first {len(window)} probed optimizer steps moved every layer up its gradient "
        f"(the cosine between step and gradient, median over the layers: "
        f"{', '.join(f'{m:+.2f}' for m in medians)}; a step that minimizes has a negative one){climb}: "
        "the optimizer maximizes the loss (maximize=True, or a gradient whose sign is flipped).")]


# steps whose gradient is compared with the one before it, and how closely what it holds beyond its own
# backward passes must match that one (1 - the distance over its norm)
CARRY_CHECKS, CARRIED_SHARE = 2, 0.5


def gradients_carried(carried: Sequence[float], parameter: str | None = None) -> list[Finding]:
    """The gradients are never cleared between steps: on each of the first ``CARRY_CHECKS`` steps
    compared, the gradient the optimizer stepped with, less what this step's backward passes added to
    it, is the gradient of the step before, to within ``1 - CARRIED_SHARE`` of its norm (``carried``: 1
    minus that distance over the norm; 0 for a loop that clears them, 1 for one that never does).
    Every step then moves along the sum of all the gradients so far, and the updates grow with the
    steps (``parameter``: the tensor it was read on)."""
    shares = [float(c) for c in carried[:CARRY_CHECKS]]
    if len(shares) < CARRY_CHECKS or not all(math.isfinite(c) and c > CARRIED_SHARE for c in shares):
        return []
    return [Finding(
        "exploding_gradients", None, None, "critical",
        {"case": "gradients_accumulate", "cause": "training_loop", "carried_shares": shares,
         "parameter": parameter},
        f"on {len(shares)} steps in a row, the gradient the optimizer stepped with still held "
        f"{_fmt(min(shares))}-{_fmt(max(shares))} of the previous step's besides this step's own: nothing "
        "clears the gradients between steps (backward adds to what .grad holds), so each step moves along "
        "the sum of every gradient so far, and the updates grow with the steps until they overshoot.",
    )]


def steps_without_gradients(gradless: int, checked: int) -> list[Finding]:
    """Every one of the first ``checked`` (at least ``CARRY_CHECKS`` + 1) optimizer steps found no
    gradient on any tensor the optimizer holds (``gradless`` of them): the backward passes never reach
    the model (a loss computed from detached outputs, as ``.data``, ``.detach()``, ``.item()`` or a new
    tensor made from them, then made to require a gradient), or the gradients are cleared between
    ``backward`` and ``step``. Every step then leaves the weights as they are."""
    if checked < CARRY_CHECKS + 1 or gradless < checked:
        return []
    return [Finding(
        "slow_convergence", None, None, "critical",
        {"case": "steps_without_gradients", "steps_checked": checked, "fix_by": "user",
         "fix_note": "This is yours to fix: compute the loss from the model's outputs with their graph, and "
                     "clear the gradients before backward, not between backward and step."},
        f"none of the tensors the optimizer holds had a gradient at any of its first {checked} steps: the "
        "loss's backward pass does not reach the model (a loss computed from detached outputs, such as "
        ".data, .detach() or a new tensor made from them), or the gradients are cleared between backward "
        "and step, so no step changes the weights.",
    )]
