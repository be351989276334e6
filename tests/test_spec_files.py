"""Specs on a practitioner's own data (CSV, .npz, .npy), YAML merge keys, and the bounds on what a spec
file may make retroprop do (aliases, nesting, sizes)."""

from __future__ import annotations

import copy
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop.data.prepare import split_problem
from retroprop.spec import MAX_PARAMETERS, MAX_UNITS, SPEC_EXAMPLES, SpecError, load_spec, parse_spec

yaml = pytest.importorskip("yaml")


def moons_csv(path: Path, n: int = 200, seed: int = 0, header: bool = True, delimiter: str = ",") -> Path:
    x, y = rp.data.moons(n_samples=n, noise=0.1, seed=seed)
    names = np.array(["round", "crescent"])[y]
    lines = [delimiter.join(["width", "kind", "height"])] if header else []
    lines += [delimiter.join([f"{a:.6f}", k, f"{b * 100 + 50:.6f}"])
              for (a, b), k in zip(x, names, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def spec_text(data: str, loss: str = "cross_entropy", epochs: int = 2) -> str:
    return (f"data: {data}\nmodel:\n  layers:\n    - {{type: linear, units: 16}}\n    - relu\n    - linear\n"
            f"loss: {loss}\noptimizer: {{name: adam, lr: 0.01}}\nepochs: {epochs}\ndoctor: false\n")


def write_spec(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def spec_error(path: Path) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_spec(path).build_data()
    assert "\n" not in str(info.value)
    return info.value


# ---------------------------------------------------------------------------------------------
# Data from files
# ---------------------------------------------------------------------------------------------
def test_a_csv_spec_trains_end_to_end(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    moons_csv(folder / "moons.csv")
    text = spec_text("{file: moons.csv, label: kind, test_size: 0.25, seed: 3}", epochs=30)
    path = write_spec(folder / "exp.yaml", text)
    spec = load_spec(path)
    assert spec.data.file == str((folder / "moons.csv").resolve())  # relative to the spec's folder
    assert spec.data.name is None and spec.data.num_classes is None
    data = spec.build_data()
    assert data.x_train.shape == (150, 2) and data.x_val.shape == (50, 2)
    assert data.class_names == ("crescent", "round") and data.feature_names == ("width", "height")
    assert data.name == "moons" and np.bincount(data.y_val).tolist() == [25, 25]  # stratified
    history = spec.train(data=data)
    assert history.history["val_accuracy"][-1] > 0.8
    # everything needed to rebuild the same split is in to_dict, and it reads back
    recorded = spec.to_dict()["data"]
    assert recorded == {"test_size": 0.25, "seed": 3, "standardize": True, "file": spec.data.file,
                        "label": "kind"}
    again = parse_spec(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    np.testing.assert_array_equal(again.build_data().x_val, data.x_val)


def test_csv_options_in_a_spec(tmp_path: Path) -> None:
    moons_csv(tmp_path / "m.tsv", header=False, delimiter="\t")
    spec = load_spec(write_spec(tmp_path / "s.yaml",
                                spec_text('{file: m.tsv, label: 1, header: false, delimiter: "\\t"}')))
    data = spec.build_data()
    assert data.x_train.shape[1] == 2 and data.feature_names is None
    assert data.class_names == ("crescent", "round")
    assert spec.data.delimiter == "\t" and spec.data.header is False and spec.data.label == 1


def test_standardization_is_fitted_on_the_training_part_only(tmp_path: Path) -> None:
    moons_csv(tmp_path / "train.csv", n=200, seed=0)
    moons_csv(tmp_path / "val.csv", n=60, seed=1)
    spec = load_spec(write_spec(tmp_path / "s.yaml",
                                spec_text("{file: train.csv, label: kind, validation_file: val.csv}")))
    data = spec.build_data()
    assert data.x_train.shape == (200, 2) and data.x_val.shape == (60, 2)  # the whole file each: no split
    raw = rp.data.files.load_csv(tmp_path / "train.csv", label="kind")
    raw_val = rp.data.files.load_csv(tmp_path / "val.csv", label="kind")
    mean, std = raw.x.mean(axis=0), raw.x.std(axis=0)
    np.testing.assert_allclose(data.x_train, (raw.x - mean) / std, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(data.x_val, (raw_val.x - mean) / std, rtol=1e-5, atol=1e-5)
    assert abs(data.x_val.mean()) > 1e-3  # the validation part keeps its own offset
    assert data.y_val.tolist() == raw_val.y.tolist()
    assert spec.to_dict()["data"]["validation_file"] == str((tmp_path / "val.csv").resolve())
    assert "test_size" not in spec.to_dict()["data"]  # not used with a validation file
    assert parse_spec(spec.to_dict()) == spec  # what a model file records reads back


def test_npz_and_npy_pair_specs(tmp_path: Path) -> None:
    x, y = rp.data.moons(n_samples=120, noise=0.1, seed=0)
    np.savez(tmp_path / "d.npz", inputs=x, labels=y)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "xv.npy", x[:30])
    np.save(tmp_path / "yv.npy", y[:30])
    npz = load_spec(write_spec(tmp_path / "a.yaml", spec_text("{file: d.npz, x: inputs, y: labels}")))
    pair = load_spec(write_spec(tmp_path / "b.yaml", spec_text("{x_file: x.npy, y_file: y.npy}")))
    npz, pair = npz.build_data(), pair.build_data()
    np.testing.assert_array_equal(npz.x_train, pair.x_train)  # the same split of the same arrays
    assert npz.x_train.shape == (90, 2) and npz.class_names == ("0", "1")
    held = load_spec(write_spec(tmp_path / "c.yaml", spec_text(
        "{x_file: x.npy, y_file: y.npy, validation_x_file: xv.npy, validation_y_file: yv.npy}"))).build_data()
    assert held.x_train.shape == (120, 2) and held.x_val.shape == (30, 2)


def test_the_loss_decides_the_task(tmp_path: Path) -> None:
    moons_csv(tmp_path / "m.csv")
    binary = load_spec(write_spec(tmp_path / "b.yaml",
                                  spec_text("{file: m.csv, label: kind}", "bce_with_logits")))
    data = binary.build_data()
    assert data.y_train.shape == (150, 1) and set(np.unique(data.y_train)) == {0.0, 1.0}
    assert binary.build_model(data.n_features, data.n_classes)[-1].out_features == 1
    # mse on a file: a numeric target (regression), one output per target column
    x, _ = rp.data.moons(n_samples=200, noise=0.1, seed=0)
    (tmp_path / "r.csv").write_text("a,b,target\n" + "".join(f"{a},{b},{3 * a - b}\n" for a, b in x))
    regression = load_spec(write_spec(tmp_path / "r.yaml", spec_text("{file: r.csv, label: target}", "mse")))
    target = regression.build_data()
    assert target.y_train.shape == (150, 1) and target.y_train.dtype == np.float32
    assert target.class_names == ()
    assert regression.train(data=target).history["val_loss"][-1] < 1e4
    three = tmp_path / "three.csv"
    three.write_text("a,b,label\n" + "".join(f"{i},{i % 5},{i % 3}\n" for i in range(30)), encoding="utf-8")
    err = spec_error(write_spec(tmp_path / "t.yaml", spec_text("{file: three.csv}", "bce_with_logits")))
    assert err.path == "loss"
    assert "the loss bce_with_logits needs labels 0 and 1 (or two names), but the data has 3 classes" \
        in str(err)
    shifted = tmp_path / "shifted.csv"
    shifted.write_text("a,label\n" + "".join(f"{i},{1 + i % 2}\n" for i in range(20)), encoding="utf-8")
    err = spec_error(write_spec(tmp_path / "s.yaml", spec_text("{file: shifted.csv}", "bce_with_logits")))
    assert err.path == "loss" and "has 3 classes: 0, 1, 2" in str(err)  # labels 1 and 2 are not 0/1


def test_bad_data_files_are_spec_errors_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,0\n3,4,0.7\n", encoding="utf-8")
    err = spec_error(write_spec(tmp_path / "a.yaml", spec_text("{file: bad.csv}")))
    assert err.path == "data.file"
    assert str(err) == (f"data.file: {bad.resolve()}, row 3, column 'label': a class label must be a whole "
                        "number >= 0 (or a name), got 0.7")
    err = spec_error(write_spec(tmp_path / "b.yaml", spec_text("{file: missing.csv}")))
    assert err.path == "data.file" and "no such file" in str(err).lower()
    moons_csv(tmp_path / "m.csv")
    other = tmp_path / "v.csv"
    other.write_text("width,kind,height\n1,triangle,2\n", encoding="utf-8")
    err = spec_error(write_spec(tmp_path / "c.yaml",
                                spec_text("{file: m.csv, label: kind, validation_file: v.csv}")))
    assert err.path == "data.validation_file"
    assert "label 'triangle' is not one of the classes crescent, round" in str(err)
    few = tmp_path / "few.csv"
    few.write_text("a,label\n1,x\n2,y\n3,y\n", encoding="utf-8")
    err = spec_error(write_spec(tmp_path / "d.yaml", spec_text("{file: few.csv}")))
    assert err.path == "data.test_size" and "or give a validation file" in str(err)


@pytest.mark.parametrize(("data", "path", "message"), [
    ({"file": "d.csv", "x": "a"}, "data.x",
     "data.x: unknown field for a CSV file; expected one of test_size, seed, standardize, file, label, "
     "header, delimiter, validation_file"),
    ({"file": "d.npz", "label": "y"}, "data.label",
     "data.label: unknown field for an .npz file; expected one of test_size, seed, standardize, file, x, y, "
     "validation_file"),
    ({"x_file": "x.npy"}, "data.y_file", "data.y_file: missing required field"),
    ({"file": "d.csv", "label": 1.5}, "data.label", "data.label: must be an integer, got 1.5"),
    ({"file": "d.csv", "delimiter": "::"}, "data.delimiter",
     'data.delimiter: must be one character, such as "," or ";" or "\\t", got "::"'),
    ({"file": "d.csv", "validation_file": "v.csv", "test_size": 0.2}, "data.test_size",
     "data.test_size: is not used with validation_file: give one or the other, got 0.2"),
    ({"x_file": "x.npy", "y_file": "y.npy", "validation_x_file": "v.npy"}, "data.validation_y_file",
     "data.validation_y_file: missing required field (with validation_x_file)"),
    ({"file": ""}, "data.file", 'data.file: must not be empty, got ""'),
])
def test_bad_file_sources(data: dict[str, Any], path: str, message: str) -> None:
    spec = copy.deepcopy(SPEC_EXAMPLES["moons"])
    spec["data"] = data
    with pytest.raises(SpecError) as info:
        parse_spec(spec)
    assert (str(info.value), info.value.path) == (message, path)


# ---------------------------------------------------------------------------------------------
# Overrides
# ---------------------------------------------------------------------------------------------
def test_with_overrides_checks_again() -> None:
    spec = parse_spec(dict(SPEC_EXAMPLES["mnist1d"]))
    changed = spec.with_overrides(epochs=3, lr=0.5, batch_size=7, seed=9)
    assert (changed.epochs, changed.optimizer.lr, changed.batch_size, changed.seed) == (3, 0.5, 7, 9)
    assert changed.schedule is not None and changed.schedule.T_max == 3  # it followed the epochs
    assert spec.with_overrides() == spec
    with pytest.raises(SpecError) as info:
        spec.with_overrides(lr=-1.0)
    assert (str(info.value), info.value.path) == ("optimizer.lr: must be > 0, got -1.0", "optimizer.lr")
    fixed = parse_spec({**SPEC_EXAMPLES["mnist1d"], "schedule": {"name": "cosine", "T_max": 20}})
    assert fixed.with_overrides(epochs=5).schedule.T_max == 20  # set by hand: kept


# ---------------------------------------------------------------------------------------------
# YAML: merge keys, safe tags
# ---------------------------------------------------------------------------------------------
def test_yaml_merge_keys(tmp_path: Path) -> None:
    path = write_spec(tmp_path / "m.yaml", """x-optimizer: &adam {name: adam, lr: 0.001, eps: 1.0e-7}
data: {name: moons}
model:
  layers:
    - &hidden {type: linear, units: 32, init: he_normal}
    - relu
    - {<<: *hidden, units: 16}
    - relu
    - linear
optimizer:
  <<: *adam
  lr: 0.01
epochs: 1
""")
    spec = load_spec(path)
    assert spec.optimizer.name == "adam" and spec.optimizer.lr == 0.01 and spec.optimizer.eps == 1e-7
    assert spec.model.layers[2].units == 16 and spec.model.layers[2].init == "he_normal"
    bad = write_spec(tmp_path / "bad.yaml", path.read_text().replace("lr: 0.01", "lr: -1"))
    with pytest.raises(SpecError) as info:
        load_spec(bad)
    assert (str(info.value), info.value.line) == ("optimizer.lr: must be > 0, got -1", 12)
    dup = write_spec(tmp_path / "dup.yaml",
                     path.read_text().replace("  lr: 0.01\n", "  lr: 0.01\n  lr: 0.02\n"))
    with pytest.raises(SpecError, match=r"duplicate key 'lr' at line 13$"):
        load_spec(dup)


def test_yaml_tags_that_build_objects_are_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = write_spec(tmp_path / "evil.yaml",
                      f"epochs: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(SpecError, match=r"not valid YAML.*python/object/apply"):
        load_spec(path)
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------
# Bounds: aliases, nesting, sizes
# ---------------------------------------------------------------------------------------------
def billion_laughs(levels: int = 9) -> str:
    lines = ['x-a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"x-a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    rest = ["data: {name: moons}", "model: {layers: [linear]}", "optimizer: {name: sgd, lr: 0.1}",
            f"epochs: *a{levels}"]
    return "\n".join([*lines, *rest]) + "\n"


def test_a_billion_laughs_is_refused_fast_and_small(tmp_path: Path) -> None:
    path = write_spec(tmp_path / "laughs.yaml", billion_laughs())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert time.perf_counter() - start < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB
    assert str(info.value) == (f"{path}: the spec has more than 100000 values (each use of a YAML alias "
                               "counted); a spec is far smaller")
    small = write_spec(tmp_path / "small.yaml", billion_laughs(2))  # 729 values: read, then a field error
    with pytest.raises(SpecError, match=r'^epochs: must be an integer, got \[\[\["lol", "lol"'):
        load_spec(small)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
@pytest.mark.parametrize("depth", [101, 200_000])
def test_deep_nesting_is_a_spec_error(tmp_path: Path, suffix: str, depth: int) -> None:
    path = tmp_path / f"deep{suffix}"
    path.write_text('{"epochs": ' + "[" * depth + "]" * depth + "}", encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(SpecError, match=r"nested deeper than 100 levels"):
        load_spec(path)
    assert time.perf_counter() - start < 1.0
    nested: Any = 1
    for _ in range(depth if depth < 1000 else 5000):
        nested = [nested]
    with pytest.raises(SpecError, match=r"^spec: the spec is nested deeper than 100 levels$"):
        parse_spec({"epochs": nested})


def test_shallow_enough_nesting_reads(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    spec = {**SPEC_EXAMPLES["moons"], "epochs": "EPOCHS"}
    path.write_text(json.dumps(spec).replace('"EPOCHS"', "[" * 98 + "]" * 98), encoding="utf-8")
    with pytest.raises(SpecError, match=r"^epochs: must be an integer, got \[\[\["):
        load_spec(path)


def test_size_caps(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"name": "x" * (1 << 20)}), encoding="utf-8")
    with pytest.raises(SpecError, match=r"bytes; a spec may have at most 1048576$"):
        load_spec(big)
    long_number = tmp_path / "n.yaml"
    long_number.write_text("epochs: " + "9" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"a number too long to read"):
        load_spec(long_number)
    if os.path.exists("/dev/zero"):
        zero = tmp_path / "zero.yaml"
        zero.symlink_to("/dev/zero")
        with pytest.raises(SpecError, match=r"cannot read the file: not a regular file"):
            load_spec(zero)


@pytest.mark.parametrize("units", [2**70, 10**9, MAX_UNITS + 1, 10**5000],
                         ids=["2**70", "10**9", "cap+1", "10**5000"])
def test_units_are_capped(units: int) -> None:
    spec = copy.deepcopy(SPEC_EXAMPLES["digits"])
    spec["model"]["layers"][0]["units"] = units
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        parse_spec(spec)
    assert time.perf_counter() - start < 1.0
    assert info.value.path == "model.layers[0].units"
    assert str(info.value).startswith("model.layers[0].units: must be at most 1048576 (the widest layer a "
                                      "spec may have), got ")
    assert len(str(info.value)) < 200
    spec["model"]["layers"][0]["units"] = MAX_UNITS  # allowed alone: 64 x 2**20 weights
    parse_spec(spec)


def test_the_parameter_count_is_capped_naming_the_layer() -> None:
    spec = copy.deepcopy(SPEC_EXAMPLES["digits"])
    spec["model"]["layers"] = [{"type": "linear", "units": 20_000}, "relu",
                               {"type": "linear", "units": 20_000}, "batchnorm", "linear"]
    with pytest.raises(SpecError) as info:
        parse_spec(spec)
    total = 65 * 20_000 + 20_001 * 20_000
    assert total > MAX_PARAMETERS
    assert str(info.value) == (f"model.layers[2].units: the model has {total} parameters up to this layer, "
                               f"Linear(20000, 20000); the limit is {MAX_PARAMETERS}, got 20000")
    # on a file the width is known only when the file is read: build_model checks before allocating
    small = parse_spec(copy.deepcopy(SPEC_EXAMPLES["digits"]))
    with pytest.raises(SpecError, match=r"^model\.layers\[0\]\.units: the model has 1280000128 parameters"):
        small.build_model(10_000_000, 10)


def test_the_merge_key_example_in_the_docs_loads(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "spec.md").read_text(encoding="utf-8")
    block = text[text.index("```yaml\nx-optimizer"):].split("```")[1].removeprefix("yaml\n")
    spec = load_spec(write_spec(tmp_path / "doc.yaml", block))
    assert spec.optimizer.lr == 0.01 and spec.optimizer.eps == 1e-7 and spec.model.layers[2].units == 16


def test_huge_values_are_cut_before_they_are_formatted() -> None:
    spec = copy.deepcopy(SPEC_EXAMPLES["moons"])
    wide = [["x" * 1000] * 1000] * 90  # 90,000 values: under the cap, 90 MB if written out in full
    cases = [(wide, '[["xxx'), ("y" * 10**7, '"yyy'), ({f"k{i}": i for i in range(50_000)}, '{"k0": 0, ')]
    for value, start in cases:
        spec["epochs"] = value
        begin = time.perf_counter()
        with pytest.raises(SpecError) as info:
            parse_spec(spec)
        assert time.perf_counter() - begin < 0.5
        assert str(info.value).startswith(f"epochs: must be an integer, got {start}")
        assert str(info.value).endswith("...")
        assert len(str(info.value)) <= len("epochs: must be an integer, got ") + 60


def test_the_csv_example_in_the_docs_trains(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "spec.md").read_text(encoding="utf-8")
    block = text[text.index("```yaml\nname: flowers"):].split("```")[1].removeprefix("yaml\n")
    x, y = rp.data.moons(n_samples=120, noise=0.1, seed=0)
    rows = "".join(f"{a},{b},{['setosa', 'virginica'][k]}\n" for (a, b), k in zip(x, y, strict=True))
    (tmp_path / "flowers.csv").write_text("sepal,petal,species\n" + rows, encoding="utf-8")
    spec = load_spec(write_spec(tmp_path / "flowers.yaml", block)).with_overrides(epochs=2)
    history = spec.train()
    assert history.epoch == [0, 1] and np.isfinite(history.history["val_loss"][-1])


def test_the_docs_describe_every_file_option() -> None:
    from retroprop.spec import FILE_SOURCES

    text = (Path(__file__).resolve().parents[1] / "docs" / "spec.md").read_text(encoding="utf-8")
    for options in FILE_SOURCES.values():
        for name in options:
            assert f"`{name}`" in text, name


@pytest.mark.parametrize(("text", "message"), [
    ("epochs: !!bool maybe\n", "not valid YAML: a value that does not fit its tag"),
    ("epochs: !!timestamp soon\n", "not valid YAML: a value that does not fit its tag"),
    ("epochs: 3\x00\n", "not valid YAML: unacceptable character #x0000: special characters are not allowed"),
    ("? [1, 2]\n: 3\n", "not valid YAML"),
    ("1: 2\ndata: {name: moons}\nmodel: {layers: [linear]}\noptimizer: {name: sgd, lr: 0.1}\nepochs: 1\n",
     "1: unknown field; expected one of name"),
])
def test_odd_yaml_is_a_spec_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("field", ["epochs", "batch_size", "seed"])
def test_huge_integers_are_refused_in_words(field: str, capfd: pytest.CaptureFixture[str]) -> None:
    spec = copy.deepcopy(SPEC_EXAMPLES["moons"])
    spec[field] = 10**5000
    with pytest.raises(SpecError, match=rf"^{field}: must be at most 9223372036854775807 in size, got <an "
                                        r"integer of 5000 digits>$"):
        parse_spec(spec)
    spec[field] = 2
    spec["optimizer"] = {"name": 10**5000}  # a huge value in the context of an error: nothing on stderr
    with pytest.raises(SpecError, match=r"^optimizer\.name: must be one of .*, got <an integer of 5000 "
                                        r"digits>$"):
        parse_spec(spec)
    assert capfd.readouterr().err == ""


# ---------------------------------------------------------------------------------------------
# Class labels out of range, and the split's feasibility (one check for built-in sets and files)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("label", ["1e300", "1000000"])
def test_a_label_beyond_the_class_cap_is_a_spec_error_before_the_split(tmp_path: Path, label: str) -> None:
    # 1e300 wrapped to -2**63 and np.bincount raised from the split; 1000000 made a million class names
    # and counts from a 3-line file (1e9 as many times more: a label small enough to test without the cap)
    bad = tmp_path / "bad.csv"
    bad.write_text(f"a,b,label\n1,2,0\n3,4,{label}\n5,6,1\n", encoding="utf-8")
    err = spec_error(write_spec(tmp_path / "a.yaml", spec_text("{file: bad.csv}")))
    assert err.path == "data.file"
    where = f"{bad.resolve()}, row 3, column 'label'"
    assert f"{where}: the class label {float(label)!r} is not a class number" in str(err)


def test_train_on_a_csv_with_a_huge_label_exits_with_one_line(tmp_path: Path) -> None:
    from tests.test_cli import cli, no_traceback

    (tmp_path / "bad.csv").write_text("a,b,label\n1,2,0\n3,4,1e300\n5,6,1\n", encoding="utf-8")
    result = cli("train", str(write_spec(tmp_path / "s.yaml", spec_text("{file: bad.csv}"))))
    assert result.returncode == 2, result.stderr
    assert "row 3, column 'label': the class label 1e+300 is not a class number" in result.stderr
    no_traceback(result)


def test_one_split_check_for_built_in_sets_and_files(tmp_path: Path) -> None:
    assert split_problem(150, 3, 0.25) is None and split_problem(150, 3, 0.25, smallest=2) is None
    message = ("leaves 2 of 150 samples for testing; the test and the training set each need one sample "
               "of each")
    assert split_problem(150, 3, 0.01) == f"{message} of the 3 classes"
    assert split_problem(150, 3, 0.99) == f"{message.replace('2 of', '149 of')} of the 3 classes"
    assert split_problem(150, 3, 0.25, smallest=1) == (
        "leaves 38 of 150 samples for testing; the test and the training set each need one sample of each of "
        "the 3 classes present")
    spec = copy.deepcopy(SPEC_EXAMPLES["iris"])
    spec["data"]["test_size"] = 0.01
    with pytest.raises(SpecError) as info:
        parse_spec(spec)
    assert str(info.value) == f"data.test_size: {split_problem(150, 3, 0.01)}, got 0.01"
    few = tmp_path / "few.csv"
    few.write_text("a,label\n1,x\n2,x\n3,y\n4,y\n", encoding="utf-8")
    err = spec_error(write_spec(tmp_path / "d.yaml", spec_text("{file: few.csv, test_size: 0.1}")))
    expected = f"data.test_size: {split_problem(4, 2, 0.1, smallest=2)} (or give a validation file), got 0.1"
    assert (err.path, str(err)) == ("data.test_size", expected)
