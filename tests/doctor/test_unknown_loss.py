"""Steps observed with no loss (``Doctor.observe(None)``, as ``retroprop.torch.watch`` without ``observe``):
the layer rules run, the loss rules do not, and the unknown loss is never taken for a NaN."""

from __future__ import annotations

import math

import numpy as np

import retroprop as rp
from retroprop import nn


def loop(model, optimizer, doctor, steps: int, known: bool, lr_noise: float = 0.0) -> None:
    rp.manual_seed(1)
    x = rp.randn(64, 8)
    y = np.arange(64) % 3
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        new = doctor.observe(loss if known else None)
        if new and doctor.treat(new) is not None:
            continue
        optimizer.step()
    doctor.finish()


def deep_sigmoid() -> nn.Sequential:
    rp.manual_seed(0)
    layers: list[nn.Module] = []
    for i in range(8):
        layers += [nn.Linear(8 if i == 0 else 32, 32), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(32, 3))


def test_without_the_loss_the_layer_rules_still_run():
    model = deep_sigmoid()
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1)
    doctor = rp.Doctor(model, optimizer)
    loop(model, optimizer, doctor, 60, known=False)
    assert not doctor.losses_known
    assert [d.problem for d in doctor.diagnoses] == ["vanishing_gradients"]
    assert doctor.diagnoses[0].layer == "0"
    assert doctor.recorder.step == 60 and np.isnan(doctor.recorder.losses).all()
    assert doctor.recorder.first_nonfinite_step is None  # an unknown loss is no overflow
    assert not doctor.errors


def test_without_the_loss_the_loss_rules_are_off_and_a_stall_is_not_called_slow():
    """A learning rate so small that the loss stands still: slow_convergence with the loss, nothing
    without it (the layer numbers of a shallow net at a tiny rate are healthy)."""
    found = {}
    for known in (True, False):
        rp.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
        optimizer = rp.optim.SGD(model.parameters(), lr=1e-6)
        doctor = rp.Doctor(model, optimizer)
        loop(model, optimizer, doctor, 400, known=known)
        found[known] = [d.problem for d in doctor.diagnoses]
    assert "slow_convergence" in found[True]
    assert found[False] == []


def test_a_repaired_run_without_the_loss_measures_no_training_loss():
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))
    optimizer = rp.optim.SGD(model.parameters(), lr=50.0)
    doctor = rp.Doctor(model, optimizer, repair=True)
    loop(model, optimizer, doctor, 150, known=False)
    first = doctor.treatments[0]
    assert (first.problem, first.remedy, first.applied) == ("exploding_gradients", "lower_lr", True)
    assert "loss" not in doctor._measure()
    assert all(t.measured is None or t.measured.get("metric") != "loss"
               or not math.isnan(t.measured["before"]) for t in doctor.treatments)
    assert not any(d.problem == "non_finite" for d in doctor.diagnoses)


def test_steps_without_a_loss_take_the_quiet_path_between_probes():
    model = deep_sigmoid()
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1)
    doctor = rp.Doctor(model, optimizer, every=40)
    loop(model, optimizer, doctor, 60, known=False)
    assert doctor.quiet_steps() == doctor.recorder.quiet_steps() > 0  # no loss check is ever due
