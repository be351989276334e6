"""What the doctor's tests share: a small MLP and a hand-written training loop (the digits fixture
is in conftest.py)."""

from __future__ import annotations

import retroprop as rp
from retroprop import nn


def mlp(act=nn.ReLU, depth=2, width=64, p=0.0) -> nn.Sequential:
    """A 64-input, 10-class MLP of ``depth`` hidden layers, drawn from seed 0."""
    rp.manual_seed(0)
    layers: list[nn.Module] = []
    fan = 64
    for _ in range(depth):
        layers += [nn.Linear(fan, width), act()]
        if p:
            layers.append(nn.Dropout(p))
        fan = width
    return nn.Sequential(*layers, nn.Linear(fan, 10))


def watched_steps(model: nn.Module, optimizer, doctor, x: rp.Tensor, y, steps: int) -> None:
    """``steps`` steps of a hand-written loop on one batch, with ``doctor.observe`` in its place."""
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        doctor.observe(loss)
        optimizer.step()
