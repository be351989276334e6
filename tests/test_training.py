"""rp.fit / rp.evaluate / rp.predict and History: the training loop's contract."""

from __future__ import annotations

import io
import math
import os
import signal
import sys
import threading
import time

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.callbacks import Callback, LambdaCallback, TerminateOnNaN


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def moons(n: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return rp.data.moons(n, noise=0.1, seed=seed)


def spiral(n: int = 90, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return rp.data.spiral(n, n_classes=3, seed=seed)


def mlp(n_in: int = 2, hidden: int = 16, n_out: int = 2, dropout: float | None = None,
        seed: int | None = 0) -> nn.Sequential:
    if seed is not None:
        rp.manual_seed(seed)
    layers: list[nn.Module] = [nn.Linear(n_in, hidden), nn.ReLU()]
    if dropout is not None:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, n_out))
    return nn.Sequential(*layers)


def sgd(model: nn.Module, lr: float = 0.1, **kwargs: float) -> rp.optim.SGD:
    return rp.optim.SGD(model.parameters(), lr=lr, **kwargs)


def weights(model: nn.Module) -> dict[str, np.ndarray]:
    return dict(model.state_dict())


def assert_same_weights(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def all_finite(model: nn.Module) -> bool:
    return all(np.isfinite(v).all() for v in model.state_dict().values())


# ---------------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------------
def test_fit_returns_history_with_per_epoch_lists_and_step_losses() -> None:
    x, y = moons(96)
    model = mlp()
    history = rp.fit(model, x[:64], y[:64], loss="cross_entropy", optimizer=sgd(model), epochs=3,
                     batch_size=16, validation_data=(x[64:], y[64:]), seed=0, verbose=0)
    assert isinstance(history, rp.History)
    assert history.model is model
    assert history.epoch == [0, 1, 2]
    assert set(history.history) == {"loss", "val_loss", "accuracy", "val_accuracy", "lr"}
    for key, values in history.history.items():
        assert len(values) == 3, key
        assert all(isinstance(v, float) and math.isfinite(v) for v in values), key
    assert history.history["lr"] == [0.1, 0.1, 0.1]
    assert all(0.0 <= a <= 1.0 for a in history.history["accuracy"] + history.history["val_accuracy"])
    assert isinstance(history.step_loss, np.ndarray)
    assert history.step_loss.shape == (3 * 4,)  # 64 samples / 16 per batch, 3 epochs
    assert np.isfinite(history.step_loss).all()
    assert history.stop_reason is None
    # the epoch's loss is the sample-weighted mean of its steps (equal batches: the plain mean)
    np.testing.assert_allclose(history.history["loss"], history.step_loss.reshape(3, 4).mean(axis=1),
                               rtol=1e-6)


def test_training_lowers_the_loss() -> None:
    x, y = moons(128)
    model = mlp()
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=rp.optim.Adam(model.parameters(), lr=1e-2),
                     epochs=15, batch_size=16, seed=0, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.85


def test_zero_epochs_trains_nothing() -> None:
    x, y = moons(32)
    model = mlp()
    before = weights(model)
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=0, verbose=0)
    assert history.epoch == []
    assert history.step_loss.shape == (0,)
    assert_same_weights(before, weights(model))


# ---------------------------------------------------------------------------------------------
# Losses and metrics
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", [
    "cross_entropy", "sparse_categorical_crossentropy", "CrossEntropy",
    rp.F.cross_entropy, nn.CrossEntropyLoss(), nn.CrossEntropyLoss,
], ids=["name", "keras-name", "name-any-case", "function", "module", "module-class"])
def test_every_form_of_the_cross_entropy_loss_trains_identically(loss: object) -> None:
    x, y = spiral(60)
    reference_model = mlp(n_out=3)
    reference = rp.fit(reference_model, x, y, loss=nn.CrossEntropyLoss(),
                       optimizer=sgd(reference_model), epochs=2, batch_size=16, seed=3, verbose=0)
    model = mlp(n_out=3)
    history = rp.fit(model, x, y, loss=loss, optimizer=sgd(model), epochs=2, batch_size=16, seed=3,
                     verbose=0)
    np.testing.assert_array_equal(history.step_loss, reference.step_loss)
    assert "accuracy" in history.history  # metrics=None means accuracy for a classification loss


@pytest.mark.parametrize("loss", ["mse", "mean_squared_error", "MSE", rp.F.mse_loss, nn.MSELoss()])
def test_mse_loss_forms_train_identically_and_have_no_accuracy(loss: object) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)).astype(np.float32)
    reference_model = mlp(n_in=3, n_out=1)
    reference = rp.fit(reference_model, x, y, loss=nn.MSELoss(), optimizer=sgd(reference_model, 0.05),
                       epochs=2, batch_size=16, seed=1, verbose=0, validation_split=0.25)
    model = mlp(n_in=3, n_out=1)
    history = rp.fit(model, x, y, loss=loss, optimizer=sgd(model, 0.05), epochs=2, batch_size=16,
                     seed=1, verbose=0, validation_split=0.25)
    np.testing.assert_array_equal(history.step_loss, reference.step_loss)
    assert set(history.history) == {"loss", "val_loss", "lr"}
    assert "accuracy" not in rp.evaluate(model, x, y, loss=loss)


def test_bce_with_logits_gets_binary_accuracy() -> None:
    x, y = moons(64)
    model = mlp(n_out=1)
    y_float = y.astype(np.float32)[:, None]
    history = rp.fit(model, x, y_float, loss="bce_with_logits", optimizer=sgd(model, 0.5), epochs=10,
                     batch_size=16, seed=0, verbose=0)
    assert "accuracy" in history.history
    logits = rp.predict(model, x)
    expected = float(((logits > 0) == (y_float > 0.5)).mean())
    assert rp.evaluate(model, x, y_float, loss="bce_with_logits")["accuracy"] == pytest.approx(expected)
    assert history.history["accuracy"][-1] > 0.75


def test_accuracy_on_one_hot_or_soft_target_rows_compares_the_classes_they_mark() -> None:
    x, y = moons(64)
    onehot = np.eye(2, dtype=np.float32)[y]
    model = mlp()
    history = rp.fit(model, x, onehot, loss="mse", optimizer=sgd(model, 0.5), epochs=3, batch_size=16,
                     seed=0, verbose=0, metrics=["accuracy"], validation_split=0.25)
    assert {"accuracy", "val_accuracy"} <= set(history.history)
    scores = rp.predict(model, x)
    expected = float((scores.argmax(axis=1) == y).mean())
    soft = np.where(onehot > 0, 0.7, 0.3).astype(np.float32)  # the same classes, marked softly
    for rows in (onehot, soft):
        measured = rp.evaluate(model, x, rows, loss="mse", metrics=["accuracy"])["accuracy"]
        assert measured == pytest.approx(expected)


def test_metrics_empty_list_and_custom_function() -> None:
    x, y = moons(48)
    model = mlp()

    def error_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float((y_pred.argmax(-1) != y_true).mean())

    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=1, metrics=[],
                     verbose=0)
    assert set(history.history) == {"loss", "lr"}
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=2,
                     metrics=["accuracy", error_rate], validation_data=(x, y), verbose=0)
    for prefix in ("", "val_"):
        for a, e in zip(history.history[f"{prefix}accuracy"], history.history[f"{prefix}error_rate"],
                        strict=True):
            assert a + e == pytest.approx(1.0)
    scores = rp.evaluate(model, x, y, loss="cross_entropy", metrics=["accuracy", error_rate])
    assert scores["accuracy"] + scores["error_rate"] == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------------------------
def test_float64_input_trains_a_float32_model_and_keeps_it_float32() -> None:
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    x, y = sklearn_datasets.make_classification(n_samples=80, n_features=5, random_state=0)
    assert x.dtype == np.float64
    model = mlp(n_in=5)
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=2, batch_size=16,
                     validation_data=(x, y), verbose=0)
    assert np.isfinite(history.step_loss).all()
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert rp.predict(model, x).dtype == np.float32
    assert math.isfinite(rp.evaluate(model, x, y, loss="cross_entropy")["loss"])


def test_a_double_model_trains_and_predicts_in_float64() -> None:
    x, y = moons(48)  # float32 input
    model = mlp().double()
    rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=2, batch_size=16, verbose=0)
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model.dtype == np.float64
    out = rp.predict(model, x)
    assert out.dtype == np.float64


def timestamps(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A timestamp-like feature (1.7e9 ± 100: float32 holds it in steps of 128) and whether it lies
    above the middle."""
    x = 1.7e9 + np.random.default_rng(seed).uniform(-100.0, 100.0, size=(n, 1))
    return x, (x[:, 0] > 1.7e9).astype(np.int64)


def test_a_leading_standardize_gets_the_raw_inputs_in_float64() -> None:
    x, y = timestamps(400)
    model = nn.Sequential(nn.Sequential(nn.Standardize.from_data(x, dtype=np.float32)), nn.Linear(1, 2))
    with rp.no_grad():  # logits (0, z): class 1 exactly when the standardized feature is positive
        model[1].weight.data[...] = [[0.0], [1.0]]
        model[1].bias.data[...] = [0.0, -float((1.7e9 - x.mean()) / x.std())]
    z = (x[:, 0] - 1.7e9) / x.std()
    out = rp.predict(model, x)
    assert out.dtype == np.float32 and model.dtype == np.float32
    # float32 rounding of the result only (rounding the input first errs by up to 64 / std ~ 1.1)
    np.testing.assert_allclose(out[:, 1], z, atol=1e-5)
    assert rp.evaluate(model, x, y, loss="cross_entropy")["accuracy"] == 1.0


def test_a_model_with_a_leading_standardize_trains_and_evaluates_on_raw_offset_inputs() -> None:
    x, y = timestamps(240)
    x_val, y_val = timestamps(200, seed=1)
    rp.manual_seed(0)
    model = nn.Sequential(nn.Standardize.from_data(x, dtype=np.float32), nn.Linear(1, 2))
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=rp.optim.Adam(model.parameters(), lr=0.1),
                     epochs=15, batch_size=32, validation_data=(x_val, y_val), verbose=0, seed=0)
    assert model.dtype == np.float32 and model[0].mean.dtype == np.float64
    assert history.history["val_accuracy"][-1] >= 0.95
    assert rp.evaluate(model, x_val, y_val, loss="cross_entropy")["accuracy"] == \
        history.history["val_accuracy"][-1]


def test_tensors_and_lists_are_accepted() -> None:
    x, y = moons(32)
    model = mlp()
    history = rp.fit(model, rp.tensor(x), y.tolist(), loss="cross_entropy", optimizer=sgd(model),
                     epochs=1, verbose=0)
    assert history.step_loss.shape == (1,)


# ---------------------------------------------------------------------------------------------
# Progress output
# ---------------------------------------------------------------------------------------------
def test_verbose_2_prints_one_line_per_epoch_counted_from_1(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = moons(48)
    model = mlp()
    rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=3, batch_size=16,
           validation_data=(x, y), verbose=2)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines, start=1):
        assert line.startswith(f"Epoch {i}/3")
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
            assert key in line
    assert "\r" not in out and "\x1b" not in out


def test_verbose_0_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = moons(48)
    model = mlp()
    rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=2, batch_size=16,
           validation_split=0.25, verbose=0)
    rp.evaluate(model, x, y, loss="cross_entropy")
    rp.predict(model, x)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_verbose_1_without_a_terminal_has_no_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = moons(64)
    model = mlp()
    rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=2, batch_size=8, verbose=1)
    captured = capsys.readouterr()
    for text in (captured.out, captured.err):
        assert "\r" not in text
        assert "\x1b" not in text
    assert "Epoch 1/2" in captured.out and "Epoch 2/2" in captured.out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_verbose_1_on_a_terminal_draws_a_live_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _Terminal()
    monkeypatch.setattr(sys, "stdout", stream)
    x, y = moons(64)
    model = mlp()
    rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=2, batch_size=8, verbose=1)
    out = stream.getvalue()
    assert "Epoch 1/2\n" in out and "Epoch 2/2\n" in out
    assert "\r" in out and "8/8" in out


# ---------------------------------------------------------------------------------------------
# Reproducibility
# ---------------------------------------------------------------------------------------------
def _seeded_run(seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    x, y = spiral(90)
    model = mlp(n_out=3, dropout=0.3, seed=0)
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model, momentum=0.9), epochs=3,
                     batch_size=16, shuffle=True, seed=seed, verbose=0)
    return history.step_loss, weights(model)


def test_a_fixed_seed_gives_identical_step_losses_with_shuffle_and_dropout() -> None:
    losses_a, weights_a = _seeded_run(seed=7)
    rp.default_generator().random(5)  # disturb the global stream between the runs
    losses_b, weights_b = _seeded_run(seed=7)
    np.testing.assert_array_equal(losses_a, losses_b)
    assert_same_weights(weights_a, weights_b)
    losses_c, _ = _seeded_run(seed=8)
    assert not np.array_equal(losses_a, losses_c)


def test_manual_seed_gives_identical_initial_weights() -> None:
    rp.manual_seed(42)
    a = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    rp.manual_seed(42)
    b = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    c = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    assert_same_weights(weights(a), weights(b))
    assert not np.array_equal(a[0].weight.data, c[0].weight.data)


def test_shuffle_false_visits_the_samples_in_order() -> None:
    x, y = moons(32)
    seen: list[np.ndarray] = []

    class Spy(nn.Module):
        def forward(self, t: rp.Tensor) -> rp.Tensor:
            if self.training:
                seen.append(t.data.copy())
            return t

    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2))
    model.add_module("spy", Spy())
    rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model, 0.0), epochs=1, batch_size=8,
           shuffle=False, verbose=0)
    assert len(seen) == 4
    # with lr 0 the Linear never changes, so the batches are x[0:8], x[8:16], ... in order
    expected = rp.predict(model, x)
    np.testing.assert_allclose(np.concatenate(seen), expected, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------
def test_validation_split_holds_out_the_last_fraction() -> None:
    x, y = moons(80)
    model = mlp()
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=2, batch_size=16,
                     validation_split=0.25, seed=0, verbose=0)
    assert history.params["samples"] == 60
    assert history.step_loss.shape == (2 * 4,)  # 60 training samples: 3 full batches and one of 12
    val = rp.evaluate(model, x[60:], y[60:], loss="cross_entropy")
    assert history.history["val_loss"][-1] == pytest.approx(val["loss"], rel=1e-6)
    assert history.history["val_accuracy"][-1] == pytest.approx(val["accuracy"])
    first = rp.evaluate(model, x[:20], y[:20], loss="cross_entropy")
    assert first["loss"] != pytest.approx(val["loss"], rel=1e-6)


def test_validation_split_never_trains_on_the_held_out_samples() -> None:
    x, y = moons(40)
    rows: list[np.ndarray] = []

    class Spy(nn.Module):
        def forward(self, t: rp.Tensor) -> rp.Tensor:
            if self.training:
                rows.append(t.data.copy())
            return t

    model = nn.Sequential(Spy(), nn.Linear(2, 2))
    rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=2, batch_size=8,
           validation_split=0.25, verbose=0)
    trained = np.unique(np.concatenate(rows), axis=0)
    np.testing.assert_array_equal(trained, np.unique(x[:30], axis=0))


# ---------------------------------------------------------------------------------------------
# Schedulers
# ---------------------------------------------------------------------------------------------
def test_step_lr_scheduler_steps_once_per_epoch_and_history_shows_the_lr() -> None:
    x, y = moons(48)
    model = mlp()
    optimizer = sgd(model, 0.1)
    scheduler = rp.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=optimizer, epochs=4, batch_size=16,
                     scheduler=scheduler, verbose=0)
    np.testing.assert_allclose(history.history["lr"], [0.1, 0.05, 0.025, 0.0125])
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.00625)
    assert scheduler.last_epoch == 4


def test_step_lr_with_step_size_2() -> None:
    x, y = moons(32)
    model = mlp()
    optimizer = sgd(model, 1.0)
    scheduler = rp.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1)
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=optimizer, epochs=5, batch_size=16,
                     scheduler=scheduler, verbose=0)
    np.testing.assert_allclose(history.history["lr"], [1.0, 1.0, 0.1, 0.1, 0.01])


def test_reduce_lr_on_plateau_scheduler_receives_val_loss() -> None:
    x, y = moons(64)
    model = mlp()
    optimizer = sgd(model, 0.1)
    scheduler = rp.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    received: list[float] = []
    original_step = scheduler.step

    def spy(metric: float) -> None:
        received.append(metric)
        original_step(metric)

    scheduler.step = spy  # type: ignore[method-assign]
    history = rp.fit(model, x[:48], y[:48], loss="cross_entropy", optimizer=optimizer, epochs=3,
                     batch_size=16, validation_data=(x[48:], y[48:]), scheduler=scheduler, verbose=0)
    assert received == history.history["val_loss"]
    assert received != history.history["loss"]


def test_reduce_lr_on_plateau_scheduler_uses_the_training_loss_without_validation() -> None:
    x, y = moons(48)
    model = mlp()
    optimizer = sgd(model, 0.1)
    scheduler = rp.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    received: list[float] = []
    original_step = scheduler.step
    scheduler.step = lambda metric: (received.append(metric), original_step(metric))  # type: ignore
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=optimizer, epochs=2, batch_size=16,
                     scheduler=scheduler, verbose=0)
    assert received == history.history["loss"]


def test_reduce_lr_on_plateau_scheduler_lowers_the_lr_when_val_loss_stalls() -> None:
    x, y = moons(48)
    model = mlp()
    optimizer = sgd(model, 1e-6)  # too small to improve val_loss by 10% in an epoch
    scheduler = rp.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=1, factor=0.5, threshold=0.1)
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=optimizer, epochs=5, batch_size=16,
                     validation_data=(x, y), scheduler=scheduler, verbose=0)
    # epoch 0 sets the best; epochs 1 and 2 are bad; the reduction after epoch 2 shows in epoch 3
    np.testing.assert_allclose(history.history["lr"], [1e-6, 1e-6, 1e-6, 5e-7, 5e-7])


# ---------------------------------------------------------------------------------------------
# BatchNorm and a last batch of one
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [False, True])
def test_batchnorm_model_with_a_last_batch_of_one_trains(shuffle: bool) -> None:
    x, y = moons(33)  # 16 + 16 + 1: the singleton joins the previous batch
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=3, batch_size=16,
                     shuffle=shuffle, validation_split=0.0, verbose=0)
    assert history.step_loss.shape == (3 * 2,)
    assert history.params["steps"] == 2
    assert np.isfinite(history.step_loss).all()
    assert all_finite(model)
    assert int(model[1].num_batches_tracked.data) == 6


@pytest.mark.parametrize(("n", "steps"), [(35, 2), (39, 2), (40, 3)])
def test_batchnorm_model_folds_a_last_batch_shorter_than_half_a_batch(n: int, steps: int) -> None:
    x, y = moons(n)  # batches of 16: a tail of 3 or 7 joins the batch before it, a tail of 8 stays
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=1, batch_size=16,
                     verbose=0)
    assert history.params["steps"] == steps
    assert int(model[1].num_batches_tracked.data) == steps


def test_model_without_batchnorm_keeps_a_last_batch_of_one() -> None:
    x, y = moons(33)
    model = mlp()
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=1, batch_size=16,
                     verbose=0)
    assert history.step_loss.shape == (3,)


# ---------------------------------------------------------------------------------------------
# End to end: digits
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, ...]:
    pytest.importorskip("sklearn")
    data = rp.data.load_digits()
    x_train, x_test, y_train, y_test = rp.data.train_test_split(data.x, data.y, test_size=0.25, seed=0)
    x_train, x_test = rp.data.standardize(x_train, x_test)
    return x_train, y_train, x_test, y_test


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_digits_mlp_reaches_95_percent_test_accuracy_in_seconds(kind: str, digits: tuple) -> None:
    x_train, y_train, x_test, y_test = digits
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    if kind == "adam":
        optimizer = rp.optim.Adam(model.parameters(), lr=1e-3)
    else:
        optimizer = rp.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    start = time.perf_counter()
    rp.fit(model, x_train, y_train, loss="cross_entropy", optimizer=optimizer, epochs=10, batch_size=32,
           seed=0, verbose=0)
    scores = rp.evaluate(model, x_test, y_test, loss="cross_entropy")
    elapsed = time.perf_counter() - start
    assert scores["accuracy"] >= 0.95
    assert elapsed < 5.0
    logits = rp.predict(model, x_test)
    assert float((logits.argmax(1) == y_test).mean()) == pytest.approx(scores["accuracy"])


# ---------------------------------------------------------------------------------------------
# predict / evaluate
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("training", [True, False])
def test_predict_returns_logits_and_keeps_the_mode(training: bool) -> None:
    x, _ = spiral(30)
    model = mlp(n_out=3, dropout=0.5)
    model.train(training)
    out = rp.predict(model, x, batch_size=7)
    assert isinstance(out, np.ndarray)
    assert out.shape == (30, 3)
    assert model.training is training
    assert all(m.training is training for m in model.modules())
    model.eval()
    with rp.no_grad():
        expected = model(rp.tensor(x)).data
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert not np.allclose(out.sum(axis=1), 1.0)  # logits, not probabilities


@pytest.mark.parametrize("training", [True, False])
def test_evaluate_keeps_the_mode_and_uses_eval_behaviour(training: bool) -> None:
    x, y = spiral(30)
    model = mlp(n_out=3, dropout=0.5)
    model.train(training)
    first = rp.evaluate(model, x, y, loss="cross_entropy", batch_size=4)
    second = rp.evaluate(model, x, y, loss="cross_entropy")
    assert model.training is training
    assert first["loss"] == pytest.approx(second["loss"], rel=1e-6)  # no dropout in evaluate
    assert set(first) == {"loss", "accuracy"}
    logits = rp.predict(model, x)
    expected = float(rp.F.cross_entropy(rp.tensor(logits), y).data)
    assert first["loss"] == pytest.approx(expected, rel=1e-5)


def test_fit_leaves_no_gradient_graph_in_predict() -> None:
    x, _ = moons(16)
    model = mlp()
    out = rp.predict(model, x)
    assert not isinstance(out, rp.Tensor)


# ---------------------------------------------------------------------------------------------
# Dropout(1.0): nothing to learn, but nothing breaks
# ---------------------------------------------------------------------------------------------
def test_dropout_one_trains_without_nan_and_learns_nothing() -> None:
    x, y = spiral(90)  # 3 balanced classes: majority rate 1/3
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(1.0), nn.Linear(32, 3))
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=rp.optim.Adam(model.parameters(), lr=1e-2),
                     epochs=10, batch_size=16, seed=0, verbose=0)
    assert np.isfinite(history.step_loss).all()
    assert all_finite(model)
    assert history.stop_reason is None
    # the output in training is the last bias alone: the loss cannot beat the prior's entropy
    assert min(history.history["loss"]) >= math.log(3) - 0.05
    assert max(history.history["accuracy"]) <= 1 / 3 + 0.1
    assert history.history["loss"][-1] > history.history["loss"][0] - 0.2


# ---------------------------------------------------------------------------------------------
# Non-finite losses: stop, and keep the last finite weights
# ---------------------------------------------------------------------------------------------
class _Snapshots(Callback):
    """The model's weights at the start of every step."""

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.before: list[dict[str, np.ndarray]] = []

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.before.append(weights(self.model))


def _explode(callbacks: list[Callback], model: nn.Module | None = None) -> tuple[rp.History, nn.Module]:
    x, y = moons(64)
    model = mlp() if model is None else model
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model, 1e30), epochs=3,
                     batch_size=16, seed=0, verbose=0, callbacks=callbacks)
    return history, model


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_non_finite_loss_stops_fit_and_keeps_the_weights_from_before_that_step() -> None:
    snapshots = _Snapshots()
    history, model = _explode([snapshots])
    assert history.stop_reason is not None and "non-finite" in history.stop_reason
    losses = history.step_loss
    assert len(losses) < 3 * 4  # stopped early
    assert not math.isfinite(losses[-1])
    assert np.isfinite(losses[:-1]).all()
    assert len(snapshots.before) == len(losses)
    assert all_finite(model)
    assert_same_weights(weights(model), snapshots.before[-1])
    # and evaluate still runs on it (the outputs may overflow: the weights are ~1e30)
    assert "loss" in rp.evaluate(model, *moons(8), loss="cross_entropy")


def _batchnorm_explosion() -> tuple[rp.History, nn.Module, _Snapshots]:
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
    snapshots = _Snapshots()
    history, model = _explode([snapshots], model)
    return history, model, snapshots


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_non_finite_loss_leaves_batchnorm_running_stats_finite() -> None:
    history, model, snapshots = _batchnorm_explosion()
    assert "non-finite" in (history.stop_reason or "")
    assert all_finite(model)
    before = snapshots.before[-1]
    for key in ("1.running_mean", "1.running_var", "0.weight", "3.weight"):
        np.testing.assert_array_equal(weights(model)[key], before[key], err_msg=key)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_non_finite_loss_leaves_the_whole_batchnorm_state_as_before_that_step() -> None:
    _, model, snapshots = _batchnorm_explosion()
    assert_same_weights(weights(model), snapshots.before[-1])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_an_update_that_overflows_the_weights_is_not_kept() -> None:
    x, y = moons(64)
    model = mlp()
    snapshots = _Snapshots()
    history = rp.fit(model, x * 1000, y, loss="cross_entropy", optimizer=sgd(model, 1e38), epochs=3,
                     batch_size=16, seed=0, verbose=0, callbacks=[snapshots])
    assert history.stop_reason is not None and "non-finite" in history.stop_reason
    assert all_finite(model)
    # the model is back at a state it had at some step boundary (not a half-applied update)
    final = weights(model)
    assert any(all(np.array_equal(final[k], snap[k]) for k in final) for snap in snapshots.before)


def test_a_non_finite_loss_stops_fit_without_numpy_warnings() -> None:
    # no filterwarnings mark: under the project's error::RuntimeWarning:retroprop.* a NumPy
    # overflow warning from inside the engine would turn into an exception here
    history, model = _explode([])
    assert "non-finite" in (history.stop_reason or "")
    assert all_finite(model)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_terminate_on_nan_stops_too() -> None:
    history, model = _explode([TerminateOnNaN()])
    assert history.stop_reason is not None
    assert "nan" in history.stop_reason.lower() or "non-finite" in history.stop_reason
    assert len(history.step_loss) < 3 * 4
    assert all_finite(model)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_non_finite_stop_is_reported_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = moons(64)
    model = mlp()
    rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model, 1e30), epochs=2, batch_size=16,
           seed=0, verbose=2)
    assert "non-finite" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Ctrl-C
# ---------------------------------------------------------------------------------------------
def _sentinel_handler(signum: int, frame: object) -> None:  # pragma: no cover - never called
    raise AssertionError("the previous SIGINT handler must not run during fit")


@pytest.fixture
def sigint_handler():
    previous = signal.signal(signal.SIGINT, _sentinel_handler)
    yield _sentinel_handler
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_stops_after_the_current_batch_and_restores_the_handler(sigint_handler) -> None:
    x, y = moons(64)
    model = mlp()

    def interrupt(batch: int, logs: dict) -> None:
        if batch == 1:
            os.kill(os.getpid(), signal.SIGINT)

    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=3, batch_size=16,
                     seed=0, verbose=0, callbacks=[LambdaCallback(on_batch_end=interrupt)])
    assert history.stop_reason is not None and "interrupted" in history.stop_reason.lower()
    assert history.step_loss.shape == (2,)  # batches 0 and 1 of epoch 0 ran, then it stopped
    assert np.isfinite(history.step_loss).all()
    assert history.epoch == [0]
    assert len(history.history["loss"]) == 1
    assert history.model is model
    assert all_finite(model)
    assert signal.getsignal(signal.SIGINT) is sigint_handler


def test_ctrl_c_in_batch_begin_still_finishes_that_batch(sigint_handler) -> None:
    x, y = moons(64)
    model = mlp()

    def interrupt(batch: int, logs: dict) -> None:
        if batch == 2:
            os.kill(os.getpid(), signal.SIGINT)

    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=2, batch_size=16,
                     verbose=0, callbacks=[LambdaCallback(on_batch_begin=interrupt)])
    assert history.step_loss.shape == (3,)
    assert "interrupted" in (history.stop_reason or "").lower()
    assert signal.getsignal(signal.SIGINT) is sigint_handler


def test_a_second_ctrl_c_aborts_and_still_restores_the_handler(sigint_handler) -> None:
    x, y = moons(64)
    model = mlp()

    def interrupt(batch: int, logs: dict) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=2, batch_size=16,
               verbose=0, callbacks=[LambdaCallback(on_batch_begin=interrupt, on_batch_end=interrupt)])
    assert signal.getsignal(signal.SIGINT) is sigint_handler


def test_fit_restores_the_default_sigint_handler() -> None:
    before = signal.getsignal(signal.SIGINT)
    x, y = moons(32)
    model = mlp()
    rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=1, verbose=0)
    assert signal.getsignal(signal.SIGINT) is before


def test_fit_restores_the_sigint_handler_after_an_error(sigint_handler) -> None:
    x, y = moons(32)
    model = mlp()

    def fail(batch: int, logs: dict) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=1, verbose=0,
               callbacks=[LambdaCallback(on_batch_end=fail)])
    assert signal.getsignal(signal.SIGINT) is sigint_handler


def test_fit_runs_outside_the_main_thread() -> None:
    x, y = moons(32)
    model = mlp()
    results: list[object] = []

    def work() -> None:
        try:
            results.append(rp.fit(model, x, y, loss="cross_entropy", optimizer=sgd(model), epochs=2,
                                  verbose=0))
        except BaseException as err:  # pragma: no cover - reported below
            results.append(err)

    before = signal.getsignal(signal.SIGINT)
    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=30)
    assert len(results) == 1 and isinstance(results[0], rp.History), results
    assert signal.getsignal(signal.SIGINT) is before


def test_fit_and_predict_keep_integer_indices_for_an_embedding() -> None:
    """A model that starts with an Embedding gets its inputs as given (indices stay integers), and
    float inputs are refused by the Embedding rather than rounded into indices."""
    rp.manual_seed(0)
    x = np.random.default_rng(0).integers(0, 20, (200, 5))
    y = (x.sum(1) > 47).astype(np.int64)
    model = nn.Sequential(nn.Embedding(20, 8), nn.Flatten(), nn.Linear(40, 2))
    history = rp.fit(model, x, y, epochs=20, loss="cross_entropy", verbose=0,
                     optimizer=rp.optim.Adam(model.parameters(), lr=0.01), validation_data=(x[:50], y[:50]))
    assert history.history["accuracy"][-1] > 0.9
    assert rp.predict(model, x[:3]).shape == (3, 2)
    with pytest.raises(ValueError, match="integer tensor"):
        rp.predict(model, x[:3] + 0.5)


@pytest.mark.parametrize("loss", ["bce", nn.BCELoss(), rp.F.binary_cross_entropy])
def test_fit_with_a_loss_on_probabilities_thresholds_accuracy_at_one_half(loss: object) -> None:
    """BCELoss takes probabilities (a Sigmoid output): its 0/1 float targets stay as they are and
    accuracy reads an output above 0.5 as the positive class."""
    rp.manual_seed(0)
    x = np.random.default_rng(1).normal(0, 1, (300, 2))
    y = (x[:, 0] + x[:, 1] > 0).astype(np.float32)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid(), nn.Flatten(0))
    history = rp.fit(model, x, y, epochs=30, loss=loss, verbose=0,
                     optimizer=rp.optim.Adam(model.parameters(), lr=0.02))
    predicted = rp.predict(model, x)
    assert history.history["accuracy"][-1] == pytest.approx(float(((predicted > 0.5) == (y > 0.5)).mean()),
                                                            abs=0.02)
    assert history.history["accuracy"][-1] > 0.95


@pytest.mark.parametrize("name, cls", [("l1", nn.L1Loss), ("huber", nn.HuberLoss),
                                       ("smooth_l1", nn.SmoothL1Loss)])
def test_fit_knows_the_regression_losses_by_name(name: str, cls: type) -> None:
    rp.manual_seed(0)
    x = np.random.default_rng(2).normal(0, 1, (200, 3))
    y = (x @ np.array([1.0, -2.0, 0.5]))[:, None].astype(np.float32)
    model = nn.Sequential(nn.Linear(3, 1))
    history = rp.fit(model, x, y, epochs=40, loss=name, verbose=0,
                     optimizer=rp.optim.Adam(model.parameters(), lr=0.05))
    assert "accuracy" not in history.history
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    assert float(cls()(model(rp.tensor(x.astype(np.float32))), rp.tensor(y)).item()) == pytest.approx(
        rp.evaluate(model, x, y, loss=name)["loss"], rel=1e-5)


def test_fit_reads_per_position_outputs_with_classes_on_axis_one() -> None:
    """(N, C, H, W) outputs against (N, H, W) labels, as torch's losses take them: the class count is
    axis 1 and accuracy compares argmax over axis 1; labels equal to the loss's ignore_index are
    neither refused nor counted."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 1, 4, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 0] > 1)  # 3 classes per position
    model = nn.Sequential(nn.Conv2d(1, 8, 1), nn.ReLU(), nn.Conv2d(8, 3, 1))
    history = rp.fit(model, x, y, loss=nn.CrossEntropyLoss(), epochs=40, verbose=0,
                     optimizer=rp.optim.Adam(model.parameters(), lr=0.05))
    predicted = rp.predict(model, x).argmax(1)
    assert history.history["accuracy"][-1] == pytest.approx(float((predicted == y).mean()), abs=0.05)
    assert history.history["accuracy"][-1] > 0.9
    masked = y.copy()
    masked[:, 0, :] = -100
    history = rp.fit(model, x, masked, loss=nn.CrossEntropyLoss(), epochs=1, verbose=0, shuffle=False,
                     optimizer=rp.optim.SGD(model.parameters(), lr=0.0))
    kept = masked != -100
    assert history.history["accuracy"][-1] == pytest.approx(float((predicted == y)[kept].mean()), abs=1e-6)
    with pytest.raises(ValueError, match="class labels must lie in"):
        rp.fit(model, x, masked - 1, loss=nn.CrossEntropyLoss(), epochs=1, verbose=0,
               optimizer=rp.optim.SGD(model.parameters(), lr=0.0))
