"""``retroprop evaluate`` and ``predict`` on a practitioner's files: labels, inputs and outputs
checked, every problem one line that says where (never a truncated label or a class from NaN)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from tests.test_cli import cli, no_traceback

HEADER = "sepal_length,sepal_width,petal_length,petal_width,species"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A 4-feature, 3-class model (plain rp.save, no info) and its test inputs."""
    folder = tmp_path_factory.mktemp("inputs")
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
    x, y = rp.data.load_iris()
    rp.fit(model, x, y, loss="cross_entropy", epochs=30, verbose=0, seed=0,
           optimizer=rp.optim.Adam(model.parameters(), lr=0.05))
    path = folder / "iris.safetensors"
    rp.save(model, path)
    return folder, path, model, np.asarray(x[:20], dtype=np.float64), np.asarray(y[:20])


def write_csv(path, x, y=None, header=True, label_value=None):
    lines = [HEADER if y is not None else HEADER.rsplit(",", 1)[0]] if header else []
    for i, row in enumerate(x):
        cells = [repr(float(v)) for v in row]
        if y is not None:
            cells.append(str(y[i]) if label_value is None or i != 2 else label_value)
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_csv_with_a_header_is_read_by_evaluate_and_predict(saved, tmp_path):
    _, path, model, x, y = saved
    expected = rp.predict(model, x).argmax(axis=1)
    data = write_csv(tmp_path / "test.csv", x, y)
    result = cli("evaluate", str(path), "--data", str(data), "--json")
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    assert measured["samples"] == 20 and measured["accuracy"] == pytest.approx(float((expected == y).mean()))
    named = cli("evaluate", str(path), "--data", str(data), "--label", "species", "--json")
    assert json.loads(named.stdout)["accuracy"] == measured["accuracy"]
    inputs = write_csv(tmp_path / "x.csv", x)
    predicted = cli("predict", str(path), "--input", str(inputs))
    assert predicted.returncode == 0, predicted.stderr
    assert [int(v) for v in predicted.stdout.split()] == expected.tolist()


@pytest.mark.parametrize("value, shown", [("0.7", "0.7"), ("nan", "nan"), ("inf", "inf"), ("-1", "-1")])
def test_a_label_that_is_not_a_class_number_is_refused_with_its_row(saved, tmp_path, value, shown):
    _, path, _, x, y = saved
    data = write_csv(tmp_path / "bad.csv", x, y, label_value=value)  # the third sample, line 4
    result = cli("evaluate", str(path), "--data", str(data))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "bad.csv" in result.stderr and "row 4" in result.stderr and shown in result.stderr
    assert "accuracy" not in result.stdout and "-9223372036854775808" not in result.stderr
    no_traceback(result)


def test_a_label_beyond_the_models_classes_is_refused(saved, tmp_path):
    _, path, _, x, y = saved
    data = write_csv(tmp_path / "bad.csv", x, y, label_value="7")
    result = cli("evaluate", str(path), "--data", str(data))
    assert result.returncode == 2 and "7 is outside 0..2" in result.stderr
    assert "bad.csv, row 4: the class label" in result.stderr  # the third sample: line 4, after the header
    no_traceback(result)


@pytest.mark.parametrize("bad", [0.7, np.nan])
def test_npz_labels_are_checked_too(saved, tmp_path, bad):
    _, path, _, x, y = saved
    labels = y.astype(np.float64)
    labels[2] = bad
    np.savez(tmp_path / "bad.npz", x=x, y=labels)
    result = cli("evaluate", str(path), "--data", str(tmp_path / "bad.npz"))
    assert result.returncode == 2 and str(bad) in result.stderr and "bad.npz[y], row 3: " in result.stderr
    no_traceback(result)


def test_non_finite_inputs_are_refused_with_row_and_column(saved, tmp_path):
    _, path, _, x, y = saved
    x = x.copy()
    x[4, 2] = np.nan
    csv = write_csv(tmp_path / "x.csv", x)
    result = cli("predict", str(path), "--input", str(csv))
    assert result.returncode == 2 and "x.csv, row 6, column 'petal_length'" in result.stderr  # line 6
    no_traceback(result)
    x[4, 2] = np.inf
    np.save(tmp_path / "x.npy", x)
    result = cli("predict", str(path), "--input", str(tmp_path / "x.npy"))
    assert result.returncode == 2 and "row 5, column 3" in result.stderr and "finite" in result.stderr
    no_traceback(result)
    evaluated = cli("evaluate", str(path), "--data", str(write_csv(tmp_path / "xy.csv", x, y)))
    assert evaluated.returncode == 2 and "finite" in evaluated.stderr
    no_traceback(evaluated)


@pytest.mark.parametrize("array, shape", [(np.zeros(4), "(4,)"), (np.float64(3.0), "()"),
                                          (np.zeros((2, 2, 4)), "(2, 2, 4)")])
def test_an_array_that_is_not_samples_by_features_is_refused(saved, tmp_path, array, shape):
    _, path, *_ = saved
    np.save(tmp_path / "x.npy", array)
    result = cli("predict", str(path), "--input", str(tmp_path / "x.npy"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"expected a 2-D array (samples x features); got shape {shape}" in result.stderr
    no_traceback(result)


def test_inputs_that_overflow_the_model_give_no_class(saved, tmp_path):
    _, path, _, x, y = saved
    x = x.copy()
    x[2:] = 1e308  # finite, but the float32 model overflows on them
    np.save(tmp_path / "huge.npy", x)
    result = cli("predict", str(path), "--input", str(tmp_path / "huge.npy"))
    assert result.returncode == 2 and result.stdout == ""
    assert "the model's outputs are not finite for" in result.stderr and "row 3" in result.stderr
    no_traceback(result)  # one line: no NumPy overflow warning either
    np.savez(tmp_path / "huge.npz", x=x, y=y)
    evaluated = cli("evaluate", str(path), "--data", str(tmp_path / "huge.npz"))
    assert evaluated.returncode == 2 and "not finite" in evaluated.stderr
    no_traceback(evaluated)


def test_the_wrong_number_of_features_and_other_bad_requests(saved, tmp_path):
    _, path, _, x, y = saved
    np.save(tmp_path / "wide.npy", np.zeros((3, 5)))
    wide = cli("predict", str(path), "--input", str(tmp_path / "wide.npy"))
    assert wide.returncode == 2 and "takes 4 features per sample, but the data has 5" in wide.stderr
    no_traceback(wide)
    data = write_csv(tmp_path / "t.csv", x, y)
    for args, message in ((("--loss", "hinge"), "unknown loss 'hinge'"),
                          (("--label", "colour"), "no column named 'colour'"),
                          (("--label", "9"), "out of range")):
        result = cli("evaluate", str(path), "--data", str(data), *args)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        no_traceback(result)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("1,2,3,4\n1,2,3\n")
    result = cli("predict", str(path), "--input", str(ragged))
    assert result.returncode == 2 and "row 2: has 3 fields; the first row has 4" in result.stderr
    no_traceback(result)
    words = tmp_path / "words.csv"
    words.write_text("a,b,c,d\n1,2,x,4\n")
    result = cli("predict", str(path), "--input", str(words))
    assert result.returncode == 2 and "row 2, column 'c': 'x' is not a number" in result.stderr
    no_traceback(result)


def test_a_truncated_npy_is_refused_before_it_is_allocated(saved, tmp_path):
    _, path, *_ = saved
    np.save(tmp_path / "x.npy", np.zeros((1000, 4)))
    raw = (tmp_path / "x.npy").read_bytes()
    header_end = raw.index(b"\n") + 1
    # a header claiming 10**12 rows over the same few bytes: refused by its size, not by MemoryError
    claim = raw[:header_end].replace(b"(1000, 4)", b"(1000000000000, 4)")
    (tmp_path / "big.npy").write_bytes(claim[:8] + (len(claim) - 10).to_bytes(2, "little") + claim[10:]
                                       + raw[header_end:])
    result = cli("predict", str(path), "--input", str(tmp_path / "big.npy"))
    assert result.returncode == 2 and "truncated or altered" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize("suffix, delimiter", [(".tsv", "\t"), (".txt", ",")])
def test_tsv_and_txt_files_are_read_as_csv_as_training_reads_them(saved, tmp_path, suffix, delimiter):
    _, path, model, x, y = saved
    expected = rp.predict(model, x).argmax(axis=1)
    data = write_csv(tmp_path / f"test{suffix}", x, y)
    data.write_text(data.read_text().replace(",", delimiter))
    result = cli("evaluate", str(path), "--data", str(data), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["accuracy"] == pytest.approx(float((expected == y).mean()))
    inputs = write_csv(tmp_path / f"x{suffix}", x)
    inputs.write_text(inputs.read_text().replace(",", delimiter))
    predicted = cli("predict", str(path), "--input", str(inputs))
    assert predicted.returncode == 0, predicted.stderr
    assert [int(v) for v in predicted.stdout.split()] == expected.tolist()


def test_a_label_beyond_every_class_number_is_refused_not_wrapped(saved, tmp_path):
    _, path, _, x, y = saved
    data = write_csv(tmp_path / "bad.csv", x, y, label_value="1e300")
    result = cli("evaluate", str(path), "--data", str(data))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "bad.csv, row 4, column 'species': the class label 1e+300 is not a class number" in result.stderr
    assert "-9223372036854775808" not in result.stderr
    no_traceback(result)


def test_samples_are_the_data_readers_one_table(saved, tmp_path):
    from retroprop.cli.inputs import InputError, class_labels, read_labelled, read_samples
    from retroprop.data import files

    _, _, _, x, y = saved
    labelled = read_labelled(write_csv(tmp_path / "t.csv", x, y, label_value="2"))
    assert isinstance(labelled, files.Table) and labelled.y.dtype == np.int64
    assert labelled.where(2) == f"{tmp_path / 't.csv'}, row 4"
    assert isinstance(read_samples(write_csv(tmp_path / "x.csv", x)), files.Samples)
    np.testing.assert_array_equal(class_labels(labelled, 3, binary=False), np.where(np.arange(20) == 2, 2, y))
    for outputs, binary in ((2, False), (1, True)):
        with pytest.raises(InputError, match=r"t.csv, row 4: the class label 2 is outside 0..1; labels"):
            class_labels(labelled, outputs, binary=binary)
