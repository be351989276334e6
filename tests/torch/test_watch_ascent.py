"""``gradient_ascent`` in a PyTorch loop: a maximizing optimizer is named first and repaired in place;
the cosine of each step with its gradient is read in the optimizer's step post-hook, as retroprop's."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

from retroprop.torch import watch  # noqa: E402

nn = torch.nn
torch.set_num_threads(1)


def data(seed: int, n: int = 256):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=generator)
    return x, x @ torch.randn(8, 1, generator=generator)


def mlp(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))


def train(seed: int, maximize: bool, repair: bool, epochs: int = 8):
    model = mlp(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, maximize=maximize)
    doctor = watch(model, optimizer, repair=repair)
    x, y = data(seed)
    with torch.no_grad():
        start = float(nn.functional.mse_loss(model(x), y))
    for _ in range(epochs):
        for i in range(0, len(x), 32):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x[i:i + 32]), y[i:i + 32])
            loss.backward()
            doctor.observe(loss)
            optimizer.step()  # with repair=True the doctor treats in the step's pre-hook
    doctor.finish()
    with torch.no_grad():
        final = float(nn.functional.mse_loss(model(x), y))
    return doctor, optimizer, final / start


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_maximizing_torch_optimizer_is_named_first_and_made_to_minimize(seed):
    doctor, _, climbed = train(seed, maximize=True, repair=False)
    assert doctor.diagnoses[0].problem == "gradient_ascent"
    assert all(layer.update_cosine > 0 for layer in doctor.core.recorder.records[0].layers)
    doctor, optimizer, repaired = train(seed, maximize=True, repair=True)
    treatment = next(t for t in doctor.treatments if t.applied)
    assert (treatment.problem, treatment.remedy) == ("gradient_ascent", "descend")
    assert optimizer.param_groups[0]["maximize"] is False
    healthy_doctor, _, fixed = train(seed, maximize=False, repair=False)
    assert "gradient_ascent" not in [d.problem for d in healthy_doctor.diagnoses]
    assert all(layer.update_cosine < 0 for layer in healthy_doctor.core.recorder.records[0].layers)
    # the loop's steps are its own (none made up): the steps spent climbing are lost, the rest descend
    assert climbed > 100 and repaired < 0.05 and fixed < 0.05


@pytest.mark.parametrize("maximize", [False, True])
def test_the_step_gradient_cosines_equal_retroprops_on_the_same_weights_and_batch(maximize):
    import numpy as np

    import retroprop as rp
    from retroprop.doctor.probes import Probe
    from retroprop.torch.probe import TorchProbe
    from tests.torch.test_probe_parity import batch, twin_mlps

    r_model, t_model = twin_mlps(("relu", "tanh"))
    x, y = batch()
    # weight decay turns the step away from the gradient: a cosine other than -1 to compare
    r_opt = rp.optim.SGD(r_model.parameters(), lr=0.1, weight_decay=0.5, maximize=maximize)
    t_opt = torch.optim.SGD(t_model.parameters(), lr=0.1, weight_decay=0.5, maximize=maximize)
    r_probe, t_probe = Probe(r_model), TorchProbe(t_model, t_opt)
    r_opt.zero_grad()
    rp.nn.CrossEntropyLoss()(r_model(rp.tensor(x)), y).backward()
    t_opt.zero_grad()
    nn.CrossEntropyLoss()(t_model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    r_probe.snapshot_weights(r_probe.collect(0, 0, 1.0))
    t_probe.snapshot_weights(t_probe.collect(0, 0, 1.0))
    r_opt.step()
    t_opt.step()
    r_probe.update_ratios()
    t_probe.update_ratios()
    r_cosines, t_cosines = r_probe.update_cosines(), t_probe.update_cosines()
    assert list(t_cosines) == list(r_cosines) and len(r_cosines) == 3
    assert list(t_cosines.values()) == pytest.approx(list(r_cosines.values()), rel=1e-9)
    values = np.array(list(r_cosines.values()))
    assert np.all(values > 0) if maximize else np.all(values < 0)
    assert np.all(np.abs(values) < 0.999)  # the decay's share turned each step from the gradient
