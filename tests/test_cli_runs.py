"""``retroprop train`` and ``diagnose`` as a practitioner uses them: overrides, a model file that
``evaluate`` understands on its own, verdicts that never call a diverged run healthy, and the
repaired recipe written back as a spec that loads and runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import retroprop as rp
from retroprop.cli.runs import chance_loss, corrected_spec, training_failure
from retroprop.spec import SPEC_EXAMPLES, load_spec, parse_spec
from tests.test_cli import cli, no_traceback


def write_spec(folder: Path, name: str, spec: dict) -> Path:
    path = folder / name
    path.write_text(json.dumps(spec))
    return path


def iris(**changes) -> dict:
    spec = {"name": "iris-small", "data": {"name": "iris", "test_size": 0.3},
            "model": {"layers": [{"type": "linear", "units": 16}, "tanh", {"type": "linear"}]},
            "optimizer": {"name": "adam", "lr": 0.05}, "epochs": 3, "batch_size": 16}
    spec.update(changes)
    return spec


# ---------------------------------------------------------------------------------------------
# overrides
# ---------------------------------------------------------------------------------------------
def test_overrides_change_the_run_and_the_spec_written(tmp_path):
    spec = write_spec(tmp_path, "iris.json", iris(schedule={"name": "cosine"}))
    out = tmp_path / "as-run.json"
    result = cli("train", str(spec), "--epochs", "2", "--lr", "0.01", "--batch-size", "8", "--seed", "3",
                 "--save-spec", str(out), "--threads", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Epoch 2/2" in result.stdout and "Epoch 3/" not in result.stdout
    written = parse_spec(json.loads(out.read_text()))
    assert (written.epochs, written.optimizer.lr, written.batch_size, written.seed) == (2, 0.01, 8, 3)
    assert written.schedule.T_max == 2  # a cosine schedule over the whole run follows --epochs


@pytest.mark.parametrize("option, value, message", [
    ("--epochs", "0", "--epochs: must be >= 1, got 0"),
    ("--lr", "-1", "--lr: must be > 0, got -1"),
    ("--lr", "nan", "--lr: must be a finite number"),
    ("--batch-size", "0", "--batch-size: must be >= 1, got 0"),
    ("--seed", "-2", "--seed: must be >= 0, got -2"),
])
def test_a_bad_override_names_the_option(tmp_path, option, value, message):
    command = "diagnose" if option == "--seed" else "train"  # the two share the overrides
    result = cli(command, str(write_spec(tmp_path, "iris.json", iris())), option, value)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    no_traceback(result)


# ---------------------------------------------------------------------------------------------
# the model file records its loss and its data: evaluate needs nothing else
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_breast_cancer_example_evaluates_end_to_end(tmp_path):
    spec = json.loads(json.dumps(SPEC_EXAMPLES["breast_cancer"]))  # bce_with_logits, one output
    model_path = tmp_path / "bc.safetensors"
    trained = cli("train", str(write_spec(tmp_path, "bc.json", spec)), "--epochs", "10", "--quiet",
                  "--save", str(model_path))
    assert trained.returncode == 0, trained.stdout + trained.stderr
    info = rp.serialization.read_info(model_path)
    assert info["loss"] == "bce_with_logits" and info["data"]["name"] == "breast_cancer"
    # the same held-out split, rebuilt here with raw inputs: the saved model standardizes them itself
    split = parse_spec({**spec, "data": {**spec["data"], "standardize": False}}).build_data()
    expected = rp.evaluate(rp.load(model_path), split.x_val, split.y_val, loss="bce_with_logits")
    for data in ((), ("--data", "breast_cancer")):
        result = cli("evaluate", str(model_path), *data, "--json")
        assert result.returncode == 0, result.stderr
        measured = json.loads(result.stdout)
        assert measured["loss_name"] == "bce_with_logits" and measured["samples"] == len(split.x_val)
        assert measured["accuracy"] == pytest.approx(expected["accuracy"]) and measured["accuracy"] > 0.9
        assert measured["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    csv = tmp_path / "test.csv"
    labels = split.y_val.reshape(-1).astype(int)
    rows = [",".join([*map(repr, row.tolist()), str(c)]) for row, c in zip(split.x_val, labels, strict=True)]
    csv.write_text("\n".join([",".join([*(f"f{i}" for i in range(30)), "diagnosis"]), *rows]))
    from_csv = cli("evaluate", str(model_path), "--data", str(csv), "--json")
    assert from_csv.returncode == 0, from_csv.stderr
    assert json.loads(from_csv.stdout)["accuracy"] == pytest.approx(expected["accuracy"])
    other = cli("evaluate", str(model_path), "--data", "digits")
    assert other.returncode == 2 and "trained on breast_cancer, not digits" in other.stderr
    no_traceback(other)


# ---------------------------------------------------------------------------------------------
# a diverged run is never healthy
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lr, activation", [(1e30, "tanh"), (1e30, "relu"), (1e308, "relu")])
def test_a_diverged_run_is_never_healthy(tmp_path, lr, activation):
    # tanh with lr 1e30: the loss stays finite (about 1e30) and the doctor names nothing;
    # relu: NaN/Inf appear; 1e308: the first update overflows the weights and fit stops
    spec = iris(model={"layers": [{"type": "linear", "units": 16}, activation, {"type": "linear"}]},
                optimizer={"name": "adam" if lr == 1e30 else "sgd", "lr": lr})
    path = write_spec(tmp_path, "diverges.json", spec)
    result = cli("diagnose", str(path))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "healthy" not in result.stdout.splitlines() and "No problems found" not in result.stdout
    assert "Not a trained model" in result.stdout
    # with --json, stdout is the JSON alone ("spec written to" goes to stderr), and valid JSON: a NaN
    # loss is null (json.dumps would write NaN, which strict parsers refuse)
    as_json = cli("diagnose", str(path), "--json", "--save-spec", str(tmp_path / "as-run.yaml"))
    report = strict_json(as_json.stdout)
    assert report["healthy"] is False and report["failure"] and "spec written to" in as_json.stderr
    if activation == "relu" and lr == 1e30:
        assert report["final"]["loss"] is None  # NaN
    model = tmp_path / "untrained.npz"
    trained = cli("train", str(path), "--quiet", "--save", str(model))
    assert "No problems found" not in trained.stdout and "Not a trained model" in trained.stdout
    assert trained.returncode == 3, trained.stdout + trained.stderr  # as diagnose: a script must notice
    assert model.is_file()  # still saved, for inspection


def strict_json(text: str):
    def refuse(constant):
        raise AssertionError(f"invalid JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_diagnose_is_not_healthy_when_the_doctor_itself_failed(tmp_path, monkeypatch, capsys):
    from retroprop import cli as cli_module

    path = write_spec(tmp_path, "iris.json", iris())
    assert cli_module.main(["diagnose", str(path), "--threads", "1"]) == 0  # healthy when the doctor works
    assert capsys.readouterr().out.splitlines()[-1] == "healthy"

    def broken(self, *args, **kwargs):
        raise RuntimeError("the doctor broke")

    monkeypatch.setattr(rp.Doctor, "attach", broken)  # fit records it and trains on without the doctor
    assert cli_module.main(["diagnose", str(path), "--json", "--threads", "1"]) == 3
    report = strict_json(capsys.readouterr().out)
    assert report["healthy"] is False and report["problems"] == [] and report["failure"] is None
    assert [e["where"] for e in report["doctor_errors"]] == ["attach"]
    assert "the doctor broke" in report["doctor_errors"][0]["error"]
    assert cli_module.main(["diagnose", str(path), "--threads", "1"]) == 3
    out = capsys.readouterr().out
    assert "healthy" not in out.splitlines() and "the doctor failed (attach" in out
    assert "the doctor itself failed" in out


def test_a_crash_before_the_first_step_is_not_called_bad_data(tmp_path, monkeypatch, capsys):
    from retroprop import cli as cli_module
    from retroprop.spec import ExperimentSpec

    path = write_spec(tmp_path, "iris.json", iris())

    def crash(self, x):
        raise ValueError("an internal error of the model")

    monkeypatch.setattr(rp.nn.Linear, "forward", crash)  # fit runs the model once before on_train_begin
    with pytest.raises(ValueError, match="an internal error"):  # a crash: exit 1 with its traceback
        cli_module.main(["train", str(path), "--quiet"])
    monkeypatch.undo()
    build_data = ExperimentSpec.build_data

    def nan_data(self):
        data = build_data(self)
        data.x_train[0, 0] = np.nan
        return data

    monkeypatch.setattr(ExperimentSpec, "build_data", nan_data)  # fit's own check of its data: exit 2
    assert cli_module.main(["train", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "cannot train on its data" in err and "NaN" in err


def test_the_layer_and_optimizer_names_come_from_the_spec_kinds():
    from retroprop.cli.runs import _layers
    from retroprop.spec import LayerSpec, OptimizerSpec

    layers = [{"type": "linear", "units": 8}, *({"type": tag} for tag in LayerSpec._kinds if tag != "linear"),
              {"type": "linear"}]
    spec = iris(model={"layers": layers})
    model = parse_spec(spec).build_model(4, 3)
    back, standardized = _layers(model, spec, he=False)
    assert [layer["type"] for layer in back] == [layer["type"] for layer in layers] and not standardized
    options = {layer["type"]: set(layer) - {"type"} for layer in back}
    assert options["dropout"] == {"p"} and options["leaky_relu"] == {"negative_slope"}
    model = parse_spec(spec).build_model(4, 3)
    for tag in OptimizerSpec._kinds:
        history = FakeHistory([1.0], [1.0])
        optimizer = parse_spec(iris(optimizer={"name": tag, "lr": 0.1})).build_optimizer(model)
        history.model, history.params = model, {"optimizer": optimizer, "scheduler": None}
        out, _ = corrected_spec(spec, history, [Treated("unstable_loss", "lower_lr")])
        assert out["optimizer"]["name"] == tag


class FakeHistory:
    def __init__(self, steps, epochs, stop_reason=None):
        self.step_loss = np.asarray(steps, dtype=np.float64)
        self.history = {"loss": list(epochs)}
        self.stop_reason = stop_reason


def test_the_rule_for_a_run_that_did_not_train():
    chance = chance_loss("cross_entropy", 3)
    assert chance == pytest.approx(np.log(3))
    assert chance_loss("bce_with_logits", 2) == pytest.approx(np.log(2))
    assert chance_loss("mse", 4) == pytest.approx(3 / 16)
    trained = FakeHistory([1.1, 0.9, 0.7, 0.5, 0.4, 0.3], [0.8, 0.35])
    assert training_failure(trained, chance) is None
    # diverged at the first update: a mean over the first steps would hide it, the first step does not
    exploded = FakeHistory([1.1, 3e27, 3e27, 3e27, 3e27, 3e27], [3e27])
    assert "above the untrained model's 1.1" in training_failure(exploded, chance)
    # above its start but below chance (a start that happened to be low) is not called a failure
    assert training_failure(FakeHistory([0.5, 0.9], [0.8]), chance) is None
    assert training_failure(FakeHistory([0.5, 0.9], [0.8]), None) is not None  # no chance level known
    assert "nan" in training_failure(FakeHistory([1.1, np.nan], [np.nan]), chance)
    assert "stopped" in training_failure(FakeHistory([1.1], [1.0], "non-finite weights after ..."), chance)
    stopped_early = FakeHistory([1.1, 0.3], [0.3], "early stopping (the treatment ...)")
    assert training_failure(stopped_early, chance) is None
    interrupted = FakeHistory([1.1, 0.3], [0.3], "interrupted (Ctrl-C) after step 2 in epoch 1")
    assert training_failure(interrupted, chance) is None  # the user stopped a run that was learning
    assert training_failure(FakeHistory([1.1, 3e27], [3e27], "interrupted (Ctrl-C) after step 2"), chance)


# ---------------------------------------------------------------------------------------------
# diagnose --report, --repair and --save-spec
# ---------------------------------------------------------------------------------------------
def deep_sigmoid(epochs: int = 3) -> dict:
    spec = json.loads(json.dumps(SPEC_EXAMPLES["digits"]))
    spec.update(epochs=epochs, optimizer={"name": "sgd", "lr": 0.05},
                model={"layers": [*([{"type": "linear", "units": 64}, "sigmoid"] * 8), {"type": "linear"}]})
    return spec


@pytest.mark.slow
def test_diagnose_repairs_and_writes_the_treated_spec_which_loads_and_runs(tmp_path):
    fixed, report = tmp_path / "fixed.yaml", tmp_path / "run.html"
    result = cli("diagnose", str(write_spec(tmp_path, "deep.json", deep_sigmoid())), "--repair",
                 "--save-spec", str(fixed), "--report", str(report))
    assert result.returncode == 3, result.stdout + result.stderr  # it found a problem (and treated it)
    assert "vanishing_gradients -> relu" in result.stdout and "spec written to" in result.stdout
    assert "<html" in report.read_text(encoding="utf-8")
    text = fixed.read_text()
    assert text.startswith("# written by retroprop") and "vanishing_gradients -> relu" in text
    spec = load_spec(fixed)
    kinds = [layer.type for layer in spec.model.layers]
    assert "sigmoid" not in kinds and kinds.count("relu") == 8
    assert all(layer.init == "he_normal" for layer in spec.model.layers if layer.type == "linear")
    rerun = cli("diagnose", str(fixed), "--json")
    assert rerun.returncode in (0, 3), rerun.stderr
    assert "vanishing_gradients" not in json.loads(rerun.stdout)["problems"]


def test_the_treated_spec_builds_the_repaired_model(tmp_path):
    spec = parse_spec(deep_sigmoid(epochs=2))
    data = spec.build_data()
    doctor = spec.build_doctor()
    doctor.repair = True
    history = spec.train(data=data, doctor=doctor)
    assert [t.remedy for t in doctor.treatments if t.applied]
    out, notes = corrected_spec(spec.to_dict(), history, doctor.treatments, doctor.clip_grad_norm)
    rebuilt = parse_spec(out).build_model(data.n_features, data.n_classes)
    assert [type(m).__name__ for m in rebuilt] == [type(m).__name__ for m in history.model]
    assert notes and all("->" in note for note in notes)


class Treated:
    def __init__(self, problem, remedy, description=""):
        self.problem, self.remedy, self.description, self.applied = problem, remedy, description, True


def test_learning_rate_optimizer_and_clipping_remedies_reach_the_spec():
    spec = parse_spec(iris(optimizer={"name": "sgd", "lr": 1.0, "momentum": 0.9})).to_dict()
    model = rp.nn.Sequential(rp.nn.Linear(4, 16), rp.nn.BatchNorm1d(16), rp.nn.Tanh(), rp.nn.Dropout(0.3),
                             rp.nn.Linear(16, 3))
    history = rp.History(model=model)
    history.params["optimizer"] = rp.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    history.params["scheduler"] = None
    treatments = [Treated("unstable_loss", "lower_lr"), Treated("exploding_gradients", "batchnorm"),
                  Treated("overfitting", "dropout"), Treated("overfitting", "weight_decay"),
                  Treated("exploding_gradients", "clip_gradients")]
    out, notes = corrected_spec(spec, history, treatments, clip_grad_norm=1.0)
    assert out["optimizer"] == {**spec["optimizer"], "lr": 0.01, "weight_decay": 1e-4}
    assert [layer["type"] for layer in out["model"]["layers"]] == ["linear", "batchnorm", "tanh", "dropout",
                                                                     "linear"]
    assert out["model"]["layers"][3]["p"] == pytest.approx(0.3)
    assert any("clipping" in note and "cannot be written" in note for note in notes)
    parse_spec(out)
    history.params["optimizer"] = rp.optim.Adam(model.parameters(), lr=1e-3)
    switched, _ = corrected_spec(spec, history, [Treated("unstable_loss", "adam")])
    assert switched["optimizer"] == {"name": "adam", "lr": 1e-3}


def test_the_setup_remedies_reach_the_spec_or_say_why_they_cannot():
    from retroprop.doctor.remedies import fix_output_loss, insert_activation, standardize_targets

    spec = parse_spec(iris()).to_dict()
    rp.manual_seed(0)
    model = rp.nn.Sequential(rp.nn.Linear(4, 16), rp.nn.Linear(16, 3), rp.nn.Softmax())
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1)
    fix_output_loss(model, optimizer, case="double_softmax", loss="cross_entropy")  # an Identity in its place
    insert_activation(model, optimizer)
    history = rp.History(model=model)
    history.params.update(optimizer=optimizer, scheduler=None)
    out, _ = corrected_spec(spec, history, [Treated("loss_output_mismatch", "fix_output_loss"),
                                            Treated("missing_nonlinearity", "insert_activation")])
    assert [layer["type"] for layer in out["model"]["layers"]] == ["linear", "relu", "linear"]
    parse_spec(out)
    standardize_targets(model, optimizer, mean=np.array([5.0, 5.0, 5.0]), scale=np.ones(3), loss="mse")
    with pytest.raises(ValueError, match=r"standardize_targets.*cannot describe"):
        corrected_spec(spec, history, [Treated("unscaled_targets", "standardize_targets")])


# ---------------------------------------------------------------------------------------------
# a practitioner's own data file, end to end
# ---------------------------------------------------------------------------------------------
def own_data(folder: Path) -> np.ndarray:
    """Features on very different scales; a class from two of them and a value from two others."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 3)) * [1.0, 10.0, 100.0] + [0.0, 5.0, 50.0]
    classes = (x[:, 0] + x[:, 1] / 10 > 0.5).astype(int)
    values = 2 * x[:, 0] + x[:, 2] / 100
    for name, target, column in (("classes.csv", classes, "target"), ("values.csv", values, "value")):
        rows = [",".join(map(repr, [*row.tolist(), t.item()])) for row, t in zip(x, target, strict=True)]
        (folder / name).write_text("\n".join([f"a,b,c,{column}", *rows]) + "\n")
    return x


def test_a_model_trained_on_a_csv_file_evaluates_and_predicts_from_its_file(tmp_path):
    x = own_data(tmp_path)
    layers = {"layers": [{"type": "linear", "units": 16}, "relu", {"type": "linear"}]}
    spec = {"data": {"file": "classes.csv", "label": "target"}, "model": layers,
            "optimizer": {"name": "adam", "lr": 0.01}, "epochs": 15}
    model = tmp_path / "classes.safetensors"
    trained = cli("train", str(write_spec(tmp_path, "classes.json", spec)), "--quiet", "--save", str(model))
    assert trained.returncode == 0, trained.stdout + trained.stderr
    held_out = json.loads(cli("evaluate", str(model), "--json").stdout)  # from anywhere: paths recorded whole
    assert held_out["samples"] == 60 and held_out["accuracy"] > 0.9
    named = cli("evaluate", str(model), "--data", "iris")
    assert named.returncode == 2 and "trained on" in named.stderr and "classes.csv" in named.stderr
    whole = json.loads(cli("evaluate", str(model), "--data", str(tmp_path / "classes.csv"), "--label",
                           "target", "--json").stdout)
    assert whole["samples"] == 240 and whole["accuracy"] > 0.9
    (tmp_path / "x.csv").write_text("a,b,c\n" + "\n".join(",".join(map(repr, r.tolist())) for r in x[:5]))
    predicted = cli("predict", str(model), "--input", str(tmp_path / "x.csv"))
    expected = rp.predict(rp.load(model), x[:5]).argmax(axis=1)  # the saved model takes raw inputs
    assert predicted.returncode == 0 and [int(v) for v in predicted.stdout.split()] == expected.tolist()


def test_predict_names_the_classes_as_the_training_data_did(tmp_path):
    x = own_data(tmp_path)
    label = np.where(x[:, 0] + x[:, 1] / 10 > 0.5, '"yes, it is"', "no")  # as own_data's classes
    rows = [",".join([*map(repr, row.tolist()), name]) for row, name in zip(x, label, strict=True)]
    (tmp_path / "named.csv").write_text("\n".join(["a,b,c,target", *rows]) + "\n")
    layers = {"layers": [{"type": "linear", "units": 16}, "relu", {"type": "linear"}]}
    spec = {"data": {"file": "named.csv", "label": "target"}, "model": layers,
            "optimizer": {"name": "adam", "lr": 0.01}, "epochs": 15}
    model = tmp_path / "named.safetensors"
    trained = cli("train", str(write_spec(tmp_path, "named.json", spec)), "--quiet", "--save", str(model))
    assert trained.returncode == 0, trained.stdout + trained.stderr
    np.save(tmp_path / "x.npy", x[:20])
    from retroprop.serialization import read_info

    names = read_info(model)["class_names"]
    assert sorted(names) == ["no", "yes, it is"]
    expected = [names[i] for i in rp.predict(rp.load(model), x[:20]).argmax(axis=1)]
    assert len(set(expected)) == 2  # both classes among the rows
    shown = cli("predict", str(model), "--input", str(tmp_path / "x.npy"))
    assert shown.returncode == 0 and shown.stdout.splitlines() == expected, shown.stderr
    for suffix in (".csv", ".npy"):
        out = tmp_path / f"predicted{suffix}"
        written = cli("predict", str(model), "--input", str(tmp_path / "x.npy"), "--output", str(out))
        assert written.returncode == 0, written.stderr
        if suffix == ".csv":  # names, quoted where they hold a comma
            import csv

            assert [row[0] for row in csv.reader(out.read_text().splitlines())] == expected
        else:  # class indices
            assert [names[i] for i in np.load(out)] == expected


def test_a_regression_on_a_csv_file_reports_its_loss_and_values(tmp_path):
    x = own_data(tmp_path)
    spec = {"data": {"file": "values.csv", "label": "value"}, "loss": "mse",
            "model": {"layers": [{"type": "linear", "units": 16}, "relu", {"type": "linear"}]},
            "optimizer": {"name": "adam", "lr": 0.01}, "epochs": 15}
    model = tmp_path / "values.npz"
    trained = cli("train", str(write_spec(tmp_path, "values.json", spec)), "--quiet", "--save", str(model))
    assert trained.returncode == 0, trained.stdout + trained.stderr
    result = json.loads(cli("evaluate", str(model), "--json").stdout)
    assert "accuracy" not in result and result["loss_name"] == "mse" and result["loss"] < 0.5
    np.save(tmp_path / "x.npy", x[:4])
    values = cli("predict", str(model), "--input", str(tmp_path / "x.npy"))
    assert values.returncode == 0, values.stderr
    predicted = np.array([float(v) for v in values.stdout.split()])
    np.testing.assert_allclose(predicted, 2 * x[:4, 0] + x[:4, 2] / 100, atol=1.0)


def test_a_saved_model_keeps_the_precision_of_features_far_from_zero(tmp_path):
    """A timestamp near 1.7e9 varies by about 100: float32 rounds it in steps of 128. The saved model
    standardizes raw inputs itself, so the raw data it is fitted on and evaluated on must stay float64
    (rounded, the held-out accuracy fell from 0.99 to 0.84)."""
    rng = np.random.default_rng(0)
    stamp, other = 1.7e9 + rng.normal(0, 100, size=300), rng.normal(size=300)
    target = ((stamp - 1.7e9) / 100 + 0.3 * other > 0).astype(int)
    rows = [f"{a:.6f},{b:.6f},{c}" for a, b, c in zip(stamp, other, target, strict=True)]
    (tmp_path / "ts.csv").write_text("stamp,other,target\n" + "\n".join(rows) + "\n")
    layers = {"layers": [{"type": "linear", "units": 16}, "relu", {"type": "linear"}]}
    spec = {"data": {"file": "ts.csv", "label": "target"}, "model": layers,
            "optimizer": {"name": "adam", "lr": 0.01}, "epochs": 30}
    model = tmp_path / "ts.safetensors"
    trained = cli("train", str(write_spec(tmp_path, "ts.json", spec)), "--save", str(model))
    assert trained.returncode == 0, trained.stderr
    val_accuracy = float(trained.stdout.split("val_accuracy: ")[-1].split()[0])
    assert val_accuracy > 0.95
    held_out = json.loads(cli("evaluate", str(model), "--json").stdout)
    assert held_out["samples"] == 75 and held_out["accuracy"] == pytest.approx(val_accuracy, abs=0.014)
