"""What the doctor says holds together: an episode that grows worse is said again, a stalled loss is
not blamed on a slow rate when dropout or a rate too large explains it, and records count epochs
from 0 while their texts count from 1."""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.doctor import Doctor, rules
from retroprop.doctor.rules import Finding
from tests.doctor.common import mlp


def _fit(digits, model, optimizer, epochs, doctor=True):
    x_train, y_train, x_test, y_test = digits
    return rp.fit(model, x_train, y_train, loss="cross_entropy", optimizer=optimizer, epochs=epochs,
                  validation_data=(x_test, y_test), verbose=0, seed=0, doctor=doctor)


# ---------------------------------------------------------------------------------------------
# an episode whose severity rises is reported again
# ---------------------------------------------------------------------------------------------
def test_dead_units_that_go_from_a_warning_to_critical_are_reported_again():
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 10), nn.ReLU(), nn.Linear(10, 3))
    model[0].bias.data[:6] = -100.0  # 60 % of the hidden units dead from the start: a warning
    optimizer = rp.optim.SGD(model.parameters(), lr=0.0)  # a stalled loss: the dead units cost the fit
    doctor = Doctor(model, optimizer, every=1)
    x, y = rp.randn(16, 4), np.arange(16) % 3
    loss_fn = nn.CrossEntropyLoss()
    for step in range(230):
        if step == 210:
            model[0].bias.data[...] = -100.0  # now all of them: critical
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        doctor.observe(loss)
        optimizer.step()
    dead = [d for d in doctor.diagnoses if d.problem == "dead_relu"]
    assert [(d.severity, d.evidence["dead_share"]) for d in dead] == [("warning", 0.6), ("critical", 1.0)]
    first, worse = dead
    assert first.escalated_from is None and worse.escalated_from == first.step
    assert first.step < 210 < worse.step <= 215  # the window of 5 probes fills with the dead batches
    assert f"since step {first.step + 1}, when it was diagnosed as a warning" in worse.explanation
    assert doctor.to_json().count(f'"escalated_from": {first.step}') == 1
    doctor.close()


def test_the_same_episode_is_not_reported_again_at_the_same_or_a_milder_severity():
    doctor = Doctor()
    warning = Finding("dead_relu", "1", "relu 1", "warning", {"dead_share": 0.6})
    critical = Finding("dead_relu", "1", "relu 1", "critical", {"dead_share": 0.95})
    assert len(doctor._report([critical], 10, 0, "probe")) == 1
    assert doctor._report([warning], 11, 0, "probe") == []  # milder: nothing new to say
    assert doctor._report([critical], 12, 0, "probe") == []
    for step in (13, 14, 15):
        doctor._report([], step, 0, "probe")  # the episode ends after EPISODE_GAP quiet checks
    (again,) = doctor._report([warning], 16, 0, "probe")  # a new episode, said at its own severity
    assert again.severity == "warning" and again.escalated_from is None


def test_an_escalation_is_not_treated_a_second_time():
    """Repair treats an episode when it is first diagnosed; its escalation is left alone."""
    model = mlp()
    optimizer = rp.optim.SGD(model.parameters(), lr=0.01)
    doctor = Doctor(model, optimizer, repair=True)
    warning = Finding("dead_relu", "1", "relu 1", "warning", {"dead_share": 0.6})
    critical = Finding("dead_relu", "1", "relu 1", "critical", {"dead_share": 0.95})
    first = doctor._report([warning], 0, 0, "probe")
    (worse,) = doctor._report([critical], 1, 0, "probe")
    assert worse.escalated_from == 0
    assert doctor.treat([worse]) is None and doctor.treatments == []
    assert doctor.treat(first) is not None  # the first diagnosis of the episode is what repair treats
    doctor.close()


# ---------------------------------------------------------------------------------------------
# no plateau blamed on a slow rate when something else explains the stalled loss
# ---------------------------------------------------------------------------------------------
def test_full_dropout_is_named_without_a_plateau_that_asks_for_a_higher_rate(digits):
    """At p = 1.0 every unit is dropped: no learning rate can lower the loss, so only the dropout is
    named, not slow_convergence (whose first remedy raises the rate)."""
    model = mlp(p=1.0)
    history = _fit(digits, model, rp.optim.Adam(model.parameters(), lr=3e-3), epochs=8)
    assert len(history.step_loss) > rules.PLATEAU_STEPS + 2 * rules.LOSS_EMA_STEPS  # long enough for both
    assert [d.problem for d in history.diagnoses] == ["dropout_too_high"]
    assert history.diagnoses[0].severity == "critical"


def test_no_advice_to_raise_the_rate_after_advice_to_lower_it():
    from retroprop.doctor.table import Evidence, plateau_explained

    unstable = Finding("unstable_loss", None, None, "critical", {"diverged": True})
    assert plateau_explained(Evidence(), []) is None
    assert plateau_explained(Evidence(), [unstable]) == "unstable_loss"  # found in the same check
    earlier = Evidence(recipe_problems={"dead_relu"})  # diagnosed earlier in this recipe
    assert plateau_explained(earlier, []) == "dead_relu"
    assert plateau_explained(Evidence(dropout_rates=[0.9]), []) == "dropout"
    # the doctor hands the check what this recipe diagnosed so far
    doctor = Doctor(mlp(), None)
    doctor._report([Finding("dead_relu", "1", "relu 1", "warning", {})], 40, 0, "probe")
    seen = []
    doctor._call = lambda detector, evidence: seen.append(set(evidence.recipe_problems)) or []
    doctor._loss_rules(100)
    assert seen and all(problems == {"dead_relu"} for problems in seen)
    doctor.close()


def test_advice_to_lower_the_rate_after_a_slow_loss_withdraws_the_advice_to_raise_it():
    doctor = Doctor(mlp(), None)
    doctor._report([Finding("slow_convergence", None, None, "warning", {})], 50, 0, "loss")
    (unstable,) = doctor._report([Finding("unstable_loss", None, None, "warning", {}, "It climbed.")],
                                 150, 1, "loss")
    assert unstable.explanation == ("It climbed. This withdraws the advice to raise the learning rate given "
                                    "with slow_convergence at step 51.")
    (vanishing,) = doctor._report([Finding("vanishing_gradients", "0", "layer 1", "warning", {}, "Small.")],
                                  160, 1, "probe")
    assert vanishing.explanation == "Small."  # its remedies leave the rate alone
    doctor.close()


def test_a_loss_held_up_by_dead_units_is_not_called_slow(digits):
    """Units dead from the start (biases of -3) stall the loss: the doctor names them (lower_lr first),
    not a plateau whose first remedy, a higher rate, contradicts that advice; and a diverged run is
    not called slow either."""
    model = mlp(depth=3)
    for layer in model:
        if isinstance(layer, nn.Linear):
            layer.bias.data[...] = -3.0
    history = _fit(digits, model, rp.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), epochs=6)
    problems = [d.problem for d in history.diagnoses]
    assert "dead_relu" in problems and "slow_convergence" not in problems
    assert len(history.step_loss) > 2 * (rules.PLATEAU_STEPS + rules.LOSS_EMA_STEPS)
    model = mlp(act=nn.Tanh)
    history = _fit(digits, model, rp.optim.SGD(model.parameters(), lr=1e30), epochs=6)
    problems = [d.problem for d in history.diagnoses]
    assert "unstable_loss" in problems and "slow_convergence" not in problems


def test_a_climbing_loss_is_not_a_plateau():
    climbing = list(np.linspace(2.3, 3.4, 125))  # up 48 %: never 2x its lowest, never 3x its start
    assert rules.unstable_loss(climbing) == [] and rules.diverged(climbing, 2.3) == []
    assert rules.slow_convergence(climbing) == []
    noise = np.random.default_rng(0).normal(0.0, 0.2, 125)
    assert rules.slow_convergence(list(2.3 + noise))  # a flat, noisy loss still is one
    flat = [2.3] * 105 + [2.31] * 20  # up less than 1 %: the plateau's own margin
    assert rules.slow_convergence(flat)


# ---------------------------------------------------------------------------------------------
# records count from 0, texts from 1
# ---------------------------------------------------------------------------------------------
def test_the_best_epoch_of_overfitting_counts_from_0_in_the_record_and_from_1_in_the_text():
    logs = [{"loss": 1.0 - 0.1 * i, "val_loss": v} for i, v in enumerate([1.0, 0.8, 0.7, 0.8, 0.85, 0.9])]
    (finding,) = rules.overfitting(logs, first_epoch=10)
    assert finding.evidence["best_epoch"] == 12 and "(epoch 13)" in finding.explanation
    doctor = Doctor(mlp(), None)
    for epoch, log in enumerate(logs, start=4):  # a run resumed at epoch 4 (fit's initial_epoch)
        found = doctor.end_epoch(epoch, log)
    (diagnosis,) = found
    assert diagnosis.epoch == 9 and diagnosis.evidence["best_epoch"] == 6
    assert "(epoch 7)" in diagnosis.explanation and "epoch 10" in str(diagnosis)
    doctor.close()
