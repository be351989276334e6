"""The doctor in a hand-written loop: the documented calls, the epochs it counts itself, the example."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

import retroprop as rp
from retroprop import nn

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hand_loop.py"


def test_steps_observed_without_an_epoch_are_placed_by_the_end_epoch_calls():
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1)
    doctor = rp.Doctor(model, optimizer)
    x, y = rp.randn(16, 4), np.arange(16) % 3
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(3):
        for _ in range(5):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            doctor.observe(loss)
            optimizer.step()
        if epoch < 2:
            assert doctor.end_epoch(logs={"loss": loss.item()}) == []
    new = doctor.observe(float("nan"))
    assert [(d.problem, d.epoch, d.step) for d in new] == [("non_finite", 2, 15)]
    assert "epoch 3" in str(new[0])
    doctor.finish()


def test_the_hand_written_loop_example_diagnoses_and_repairs(capsys):
    spec = importlib.util.spec_from_file_location("hand_loop", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doctor = module.main(["--lr", "50", "--epochs", "2"])
    out = capsys.readouterr().out
    assert doctor.diagnoses[0].problem == "exploding_gradients" and doctor.diagnoses[0].epoch == 0
    treatment = doctor.treatments[0]
    assert (treatment.remedy, treatment.applied) == ("lower_lr", True)
    assert doctor.optimizer.param_groups[0]["lr"] < 1.0
    last = next(line for line in out.splitlines() if line.startswith("epoch 2:"))
    assert float(last.rsplit(" ", 1)[-1]) > 0.85  # the repaired loop learns
