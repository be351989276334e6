"""Fixtures of the report's tests: small real runs on the spiral problem, watched by the doctor."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import retroprop as rp
from retroprop import nn


def spiral_net(act=nn.ReLU, bias=None) -> nn.Sequential:
    """2 -> 24 -> 16 -> 3: layers of different widths; ``bias`` sets every bias (-3 kills ReLUs)."""
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 24), act(), nn.Linear(24, 16), act(), nn.Linear(16, 3))
    if bias is not None:
        for layer in model:
            if isinstance(layer, nn.Linear):
                layer.bias.data[...] = bias
    return model


def watched_run(model: nn.Module, repair: bool = False, epochs: int = 4) -> SimpleNamespace:
    x, y = rp.data.spiral(300, seed=0)
    x_val, y_val = rp.data.spiral(90, seed=1)
    doctor = rp.Doctor(every=2, repair=repair)
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=rp.optim.SGD(model.parameters(), lr=0.1,
                                                                              momentum=0.9),
                     epochs=epochs, validation_data=(x_val, y_val), verbose=0, seed=0, doctor=doctor)
    return SimpleNamespace(history=history, doctor=doctor, model=model, x=x_val,
                           records=doctor.recorder.records)


@pytest.fixture(scope="module")
def runs() -> SimpleNamespace:
    """Four watched runs: healthy ReLU, dead ReLU (biases -3), dead ReLU repaired, and tanh (no ReLU)."""
    return SimpleNamespace(healthy=watched_run(spiral_net()), dead=watched_run(spiral_net(bias=-3.0)),
                           repaired=watched_run(spiral_net(bias=-3.0), repair=True),
                           tanh=watched_run(spiral_net(act=nn.Tanh)))
