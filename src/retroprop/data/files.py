"""A practitioner's own data from files: CSV, ``.npz`` and ``.npy`` pairs, checked before use.

``load_csv``, ``load_npz`` and ``load_npy_pair`` return a ``Table``: ``x`` (float64, samples x
features), ``y``, ``feature_names`` and ``class_names``; ``load_samples`` reads unlabelled inputs
(a CSV, ``.npy`` or ``.npz`` file) for a model to predict on. With ``classes=True`` (the default) the
labels are classes: names (strings) become 0..k-1 in sorted order, numbers must be whole, >= 0 and
below ``MAX_CLASSES``; with ``classes=False`` they are a numeric target (regression). Every problem raises
``DataFileError`` naming the file, and the row and column where there is one, before anything large
is allocated. Files are opened and ``.npy``/``.npz`` arrays read by ``retroprop.containers`` (only
regular files, a size cap, each declared shape checked against the bytes present, an ``.npz``
member's size read from the zip directory so a compressed bomb is refused before it is inflated,
nothing ever unpickled), with the limits below; its ``FileFormatError`` becomes ``DataFileError``.
Rows and columns are counted from 1 in every message (see ``DataFileError``).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from retroprop.containers import FileFormatError, open_npz, open_regular, read_npy

__all__ = ["CSV_MAX_BYTES", "CSV_SUFFIXES", "MAX_BYTES", "MAX_CLASSES", "SAMPLE_SUFFIXES", "DataFileError",
           "Samples", "Table", "load_csv", "load_npy_pair", "load_npz", "load_samples"]

MAX_BYTES = 1 << 30  # 1 GiB: the largest .npy or .npz file, and an .npz's arrays inflated in all, by default
CSV_MAX_BYTES = 1 << 28  # 256 MiB: the largest CSV file read by default (text takes several times its size)
CSV_SUFFIXES = (".csv", ".tsv", ".txt")  # text files read as CSV (the delimiter is detected)
SAMPLE_SUFFIXES = (*CSV_SUFFIXES, ".npy", ".npz")  # the files load_samples reads
# Classes are numbered 0..k-1 and k is the largest label + 1: a class name, a count and (in a model)
# an output unit each, allocated from one label. This caps k, so a stray label (1e9, 1e300) is
# refused before anything of its size is built; more classes than this are not a classifier's job.
MAX_CLASSES = 100_000
_DELIMITERS = (",", ";", "\t")
_BOMB_BYTES, _BOMB_RATIO = 1 << 26, 100  # a member over 64 MiB compressed more than 100:1
_MEMBER = re.compile(r"member '([^']*)\.npy':? ?")  # how retroprop.containers names an .npz member
_SHOWN = 40  # characters of a cell shown in a message


class DataFileError(ValueError):
    """A data file that cannot be used; ``file``, ``row`` and ``column`` say where, when known.

    Both count from 1, as a person reads the file, in the attributes as in the message: ``row`` is
    the line of a CSV file (its header line and blank lines counted, as an editor numbers them) or
    the sample of an array (``x[i]`` is row ``i + 1``); ``column`` is the column's name in a CSV
    header, else its position (the first column is 1). ``file`` is ``path[name]`` for an array of an
    ``.npz`` file.
    """

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | int | None = None) -> None:
        where = [str(file)] if file is not None else []
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}" if isinstance(column, str) else f"column {column}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.file, self.row, self.column = file, row, column


class Table(NamedTuple):
    """Inputs, targets and their names, as read from a file; ``rows``: each sample's row as
    ``DataFileError`` counts it (a CSV file's line), None for arrays (sample i is row i + 1);
    ``source``: the file read (the ``x`` file of an ``.npy`` pair)."""

    x: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...] | None
    class_names: tuple[str, ...] | None
    rows: tuple[int, ...] | None = None
    source: str = ""  # the file (or what else the samples are), for messages

    def row(self, sample: int) -> int:
        """The row of sample ``sample`` (0-based) in the file, as messages count rows."""
        return sample + 1 if self.rows is None else self.rows[sample]

    def where(self, sample: int) -> str:
        """``"test.csv, row 4"``: where sample ``sample`` (0-based) is, for messages."""
        return f"{self.source}, row {self.row(sample)}"


class Samples(NamedTuple):
    """Unlabelled inputs, as read by ``load_samples``: ``x`` (float64, samples x features), the CSV
    header's ``feature_names`` (None without one), and ``rows`` and ``source`` as for ``Table``."""

    x: np.ndarray
    feature_names: tuple[str, ...] | None
    rows: tuple[int, ...] | None = None
    source: str = ""

    def row(self, sample: int) -> int:
        """The row of sample ``sample`` (0-based) in the file, as messages count rows."""
        return sample + 1 if self.rows is None else self.rows[sample]

    def where(self, sample: int) -> str:
        """``"test.csv, row 4"``: where sample ``sample`` (0-based) is, for messages."""
        return f"{self.source}, row {self.row(sample)}"


def _cut(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


@contextlib.contextmanager
def _file_errors(path: str | Path) -> Iterator[None]:
    """``retroprop.containers``' errors about ``path`` as ``DataFileError``: the file, or ``file[name]``
    for an ``.npz`` member, and the rest of the message."""
    name = str(path)
    try:
        yield
    except FileNotFoundError:
        raise DataFileError(f"cannot read the file: {os.strerror(errno.ENOENT)}", file=name) from None
    except FileFormatError as err:
        text, prefix = str(err), f"{Path(path)}: "
        if not text.startswith(prefix):
            raise DataFileError(text, file=name) from None
        text = text[len(prefix):]
        if member := _MEMBER.match(text):
            raise DataFileError(text[member.end():], file=f"{name}[{member.group(1)}]") from None
        raise DataFileError(text, file=name) from None


# ---------------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------------
def _class_labels(values: Sequence[str] | np.ndarray, name: str, class_names: Sequence[str] | None,
                  where: Any) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels as int64 class indices with their names. ``where(i)`` gives (row, column) of label i."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "US":
        values = values.astype(str).tolist()
    if not isinstance(values, np.ndarray):  # text: numbers if every cell is one, else class names
        numbers = _floats(values)
        if numbers is None:
            texts = [str(v).strip() for v in values]
            known = tuple(class_names) if class_names is not None else tuple(sorted(set(texts) - {""}))
            index = {c: i for i, c in enumerate(known)}
            for i, text in enumerate(texts):
                if not text or text not in index:  # an empty cell is a missing label, never a class
                    row, col = where(i)
                    what = "an empty label" if not text else f"label {_cut(text)} is not one of the classes "
                    raise DataFileError(what if not text else what + ", ".join(known), file=name, row=row,
                                        column=col)
            return np.array([index[t] for t in texts], dtype=np.int64), known
        values = numbers
    if values.dtype.kind == "b":
        values = values.astype(np.int64)
    if values.dtype.kind not in "iuf":
        raise DataFileError(f"labels of dtype {values.dtype} are not classes; expected whole numbers or "
                            "names",
                            file=name)
    too_large = values >= MAX_CLASSES  # before the cast: 1e300 would wrap to a negative int64
    bad = ~np.isfinite(values) | (values != np.round(values)) | (values < 0) | too_large
    for i in np.flatnonzero(bad)[:1]:
        row, col = where(int(i))
        problem = (f"the class label {values[i].item()!r} is not a class number (0 to {MAX_CLASSES - 1}: at "
                   f"most {MAX_CLASSES:,} classes)" if too_large[i] and np.isfinite(values[i]) else
                   f"a class label must be a whole number >= 0 (or a name), got {values[i].item()!r}")
        raise DataFileError(problem, file=name, row=row, column=col)
    labels = values.astype(np.int64)
    n_classes = int(labels.max()) + 1 if labels.size else 0
    if class_names is not None:
        if n_classes > len(class_names):
            i = int(np.argmax(labels))
            row, col = where(i)
            raise DataFileError(f"label {labels[i]} is not a class of the {len(class_names)} known",
                                file=name, row=row, column=col)
        return labels, tuple(class_names)
    return labels, tuple(str(c) for c in range(n_classes))


def _floats(cells: Sequence[str]) -> np.ndarray | None:
    """The cells (text) as float64, or None when one of them is not a number. Cell by cell: a fixed
    width text array would take the longest cell's width for every cell."""
    try:
        return np.fromiter((float(c) for c in cells), dtype=np.float64, count=len(cells))
    except ValueError:
        return None


def _is_finite(cell: str) -> bool:
    values = _floats([cell])
    return values is not None and bool(np.isfinite(values).all())


def _is_header(cells: Sequence[str]) -> bool:
    """A first row with text that is not a number is a header (an empty cell is a missing value:
    refused with its row and column, not taken for a header that drops the first sample)."""
    return any(cell.strip() and _floats([cell]) is None for cell in cells)


def _first_nonfinite(x: np.ndarray) -> tuple[int, int] | None:
    bad = np.argwhere(~np.isfinite(x))
    return None if bad.size == 0 else (int(bad[0][0]), int(bad[0][1]))


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------
def _sniff_delimiter(lines: list[str], name: str, min_columns: int) -> str:
    """The delimiter among , ; and tab that splits the first lines into the same number (>= 2) of
    fields; when none does, the one the first line has most of (the rows' widths are then checked
    one by one); with none in the first line, one column if ``min_columns`` is 1."""
    best, best_count = None, 0
    for delimiter in _DELIMITERS:
        try:
            counts = {len(next(csv.reader([line], delimiter=delimiter))) for line in lines}
        except csv.Error:  # a field over the csv module's limit: read (and refused) with the rows
            counts = {len(line.split(delimiter)) for line in lines}
        if len(counts) == 1 and (count := counts.pop()) > best_count:
            best, best_count = delimiter, count
    if best is not None and best_count >= 2:
        return best
    if present := [d for d in _DELIMITERS if d in lines[0]]:
        return max(present, key=lines[0].count)
    if min_columns == 1:
        return ","
    raise DataFileError("cannot tell the delimiter: no one of ',', ';' or tab splits the first lines "
                        "into the same number (>= 2) of columns; pass delimiter", file=name)


def _first_lines(text: str, count: int) -> list[str]:
    """The first ``count`` lines of ``text``, split from a prefix no longer than they need."""
    size = 1 << 16
    while True:
        lines = text[:size].splitlines()
        if len(lines) > count or size >= len(text):  # the last line of a prefix may be cut: not used
            return lines[:count]
        size *= 4


def _csv_rows(path: str | Path, delimiter: str | None, max_bytes: int,
              min_columns: int) -> tuple[list[list[str]], list[int]]:
    """The non-blank rows of a CSV file, all as wide as the first, and the line of each."""
    name = str(path)
    with _file_errors(path):
        handle, size = open_regular(path, max_bytes, limit_name="max_bytes")
    with handle:
        raw = handle.read(size)  # no more than the size checked, should the file grow
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataFileError(f"not UTF-8 text (byte {err.start})", file=name) from None
    first = [line for line in _first_lines(text, 50) if line.strip()][:20]
    if not first:
        raise DataFileError("the file is empty; expected a header line or rows of numbers", file=name)
    if delimiter is None:
        delimiter = _sniff_delimiter(first, name, min_columns)
    elif len(delimiter) != 1:
        raise DataFileError(f"delimiter must be one character, got {delimiter!r}", file=name)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    line_numbers: list[int] = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if rows and len(row) != len(rows[0]):
                raise DataFileError(f"has {len(row)} fields; the first row has {len(rows[0])}", file=name,
                                    row=reader.line_num)
            rows.append(row)
            line_numbers.append(reader.line_num)
    except csv.Error as err:  # a field over the csv module's limit (128 KiB), a NUL byte
        raise DataFileError(f"cannot be read as CSV: {err}", file=name, row=reader.line_num) from None
    if not rows:
        raise DataFileError("the file has no values; expected a header line or rows of numbers", file=name)
    return rows, line_numbers


def _csv_numbers(body: list[list[str]], lines: list[int], columns: Sequence[int], names: list[str] | None,
                 name: str) -> np.ndarray:
    """The cells of ``columns`` as float64 (samples x columns): finite numbers, else DataFileError
    at the first cell that is not one."""

    def column(c: int) -> str | int:
        return names[c] if names is not None else c + 1

    x = np.empty((len(body), len(columns)))
    for j, c in enumerate(columns):
        values = _floats([row[c] for row in body])
        if values is None:  # the first cell that is not a number
            r = next(r for r, row in enumerate(body) if _floats([row[c]]) is None)
            cell = body[r][c]
            what = "an empty cell" if not cell.strip() else f"{_cut(cell)} is not a number"
            raise DataFileError(what, file=name, row=lines[r], column=column(c))
        x[:, j] = values
    if (bad := _first_nonfinite(x)) is not None:
        r, j = bad
        raise DataFileError(f"{_cut(body[r][columns[j]].strip())} is not a finite number", file=name,
                            row=lines[r], column=column(columns[j]))
    return x


def load_csv(path: str | Path, *, label: str | int = -1, header: bool | None = None,
             delimiter: str | None = None, classes: bool = True, class_names: Sequence[str] | None = None,
             max_bytes: int = CSV_MAX_BYTES) -> Table:
    """Read a CSV (or TSV) file of numeric features and one label column.

    ``label`` is the label column's name (needs a header) or index (from 0; negative counts from the
    end; default the last). ``header`` None detects a header line (a first line with a non-number
    where features must be numbers); ``delimiter`` None detects ``,``, ``;`` or tab. ``class_names``
    maps label names with a known list (a validation file read with the training file's classes).
    """
    name = str(path)
    rows, line_numbers = _csv_rows(path, delimiter, max_bytes, min_columns=2)
    n_columns = len(rows[0])
    if n_columns < 2:
        raise DataFileError(f"has {n_columns} column; expected features and a label column", file=name)
    if isinstance(label, str):
        if header is False:
            raise DataFileError(f"label {label!r} names a column, but header is false", file=name)
        names = [cell.strip() for cell in rows[0]]
        if label not in names:
            raise DataFileError(f"no column named {label!r} in the header; the columns are "
                                f"{', '.join(names)}", file=name, row=line_numbers[0])
        label_index = names.index(label)
        header = True
    else:
        if isinstance(label, bool) or not -n_columns <= label < n_columns:
            raise DataFileError(f"label column {label!r} is out of range for {n_columns} columns", file=name)
        label_index = label % n_columns
    features = [c for c in range(n_columns) if c != label_index]
    if header is None:  # a header has a non-number where the features are numbers
        header = _is_header([rows[0][c] for c in features])
    names_row = [cell.strip() for cell in rows[0]] if header else None
    body, body_lines = (rows[1:], line_numbers[1:]) if header else (rows, line_numbers)
    if not body:
        raise DataFileError("has no rows of data", file=name)
    x = _csv_numbers(body, body_lines, features, names_row, name)
    label_column = names_row[label_index] if names_row is not None else label_index + 1

    def where(i: int) -> tuple[int, str | int]:
        return body_lines[i], label_column

    labels = [row[label_index] for row in body]
    if classes:
        y, known = _class_labels(labels, name, class_names, where)
    else:
        y_values = _floats(labels)
        if y_values is None or not np.isfinite(y_values).all():
            i = next(i for i, cell in enumerate(labels) if not _is_finite(cell))
            raise DataFileError(f"the target must be a finite number, got {_cut(labels[i])}", file=name,
                                row=body_lines[i], column=label_column)
        y, known = y_values, None
    feature_names = None if names_row is None else tuple(names_row[c] for c in features)
    return Table(x, y, feature_names, known, tuple(body_lines), name)


# ---------------------------------------------------------------------------------------------
# .npy and .npz
# ---------------------------------------------------------------------------------------------
def _npy_file(path: str | Path, max_bytes: int) -> np.ndarray:
    with _file_errors(path):
        return read_npy(Path(path), limit=max_bytes, limit_name="max_bytes", text=True)


def _table(x: np.ndarray, y: np.ndarray, x_name: str, y_name: str, classes: bool,
           class_names: Sequence[str] | None, source: str) -> Table:
    """Check arrays read from files: x 2-D numeric and finite, y one target per sample."""
    if x.ndim != 2 or x.dtype.kind not in "biuf":
        raise DataFileError(f"x must be a 2-D array of numbers (samples x features), got shape {x.shape} "
                            f"of {x.dtype}", file=x_name)
    x = _finite(x.astype(np.float64), x_name)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if len(y) != len(x) or (classes and y.ndim != 1) or y.ndim not in (1, 2):
        raise DataFileError(f"y has shape {y.shape}; expected ({len(x)},), one target per row of x",
                            file=y_name)
    if classes:
        y, known = _class_labels(y, y_name, class_names, lambda i: (i + 1, None))
        return Table(x, y, None, known, source=source)
    if y.dtype.kind not in "biuf":
        raise DataFileError(f"y holds {y.dtype} values; a numeric target must be numbers", file=y_name)
    y = y.astype(np.float64)
    if (bad := np.argwhere(~np.isfinite(y.reshape(len(y), -1)))).size:
        row, column = (int(i) for i in bad[0])
        raise DataFileError(f"the target must be a finite number, got {y.reshape(len(y), -1)[row, column]}",
                            file=y_name, row=row + 1, column=column + 1 if y.ndim == 2 else None)
    return Table(x, y, None, None, source=source)


def _finite(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` (2-D), or DataFileError at its first value that is not a finite number."""
    if (bad := _first_nonfinite(x)) is not None:
        raise DataFileError(f"{x[bad]} is not a finite number", file=name, row=bad[0] + 1, column=bad[1] + 1)
    return x


def load_npz(path: str | Path, x: str = "x", y: str = "y", *, classes: bool = True,
             class_names: Sequence[str] | None = None, max_bytes: int = MAX_BYTES) -> Table:
    """Read the arrays named ``x`` and ``y`` of an ``.npz`` file (``np.savez``). Every member is checked,
    and ``max_bytes`` caps the file and all its arrays inflated."""
    with _file_errors(path), open_npz(Path(path), limit=max_bytes, limit_name="max_bytes",
                                      max_ratio=_BOMB_RATIO, ratio_free_bytes=_BOMB_BYTES,
                                      text=True) as archive:
        for key in (x, y):
            if key not in archive.entries:
                have = ", ".join(sorted(archive.entries)) or "none"
                raise DataFileError(f"has no array named {key!r}; it has {have}", file=str(path))
        x_array, y_array = archive.read(x), archive.read(y)
    return _table(x_array, y_array, f"{path}[{x}]", f"{path}[{y}]", classes, class_names, str(path))


def load_npy_pair(x_path: str | Path, y_path: str | Path, *, classes: bool = True,
                  class_names: Sequence[str] | None = None, max_bytes: int = MAX_BYTES) -> Table:
    """Read inputs and targets from two ``.npy`` files (``np.save``)."""
    return _table(_npy_file(x_path, max_bytes), _npy_file(y_path, max_bytes), str(x_path), str(y_path),
                  classes, class_names, str(x_path))


# ---------------------------------------------------------------------------------------------
# Unlabelled samples
# ---------------------------------------------------------------------------------------------
def load_samples(path: str | Path, *, header: bool | None = None, delimiter: str | None = None,
                 max_bytes: int | None = None) -> Samples:
    """Read unlabelled inputs, one sample per row: a CSV file of numbers (``header`` None detects a
    header line: a first row with a cell that is not a number; ``delimiter`` None detects ``,``,
    ``;`` or tab), a ``.npy`` array, or the array ``x`` of an ``.npz`` file. The inputs must be a 2-D
    array (samples x features) of finite numbers. ``max_bytes`` caps the file (default
    ``CSV_MAX_BYTES`` for CSV, ``MAX_BYTES`` for the others, which also caps an ``.npz``'s arrays
    inflated in all)."""
    name, suffix = str(path), Path(path).suffix.lower()
    if suffix not in SAMPLE_SUFFIXES:
        raise DataFileError("expected a .csv or .npy or .npz file (a .tsv or .txt file is read as CSV), got "
                            f"{suffix or 'no extension'}", file=name)
    if suffix in CSV_SUFFIXES:
        rows, lines = _csv_rows(path, delimiter, CSV_MAX_BYTES if max_bytes is None else max_bytes,
                                min_columns=1)
        if header is None:
            header = _is_header(rows[0])
        names = [cell.strip() for cell in rows[0]] if header else None
        body, body_lines = (rows[1:], lines[1:]) if header else (rows, lines)
        if not body:
            raise DataFileError("has a header but no rows of data" if header else "has no rows of data",
                                file=name)
        x = _csv_numbers(body, body_lines, range(len(rows[0])), names, name)
        return Samples(x, None if names is None else tuple(names), tuple(body_lines), name)
    limit = MAX_BYTES if max_bytes is None else max_bytes
    if suffix == ".npy":
        where, array = name, _npy_file(path, limit)
    else:
        where = f"{name}[x]"
        with _file_errors(path), open_npz(Path(path), limit=limit, limit_name="max_bytes",
                                          max_ratio=_BOMB_RATIO, ratio_free_bytes=_BOMB_BYTES,
                                          text=True) as archive:
            if "x" not in archive.entries:
                have = ", ".join(sorted(archive.entries)) or "none"
                raise DataFileError(f"has no array named 'x' (the samples); it has {have}", file=name)
            array = archive.read("x")
    if array.dtype.kind not in "biuf":
        raise DataFileError(f"holds {array.dtype} values; expected numbers", file=where)
    if array.ndim != 2:
        raise DataFileError(f"expected a 2-D array (samples x features); got shape {array.shape}", file=where)
    if 0 in array.shape:
        raise DataFileError(f"the array is empty (shape {array.shape}); expected at least one sample and "
                            "one feature", file=where)
    return Samples(_finite(array.astype(np.float64, copy=False), where), None, source=name)
