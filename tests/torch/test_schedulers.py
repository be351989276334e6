"""A learning-rate remedy carried into the schedulers that set the rate from their own record
(``retroprop.torch.schedulers``), by the one-line watch and by ``retroprop watch``."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

from retroprop.cli import main  # noqa: E402
from retroprop.torch import schedulers, watch  # noqa: E402

nn = torch.nn
sched = torch.optim.lr_scheduler


def optimizer(lr: float = 1.0, groups: int = 1) -> torch.optim.Optimizer:
    params = [[nn.Parameter(torch.zeros(2))] for _ in range(groups)]
    return torch.optim.SGD([{"params": p} for p in params], lr=lr)


def cut(opt: torch.optim.Optimizer, factor: float) -> list[float]:
    before = [group["lr"] for group in opt.param_groups]
    for group in opt.param_groups:
        group["lr"] *= factor
    return before


def test_a_lambda_schedulers_base_rates_follow_the_remedy():
    opt = optimizer(lr=1.0, groups=2)
    lam = sched.LambdaLR(opt, lr_lambda=[lambda e: 1.0, lambda e: 0.5])
    before = cut(opt, 0.1)
    opt.step()
    lam.step()
    assert [g["lr"] for g in opt.param_groups] == [1.0, 0.5]  # without the rescale: the remedy undone
    before = cut(opt, 0.1)
    assert schedulers.rescale(opt, before, [lam]) == pytest.approx([0.1, 0.1])
    opt.step()
    lam.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.1, 0.05])


def test_one_cycle_rates_in_the_groups_follow_and_a_multiplying_scheduler_keeps_the_remedy_anyway():
    opt = optimizer(lr=1.0)
    cycle = sched.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    peak = opt.param_groups[0]["max_lr"]
    schedulers.rescale(opt, cut(opt, 0.1), [cycle])
    assert opt.param_groups[0]["max_lr"] == pytest.approx(0.1 * peak)
    for _ in range(3):
        opt.step()
        cycle.step()
    assert opt.param_groups[0]["lr"] <= 0.1 * peak + 1e-12
    opt = optimizer(lr=0.1)
    cyclic = sched.CyclicLR(opt, base_lr=0.1, max_lr=1.0, step_size_up=2)
    schedulers.rescale(opt, cut(opt, 0.1), [cyclic])
    for _ in range(2):
        opt.step()
        cyclic.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)  # the top of the cycle, cut tenfold
    opt = optimizer(lr=1.0)
    step = sched.StepLR(opt, step_size=1, gamma=0.5)
    schedulers.rescale(opt, cut(opt, 0.1), [step])
    opt.step()
    step.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)


def test_the_one_line_watch_takes_only_its_own_optimizers_scheduler():
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    watched = watch(model, opt)
    with pytest.raises(ValueError, match="another optimizer"):
        watched.track_scheduler(sched.LambdaLR(optimizer(), lambda e: 1.0))
    own = sched.LambdaLR(opt, lambda e: 1.0)
    watched.track_scheduler(own)
    watched.track_scheduler(own)
    assert schedulers.bound_to(opt, watched._schedulers) == [own]
    watched.finish()


EXPLODING = """\
import torch
from torch import nn

torch.set_num_threads(1)
torch.manual_seed(0)
x = torch.randn(512, 16, generator=torch.Generator().manual_seed(0))
y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
optimizer = torch.optim.SGD(model.parameters(), lr=20.0, momentum=0.9)
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda epoch: 1.0)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(4):
    for i in range(0, 512, 32):
        optimizer.zero_grad()
        loss = loss_fn(model(x[i:i + 32]), y[i:i + 32])
        loss.backward()
        optimizer.step()
    scheduler.step()
rate = optimizer.param_groups[0]['lr']
print(f"LR {type(rate).__name__} {rate!r} {scheduler.get_last_lr()[0]!r}")
"""


def test_a_rate_lowered_inside_a_script_survives_its_lambda_scheduler(tmp_path, capsys):
    path = tmp_path / "train.py"
    path.write_text(EXPLODING)
    main(["watch", "--repair", "--report", str(tmp_path / "run.html"), str(path)])
    out = capsys.readouterr()
    assert "lower_lr" in out.out + out.err
    line = next(text for text in (out.out + out.err).splitlines() if text.startswith("LR "))
    kind, rate, last = line.split()[1:]
    assert kind == "float"  # a plain float in param_groups, as the loop set it
    assert float(rate) == float(last) <= 2.0  # the scheduler set the lowered rate, not its 20 again
    assert torch.optim.lr_scheduler.LRScheduler.__init__.__qualname__ == "LRScheduler.__init__"
