"""loss_output_mismatch, case ``loss_not_fit``: a loss that falls while the predictions stray from the
regression targets (TheDeepChecker's regrNN with a hand-written, clipped cross-entropy as its loss falls
to 0 on any output above 1).

The measure on plain numbers (``rules.prediction_fit``), the rule (``rules.loss_not_fit``), the
adapters' evaluation-mode outputs (nothing of the model's state changed), and ``fit`` end to end: the
clipped log loss is named, the same network under mse raises nothing, and a hand-written mse on targets
far from 0, whose loss falls a thousandfold by learning their mean while its predictions stay worse than
that mean, is not named (its predictions at the first step were farther still).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import checks, rules
from retroprop.doctor.adapter import RetropropAdapter
from retroprop.nn.loss import _Loss


def test_prediction_fit_reads_error_and_ranks_of_regression_targets_only():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((50, 1))
    perfect = rules.prediction_fit(y.copy(), y)
    assert perfect["error"] == 0.0 and perfect["rank_correlation"] == pytest.approx(1.0)
    mean = rules.prediction_fit(np.full_like(y, y.mean()), y)
    assert mean["error"] == pytest.approx(1.0) and mean["rank_correlation"] == 0.0
    monotone = rules.prediction_fit(np.exp(3 * y), y)  # far off in value, the same order
    assert monotone["error"] > 1 and monotone["rank_correlation"] == pytest.approx(1.0)
    assert rules.prediction_fit(y[:, 0], y)["rows"] == 50  # (N,) against (N, 1)
    # no regression: class indices against class scores, binary or one-hot targets, too few rows
    assert rules.prediction_fit(rng.standard_normal((50, 3)), rng.integers(0, 3, 50)) is None
    assert rules.prediction_fit(rng.standard_normal((50, 1)), rng.integers(0, 2, (50, 1))) is None
    assert rules.prediction_fit(rng.standard_normal((50, 3)), np.eye(3)[rng.integers(0, 3, 50)]) is None
    assert rules.prediction_fit(y[:rules.FIT_MIN_ROWS - 1], y[:rules.FIT_MIN_ROWS - 1]) is None
    assert rules.prediction_fit(np.full_like(y, np.nan), y) is None


def fit_measure(error: float, rank: float) -> dict[str, Any]:
    return {"error": error, "rank_correlation": rank, "rows": 256}


def test_named_on_the_second_fitted_epoch_whose_predictions_stray():
    start = fit_measure(4.0, 0.1)
    astray = fit_measure(60.0, 0.35)
    assert rules.loss_not_fit([astray], start) == []  # one epoch is no pattern
    (finding,) = rules.loss_not_fit([astray, astray], start)
    assert finding.problem == "loss_output_mismatch" and finding.severity == "critical"
    assert finding.evidence["case"] == "loss_not_fit" and finding.evidence["fix_by"] == "user"
    assert finding.evidence["error_at_start"] == 4.0
    assert "smallest somewhere other than at the targets" in finding.explanation
    assert rules.loss_not_fit([astray, astray], None) == []  # no start to compare with


@pytest.mark.parametrize("latest", [
    fit_measure(0.4, 0.75),  # closer to the targets than their mean: a fit, however poor
    fit_measure(1.7, 0.55),  # worse than the mean, but better than at the start (a mean learned)
    fit_measure(60.0, 0.97),  # far off in value, in the targets' order: a loss on a map of the outputs
])
def test_not_named_when_the_predictions_approach_the_targets_in_some_sense(latest):
    start = fit_measure(1250.0, -0.06)
    assert rules.loss_not_fit([latest, latest], start) == []


class ClippedLogLoss(_Loss):
    """TensorFlow's hand-written ``-sum(y * log(clip(out, 1e-10, 1)))`` on a regression output."""

    def forward(self, input: Any, target: Any) -> Any:
        y = np.asarray(getattr(target, "data", target), dtype=np.float32).reshape(input.shape)
        return -(input.clip(1e-10, 1.0).log() * y).sum()


class HandWrittenMSE(_Loss):
    def forward(self, input: Any, target: Any) -> Any:
        y = np.asarray(getattr(target, "data", target), dtype=np.float32).reshape(input.shape)
        return ((input - rp.tensor(y)) ** 2).mean()


def regression(seed: int, offset: float = 0.0, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """400 rows of 6 features; targets a noisy smooth function of them, min-max scaled to [0, 1]
    (then ``offset + scale * y``)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((400, 6)).astype(np.float32)
    y = np.tanh(x @ rng.standard_normal(6) / 2) + 0.1 * rng.standard_normal(400)
    y = (y - y.min()) / (y.max() - y.min())
    return x, (offset + scale * y).astype(np.float32).reshape(-1, 1)


def train(loss: Any, seed: int, *, offset: float = 0.0, scale: float = 1.0, epochs: int = 15,
          lr: float = 1e-3) -> tuple[Any, rp.Doctor]:
    x, y = regression(seed, offset, scale)
    rp.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))
    doctor = rp.Doctor()
    history = rp.fit(model, x[:300], y[:300], loss=loss, optimizer=rp.optim.Adam(model.parameters(), lr=lr),
                     epochs=epochs, batch_size=32, validation_data=(x[300:], y[300:]), verbose=0,
                     doctor=doctor, seed=seed)
    return history, doctor


@pytest.mark.parametrize("seed", [0, 2])
def test_fit_names_a_clipped_log_loss_on_a_regression(seed):
    history, _ = train(ClippedLogLoss(), seed)
    found = [d for d in history.diagnoses if d.problem == "loss_output_mismatch"]
    assert [d.evidence["case"] for d in found] == ["loss_not_fit"]
    assert found[0].evidence["error"] > max(1.0, found[0].evidence["error_at_start"])
    assert found[0].remedies[0][0] == "regression_loss"
    mse, doctor = train("mse", seed)  # the same network and data under mse: healthy
    assert mse.diagnoses == []
    assert doctor._fit_start is None  # a library regression loss is smallest at the targets: not measured


def test_fit_leaves_a_hand_written_mse_that_learned_the_targets_mean_alone():
    history, doctor = train(HandWrittenMSE(), 0, offset=100.0, scale=10.0, epochs=30, lr=1e-2)
    assert history.history["loss"][-1] < rules.FITTED_LEVEL * history.history["loss"][0]
    latest = doctor._fit[-1]  # measured: the loss fell that far, and the predictions are still poor
    assert latest["error"] >= 1.0 and latest["rank_correlation"] ** 2 < 1 - rules.FITTED_LEVEL
    assert doctor._fit_start["error"] > latest["error"]  # but far better than at the first step
    assert not any(d.evidence.get("case") == "loss_not_fit" for d in history.diagnoses)


def test_the_adapter_gives_evaluation_outputs_and_changes_nothing():
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2))
    x = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    model.train()
    adapter = RetropropAdapter(model)
    probe = adapter.probe()
    probe.arm()
    out = adapter.outputs(x)
    assert out.dtype == np.float64 and out.shape == (16, 2)
    np.testing.assert_array_equal(out, adapter.outputs(x))  # dropout off: the same outputs twice
    assert model.training and all(m.training for m in model.modules()) and probe.armed
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    assert adapter.outputs(x[:0]) is None


def test_the_doctors_own_pass_leaves_what_the_armed_probe_measured():
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    rng = np.random.default_rng(0)
    adapter = RetropropAdapter(model)
    probe = adapter.probe()
    probe.arm()
    loss = model(rp.tensor(rng.standard_normal((32, 4)).astype(np.float32))).sum()
    loss.backward()
    adapter.outputs(rng.standard_normal((16, 4)).astype(np.float32))  # not a training pass
    assert probe.armed
    (relu,) = probe.collect(0, 0, float(loss.data)).activations
    assert relu.samples == 32  # the training batch's, neither lost nor added to


# -- a classification: the loss fits, the classes do not -----------------------------------------
def test_classes_fit_and_majority_share_read_plain_numbers():
    assert checks.majority_share(np.array([0, 1, 1, 2])) == 0.5
    assert checks.majority_share(np.eye(3)[[0, 0, 0, 2]]) == 0.75  # one-hot rows, by their argmax
    assert checks.majority_share(np.array([0.5, 1.5])) is None  # no class labels
    assert rules.classes_fit(0.3, 0.1, 256) == {"task": "classification", "accuracy": 0.3, "majority": 0.1,
                                                "rows": 256}
    assert rules.classes_fit(None, 0.1, 256) is None and rules.classes_fit(0.3, math.nan, 256) is None


def test_a_loss_fitted_while_the_classes_sort_by_chance_is_named_on_the_second_epoch():
    chance = rules.classes_fit(0.11, 0.1, 256)
    assert rules.loss_not_fit([chance], None) == []  # one epoch is no pattern
    (finding,) = rules.loss_not_fit([chance, chance], None)  # no regression start needed
    assert (finding.problem, finding.evidence["case"], finding.evidence["fix_by"]) == (
        "loss_output_mismatch", "classes_not_fit", "user")
    assert "no better than always answering the most frequent class (10%)" in finding.explanation
    # two standard errors above the majority's share on 256 rows (0.0375): sorting, however poorly
    assert rules.loss_not_fit([chance, rules.classes_fit(0.14, 0.1, 256)], None) == []
    assert rules.loss_not_fit([rules.classes_fit(0.97, 0.1, 256)] * 2, None) == []


class LogOfScores(_Loss):
    """A hand-written cross-entropy on raw scores (no softmax): -mean(y log(clip(out)) + (1 - y)
    log(clip(1 - out))), unbounded below as the scores grow."""

    classification = True

    def forward(self, input: Any, target: Any) -> Any:
        y = np.eye(input.shape[-1], dtype=np.float32)[np.asarray(getattr(target, "data", target))]
        per_unit = y * input.clip(1e-10, np.inf).log() + (1.0 - y) * (1.0 - input).clip(1e-10, np.inf).log()
        return -per_unit.mean()


def test_fit_names_a_log_loss_on_raw_class_scores_and_not_cross_entropy():
    x, y = rp.data.load_digits()
    x = (x / 16.0).astype(np.float32)

    def train_digits(loss: Any) -> Any:
        rp.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
        return rp.fit(model, x[:1200], y[:1200], loss=loss, optimizer=rp.optim.Adam(model.parameters(),
                      lr=1e-2), epochs=25, batch_size=50, validation_data=(x[1200:], y[1200:]), verbose=0,
                      doctor=True, seed=0)

    history = train_digits(LogOfScores())
    found = [d for d in history.diagnoses if d.evidence.get("case") == "classes_not_fit"]
    assert found and found[0].remedies[0][0] == "classification_loss"
    # every output grows without bound, the right class's rewarded more than the others' cost
    assert history.history["loss"][-1] < 0 and history.history["val_accuracy"][-1] < 0.2
    healthy = train_digits("cross_entropy")
    assert healthy.diagnoses == [] and healthy.history["val_accuracy"][-1] > 0.9


def test_a_classification_that_started_far_above_a_blind_guess_is_measured_only_below_it():
    """Oversized initial weights start the loss a thousand times above a blind guess's: falling to a
    tenth of that start only reaches the guess, where sorting by chance is no contradiction."""
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 10))
    doctor = rp.Doctor()
    labels = np.arange(200) % 10
    doctor.attach(model, rp.optim.SGD(model.parameters(), lr=0.1), chance_loss=math.log(10),
                  targets=labels, n_classes=10, loss="cross_entropy")
    for loss in (3000.0,) * 5:
        doctor.observe(loss)

    def epoch(loss: float) -> list:
        for _ in range(3):
            doctor.observe(loss)
        return doctor.end_epoch(logs={"loss": loss, "accuracy": 0.1})

    assert epoch(2.3) == [] and epoch(2.3) == [] and doctor._fit == []  # at the guess: not measured
    assert epoch(0.1) == []  # below a tenth of the guess's loss: the first of two epochs
    (found,) = [d for d in epoch(0.1) if d.problem == "loss_output_mismatch"]
    assert found.evidence["case"] == "classes_not_fit" and found.evidence["majority"] == 0.1
