"""Learning-rate schedulers beside a watched optimizer: a learning-rate remedy carried into them.

A remedy that scales the rates in ``param_groups`` lasts only until a scheduler that computes the rate
from its own record (``LambdaLR`` from ``base_lrs``; ``OneCycleLR`` from ``initial_lr``, ``max_lr`` and
``min_lr`` in the groups; ``CyclicLR`` from its ``base_lrs`` and ``max_lrs``) sets it again at its next
``step()``: a rate cut tenfold comes back the next epoch. ``rescale`` scales those records by the
remedy's factor. A scheduler that multiplies the current rate (``StepLR``, ``ExponentialLR``,
``MultiplicativeLR``, ``ReduceLROnPlateau``) keeps the remedy anyway, and scaling its ``base_lrs``
changes nothing it uses until a restart.

``track`` registers a scheduler (``retroprop watch`` registers every one a script creates; the one-line
``Watch.track_scheduler`` and the Lightning callback register theirs); only a weak reference is kept.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["LR_REMEDIES", "bound_to", "rescale", "track"]

LR_REMEDIES = ("lower_lr", "higher_lr")
GROUP_RATES = ("initial_lr", "max_lr", "min_lr")  # the rates a scheduler keeps in each parameter group

_TRACKED: weakref.WeakSet[Any] = weakref.WeakSet()


def track(scheduler: Any) -> None:
    """Remember ``scheduler`` (weakly) for the optimizer it drives (its ``optimizer`` attribute)."""
    _TRACKED.add(scheduler)


def bound_to(optimizer: Any, extra: Iterable[Any] = ()) -> list[Any]:
    """The tracked schedulers (and ``extra`` ones) that drive ``optimizer``, each once."""
    found: dict[int, Any] = {}
    for scheduler in (*list(_TRACKED), *extra):
        if getattr(scheduler, "optimizer", None) is optimizer:
            found.setdefault(id(scheduler), scheduler)
    return list(found.values())


def rescale(optimizer: Any, before: Sequence[float], schedulers: Iterable[Any]) -> list[float]:
    """After a remedy moved each group's rate from ``before`` to what ``param_groups`` holds now, scale
    by the same factor the rates ``schedulers`` (and the groups' ``GROUP_RATES``) compute from, so that
    their next ``step()`` keeps the treated rate. Returns the factors (1 where a rate was 0 or unknown)."""
    groups = optimizer.param_groups
    factors = [float(group["lr"] / old) if old else 1.0
               for group, old in zip(groups, before, strict=False)]
    factors += [1.0] * (len(groups) - len(factors))
    for group, factor in zip(groups, factors, strict=True):
        for key in GROUP_RATES:
            if isinstance(group.get(key), (int, float)) and not isinstance(group.get(key), bool):
                group[key] *= factor
    for scheduler in schedulers:
        for name in ("base_lrs", "max_lrs"):
            rates = getattr(scheduler, name, None)
            if isinstance(rates, list) and len(rates) == len(factors):
                setattr(scheduler, name, [rate * factor for rate, factor in zip(rates, factors, strict=True)])
    return factors
