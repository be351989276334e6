"""``symmetric_units``: a layer whose units start as copies of one another (a constant or zero
initialization) and are weighed alike by the next layer, so every step keeps them copies; found before
the first step and repaired with fresh random weights (``he_init``)."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import checks
from retroprop.doctor.adapter import RetropropAdapter, unit_symmetry
from retroprop.doctor.table import held_until


def _mlp(init=None, dropout: float = 0.0) -> nn.Sequential:
    rp.manual_seed(0)
    layers = [nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    model = nn.Sequential(*layers, nn.Linear(32, 10))
    if init is not None:
        for module in model.modules():
            if isinstance(module, nn.Linear):
                init(module)
    return model


def _constant(module):
    nn.init.constant_(module.weight, 0.01)
    nn.init.zeros_(module.bias)


def _zero(module):
    nn.init.zeros_(module.weight)
    nn.init.zeros_(module.bias)


def _symmetry(model):
    return RetropropAdapter(model).unit_symmetry()


@pytest.mark.parametrize("init", [_constant, _zero])
def test_a_constant_or_zero_initialization_is_named_at_its_first_layer(init):
    model = _mlp(init)
    symmetry = _symmetry(model)
    assert [s["rows_identical"] for s in symmetry] == [True, True, True]
    (finding,) = checks.symmetric_units(symmetry, checks.validate_layers(model_layers(model)))
    assert (finding.problem, finding.layer, finding.severity) == ("symmetric_units", "0", "critical")
    assert finding.evidence["layers"] == ["0", "2"] and finding.evidence["fix_by"] == "fit"
    assert "the 32 units of layer 1, Linear 64→32 (and 1 more layer(s) alike)" in finding.explanation


def model_layers(model):
    from retroprop.doctor.structure import describe_model

    return describe_model(model)


def test_random_weights_or_a_zero_output_layer_are_not_and_dropout_waits_for_a_consequence():
    assert checks.symmetric_units(_symmetry(_mlp())) == []  # default random init
    model = _mlp()
    _zero(model[4])  # a zero-initialized output layer: its inputs differ, so do its units' gradients
    symmetry = _symmetry(model)
    assert symmetry[-1]["rows_identical"] and symmetry[-1]["columns_identical"]
    assert checks.symmetric_units(symmetry) == []
    model = _mlp(_constant, dropout=0.5)  # dropout's masks tell the units apart, by chance
    (finding,) = checks.symmetric_units(_symmetry(model), dropout_rates=[0.5])
    assert finding.evidence["until_consequence"] and finding.evidence["dropout"] == 0.5
    assert held_until(finding) == "consequence" and "dropout's masks (rate up to 0.5)" in finding.explanation
    (plain,) = checks.symmetric_units(_symmetry(_mlp(_constant)))
    assert held_until(plain) is None  # without dropout: named at the first step
    assert checks.symmetric_units(None) == [] and checks.symmetric_units([]) == []


def test_convolution_channels_are_units_and_input_channels_columns():
    weight = np.full((8, 3, 3, 3), 0.1)
    (entry,) = unit_symmetry([("conv", weight, np.zeros(8))])
    assert entry == {"name": "conv", "units": 8, "rows_identical": True, "columns_identical": True}
    weight[:, 1] += 0.5  # input channel 1 weighed apart: columns differ, rows still alike
    (entry,) = unit_symmetry([("conv", weight, np.zeros(8))])
    assert entry["rows_identical"] and not entry["columns_identical"]
    (entry,) = unit_symmetry([("conv", weight, np.arange(8.0))])  # biases that differ
    assert not entry["rows_identical"]
    assert not unit_symmetry([("nan", np.full((4, 4), np.nan), None)])[0]["rows_identical"]


def test_fit_names_it_first_and_repair_draws_fresh_weights():
    x, y = rp.data.load_digits()
    x = (x / 16).astype(np.float32)
    options = {"loss": "cross_entropy", "epochs": 3, "batch_size": 32, "verbose": 0, "seed": 0,
               "validation_data": (x[1200:], y[1200:])}
    model = _mlp(_constant)
    plain = rp.fit(model, x[:1200], y[:1200], optimizer=rp.optim.SGD(model.parameters(), lr=0.1),
                   doctor=True, **options)
    assert [(d.problem, d.step) for d in plain.diagnoses][:1] == [("symmetric_units", 0)]
    model = _mlp(_constant)
    repaired = rp.fit(model, x[:1200], y[:1200], optimizer=rp.optim.SGD(model.parameters(), lr=0.1),
                      repair=True, **options)
    (treatment,) = [t for t in repaired.treatments if t.applied]
    assert (treatment.problem, treatment.remedy, treatment.step) == ("symmetric_units", "he_init", 0)
    assert plain.history["val_accuracy"][-1] < 0.5 < 0.85 < repaired.history["val_accuracy"][-1]
    healthy = _mlp()
    history = rp.fit(healthy, x[:1200], y[:1200], optimizer=rp.optim.SGD(healthy.parameters(), lr=0.1),
                     doctor=True, **options)
    assert "symmetric_units" not in [d.problem for d in history.diagnoses]


def _constant_mlp(hidden_layers: int) -> nn.Sequential:
    rp.manual_seed(0)
    layers = []
    for i in range(hidden_layers):
        layers += [nn.Linear(64 if i == 0 else 32, 32), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Dropout(0.2), nn.Linear(32, 10))
    for module in model.modules():
        if isinstance(module, nn.Linear):
            _constant(module)
    return model


def test_under_dropout_copies_are_named_with_the_stall_they_cause_and_not_when_dropout_parts_them(digits):
    x_train, y_train, x_test, y_test = digits

    def fit(model):
        optimizer = rp.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        return rp.fit(model, x_train, y_train, loss="cross_entropy", optimizer=optimizer, epochs=15,
                      batch_size=32, validation_data=(x_test, y_test), doctor=True, verbose=0, seed=0)

    # two layers of copies: dropout's masks part the last layer's inputs only, and the net barely learns
    history = fit(_constant_mlp(2))
    first, *rest = history.diagnoses
    assert first.problem == "symmetric_units" and first.step > 0  # held until its consequence showed
    assert rest and all(d.caused_by and d.caused_by["problem"] == "symmetric_units" for d in rest)
    assert history.history["val_accuracy"][-1] < 0.5  # a healthy init: above 0.9
    # one layer of copies under the same dropout: the masks part them, the net learns, nothing is named
    history = fit(_constant_mlp(1))
    assert history.diagnoses == [] and history.history["val_accuracy"][-1] > 0.8
