"""Experiment specs (retroprop.spec): parsing, one-line errors with the field's path, files, builders."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import itertools
import json
import pickle
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn, optim
from retroprop.optim import lr_scheduler
from retroprop.spec import (
    DATASETS,
    LAYER_TYPES,
    OPTIMIZERS,
    SCHEDULES,
    SPEC_EXAMPLES,
    DataSpec,
    DoctorSpec,
    ExperimentSpec,
    LayerSpec,
    ModelSpec,
    OptimizerSpec,
    Prepared,
    ScheduleSpec,
    SpecError,
    load_spec,
    parse_spec,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "spec.md"
LOADED_SETS = ("digits", "iris", "breast_cancer", "wine")


def needs_data(name: str) -> None:
    """Skip where the data set's source package is absent (the [data] extra)."""
    if name in LOADED_SETS:
        pytest.importorskip("sklearn")
    elif name == "mnist1d":
        pytest.importorskip("mnist1d")


def example(name: str = "moons", **changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(SPEC_EXAMPLES[name])
    spec.update(changes)
    return spec


def minimal(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "data": {"name": "moons"},
        "model": {"layers": [{"type": "linear", "units": 8}, "relu", "linear"]},
        "optimizer": {"name": "sgd", "lr": 0.1},
        "epochs": 1,
    }
    spec.update(changes)
    return spec


def error_of(data: Any, source: str = "spec") -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_spec(data, source)
    return info.value


def yaml_blocks(section: str) -> dict[str, str]:
    """The ```yaml blocks of a docs/spec.md section, by the ### heading above each."""
    text = DOCS.read_text(encoding="utf-8")
    body = text[text.index(f"## {section}"):]
    return dict(re.findall(r"^### (\w+)\n.*?```yaml\n(.*?)```", body, flags=re.S | re.M))


# ---------------------------------------------------------------------------------------------
# Valid specs
# ---------------------------------------------------------------------------------------------
def test_there_is_one_example_per_data_set() -> None:
    assert set(SPEC_EXAMPLES) == set(DATASETS)
    for name, spec in SPEC_EXAMPLES.items():
        assert spec["data"]["name"] == name


@pytest.mark.parametrize("name", list(SPEC_EXAMPLES))
def test_examples_parse_and_round_trip(name: str) -> None:
    spec = parse_spec(SPEC_EXAMPLES[name])
    assert isinstance(spec, ExperimentSpec)
    plain = spec.to_dict()
    again = json.loads(json.dumps(plain))  # plain JSON-able data
    assert again == plain
    assert parse_spec(again) == spec
    assert parse_spec(again).to_dict() == plain
    assert spec.validate() == spec
    hash(spec)  # frozen all the way down


def test_defaults_are_filled_in() -> None:
    spec = parse_spec(minimal())
    assert spec.name is None
    assert spec.loss == "cross_entropy"
    assert (spec.batch_size, spec.seed, spec.schedule) == (32, 0, None)
    assert spec.doctor == DoctorSpec(enabled=True, repair=False, every=None, make_up=0.5)
    assert spec.data == DataSpec("moons", test_size=0.25, seed=0, standardize=True, n_samples=200, noise=0.1)
    assert spec.model.layers == (LayerSpec("linear", units=8), LayerSpec("relu"), LayerSpec("linear"))
    assert spec.optimizer == OptimizerSpec("sgd", lr=0.1, momentum=0.0, dampening=0.0, nesterov=False,
                                           weight_decay=0.0)
    assert spec.to_dict()["data"] == {"name": "moons", "test_size": 0.25, "seed": 0, "standardize": True,
                                      "n_samples": 200, "noise": 0.1}
    assert spec.to_dict()["model"]["layers"][2] == {"type": "linear"}


def test_data_set_specific_defaults() -> None:
    mnist = parse_spec(minimal(data={"name": "mnist1d"})).data
    assert (mnist.seed, mnist.n_train, mnist.n_test, mnist.test_size) == (42, 4000, 1000, None)
    assert "test_size" not in mnist.to_dict()
    spiral = parse_spec(minimal(data={"name": "spiral"})).data
    assert (spiral.n_samples, spiral.n_classes, spiral.noise, spiral.num_classes) == (300, 3, 0.2, 3)
    assert parse_spec(minimal(data={"name": "gaussians", "n_classes": 4})).data.num_classes == 4
    assert parse_spec(minimal(data={"name": "digits"})).data.num_features == 64
    assert DATASETS["wine"].n_features == 13


def test_schedule_defaults() -> None:
    cosine = parse_spec(minimal(schedule={"name": "cosine"}, epochs=7)).schedule
    assert cosine == ScheduleSpec("cosine", T_max=7, eta_min=0.0)
    plateau = parse_spec(minimal(schedule={"name": "plateau"})).schedule
    assert plateau is not None and plateau.options() == {
        "mode": "min", "factor": 0.1, "patience": 10, "threshold": 1e-4, "threshold_mode": "rel",
        "cooldown": 0, "min_lr": 0.0, "eps": 1e-8}
    assert parse_spec(minimal(schedule=None)).schedule is None


def test_shorthands_and_nulls() -> None:
    spec = parse_spec(minimal(doctor=False, model={"layers": [
        {"type": "linear", "units": 4, "init": None}, "tanh", {"type": "linear", "units": "auto"}]}))
    assert spec.doctor == DoctorSpec(enabled=False)
    assert spec.model.layers == (LayerSpec("linear", units=4), LayerSpec("tanh"), LayerSpec("linear"))
    assert parse_spec(minimal(doctor=True)).doctor == DoctorSpec()
    assert parse_spec(minimal(doctor={"every": None})).doctor.every is None


def test_numbers_are_normalized() -> None:
    spec = parse_spec(minimal(optimizer={"name": "adam", "lr": 1, "betas": [0, 0.5]},
                              data={"name": "moons", "noise": np.float32(0.5), "n_samples": np.int64(40)}))
    assert type(spec.optimizer.lr) is float and spec.optimizer.betas == (0.0, 0.5)
    assert type(spec.data.n_samples) is int and type(spec.data.noise) is float
    json.dumps(spec.to_dict())


# ---------------------------------------------------------------------------------------------
# Bad specs: one line, the field's path, the value
# ---------------------------------------------------------------------------------------------
def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change to a spec dict: set the field at a dotted path (list positions as numbers)."""
    def change(spec: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = spec
        for part in parents:
            node = node[part]
        node[last] = value
    return change


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def change(spec: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = spec
        for part in parents:
            node = node[part]
        del node[last]
    return change


LAYER_NAMES = "linear, relu, leaky_relu, elu, selu, gelu, sigmoid, tanh, dropout, batchnorm"
BAD_SPECS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    # (example, change, path, message)
    ("digits", _set("model.layers.2.p", 1.5), "model.layers[2].p",
     "model.layers[2].p: must be between 0 and 1, got 1.5"),
    # unknown layer type
    ("digits", _set("model.layers.1", {"type": "conv2d"}), "model.layers[1].type",
     f'model.layers[1].type: must be one of {LAYER_NAMES}, got "conv2d"'),
    ("digits", _set("model.layers.1", "Relu"), "model.layers[1].type",
     f'model.layers[1].type: must be one of {LAYER_NAMES}, got "Relu"'),
    ("digits", _set("model.layers.1", 5), "model.layers[1]",
     "model.layers[1]: must be a mapping with a type (or just a layer type), got 5"),
    ("digits", _set("model.layers.1", {"units": 3}), "model.layers[1].type",
     "model.layers[1].type: missing required field"),
    # missing fields
    ("iris", _delete("optimizer.lr"), "optimizer.lr", "optimizer.lr: missing required field"),
    ("iris", _delete("epochs"), "epochs", "epochs: missing required field"),
    ("iris", _delete("data"), "data", "data: missing required field"),
    ("iris", _delete("data.name"), "data.name", "data.name: missing required field"),
    ("iris", _delete("schedule.step_size"), "schedule.step_size",
     "schedule.step_size: missing required field"),
    ("digits", _set("model.layers.0", {"type": "linear"}), "model.layers[0].units",
     "model.layers[0].units: missing required field (only the last linear layer may leave it out)"),
    # wrong types
    ("iris", _set("epochs", "10"), "epochs", 'epochs: must be an integer, got "10"'),
    ("iris", _set("epochs", True), "epochs", "epochs: must be an integer, got true"),
    ("iris", _set("epochs", 10.0), "epochs", "epochs: must be an integer, got 10.0"),
    ("iris", _set("optimizer.lr", "fast"), "optimizer.lr", 'optimizer.lr: must be a number, got "fast"'),
    ("iris", _set("optimizer.lr", False), "optimizer.lr", "optimizer.lr: must be a number, got false"),
    ("circles", _set("optimizer.nesterov", "yes"), "optimizer.nesterov",
     'optimizer.nesterov: must be true or false, got "yes"'),
    ("digits", _set("optimizer.betas", [0.9]), "optimizer.betas",
     "optimizer.betas: must be a list of two numbers [beta1, beta2], got [0.9]"),
    ("iris", _set("model", [1, 2]), "model", "model: must be a mapping of fields, got [1, 2]"),
    ("iris", _set("model.layers", "relu"), "model.layers",
     'model.layers: must be a non-empty list of layers, got "relu"'),
    ("iris", _set("name", 7), "name", "name: must be a string, got 7"),
    ("iris", _set("schedule", "cosine"), "schedule", 'schedule: must be a mapping of fields, got "cosine"'),
    ("iris", _set("doctor", "on"), "doctor",
     'doctor: must be a mapping of fields (or true or false), got "on"'),
    ("iris", _set("data.name", ["iris"]), "data.name",
     "data.name: must be one of digits, iris, breast_cancer, wine, mnist1d, spiral, circles, xor, gaussians, "
     'moons, got ["iris"]'),
    # out of range
    ("iris", _set("epochs", 0), "epochs", "epochs: must be >= 1, got 0"),
    ("iris", _set("batch_size", -4), "batch_size", "batch_size: must be >= 1, got -4"),
    ("iris", _set("seed", -1), "seed", "seed: must be >= 0, got -1"),
    ("iris", _set("optimizer.lr", 0), "optimizer.lr", "optimizer.lr: must be > 0, got 0"),
    ("iris", _set("optimizer.momentum", 1), "optimizer.momentum",
     "optimizer.momentum: must be in [0, 1), got 1"),
    ("digits", _set("optimizer.betas", [0.9, 1.0]), "optimizer.betas[1]",
     "optimizer.betas[1]: must be in [0, 1), got 1.0"),
    ("iris", _set("data.test_size", 1.0), "data.test_size", "data.test_size: must be in (0, 1), got 1.0"),
    ("iris", _set("data.seed", 2**32), "data.seed",
     "data.seed: must be between 0 and 4294967295, got 4294967296"),
    ("moons", _set("data.noise", float("nan")), "data.noise", "data.noise: must be a finite number, got nan"),
    ("circles", _set("data.factor", 1), "data.factor", "data.factor: must be in [0, 1), got 1"),
    ("digits", _set("model.layers.0.units", 0), "model.layers[0].units",
     "model.layers[0].units: must be >= 1, got 0"),
    ("xor", _set("doctor.every", 0), "doctor.every", "doctor.every: must be >= 1, got 0"),
    ("moons", _set("schedule.start_factor", 0), "schedule.start_factor",
     "schedule.start_factor: must be in (0, 1], got 0"),
    ("iris", _set("schedule.gamma", -0.5), "schedule.gamma", "schedule.gamma: must be > 0, got -0.5"),
    ("spiral", _set("data.n_samples", 5), "data.n_samples",
     "data.n_samples: must be at least 6 (two per class, for the split), got 5"),
    ("iris", _set("data.test_size", 0.01), "data.test_size",
     "data.test_size: leaves 2 of 150 samples for testing; the test and the training set each need one "
     "sample of each of the 3 classes, got 0.01"),
    # unknown values of a choice
    ("iris", _set("loss", "hinge"), "loss",
     "loss: must be one of cross_entropy, crossentropy, categorical_crossentropy, "
     "sparse_categorical_crossentropy, nll, nll_loss, mse, mse_loss, mean_squared_error, bce_with_logits, "
     'binary_cross_entropy_with_logits, binary_crossentropy, got "hinge"'),
    ("iris", _set("optimizer.name", "lbfgs"), "optimizer.name",
     'optimizer.name: must be one of sgd, adam, adamw, rmsprop, adagrad, got "lbfgs"'),
    ("iris", _set("schedule.name", "cyclic"), "schedule.name",
     'schedule.name: must be one of step, exponential, cosine, linear, plateau, got "cyclic"'),
    ("digits", _set("model.layers.0.init", "he"), "model.layers[0].init",
     "model.layers[0].init: must be one of xavier_uniform, glorot_uniform, xavier_normal, glorot_normal, "
     "kaiming_uniform, he_uniform, kaiming_normal, he_normal, lecun_uniform, lecun_normal, orthogonal, "
     'zeros, got "he"'),
    # unknown fields
    ("iris", _set("optimizer.learning_rate", 0.1), "optimizer.learning_rate",
     "optimizer.learning_rate: unknown field for sgd; expected one of name, lr, momentum, dampening, "
     "nesterov, weight_decay"),
    ("digits", _set("optimizer.momentum", 0.9), "optimizer.momentum",
     "optimizer.momentum: unknown field for adam; expected one of name, lr, betas, eps, weight_decay, "
     "amsgrad"),
    ("iris", _set("epoch", 3), "epoch",
     "epoch: unknown field; expected one of name, data, model, loss, optimizer, schedule, epochs, "
     "batch_size, seed, doctor"),
    ("digits", _set("model.layers.1", {"type": "relu", "p": 0.5}), "model.layers[1].p",
     "model.layers[1].p: unknown field for a relu layer; expected only type"),
    ("digits", _set("model.layers.2.rate", 0.5), "model.layers[2].rate",
     "model.layers[2].rate: unknown field for a dropout layer; expected one of type, p"),
    ("digits", _set("data.noise", 0.1), "data.noise",
     "data.noise: unknown field for digits; expected one of name, test_size, seed, standardize"),
    ("mnist1d", _set("data.test_size", 0.2), "data.test_size",
     "data.test_size: unknown field for mnist1d; expected one of name, seed, standardize, n_train, n_test"),
    ("xor", _set("doctor.level", 2), "doctor.level",
     "doctor.level: unknown field; expected one of enabled, repair, every, make_up"),
    ("iris", _set("model.depth", 2), "model.depth", "model.depth: unknown field; expected only layers"),
    # fields that depend on each other
    ("iris", _set("model.layers", []), "model.layers",
     "model.layers: must be a non-empty list of layers, got []"),
    ("iris", _set("model.layers.2", "relu"), "model.layers[2].type",
     'model.layers[2].type: the last layer must be linear, got "relu"'),
    ("digits", _set("model.layers.0.units", "auto"), "model.layers[0].units",
     'model.layers[0].units: may be auto only on the last layer, got "auto"'),
    ("iris", _set("model.layers.2.units", 2), "model.layers[2].units",
     "model.layers[2].units: must be at least the number of classes, 3 (or auto), got 2"),
    ("breast_cancer", _set("model.layers.2.units", 2), "model.layers[2].units",
     "model.layers[2].units: must be 1 (or auto) for the loss bce_with_logits with 2 classes, got 2"),
    ("iris", _set("loss", "bce_with_logits"), "loss",
     'loss: a binary loss needs 2 classes, but iris has 3, got "bce_with_logits"'),
    ("circles", _set("optimizer.momentum", 0), "optimizer.nesterov",
     "optimizer.nesterov: needs momentum > 0 and dampening 0 (momentum is 0, dampening 0), got true"),
    ("moons", _set("doctor.enabled", False), "doctor.repair",
     "doctor.repair: needs doctor.enabled: true, got true"),
]


@pytest.mark.parametrize(("name", "change", "path", "message"), BAD_SPECS,
                         ids=[case[2] for case in BAD_SPECS])
def test_bad_spec_names_the_field(name: str, change: Callable[[dict[str, Any]], None], path: str,
                                  message: str) -> None:
    data = example(name)
    change(data)
    err = error_of(data, source="exp.yaml")
    assert str(err) == message
    assert "\n" not in str(err)
    assert err.path == path
    assert str(err).startswith(f"{path}: ")
    assert err.source == "exp.yaml"
    assert isinstance(err, ValueError)


def test_a_spec_that_is_not_a_mapping() -> None:
    err = error_of(["digits"], source="runs/a.yaml")
    assert str(err) == 'runs/a.yaml: the spec must be a mapping of fields, got ["digits"]'
    assert err.path is None and err.source == "runs/a.yaml"


def test_long_values_are_cut_short() -> None:
    err = error_of(minimal(epochs=list(range(100))))
    assert str(err).startswith("epochs: must be an integer, got [0, 1, 2")
    assert str(err).endswith("...") and len(str(err)) < 110


def test_unknown_fields_are_reported_before_missing_ones() -> None:
    err = error_of(minimal(optimizer={"name": "sgd", "learning_rate": 0.1}))
    assert err.path == "optimizer.learning_rate"


def test_the_error_examples_in_the_docs_are_real() -> None:
    text = DOCS.read_text(encoding="utf-8")
    errors = text[text.index("## Errors"):text.index("## Schema")]
    field_lines = re.search(r"```\n(.*?)```", errors, flags=re.S)
    assert field_lines is not None
    messages = {case[3] for case in BAD_SPECS}
    for line in field_lines.group(1).splitlines():
        assert line in messages, line


def test_specs_made_in_python_are_checked_when_made() -> None:
    good = parse_spec(minimal())
    with pytest.raises(SpecError, match=r"^p: must be between 0 and 1, got 2\.0$") as info:
        LayerSpec("dropout", p=2.0)
    assert info.value.path == "p"
    with pytest.raises(SpecError, match=r"^momentum: unknown field for adam"):
        OptimizerSpec("adam", lr=0.1, momentum=0.9)
    with pytest.raises(SpecError, match=r'^type: must be one of linear, .*, got "conv2d"$'):
        LayerSpec("conv2d")
    with pytest.raises(SpecError, match=r'^layers\[1\]\.type: the last layer must be linear, got "relu"$'):
        ModelSpec([LayerSpec("linear", units=4), LayerSpec("relu")])
    with pytest.raises(SpecError, match=r"^epochs: must be >= 1, got 0$"):
        dataclasses.replace(good, epochs=0)
    narrow = ModelSpec([LayerSpec("linear", units=4), LayerSpec("linear", units=1)])
    with pytest.raises(SpecError, match=r"^model\.layers\[1\]\.units: must be at least the number of"):
        dataclasses.replace(good, model=narrow)  # the whole spec is checked again
    varied = dataclasses.replace(good, model=ModelSpec([LayerSpec("linear", units=4), LayerSpec("linear")]))
    assert isinstance(varied.model.layers, tuple)  # a list becomes a tuple
    assert varied.validate() == varied
    assert good.optimizer.betas is None and good.data.file is None  # another kind's option


def test_defaults_are_the_constructors_own() -> None:
    required = {"lr": 0.5, "step_size": 2, "gamma": 0.5}
    checked = 0
    for family, table in ((LayerSpec, LAYER_TYPES), (OptimizerSpec, OPTIMIZERS), (ScheduleSpec, SCHEDULES)):
        for tag, options in table.items():
            made = family(tag, **{k: v for k, v in required.items() if k in options})
            for name, parameter in inspect.signature(made.builds).parameters.items():
                default = parameter.default
                if name in options and name not in required and default not in (None, parameter.empty):
                    assert getattr(made, name) == default, (tag, name)
                    checked += 1
    assert checked >= 30
    assert OptimizerSpec("adamw", lr=0.1).weight_decay == 0.01 != OptimizerSpec("adam", lr=0.1).weight_decay
    assert DataSpec("spiral").n_samples == inspect.signature(rp.data.spiral).parameters["n_samples"].default


def test_specs_pickle_and_copy() -> None:
    for name in SPEC_EXAMPLES:
        spec = parse_spec(SPEC_EXAMPLES[name])
        assert pickle.loads(pickle.dumps(spec)) == spec == copy.deepcopy(spec)
        assert repr(spec.model.layers[0]).startswith("LayerSpec(type='linear'")


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------
def test_yaml_and_json_files_load_the_same_spec(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    blocks = yaml_blocks("Examples")
    for name, data in SPEC_EXAMPLES.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")
        (tmp_path / f"{name}.yaml").write_text(blocks[name], encoding="utf-8")
        from_json = load_spec(tmp_path / f"{name}.json")
        assert from_json == load_spec(str(tmp_path / f"{name}.yaml")) == parse_spec(data)
    (tmp_path / "short.yml").write_text(blocks["iris"], encoding="utf-8")
    assert load_spec(tmp_path / "short.yml") == parse_spec(SPEC_EXAMPLES["iris"])


def test_docs_have_one_example_per_spec_example() -> None:
    blocks = yaml_blocks("Examples")
    assert list(blocks) == list(SPEC_EXAMPLES)
    for name, text in blocks.items():
        assert re.search(rf"^data: \{{name: {name}\b", text, flags=re.M) or f"  name: {name}\n" in text, name
        assert f"name: {SPEC_EXAMPLES[name]['name']}\n" in text, name


def test_docs_examples_equal_spec_examples() -> None:
    pytest.importorskip("yaml")
    from retroprop.spec.files import read_yaml

    blocks = yaml_blocks("Examples")
    for name, text in blocks.items():
        data, _ = read_yaml(text, name)
        assert data == SPEC_EXAMPLES[name], name


def test_docs_describe_every_option() -> None:
    text = DOCS.read_text(encoding="utf-8")
    names = {"name", "data", "model", "loss", "optimizer", "schedule", "epochs", "batch_size", "seed",
             "doctor", "test_size", "standardize", "units", "enabled", "repair", "every", "make_up"}
    for table in (*LAYER_TYPES.values(), *OPTIMIZERS.values(), *SCHEDULES.values(),
                  *(info.options for info in DATASETS.values())):
        names.update(table)
    names.update(DATASETS, LAYER_TYPES, OPTIMIZERS, SCHEDULES)
    for name in sorted(names):
        assert f"`{name}`" in text, name
    for name in (*LAYER_TYPES, *OPTIMIZERS, *SCHEDULES):  # each has a row in its table
        assert re.search(rf"^\| `{name}` \|", text, flags=re.M), name


def test_yaml_reads_exponents_as_numbers(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    path = tmp_path / "e.yaml"
    path.write_text("data: {name: moons}\nmodel: {layers: [{type: linear}]}\n"
                    "optimizer: {name: adam, lr: 1e-3, eps: 1E-8}\nepochs: 1\n", encoding="utf-8")
    spec = load_spec(path)
    assert spec.optimizer.lr == 0.001 and spec.optimizer.eps == 1e-8


def test_a_bad_field_in_a_yaml_file_has_its_line(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    path = tmp_path / "spec.yaml"
    path.write_text("data: {name: iris}\nmodel:\n  layers:\n    - {type: linear, units: 8}\n    - relu\n"
                    "    - {type: dropout, p: 1.5}\n    - linear\noptimizer: {name: adam, lr: 1e-3}\n"
                    "epochs: 2\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    err = info.value
    assert str(err) == "model.layers[2].p: must be between 0 and 1, got 1.5"
    assert (err.path, err.source, err.line) == ("model.layers[2].p", str(path), 6)
    assert err.location == f"{path}, line 6"
    path.write_text("data: {name: iris}\nmodel:\n  layers: [linear]\noptimizer:\n  name: adam\nepochs: 2\n",
                    encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value) == "optimizer.lr: missing required field"
    assert info.value.line == 4  # the line of "optimizer:", whose mapping lacks lr


def _file_error(path: Path) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    err = info.value
    assert "\n" not in str(err)
    assert str(err).startswith(f"{path}: ")
    assert err.path is None and err.source == str(path)
    return err


def test_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    assert str(_file_error(missing)) == f"{missing}: cannot read the file: No such file or directory"
    folder = tmp_path / "folder.json"
    folder.mkdir()
    assert str(_file_error(folder)).startswith(f"{folder}: cannot read the file: ")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe{}")
    assert str(_file_error(binary)) == f"{binary}: cannot read the file: not UTF-8 text (byte 0)"
    text = tmp_path / "spec.txt"
    text.write_text("{}", encoding="utf-8")
    assert str(_file_error(text)) == (f"{text}: unknown spec file type '.txt'; expected a .json, .yaml or "
                                      ".yml file")
    empty = tmp_path / "empty.json"
    empty.write_text("  \n", encoding="utf-8")
    assert str(_file_error(empty)) == f"{empty}: the file is empty; expected a spec (a mapping of fields)"


def test_unparsable_files_name_the_line(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{\n  "epochs": 3,\n}\n', encoding="utf-8")
    err = _file_error(bad_json)
    assert str(err) == (f"{bad_json}: not valid JSON at line 3, column 1: Expecting property name enclosed "
                        "in double quotes")
    assert err.line == 3
    duplicate = tmp_path / "dup.json"
    duplicate.write_text('{"epochs": 3, "epochs": 4}', encoding="utf-8")
    assert str(_file_error(duplicate)) == f"{duplicate}: duplicate key 'epochs' in a JSON object"
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]", encoding="utf-8")
    assert str(_file_error(listed)) == f"{listed}: the spec must be a mapping of fields, got [1, 2]"

    pytest.importorskip("yaml")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("data:\n  name: iris\n epochs: 3\n", encoding="utf-8")
    err = _file_error(bad_yaml)
    assert re.fullmatch(rf"{re.escape(str(bad_yaml))}: not valid YAML at line 3, column 2: .+", str(err))
    assert err.line == 3
    dup_yaml = tmp_path / "dup.yml"
    dup_yaml.write_text("epochs: 3\nseed: 1\nepochs: 4\n", encoding="utf-8")
    assert str(_file_error(dup_yaml)) == f"{dup_yaml}: duplicate key 'epochs' at line 3"
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n", encoding="utf-8")
    assert str(_file_error(empty)) == f"{empty}: the file is empty; expected a spec (a mapping of fields)"


def test_json_needs_no_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml now fails
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC_EXAMPLES["moons"]), encoding="utf-8")
    assert load_spec(path) == parse_spec(SPEC_EXAMPLES["moons"])
    yaml_path = tmp_path / "spec.yaml"
    yaml_path.write_text("epochs: 1\n", encoding="utf-8")
    assert str(_file_error(yaml_path)) == (f"{yaml_path}: reading YAML needs PyYAML (pip install "
                                           "retroprop[cli]); or write the spec as JSON")


# ---------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------
def _linears(model: nn.Sequential) -> list[nn.Linear]:
    return [m for m in model if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("name", list(SPEC_EXAMPLES))
def test_build_model_widths(name: str) -> None:
    spec = parse_spec(SPEC_EXAMPLES[name])
    n_features, n_classes = spec.data.num_features, spec.data.num_classes
    model = spec.build_model(n_features, n_classes)
    assert isinstance(model, nn.Sequential)
    linears = _linears(model)
    assert linears[0].in_features == n_features
    assert linears[-1].out_features == (1 if spec.loss == "bce_with_logits" else n_classes)
    assert len(model) == len(spec.model.layers)
    for before, after in itertools.pairwise(linears):
        assert after.in_features == before.out_features


def test_build_model_layers_and_seed() -> None:
    spec = parse_spec(minimal(seed=3, model={"layers": [
        {"type": "linear", "units": 6, "init": "orthogonal"}, "batchnorm",
        {"type": "leaky_relu", "negative_slope": 0.2}, {"type": "dropout", "p": 0.25},
        {"type": "linear", "units": 5}, {"type": "elu", "alpha": 0.5},
        {"type": "gelu", "approximate": "tanh"}, "selu", "sigmoid", "tanh", "relu", "linear"]}))
    model = spec.build_model(3, 4)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "BatchNorm1d", "LeakyReLU", "Dropout", "Linear", "ELU", "GELU", "SELU",
                     "Sigmoid", "Tanh", "ReLU", "Linear"]
    assert model[1].num_features == 6 and model[2].negative_slope == 0.2 and model[3].p == 0.25
    assert (model[0].in_features, model[-1].in_features, model[-1].out_features) == (3, 5, 4)
    again = spec.build_model(3, 4)
    for a, b in zip(model.parameters(), again.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    other = dataclasses.replace(spec, seed=4).build_model(3, 4)
    assert not np.array_equal(model[0].weight.data, other[0].weight.data)


def test_build_model_follows_the_loss() -> None:
    nll = parse_spec(minimal(loss="nll")).build_model(2, 2)
    assert type(nll[-1]).__name__ == "LogSoftmax" and nll[-2].out_features == 2
    mse = parse_spec(minimal(loss="mse", data={"name": "spiral"})).build_model(2, 3)
    assert mse[-1].out_features == 3
    too_few = dataclasses.replace(parse_spec(minimal()), model=ModelSpec([LayerSpec("linear", units=2)]))
    with pytest.raises(SpecError, match=r"^model\.layers\[0\]\.units: must be at least the number of"):
        too_few.build_model(2, 5)


def test_build_optimizer_scheduler_doctor() -> None:
    model = nn.Sequential(nn.Linear(2, 2))
    cases = {
        "sgd": (optim.SGD, {"momentum": 0.9, "nesterov": True}),
        "adam": (optim.Adam, {"betas": [0.8, 0.9], "amsgrad": True}),
        "adamw": (optim.AdamW, {"weight_decay": 0.1}),
        "rmsprop": (optim.RMSprop, {"alpha": 0.9, "centered": True}),
        "adagrad": (optim.Adagrad, {"lr_decay": 0.01}),
    }
    for name, (cls, options) in cases.items():
        spec = parse_spec(minimal(optimizer={"name": name, "lr": 0.5, **options}))
        opt = spec.build_optimizer(model)
        assert type(opt) is cls
        group = opt.param_groups[0]
        assert group["lr"] == 0.5
        for key, value in options.items():
            assert group[key] == (tuple(value) if isinstance(value, list) else value)
    schedules = {
        "step": (lr_scheduler.StepLR, {"step_size": 3}),
        "exponential": (lr_scheduler.ExponentialLR, {"gamma": 0.9}),
        "cosine": (lr_scheduler.CosineAnnealingLR, {}),
        "linear": (lr_scheduler.LinearLR, {"total_iters": 4}),
        "plateau": (lr_scheduler.ReduceLROnPlateau, {"patience": 2, "mode": "max"}),
    }
    for name, (cls, options) in schedules.items():
        spec = parse_spec(minimal(schedule={"name": name, **options}, epochs=9))
        scheduler = spec.build_scheduler(spec.build_optimizer(model))
        assert type(scheduler) is cls
        for key, value in options.items():
            assert getattr(scheduler, key) == value
        if name == "cosine":
            assert scheduler.T_max == 9
    assert parse_spec(minimal()).build_scheduler(optim.SGD(model.parameters(), lr=0.1)) is None

    doctor = parse_spec(minimal(doctor={"repair": True, "every": 5, "make_up": 0})).build_doctor()
    assert isinstance(doctor, rp.Doctor)
    assert (doctor.repair, doctor.every, doctor.make_up) == (True, 5, 0.0)
    assert parse_spec(minimal(doctor={"enabled": False})).build_doctor() is False
    assert parse_spec(minimal()).fit_kwargs() == {"epochs": 1, "batch_size": 32, "seed": 0,
                                                  "loss": "cross_entropy"}


def test_build_data_generated() -> None:
    spec = parse_spec(minimal(data={"name": "spiral", "n_samples": 120, "n_classes": 4, "test_size": 0.25,
                                    "seed": 5}))
    data = spec.build_data()
    assert isinstance(data, Prepared)
    x_train, y_train, x_val, y_val = data
    assert x_train.shape == (90, 2) and x_val.shape == (30, 2) and x_train.dtype == np.float32
    assert y_train.dtype == np.int64
    assert (data.n_features, data.n_classes, data.class_names, data.name) == (2, 4, ("0", "1", "2", "3"),
                                                                               "spiral")
    assert np.bincount(y_val).tolist() == [8, 8, 7, 7] or sorted(np.bincount(y_val).tolist()) == [7, 7, 8, 8]
    np.testing.assert_allclose(x_train.mean(axis=0), 0, atol=1e-5)  # standardized on the training set
    np.testing.assert_allclose(x_train.std(axis=0), 1, atol=1e-4)
    again = spec.build_data()
    np.testing.assert_array_equal(again.x_val, x_val)
    other = dataclasses.replace(spec, data=dataclasses.replace(spec.data, seed=6)).build_data()
    assert not np.array_equal(other.x_train, x_train)
    raw = dataclasses.replace(spec, data=dataclasses.replace(spec.data, standardize=False)).build_data()
    assert np.abs(raw.x_train).max() <= 1.5  # the spiral's own scale


def test_build_data_shapes_targets_for_the_loss() -> None:
    binary = parse_spec(minimal(loss="bce_with_logits")).build_data()
    assert binary.y_train.shape == (150, 1) and binary.y_train.dtype == np.float32
    assert set(np.unique(binary.y_val)) == {0.0, 1.0}
    onehot = parse_spec(minimal(loss="mse")).build_data()
    assert onehot.y_train.shape == (150, 2) and np.all(onehot.y_train.sum(axis=1) == 1)


def test_build_data_loaded_set() -> None:
    needs_data("iris")
    data = parse_spec(example("iris")).build_data()
    assert data.x_train.shape == (105, 4) and data.x_val.shape == (45, 4)
    assert data.class_names == ("setosa", "versicolor", "virginica")
    assert data.feature_names is not None and len(data.feature_names) == 4
    assert np.bincount(data.y_val).tolist() == [15, 15, 15]  # stratified


# ---------------------------------------------------------------------------------------------
# Training from a spec
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(SPEC_EXAMPLES))
def test_every_example_trains_one_epoch(name: str) -> None:
    needs_data(name)
    spec = dataclasses.replace(parse_spec(SPEC_EXAMPLES[name]), epochs=1)
    history = spec.train()
    assert history.epoch == [0]
    assert np.isfinite(history.history["val_loss"][0])
    assert history.stop_reason is None


def test_fit_from_the_builders_matches_train() -> None:
    spec = dataclasses.replace(parse_spec(SPEC_EXAMPLES["moons"]), epochs=2)
    data = spec.build_data()
    model = spec.build_model(data.n_features, data.n_classes)
    optimizer = spec.build_optimizer(model)
    history = rp.fit(model, data.x_train, data.y_train, optimizer=optimizer,
                     scheduler=spec.build_scheduler(optimizer), validation_data=(data.x_val, data.y_val),
                     doctor=spec.build_doctor(), verbose=0, **spec.fit_kwargs())
    same = spec.train(data=data)
    assert history.history["val_accuracy"] == same.history["val_accuracy"]
    assert history.history["lr"] == same.history["lr"]
    assert history.history["val_accuracy"][-1] > 0.5
