"""The doctor on torch names a loss that passes the model no gradient, as on retroprop."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from retroprop.torch import watch  # noqa: E402
from tests.torch.test_watch import data, mlp  # noqa: E402


def clipped_log_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """-sum(y * log(clip(scores))) on raw scores: the softmax forgotten, the clip hides the NaN."""
    onehot = nn.functional.one_hot(labels, scores.shape[-1]).to(scores.dtype)
    return -(onehot * scores.clamp(1e-7, 1 - 1e-7).log()).sum(-1).mean()


def test_a_hand_written_loss_flat_in_the_outputs_is_a_loss_output_mismatch_on_torch():
    model = mlp(0)
    with torch.no_grad():  # every score below 0: each one sits in the clip, where the log passes nothing
        [m for m in model.modules() if isinstance(m, nn.Linear)][-1].bias.fill_(-20.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    doctor = watch(model, optimizer)
    x, y = data()
    for _ in range(60):
        optimizer.zero_grad()
        loss = clipped_log_loss(model(x), y)
        loss.backward()
        doctor.observe(loss)
        optimizer.step()
    doctor.finish()
    (found,) = [d for d in doctor.diagnoses if d.problem == "loss_output_mismatch"]
    assert found.evidence["case"] == "no_gradient"
    record = doctor.core.recorder.records[-1]
    assert record.output_bias_grad == 0.0 and record.grad_norm_total == 0.0


def test_the_output_bias_gradient_is_read_by_the_torch_probe():
    model = mlp(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    doctor = watch(model, optimizer)
    x, y = data()
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    doctor.observe(loss)
    optimizer.step()
    record = doctor.core.recorder.records[0]
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    assert math.isclose(record.output_bias_grad, float(last.bias.grad.norm()), rel_tol=1e-6)
    doctor.finish()
