"""A loss that climbs geometrically: caught between scheduled checks, its cause named first, and the
learning rate cut by as much as the climb says (no more: a cut too deep leaves the run short)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import Doctor, rules
from retroprop.doctor.episodes import Episodes
from retroprop.doctor.repair import divergence_factor
from retroprop.doctor.rules import Finding


def _line(seed: int, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Points on a random line with uniform noise, x in [-8, 8]: the squared error's curvature along
    the slope is 2 E[x^2], about 43, so gradient descent above a rate of 2/43 diverges."""
    rng = np.random.default_rng(seed)
    w, b = rng.uniform(-8, 8, size=2)
    x = rng.uniform(-8, 8, size=(n, 1)).astype(np.float32)
    return x, (w * x + b + rng.uniform(-1, 1, size=(n, 1))).astype(np.float32)


def _largest_curvature(x: np.ndarray) -> float:
    design = np.c_[x, np.ones_like(x)].astype(np.float64)
    return float(np.linalg.eigvalsh(2 * design.T @ design / len(x))[-1])


def _zero_line_model() -> nn.Sequential:
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 1, init="zeros"))
    nn.init.zeros_(model[0].bias)
    return model


def _gradient_descent_losses(x: np.ndarray, y: np.ndarray, lr: float, steps: int) -> list[float]:
    """The mean squared error of full-batch gradient descent on ``y = w x + b`` from zero, in float64."""
    design = np.c_[x, np.ones_like(x)].astype(np.float64)
    target = y.astype(np.float64)[:, 0]
    theta = np.zeros(2)
    losses = []
    for _ in range(steps):
        error = design @ theta - target
        losses.append(float(np.mean(error**2)))
        theta -= lr * 2 * design.T @ error / len(x)
    return losses


# ---------------------------------------------------------------------------------------------
# the cut sized by the climb
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("overshoot", [2.5, 4.0, 8.0])
def test_the_cut_read_from_a_squared_error_climb_brings_the_steepest_direction_to_a_stable_step(seed,
                                                                                              overshoot):
    x, y = _line(100 + seed)
    curvature = _largest_curvature(x)
    lr = overshoot / curvature  # lr * c = overshoot > 2: every step overshoots the minimum
    losses = _gradient_descent_losses(x, y, lr, 12)
    factor = divergence_factor(losses, quadratic=True)
    assert factor is not None
    # the new rate's step along the steepest direction is stable (lr c < 2) and not needlessly small
    assert 0.5 <= lr * factor * curvature < 2.0


def test_a_linear_climb_is_cut_by_its_growth_not_its_square_root():
    losses = [1.0 * 4.0**k for k in range(5)]  # a cross-entropy growing 4x per step with the outputs
    assert divergence_factor(losses) == pytest.approx(1 / 5)
    assert divergence_factor(losses, quadratic=True) == pytest.approx(1 / 3)


@pytest.mark.parametrize("losses", [
    [2.3, 2.1, 1.9, 1.8, 1.7],  # falling
    [2.3, 2.4, 2.35, 2.5, 2.45, 2.6],  # noise around a level
    [1.0, 2.0, 4.0, 8.0],  # rising, but less than 10x in all
    [5.0],  # too short
    [math.nan, math.nan],
])
def test_no_geometric_climb_no_cut_from_the_loss(losses):
    assert divergence_factor(losses) is None


def test_the_climb_before_an_overflow_still_sizes_the_cut():
    rising = [1.0 * 9.0**k for k in range(4)]
    assert divergence_factor([*rising, math.inf, math.nan], quadratic=True) == pytest.approx(1 / 4)
    # a fall breaks the run: only the climb after it counts
    assert divergence_factor([50.0, 1.0, 9.0, 81.0], quadratic=True) == pytest.approx(1 / 4)


@pytest.mark.parametrize("seed", [100, 101, 102])
def test_repair_of_a_diverging_regression_lands_where_a_stable_rate_does(seed):
    x, y = _line(seed)
    x_val, y_val = _line(seed, n=8)  # the same line (same seed): the points drawn again
    curvature = _largest_curvature(x)
    lr = 0.1  # lr * c about 4 to 6: the loss grows an order of magnitude per step
    model = _zero_line_model()
    repaired = rp.fit(model, x, y, loss="mse", optimizer=rp.optim.SGD(model.parameters(), lr=lr),
                      epochs=300, batch_size=8, verbose=0, validation_data=(x_val, y_val), repair=True)
    cut = [t for t in repaired.treatments if t.remedy == "lower_lr" and t.applied]
    assert cut, repaired.treatments
    new_lr = repaired.params["optimizer"].param_groups[0]["lr"]
    # the update ratio against weights that started at zero would cut the rate 100-1000x; the climb
    # itself says by how much: a stable step, not a crawl
    assert 0.2 <= new_lr * curvature < 2.0
    stable = _zero_line_model()
    healthy = rp.fit(stable, x, y, loss="mse", optimizer=rp.optim.SGD(stable.parameters(), lr=1 / curvature),
                     epochs=300, batch_size=8, verbose=0, validation_data=(x_val, y_val))
    assert repaired.history["val_loss"][-1] <= 2 * healthy.history["val_loss"][-1] + 1e-3


# ---------------------------------------------------------------------------------------------
# the alarm between scheduled checks
# ---------------------------------------------------------------------------------------------
def _offset_line(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A flat line far from zero over centred x: the error starts in the intercept, whose curvature
    (2) is small, so the first steps lower the loss; the slope's (2 E[x^2], about 40) then overshoots
    and the loss climbs back geometrically, with no first step to give it away."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-8, 8, size=(8, 1)).astype(np.float32)
    x -= x.mean()
    return x, (0.1 * x + 30 + rng.uniform(-1, 1, size=(8, 1))).astype(np.float32)


def _watch(x: np.ndarray, y: np.ndarray, overshoot: float, alarm: float, monkeypatch) -> Doctor:
    monkeypatch.setattr(rules, "LOSS_ALARM", alarm)
    model = _zero_line_model()
    doctor = Doctor()
    lr = overshoot / _largest_curvature(x)
    with np.errstate(over="ignore", invalid="ignore"):  # unwatched, the loss may overflow
        rp.fit(model, x, y, loss="mse", optimizer=rp.optim.SGD(model.parameters(), lr=lr), epochs=80,
               batch_size=8, verbose=0, doctor=doctor)
    return doctor


@pytest.mark.parametrize("seed", [7, 8, 9])
@pytest.mark.parametrize("overshoot", [2.5, 3.0])
def test_a_loss_climbing_back_past_ten_times_its_start_is_looked_at_at_once(seed, overshoot, monkeypatch):
    x, y = _offset_line(seed)
    alarmed = _watch(x, y, overshoot, rules.LOSS_ALARM, monkeypatch)
    first = alarmed.diagnoses[0]
    assert first.severity == "critical" and first.problem in ("exploding_gradients", "unstable_loss")
    assert alarmed.loss_alarm > 1e4  # raised a decade at each pass
    # on the schedule alone, the next probe (step 37) or loss check (step 50) is the first look
    scheduled = _watch(x, y, overshoot, math.inf, monkeypatch)
    assert scheduled.diagnoses and scheduled.diagnoses[0].step >= 30
    assert first.step <= scheduled.diagnoses[0].step - 10


def test_a_hand_written_loop_with_float_losses_is_alarmed_too():
    x, y = _offset_line(7)
    model = _zero_line_model()
    optimizer = rp.optim.SGD(model.parameters(), lr=3.0 / _largest_curvature(x))
    doctor = Doctor(model, optimizer)
    xt, yt = rp.tensor(x), rp.tensor(y)
    for _ in range(30):
        optimizer.zero_grad()
        loss = ((model(xt) - yt) ** 2).mean()
        loss.backward()
        doctor.observe(float(loss.item()))  # a float: the fast path of quiet steps
        optimizer.step()
    doctor.finish()
    assert doctor.diagnoses and doctor.diagnoses[0].step <= 20


def test_a_healthy_run_never_raises_the_alarm(digits):
    x_train, y_train, x_test, y_test = digits
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    doctor = Doctor()
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3)
    rp.fit(model, x_train, y_train, loss="cross_entropy", optimizer=optimizer, epochs=3, batch_size=32,
           verbose=0, validation_data=(x_test, y_test), doctor=doctor)
    assert doctor.diagnoses == []
    assert doctor.loss_alarm == pytest.approx(rules.LOSS_ALARM * math.log(10), rel=0.2)


# ---------------------------------------------------------------------------------------------
# the cause first, whatever was found first
# ---------------------------------------------------------------------------------------------
def test_a_cause_found_after_its_consequence_still_heads_the_story():
    episodes = Episodes()
    diverged = Finding("unstable_loss", None, None, "critical", {"diverged": True}, "the loss diverged.")
    episodes.report([diverged], 20, 0, "loss")
    steps = Finding("exploding_gradients", "0", "layer 1", "warning", {"update_ratio": 3.0},
                    "one step changed the layer by 3x its size.")
    episodes.report([steps], 21, 0, "update")
    story = episodes.causal_order()
    (root, depth), *rest = story
    assert (root.problem, depth) == ("exploding_gradients", 0)
    # the divergence it caused is critical, so the cause is escalated to critical
    assert any(d.problem == "exploding_gradients" and d.severity == "critical" and depth == 0
               for d, depth in rest)
    consequence = next(d for d, depth in story if depth == 1)
    assert consequence.problem == "unstable_loss"
    assert consequence.caused_by["problem"] == "exploding_gradients" and consequence.caused_by["step"] == 21


def test_a_cause_adopts_nothing_from_an_earlier_recipe():
    episodes = Episodes()
    episodes.report([Finding("unstable_loss", None, None, "warning", {}, "rose.")], 20, 0, "loss")
    episodes.restart()  # a treatment in between
    large = Finding("exploding_gradients", "0", "layer 1", "warning", {}, "large.")
    episodes.report([large], 40, 0, "update")
    assert episodes.diagnoses[0].caused_by is None


# ---------------------------------------------------------------------------------------------
# near-total dropout
# ---------------------------------------------------------------------------------------------
def test_near_total_dropout_is_named_on_half_the_plateau_window():
    at_chance = [math.log(10) * (1 + 0.01 * np.sin(k)) for k in range(rules.PLATEAU_STEPS // 2)]
    (finding,) = rules.dropout_too_high(at_chance, [0.99], chance_loss=math.log(10))
    assert finding.severity == "critical"
    # a high rate that is not near-total needs the whole window
    assert rules.dropout_too_high(at_chance, [0.9], chance_loss=math.log(10)) == []
    assert rules.dropout_too_high(at_chance * 2, [0.9], chance_loss=math.log(10))


# ---------------------------------------------------------------------------------------------
# gradient growth counted from a batch the model had not fit already
# ---------------------------------------------------------------------------------------------
def _probe(total: float, loss: float | None) -> dict:
    return {"grad_norm_total": total, "layers": [{"grad_norm": total}], "loss": loss}


def test_gradient_growth_from_a_batch_already_fit_is_no_explosion():
    # after a roll-back the first probed batch happened to be classified right (loss ~0, gradient ~0):
    # the ordinary gradients after it are not a 60,000-fold growth
    recovering = [_probe(4.8e-5, 1e-5), _probe(1.8, 0.44), _probe(2.9, 1.15)]
    assert rules.exploding_growth(recovering) == []
    # the same norms on batches of ordinary loss are an explosion
    (finding,) = rules.exploding_growth([_probe(4.8e-5, 0.5), _probe(1.8, 0.44), _probe(2.9, 1.15)])
    assert finding.evidence["growth"] > 1e4
    # counted from the first batch not yet fit
    grown = [_probe(1e-6, 1e-4), _probe(1e-3, 0.6), _probe(0.1, 0.9), _probe(10.0, 5.0)]
    (finding,) = rules.exploding_growth(grown)
    assert finding.evidence["grad_norm_first"] == 1e-3
    # without losses (a loop that gives none) the first probe is the base, as before
    assert rules.exploding_growth([_probe(1e-3, None), _probe(0.1, None), _probe(10.0, None)])


@pytest.mark.parametrize("seed", [7, 8])
def test_a_roll_back_never_returns_to_a_state_past_the_alarm(seed):
    x, y = _offset_line(seed)
    model = _zero_line_model()
    lr = 3.0 / _largest_curvature(x)
    with np.errstate(over="ignore", invalid="ignore"):
        history = rp.fit(model, x, y, loss="mse", optimizer=rp.optim.SGD(model.parameters(), lr=lr),
                         epochs=80, batch_size=8, verbose=0, repair=True)
    first = next(t for t in history.treatments if t.applied)
    losses = history.step_loss
    alarm = rules.LOSS_ALARM * losses[0]
    # the state rolled back to was taken before the loss passed its alarm, never at the alarmed step
    assert first.rolled_back_to is not None
    assert np.all(losses[:first.rolled_back_to + 1] <= alarm)
