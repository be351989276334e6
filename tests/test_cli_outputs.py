"""The command line's output files: every path checked before any work, every file written
atomically, and a file that cannot be written after the work saved next to it instead of lost."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

import retroprop as rp
from retroprop import cli as cli_module
from retroprop import nn
from tests.test_cli import cli, no_traceback


def long_spec(folder: Path) -> Path:
    """A run that would take minutes: a refusal that comes back within seconds came before it."""
    from retroprop.spec import SPEC_EXAMPLES

    spec = json.loads(json.dumps(SPEC_EXAMPLES["digits"]))
    spec["epochs"] = 5000
    path = folder / "long.json"
    path.write_text(json.dumps(spec))
    return path


def small_spec(folder: Path, **changes) -> Path:
    spec = {"name": "iris-small", "data": {"name": "iris", "test_size": 0.3},
            "model": {"layers": [{"type": "linear", "units": 8}, "tanh", {"type": "linear"}]},
            "optimizer": {"name": "adam", "lr": 0.05}, "epochs": 3, "batch_size": 16, **changes}
    path = folder / "small.json"
    path.write_text(json.dumps(spec))
    return path


@pytest.mark.parametrize("option, target, message", [
    ("--save", "model.pt", "must be a .safetensors or .npz file, got .pt"),
    ("--save", "missing/model.npz", "the folder missing does not exist"),
    ("--save", ".", "must be a .safetensors or .npz file"),
    ("--save", "folder.npz", "is a folder"),
    ("--report", "run.htm", "must be a .html file"),
    ("--report", "missing/run.html", "does not exist"),
    ("--save-spec", "fixed.txt", "must be a .yaml or .yml or .json file"),
    ("--save-spec", "plain.txt/fixed.yaml", "is not a folder"),
])
def test_train_refuses_a_bad_output_path_before_the_first_step(tmp_path, option, target, message):
    (tmp_path / "folder.npz").mkdir()
    (tmp_path / "plain.txt").write_text("a file, not a folder")
    result = cli("train", str(long_spec(tmp_path)), option, target, cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Epoch" not in result.stdout
    no_traceback(result)


def test_diagnose_checks_its_outputs_first_too(tmp_path):
    for option, target in (("--report", "x/run.html"), ("--save-spec", "spec.toml")):
        result = cli("diagnose", str(long_spec(tmp_path)), option, target, cwd=tmp_path, timeout=60)
        assert result.returncode == 2 and target in result.stderr, result.stderr
        no_traceback(result)


def test_an_unwritable_folder_is_refused_before_training(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        result = cli("train", str(long_spec(tmp_path)), "--save", str(locked / "m.npz"), timeout=60)
        assert result.returncode == 2 and "permission denied" in result.stderr
        no_traceback(result)
    finally:
        locked.chmod(0o700)


def test_demo_out_must_be_a_folder(tmp_path):
    (tmp_path / "a-file").write_text("x")
    result = cli("demo", "vanishing", "--out", str(tmp_path / "a-file"), timeout=60)
    assert result.returncode == 2 and "is a file; --out needs a folder" in result.stderr
    no_traceback(result)
    result = cli("demo", "vanishing", "--out", str(tmp_path / "a-file" / "below"), timeout=60)
    assert result.returncode == 2 and "cannot create the folder" in result.stderr
    no_traceback(result)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    path = folder / "m.safetensors"
    rp.save(model, path)
    x = np.random.default_rng(0).normal(size=(6, 4))
    np.save(folder / "x.npy", x)
    return folder, path, model, x


@pytest.mark.parametrize("output, message", [
    ("missing/out.csv", "the folder missing does not exist"),
    (".", "must be a .csv or .npy file"),
    ("sub.csv", "is a folder"),
    ("out.txt", "must be a .csv or .npy file, got .txt"),
])
def test_predict_refuses_a_bad_output_before_predicting(model_file, tmp_path, output, message):
    folder, path, *_ = model_file
    (tmp_path / "sub.csv").mkdir()
    result = cli("predict", str(path), "--input", str(folder / "x.npy"), "--output", output, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    no_traceback(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub.csv"]  # nothing written


# ---------------------------------------------------------------------------------------------
# a write that fails after the work: a fallback file, never a lost model
# ---------------------------------------------------------------------------------------------
def fail_first_replace(monkeypatch, targets: list[str]):
    """``os.replace`` onto a file named in ``targets`` fails once with a full disk (ENOSPC), as the
    last step of an atomic write would; everything else works."""
    real = os.replace
    failed: set[str] = set()

    def replace(src, dst, *args, **kwargs):
        name = Path(dst).name
        if name in targets and name not in failed:
            failed.add(name)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    return failed


def test_a_model_that_cannot_be_written_goes_to_a_fallback_file(tmp_path, monkeypatch, capsys):
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"the previous model")
    spec_out = tmp_path / "fixed.yaml"
    failed = fail_first_replace(monkeypatch, ["model.safetensors", "fixed.yaml"])
    status = cli_module.main(["train", str(small_spec(tmp_path)), "--quiet", "--save", str(target),
                              "--save-spec", str(spec_out)])
    err = capsys.readouterr().err
    assert failed == {"model.safetensors", "fixed.yaml"}
    assert status == 1, err  # the work is kept, but not where it was asked for
    assert target.read_bytes() == b"the previous model"  # the old file is intact
    fallback = tmp_path / "model.recovered.safetensors"
    assert f"saved to {fallback}" in err and "No space left on device" in err
    model = rp.load(fallback)
    assert rp.predict(model, np.zeros((2, 4))).shape == (2, 3)
    assert (tmp_path / "fixed.recovered.yaml").is_file() and not spec_out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary files left


def test_predictions_are_written_atomically_with_a_fallback(model_file, tmp_path, monkeypatch, capsys):
    folder, path, model, x = model_file
    out = tmp_path / "classes.csv"
    out.write_text("old predictions\n")
    fail_first_replace(monkeypatch, ["classes.csv"])
    status = cli_module.main(["predict", str(path), "--input", str(folder / "x.npy"), "--output", str(out)])
    err = capsys.readouterr().err
    assert status == 1 and "classes.recovered.csv" in err
    assert out.read_text() == "old predictions\n"
    expected = rp.predict(model, x).argmax(axis=1)
    assert np.loadtxt(tmp_path / "classes.recovered.csv", dtype=int).tolist() == expected.tolist()
    # the same command with a disk that works replaces the file whole
    monkeypatch.undo()
    args = ["predict", str(path), "--input", str(folder / "x.npy"), "--output", str(out)]
    assert cli_module.main(args) == 0
    assert np.loadtxt(out, dtype=int).tolist() == expected.tolist()
    npy = tmp_path / "scores.npy"
    assert cli_module.main(["predict", str(path), "--input", str(folder / "x.npy"), "--output", str(npy),
                            "--scores"]) == 0
    np.testing.assert_allclose(np.load(npy), rp.predict(model, x), rtol=1e-6)


def test_json_output_is_valid_json_with_non_finite_numbers_as_null():
    from retroprop import _json

    value = {"loss": float("nan"), "lr": np.float32(np.inf), "rows": np.array([1.5, -np.inf]),
             "n": np.int64(3), "ok": np.bool_(True), "nested": [(float("-inf"), "x")], "path": Path("a")}
    text = _json.dumps(value)
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"invalid JSON: {c}")) == {
        "loss": None, "lr": None, "rows": [1.5, None], "n": 3, "ok": True, "nested": [[None, "x"]],
        "path": "a"}
    with pytest.raises(ValueError):  # what the demos' summary.json and diagnose --json used to write
        json.dumps({"loss": float("nan")}, allow_nan=False)


def test_a_demo_summary_with_a_nan_loss_is_valid_json(tmp_path, monkeypatch):
    from retroprop import demos

    sweep = {"rates": [0.0, 1.0], "val_loss": [0.5, float("nan")], "final_loss": [np.float32(np.inf), 0.1]}
    monkeypatch.setattr(demos, "_dropout_sweep", lambda seed, backend=None: ("title", "lesson", [], sweep))
    monkeypatch.setattr(demos, "_claims", lambda name, runs, sweep: [("a claim", True)])
    monkeypatch.setattr(demos, "table", lambda result: "")
    monkeypatch.setattr(demos, "_report_runs", lambda result: [])
    monkeypatch.setattr(demos, "_figures", lambda result, folder, x: folder.mkdir(parents=True))
    monkeypatch.setattr(demos, "_report", lambda result, folder, seed: folder / "report.html")
    demos.run_demo("dropout", tmp_path, echo=lambda text: None)
    summary = json.loads((tmp_path / "dropout" / "summary.json").read_text(),
                         parse_constant=lambda c: pytest.fail(f"invalid JSON: {c}"))
    assert summary["sweep"]["val_loss"] == [0.5, None] and summary["sweep"]["final_loss"] == [None, 0.1]
