"""The activations added after the first four kinds (ReLU6 as a ReLU, Hardtanh, Hardsigmoid and
Softsign as saturating units) are probed alike by both engines: the same weights and batch give the
same fired units and the same saturated share."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

from retroprop import nn as rnn  # noqa: E402
from tests.torch.test_probe_parity import batch, probe_step  # noqa: E402

tnn = torch.nn
torch.set_num_threads(1)

PAIRS = {
    "relu6": (rnn.ReLU6, tnn.ReLU6),
    "hardtanh": (lambda: rnn.Hardtanh(-0.5, 2.0), lambda: tnn.Hardtanh(-0.5, 2.0)),
    "hardsigmoid": (rnn.Hardsigmoid, tnn.Hardsigmoid),
    "softsign": (rnn.Softsign, tnn.Softsign),
}


def twins(kind: str, scale: float, bias: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    r_layers, t_layers = [], []
    for i, (n_in, n_out) in enumerate([(6, 16), (16, 3)]):
        w = rng.normal(0, scale / np.sqrt(n_in), (n_out, n_in))
        b = rng.normal(0, 0.3, n_out) - (bias if i == 0 else 0.0)
        r, t = rnn.Linear(n_in, n_out, dtype=np.float64), tnn.Linear(n_in, n_out, dtype=torch.float64)
        r.weight.data[...] = w
        r.bias.data[...] = b
        with torch.no_grad():
            t.weight.copy_(torch.from_numpy(w))
            t.bias.copy_(torch.from_numpy(b))
        r_layers.append(r)
        t_layers.append(t)
        if i == 0:
            r_layers.append(PAIRS[kind][0]())
            t_layers.append(PAIRS[kind][1]())
    return rnn.Sequential(*r_layers), tnn.Sequential(*t_layers)


@pytest.mark.parametrize("kind", ["hardtanh", "hardsigmoid", "softsign"])
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_saturated_share_matches(kind: str, scale: float) -> None:
    r_record, t_record, _, _ = probe_step(*twins(kind, scale), *batch())
    (r_act,), (t_act,) = r_record.activations, t_record.activations
    assert r_act.kind == t_act.kind == kind
    assert r_act.saturated_share == pytest.approx(t_act.saturated_share, abs=1e-12)
    if scale == 30.0:  # weights 30x too large: most units sit at their clamps (or softsign's flat tails)
        assert r_act.saturated_share > 0.5


def test_relu6_units_that_never_fire_are_counted_alike() -> None:
    r_record, t_record, _, _ = probe_step(*twins("relu6", 1.0, bias=1.0), *batch())
    (r_act,), (t_act,) = r_record.activations, t_record.activations
    assert r_act.kind == t_act.kind == "relu6"
    assert r_act.fired is not None and t_act.fired is not None
    np.testing.assert_array_equal(r_act.fired, t_act.fired)
    assert 0 < int(np.count_nonzero(~r_act.fired)) < r_act.fired.size  # some dead, some alive
