"""The array-module hook: ops ask their inputs which array library to use.

NumPy is the only backend today. A GPU array library with NumPy's API (CuPy) can slot in by
being recognised here; ops call ``array_module(*arrays)`` instead of naming ``numpy``.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

import numpy as np


def array_module(*arrays: Any) -> ModuleType:
    """Return the array library (``numpy`` or ``cupy``) that owns ``arrays``."""
    if "cupy" not in sys.modules:  # no GPU arrays can exist: the common, fast case
        return np
    for array in arrays:
        if type(array).__module__.startswith("cupy"):
            import cupy  # optional backend, imported only when its arrays are seen

            return cupy
    return np


def special_module(xp: ModuleType) -> ModuleType:
    """Return the ``scipy.special`` twin for ``xp`` (erf, expit)."""
    if xp is np:
        import scipy.special

        return scipy.special
    import cupyx.scipy.special

    return cupyx.scipy.special


def is_array(value: Any) -> bool:
    """True for an ndarray of a known array library (0-d included), False for scalars."""
    return isinstance(value, np.ndarray) or ("cupy" in sys.modules
                                             and type(value).__module__.startswith("cupy"))
