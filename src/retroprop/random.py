"""retroprop's own random state: ``manual_seed`` makes every random draw reproducible.

retroprop never touches NumPy's or Python's global random state; it draws from one
``numpy.random.Generator`` that ``manual_seed`` replaces.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_default = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed everything retroprop draws at random (dropout masks, initial weights, shuffling)."""
    global _default
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _default = np.random.default_rng(int(seed))
    return _default


def default_generator() -> np.random.Generator:
    """The generator retroprop draws from when no ``generator=`` is given."""
    return _default


def get_generator(generator: Any = None) -> np.random.Generator:
    """Resolve a ``generator=`` argument: None (the default), a Generator, or an integer seed."""
    if generator is None:
        return _default
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    raise TypeError(
        f"generator must be None, an int seed or a numpy.random.Generator, got "
        f"{type(generator).__name__}"
    )
