"""``constant_targets``: training targets that hold one value (one class), found before the first step
and left to the user (a bug in how the targets were made, not in training)."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import checks


def test_labels_of_one_class_are_named_with_the_validation_classes():
    labels = (np.arange(300) % 10 / 255).astype(np.int64)  # labels divided by 255 and cast: all 0
    (finding,) = checks.constant_targets(labels, "cross_entropy", 10, validation_targets=np.arange(100) % 10)
    assert (finding.problem, finding.severity, finding.layer) == ("constant_targets", "critical", None)
    assert finding.evidence["value"] == 0 and finding.evidence["validation_classes"] == 10
    assert finding.evidence["fix_by"] == "user"
    assert finding.explanation.startswith("all 300 training targets are class 0 (the validation targets "
                                          "hold 10")
    one_hot = np.tile(np.eye(3)[1], (20, 1))  # one-hot rows, all class 1
    (finding,) = checks.constant_targets(one_hot, "cross_entropy_probs", 3)
    assert "are class 1:" in finding.explanation
    (finding,) = checks.constant_targets(np.zeros((20, 1)), "bce", 2)  # binary labels, all 0
    assert "are class 0" in finding.explanation


def test_a_regression_on_one_value_is_named_too():
    (finding,) = checks.constant_targets(np.full(50, 3.5), "mse")
    assert finding.evidence["classification"] is False and "are the value 3.5" in finding.explanation
    (finding,) = checks.constant_targets(np.tile([1.0, 2.0], (50, 1)), "mse")
    assert finding.evidence["value"] == [1.0, 2.0]


@pytest.mark.parametrize("targets", [
    np.array([0] * 99 + [1]),  # one sample of another class: imbalanced, not constant
    np.zeros(7, dtype=np.int64),  # seven rows: too few to judge
    np.array([0.0] * 20 + [np.nan]),  # a NaN is another problem
    np.tile([1.0, 2.0], (50, 1)) + np.eye(50, 2),  # a column that varies
    np.array(["a"] * 20),  # not numbers
    None,
])
def test_targets_that_vary_or_cannot_be_judged_are_not(targets):
    assert checks.constant_targets(targets, "cross_entropy", 2) == []


def _fit_digits(labels: str, lr: float, epochs: int, **doctor):
    """A digits MLP fit on its first 1,200 rows, with their labels or all 0, validated on the rest."""
    x, y = rp.data.load_digits()
    x = (x / 16).astype(np.float32)
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    targets = np.zeros(1200, dtype=np.int64) if labels == "zeros" else y[:1200]
    return rp.fit(model, x[:1200], targets, loss="cross_entropy",
                  optimizer=rp.optim.Adam(model.parameters(), lr=lr), epochs=epochs, batch_size=64,
                  validation_data=(x[1200:], y[1200:]), verbose=0, seed=0, **doctor)


def test_fit_names_it_first_and_repair_leaves_it_to_the_user():
    history = _fit_digits("zeros", 1e-3, 1, repair=True)
    first = history.diagnoses[0]
    assert (first.problem, first.step, first.evidence["validation_classes"]) == ("constant_targets", 0, 10)
    assert [remedy for remedy, _ in first.remedies] == ["fix_targets"]
    said = [t for t in history.treatments if t.problem == "constant_targets"]
    assert said and not any(t.applied for t in said)
    # the same split with its labels is not
    history = _fit_digits("labels", 1e-3, 1, doctor=True)
    assert "constant_targets" not in [d.problem for d in history.diagnoses]


def test_repair_leaves_its_consequences_to_the_fix_of_the_targets():
    history = _fit_digits("zeros", 1e-2, 5, repair=True)
    consequences = [d for d in history.diagnoses if d.caused_by is not None]
    assert consequences and all(d.caused_by["problem"] == "constant_targets" for d in consequences)
    assert not any(t.applied for t in history.treatments)  # no learning rate cut, no early stop
    left = {t.problem for t in history.treatments if t.outcome == "left"}
    assert left == {d.problem for d in consequences}
    said = next(t for t in history.treatments if t.outcome == "left")
    assert "consequence of constant_targets" in said.description
