"""JSON that other programs can read: NaN and Inf (which ``json.dumps`` writes as the invalid
``NaN``/``Infinity``) become null, NumPy scalars and arrays plain numbers and lists."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def finite(value: Any) -> Any:
    """``value`` with every non-finite float as None, NumPy values as Python ones and anything
    else that JSON has no type for as its ``str``."""
    if value is None or isinstance(value, (bool, str, np.bool_)):
        return bool(value) if isinstance(value, np.bool_) else value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return finite(value.tolist())
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return str(value)


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` of ``finite(value)``: always valid JSON (``allow_nan=False``)."""
    return json.dumps(finite(value), allow_nan=False, **kwargs)
