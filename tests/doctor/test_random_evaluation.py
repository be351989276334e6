"""A model that evaluates at random: a dropout still on when the loop evaluates (a functional dropout
called with its default ``training=True``, a mode flag of the model's own that ``eval()`` does not
switch). Two passes over the same rows then part, and the validation scores measure a randomly damaged
copy of the model: ``validation_mismatch``, case ``random_evaluation``, the user's to fix
(``evaluation_mode``). A model whose dropout follows its mode evaluates the same way twice and raises
nothing; the check changes nothing of the model's state or of the random stream."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import rules
from retroprop.doctor.adapter import RetropropAdapter
from retroprop.random import default_generator


def test_outputs_that_part_beyond_reduction_noise_are_named():
    same = np.arange(12.0).reshape(4, 3)
    assert rules.spread(same, same.copy()) == 0.0
    assert rules.random_evaluation(0.0, 32) == []
    # a GPU's reductions reorder float32 sums: parts in a million of the outputs' size are no dropout
    assert rules.random_evaluation(rules.spread(same, same * (1 + 1e-6)), 32) == []
    (finding,) = rules.random_evaluation(rules.spread(same, same * 1.5), 32, training=True)
    assert (finding.problem, finding.evidence["case"]) == ("validation_mismatch", "random_evaluation")
    assert finding.evidence["training_mode"] and finding.evidence["fix_by"] == "user"
    assert "training mode" in finding.explanation
    assert rules.random_evaluation(None, 32) == [] and rules.random_evaluation(float("nan"), 32) == []
    assert rules.spread(same, same[:2]) is None  # shapes that differ compare nothing
    assert rules.spread(same, np.full((4, 3), np.inf)) is None


class Net(nn.Module):
    """64-64-10 with a dropout between: an ``nn.Dropout`` (``kind="module"``), ``F.dropout`` following
    the mode (``"functional"``) or ``F.dropout`` left at ``training=True`` (``"always"``)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.fc1, self.fc2, self.drop = nn.Linear(64, 64), nn.Linear(64, 10), nn.Dropout(0.5)

    def forward(self, x):
        h = rp.functional.relu(self.fc1(x))
        if self.kind == "module":
            h = self.drop(h)
        else:
            h = rp.functional.dropout(h, 0.5, training=True if self.kind == "always" else self.training)
        return self.fc2(h)


def _fit(kind: str, validation: bool = True):
    data = rp.data.load_digits()
    x, y = (data.x / 16.0).astype(np.float32), data.y
    rp.manual_seed(0)
    model = Net(kind)
    return rp.fit(model, x[:1400], y[:1400], loss="cross_entropy",
                  optimizer=rp.optim.Adam(model.parameters(), lr=0.01), epochs=2,
                  batch_size=64, validation_data=(x[1400:], y[1400:]) if validation else None, verbose=0,
                  doctor=True, seed=0)


def test_a_dropout_left_on_at_evaluation_is_named_once():
    history = _fit("always")
    found = [d for d in history.diagnoses if d.evidence.get("case") == "random_evaluation"]
    assert len(found) == 1 and found[0].problem == "validation_mismatch"
    assert found[0].epoch == 0 and not found[0].evidence["training_mode"]
    assert [name for name, _ in found[0].remedies] == ["evaluation_mode"]


@pytest.mark.parametrize("kind", ["module", "functional"])
def test_a_dropout_that_follows_the_mode_raises_nothing(kind):
    assert not any(d.problem == "validation_mismatch" for d in _fit(kind).diagnoses)


def test_without_validation_scores_nothing_is_evaluated():
    assert not any(d.problem == "validation_mismatch" for d in _fit("always", validation=False).diagnoses)


def test_the_two_passes_change_nothing_of_the_model_or_the_random_stream():
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))
    model.train()
    adapter = RetropropAdapter(model, rp.optim.SGD(model.parameters(), lr=0.1))
    rows = np.random.default_rng(1).normal(size=(32, 8)).astype(np.float32)
    state = default_generator().bit_generator.state
    before = {name: value.copy() for name, value in model.state_dict().items()}
    assert adapter.evaluation_spread(rows) == 0.0  # evaluation mode: no dropout, running statistics
    assert adapter.evaluation_spread(rows, training=True) > rules.EVALUATION_SPREAD  # the dropout draws
    assert default_generator().bit_generator.state == state
    assert all(np.array_equal(before[name], value) for name, value in model.state_dict().items())
    assert model.training and all(m.training for m in model.modules())
