"""The inputs of ``retroprop evaluate`` and ``retroprop predict``, read and checked before use.

Samples come from a ``.csv`` file (numbers; a first row that is not all numbers is a header), a
``.npy`` file (a 2-D array, samples x features) or a ``.npz`` file (arrays ``x`` and, for labelled
data, ``y``). Every problem raises ``InputError`` (a ``ValueError``) naming the file and where in it:
rows are numbered from 1 (the first sample), CSV rows also by their line in the file, columns from 1
and by name when there is a header. Inputs must be finite numbers; class labels finite integers in
the model's range; and the model's outputs finite, or no class is printed.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

SAMPLE_SUFFIXES = (".csv", ".npy", ".npz")
LABELLED_SUFFIXES = (".csv", ".npz")
_DELIMITERS = (",", ";", "\t")
MAX_BYTES = 1 << 30  # the largest data file read (as retroprop.data.files)


class InputError(ValueError):
    """A data file that cannot be used as the model's input, in one line that says where."""


@dataclass
class Table:
    """Samples read from a file: ``x`` (float64, samples x features), the labels when asked for,
    the column names of a CSV header, and how to name a sample's place in messages."""

    source: str
    x: np.ndarray
    y: np.ndarray | None = None
    columns: list[str] | None = None  # the feature columns' names (CSV header)
    lines: list[int] | None = None  # each sample's line in a CSV file
    label_column: str | None = None  # how the label column is named in messages
    unit: str = "row"  # "sample" where a CSV file's lines are not known (rows would be ambiguous)

    def where(self, row: int, column: int | None = None) -> str:
        """``"test.csv, row 3 (line 4), column 2 (age)"``; ``row`` and ``column`` 0-based."""
        text = f"{self.source}, {self.unit} {row + 1}"
        if self.lines is not None:
            text += f" (line {self.lines[row]})"
        if column is not None:
            text += f", column {column + 1}"
            if self.columns is not None:
                text += f" ({self.columns[column]})"
        return text


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------
def read_samples(path: str | Path) -> Table:
    """The samples (no labels) of a ``.csv``, ``.npy`` or ``.npz`` (array ``x``) file."""
    file = _existing(path, SAMPLE_SUFFIXES)
    suffix = file.suffix.lower()
    if suffix == ".csv":
        table = _read_csv(file)
    elif suffix == ".npy":
        table = Table(str(file), _matrix(_load_npy(file), file, "the array"))
    else:
        table = Table(str(file), _matrix(_npz_x(file), file, "x"))
    check_finite_inputs(table)
    return table


def read_labelled(path: str | Path, *, label: str | None = None, classes: bool = True,
                  class_names: Sequence[str] | None = None) -> Table:
    """Samples and class labels of a ``.csv`` (the ``label`` column, by name or index, default the
    last) or ``.npz`` (arrays ``x`` and ``y``) file, read by ``retroprop.data.files``. Label names
    are mapped with ``class_names`` (the model's, when its file records them); ``classes=False``
    reads numeric targets (a regression)."""
    from retroprop.data.files import load_csv, load_npz

    file = _existing(path, LABELLED_SUFFIXES)
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
    table = Table(str(file), np.asarray(data.x, dtype=np.float64), np.asarray(data.y, dtype=np.float64),
                  columns=None if data.feature_names is None else list(data.feature_names),
                  unit="sample" if file.suffix.lower() == ".csv" else "row")
    check_finite_inputs(table)
    return table


def _existing(path: str | Path, suffixes: Sequence[str]) -> Path:
    file = Path(path)
    if file.suffix.lower() not in suffixes:
        raise InputError(f"{file}: the data must be a {' or '.join(suffixes)} file, got "
                         f"{file.suffix or 'no extension'}")
    if not file.exists():
        raise InputError(f"{file}: no such data file")
    if not file.is_file():
        raise InputError(f"{file}: not a regular file")
    if file.stat().st_size > MAX_BYTES:
        raise InputError(f"{file}: the file has {file.stat().st_size} bytes; the limit is {MAX_BYTES}")
    return file


def _load_npy(file: Path) -> np.ndarray:
    try:
        with file.open("rb") as stream:
            return _read_npy(stream, file.stat().st_size, str(file))
    except OSError as err:
        raise InputError(f"{file}: cannot read the file: {err.strerror or err}") from None


def _read_npy(stream: IO[bytes], size: int, where: str) -> np.ndarray:
    """One ``.npy`` array from ``stream`` (``size`` bytes in all): its header's shape and dtype
    checked against the bytes present before anything is allocated; object arrays refused."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(stream)
        else:
            raise InputError(f"{where}: .npy format version {version} is not supported")
    except (ValueError, EOFError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(f"{where}: not a readable .npy array: {err}") from None
    if dtype.hasobject:
        raise InputError(f"{where}: holds Python objects; only arrays of numbers are read (nothing is "
                         "unpickled)")
    needed = math.prod(shape) * dtype.itemsize
    present = size - stream.tell()
    if needed != present:
        raise InputError(f"{where}: the header declares shape {shape} of {dtype} ({needed} bytes), but "
                         f"the file holds {present}; it is truncated or altered")
    data = np.frombuffer(stream.read(needed), dtype=dtype)
    return data.reshape(shape, order="F" if fortran else "C")


def _matrix(array: np.ndarray, file: Path, what: str) -> np.ndarray:
    """``array`` as float64 samples x features, or InputError (a 2-D array of numbers is required)."""
    if array.dtype.kind not in "biuf":
        raise InputError(f"{file}: {what} holds {array.dtype} values; expected numbers")
    if array.ndim != 2:
        raise InputError(f"{file}: expected a 2-D array (samples x features); got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InputError(f"{file}: {what} is empty (shape {array.shape}); there is nothing to predict")
    return array.astype(np.float64, copy=False)


def _npz_x(file: Path) -> np.ndarray:
    """The array ``x`` of an ``.npz`` file, its inflated size checked before it is read."""
    try:
        with zipfile.ZipFile(file) as archive:
            member = next((info for info in archive.infolist() if info.filename == "x.npy"), None)
            if member is None:
                have = ", ".join(n[:-4] for n in archive.namelist() if n.endswith(".npy")) or "none"
                raise InputError(f"{file}: a .npz input needs an array named x; it has {have}")
            if member.file_size > MAX_BYTES:
                raise InputError(f"{file}: x inflates to {member.file_size} bytes; the limit is {MAX_BYTES}")
            with archive.open(member) as stream:
                return _read_npy(stream, member.file_size, f"{file}[x]")
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(f"{file}: not a readable .npz archive: {err}") from None


def _read_csv(file: Path) -> Table:
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{file}: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise InputError(f"{file}: cannot read the file: {err.strerror or err}") from None
    try:
        rows = [(number, row) for number, row in _csv_rows(text) if any(cell.strip() for cell in row)]
    except csv.Error as err:
        raise InputError(f"{file}: not valid CSV: {err}") from None
    if not rows:
        raise InputError(f"{file}: the file is empty")
    header: list[str] | None = None
    if not all(_is_number(cell) for cell in rows[0][1]):
        header = [cell.strip() for cell in rows[0][1]]
        rows = rows[1:]
        if not rows:
            raise InputError(f"{file}: the file has a header but no data rows")
    width = len(header) if header is not None else len(rows[0][1])
    values = np.empty((len(rows), width), dtype=np.float64)
    for index, (line, row) in enumerate(rows):
        if len(row) != width:
            raise InputError(f"{file}, line {line}: {len(row)} fields, but the "
                             f"{'header has' if header is not None else 'first row has'} {width}")
        for column, cell in enumerate(row):
            try:
                values[index, column] = float(cell)
            except ValueError:
                name = f" ({header[column]})" if header is not None else ""
                raise InputError(f"{file}, line {line}, column {column + 1}{name}: {_cut(cell)!r} is not a "
                                 "number") from None
    return Table(str(file), values, columns=header, lines=[line for line, _ in rows])


def _csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each row, the delimiter chosen from the first line (, ; or tab)."""
    first = text.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=first.count) if any(d in first for d in _DELIMITERS) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    for row in reader:
        yield reader.line_num, row


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------
def check_finite_inputs(table: Table) -> None:
    bad = ~np.isfinite(table.x)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"{table.where(row, column)}: {table.x[row, column]} is not a finite number; "
                         "inputs must be finite (clean or impute the data)")


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
    column = table.label_column or "the label"
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
        raise InputError(f"{table.where(row)}, {column}: the class label {problem}; labels must be the "
                         f"integers 0..{n_classes - 1} for this model ({n_outputs} output"
                         f"{'s' if n_outputs != 1 else ''})")
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
