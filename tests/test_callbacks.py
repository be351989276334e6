"""Callbacks: hook order and indices, EarlyStopping, ReduceLROnPlateau, ModelCheckpoint, CSVLogger,
TerminateOnNaN, LambdaCallback and stopping from a callback."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def data(n: int = 48) -> tuple[np.ndarray, np.ndarray]:
    return rp.data.moons(n, noise=0.1, seed=0)


def mlp(seed: int = 0) -> nn.Sequential:
    rp.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))


def train(model: nn.Module, callbacks: list[Callback], epochs: int = 3, lr: float = 0.1,
          validation: bool = True, **kwargs: object) -> rp.History:
    x, y = data()
    optimizer = kwargs.pop("optimizer", None) or rp.optim.SGD(model.parameters(), lr=lr)
    return rp.fit(model, x, y, loss="cross_entropy", optimizer=optimizer, epochs=epochs, batch_size=16,
                  validation_data=(x, y) if validation else None, callbacks=callbacks, seed=0,
                  verbose=0, **kwargs)


class Scripted(Callback):
    """Overwrite (or add) a log value at each epoch end, so the callbacks after it see a script."""

    def __init__(self, key: str, values: list[float]) -> None:
        self.key, self.values = key, values

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        assert logs is not None
        logs[self.key] = self.values[epoch]


class Snapshots(Callback):
    """The model's weights at the end of every epoch."""

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.at_epoch_end: dict[int, dict[str, np.ndarray]] = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.at_epoch_end[epoch] = dict(self.model.state_dict())


def assert_same_weights(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def differs(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return any(not np.array_equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------------------------------------
# Hooks: order, indices, logs and context
# ---------------------------------------------------------------------------------------------
class Recorder(Callback):
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.logs: dict[str, list[dict]] = {"batch": [], "epoch": []}

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.calls.append(("train_begin",))

    def on_train_end(self, logs: dict | None = None) -> None:
        self.calls.append(("train_end",))

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.calls.append(("epoch_end", epoch))
        self.logs["epoch"].append(dict(logs or {}))

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.calls.append(("batch_begin", batch))

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.calls.append(("batch_end", batch))
        self.logs["batch"].append(dict(logs or {}))


def expected_calls(epochs: int, steps: int) -> list[tuple]:
    calls: list[tuple] = [("train_begin",)]
    for epoch in range(epochs):
        calls.append(("epoch_begin", epoch))
        for batch in range(steps):
            calls += [("batch_begin", batch), ("batch_end", batch)]
        calls.append(("epoch_end", epoch))
    return [*calls, ("train_end",)]


def test_hooks_run_in_order_with_0_based_indices() -> None:
    recorder = Recorder()
    history = train(mlp(), [recorder], epochs=2)
    assert recorder.calls == expected_calls(epochs=2, steps=3)
    assert [set(logs) for logs in recorder.logs["batch"]] == [{"loss", "accuracy"}] * 6
    assert [logs["loss"] for logs in recorder.logs["batch"]] == list(history.step_loss)
    for epoch, logs in enumerate(recorder.logs["epoch"]):
        assert set(logs) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
        for key, value in logs.items():
            assert history.history[key][epoch] == value


def test_lambda_callback_records_the_same_calls() -> None:
    calls: list[tuple] = []
    callback = LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin",)),
        on_train_end=lambda logs: calls.append(("train_end",)),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch)),
        on_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch)),
        on_batch_end=lambda batch, logs: calls.append(("batch_end", batch)),
    )
    train(mlp(), [callback], epochs=3, validation=False)
    assert calls == expected_calls(epochs=3, steps=3)


def test_lambda_callback_with_some_hooks_only() -> None:
    ends: list[int] = []
    train(mlp(), [LambdaCallback(on_epoch_end=lambda epoch, logs: ends.append(epoch))], epochs=3)
    assert ends == [0, 1, 2]


def test_lambda_callback_rejects_an_unknown_hook() -> None:
    with pytest.raises(TypeError, match="on_epoch_finish") as info:
        LambdaCallback(on_epoch_finish=lambda epoch, logs: None)
    assert "on_epoch_end" in str(info.value)  # lists what it expected


def test_callbacks_are_called_in_the_order_given() -> None:
    order: list[str] = []
    a = LambdaCallback(on_epoch_end=lambda epoch, logs: order.append("a"))
    b = LambdaCallback(on_epoch_end=lambda epoch, logs: order.append("b"))
    train(mlp(), [a, b], epochs=2)
    assert order == ["a", "b", "a", "b"]


def test_callback_context_model_history_params_and_optimizer() -> None:
    seen: dict[str, object] = {}

    class Context(Callback):
        def on_train_begin(self, logs: dict | None = None) -> None:
            seen.update(model=self.model, history=self.history, params=dict(self.params),
                        optimizer=self.optimizer)

    model = mlp()
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1)
    history = train(model, [Context()], epochs=2, optimizer=optimizer)
    assert seen["model"] is model
    assert seen["history"] is history
    assert seen["optimizer"] is optimizer
    params = seen["params"]
    assert isinstance(params, dict)
    assert params["epochs"] == 2 and params["steps"] == 3 and params["batch_size"] == 16
    assert params["samples"] == 48


# ---------------------------------------------------------------------------------------------
# Stopping from a callback
# ---------------------------------------------------------------------------------------------
def test_stop_training_in_batch_end_stops_after_that_batch() -> None:
    class StopAt(Callback):
        def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if len(self.history.epoch) == 1 and batch == 1:  # epoch 1 (0-based), batch 1
                self.model.stop_training = True

    recorder = Recorder()
    history = train(mlp(), [StopAt(), recorder], epochs=5)
    assert history.step_loss.shape == (3 + 2,)
    assert history.epoch == [0, 1]  # the partial epoch is still recorded
    assert recorder.calls[-1] == ("train_end",)
    assert recorder.calls[-2] == ("epoch_end", 1)


def test_stop_training_in_epoch_end_stops_after_that_epoch() -> None:
    def stop(epoch: int, logs: dict) -> None:
        if epoch == 1:
            model.stop_training = True

    model = mlp()
    history = train(model, [LambdaCallback(on_epoch_end=stop)], epochs=5)
    assert history.epoch == [0, 1]
    assert history.step_loss.shape == (6,)


def test_stop_training_is_reset_by_the_next_fit() -> None:
    model = mlp()
    train(model, [LambdaCallback(on_epoch_end=lambda e, logs: setattr(model, "stop_training", True))],
          epochs=3)
    history = train(model, [], epochs=2)
    assert history.epoch == [0, 1]


# ---------------------------------------------------------------------------------------------
# EarlyStopping
# ---------------------------------------------------------------------------------------------
def drive(callback: Callback, values: list[float], key: str = "val_loss") -> list[int]:
    """Feed a scripted sequence to a callback's epoch hooks; the epochs it ran before stopping."""
    model = mlp()
    callback.set_context(model, rp.History(), {})
    model.stop_training = False
    callback.on_train_begin({})
    ran = []
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {key: value})
        ran.append(epoch)
        if model.stop_training:
            break
    callback.on_train_end({})
    return ran


@pytest.mark.parametrize(("patience", "values", "stops_after"), [
    (0, [1.0, 0.9, 0.95, 0.8], 2),
    (1, [1.0, 0.9, 0.95, 0.8, 0.85, 0.86, 0.5], 5),
    (2, [1.0, 1.1, 1.2, 0.5, 0.6, 0.7, 0.8], 6),
    (2, [1.0, 1.1, 1.2, 1.3, 0.5], 3),
])
def test_early_stopping_patience(patience: int, values: list[float], stops_after: int | None) -> None:
    callback = EarlyStopping(patience=patience)
    ran = drive(callback, values)
    assert ran[-1] == stops_after
    assert callback.stopped_epoch == stops_after


def test_early_stopping_runs_on_while_improving() -> None:
    callback = EarlyStopping(patience=0)
    assert drive(callback, [1.0, 0.9, 0.8, 0.7]) == [0, 1, 2, 3]
    assert callback.stopped_epoch is None
    assert callback.best_epoch == 3


def test_early_stopping_min_delta() -> None:
    # improvements of 0.05 do not count with min_delta 0.1
    callback = EarlyStopping(patience=1, min_delta=0.1)
    assert drive(callback, [1.0, 0.95, 0.9, 0.5]) == [0, 1, 2]
    assert callback.best_epoch == 0
    callback = EarlyStopping(patience=1, min_delta=0.01)
    assert drive(callback, [1.0, 0.95, 0.9, 0.85]) == [0, 1, 2, 3]


@pytest.mark.parametrize(("mode", "monitor"), [("max", "score"), ("auto", "val_accuracy")])
def test_early_stopping_max_mode(mode: str, monitor: str) -> None:
    callback = EarlyStopping(monitor=monitor, mode=mode, patience=1, min_delta=0.1)
    assert drive(callback, [0.5, 0.7, 0.75, 0.79, 0.95], key=monitor) == [0, 1, 2, 3]
    assert callback.best_epoch == 1
    assert callback.best == 0.7


def test_early_stopping_records_the_stop_reason() -> None:
    model = mlp()
    history = train(model, [Scripted("val_loss", [1.0, 2.0, 3.0, 4.0, 5.0]), EarlyStopping(patience=1)],
                    epochs=5)
    assert history.epoch == [0, 1, 2]
    assert "early stopping" in (history.stop_reason or "").lower()


def test_early_stopping_restore_best_weights() -> None:
    script = [1.0, 0.8, 0.5, 0.7, 0.9, 1.1, 1.3]  # best at epoch 2
    snapshots = Snapshots()
    stopper = EarlyStopping(patience=2, restore_best_weights=True)
    model = mlp()
    history = train(model, [Scripted("val_loss", script), snapshots, stopper], epochs=7)
    assert history.epoch == [0, 1, 2, 3, 4, 5]  # 3 epochs without improvement > patience 2
    assert stopper.best_epoch == 2
    assert stopper.stopped_epoch == 5
    final = dict(model.state_dict())
    assert_same_weights(final, snapshots.at_epoch_end[2])
    assert differs(final, snapshots.at_epoch_end[5])


def test_early_stopping_without_restore_keeps_the_last_weights() -> None:
    snapshots = Snapshots()
    model = mlp()
    history = train(model, [Scripted("val_loss", [1.0, 0.5, 0.7, 0.9, 1.0, 1.1]), snapshots,
                            EarlyStopping(patience=1)], epochs=6)
    assert history.epoch == [0, 1, 2, 3]
    assert_same_weights(dict(model.state_dict()), snapshots.at_epoch_end[3])


def test_early_stopping_on_real_val_loss_restores_the_best_epoch() -> None:
    # a large learning rate makes val_loss bounce; whatever happens, the final weights must be
    # those of the epoch with the lowest val_loss
    snapshots = Snapshots()
    stopper = EarlyStopping(patience=2, restore_best_weights=True)
    model = mlp()
    history = train(model, [snapshots, stopper], epochs=12, lr=2.0)
    best = int(np.argmin(history.history["val_loss"]))
    assert stopper.best_epoch == best
    assert_same_weights(dict(model.state_dict()), snapshots.at_epoch_end[best])


def test_early_stopping_warns_when_the_monitored_value_is_missing() -> None:
    with pytest.warns(RuntimeWarning, match="val_loss"):
        history = train(mlp(), [EarlyStopping()], epochs=2, validation=False)
    assert history.epoch == [0, 1]


def test_early_stopping_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="lowest")


# ---------------------------------------------------------------------------------------------
# ReduceLROnPlateau (callback)
# ---------------------------------------------------------------------------------------------
def test_reduce_lr_on_plateau_callback_lowers_the_lr_after_patience() -> None:
    model = mlp()
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1)
    callback = ReduceLROnPlateau(patience=2, factor=0.5)
    history = train(model, [Scripted("val_loss", [1.0] * 6), callback], epochs=6, optimizer=optimizer)
    # epoch 0 sets the best; epochs 1, 2 stall -> lr halves for epoch 3; 3, 4 stall -> halves again
    np.testing.assert_allclose(history.history["lr"], [0.1, 0.1, 0.1, 0.05, 0.05, 0.025])
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.025)


def test_reduce_lr_on_plateau_callback_keeps_the_lr_while_improving_and_respects_min_lr() -> None:
    model = mlp()
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1)
    improving = ReduceLROnPlateau(patience=1, factor=0.5)
    train(model, [Scripted("val_loss", [1.0, 0.9, 0.8, 0.7]), improving], epochs=4, optimizer=optimizer)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)
    floor = ReduceLROnPlateau(patience=1, factor=0.5, min_lr=0.04)
    train(model, [Scripted("val_loss", [1.0] * 6), floor], epochs=6, optimizer=optimizer)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.04)


def test_reduce_lr_on_plateau_callback_rejects_a_bad_factor() -> None:
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.5)


# ---------------------------------------------------------------------------------------------
# ModelCheckpoint
# ---------------------------------------------------------------------------------------------
def test_model_checkpoint_saves_every_epoch_with_formatted_names(tmp_path: Path) -> None:
    snapshots = Snapshots()
    checkpoint = ModelCheckpoint(tmp_path / "ckpt-{epoch:02d}-{val_loss:.3f}.safetensors")
    model = mlp()
    history = train(model, [snapshots, checkpoint], epochs=3)
    expected = [str(tmp_path / f"ckpt-{e + 1:02d}-{v:.3f}.safetensors")
                for e, v in enumerate(history.history["val_loss"])]
    assert checkpoint.saved == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(p).name for p in expected)
    x, _ = data()
    for epoch, path in enumerate(expected):
        loaded = rp.load(path)
        assert_same_weights(dict(loaded.state_dict()), snapshots.at_epoch_end[epoch])
    np.testing.assert_array_equal(rp.predict(rp.load(expected[-1]), x), rp.predict(model, x))


def test_model_checkpoint_save_best_only(tmp_path: Path) -> None:
    snapshots = Snapshots()
    script = [0.5, 0.4, 0.45, 0.3, 0.3]
    checkpoint = ModelCheckpoint(tmp_path / "best-{epoch:02d}-{val_loss:.3f}.npz", save_best_only=True)
    train(mlp(), [Scripted("val_loss", script), snapshots, checkpoint], epochs=5)
    names = ["best-01-0.500.npz", "best-02-0.400.npz", "best-04-0.300.npz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    assert [Path(p).name for p in checkpoint.saved] == names
    for epoch, name in zip([0, 1, 3], names, strict=True):
        assert_same_weights(dict(rp.load(tmp_path / name).state_dict()), snapshots.at_epoch_end[epoch])


def test_model_checkpoint_save_best_only_max_mode_single_file(tmp_path: Path) -> None:
    snapshots = Snapshots()
    path = tmp_path / "best.safetensors"
    checkpoint = ModelCheckpoint(path, monitor="val_accuracy", save_best_only=True)
    train(mlp(), [Scripted("val_accuracy", [0.5, 0.7, 0.6, 0.65]), snapshots, checkpoint], epochs=4)
    assert len(checkpoint.saved) == 2
    assert_same_weights(dict(rp.load(path).state_dict()), snapshots.at_epoch_end[1])


def test_model_checkpoint_full_writes_a_resumable_checkpoint(tmp_path: Path) -> None:
    model = mlp()
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    checkpoint = ModelCheckpoint(tmp_path / "full-{epoch}.safetensors", full=True)
    history = train(model, [checkpoint], epochs=2, optimizer=optimizer)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full-1.safetensors", "full-2.safetensors"]
    fresh = mlp(seed=5)
    fresh_optimizer = rp.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    state = rp.load_checkpoint(tmp_path / "full-2.safetensors", fresh, fresh_optimizer)
    assert state["epoch"] == 2
    assert state["history"].epoch == [0, 1]
    np.testing.assert_array_equal(state["history"].step_loss, history.step_loss)
    assert state["history"].history == history.history
    assert_same_weights(dict(fresh.state_dict()), dict(model.state_dict()))
    for p, q in zip(model.parameters(), fresh.parameters(), strict=True):
        np.testing.assert_array_equal(optimizer.state[p]["momentum_buffer"],
                                      fresh_optimizer.state[q]["momentum_buffer"])
    first = rp.load_checkpoint(tmp_path / "full-1.safetensors", fresh, fresh_optimizer)
    assert first["epoch"] == 1 and len(first["history"].step_loss) == 3


def test_model_checkpoint_skips_a_missing_monitor_with_a_warning(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(tmp_path / "m.npz", save_best_only=True)
    with pytest.warns(RuntimeWarning, match="val_loss"):
        train(mlp(), [checkpoint], epochs=1, validation=False)
    assert checkpoint.saved == []
    assert list(tmp_path.iterdir()) == []


def test_model_checkpoint_filepath_with_a_missing_log_key_names_it(tmp_path: Path) -> None:
    template = str(tmp_path / "m-{val_loss:.3f}.npz")
    with pytest.raises((KeyError, ValueError)) as info:
        train(mlp(), [ModelCheckpoint(template)], epochs=1, validation=False)
    message = str(info.value)
    assert "ModelCheckpoint" in message and template in message and "val_loss" in message


def test_model_checkpoint_with_a_wrong_extension_fails_with_the_path(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    with pytest.raises(ValueError) as info:
        train(mlp(), [ModelCheckpoint(path)], epochs=1)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------------------------
# CSVLogger
# ---------------------------------------------------------------------------------------------
def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def test_csv_logger_writes_a_header_and_one_row_per_epoch(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    history = train(mlp(), [CSVLogger(path)], epochs=3)
    rows = read_csv(path)
    keys = sorted(history.history)
    assert rows[0] == ["epoch", *keys]
    assert len(rows) == 4
    for epoch, row in enumerate(rows[1:]):
        assert row[0] == str(epoch)
        for key, cell in zip(keys, row[1:], strict=True):
            assert float(cell) == pytest.approx(history.history[key][epoch], rel=1e-12)


def test_csv_logger_overwrites_by_default_and_appends_on_request(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    model = mlp()
    train(model, [CSVLogger(path)], epochs=2)
    train(model, [CSVLogger(path)], epochs=1)
    assert len(read_csv(path)) == 2  # header + 1 row: overwritten
    train(model, [CSVLogger(path, append=True)], epochs=2)
    rows = read_csv(path)
    assert len(rows) == 4  # one header, three rows
    assert rows[0][0] == "epoch"
    assert [row[0] for row in rows[1:]] == ["0", "0", "1"]
    assert sum(row[0] == "epoch" for row in rows) == 1


def test_csv_logger_append_to_a_new_file_writes_the_header(tmp_path: Path) -> None:
    path = tmp_path / "new.csv"
    train(mlp(), [CSVLogger(path, append=True, separator=";")], epochs=1)
    with path.open() as handle:
        lines = handle.read().splitlines()
    assert lines[0].startswith("epoch;")
    assert len(lines) == 2


# ---------------------------------------------------------------------------------------------
# TerminateOnNaN
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_terminate_on_nan_unit(value: float) -> None:
    model = mlp()
    history = rp.History()
    callback = TerminateOnNaN()
    callback.set_context(model, history, {})
    model.stop_training = False
    callback.on_batch_end(0, {"loss": 0.5})
    assert model.stop_training is False
    callback.on_batch_end(3, {"loss": value})
    assert model.stop_training is True
    assert history.stop_reason is not None and "batch 4" in history.stop_reason


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_terminate_on_nan_in_fit() -> None:
    model = mlp()
    history = train(model, [TerminateOnNaN()], epochs=3, lr=1e30)
    assert len(history.step_loss) < 9
    assert not math.isfinite(history.step_loss[-1])
    assert all(np.isfinite(v).all() for v in model.state_dict().values())


def test_a_callback_can_skip_a_step_replace_the_optimizer_and_extend_the_run() -> None:
    """The TrainState requests: skip_step in on_backward_end, replace(optimizer=...), extend(epochs)."""

    class Steering(Callback):
        def __init__(self) -> None:
            self.seen: list[tuple[int, bool]] = []

        def on_backward_end(self, batch: int, logs: dict | None = None) -> None:
            self.seen.append((self.state.step, logs["grads_finite"]))
            if self.state.step % 2:
                self.state.skip_step()  # odd steps: no update

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if epoch == 0:
                self.state.replace(optimizer=rp.optim.SGD(self.model.parameters(), lr=0.0))
                self.state.extend(3)

    model = mlp()
    steering = Steering()
    before = [p.data.copy() for p in model.parameters()]
    updates = []
    spy = LambdaCallback(on_batch_end=lambda batch, logs: updates.append(
        [p.data.copy() for p in model.parameters()]))
    history = train(model, [steering, spy], epochs=2)
    assert len(history.epoch) == 3 and history.params["epochs"] == 3  # extended from 2 to 3
    assert [step for step, _ in steering.seen] == list(range(9)) and all(ok for _, ok in steering.seen)
    changed = [any((a != b).any() for a, b in zip(prev, now, strict=True))
               for prev, now in zip([before, *updates], updates, strict=False)]
    assert changed[:3] == [True, False, True]  # step 1's update skipped
    assert not any(changed[3:])  # from epoch 2 on the replacing optimizer has rate 0
    assert history.params["optimizer"].param_groups[0]["lr"] == 0.0
