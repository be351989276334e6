"""Published buggy training programs, ported to retroprop, each with its fixed version as a healthy twin.

Every program is one module in this package with:

- ``SOURCE``: where the bug was published (benchmark and case id, or the question's URL);
- ``SYMPTOM``: what its author reported; ``FIX``: the known fix (from the answer or the benchmark);
- ``SPLIT``: ``"dev"`` (thresholds may be looked at here) or ``"heldout"`` (never tuned on);
- ``ROUND`` (optional, 1 when absent): the round of porting that added the program. Round 2 was
  ported after the doctor had been measured on round 1's held-out half, so its held-out half is
  the one no rule has been looked at against;
- ``EXPECTED``: the problem ids the doctor must name on the buggy version, written before the doctor
  was ever run on it; ``ALLOWED``: ids it may also name (consequences of the same bug);
- ``buggy(seed)`` and ``fixed(seed)``: the two versions as ``Program``s, taking inputs of the same
  shape, unless ``FIX_CHANGES_INPUTS`` (optional, False when absent) says that the fix is the input
  features themselves (a model given too few of them).

A ported program keeps the original's architecture, activations, loss, optimizer, learning rate,
batch size, initialization and data scaling (a data set that needs a download is replaced by the
closest bundled or generated one of the same shape and scale, said in ``SOURCE``); only its size may
be cut so that it runs in seconds.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["Program", "load_programs"]


@dataclass
class Program:
    """One version of a program: what ``rp.fit`` trains, on what, and how."""

    model: Any
    optimizer: Any
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    loss: Any  # a fit loss name ("cross_entropy", "mse", ...) or a retroprop loss module
    epochs: int
    batch_size: int
    metric: str | None = "accuracy"  # None for a regression (judged by validation loss)
    fit_options: dict[str, Any] = field(default_factory=dict)  # other rp.fit keywords (scheduler, ...)


def load_programs(split: str = "all") -> dict[str, ModuleType]:
    """The program modules of ``split`` ("dev", "heldout" or "all"), by module name."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "run":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if split in ("all", module.SPLIT):
            found[info.name] = module
    return dict(sorted(found.items()))
