"""A regression's blind guess (predicting the targets' mean) is the mark its loss is judged against: a loss
that fell far from a bad start but stalls above that mark has fitted nothing."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import Doctor, rules


def test_a_loss_far_below_its_start_but_above_a_blind_guess_is_not_fitted() -> None:
    rng = np.random.default_rng(0)
    losses = list(np.r_[np.linspace(48.0, 0.5, 50), 0.5 * (1 + 0.01 * rng.standard_normal(400))])
    assert rules.loss_trend(losses) == "fitted"  # 1 % of its start
    assert rules.loss_trend(losses, chance_loss=0.32) == "stalled"  # yet above predicting the mean
    assert rules.loss_trend(losses, chance_loss=50.0) == "fitted"  # the lower of the two marks decides


def _backwards_relu(start: float, seed: int = 0) -> rp.History:
    """One ReLU unit learning y = relu(x), its weight started at ``start`` (Cross Validated 379884's
    mechanism: from -10 the unit is active only where the target is 0, so the weight slides to 0)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4000, 1)).astype(np.float32)
    rp.manual_seed(seed)
    unit = nn.Linear(1, 1, bias=False)
    unit.weight.data[...] = start
    model = nn.Sequential(unit, nn.ReLU())
    optimizer = rp.optim.SGD(model.parameters(), lr=0.05)
    return rp.fit(model, x, np.maximum(x, 0.0), loss="mse", optimizer=optimizer, epochs=30, batch_size=100,
                  doctor=Doctor(), seed=seed, verbose=0)


def test_a_unit_stuck_above_the_blind_guess_is_named_underfitting() -> None:
    history = _backwards_relu(-10.0)
    assert history.history["loss"][-1] > np.var(np.maximum(np.random.default_rng(0).standard_normal(4000), 0))
    found = [d for d in history.diagnoses if d.problem == "underfitting"]
    assert found, [d.problem for d in history.diagnoses]
    # var(relu(x)) for x ~ N(0, 1) is 0.34, read on an even sample of at most 1024 rows
    assert found[0].evidence["reference_loss"] == pytest.approx(0.34, abs=0.05)


def test_the_same_unit_started_the_right_way_fits_without_an_alarm() -> None:
    history = _backwards_relu(10.0)
    assert history.history["loss"][-1] < 1e-3
    assert history.diagnoses == []


def test_a_binary_losss_blind_guess_is_the_entropy_of_the_targets_mean() -> None:
    from retroprop.doctor.checks import mean_guess_loss

    balanced = np.array([0, 1] * 50, dtype=np.float32)
    assert mean_guess_loss("bce_with_logits", balanced) == pytest.approx(np.log(2))
    skewed = np.array([1] * 10 + [0] * 90, dtype=np.float32)
    assert mean_guess_loss("bce", skewed) == pytest.approx(-(0.1 * np.log(0.1) + 0.9 * np.log(0.9)))
    soft = np.full(100, 0.3, dtype=np.float32)  # linear in the target: a soft target's mean counts alike
    assert mean_guess_loss("bce", soft) == pytest.approx(-(0.3 * np.log(0.3) + 0.7 * np.log(0.7)))
    assert mean_guess_loss("bce", np.ones(100)) is None  # one class: the guess is exact
    assert mean_guess_loss("bce", np.arange(100.0)) is None  # no probabilities to score


def test_fit_gives_the_doctor_a_binary_blind_guess() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 4)).astype(np.float32)
    y = (x[:, :1] > 1.0).astype(np.float32)  # about 16 % positives
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    doctor = Doctor()
    rp.fit(model, x, y, loss="bce_with_logits", optimizer=rp.optim.SGD(model.parameters(), lr=0.1),
           epochs=1, batch_size=50, doctor=doctor, verbose=0)
    p = y.mean()
    assert doctor.chance_loss == pytest.approx(-(p * np.log(p) + (1 - p) * np.log(1 - p)), rel=1e-5)


def test_a_classification_loss_that_declares_a_squared_error_has_no_cross_entropy_guess() -> None:
    class OneHotSquaredError(nn.Module):
        """Nielsen's quadratic cost: the labels one-hot coded inside the loss."""

        classification = True
        doctor_loss_kind = "mse"

        def forward(self, output, target):
            onehot = rp.tensor(np.eye(output.shape[-1])[np.asarray(target.data, dtype=np.int64)])
            diff = output - onehot
            return (diff * diff).sum() * 0.5 / output.shape[0]

    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 4)).astype(np.float32)
    y = rng.integers(0, 3, 120)
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 3), nn.Sigmoid())
    doctor = Doctor()
    history = rp.fit(model, x, y, loss=OneHotSquaredError(),
                     optimizer=rp.optim.SGD(model.parameters(), lr=0.1), epochs=1, batch_size=30,
                     doctor=doctor, verbose=0)
    assert doctor.chance_loss is None  # ln 3 scores a cross-entropy, not this cost
    # the labels are coded as one-hot rows, inside the sigmoid's range: no target is out of its reach
    assert all(d.evidence.get("case") != "output_range" for d in history.diagnoses)


def _spiral_fit(hidden: int | None, seed: int = 0) -> rp.History:
    """A full-batch classifier on a three-armed spiral (cs231n's case study): a linear softmax reaches
    the minimum of its loss and weight decay, its steps shrinking to nothing, far below what the data
    allows; a hidden layer of ReLUs fits the spiral."""
    rng = np.random.default_rng(seed)
    per_class, classes = 100, 3
    x, y = [], []
    for label in range(classes):
        radius = np.linspace(0.0, 1.0, per_class)
        angle = np.linspace(label * 4, (label + 1) * 4, per_class) + rng.normal(0, 0.2, per_class)
        x.append(np.c_[radius * np.sin(angle), radius * np.cos(angle)])
        y.append(np.full(per_class, label))
    inputs, labels = np.concatenate(x).astype(np.float32), np.concatenate(y)
    rp.manual_seed(seed)
    layers = [nn.Linear(2, classes)] if hidden is None else [nn.Linear(2, hidden), nn.ReLU(),
                                                              nn.Linear(hidden, classes)]
    model = nn.Sequential(*layers)
    optimizer = rp.optim.SGD(model.parameters(), lr=1.0, weight_decay=1e-3)
    return rp.fit(model, inputs, labels, loss="cross_entropy", optimizer=optimizer, epochs=1500,
                  batch_size=len(inputs), doctor=Doctor(), seed=seed, verbose=0)


def test_a_linear_model_at_its_minimum_on_a_spiral_is_named_underfitting() -> None:
    found = [d for d in _spiral_fit(None).diagnoses if d.problem == "underfitting"]
    assert found, "the linear model's steps shrank at its minimum: no rate too small to blame"
    assert _spiral_fit(100).history["accuracy"][-1] > 0.9  # the data allows a fit
