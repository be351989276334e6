"""The inputs of ``retroprop evaluate`` and ``retroprop predict``, read and checked before use.

Files are read by ``retroprop.data.files``: samples from a ``.csv`` (numbers; a first row that is
not all numbers is a header), ``.npy`` (a 2-D array, samples x features) or ``.npz`` file (arrays
``x`` and, for labelled data, ``y``); inputs must be finite numbers, and a bad file raises its
``DataFileError``. What only the model can tell raises ``InputError`` (a ``ValueError``): class
labels outside the model's range, the wrong number of features, outputs that are not finite (no
class is printed for them). Every message says where, counted as ``DataFileError`` counts: rows
and columns from 1, a CSV file's rows by their line in the file.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

LABELLED_SUFFIXES = (".csv", ".npz")


class InputError(ValueError):
    """A data file that cannot be used as the model's input, in one line that says where."""


@dataclass
class Table:
    """Samples read from a file: ``x`` (float64, samples x features), the labels when asked for,
    the column names of a CSV header, and each sample's row (None: sample i is row i + 1)."""

    source: str
    x: np.ndarray
    y: np.ndarray | None = None
    columns: list[str] | None = None  # the feature columns' names (CSV header)
    rows: tuple[int, ...] | None = None  # each sample's row in the file (a CSV file's line)

    def where(self, sample: int) -> str:
        """``"test.csv, row 4"``: where sample ``sample`` (0-based) is in the file."""
        return f"{self.source}, row {sample + 1 if self.rows is None else self.rows[sample]}"


def read_samples(path: str | Path) -> Table:
    """The samples (no labels) of a ``.csv``, ``.npy`` or ``.npz`` (array ``x``) file."""
    from retroprop.data.files import load_samples

    samples = load_samples(path)
    return Table(str(path), samples.x, columns=None if samples.feature_names is None
                 else list(samples.feature_names), rows=samples.rows)


def read_labelled(path: str | Path, *, label: str | None = None, classes: bool = True,
                  class_names: Sequence[str] | None = None) -> Table:
    """Samples and class labels of a ``.csv`` (the ``label`` column, by name or index, default the
    last) or ``.npz`` (arrays ``x`` and ``y``) file, read by ``retroprop.data.files``. Label names
    are mapped with ``class_names`` (the model's, when its file records them); ``classes=False``
    reads numeric targets (a regression)."""
    from retroprop.data.files import load_csv, load_npz

    file = Path(path)
    if file.suffix.lower() not in LABELLED_SUFFIXES:
        raise InputError(f"{file}: labelled data must be a .csv or .npz file, got "
                         f"{file.suffix or 'no extension'}")
    if file.suffix.lower() == ".csv":
        column: str | int = -1 if label is None else label
        if isinstance(column, str):
            with contextlib.suppress(ValueError):
                column = int(column)
        data = load_csv(file, label=column, classes=classes, class_names=class_names)
    else:
        data = load_npz(file, classes=classes, class_names=class_names)
    names = data.class_names
    if classes and class_names is None and names and not all(name == str(i) for i, name in enumerate(names)):
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise InputError(f"{file}: the labels are names ({shown}), but the model file records no class "
                         "names to match them with; use the class numbers 0, 1, ...")
    return Table(str(file), np.asarray(data.x, dtype=np.float64), np.asarray(data.y, dtype=np.float64),
                 columns=None if data.feature_names is None else list(data.feature_names), rows=data.rows)


# ---------------------------------------------------------------------------------------------
# Checks against the model
# ---------------------------------------------------------------------------------------------
def check_width(table: Table, width: int | None) -> None:
    """The samples have as many features as the model takes."""
    if width is not None and table.x.shape[1] != width:
        raise InputError(f"{table.source}: the model takes {width} features per sample, but the data has "
                         f"{table.x.shape[1]}")


def class_labels(table: Table, n_outputs: int, binary: bool) -> np.ndarray:
    """The labels as int64 class indices: finite integers in [0, n_outputs) (0 or 1 for a binary
    model), else InputError naming the first bad one (never truncated: 0.7 is refused)."""
    y = table.y
    if y is None:
        raise InputError(f"{table.source}: no labels")
    n_classes = 2 if binary else n_outputs
    for row in range(len(y)):  # the first problem, in file order
        value = float(y[row])
        if not math.isfinite(value):
            problem = f"{value} is not a finite number"
        elif value != round(value):
            problem = f"{value!r} is not an integer"
        elif not 0 <= value < n_classes:
            problem = f"{int(value)} is outside 0..{n_classes - 1}"
        else:
            continue
        outputs = f"{n_outputs} output{'s' if n_outputs != 1 else ''}"
        raise InputError(f"{table.where(row)}: the class label {problem}; labels must be the integers "
                         f"0..{n_classes - 1} for this model ({outputs})")
    return y.astype(np.int64)


def check_finite_outputs(table: Table, outputs: np.ndarray) -> None:
    """No class or score is given for a row whose outputs are NaN or Inf."""
    bad = ~np.isfinite(outputs.reshape(len(outputs), -1)).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        count = int(bad.sum())
        raise InputError(f"the model's outputs are not finite for {table.where(row)} ({count} "
                         f"row{'s' if count > 1 else ''} in all): the inputs overflow it; check their scale")


def input_width(model: Any) -> int | None:
    """How many features the model takes: its first layer's ``in_features`` or ``num_features``."""
    for module in model.modules():
        for name in ("in_features", "num_features"):
            width = getattr(module, name, None)
            if isinstance(width, int):
                return width
    return None
