"""The torch probe's cheaper paths give the numbers the device-side ones gave: update ratios divided on the
host, the loss read by ``item()`` without a detached copy, the trained layers listed in the order they ran."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

from retroprop.torch import TorchProbe, watch  # noqa: E402

tnn = torch.nn
torch.set_num_threads(1)


def _mlp(dtype=torch.float32):
    torch.manual_seed(0)
    layers = [tnn.Linear(5, 8), tnn.ReLU(), tnn.Linear(8, 6), tnn.Tanh(), tnn.Linear(6, 3)]
    return tnn.Sequential(*layers).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_update_ratios_are_the_step_norm_over_the_weight_norm(dtype):
    model = _mlp(dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    probe = TorchProbe(model, optimizer)
    x, y = torch.randn(16, 5, dtype=dtype), torch.randint(0, 3, (16,))
    for _ in range(2):  # the second step has momentum
        probe.arm()
        optimizer.zero_grad()
        tnn.functional.cross_entropy(model(x), y).backward()
        probe.disarm()
        record = probe.collect(0, 0, 1.0)
        before = {name: module.weight.detach().clone() for name, module, _ in probe.weighted}
        probe.snapshot_weights(record)
        optimizer.step()
        ratios = probe.update_ratios()
        assert set(ratios) == set(before)
        for name, module, _ in probe.weighted:
            step = float(torch.linalg.vector_norm(module.weight.detach() - before[name]))
            norm = float(torch.linalg.vector_norm(before[name], dtype=torch.float64))
            assert ratios[name] == step / norm


def test_a_zero_weight_layer_is_measured_against_its_typical_norm():
    model = _mlp()
    with torch.no_grad():
        model[2].weight.zero_()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    probe = TorchProbe(model, optimizer)
    optimizer.zero_grad()
    tnn.functional.cross_entropy(model(torch.randn(8, 5)), torch.randint(0, 3, (8,))).backward()
    probe.snapshot_weights(probe.collect(0, 0, 1.0))
    optimizer.step()
    step = float(torch.linalg.vector_norm(model[2].weight.detach()))
    assert probe.update_ratios()["2"] == step / (48 / 8) ** 0.5  # sqrt(size / fan_in)


def test_frozen_and_unoptimized_layers_are_left_out_in_the_order_the_pass_ran():
    model = _mlp()
    model[0].weight.requires_grad_(False)
    optimizer = torch.optim.SGD([model[2].weight, model[2].bias], lr=0.1)  # layer 4 is not optimized
    probe = TorchProbe(model, optimizer)
    probe.arm()
    model(torch.randn(4, 5)).sum().backward()
    probe.disarm()
    assert [name for name, _, _ in probe._layers()] == ["2"]
    assert [layer.name for layer in probe.collect(0, 0, 1.0).layers] == ["2"]
    assert [name for name, _, _ in TorchProbe(model)._layers()] == ["2", "4"]  # no optimizer: all trained


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_observed_loss_is_recorded_as_its_value(dtype):
    model = _mlp(dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    doctor = watch(model, optimizer)
    seen = []
    for step in range(5):
        optimizer.zero_grad()
        loss = tnn.functional.cross_entropy(model(torch.randn(8, 5, dtype=dtype)), torch.randint(0, 3, (8,)))
        loss.backward()
        doctor.observe(loss if step != 3 else float(loss.detach()))
        seen.append(float(loss.detach()))
        optimizer.step()
    doctor.finish()
    assert doctor.core.recorder.losses.tolist() == seen
