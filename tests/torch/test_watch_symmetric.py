"""``symmetric_units`` on torch: the adapter reads the same symmetry as retroprop's from the same
weights (on the weights' device), and ``watch`` names a constant initialization before the first step."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

from retroprop.doctor.adapter import unit_symmetry  # noqa: E402
from retroprop.torch import watch  # noqa: E402
from retroprop.torch.adapter import TorchAdapter  # noqa: E402

nn = torch.nn
torch.set_num_threads(1)


def _model(constant: bool) -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6, 16), nn.Tanh(),
                          nn.Linear(16, 3))
    if constant:
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv1d)):
                nn.init.constant_(module.weight, 0.05)
                nn.init.zeros_(module.bias)
    return model


@pytest.mark.parametrize("constant", [True, False])
def test_the_torch_adapter_reads_what_retroprop_reads_from_the_same_weights(constant):
    model = _model(constant)
    adapter = TorchAdapter(model, torch.optim.SGD(model.parameters(), lr=0.1))
    weighted = [(name, m.weight.detach().numpy(), m.bias.detach().numpy())
                for name, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv1d))]
    assert adapter.unit_symmetry() == unit_symmetry(weighted)
    assert all(s["rows_identical"] for s in adapter.unit_symmetry()) is constant


def test_watch_names_a_constant_initialization_first_and_repair_redraws_the_weights():
    x = torch.randn(256, 1, 8, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0, :4].sum(1) > 0).long() + (x[:, 0, 4:].sum(1) > 0).long()
    found = {}
    for constant in (True, False):
        model = _model(constant)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        doctor = watch(model, optimizer, repair=True)
        for i in range(0, 256, 32):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
            loss.backward()
            doctor.observe(loss)
            optimizer.step()
        doctor.finish()
        found[constant] = doctor
    first = found[True].diagnoses[0]
    assert (first.problem, first.layer, first.step) == ("symmetric_units", "0", 0)
    assert [t.remedy for t in found[True].treatments if t.applied][:1] == ["he_init"]
    weight = found[True].adapter.model[0].weight.detach().numpy()
    assert np.ptp(weight.reshape(4, -1), axis=0).max() > 0  # the units differ now
    assert "symmetric_units" not in [d.problem for d in found[False].diagnoses]
