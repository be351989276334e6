"""The doctor's probes know ReLU6 as a ReLU (units that never fire pass no gradient) and Hardtanh,
Hardsigmoid and Softsign as saturating units; their flat region is where the derivative vanishes;
the checks describe them as activations of unknown range; the ``relu`` remedy swaps the saturating
ones but leaves a ReLU6 (a Hardtanh subclass) alone."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor.probes import Probe, flat_region
from retroprop.doctor.remedies import use_relu
from retroprop.doctor.structure import describe_model


def _derivative(module: nn.Module, z: np.ndarray) -> np.ndarray:
    x = rp.tensor(z, requires_grad=True)
    module(x).sum().backward()
    return x.grad.numpy()


@pytest.mark.parametrize("kind, module, flat_below", [
    ("hardtanh", nn.Hardtanh(-0.5, 2.0), 1e-12),
    ("hardsigmoid", nn.Hardsigmoid(), 1e-12),
    ("softsign", nn.Softsign(), 0.01),  # its derivative (1 - |y|)^2 never reaches 0: under 1/100 of its peak
    ("sigmoid", nn.Sigmoid(), 0.01 * 0.25),
    ("tanh", nn.Tanh(), 0.01),
])
def test_flat_region_is_where_the_derivative_vanishes(kind: str, module: nn.Module,
                                                      flat_below: float) -> None:
    z = np.concatenate([np.linspace(-30, 30, 2001), [-3.0, 3.0, -0.5, 2.0]])
    y = module(rp.tensor(z)).numpy()
    bounds = (module.min_val, module.max_val) if isinstance(module, nn.Hardtanh) else (-1.0, 1.0)
    flat = flat_region(kind, y, bounds)
    derivative = _derivative(module, z)
    assert np.all(derivative[flat] <= flat_below + 1e-12)
    assert np.all(derivative[~flat] > flat_below * 0.9)  # outside it, clearly not flat
    assert 0 < np.count_nonzero(flat) < z.size


@pytest.mark.parametrize("activation, kind", [
    (nn.ReLU6, "relu6"), (nn.Hardtanh, "hardtanh"), (nn.Hardsigmoid, "hardsigmoid"),
    (nn.Softsign, "softsign"),
])
def test_probe_reads_the_new_kinds(activation: type, kind: str) -> None:
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), activation(), nn.Linear(8, 2))
    probe = Probe(model)
    probe.arm()
    x = rp.tensor(np.random.default_rng(0).normal(0, 1, (16, 4)))
    nn.CrossEntropyLoss()(model(x), np.arange(16) % 2).backward()
    (act,) = probe.collect(0, 0, 1.0).activations
    assert act.kind == kind
    if kind == "relu6":
        assert act.fired is not None and act.saturated_share is None
    else:
        assert act.fired is None and act.saturated_share is not None


def test_checks_describe_them_as_activations_of_unknown_range() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU6(), nn.Linear(8, 8), nn.Hardtanh(), nn.Linear(8, 2))
    kinds = [layer["kind"] for layer in describe_model(model)]
    assert kinds == ["linear", "other_activation", "linear", "other_activation", "linear"]


def test_relu_remedy_swaps_saturating_units_but_not_relu6() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.Hardtanh(), nn.Linear(8, 8), nn.ReLU6(), nn.Linear(8, 8),
                          nn.Softsign(), nn.Linear(8, 2), nn.Hardsigmoid())
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1)
    treatment = use_relu(model, optimizer)
    assert treatment.applied
    kinds = [type(layer).__name__ for layer in treatment.model]
    # the hidden Hardtanh and Softsign become ReLU; the ReLU6 stays; the output's Hardsigmoid is the loss's
    assert kinds == ["Linear", "ReLU", "Linear", "ReLU6", "Linear", "ReLU", "Linear", "Hardsigmoid"]
