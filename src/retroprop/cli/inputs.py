"""The inputs of ``retroprop evaluate`` and ``retroprop predict``, read and checked before use.

Files are read by ``retroprop.data.files``, and samples are its ``Table`` (labelled) or ``Samples``:
from a CSV file (``.csv``, ``.tsv`` or ``.txt``; numbers; a first row that is not all numbers is a
header), an ``.npy`` file (a 2-D array, samples x features) or an ``.npz`` file (arrays ``x`` and,
for labelled data, ``y``). Inputs must be finite numbers and class labels whole numbers >= 0; a bad
file raises its ``DataFileError``. What only the model can tell raises ``InputError`` (a
``ValueError``): class labels outside the model's range, the wrong number of features, outputs that
are not finite (no class is printed for them). Every message says where, counted as
``DataFileError`` counts: rows and columns from 1, a CSV file's rows by their line in the file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retroprop.data import files

LABELLED_SUFFIXES = (*files.CSV_SUFFIXES, ".npz")


class InputError(ValueError):
    """A data file that cannot be used as the model's input, in one line that says where."""


def read_samples(path: str | Path) -> files.Samples:
    """The samples (no labels) of a CSV (``.csv``, ``.tsv``, ``.txt``), ``.npy`` or ``.npz`` (array
    ``x``) file."""
    return files.load_samples(path)


def read_labelled(path: str | Path, *, label: str | None = None, classes: bool = True,
                  class_names: Sequence[str] | None = None) -> files.Table:
    """Samples and labels of a CSV file (``.csv``, ``.tsv``, ``.txt``: the ``label`` column, by name
    or index, default the last) or ``.npz`` file (arrays ``x`` and ``y``), read and checked by
    ``retroprop.data.files`` (class labels: whole numbers >= 0, or names mapped with ``class_names``,
    the model's when its file records them); ``classes=False`` reads numeric targets (a regression)."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in LABELLED_SUFFIXES:
        raise InputError(f"{file}: labelled data must be a .csv or .npz file (a .tsv or .txt file is read as "
                         f"CSV), got {suffix or 'no extension'}")
    if suffix in files.CSV_SUFFIXES:
        column: str | int = -1 if label is None else label
        if isinstance(column, str):
            with contextlib.suppress(ValueError):
                column = int(column)
        data = files.load_csv(file, label=column, classes=classes, class_names=class_names)
    else:
        data = files.load_npz(file, classes=classes, class_names=class_names)
    names = data.class_names
    if classes and class_names is None and names and not all(name == str(i) for i, name in enumerate(names)):
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise InputError(f"{file}: the labels are names ({shown}), but the model file records no class "
                         "names to match them with; use the class numbers 0, 1, ...")
    return data


# ---------------------------------------------------------------------------------------------
# Checks against the model
# ---------------------------------------------------------------------------------------------
def check_width(table: files.Table | files.Samples, width: int | None) -> None:
    """The samples have as many features as the model takes."""
    if width is not None and table.x.shape[1] != width:
        raise InputError(f"{table.source}: the model takes {width} features per sample, but the data has "
                         f"{table.x.shape[1]}")


def class_labels(table: files.Table, n_outputs: int, binary: bool) -> np.ndarray:
    """The labels as int64 class indices in [0, n_outputs) (0 or 1 for a binary model), else
    InputError naming the first outside. The labels are whole numbers >= 0 already: checked by
    ``retroprop.data.files`` as the file was read, or class numbers of the model's own split."""
    y = table.y
    if y is None:
        raise InputError(f"{table.source}: no labels")
    n_classes = 2 if binary else n_outputs
    outside = np.flatnonzero(~((y >= 0) & (y < n_classes)))  # before the cast: nothing wraps
    if outside.size:
        row = int(outside[0])
        value = y[row].item()
        outputs = f"{n_outputs} output{'s' if n_outputs != 1 else ''}"
        raise InputError(f"{table.where(row)}: the class label {value:g} is outside 0..{n_classes - 1}; "
                         f"labels must be the integers 0..{n_classes - 1} for this model ({outputs})")
    return y.astype(np.int64)


def check_finite_outputs(table: files.Table | files.Samples, outputs: np.ndarray) -> None:
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
