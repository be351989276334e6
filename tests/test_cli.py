"""The ``retroprop`` command, run as users run it: in a subprocess, judged by exit status and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn

SUBCOMMANDS = ("demo", "train", "diagnose", "report", "evaluate", "predict", "watch")


def cli(*args: str, cwd: Path | None = None, timeout: int = 300,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``retroprop ARGS`` in a subprocess; ``env``: variables set on top of this process's."""
    environment = None if env is None else {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "retroprop", *args], capture_output=True, text=True,
                          timeout=timeout, check=False, cwd=cwd, env=environment)


def no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1, result.stderr  # one line that says what is wrong


def test_version_and_help_with_examples_for_every_command():
    result = cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"retroprop {rp.__version__}"
    top = cli("--help")
    assert top.returncode == 0 and all(name in top.stdout for name in SUBCOMMANDS)
    for name in SUBCOMMANDS:
        result = cli(name, "--help")
        assert result.returncode == 0, (name, result.stderr)
        assert "examples:" in result.stdout and f"retroprop {name} " in result.stdout, name


def test_usage_errors_exit_2_without_a_traceback():
    result = cli("demo", "nonsense")
    assert result.returncode == 2 and "invalid choice" in result.stderr
    result = cli("predict", "model.safetensors")
    assert result.returncode == 2 and "--input" in result.stderr
    result = cli("train", "spec.yaml", "--threads", "0")
    assert result.returncode == 2 and "--threads" in result.stderr
    assert cli().returncode == 2


def test_thread_counts_a_c_int_cannot_hold_are_usage_errors(saved_model):
    folder, path, *_ = saved_model
    huge = cli("predict", str(path), "--input", str(folder / "x.npy"), "--threads", str(3_000_000_000))
    assert huge.returncode == 2 and "--threads" in huge.stderr and "2147483647" in huge.stderr
    assert "Traceback" not in huge.stderr
    for value in ("abc", "0", str(2**31)):
        bad = cli("predict", str(path), "--input", str(folder / "x.npy"),
                  env={"RETROPROP_NUM_THREADS": value})
        assert bad.returncode == 2 and "RETROPROP_NUM_THREADS" in bad.stderr and not bad.stdout
        no_traceback(bad)
    # --threads is the setting then: the environment variable is not read
    given = cli("predict", str(path), "--input", str(folder / "x.npy"), "--threads", "1",
                env={"RETROPROP_NUM_THREADS": "abc"})
    assert given.returncode == 0, given.stderr


@pytest.mark.parametrize("module, package, extra", [("sklearn", "scikit-learn", "data"),
                                                   ("mnist1d", "mnist1d", "data"),
                                                   ("pydantic", "pydantic", "cli"), ("yaml", "PyYAML", "cli"),
                                                   ("matplotlib.pyplot", "matplotlib", "plot")])
def test_a_missing_optional_package_names_the_extra_that_installs_it(monkeypatch, capsys, module, package,
                                                                     extra):
    from retroprop import cli as cli_module
    from retroprop.cli import predict

    def missing(args):
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)

    monkeypatch.setattr(predict, "evaluate", missing)
    assert cli_module.main(["evaluate", "model.npz"]) == 2
    err = capsys.readouterr().err
    assert f"this needs {package}" in err and f"pip install 'retroprop[{extra}]'" in err
    monkeypatch.setattr(predict, "evaluate", lambda args: __import__("no_such_module_of_ours"))
    with pytest.raises(ImportError):  # not an optional dependency: a crash, with its traceback
        cli_module.main(["evaluate", "model.npz"])


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A digits model saved as `retroprop train --save` saves it: standardization first, raw inputs."""
    folder = tmp_path_factory.mktemp("model")
    x, y = rp.data.load_digits()
    x_train, x_test, y_train, y_test = rp.data.train_test_split(x, y, test_size=0.25, seed=0)
    rp.manual_seed(0)
    model = nn.Sequential(nn.Standardize.from_data(x_train), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    rp.fit(model, x_train, y_train, loss="cross_entropy", epochs=5, verbose=0, seed=0,
           optimizer=rp.optim.Adam(model.parameters(), lr=1e-2))
    path = folder / "digits.safetensors"
    rp.save(model, path)
    np.savez(folder / "test.npz", x=x_test, y=y_test)
    np.savetxt(folder / "test.csv", np.column_stack([x_test, y_test]), delimiter=",")
    np.save(folder / "x.npy", x_test[:7])
    return folder, path, model, x_test, y_test


def test_evaluate_a_saved_model_on_files_and_on_a_named_data_set(saved_model):
    folder, path, model, x_test, y_test = saved_model
    expected = rp.evaluate(model, x_test, y_test, loss="cross_entropy")
    for data in ("test.npz", "test.csv"):
        result = cli("evaluate", str(path), "--data", str(folder / data), "--json")
        assert result.returncode == 0, result.stderr
        measured = json.loads(result.stdout)
        assert measured["accuracy"] == pytest.approx(expected["accuracy"]) and measured["accuracy"] > 0.9
    # rp.save without info: the file does not say which split was held out, so a named set is refused
    named = cli("evaluate", str(path), "--data", "digits")
    assert named.returncode == 2 and "records no data set" in named.stderr
    no_traceback(named)


def test_predict_prints_or_writes_classes(saved_model):
    folder, path, model, x_test, _ = saved_model
    expected = rp.predict(model, x_test[:7]).argmax(axis=1)
    result = cli("predict", str(path), "--input", str(folder / "x.npy"))
    assert result.returncode == 0, result.stderr
    assert [int(v) for v in result.stdout.split()] == expected.tolist()
    out = folder / "classes.csv"
    result = cli("predict", str(path), "--input", str(folder / "x.npy"), "--output", str(out))
    assert result.returncode == 0 and np.loadtxt(out, dtype=int).tolist() == expected.tolist()
    scores = cli("predict", str(path), "--input", str(folder / "x.npy"), "--scores")
    assert len(scores.stdout.splitlines()) == 7 and scores.stdout.splitlines()[0].count(",") == 9


def test_bad_model_and_data_files_are_one_line_errors(saved_model, tmp_path):
    _, path, *_ = saved_model
    missing = cli("evaluate", str(tmp_path / "nope.safetensors"), "--data", "digits")
    assert missing.returncode == 2 and "no such model file" in missing.stderr
    no_traceback(missing)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a model at all")
    broken = cli("evaluate", str(garbage), "--data", "digits")
    assert broken.returncode == 2 and "garbage.safetensors" in broken.stderr
    no_traceback(broken)
    np.savez(tmp_path / "bad.npz", a=np.zeros(3))
    wrong = cli("evaluate", str(path), "--data", str(tmp_path / "bad.npz"))
    assert wrong.returncode == 2 and "no array named 'x'" in wrong.stderr
    no_traceback(wrong)
    unknown = cli("evaluate", str(path), "--data", "imagenet")
    assert unknown.returncode == 2 and "imagenet" in unknown.stderr
    no_traceback(unknown)
    np.save(tmp_path / "narrow.npy", np.zeros((3, 5)))
    shape = cli("predict", str(path), "--input", str(tmp_path / "narrow.npy"))
    assert shape.returncode == 2 and "64" in shape.stderr
    no_traceback(shape)
    text = tmp_path / "x.dat"  # (.txt is read as CSV)
    text.write_text("1,2,3")
    kind = cli("predict", str(path), "--input", str(text))
    assert kind.returncode == 2 and ".csv or .npy or .npz" in kind.stderr
    no_traceback(kind)


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="needs POSIX")
def test_a_model_path_that_is_not_a_regular_file_says_what_it_is(saved_model, tmp_path):
    folder, *_ = saved_model
    (tmp_path / "folder.npz").mkdir()
    os.mkfifo(tmp_path / "pipe.npz")  # reading it would block: rp.load must refuse it unopened
    (tmp_path / "zero.npz").symlink_to("/dev/zero")  # reading it would never end
    for name, what in (("folder.npz", "folder"), ("pipe.npz", "FIFO"), ("zero.npz", "device")):
        result = cli("predict", str(tmp_path / name), "--input", str(folder / "x.npy"), timeout=60)
        assert result.returncode == 2 and what in result.stderr and name in result.stderr, result.stderr
        assert "no such model file" not in result.stderr
        no_traceback(result)


# ---------------------------------------------------------------------------------------------
# train and diagnose from a spec
# ---------------------------------------------------------------------------------------------
def spec_file(folder: Path, name: str, **changes) -> Path:
    from retroprop.spec import SPEC_EXAMPLES

    spec = json.loads(json.dumps(SPEC_EXAMPLES["digits"]))
    spec.update({"epochs": 3, **changes})
    path = folder / name
    path.write_text(json.dumps(spec))
    return path


def test_diagnose_exits_0_when_healthy_and_3_when_a_problem_is_found(tmp_path):
    healthy = cli("diagnose", str(spec_file(tmp_path, "healthy.json")))
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "healthy" in healthy.stdout
    sigmoid = {"layers": [*([{"type": "linear", "units": 64}, "sigmoid"] * 8), {"type": "linear"}]}
    faulty_path = spec_file(tmp_path, "deep_sigmoid.json", model=sigmoid,
                            optimizer={"name": "sgd", "lr": 0.05})
    faulty = cli("diagnose", str(faulty_path), "--json")
    assert faulty.returncode == 3, faulty.stdout + faulty.stderr
    report = json.loads(faulty.stdout)
    assert not report["healthy"] and "vanishing_gradients" in report["problems"]
    assert report["diagnoses"][0]["layer_label"].startswith("layer 1")
    assert all(d["passed"] is not None for d in report["passed"])  # what the run left by itself, if any


def test_train_writes_a_report_and_a_model_that_takes_raw_inputs(tmp_path):
    html_path, model_path = tmp_path / "run.html", tmp_path / "model.safetensors"
    result = cli("train", str(spec_file(tmp_path, "digits.json")), "--report", str(html_path),
                 "--save", str(model_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Epoch 3/3" in result.stdout and "report written" in result.stdout
    page = html_path.read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "http://" not in page and "https://" not in page
    for data in ((), ("--data", "digits")):  # the model's own held-out split, by default or by name
        evaluated = cli("evaluate", str(model_path), *data, "--json")
        assert evaluated.returncode == 0, evaluated.stderr
        measured = json.loads(evaluated.stdout)
        # raw digits in: the model standardizes them
        assert measured["accuracy"] > 0.9 and measured["samples"] == 450


@pytest.mark.parametrize("changes, message", [
    ({"model": {"layers": [{"type": "conv2d"}, {"type": "linear"}]}},
     "model.layers[0].type: must be one of linear"),
    ({"optimizer": {"name": "adam"}}, "optimizer.lr: missing required field"),
    ({"epochs": "ten"}, 'epochs: must be an integer, got "ten"'),
    ({"model": {"layers": [{"type": "linear", "units": 32}, {"type": "dropout", "p": 1.5},
                           {"type": "linear"}]}},
     "model.layers[1].p: must be between 0 and 1, got 1.5"),
])
def test_bad_specs_are_one_line_errors_that_name_the_field(tmp_path, changes, message):
    for command in ("train", "diagnose"):
        result = cli(command, str(spec_file(tmp_path, "bad.json", **changes)))
        assert result.returncode == 2, result.stdout + result.stderr
        assert message in result.stderr and "bad.json" in result.stderr
        no_traceback(result)


def test_an_unreadable_spec_file_is_a_one_line_error(tmp_path):
    result = cli("train", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2 and "missing.yaml" in result.stderr
    no_traceback(result)
    broken = tmp_path / "broken.yaml"
    broken.write_text("data: {name: digits\nmodel: [")
    result = cli("diagnose", str(broken))
    assert result.returncode == 2 and "broken.yaml" in result.stderr
    no_traceback(result)
