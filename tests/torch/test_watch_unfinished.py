"""``watch`` told how many steps a torch run will take names a regression that descends too slowly for
them while there is time to treat it (and repairs it), and stays quiet on the same loop at a rate that
fits it."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

from retroprop.torch import watch  # noqa: E402

torch.set_num_threads(1)


def _run(lr: float, *, steps: int | None, repair: bool = False) -> tuple[object, float]:
    """y = 5x on [1, 2], one Linear unit, RMSprop, 600 steps of batch 32 (DeepFD case 45's setting)."""
    torch.manual_seed(0)
    x = torch.linspace(1.0, 2.0, 80).unsqueeze(1)
    y = 5 * x
    order = torch.randperm(80, generator=torch.Generator().manual_seed(0))
    x, y = x[order], y[order]
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=lr, alpha=0.9)
    loss_fn = torch.nn.MSELoss()
    doctor = watch(model, optimizer, repair=repair, loss=loss_fn, targets=y, batch_size=32, steps=steps)
    for _ in range(200):
        for start in range(0, 80, 32):
            optimizer.zero_grad()
            loss = loss_fn(model(x[start:start + 32]), y[start:start + 32])
            loss.backward()
            doctor.observe(loss)
            optimizer.step()
        doctor.end_epoch()
    doctor.finish()
    with torch.no_grad():
        final = float(loss_fn(model(x), y))
    return doctor, final


def test_a_torch_regression_too_slow_for_its_steps_is_named_early_and_repaired() -> None:
    doctor, plain = _run(1e-3, steps=600)
    found = [d for d in doctor.diagnoses if d.problem == "slow_convergence"]
    assert found, [d.problem for d in doctor.diagnoses]
    assert found[0].evidence["steps_left"] > 0
    assert found[0].evidence["reference_loss"] == pytest.approx(np.var(5 * np.linspace(1, 2, 80)), rel=0.01)
    repaired, treated = _run(1e-3, steps=600, repair=True)
    assert any(t.remedy == "higher_lr" for t in repaired.treatments)
    assert treated < plain / 10


def test_without_the_step_count_the_run_is_named_at_its_end() -> None:
    doctor, _ = _run(1e-3, steps=None)
    found = [d for d in doctor.diagnoses if d.problem == "slow_convergence"]
    assert found and found[0].evidence["steps_left"] == 0


def test_the_same_loop_at_a_rate_that_fits_raises_no_alarm() -> None:
    doctor, final = _run(0.1, steps=600)
    assert final < 0.1
    assert doctor.diagnoses == []
