"""A PyTorch loop whose evaluation draws at random: ``F.dropout`` at its default ``training=True`` (so
``model.eval()`` does not turn it off), or no ``model.eval()`` before the validation pass of a model with
``nn.Dropout``. The watch keeps a few rows of the first call the loop makes without gradients (or in
evaluation mode), and at the epoch's end runs the model twice over them as the loop did:
``validation_mismatch``, case ``random_evaluation``. A loop that evaluates a model whose dropout follows
its mode raises nothing; the check leaves the model's modes, buffers and the random streams as they were."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

import retroprop as rp  # noqa: E402
from retroprop.doctor import rules  # noqa: E402
from retroprop.torch import watch  # noqa: E402
from retroprop.torch.adapter import TorchAdapter  # noqa: E402

nn = torch.nn
F = nn.functional


class Net(nn.Module):
    def __init__(self, functional: bool, follows_mode: bool) -> None:
        super().__init__()
        self.fc1, self.fc2, self.drop = nn.Linear(64, 64), nn.Linear(64, 10), nn.Dropout(0.5)
        self.functional, self.follows_mode = functional, follows_mode

    def forward(self, x):
        h = F.relu(self.fc1(x))
        if self.functional:
            h = F.dropout(h, 0.5, training=self.training) if self.follows_mode else F.dropout(h, 0.5)
        else:
            h = self.drop(h)
        return self.fc2(h)


def run(functional: bool, follows_mode: bool = False, calls_eval: bool = True):
    data = rp.data.load_digits()
    x = torch.as_tensor((data.x / 16.0).astype(np.float32))
    y = torch.as_tensor(data.y.astype(np.int64))
    torch.manual_seed(0)
    model = Net(functional, follows_mode)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    doctor = watch(model, optimizer)
    for epoch in range(2):
        model.train()
        for i in range(0, 1400, 64):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x[i:i + 64]), y[i:i + 64])
            loss.backward()
            doctor.observe(loss)
            optimizer.step()
        if calls_eval:
            model.eval()
        with torch.no_grad():
            accuracy = float((model(x[1400:]).argmax(1) == y[1400:]).float().mean())
        doctor.end_epoch(epoch, {"loss": loss.item(), "val_accuracy": accuracy})
    doctor.finish()
    return [d for d in doctor.diagnoses if d.problem == "validation_mismatch"]


def test_a_functional_dropout_left_at_training_true_is_named():
    (found,) = run(functional=True)
    assert found.evidence["case"] == "random_evaluation" and not found.evidence["training_mode"]
    assert found.epoch == 0 and [name for name, _ in found.remedies] == ["evaluation_mode"]


def test_a_loop_that_evaluates_in_training_mode_is_named():
    (found,) = run(functional=False, calls_eval=False)
    assert found.evidence["training_mode"] and "no model.eval()" in found.explanation


@pytest.mark.parametrize("functional", [False, True])
def test_a_dropout_that_follows_the_mode_raises_nothing(functional):
    assert run(functional, follows_mode=True) == []


def test_the_two_passes_leave_the_model_and_the_random_streams_as_they_were():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))
    adapter = TorchAdapter(model, torch.optim.SGD(model.parameters(), lr=0.1))
    rows = torch.randn(32, 8)
    state, before = torch.get_rng_state(), {k: v.clone() for k, v in model.state_dict().items()}
    assert adapter.evaluation_spread(rows) == 0.0
    assert adapter.evaluation_spread(rows, training=True) > rules.EVALUATION_SPREAD
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(m.training for m in model.modules()) and not adapter.evaluating
