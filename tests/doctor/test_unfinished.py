"""A run too short for its steps: it ends before the weights could move, or still descending at full
pace above a blind guess's loss. Named at the end of the run, and before it when fit says how many
steps the run will take, so that a repair can still raise the rate."""

from __future__ import annotations

import math

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import Doctor, rules
from retroprop.doctor.checking import Movement
from retroprop.doctor.checks import mean_guess_loss


def _noisy(values: np.ndarray, seed: int = 0, scale: float = 0.002) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(values * (1 + scale * rng.standard_normal(values.size)))


# -- the rule on plain numbers ---------------------------------------------------------------------
def test_weights_that_barely_move_by_the_end_are_named() -> None:
    losses = _noisy(np.full(35, 0.69))
    found = rules.unfinished(losses, movement=0.05, steps_left=0)
    assert [f.problem for f in found] == ["slow_convergence"]
    assert found[0].evidence["projected_movement"] == pytest.approx(0.05)
    assert "too short" in found[0].explanation


def test_the_pace_of_movement_is_kept_to_the_planned_end() -> None:
    losses = _noisy(np.full(40, 0.69))
    # 0.02 in 40 steps: 0.1 by step 200, so a run planned for 200 steps moves them enough
    assert rules.unfinished(losses, movement=0.02, steps_left=160) == []
    found = rules.unfinished(losses, movement=0.02, steps_left=150)
    assert found and found[0].evidence["projected_movement"] == pytest.approx(0.02 * 190 / 40)


def test_nothing_is_judged_without_the_steps_left() -> None:
    losses = _noisy(np.full(35, 0.69))
    assert rules.unfinished(losses, movement=0.01, steps_left=None) == []


def test_a_loss_that_fell_or_rose_is_not_a_run_that_barely_moved() -> None:
    fell = _noisy(np.linspace(0.69, 0.5, 40))
    assert rules.unfinished(fell, movement=0.05, steps_left=0) == []
    rose = _noisy(np.linspace(0.69, 0.9, 40))
    assert rules.unfinished(rose, movement=0.05, steps_left=0) == []
    # no update at all is a lack of gradient (dead units, say), not a short run
    assert rules.unfinished(_noisy(np.full(35, 0.69)), movement=0.0, steps_left=0) == []


def test_a_linear_descent_above_a_blind_guess_is_named_while_there_is_time() -> None:
    losses = _noisy(np.linspace(48.0, 40.0, 200), scale=0.01)
    found = rules.unfinished(losses, movement=None, steps_left=400, chance_loss=2.0)
    assert [f.problem for f in found] == ["slow_convergence"]
    evidence = found[0].evidence
    assert evidence["fall_per_100_steps"] == pytest.approx(4.0, rel=0.15)
    assert evidence["projected_loss"] == pytest.approx(40.0 - 4.0 * 4.25, rel=0.05)


def test_a_descent_that_will_pass_the_blind_guess_or_has_slowed_down_is_not_named() -> None:
    steep = _noisy(np.linspace(48.0, 20.0, 200), scale=0.01)  # 14 per 100 steps: below 2 within 400
    assert rules.unfinished(steep, movement=None, steps_left=400, chance_loss=2.0) == []
    # a loss that flattens as it nears its floor: the last quarter falls far less than the mean
    curved = _noisy(3.0 + 45.0 * np.exp(-np.arange(200) / 30.0), scale=0.01)
    assert rules.unfinished(curved, movement=None, steps_left=0, chance_loss=2.0) == []
    # below the blind guess: a fit, whatever its pace
    below = _noisy(np.linspace(1.9, 1.5, 200), scale=0.01)
    assert rules.unfinished(below, movement=None, steps_left=0, chance_loss=2.0) == []
    # noise larger than the fall
    flat = list(40.0 + np.random.default_rng(1).standard_normal(200) * 5.0)
    assert rules.unfinished(flat, movement=None, steps_left=0, chance_loss=2.0) == []


def test_movement_sums_each_probes_ratio_over_the_steps_until_the_next() -> None:
    moved = Movement()
    assert moved.until(10) is None
    moved.add(0, 0.01)
    moved.add(37, 0.002)
    assert moved.until(100) == pytest.approx(0.01 * 37 + 0.002 * 63)
    moved.add(50, math.nan)  # an overflowed update is not a distance
    assert moved.until(100) == pytest.approx(0.01 * 37 + 0.002 * 63)


def test_mean_guess_loss_is_the_targets_spread() -> None:
    y = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]])
    assert mean_guess_loss("mse", y) == pytest.approx(np.var(y, axis=0).mean())
    assert mean_guess_loss("l1", y) == pytest.approx(np.abs(y - np.median(y, axis=0)).mean())
    assert mean_guess_loss("cross_entropy", y) is None
    assert mean_guess_loss("mse", np.array([1.0, np.nan])) is None


# -- in fit ----------------------------------------------------------------------------------------
def _blobs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two blobs a line separates, 0.1 apart: the start's boundary has to move to find them."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.uniform(0.2, 0.4, (100, 2)), rng.uniform(0.5, 0.7, (100, 2))])
    y = np.repeat([0, 1], 100)
    order = rng.permutation(200)
    return x[order].astype(np.float32), y[order]


def _blob_run(seed: int, lr: float, epochs: int) -> rp.History:
    x, y = _blobs(seed)
    rp.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 2))
    return rp.fit(model, x, y, loss="cross_entropy", optimizer=rp.optim.Adam(model.parameters(), lr=lr),
                  epochs=epochs, batch_size=32, validation_data=_blobs(seed + 100), doctor=True, seed=seed)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_run_of_35_small_adam_steps_is_named_at_its_end(seed: int) -> None:
    # Adam moves each weight by about its rate per step: 35 steps of 5e-4 move these weights (about 0.4
    # each) by some 4 % of their size in all
    history = _blob_run(seed, lr=5e-4, epochs=5)
    found = [d for d in history.diagnoses if d.problem == "slow_convergence"]
    assert found, [d.problem for d in history.diagnoses]
    assert found[0].evidence["steps_left"] == 0
    assert found[0].evidence["projected_movement"] < rules.UNFINISHED_MOVEMENT
    assert found[0].remedies[0][0] == "higher_lr"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_same_net_at_a_rate_that_moves_it_raises_no_alarm(seed: int) -> None:
    history = _blob_run(seed, lr=0.05, epochs=20)
    assert history.history["val_accuracy"][-1] > 0.8
    assert history.diagnoses == []


def _scaled_line(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(1.0, 2.0, n, dtype=np.float32)[:, None]
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    return x[order], 5 * x[order]


def _rmsprop_run(seed: int, lr: float, repair: bool = False) -> rp.History:
    rp.manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, 1))
    x, y = _scaled_line(seed, 80)
    return rp.fit(model, x, y, loss="mse", optimizer=rp.optim.RMSprop(model.parameters(), lr=lr, alpha=0.9),
                  epochs=200, batch_size=32, validation_data=_scaled_line(seed + 1, 20),
                  doctor=Doctor(repair=repair), seed=seed)


def test_a_regression_descending_too_slowly_for_its_planned_length_is_named_and_repaired() -> None:
    history = _rmsprop_run(0, lr=1e-3)
    found = [d for d in history.diagnoses if d.problem == "slow_convergence"]
    assert found, [d.problem for d in history.diagnoses]
    evidence = found[0].evidence
    assert evidence["steps_left"] > 0  # named with time left to treat it
    assert evidence["reference_loss"] == pytest.approx(np.var(_scaled_line(0, 80)[1]), rel=0.01)
    assert evidence["projected_loss"] > evidence["reference_loss"]
    plain = history.history["val_loss"][-1]
    repaired = _rmsprop_run(0, lr=1e-3, repair=True)
    assert any(t.remedy == "higher_lr" for t in repaired.treatments)
    assert repaired.history["val_loss"][-1] < plain / 10


def test_a_regression_at_a_rate_that_fits_it_raises_no_alarm() -> None:
    history = _rmsprop_run(0, lr=0.1)
    assert history.history["val_loss"][-1] < 0.1
    assert history.diagnoses == []


def test_a_summed_loss_gets_no_mean_guess_level() -> None:
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 1))
    y = _scaled_line(0, 16)[1]
    doctor = Doctor()
    doctor.attach(model, rp.optim.SGD(model.parameters(), lr=0.01), loss=nn.MSELoss(reduction="sum"),
                  targets=y)
    assert doctor.chance_loss is None
    doctor.attach(model, rp.optim.SGD(model.parameters(), lr=0.01), loss=nn.MSELoss(), targets=y)
    assert doctor.chance_loss == pytest.approx(np.var(y))


@pytest.mark.parametrize("steps", [-1, 2.5, True, "10"])
def test_attach_rejects_a_step_count_that_is_not_one(steps: object) -> None:
    model = nn.Sequential(nn.Linear(1, 1))
    with pytest.raises(ValueError, match="steps must be an int"):
        Doctor().attach(model, rp.optim.SGD(model.parameters(), lr=0.01), steps=steps)


# -- a run shorter than one smoothing window ----------------------------------------------------------
def test_a_run_of_a_few_steps_is_read_at_its_end() -> None:
    falling = [1.30, 1.27, 1.24, 1.21, 1.18, 1.15]  # still descending at full pace, above ln 3
    assert rules.unfinished(falling, movement=None, steps_left=0, chance_loss=math.log(3))
    assert rules.unfinished(falling, movement=None, steps_left=10, chance_loss=math.log(3)) == []  # not yet
    assert rules.unfinished(falling[:3], movement=None, steps_left=0, chance_loss=math.log(3)) == []
    fitted = [1.1, 0.6, 0.3, 0.1, 0.05, 0.04]
    assert rules.unfinished(fitted, movement=None, steps_left=0, chance_loss=math.log(3)) == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_single_short_epoch_is_named_at_its_end_and_a_long_run_is_not(seed: int) -> None:
    # Keras's default of one epoch: 4 steps of batch 32 on 120 samples, the loss still falling
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(3, 4)) * 2
    y = rng.integers(0, 3, 120)
    x = (centers[y] + rng.normal(size=(120, 4))).astype(np.float32)
    found = {}
    for epochs in (1, 60):
        rp.manual_seed(seed)
        model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
        history = rp.fit(model, x, y, loss="cross_entropy", optimizer=rp.optim.Adam(model.parameters(),
                                                                                    lr=1e-3),
                         epochs=epochs, batch_size=32, doctor=True, seed=seed)
        found[epochs] = [d for d in history.diagnoses if d.problem == "slow_convergence"]
    assert found[1] and found[1][0].evidence["steps_left"] == 0 and found[1][0].evidence["steps"] == 4
    assert found[60] == []
