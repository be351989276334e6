"""The doctor's cheap paths give what the plain ones gave: the protocol check of ``recorder.conforms``
is ``isinstance`` on a runtime-checkable Protocol, and ``doctor._same_data`` is ``np.array_equal`` behind
a first-row shortcut."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor.adapter import ModelAdapter, ModelProbe, adapter_for
from retroprop.doctor.doctor import Doctor, _same_data
from retroprop.doctor.recorder import Recorder, conforms


class _ProbeLike:
    """Every member of ModelProbe."""

    def __init__(self) -> None:
        self.errors: list = []

    armed = False
    activation_names = ()

    def arm(self) -> None: ...
    def disarm(self) -> None: ...
    def collect(self, step, epoch, loss): ...
    def snapshot_weights(self, record=None) -> None: ...
    def update_ratios(self) -> dict: return {}


class _NoErrors(_ProbeLike):
    def __init__(self) -> None:
        pass  # the data member is missing


class _NoneMethod(_ProbeLike):
    collect = None  # a method member set to None does not conform (typing's rule)


class _Declared(ModelProbe):
    """Declares the protocol but lacks its data member: typing still counts it (a nominal subclass)."""


def _cases() -> list:
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    adapter = adapter_for(model, rp.optim.SGD(model.parameters(), lr=0.1))
    return [adapter, adapter.probe(), model, _ProbeLike(), _NoErrors(), _NoneMethod(), _Declared(), None, 3,
            "probe"]


@pytest.mark.parametrize("protocol", [ModelProbe, ModelAdapter])
def test_conforms_is_isinstance_on_the_protocols(protocol):
    for value in _cases():
        assert conforms(value, protocol) == isinstance(value, protocol), (type(value).__name__, protocol)


def test_a_recorder_takes_a_probe_an_adapter_or_a_model_and_refuses_anything_else():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    adapter = adapter_for(model)
    probe = adapter.probe()
    assert Recorder(probe).probe is probe
    assert type(Recorder(adapter).probe) is type(probe)
    assert type(Recorder(model).probe) is type(probe)
    with pytest.raises(TypeError):
        Recorder(_NoErrors())  # neither a probe nor an adapter nor a model


def _old_same(first, second) -> bool:
    """The expression ``_same_data`` replaced."""
    return first is second or (np.shape(first) == np.shape(second) and np.array_equal(first, second))


def test_same_data_is_array_equal():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 7))
    last_differs = a.copy()
    last_differs[-1, -1] += 1.0
    first_differs = a.copy()
    first_differs[0, 0] += 1.0
    nan = np.array([[np.nan, 1.0], [2.0, 3.0]])
    cases = [(a, a), (a, a.copy()), (a, last_differs), (a, first_differs), (a, a[:10]), (a, a.T),
             (a, a.astype(np.float32).astype(np.float64)), (nan, nan), (nan, nan.copy()),
             ([[1, 2], [3, 4]], [[1, 2], [3, 4]]), ([[1, 2], [3, 4]], [[1, 2], [3, 5]]),
             (a[:1], a[:1].copy()), (np.float32(3.0), 3.0), (np.zeros((0, 3)), np.zeros((0, 3)))]
    for first, second in cases:
        assert _same_data(first, second) == _old_same(first, second)


def test_validation_data_identical_to_the_training_data_is_recognized_in_a_copy():
    x = np.random.default_rng(1).normal(size=(40, 3))
    model = nn.Sequential(nn.Linear(3, 2))
    doctor = Doctor()
    doctor.attach(model, inputs=x, validation_inputs=x.copy())
    assert doctor._validation_is_training
    other = x.copy()
    other[-1, 0] += 1.0
    doctor.attach(model, inputs=x, validation_inputs=other)
    assert not doctor._validation_is_training
