"""A softmax over a hidden layer's units: named before the first step (vanishing_gradients), cured by ReLU."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import Doctor, checks


def _layer(name: str, kind: str, n_in: int | None = None, n_out: int | None = None) -> dict:
    return {"name": name, "kind": kind, "in_features": n_in, "out_features": n_out}


@pytest.mark.parametrize("kind", ["softmax", "log_softmax"])
def test_a_softmax_feeding_the_next_linear_layer_is_named(kind):
    layers = [_layer("0", "linear", 64, 128), _layer("1", kind), _layer("2", "dropout"),
              _layer("3", "linear", 128, 10)]
    (finding,) = checks.hidden_softmax(layers)
    assert (finding.problem, finding.layer, finding.severity) == ("vanishing_gradients", "1", "warning")
    assert finding.evidence["units"] == 128 and finding.evidence["feeds"] == "3"
    assert finding.evidence["fix_by"] == "fit" and "128x" in finding.explanation


@pytest.mark.parametrize("layers", [
    [_layer("0", "linear", 64, 10), _layer("1", "softmax")],  # the output's softmax: the loss's business
    [_layer("0", "linear", 64, 10), _layer("1", "softmax"), _layer("2", "other")],  # unknown after it
    [_layer("0", "linear", 64, 32), _layer("1", "relu"), _layer("2", "linear", 32, 10)],
])
def test_no_hidden_softmax_nothing_named(layers):
    assert checks.hidden_softmax(layers) == []


def _digits():
    x, y = rp.data.load_digits()
    x_train, x_test, y_train, y_test = rp.data.train_test_split(x, y, test_size=0.25, seed=0)
    x_train, x_test = rp.data.standardize(x_train, x_test)
    return x_train, y_train, x_test, y_test


def _net(hidden: nn.Module) -> nn.Sequential:
    rp.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 128), hidden, nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def _fit(model: nn.Module, **options):
    x_train, y_train, x_test, y_test = _digits()
    return rp.fit(model, x_train, y_train, loss="cross_entropy",
                  optimizer=rp.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), epochs=6, batch_size=32,
                  validation_data=(x_test, y_test), verbose=0, seed=0, **options)


def test_fit_names_a_hidden_softmax_at_the_first_step_and_relu_cures_it():
    history = _fit(_net(nn.Softmax(dim=-1)), doctor=Doctor())
    found = [d for d in history.diagnoses if d.problem == "vanishing_gradients"]
    assert found and found[0].step == 0 and found[0].layer == "1"
    healthy = _fit(_net(nn.ReLU()), doctor=Doctor())
    assert healthy.diagnoses == []
    model = _net(nn.Softmax(dim=-1))
    repaired = _fit(model, repair=True)
    relu = [t for t in repaired.treatments if t.remedy == "relu" and t.applied]
    assert relu and relu[0].problem == "vanishing_gradients"
    assert not any(isinstance(m, nn.Softmax) for m in model.modules())
    assert repaired.history["val_accuracy"][-1] >= healthy.history["val_accuracy"][-1] - 0.02


def test_the_relu_remedy_leaves_an_output_softmax_alone():
    from retroprop.doctor.remedies import use_relu

    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Softmax(dim=-1), nn.Linear(8, 3), nn.Softmax(dim=-1))
    treatment = use_relu(model, rp.optim.SGD(model.parameters(), lr=0.1))
    assert treatment.applied
    assert isinstance(model[1], nn.ReLU) and isinstance(model[3], nn.Softmax)


def test_torch_watch_names_a_hidden_softmax_and_swaps_it():
    torch = pytest.importorskip("torch")
    from retroprop.torch import watch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Softmax(dim=-1), torch.nn.Linear(32, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    doctor = watch(model, optimizer, repair=True)
    x = torch.randn(64, 16, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    for _ in range(3):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        doctor.observe(loss)
        optimizer.step()
    doctor.finish()
    found = [d for d in doctor.diagnoses if d.problem == "vanishing_gradients"]
    assert found and found[0].layer == "1" and found[0].evidence["activation"] == "softmax"
    assert isinstance(model[1], torch.nn.ReLU)
    assert np.isfinite(float(loss.detach()))
