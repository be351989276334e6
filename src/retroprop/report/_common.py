"""What the figures and the HTML report share: reading the doctor's objects as plain data."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

PLOT_HINT = "the report's figures need matplotlib: pip install retroprop[plot]"


def matplotlib_parts() -> tuple[Any, Any]:
    """``(Figure, FigureCanvasAgg)``, imported on first use: figures are drawn off-screen with the
    Agg backend, without pyplot, so no display is needed and no global backend is changed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - exercised only without matplotlib
        raise ImportError(PLOT_HINT) from err
    return Figure, FigureCanvasAgg


def output_path(path: Any) -> Path:
    """``path`` as a Path whose parent folder exists."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def plain(obj: Any) -> Any:
    """A probe record, diagnosis, treatment or stats object as a dict of its fields (arrays kept);
    dicts pass through; anything else is returned unchanged."""
    if isinstance(obj, dict):
        return obj
    as_plain = getattr(obj, "as_plain", None)
    if callable(as_plain):
        return as_plain()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if not f.name.startswith("_")}
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if hasattr(obj, "__dict__"):
        return dict(vars(obj))
    return obj


def number(value: Any, default: float = math.nan) -> float:
    """``value`` as a float (NaN/Inf kept); ``default`` when it is not a number at all."""
    if value is None or isinstance(value, bool | str):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def integer(value: Any) -> int | None:
    """``value`` as an int, or None when it is missing or not a finite number."""
    x = number(value)
    return int(x) if math.isfinite(x) else None


def history_dict(history: Any) -> tuple[dict[str, list[Any]], dict[str, Any], np.ndarray | None]:
    """``(per-epoch lists, params, per-step losses)`` from a ``History``, a dict ``{"history": {...},
    "params": {...}, "step_loss": [...]}`` or a plain dict of per-epoch lists."""
    if history is None:
        return {}, {}, None
    if isinstance(history, dict):
        if isinstance(history.get("history"), dict):
            logs = history["history"]
            params = history.get("params") or {}
            steps = history.get("step_loss")
        else:
            logs, params, steps = history, {}, None
    else:
        logs = getattr(history, "history", None) or {}
        params = getattr(history, "params", None) or {}
        steps = getattr(history, "step_loss", None)
    logs = {str(k): list(v) if isinstance(v, list | tuple | np.ndarray) else [v] for k, v in logs.items()}
    step_loss = None
    if steps is not None:
        try:
            step_loss = np.asarray(steps, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            step_loss = None
    return logs, dict(params), step_loss
