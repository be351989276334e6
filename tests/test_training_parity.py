"""Training parity with PyTorch: the same MLP, weights and batches give the same run.

A Linear-ReLU-BatchNorm1d-Linear network in float64 is trained for 100 steps with each optimizer
(and a learning-rate schedule) by retroprop and by torch; every step's loss and the final weights
and running statistics must agree to 1e-6 relative.
"""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

STEPS, BATCH, IN, HIDDEN, OUT = 100, 32, 12, 24, 5


def make_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(STEPS * BATCH // 4, IN))
    w = rng.normal(size=(IN, OUT))
    y = (x @ w + 0.5 * rng.normal(size=(len(x), OUT))).argmax(axis=1)
    return x, y


def build_pair() -> tuple[nn.Module, torch.nn.Module]:
    rp.manual_seed(3)
    ours = nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(), nn.BatchNorm1d(HIDDEN), nn.Linear(HIDDEN, OUT))
    ours.double()
    theirs = torch.nn.Sequential(torch.nn.Linear(IN, HIDDEN), torch.nn.ReLU(),
                                 torch.nn.BatchNorm1d(HIDDEN), torch.nn.Linear(HIDDEN, OUT)).double()
    with torch.no_grad():
        for name, param in theirs.named_parameters():
            param.copy_(torch.from_numpy(dict(ours.named_parameters())[name].data))
    return ours, theirs


OPTIMIZERS = {
    "sgd_nesterov_wd": (
        lambda p: rp.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    "adam": (lambda p: rp.optim.Adam(p, lr=3e-3, weight_decay=1e-4),
             lambda p: torch.optim.Adam(p, lr=3e-3, weight_decay=1e-4)),
    "adamw": (lambda p: rp.optim.AdamW(p, lr=3e-3), lambda p: torch.optim.AdamW(p, lr=3e-3)),
    "rmsprop": (lambda p: rp.optim.RMSprop(p, lr=1e-3, momentum=0.5),
                lambda p: torch.optim.RMSprop(p, lr=1e-3, momentum=0.5)),
}
SCHEDULERS = {
    None: (None, None),
    "cosine": (lambda o: rp.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20),
               lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20)),
    "step": (lambda o: rp.optim.lr_scheduler.StepLR(o, step_size=30, gamma=0.5),
             lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=30, gamma=0.5)),
}


@pytest.mark.parametrize("schedule", list(SCHEDULERS))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_hundred_steps_match_torch(optimizer, schedule):
    x, y = make_data()
    ours, theirs = build_pair()
    make_ours, make_theirs = OPTIMIZERS[optimizer]
    opt_ours, opt_theirs = make_ours(ours.parameters()), make_theirs(theirs.parameters())
    sched_ours = sched_theirs = None
    if schedule is not None:
        sched_ours = SCHEDULERS[schedule][0](opt_ours)
        sched_theirs = SCHEDULERS[schedule][1](opt_theirs)
    loss_ours, loss_theirs = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    losses = []
    for step in range(STEPS):
        begin = (step * BATCH) % len(x)
        xb, yb = x[begin:begin + BATCH], y[begin:begin + BATCH]
        opt_ours.zero_grad()
        a = loss_ours(ours(rp.tensor(xb)), yb)
        a.backward()
        opt_ours.step()
        opt_theirs.zero_grad()
        b = loss_theirs(theirs(torch.from_numpy(xb)), torch.from_numpy(yb))
        b.backward()
        opt_theirs.step()
        if sched_ours is not None:
            sched_ours.step()
            sched_theirs.step()
        losses.append((a.item(), b.item()))
    ours_loss, theirs_loss = np.array(losses).T
    np.testing.assert_allclose(ours_loss, theirs_loss, rtol=1e-6, err_msg="per-step losses differ")
    assert ours_loss[-10:].mean() < ours_loss[:10].mean(), "the run did not train"
    state = ours.state_dict()
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(state[name], value.numpy(), rtol=1e-6, atol=1e-9,
                                   err_msg=f"final {name} differs")
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(rp.tensor(x)).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-6, atol=1e-9, err_msg="eval-mode outputs differ")
