"""A practitioner's own data (retroprop.data.files): CSV, .npz and .npy pairs, and their errors."""

from __future__ import annotations

import io
import os
import resource
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from retroprop.data.files import (
    MAX_CLASSES,
    DataFileError,
    _first_lines,
    load_csv,
    load_npy_pair,
    load_npz,
    load_samples,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def error_of(call, *args, **kwargs) -> DataFileError:
    with pytest.raises(DataFileError) as info:
        call(*args, **kwargs)
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)
    return info.value


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------
IRIS_LIKE = "sepal,petal,species\n5.1,1.4,setosa\n7.0,4.7,versicolor\n6.3,6.0,virginica\n4.9,1.4,setosa\n"


def test_csv_header_detected_and_string_labels(tmp_path: Path) -> None:
    table = load_csv(write(tmp_path / "a.csv", IRIS_LIKE))
    assert table.x.dtype == np.float64 and table.x.shape == (4, 2)
    np.testing.assert_array_equal(table.x[1], [7.0, 4.7])
    assert table.y.tolist() == [0, 1, 2, 0] and table.y.dtype == np.int64
    assert table.class_names == ("setosa", "versicolor", "virginica")
    assert table.feature_names == ("sepal", "petal")


def test_csv_without_header_numeric_labels(tmp_path: Path) -> None:
    table = load_csv(write(tmp_path / "a.csv", "1,2,0\n3,4,2\n5,6,1\n"))
    assert table.x.shape == (3, 2) and table.y.tolist() == [0, 2, 1]
    assert table.class_names == ("0", "1", "2") and table.feature_names is None
    # integral floats are whole numbers
    assert load_csv(write(tmp_path / "b.csv", "1,2,0.0\n3,4,1.0\n")).y.tolist() == [0, 1]


def test_csv_declared_header(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "1,2,0\n3,4,1\n")
    with_header = load_csv(path, header=True)  # the first row is taken as names
    assert with_header.feature_names == ("1", "2") and with_header.x.shape == (1, 2)
    assert load_csv(path, header=False).x.shape == (2, 2)
    # a header of numbers cannot be detected, only declared
    assert load_csv(path).x.shape == (2, 2)


def test_csv_label_by_name_and_index(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "species,sepal,petal\nsetosa,5.1,1.4\nvirginica,6.3,6.0\n")
    by_name = load_csv(path, label="species")
    by_index = load_csv(path, label=0)
    by_negative = load_csv(path, label=-3)
    for table in (by_name, by_index, by_negative):
        assert table.feature_names == ("sepal", "petal") and table.y.tolist() == [0, 1]
        np.testing.assert_array_equal(table.x, [[5.1, 1.4], [6.3, 6.0]])
    assert "no column named 'kind'" in str(error_of(load_csv, path, label="kind"))
    assert "out of range for 3 columns" in str(error_of(load_csv, path, label=3))
    assert "header is false" in str(error_of(load_csv, path, label="species", header=False))


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_delimiter_detected(tmp_path: Path, delimiter: str) -> None:
    text = IRIS_LIKE.replace(",", delimiter)
    table = load_csv(write(tmp_path / "a.csv", text))
    assert table.x.shape == (4, 2) and table.feature_names == ("sepal", "petal")
    assert load_csv(write(tmp_path / "b.csv", text), delimiter=delimiter).x.shape == (4, 2)


def test_csv_decimal_commas_are_not_taken_for_delimiters(tmp_path: Path) -> None:
    # semicolons split every line into 3 fields, commas do not split them evenly: ; is chosen, and a
    # decimal comma is then refused as a number rather than read as two columns
    path = write(tmp_path / "a.csv", "a;b;c\n1,5;2;0\n3;4,25;1\n")
    assert str(error_of(load_csv, path)) == f"{path}, row 2, column 'a': '1,5' is not a number"
    assert load_csv(write(tmp_path / "b.csv", "a;b;c\n1.5;2;0\n3;4.25;1\n")).y.tolist() == [0, 1]


def test_csv_float_labels_are_refused_for_classes(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "a,b,label\n1,2,0\n3,4,0.7\n")
    err = error_of(load_csv, path)
    assert str(err) == (f"{path}, row 3, column 'label': a class label must be a whole number >= 0 (or a "
                        "name), got 0.7")
    assert (err.row, err.column) == (3, "label")
    assert "got -1.0" in str(error_of(load_csv, write(tmp_path / "b.csv", "1,2,0\n3,4,-1\n")))
    regression = load_csv(path, classes=False)  # a numeric target takes any finite number
    assert regression.y.tolist() == [0.0, 0.7] and regression.class_names is None


@pytest.mark.parametrize("cell", ["nan", "inf", "-Infinity", "1e999"])
def test_csv_non_finite_values_name_row_and_column(tmp_path: Path, cell: str) -> None:
    path = write(tmp_path / "a.csv", f"a,b,label\n1,2,0\n\n1,{cell},1\n")
    err = error_of(load_csv, path)
    assert str(err).startswith(f"{path}, row 4, column 'b': ") and "not a finite number" in str(err)
    assert (err.file, err.row, err.column) == (str(path), 4, "b")  # rows count the header and blank lines
    nan_label = error_of(load_csv, write(tmp_path / "b.csv", "1,2,0\n3,4,nan\n"))
    assert "row 2, column 3" in str(nan_label) and nan_label.column == 3  # counted from 1, as rows are
    assert "row 2" in str(error_of(load_csv, write(tmp_path / "c.csv", "1,2,0\n3,4,nan\n"), classes=False))


def test_csv_bad_cells_and_shapes(tmp_path: Path) -> None:
    ragged = error_of(load_csv, write(tmp_path / "a.csv", "a,b,c\n1,2,0\n1,2\n"), delimiter=",")
    assert "row 3" in str(ragged) and "has 2 fields; the first row has 3" in str(ragged)
    empty_cell = error_of(load_csv, write(tmp_path / "b.csv", "a,b,c\n1,,0\n"))
    assert "row 2, column 'b': an empty cell" in str(empty_cell)
    text = error_of(load_csv, write(tmp_path / "c.csv", "a,b,c\n1,2,0\n1,x,1\n"))
    assert "row 3, column 'b': 'x' is not a number" in str(text)
    assert "empty" in str(error_of(load_csv, write(tmp_path / "d.csv", "\n\n")))
    assert "no rows of data" in str(error_of(load_csv, write(tmp_path / "e.csv", "a,b,c\n")))
    unknown = error_of(load_csv, write(tmp_path / "f.csv", "a,b,c\n1,2,cat\n"), class_names=("dog", "bird"))
    assert "label 'cat' is not one of the classes dog, bird" in str(unknown)
    assert "not UTF-8" in str(error_of(load_csv, _bytes(tmp_path / "g.csv", b"a,b\n\xff,1\n")))


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_csv_files_that_cannot_be_read(tmp_path: Path) -> None:
    assert "No such file" in str(error_of(load_csv, tmp_path / "missing.csv"))
    assert "not a regular file" in str(error_of(load_csv, tmp_path))
    path = write(tmp_path / "a.csv", IRIS_LIKE)
    assert "above the limit of 10 (max_bytes)" in str(error_of(load_csv, path, max_bytes=10))
    if os.path.exists("/dev/zero"):
        link = tmp_path / "zero.csv"
        link.symlink_to("/dev/zero")
        assert "not a regular file" in str(error_of(load_csv, link))


# ---------------------------------------------------------------------------------------------
# .npz and .npy
# ---------------------------------------------------------------------------------------------
def test_npz_named_arrays(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=np.arange(6, dtype=np.float32).reshape(3, 2), y=np.array([0, 1, 1]),
             inputs=np.ones((3, 2)), labels=np.array(["b", "a", "b"]))
    table = load_npz(path)
    assert table.x.dtype == np.float64 and table.y.tolist() == [0, 1, 1] and table.class_names == ("0", "1")
    named = load_npz(path, x="inputs", y="labels")
    assert named.y.tolist() == [1, 0, 1] and named.class_names == ("a", "b")
    err = error_of(load_npz, path, x="features")
    assert str(err) == f"{path}: has no array named 'features'; it has inputs, labels, x, y"


def test_npy_pair_and_checks(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.ones((4, 3)))
    np.save(tmp_path / "y.npy", np.array([[0], [1], [0], [1]]))
    table = load_npy_pair(tmp_path / "x.npy", tmp_path / "y.npy")
    assert table.x.shape == (4, 3) and table.y.tolist() == [0, 1, 0, 1]
    np.save(tmp_path / "x1.npy", np.ones(4))
    assert "x must be a 2-D array" in str(error_of(load_npy_pair, tmp_path / "x1.npy", tmp_path / "y.npy"))
    np.save(tmp_path / "y3.npy", np.array([0, 1, 0]))
    assert "one target per row of x" in str(error_of(load_npy_pair, tmp_path / "x.npy", tmp_path / "y3.npy"))
    np.save(tmp_path / "yf.npy", np.array([0, 1, 0.5, 1]))
    assert "whole number" in str(error_of(load_npy_pair, tmp_path / "x.npy", tmp_path / "yf.npy"))
    bad = np.ones((4, 3))
    bad[2, 1] = np.inf
    np.save(tmp_path / "xinf.npy", bad)
    err = error_of(load_npy_pair, tmp_path / "xinf.npy", tmp_path / "y.npy")
    assert str(err) == f"{tmp_path / 'xinf.npy'}, row 3, column 2: inf is not a finite number"
    assert (err.row, err.column) == (3, 2)  # x[2, 1], counted from 1
    np.save(tmp_path / "obj.npy", np.array([{}, 1], dtype=object), allow_pickle=True)
    err = error_of(load_npy_pair, tmp_path / "obj.npy", tmp_path / "y.npy")
    assert "unsupported .npy dtype '|O'" in str(err) and "never objects" in str(err)


def _npy_bytes(header: str, data: bytes = b"") -> bytes:
    text = header.encode("latin1")
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data


@pytest.mark.parametrize("shape", ["(1000000000000,)", "(-1,)", "(2.5,)", "(4294967296, 4294967296)", "(2,)"])
def test_npy_declared_shapes_are_checked_before_allocation(tmp_path: Path, shape: str) -> None:
    path = tmp_path / "x.npy"
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}"
    path.write_bytes(_npy_bytes(header, b"\0" * 8))  # 8 bytes: (2,) does not match them either
    err = error_of(load_npy_pair, path, path)
    assert str(err).startswith(str(path))


def test_npz_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    """A small zip whose member inflates to 80 MiB: refused from the zip directory, fast, small."""
    path = tmp_path / "bomb.npz"
    header = _npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1280, 8192), }")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as member:
            member.write(header)
            zeros = bytes(1 << 20)
            for _ in range(80):
                member.write(zeros)
        archive.writestr("y.npy", io.BytesIO().getvalue())
    assert path.stat().st_size < 1 << 20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    err = error_of(load_npz, path)
    assert time.perf_counter() - start < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024  # KiB: under 64 MiB more
    assert "zip bomb" in str(err) and "bomb.npz[x]" in str(err)
    assert "above the limit of 1,000 (max_bytes)" in str(error_of(load_npz, path, max_bytes=1000))


def test_text_labels_in_npy_files_are_class_names(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.ones((3, 2)))
    np.save(tmp_path / "y.npy", np.array(["cat", "dog", "cat"]).astype(">U3"))  # big-endian text too
    table = load_npy_pair(tmp_path / "x.npy", tmp_path / "y.npy")
    assert table.y.tolist() == [0, 1, 0] and table.class_names == ("cat", "dog")
    err = error_of(load_npy_pair, tmp_path / "y.npy", tmp_path / "y.npy")  # text is no input
    assert "x must be a 2-D array of numbers" in str(err)


def test_npz_limits_are_the_loaders_own(tmp_path: Path) -> None:
    """max_bytes caps the arrays inflated in all; members compressed far better than model files allow
    (4 MiB of zeros, about 1000:1) are data, below the loader's 64 MiB bomb threshold."""
    path = tmp_path / "zeros.npz"
    np.savez_compressed(path, x=np.zeros((2**16, 8)), y=np.zeros(2**16, dtype=np.int64))
    assert path.stat().st_size < 2**16
    table = load_npz(path)
    assert table.x.shape == (2**16, 8) and table.class_names == ("0",)
    err = error_of(load_npz, path, max_bytes=2**16)
    assert str(err) == f"{path}: the members hold more than 65,536 bytes uncompressed (max_bytes)"


def test_npz_member_errors_name_the_member(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", _npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
                                             bytes(24)))  # 32 bytes declared
        archive.writestr("y.npy", _npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
                                             bytes(16)))
    err = error_of(load_npz, path)
    assert err.file == f"{path}[x]" and str(err).startswith(f"{path}[x]: declares shape [2, 2] of float64")
    not_zip = write(tmp_path / "e.npz", "x,y\n1,2\n")
    err = error_of(load_npz, not_zip)
    assert err.file == str(not_zip) and "not a readable .npz archive" in str(err)
    assert "cannot read the file: No such file" in str(error_of(load_npz, tmp_path / "missing.npz"))
    assert "is a folder, not a regular file" in str(error_of(load_npy_pair, tmp_path, tmp_path))


def test_one_long_cell_does_not_widen_every_cell(tmp_path: Path) -> None:
    """200,000 short rows and one label of 100,000 characters: read cell by cell (a text array as wide
    as the longest cell would need 200,000 x 3 x 400 kB)."""
    path = tmp_path / "long.csv"
    path.write_text("1,2,0\n" * 200_000 + "1,2," + "a" * 100_000 + "\n", encoding="utf-8")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    table = load_csv(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB
    assert table.x.shape == (200_001, 2) and table.class_names is not None and len(table.class_names) == 2
    assert "is not a number" in str(error_of(load_csv, path, label=0))
    longer = tmp_path / "longer.csv"
    longer.write_text("1,2,0\n1,2," + "a" * 1_000_000 + "\n", encoding="utf-8")
    assert "row 2: cannot be read as CSV: field larger than field limit" in str(error_of(load_csv, longer))


# ---------------------------------------------------------------------------------------------
# Where: rows and columns counted from 1 everywhere
# ---------------------------------------------------------------------------------------------
def test_npz_label_errors_name_the_row(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, x=np.ones((4, 2)), y=np.array([0, 1, 0.5, 1]))
    err = error_of(load_npz, path)
    assert str(err).startswith(f"{path}[y], row 3: a class label must be a whole number")
    assert (err.file, err.row, err.column) == (f"{path}[y]", 3, None)
    np.savez(path, x=np.ones((3, 2)), y=np.array(["a", "b", "c"]))
    err = error_of(load_npz, path, class_names=("a", "b"))
    assert err.row == 3 and "label 'c' is not one of the classes a, b" in str(err)
    np.savez(path, x=np.ones((3, 2)), y=np.array([[0.5, 1.0], [1.0, np.nan], [0.0, 0.0]]))
    err = error_of(load_npz, path, classes=False)  # a numeric target with two columns
    assert str(err) == f"{path}[y], row 2, column 2: the target must be a finite number, got nan"


def test_csv_columns_without_a_header_are_counted_from_1(tmp_path: Path) -> None:
    err = error_of(load_csv, write(tmp_path / "a.csv", "1,2,0\n3,x,1\n"))
    assert str(err) == f"{tmp_path / 'a.csv'}, row 2, column 2: 'x' is not a number" and err.column == 2
    err = error_of(load_csv, write(tmp_path / "b.csv", "1,2,0\n3,4,0.5\n"), label=-1)
    assert (err.row, err.column) == (2, 3)


def test_ragged_rows_are_named_even_when_no_delimiter_splits_evenly(tmp_path: Path) -> None:
    err = error_of(load_csv, write(tmp_path / "a.csv", "a,b,c\n1,2,0\n1,2\n"))  # no delimiter given
    assert str(err) == f"{tmp_path / 'a.csv'}, row 3: has 2 fields; the first row has 3"
    assert "cannot tell the delimiter" in str(error_of(load_csv, write(tmp_path / "b.csv", "1\n2\n")))


# ---------------------------------------------------------------------------------------------
# Unlabelled samples
# ---------------------------------------------------------------------------------------------
def test_samples_from_csv_with_and_without_header(tmp_path: Path) -> None:
    named = load_samples(write(tmp_path / "a.csv", "age;height\n\n31;1.8\n42;1.6\n"))
    assert named.feature_names == ("age", "height") and named.rows == (3, 4)
    np.testing.assert_array_equal(named.x, [[31, 1.8], [42, 1.6]])
    assert named.x.dtype == np.float64 and named.row(1) == 4
    plain = load_samples(write(tmp_path / "b.csv", "1,2\n3,4\n"))
    assert plain.feature_names is None and plain.x.shape == (2, 2) and plain.rows == (1, 2)
    assert load_samples(tmp_path / "b.csv", header=True).x.tolist() == [[3.0, 4.0]]
    one = load_samples(write(tmp_path / "c.csv", "0.5\n1.5\n"))  # one feature: no delimiter at all
    assert one.x.tolist() == [[0.5], [1.5]]


def test_samples_from_arrays(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.arange(6, dtype=np.int32).reshape(3, 2))
    samples = load_samples(tmp_path / "x.npy")
    assert samples.x.dtype == np.float64 and samples.x.tolist() == [[0, 1], [2, 3], [4, 5]]
    assert samples.feature_names is None and samples.row(2) == 3
    np.savez(tmp_path / "d.npz", x=np.ones((2, 3), np.float32), y=np.array(["a", "b"]))
    assert load_samples(tmp_path / "d.npz").x.shape == (2, 3)
    np.savez(tmp_path / "e.npz", inputs=np.ones((2, 3)))
    assert str(error_of(load_samples, tmp_path / "e.npz")) == (
        f"{tmp_path / 'e.npz'}: has no array named 'x' (the samples); it has inputs")


@pytest.mark.parametrize("array, shape", [(np.zeros(4), "(4,)"), (np.float64(3.0), "()"),
                                          (np.zeros((2, 2, 4)), "(2, 2, 4)")])
def test_samples_must_be_samples_by_features(tmp_path: Path, array, shape: str) -> None:
    np.save(tmp_path / "x.npy", array)
    err = error_of(load_samples, tmp_path / "x.npy")
    assert str(err) == f"{tmp_path / 'x.npy'}: expected a 2-D array (samples x features); got shape {shape}"
    np.savez(tmp_path / "x.npz", x=array)
    in_npz = error_of(load_samples, tmp_path / "x.npz")
    assert str(in_npz).startswith(f"{tmp_path / 'x.npz'}[x]: expected a 2-D")


def test_samples_that_are_not_finite_numbers_are_named_by_row_and_column(tmp_path: Path) -> None:
    x = np.ones((4, 3))
    x[2, 1] = -np.inf
    np.save(tmp_path / "x.npy", x)
    err = error_of(load_samples, tmp_path / "x.npy")
    assert str(err) == f"{tmp_path / 'x.npy'}, row 3, column 2: -inf is not a finite number"
    np.savez(tmp_path / "x.npz", x=x)
    in_npz = error_of(load_samples, tmp_path / "x.npz")
    assert (in_npz.file, in_npz.row, in_npz.column) == (f"{tmp_path / 'x.npz'}[x]", 3, 2)
    csv_err = error_of(load_samples, write(tmp_path / "a.csv", "a,b\n1,2\n3,nan\n"))
    assert str(csv_err) == f"{tmp_path / 'a.csv'}, row 3, column 'b': 'nan' is not a finite number"
    headerless = error_of(load_samples, write(tmp_path / "b.csv", "1,2\n3,\n"))
    assert str(headerless) == f"{tmp_path / 'b.csv'}, row 2, column 2: an empty cell"
    first_missing = error_of(load_samples, write(tmp_path / "c.csv", "1,\n3,4\n"))  # not a header
    assert str(first_missing) == f"{tmp_path / 'c.csv'}, row 1, column 2: an empty cell"
    assert "row 1, column 2: an empty label" in str(error_of(load_csv, tmp_path / "c.csv"))  # not a class ''
    assert "row 3, column 'y': an empty label" in str(error_of(load_csv, write(tmp_path / "d.csv",
                                                                                 "a,y\n1,cat\n2,\n")))
    np.save(tmp_path / "t.npy", np.array([["a", "b"]]))
    assert "holds <U1 values; expected numbers" in str(error_of(load_samples, tmp_path / "t.npy"))
    np.save(tmp_path / "e.npy", np.zeros((0, 3)))
    assert "the array is empty (shape (0, 3))" in str(error_of(load_samples, tmp_path / "e.npy"))


def test_samples_files_that_cannot_be_read(tmp_path: Path) -> None:
    assert "expected a .csv or .npy or .npz file (a .tsv or .txt file is read as CSV), got .dat" in str(
        error_of(load_samples, tmp_path / "x.dat"))
    assert "No such file" in str(error_of(load_samples, tmp_path / "missing.csv"))
    header_only = error_of(load_samples, write(tmp_path / "h.csv", "a,b\n"))
    assert "has a header but no rows of data" in str(header_only)
    assert "row 3: has 1 fields; the first row has 2" in str(
        error_of(load_samples, write(tmp_path / "r.csv", "1,2\n3,4\n5\n")))
    np.save(tmp_path / "x.npy", np.zeros((100, 4)))
    too_big = error_of(load_samples, tmp_path / "x.npy", max_bytes=100)
    assert "above the limit of 100 (max_bytes)" in str(too_big)
    np.save(tmp_path / "obj.npy", np.array([[{}]], dtype=object), allow_pickle=True)
    assert "never objects" in str(error_of(load_samples, tmp_path / "obj.npy"))
    raw = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(raw[:-8])
    assert "truncated or altered" in str(error_of(load_samples, tmp_path / "cut.npy"))



# ---------------------------------------------------------------------------------------------
# Label range and the first lines
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("label, shown", [("1e300", "1e+300"), ("1000000", "1000000.0"),
                                          ("100000", "100000.0")])
def test_a_label_beyond_the_class_cap_is_refused_before_anything_is_built(tmp_path: Path, label: str,
                                                                          shown: str) -> None:
    # 1e300 passed as "whole and >= 0" and wrapped to -2**63 in the int64 cast; 1000000 built a
    # million class names (and a million-long bincount when a spec split it) from a 3-line file
    path = write(tmp_path / "a.csv", f"a,b,label\n1,2,0\n3,4,{label}\n5,6,1\n")
    err = error_of(load_csv, path)
    assert str(err) == (f"{path}, row 3, column 'label': the class label {shown} is not a class number "
                        f"(0 to {MAX_CLASSES - 1}: at most {MAX_CLASSES:,} classes)")
    assert (err.row, err.column) == (3, "label")


def test_the_largest_class_number_is_read(tmp_path: Path) -> None:
    table = load_csv(write(tmp_path / "a.csv", f"1,0\n2,{MAX_CLASSES - 1}\n"))
    assert table.y.tolist() == [0, MAX_CLASSES - 1] and len(table.class_names) == MAX_CLASSES


@pytest.mark.parametrize("labels", [np.array([0, 2**62, 1], dtype=np.int64),
                                    np.array([0, 2**63 + 5, 1], dtype=np.uint64),
                                    np.array([0.0, 1e300, 1.0])])
def test_array_labels_beyond_the_class_cap_are_refused(tmp_path: Path, labels: np.ndarray) -> None:
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    np.save(tmp_path / "y.npy", labels)
    err = error_of(load_npy_pair, tmp_path / "x.npy", tmp_path / "y.npy")
    assert f"{tmp_path / 'y.npy'}, row 2: the class label" in str(err)
    assert f"is not a class number (0 to {MAX_CLASSES - 1}" in str(err) and err.row == 2


def test_the_delimiter_is_sniffed_from_the_first_lines_only() -> None:
    text = "a;b\n" * 100_000
    assert _first_lines(text, 50) == ["a;b"] * 50
    wide = ";".join(["1.5"] * 30_000)  # one line longer than the first prefix read
    assert _first_lines(f"{wide}\r\n{wide}\n1;2", 50) == [wide, wide, "1;2"]
    assert _first_lines("x\r\ny\n", 50) == ["x", "y"] and _first_lines("", 50) == []
    cut = "x" * 65_530 + "\nabcdefghij\n"  # the second line is cut where the first 64 KiB end
    assert _first_lines(cut, 2) == ["x" * 65_530, "abcdefghij"]
    split_pair = "a\n" + "1;2\r\n" * 13_107  # a \r\n pair split there
    assert _first_lines(split_pair, 13_108) == ["a"] + ["1;2"] * 13_107


def test_a_csv_with_a_first_line_longer_than_the_prefix_reads(tmp_path: Path) -> None:
    n = 30_000
    header = ",".join(f"feature_{i}" for i in range(n)) + ",label"
    row = ",".join(["1.5"] * n)
    table = load_csv(write(tmp_path / "wide.csv", f"{header}\n{row},0\n{row},1\n"))
    assert table.x.shape == (2, n) and table.y.tolist() == [0, 1]
    assert table.feature_names[-1] == "feature_29999"


@pytest.mark.parametrize("suffix, delimiter", [(".tsv", "\t"), (".txt", ",")])
def test_tsv_and_txt_files_are_read_as_csv(tmp_path: Path, suffix: str, delimiter: str) -> None:
    path = write(tmp_path / f"s{suffix}", f"a{delimiter}b\n1{delimiter}2\n3{delimiter}4\n")
    samples = load_samples(path)
    assert samples.x.tolist() == [[1, 2], [3, 4]] and samples.feature_names == ("a", "b")
    assert samples.where(1) == f"{path}, row 3"
    assert load_csv(path).where(0) == f"{path}, row 2"
