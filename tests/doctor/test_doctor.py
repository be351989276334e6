"""The Doctor on real runs: it names each failure of the course page and keeps quiet on healthy runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import PROBLEMS, REMEDIES, TREATMENT_ORDER, Diagnosis, Doctor
from tests.doctor.common import mlp, watched_steps


def diagnose(digits, model, optimizer, epochs=5, n=None):
    history = diagnose_with(digits, model, optimizer, True, epochs, n)
    return {d.problem for d in history.diagnoses}, history


def diagnose_with(digits, model, optimizer, doctor, epochs=5, n=None):
    x_train, y_train, x_test, y_test = digits
    if n is not None:
        x_train, y_train = x_train[:n], y_train[:n]
    return rp.fit(model, x_train, y_train, loss="cross_entropy", optimizer=optimizer, epochs=epochs,
                  validation_data=(x_test, y_test), verbose=0, seed=0, doctor=doctor)


@pytest.mark.parametrize("case", ["relu", "relu_deep_adam", "tanh"])
def test_healthy_runs_raise_no_alarm(digits, case):
    if case == "relu":
        m = mlp()
        opt = rp.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    elif case == "relu_deep_adam":
        m = mlp(depth=4)
        opt = rp.optim.Adam(m.parameters(), lr=1e-3)
    else:
        m = mlp(act=nn.Tanh)
        opt = rp.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    problems, history = diagnose(digits, m, opt)
    assert problems == set(), [str(d) for d in history.diagnoses]
    assert history.history["val_accuracy"][-1] > 0.9


def test_deep_sigmoid_network_has_vanishing_gradients_within_the_first_epoch(digits):
    m = mlp(act=nn.Sigmoid, depth=8)
    problems, history = diagnose(digits, m, rp.optim.SGD(m.parameters(), lr=0.1))
    assert "vanishing_gradients" in problems
    first = next(d for d in history.diagnoses if d.problem == "vanishing_gradients")
    assert first.epoch == 0 and first.layer == "0" and first.layer_label == "layer 1, Linear 64→64"
    assert first.remedies[0][0] == "relu"  # the course page's cure comes first
    assert problems <= {"vanishing_gradients", "slow_convergence", "saturated_activations"}


def test_negative_biases_kill_relu_units(digits):
    m = mlp(depth=3)
    for layer in m:
        if isinstance(layer, nn.Linear):
            layer.bias.data[...] = -3.0
    problems, history = diagnose(digits, m, rp.optim.SGD(m.parameters(), lr=0.05))
    assert "dead_relu" in problems
    dead = [d for d in history.diagnoses if d.problem == "dead_relu"]
    assert {d.layer for d in dead} == {"1", "3", "5"} and dead[0].remedies[0][0] == "lower_lr"
    assert problems <= {"dead_relu", "slow_convergence", "vanishing_gradients"}


def test_a_huge_learning_rate_is_named_non_finite_and_the_run_stops(digits):
    m = mlp()
    problems, _ = diagnose(digits, m, rp.optim.SGD(m.parameters(), lr=50.0))
    assert "non_finite" in problems
    assert problems <= {"non_finite", "exploding_gradients", "unstable_loss"}
    assert all(np.isfinite(p.data).all() for p in m.parameters())


def test_dropout_near_one_cannot_fit_the_training_data(digits):
    m = mlp(p=0.95)
    problems, _ = diagnose(digits, m, rp.optim.Adam(m.parameters(), lr=1e-3), epochs=8)
    assert problems == {"dropout_too_high"}


def test_a_tiny_learning_rate_is_a_plateau(digits):
    m = mlp()
    problems, history = diagnose(digits, m, rp.optim.SGD(m.parameters(), lr=1e-6), epochs=8)
    assert problems == {"slow_convergence"}
    (slow,) = history.diagnoses
    # named from the update ratios on the second probe's update, long before the 100-step plateau
    assert slow.step < 60 and slow.evidence["largest_update_ratio"] < 1e-5
    assert "the learning rate is too small" in slow.explanation


def test_small_steps_under_a_warm_up_schedule_are_not_called_slow(digits):
    """A schedule that raises the rate later makes small first steps deliberate."""
    x_train, y_train, _, _ = digits
    m = mlp()
    opt = rp.optim.SGD(m.parameters(), lr=0.05)
    warm_up = rp.optim.lr_scheduler.LinearLR(opt, start_factor=1e-5, end_factor=1.0, total_iters=3)
    history = rp.fit(m, x_train, y_train, loss="cross_entropy", optimizer=opt, epochs=2, verbose=0,
                     seed=0, doctor=True, scheduler=warm_up)
    # what is said is the run's end, two epochs into a three-epoch warm-up: still learning fast, far
    # from what the data allows; never its small first steps
    assert [(d.problem, d.evidence.get("case")) for d in history.diagnoses] == [
        ("slow_convergence", "ended_short")]
    m = mlp()  # the same small first steps without the schedule are named
    opt = rp.optim.SGD(m.parameters(), lr=5e-7)
    history = rp.fit(m, x_train, y_train, loss="cross_entropy", optimizer=opt, epochs=2, verbose=0, seed=0,
                     doctor=True)
    assert [d.problem for d in history.diagnoses] == ["slow_convergence"]


def test_a_big_network_on_sixty_samples_overfits(digits):
    m = mlp(width=512)
    problems, history = diagnose(digits, m, rp.optim.Adam(m.parameters(), lr=3e-3), epochs=60, n=60)
    assert problems == {"overfitting"}
    (found,) = history.diagnoses
    assert found.evidence["val_loss_now"] > 1.1 * found.evidence["val_loss_best"]
    assert found.evidence["generalization_gap"] >= 0.1


def test_hand_written_loop_reports_each_problem_once_per_episode():
    rp.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    m[0].bias.data[...] = -100.0  # every hidden unit dead from the start
    opt = rp.optim.SGD(m.parameters(), lr=0.1)
    doctor = Doctor(m, opt, every=2)
    x, y = rp.randn(16, 4), np.arange(16) % 3
    watched_steps(m, opt, doctor, x, y, 40)
    dead = [d for d in doctor.diagnoses if d.problem == "dead_relu"]
    assert len(dead) == 1, "a persisting problem is one episode, reported once"
    # silent units on the first probe make the doctor look every step (every // 4, at least 1): 5 probes
    assert dead[0].step == 4 and dead[0].evidence["dead_share"] == 1.0 and dead[0].severity == "critical"
    text = doctor.summary()
    assert "dead_relu" in text and "lower_lr" in text and "relu after layer 1, Linear 4→8" in text
    data = json.loads(doctor.to_json())
    assert data["diagnoses"][0]["remedies"][0]["id"] == "lower_lr"
    doctor.close()
    assert not m[1]._forward_hooks


def test_diagnosis_validates_its_fields_and_fills_remedies_in_order():
    d = Diagnosis("exploding_gradients", None, 3, 0, "warning", {}, "x")
    assert [rid for rid, _ in d.remedies] == ["batchnorm", "lower_lr", "clip_gradients", "he_init"]
    assert all(text == REMEDIES[rid] for rid, text in d.remedies)
    assert set(TREATMENT_ORDER) == set(PROBLEMS)
    assert all(TREATMENT_ORDER[p] and set(TREATMENT_ORDER[p]) <= set(REMEDIES) for p in PROBLEMS)
    with pytest.raises(ValueError, match="unknown problem"):
        Diagnosis("sadness", None, 0, 0, "warning", {}, "")
    with pytest.raises(ValueError, match="severity"):
        Diagnosis("dead_relu", None, 0, 0, "mild", {}, "")


def test_fit_refuses_a_doctor_of_the_wrong_type(digits):
    m = mlp()
    with pytest.raises(TypeError, match="doctor must be True, False or a retroprop Doctor"):
        rp.fit(m, digits[0], digits[1], loss="cross_entropy", optimizer=rp.optim.SGD(m.parameters(), lr=0.1),
               doctor="yes", verbose=0)


def tiny_watched_net(every: int | None = None):
    """A 4-8-3 ReLU net, its optimizer, a doctor probing every ``every`` steps (None: the default
    cadence), and one batch."""
    rp.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = rp.optim.SGD(m.parameters(), lr=0.01)
    return m, opt, Doctor(m, opt, every=every), rp.randn(16, 4), np.arange(16) % 3


def test_a_symptom_gets_one_close_look_while_it_lasts(monkeypatch):
    """A symptom makes the probes come four times as often once; found transient, it does not again
    until it has gone away and come back."""
    from retroprop.doctor import rules

    showing = {"now": True}
    monkeypatch.setattr(rules, "symptoms",
                        lambda probe, losses=None, **_: ["dead_relu"] if showing["now"] else [])
    m, opt, doctor, x, y = tiny_watched_net(every=8)
    watched_steps(m, opt, doctor, x, y, 60)
    steps = [r.step for r in doctor.recorder.records]
    assert steps[:6] == [0, 2, 4, 6, 8, 10]  # one close look: every 8 // 4 steps, 5 probes
    assert set(np.diff(steps[5:])) == {8}  # then the usual cadence
    showing["now"] = False
    watched_steps(m, opt, doctor, x, y, 16)  # the symptom goes away...
    showing["now"] = True
    before = len(doctor.recorder.records)
    watched_steps(m, opt, doctor, x, y, 16)  # ...and comes back: a new close look
    gaps = np.diff([r.step for r in doctor.recorder.records[before - 1:]])
    assert 2 in gaps and not doctor.diagnoses


def test_a_close_look_ends_when_its_symptom_is_gone(monkeypatch):
    """The denser probes are for a symptom that persists: one gone at the next probe stops them."""
    from retroprop.doctor import rules

    calls = {"n": 0}

    def once(probe, losses=None, **_):
        calls["n"] += 1
        return ["dead_relu"] if calls["n"] == 1 else []

    monkeypatch.setattr(rules, "symptoms", once)
    m, opt, doctor, x, y = tiny_watched_net(every=8)
    watched_steps(m, opt, doctor, x, y, 30)
    assert [r.step for r in doctor.recorder.records] == [0, 2, 10, 18, 26]


def test_finish_reads_the_losses_of_the_last_steps():
    """A climb in the steps after the loss rules last ran is still named, when the run ends."""
    rp.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    doctor = Doctor(m, rp.optim.SGD(m.parameters(), lr=0.1))
    losses = list(np.linspace(2.3, 0.2, 200)) + [2.2] * 40  # the rules last ran at step 200
    for loss in losses:
        doctor.observe(float(loss))
    assert doctor.diagnoses == []
    (found,) = doctor.finish()
    assert found.problem == "unstable_loss" and found.step == len(losses) - 1
    assert doctor.diagnoses == [found] and doctor.finish() == []  # said once


class _EveryStep(Doctor):
    """A doctor that says no step is quiet: ``fit`` calls ``observe`` for every one."""

    def quiet_steps(self) -> int:
        return 0


@pytest.mark.parametrize("repair", [False, True])
def test_fit_records_quiet_steps_as_observe_would(digits, repair):
    """fit records the steps that need only their loss without calling ``observe``; the doctor sees
    the same losses, probes the same steps and finds the same problems as when it is called every step."""
    runs = []
    for doctor in (Doctor(repair=repair), _EveryStep(repair=repair)):
        m = mlp(depth=3)
        for layer in m:
            if isinstance(layer, nn.Linear):
                layer.bias.data[...] = -3.0  # dead units: close looks, a diagnosis, a treatment
        history = diagnose_with(digits, m, rp.optim.SGD(m.parameters(), lr=0.05), doctor, epochs=6)
        runs.append((doctor, history))
    (quiet, fast), (every, slow) = runs
    assert quiet.recorder.step == every.recorder.step == len(fast.step_loss) > 200
    np.testing.assert_array_equal(quiet.recorder.losses, every.recorder.losses)
    assert [r.step for r in quiet.recorder.records] == [r.step for r in every.recorder.records]
    assert [(d.problem, d.layer, d.step) for d in quiet.diagnoses] == [
        (d.problem, d.layer, d.step) for d in every.diagnoses]
    assert any(d.problem == "dead_relu" for d in quiet.diagnoses)
    assert [(t.step, t.remedy) for t in fast.treatments] == [(t.step, t.remedy) for t in slow.treatments]
    assert bool(fast.treatments) == repair


def test_quiet_steps_end_before_a_probe_and_before_the_loss_rules():
    m, opt, doctor, x, y = tiny_watched_net(every=8)
    assert doctor.quiet_steps() == 0  # step 0 is probed
    watched_steps(m, opt, doctor, x, y, 1)
    assert doctor.quiet_steps() == 0  # step 1 completes step 0's update ratio
    watched_steps(m, opt, doctor, x, y, 1)
    assert doctor.quiet_steps() == 5  # steps 2-6; step 7 arms the probe of step 8
    for _ in range(5):
        doctor.recorder.record_loss(1.0)
    assert doctor.recorder.step == 7 and doctor.quiet_steps() == 0
    late = Doctor(m, opt, every=1000)
    for loss in np.linspace(2.0, 1.0, 30):
        late.observe(float(loss))
    assert late.quiet_steps() == 50 - 30  # the loss rules run at step 50


def test_units_that_die_late_in_the_young_run_are_named_within_100_steps():
    """Units killed at step 70 are silent first at the probe of step 74; the closer probes that follow
    fill the dead-unit window (5 probes) in time for the issue's bound, the first 100 steps."""
    m, opt, doctor, x, y = tiny_watched_net()
    watched_steps(m, opt, doctor, x, y, 70)
    m[0].bias.data[...] = -100.0
    watched_steps(m, opt, doctor, x, y, 40)
    (dead,) = [d for d in doctor.diagnoses if d.problem == "dead_relu"]
    assert 74 < dead.step < 100, dead.step


def test_one_doctor_watches_each_fit_as_a_run_of_its_own(digits):
    """A Doctor passed to a second fit starts afresh: its loss rules run on the new run's own schedule
    (they once waited for the first run's next check) and each History keeps its own diagnoses."""
    doctor = Doctor()
    m = mlp(act=nn.Sigmoid, depth=8)  # vanishing gradients, named in the first run
    first = diagnose_with(digits, m, rp.optim.SGD(m.parameters(), lr=0.1), doctor, epochs=6)
    assert "vanishing_gradients" in {d.problem for d in first.diagnoses}
    m = mlp()
    second = diagnose_with(digits, m, rp.optim.SGD(m.parameters(), lr=1e-7), doctor, epochs=3)
    slow = [d for d in second.diagnoses if d.problem == "slow_convergence"]
    assert slow and slow[0].step < 60, [str(d) for d in second.diagnoses]
    assert "vanishing_gradients" not in {d.problem for d in second.diagnoses}
    assert doctor.diagnoses is second.diagnoses and first.diagnoses is not second.diagnoses
    assert doctor.recorder.step == len(second.step_loss)


def test_a_large_update_is_named_when_every_step_is_probed():
    """With ``every=1`` the step that completes a probe's update ratio is itself probed; the update
    rule still reads it (it once ran only on unprobed steps)."""
    m, opt, doctor, x, y = tiny_watched_net(every=1)
    opt.param_groups[0]["lr"] = 50.0
    watched_steps(m, opt, doctor, x, y, 3)
    (found,) = [d for d in doctor.diagnoses if d.problem == "exploding_gradients"]
    assert found.step == 1 and found.evidence["update_ratio"] > 0.5
