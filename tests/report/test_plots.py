"""The report's figures: valid PNGs from real probe records, plain dicts, and damaged data."""

from __future__ import annotations

import copy
import sys

import numpy as np
import pytest

from retroprop.report import (
    activation_distributions,
    activation_samples,
    dead_units,
    dropout_sweep,
    gradient_flow,
    training_curves,
)
from retroprop.report.plots import NONFINITE_COLOUR
from retroprop.run_record import DiagnosisEntry, ProbeEntry, RunRecord, TreatmentEntry

matplotlib = pytest.importorskip("matplotlib")
from matplotlib import image as mpimg  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read_png(path) -> np.ndarray:
    """The image as an (h, w, channels) float array, after checking it is a real, non-blank PNG."""
    assert path.exists()
    assert path.read_bytes()[:8] == PNG_MAGIC
    pixels = mpimg.imread(path)
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    assert pixels.shape[0] >= 200 and pixels.shape[1] >= 400
    assert pixels[..., :3].std() > 0.05  # something was drawn
    return pixels


def has_colour(pixels: np.ndarray, hex_colour: str, tolerance: float = 0.03) -> bool:
    target = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return bool((np.abs(pixels[..., :3] - target).max(axis=-1) < tolerance).any())


def plain_copies(records) -> list[dict]:
    """The probes as a run record's JSON dicts (``RunRecord.to_dict()["probes"]``), to damage."""
    return [copy.deepcopy(ProbeEntry.from_probe(r).to_dict()) for r in records]


# -- gradient flow -------------------------------------------------------------------------------
def test_gradient_flow_from_records_and_from_plain_dicts(runs, tmp_path):
    for name, records in (("objects", runs.healthy.records), ("plain", plain_copies(runs.healthy.records))):
        path = gradient_flow(records, tmp_path / "deep" / "down" / f"{name}.png", title="healthy")
        assert path == tmp_path / "deep" / "down" / f"{name}.png"
        assert not has_colour(read_png(path), NONFINITE_COLOUR)


def test_gradient_flow_marks_nan_inf_and_zero_gradients(runs, tmp_path):
    records = plain_copies(runs.healthy.records)
    records[3]["layers"][0]["grad_norm"] = float("nan")
    records[4]["layers"][1]["grad_norm"] = float("inf")
    records[4]["layers"][1]["nonfinite_grad"] = 7
    records[5]["layers"][2]["grad_norm"] = 0.0
    pixels = read_png(gradient_flow(records, tmp_path / "gf.png"))
    assert has_colour(pixels, NONFINITE_COLOUR)  # non-finite cells are drawn in their own colour


def test_gradient_flow_without_relu_and_with_a_changed_model(runs, tmp_path):
    read_png(gradient_flow(runs.tanh.records, tmp_path / "tanh.png"))
    changed = plain_copies(runs.healthy.records[:4]) + plain_copies(runs.tanh.records[4:8])
    for record in changed[4:]:  # a layer inserted, as a repair that adds BatchNorm1d does
        record["layers"].insert(1, dict(record["layers"][0], layer="1", label="layer 2, BatchNorm1d 24",
                                        fan_in=None, size=24))
    read_png(gradient_flow(changed, tmp_path / "changed.png"))


def test_gradient_flow_with_nothing_to_show(tmp_path):
    read_png(gradient_flow([], tmp_path / "empty.png"))
    empty = ProbeEntry(step=0, epoch=0, loss=1.0, replayed=False, grad_norm_total=0.0, layers=(),
                       activations=())
    read_png(gradient_flow([empty], tmp_path / "no_layers.png"))


# -- dead units --------------------------------------------------------------------------------
def test_dead_units_shows_the_dead_relu_network(runs, tmp_path):
    pixels = read_png(dead_units(runs.dead.records, tmp_path / "dead.png"))
    assert has_colour(pixels, "#252525")  # dead units
    steps = [r.step for r in runs.dead.records]
    read_png(dead_units(plain_copies(runs.dead.records), tmp_path / "steps.png", steps=[steps[2], 10_000],
                        window=3))
    read_png(dead_units(runs.repaired.records, tmp_path / "repaired.png", window=1))


def test_dead_units_without_relu_says_so(runs, tmp_path):
    read_png(dead_units(runs.tanh.records, tmp_path / "tanh.png"))
    read_png(dead_units([], tmp_path / "none.png"))


def test_dead_units_with_nan_activations(runs, tmp_path):
    records = plain_copies(runs.healthy.records)
    for record in records[-3:]:
        for activation in record["activations"]:
            activation["nonfinite"] = 5
            activation["mean"] = activation["std"] = "NaN"  # as a record's JSON writes NaN
            activation["fired"][:3] = [False] * 3
    for record in records[:2]:
        for layer in record["layers"]:
            layer["grad_norm"] = float("nan")
    read_png(dead_units(records, tmp_path / "nan.png"))


# -- activation distributions -----------------------------------------------------------------
def test_activation_distributions_of_a_real_model(runs, tmp_path):
    samples = activation_samples(runs.healthy.model, runs.healthy.x)
    assert list(samples) == ["relu after layer 1, Linear 2→24", "relu after layer 2, Linear 24→16"]
    assert samples["relu after layer 1, Linear 2→24"].shape == (90 * 24,)
    assert runs.healthy.model.training  # the mode is restored
    read_png(activation_distributions(samples, tmp_path / "relu.png", title="ReLU"))
    tanh = activation_samples(runs.tanh.model, runs.tanh.x, max_values=500)
    assert all(v.size == 500 for v in tanh.values())
    read_png(activation_distributions(tanh, tmp_path / "tanh.png"))


def test_activation_distributions_with_odd_values(tmp_path):
    rng = np.random.default_rng(0)
    samples = {
        "sigmoid after layer 1, Linear 64→64": 1 / (1 + np.exp(-rng.normal(scale=8, size=2000))),
        "with NaN and Inf": np.concatenate([rng.normal(size=500), [np.nan, np.inf, -np.inf]]),
        "all NaN": np.full(10, np.nan),
        "empty": np.zeros(0),
        "constant": np.zeros((4, 5)),
    }
    read_png(activation_distributions(samples, tmp_path / "odd.png"))
    read_png(activation_distributions([("only", [1.0, 1.0, 1.0])], tmp_path / "pairs.png"))
    read_png(activation_distributions({}, tmp_path / "none.png"))


# -- training curves --------------------------------------------------------------------------
def test_training_curves_with_diagnoses_and_treatments(runs, tmp_path):
    run = runs.repaired
    assert run.doctor.diagnoses and any(t.applied for t in run.doctor.treatments)
    read_png(training_curves(run.history, tmp_path / "objects.png", run.doctor.diagnoses,
                             run.doctor.treatments, title="repaired"))
    record = RunRecord.from_run(run.history, run.doctor)
    read_png(training_curves(record, tmp_path / "entries.png", record.diagnoses, record.treatments))
    as_dicts = record.to_dict()  # a record's JSON dicts work too, checked as a record's are
    read_png(training_curves(RunRecord.from_dict(as_dicts), tmp_path / "dicts.png", as_dicts["diagnoses"],
                             as_dicts["treatments"]))
    with pytest.raises(ValueError, match=r"diagnoses\[0\]: unknown field 'layer_label'"):
        training_curves(record, tmp_path / "never.png", [d.to_dict() for d in run.doctor.diagnoses])
    assert isinstance(TreatmentEntry.from_dict(as_dicts["treatments"][0]), TreatmentEntry)


def test_training_curves_from_plain_lists_with_nan_and_one_epoch(tmp_path):
    nonfinite = DiagnosisEntry(problem="non_finite", layer=None, label=None, step=70, epoch=2,
                               severity="critical", evidence={}, explanation="NaN", remedies=(),
                               escalated_from=None, caused_by=None)
    read_png(training_curves(RunRecord(logs={"loss": [2.3, 1.1, float("nan")],
                                             "val_loss": [2.2, 1.3, float("inf")]}),
                             tmp_path / "nan.png", [nonfinite]))
    read_png(training_curves(RunRecord(logs={"loss": [0.5], "accuracy": [0.8]}), tmp_path / "one.png"))
    read_png(training_curves(RunRecord(), tmp_path / "empty.png"))


# -- dropout sweep ----------------------------------------------------------------------------
def test_dropout_sweep(tmp_path):
    rates = [0.0, 0.2, 0.5, 0.8, 1.0]
    train, val = [0.99, 0.97, 0.94, 0.7, 0.1], [0.93, 0.95, 0.94, 0.65, 0.1]
    read_png(dropout_sweep(rates, train, val, tmp_path / "sweep.png", train_std=[0.01] * 5,
                           val_std=[0.02] * 5, majority=0.1, title="digits"))
    read_png(dropout_sweep(rates[::-1], train[::-1], val[::-1], tmp_path / "plain.png"))


# -- no display, a clear message without matplotlib -------------------------------------------
def test_figures_leave_the_backend_alone_and_ask_for_the_plot_extra(runs, tmp_path, monkeypatch):
    backend = matplotlib.get_backend()
    gradient_flow(runs.healthy.records, tmp_path / "gf.png")
    assert matplotlib.get_backend() == backend
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match=r"pip install retroprop\[plot\]"):
        gradient_flow(runs.healthy.records, tmp_path / "never.png")
    assert not (tmp_path / "never.png").exists()
