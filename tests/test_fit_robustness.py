"""fit refuses an impossible ``initial_epoch`` and survives a learning rate turned NaN/Inf by a
callback or a schedule: it stops before any step uses it and returns the History."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.callbacks import Callback
from retroprop.optim.lr_scheduler import LRScheduler


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def _setup() -> tuple[nn.Module, Any]:
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))
    return model, rp.optim.SGD(model.parameters(), lr=0.1)


def _fit(model: nn.Module, optimizer: Any, **options: Any) -> rp.History:
    x, y = _data()
    options = {"epochs": 3, "batch_size": 16, "verbose": 0, "seed": 0, **options}
    return rp.fit(model, x, y, loss="cross_entropy", optimizer=optimizer, **options)


@pytest.mark.parametrize("initial_epoch, error, message", [
    (-3, ValueError, "initial_epoch must be >= 0, got -3"),
    (4, ValueError, r"initial_epoch \(4\) must not exceed epochs \(3\)"),
    (1.5, TypeError, "initial_epoch must be an integer"),
    (True, TypeError, "initial_epoch must be an integer"),
])
def test_initial_epoch_is_checked_before_training(initial_epoch, error, message):
    model, optimizer = _setup()
    before = model.state_dict()
    with pytest.raises(error, match=message):
        _fit(model, optimizer, initial_epoch=initial_epoch)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_initial_epoch_continues_the_count_and_may_equal_epochs():
    model, optimizer = _setup()
    history = _fit(model, optimizer, initial_epoch=1)
    assert history.epoch == [1, 2]
    done = _fit(model, optimizer, initial_epoch=3)
    assert done.epoch == [] and done.stop_reason is None


class SetLR(Callback):
    """Sets the learning rate to ``value`` in ``hook`` when its counter reaches ``at``."""

    def __init__(self, hook: str, at: int, value: float) -> None:
        self.hook, self.at, self.value = hook, at, value

    def _maybe(self, hook: str, count: int) -> None:
        if hook == self.hook and count == self.at:
            self.optimizer.param_groups[0]["lr"] = self.value

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._maybe("on_epoch_begin", epoch)

    def on_batch_begin(self, batch: int, logs: Any = None) -> None:
        self._maybe("on_batch_begin", batch)

    def on_batch_end(self, batch: int, logs: Any = None) -> None:
        self._maybe("on_batch_end", batch)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self._maybe("on_epoch_end", epoch)


@pytest.mark.parametrize("hook, at, value, where, epochs_logged", [
    ("on_epoch_begin", 1, math.nan, "at the start of epoch 2", [0]),
    ("on_batch_begin", 2, math.inf, "before step 3 (epoch 1, batch 3)", [0]),
    ("on_batch_end", 1, -math.inf, "after step 2 (epoch 1, batch 2)", [0]),
    ("on_epoch_end", 0, math.nan, "at the end of epoch 1", [0]),
])
def test_a_callback_that_breaks_the_learning_rate_stops_the_run_cleanly(hook, at, value, where,
                                                                         epochs_logged):
    model, optimizer = _setup()
    history = _fit(model, optimizer, callbacks=[SetLR(hook, at, value)])
    assert isinstance(history, rp.History)
    assert history.stop_reason.startswith(f"the callback SetLR.{hook} set the learning rate of parameter "
                                          f"group 0 to {value!r} {where}")
    assert "training stopped before any step used it" in history.stop_reason
    assert history.epoch == epochs_logged
    assert optimizer.param_groups[0]["lr"] == 0.1  # put back: the optimizer stays usable
    assert all(np.isfinite(p.data).all() for p in model.parameters())
    optimizer.load_state_dict(optimizer.state_dict())  # what fit's own restore does: no error


def test_the_stop_happens_before_the_step_that_would_have_used_the_rate():
    model, optimizer = _setup()
    history = _fit(model, optimizer, epochs=1, callbacks=[SetLR("on_batch_begin", 1, math.nan)])
    assert len(history.step_loss) == 1
    reference, reference_optimizer = _setup()
    _fit(reference, reference_optimizer, epochs=1, callbacks=[StopAfter(1)])
    for name, value in reference.state_dict().items():  # exactly one step, the one before
        np.testing.assert_array_equal(model.state_dict()[name], value)


class StopAfter(Callback):
    def __init__(self, steps: int) -> None:
        self.steps = steps

    def on_batch_end(self, batch: int, logs: Any = None) -> None:
        if batch + 1 >= self.steps:
            self.model.stop_training = True


class NanAfterFirstEpoch(LRScheduler):
    def get_lr(self) -> list[float]:
        return [0.1 if self.last_epoch < 1 else math.nan for _ in self.optimizer.param_groups]


def test_a_schedule_that_produces_nan_stops_the_run_cleanly():
    model, optimizer = _setup()
    history = _fit(model, optimizer, scheduler=NanAfterFirstEpoch(optimizer))
    assert history.stop_reason.startswith("the scheduler NanAfterFirstEpoch set the learning rate of "
                                          "parameter group 0 to nan at the end of epoch 1")
    assert history.epoch == [0] and optimizer.param_groups[0]["lr"] == 0.1


def test_an_optimizer_with_a_broken_rate_is_refused_before_training():
    model, optimizer = _setup()
    optimizer.param_groups[0]["lr"] = math.nan
    with pytest.raises(ValueError, match="learning rate of parameter group 0 set to nan"):
        _fit(model, optimizer)


def test_fit_sets_the_thread_policy_once_for_the_whole_run(monkeypatch):
    import contextlib

    from retroprop import training

    entered = []

    @contextlib.contextmanager
    def spy(model: Any, batch_size: int) -> Any:
        entered.append(batch_size)
        yield None

    monkeypatch.setattr(training, "training_threads", spy)
    model, optimizer = _setup()
    x, y = _data()
    rp.fit(model, x, y, loss="cross_entropy", optimizer=optimizer, epochs=3, batch_size=16, verbose=0,
           validation_data=(x, y))
    assert entered == [256, 256, 256, 256]  # the run (its widest batch: validation's), then each evaluation
    rp.predict(model, x, batch_size=32)
    assert entered[-1] == 32


@pytest.mark.parametrize("labels, shown", [
    (np.array([0.0, 1e300, 1.0, 0.0]), "1e+300 at index 1"),
    (np.array([0.0, 1.0, -1e19, 0.0]), "-1e+19 at index 2"),
    (np.array([0.0, 1.0, 0.0, 2.0 ** 63]), "9.223372036854776e+18 at index 3"),
    (np.array([0, 1, 0, 2 ** 64 - 1], dtype=np.uint64), "18446744073709551615 at index 3"),
])
def test_class_labels_beyond_the_integer_range_are_refused_before_the_cast(labels, shown):
    # cast to int64 they would wrap around (to -9223372036854775808 for a huge float)
    x = np.zeros((4, 5), dtype=np.float32)
    model, optimizer = _setup()
    before = [p.data.copy() for p in model.parameters()]
    message = rf"class labels must be class numbers .*; got {re.escape(shown)}, beyond the integer range"
    with pytest.raises(ValueError, match="fit: " + message):
        rp.fit(model, x, labels, loss="cross_entropy", optimizer=optimizer, verbose=0)
    with pytest.raises(ValueError, match="fit: validation_data: " + message):
        rp.fit(model, x, np.zeros(4), loss="cross_entropy", optimizer=optimizer, verbose=0,
               validation_data=(x, labels))
    with pytest.raises(ValueError, match="evaluate: " + message):
        rp.evaluate(model, x, labels, loss="cross_entropy")
    assert all(np.array_equal(p.data, b) for p, b in zip(model.parameters(), before, strict=True))
