"""``weight_decay_too_high`` in a PyTorch loop: the decay of each layer read from ``param_groups``
(AdamW's decoupled decay left out), the diagnosis named first, and the decay lowered in place."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

from retroprop.torch import watch  # noqa: E402
from retroprop.torch.adapter import TorchAdapter  # noqa: E402

nn = torch.nn
torch.set_num_threads(1)


def data(seed: int, n: int = 512):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 16, generator=generator)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 0).long()


def mlp(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))


def train(seed: int, decay: float, repair: bool, epochs: int = 24):
    model = mlp(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=decay)
    doctor = watch(model, optimizer, repair=repair)
    x, y = data(seed)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        for i in range(0, len(x), 32):
            optimizer.zero_grad()
            loss = loss_fn(model(x[i:i + 32]), y[i:i + 32])
            loss.backward()
            doctor.observe(loss)
            optimizer.step()
    doctor.finish()
    vx, vy = data(seed + 100)
    with torch.no_grad():
        accuracy = float((model(vx).argmax(1) == vy).float().mean())
    return doctor, optimizer, accuracy


def test_the_decay_of_each_layer_is_read_from_param_groups():
    model = mlp(0)
    groups = [{"params": model[0].parameters(), "weight_decay": 0.1}, {"params": model[2].parameters()},
              {"params": model[4].parameters(), "weight_decay": 0.3}]
    assert TorchAdapter(model, torch.optim.SGD(groups, lr=0.1)).weight_decays() == {
        "0": 0.1, "2": 0.0, "4": 0.3}
    adamw = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.5)
    assert set(TorchAdapter(model, adamw).weight_decays().values()) == {0.0}

    class OlderAdamW(torch.optim.AdamW):  # a subclass, its groups without the flag (as in older torch)
        pass

    older = OlderAdamW(model.parameters(), lr=1e-3, weight_decay=0.5)
    for group in older.param_groups:
        group.pop("decoupled_weight_decay", None)
    assert set(TorchAdapter(model, older).weight_decays().values()) == {0.0}


@pytest.mark.parametrize("seed", [0, 1])
def test_a_decay_that_wipes_the_weights_is_named_first_and_lowered_in_place(seed):
    doctor, _, collapsed = train(seed, 0.2, repair=False)
    assert doctor.diagnoses[0].problem == "weight_decay_too_high"
    doctor, optimizer, repaired = train(seed, 0.2, repair=True)
    treatment = next(t for t in doctor.treatments if t.applied)
    assert (treatment.problem, treatment.remedy) == ("weight_decay_too_high", "lower_weight_decay")
    assert optimizer.param_groups[0]["weight_decay"] == pytest.approx(0.002)
    healthy, _, fixed = train(seed, 5e-4, repair=False)
    assert healthy.diagnoses == []
    # the loop's own steps (none made up): those spent before the treatment are lost, the rest learn
    assert collapsed < 0.55 < repaired and repaired >= fixed - 0.05
