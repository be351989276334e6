"""``watch(..., validation_inputs=...)``: validation inputs scaled apart from the training inputs are
named before the first step, as under ``fit``."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

from retroprop.torch import watch  # noqa: E402

nn = torch.nn
torch.set_num_threads(1)


@pytest.mark.parametrize(("scale", "named"), [(255.0, True), (1.0, False)])
def test_validation_inputs_255_times_the_training_inputs_are_named_first(scale, named):
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(256, 16, generator=generator)
    x_val = torch.rand(64, 16, generator=generator) * scale
    y = (x[:, 0] > 0.5).long()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    doctor = watch(model, optimizer, loss=nn.CrossEntropyLoss(), inputs=x, targets=y, n_classes=2,
                   validation_inputs=x_val)
    for i in range(0, 256, 32):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
        loss.backward()
        doctor.observe(loss)
        optimizer.step()
    doctor.finish()
    problems = [d.problem for d in doctor.diagnoses]
    assert (problems[:1] == ["validation_mismatch"]) is named
    assert ("validation_mismatch" in problems) is named
