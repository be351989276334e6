"""Repair inside the run: roll back to the last healthy state, treat, go on; and the NaN replay."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import Doctor, TreatmentRecord, rules
from tests.doctor.common import mlp, watched_steps


def repair(digits, model, optimizer, epochs=5, n=None, **kwargs):
    x_train, y_train, x_test, y_test = digits
    if n is not None:
        x_train, y_train = x_train[:n], y_train[:n]
    return rp.fit(model, x_train, y_train, loss="cross_entropy", optimizer=optimizer, epochs=epochs,
                  validation_data=(x_test, y_test), verbose=0, seed=0, repair=True, **kwargs)


def applied(history) -> list[tuple[str, str]]:
    return [(t.problem, t.remedy) for t in history.treatments if t.applied]


def healthy_accuracy(digits) -> float:
    m = mlp()
    x_train, y_train, x_test, y_test = digits
    history = rp.fit(m, x_train, y_train, loss="cross_entropy",
                     optimizer=rp.optim.SGD(m.parameters(), lr=0.05), epochs=5,
                     validation_data=(x_test, y_test), verbose=0, seed=0)
    return history.history["val_accuracy"][-1]


# ---------------------------------------------------------------------------------------------
# Snapshots
# ---------------------------------------------------------------------------------------------
def test_snapshots_are_private_copies_and_a_roll_back_restores_weights_optimizer_and_rng():
    m = mlp()
    opt = rp.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    doctor = Doctor(m, opt, repair=True, every=1)
    x, y = rp.randn(32, 64), np.arange(32) % 10
    watched_steps(m, opt, doctor, x, y, 3)
    snapshot = doctor._snapshot
    assert snapshot.step == 2
    saved = {k: v.copy() for k, v in snapshot.model_state.items()}
    momentum = snapshot.optimizer_state["state"][0]["momentum_buffer"].copy()
    rng_draw = np.random.Generator(np.random.PCG64()).bit_generator
    rng_draw.state = snapshot.rng_state
    expected_draw = np.random.Generator(rng_draw).random()
    for p in m.parameters():  # later steps write in place into the arrays the model owns
        p.data += 1.0
    opt.state[m[0].weight]["momentum_buffer"] += 1.0
    rp.random.default_generator().random(10)
    for key, value in snapshot.model_state.items():
        np.testing.assert_array_equal(value, saved[key])
    np.testing.assert_array_equal(snapshot.optimizer_state["state"][0]["momentum_buffer"], momentum)
    doctor._restore(snapshot)
    for key, value in m.state_dict().items():
        np.testing.assert_array_equal(value, saved[key])
    np.testing.assert_array_equal(opt.state[m[0].weight]["momentum_buffer"], momentum)
    assert rp.random.default_generator().random() == expected_draw
    doctor._restore(snapshot)  # a snapshot serves any number of roll-backs
    np.testing.assert_array_equal(m[0].weight.data, saved["0.weight"])


def test_repair_needs_the_optimizer_and_a_sane_make_up():
    with pytest.raises(ValueError, match="needs the optimizer"):
        Doctor(mlp(), repair=True)
    with pytest.raises(ValueError, match="make_up"):
        Doctor(repair=True, make_up=-1)


# ---------------------------------------------------------------------------------------------
# The course page's failures, repaired inside the run
# ---------------------------------------------------------------------------------------------
def test_vanishing_gradients_are_cured_by_relu_from_the_initial_state(digits):
    m = mlp(act=nn.Sigmoid, depth=8)
    history = repair(digits, m, rp.optim.SGD(m.parameters(), lr=0.1))
    first = history.treatments[0]
    assert (first.problem, first.remedy, first.applied) == ("vanishing_gradients", "relu", True)
    assert first.rolled_back_to == 0 and first.epoch == 0  # faulty from step 0: the initial state
    assert first.wasted_steps == first.step + 1  # steps 1..N+1 were computed for nothing
    assert history.model is m and not any(isinstance(layer, nn.Sigmoid) for layer in m)  # changed in place
    assert history.history["val_accuracy"][-1] >= healthy_accuracy(digits) - 0.03
    assert history.best.metric == "val_accuracy"
    assert history.best.value == max(history.history["val_accuracy"])
    assert all(t.outcome in ("resolved", "returned", "skipped") for t in history.treatments)


def test_units_dead_from_the_start_get_he_init_and_the_other_remedies_say_why_not(digits):
    m = mlp(depth=3)
    for layer in m:
        if isinstance(layer, nn.Linear):
            layer.bias.data[...] = -3.0
    history = repair(digits, m, rp.optim.SGD(m.parameters(), lr=0.05))
    dead = [t for t in history.treatments if t.problem == "dead_relu"]
    assert [(t.remedy, t.applied, t.outcome) for t in dead[:3]] == [
        ("lower_lr", False, "skipped"), ("leaky_relu", False, "skipped"), ("he_init", True, "resolved")]
    assert "silent on the first batch, before any update" in dead[0].description
    assert dead[2].rolled_back_to == 0
    assert history.history["val_accuracy"][-1] >= healthy_accuracy(digits) - 0.02


def test_a_huge_learning_rate_is_rolled_back_and_lowered_and_the_weights_stay_finite(digits):
    m = mlp()
    history = repair(digits, m, rp.optim.SGD(m.parameters(), lr=50.0))
    first = history.treatments[0]
    # the first update is 10x the weights' size: named exploding at step 2, before any NaN; the
    # gradient does not grow from layer to layer, so the learning rate is the cause, not the signal,
    # and the rate is lowered first (batchnorm is not tried)
    diagnosis = history.diagnoses[0]
    assert (diagnosis.problem, diagnosis.step, diagnosis.evidence["cause"]) == ("exploding_gradients", 1,
                                                                                "learning_rate")
    assert "because the learning rate is" in diagnosis.explanation
    assert not any(t.remedy == "batchnorm" for t in history.treatments)
    second = first
    assert (second.problem, second.remedy, second.rolled_back_to) == ("exploding_gradients", "lower_lr", 0)
    assert second.outcome == "resolved" and second.measured["after"] < second.measured["before"]
    # sized by the measured update ratios and the loss's climb (a plain 10x would leave 5.0): about 100x
    lr = history.params["optimizer"].param_groups[0]["lr"]
    assert second.description == f"learning rate 50 -> {lr:.3g}" and 0.05 < lr < 1.0
    assert history.stop_reason is None
    assert all(np.isfinite(p.data).all() for p in m.parameters())
    assert history.history["val_accuracy"][-1] > 0.85


def test_oversized_initial_weights_named_at_the_first_step_are_reset_by_he_init_at_once(digits):
    m = mlp(act=nn.ReLU, depth=6)
    for layer in m:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, 0.5)
    history = repair(digits, m, rp.optim.SGD(m.parameters(), lr=0.05))
    first = history.diagnoses[0]
    assert (first.problem, first.step, first.evidence["case"]) == ("exploding_gradients", 0, "oversized_init")
    assert first.evidence["loss_at_start"] > rules.LOSS_ALARM * first.evidence["chance_loss"]
    assert first.remedies[0][0] == "he_init"  # the evidence blames the initial weights
    treated = [t for t in history.treatments if t.problem == "exploding_gradients"]
    assert [(t.remedy, t.applied, t.rolled_back_to) for t in treated] == [("he_init", True, 0)]
    assert history.history["val_accuracy"][-1] >= healthy_accuracy(digits) - 0.02


@pytest.mark.parametrize("act, std, problem", [(nn.Tanh, 1.0, "saturated_activations")])
def test_oversized_initial_weights_are_reset_by_he_init(digits, act, std, problem):
    m = mlp(act=act, depth=2 if act is nn.Tanh else 6)
    for layer in m:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, std)
    history = repair(digits, m, rp.optim.SGD(m.parameters(), lr=0.05))
    treated = [t for t in history.treatments if t.problem == problem]
    assert [t.remedy for t in treated if t.applied] == ["he_init"]
    assert all(t.outcome == "skipped" for t in treated[:-1]) and len(treated) >= 3
    assert "He scale sqrt(2 / fan_in)" in treated[0].description
    assert "amplify the signal" in treated[0].description
    assert treated[1].description.endswith("skipped for the same reason")
    assert isinstance(m[1], act)  # the model keeps its activations
    assert history.history["val_accuracy"][-1] >= healthy_accuracy(digits) - 0.02


def test_non_finite_with_every_remedy_exhausted_stops_with_the_last_healthy_weights(digits):
    m = mlp()
    history = repair(digits, m, rp.optim.SGD(m.parameters(), lr=1e30))
    assert [t.remedy for t in history.treatments] == ["roll_back", "lower_lr", "clip_gradients", None]
    assert history.treatments[-1].outcome == "exhausted"
    assert "every remedy for non_finite was tried" in history.stop_reason
    assert all(np.isfinite(p.data).all() for p in m.parameters())
    # the NaN came from a step: the step remedies were tried, not skipped as for a NaN before any update
    assert not any(d.evidence.get("before_any_update") for d in history.diagnoses)


class Exponential(nn.Module):
    """Keras's ``activation='exponential'``: no measured activation kind, and exp(exp(...)) overflows."""

    def forward(self, x):
        return x.exp()


def test_a_loss_not_finite_before_any_update_is_the_models_to_fix_and_no_step_remedy_is_tried(digits):
    """Four exponential activations overflow on the initial weights: the loss is NaN at step 1. No step
    was taken, so a roll-back, a lower rate or clipping cannot help: each is skipped, saying why, and the
    run stops at once with the initial weights and advice, instead of three remedies that fail."""
    rp.manual_seed(0)
    layers = [nn.Linear(64, 32), Exponential()]
    for _ in range(3):
        layers += [nn.Linear(32, 32), Exponential()]
    m = nn.Sequential(*layers, nn.Linear(32, 10))
    initial = [p.data.copy() for p in m.parameters()]
    history = repair(digits, m, rp.optim.SGD(m.parameters(), lr=0.01))
    (found,) = [d for d in history.diagnoses if d.problem == "non_finite"]
    assert found.step == 0 and found.evidence["before_any_update"]
    assert "before any update" in found.explanation
    assert [(t.remedy, t.outcome) for t in history.treatments] == [
        ("roll_back", "skipped"), ("lower_lr", "skipped"), ("clip_gradients", "skipped"), (None, "exhausted")]
    assert "the model's forward pass is the user's to change" in history.treatments[0].description
    assert "no remedy for non_finite applies here" in history.stop_reason
    assert all(np.array_equal(p.data, w) for p, w in zip(m.parameters(), initial, strict=True))


def test_dropout_too_high_is_lowered_from_where_the_recipe_started(digits):
    m = mlp(p=0.95)
    history = repair(digits, m, rp.optim.Adam(m.parameters(), lr=1e-3))
    (treatment,) = history.treatments
    assert (treatment.problem, treatment.remedy, treatment.rolled_back_to) == ("dropout_too_high",
                                                                              "lower_dropout", 0)
    assert all(layer.p == 0.2 for layer in m if isinstance(layer, nn.Dropout))
    assert history.history["val_accuracy"][-1] >= healthy_accuracy(digits) - 0.05


def test_a_plateau_gets_a_rate_sized_by_the_update_ratios_and_the_lost_steps_are_made_up(digits):
    m = mlp()
    history = repair(digits, m, rp.optim.SGD(m.parameters(), lr=1e-6), epochs=8)
    assert applied(history) == [("slow_convergence", "higher_lr")]
    assert 1e-2 < history.params["optimizer"].param_groups[0]["lr"] < 1.0  # 10^4 x or more: as the ratios say
    assert history.treatments[0].outcome == "resolved"
    wasted = sum(t.wasted_steps for t in history.treatments)
    steps = history.params["steps"]
    assert len(history.epoch) == 8 + min(math.ceil(wasted / steps), 4)  # made up, at most half the plan
    assert history.params["epochs"] == len(history.epoch)
    assert history.history["val_accuracy"][-1] >= healthy_accuracy(digits) - 0.03


def test_overfitting_goes_back_to_the_best_epoch_and_ends_with_early_stopping(digits):
    m = mlp(width=512)
    history = repair(digits, m, rp.optim.Adam(m.parameters(), lr=3e-3), epochs=40, n=60)
    remedies = [t.remedy for t in history.treatments if t.problem == "overfitting"]
    assert remedies[0] == "dropout" and any(isinstance(layer, nn.Dropout) for layer in m)
    if "early_stopping" in remedies:
        assert history.stop_reason.startswith("early stopping")
    best = history.best
    assert best.value == max(history.history["val_accuracy"])
    assert "Dropout" in best.config["model"] or best.config["treatments"] == []
    # the best model is kept whole: its weights give the metric it was chosen by
    x_test, y_test = digits[2], digits[3]
    accuracy = rp.evaluate(best.model, x_test, y_test, loss="cross_entropy")["accuracy"]
    assert accuracy == pytest.approx(best.value)


def test_structural_remedies_skip_custom_modules_but_the_others_still_apply(digits):
    class Deep(nn.Module):
        def __init__(self):
            super().__init__()
            rp.manual_seed(0)
            self.layers = [nn.Linear(64, 64) for _ in range(8)]
            for i, layer in enumerate(self.layers):
                setattr(self, f"fc{i}", layer)
            self.out = nn.Linear(64, 10)

        def forward(self, x):
            for layer in self.layers:
                x = rp.F.sigmoid(layer(x)) if hasattr(rp.F, "sigmoid") else layer(x).sigmoid()
            return self.out(x)

    m = Deep()
    history = repair(digits, m, rp.optim.SGD(m.parameters(), lr=0.1))
    vanishing = [t for t in history.treatments if t.problem == "vanishing_gradients"]
    assert vanishing[0].remedy == "relu" and not vanishing[0].applied
    assert "edits nn.Sequential models" in vanishing[0].description
    assert vanishing[1].remedy == "he_init" and vanishing[1].applied


def test_a_repaired_run_is_reproducible(digits):
    runs = []
    for _ in range(2):
        m = mlp(act=nn.Sigmoid, depth=8)
        history = repair(digits, m, rp.optim.SGD(m.parameters(), lr=0.1), epochs=2)
        runs.append((history.step_loss, [t.to_dict() for t in history.treatments]))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


def test_a_schedule_follows_the_treated_optimizer(digits):
    m = mlp()
    opt = rp.optim.SGD(m.parameters(), lr=50.0)
    scheduler = rp.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    history = repair(digits, m, opt, scheduler=scheduler)
    assert scheduler.optimizer is history.params["optimizer"]
    assert history.history["lr"][-1] < 5.0


def test_the_treatment_log_is_readable_and_json_ready(digits):
    m = mlp(act=nn.Sigmoid, depth=8)
    doctor = Doctor(repair=True)
    repair(digits, m, rp.optim.SGD(m.parameters(), lr=0.1), epochs=2, doctor=doctor)
    text = doctor.summary()
    assert "Treatments:" in text and "vanishing_gradients -> relu" in text and "rolled back to step 1" in text
    data = json.loads(doctor.to_json())
    assert data["repair"] is True and data["treatments"][0]["remedy"] == "relu"
    assert isinstance(doctor.treatments[0], TreatmentRecord)


def test_without_repair_nothing_is_treated(digits):
    m = mlp(act=nn.Sigmoid, depth=8)
    x_train, y_train, _, _ = digits
    history = rp.fit(m, x_train, y_train, loss="cross_entropy",
                     optimizer=rp.optim.SGD(m.parameters(), lr=0.1), epochs=2, verbose=0, seed=0, doctor=True)
    assert history.diagnoses and history.treatments == [] and history.best is None
    assert any(isinstance(layer, nn.Sigmoid) for layer in m)


def test_repair_in_a_hand_written_loop(digits):
    x_train, y_train, _, _ = digits
    m = mlp(act=nn.Sigmoid, depth=8)
    opt = rp.optim.SGD(m.parameters(), lr=0.1)
    doctor = Doctor(m, opt, repair=True)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(200):
        index = np.arange(step * 16, step * 16 + 16) % len(x_train)
        opt.zero_grad()
        loss = loss_fn(m(rp.tensor(x_train[index])), y_train[index])
        loss.backward()
        new = doctor.observe(loss)
        if doctor.treat(new) is not None:
            opt = doctor.optimizer  # the treated run goes on with the doctor's optimizer
            continue
        opt.step()
    doctor.finish()
    assert [t.remedy for t in doctor.treatments] == ["relu"]
    assert doctor.treatments[0].outcome == "resolved"  # watched for 179 more steps: long enough


def test_a_treatment_seen_too_briefly_is_unconfirmed(digits):
    m = mlp(p=0.95)
    history = repair(digits, m, rp.optim.Adam(m.parameters(), lr=1e-3), epochs=3, doctor=Doctor(make_up=0))
    (treatment,) = history.treatments
    assert treatment.remedy == "lower_dropout"
    assert history.step_loss.size - treatment.step - 1 < 120 and treatment.outcome == "unconfirmed"


def test_learning_rate_remedies_are_sized_by_the_update_ratios():
    m = mlp()
    opt = rp.optim.SGD(m.parameters(), lr=1.0)
    doctor = Doctor(m, opt, repair=True, every=1)
    x, y = rp.randn(32, 64), np.arange(32) % 10
    watched_steps(m, opt, doctor, x, y, 2)
    ratios = [layer.update_ratio for layer in doctor.recorder.records[0].layers]
    lower = doctor._options("lower_lr")["factor"]
    assert lower == pytest.approx(min(max(1e-2 / max(ratios), 1e-4), 0.1))
    higher = doctor._options("higher_lr")["factor"]
    assert higher == pytest.approx(min(max(1e-3 / float(np.median(ratios)), 10.0), 1000.0))
    assert doctor._options("relu") == {}


# ---------------------------------------------------------------------------------------------
# NaN replay: where did it begin?
# ---------------------------------------------------------------------------------------------
def test_a_nan_between_probes_is_replayed_to_find_its_first_layer(digits):
    x_train, y_train, _, _ = digits

    class Poison(rp.callbacks.Callback):
        def on_batch_begin(self, batch, logs=None):
            if batch == 6:  # the weights of the third Linear grow so large its output overflows
                self.model[4].weight.data[...] = 1e37

    m = mlp(depth=3)
    doctor = Doctor(every=1000)  # only step 0 is due for a probe
    history = rp.fit(m, x_train, y_train, loss="cross_entropy",
                     optimizer=rp.optim.SGD(m.parameters(), lr=0.01), epochs=1, verbose=0, seed=0,
                     doctor=doctor, callbacks=[Poison()])
    (diagnosis,) = [d for d in history.diagnoses if d.problem == "non_finite"]
    assert diagnosis.step == 6
    assert diagnosis.layer == "5" and diagnosis.evidence["where"] == "activations"
    assert diagnosis.evidence["replayed"] is True
    assert "relu after layer 3" in diagnosis.layer_label
    assert doctor.recorder.records[-1].replayed and doctor.recorder.records[-1].step == 6
    assert "non-finite" in history.stop_reason


def test_the_replay_leaves_the_run_unchanged(digits):
    """The replayed forward pass draws the step's own dropout masks and restores buffers and RNG:
    the run ends exactly as it does without the doctor."""
    x_train, y_train, _, _ = digits

    class Poison(rp.callbacks.Callback):
        def on_batch_begin(self, batch, logs=None):
            if batch == 6:
                self.model[4].weight.data[...] = 1e37

    ends = []
    for doctor in (False, Doctor(every=1000)):
        rp.manual_seed(0)
        m = nn.Sequential(nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
        history = rp.fit(m, x_train, y_train, loss="cross_entropy",
                         optimizer=rp.optim.SGD(m.parameters(), lr=0.01), epochs=1, verbose=0, seed=0,
                         doctor=doctor, callbacks=[Poison()])
        ends.append((m.state_dict(), rp.random.default_generator().bit_generator.state, history.stop_reason))
    (plain, plain_rng, plain_stop), (watched, watched_rng, watched_stop) = ends
    for key in plain:
        np.testing.assert_array_equal(plain[key], watched[key], err_msg=key)
    assert plain_rng == watched_rng and plain_stop == watched_stop
    (diagnosis,) = doctor.diagnoses
    assert diagnosis.layer == "5" and diagnosis.evidence["replayed"]


def test_backward_overflow_is_placed_at_the_output_side():
    def layer(name, grad_bad=0):
        return {"name": name, "label": f"layer {name}", "grad_rms": 1.0, "grad_norm": 1.0,
                "nonfinite_grad": grad_bad, "nonfinite_weight": 0}

    probe = {"step": 4, "loss": 1.0, "layers": [layer("0", 5), layer("2", 5), layer("4", 5)],
             "activations": [], "replayed": True}
    (finding,) = rules.non_finite([probe], [1.0])
    assert finding.layer == "4" and finding.evidence["where"] == "gradients"
    poisoned = {**probe, "layers": [layer("0"), {**layer("2"), "nonfinite_weight": 3}, layer("4", 5)]}
    (finding,) = rules.non_finite([poisoned], [1.0])
    assert finding.layer == "2" and finding.evidence["where"] == "weights"


def test_symptoms_mark_a_probe_unfit_to_roll_back_to():
    healthy = {"loss": 1.0, "layers": [{"grad_rms": 1.0}] * 3,
               "activations": [{"fired": np.ones(10, bool), "saturated_share": None}]}
    assert rules.symptoms(healthy) == []
    dying = {**healthy, "activations": [{"fired": np.arange(10) < 3, "saturated_share": None}]}
    assert rules.symptoms(dying) == ["dead_relu"]
    climbing = list(np.linspace(2.0, 0.2, 100)) + [1.0] * 30
    assert rules.symptoms(healthy, climbing) == ["unstable_loss"]
    assert rules.symptoms({**healthy, "loss": math.nan}) == ["non_finite"]


def test_saturation_from_raw_inputs_is_treated_by_standardizing_them():
    x, y = rp.data.load_breast_cancer()  # raw: features up to the thousands
    x_train, x_test, y_train, y_test = rp.data.train_test_split(x, y, test_size=0.25, seed=0)
    rp.manual_seed(0)
    m = nn.Sequential(nn.Linear(30, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2))
    history = rp.fit(m, x_train, y_train, loss="cross_entropy", epochs=10,
                     optimizer=rp.optim.Adam(m.parameters(), lr=1e-3), validation_data=(x_test, y_test),
                     verbose=0, seed=0, repair=True)
    # the setup check names the cause before the first step, and standardizing the inputs treats it
    # before any unit saturates (the tanh layers are kept)
    first = history.treatments[0]
    assert (first.problem, first.remedy, first.applied) == ("unscaled_inputs", "standardize_inputs", True)
    assert first.step == 0
    assert not any(t.problem == "saturated_activations" for t in history.treatments)
    assert isinstance(m[0], nn.Standardize) and isinstance(m[2], nn.Tanh)  # the model takes raw inputs
    np.testing.assert_allclose(m[0].mean.data, x_train.mean(axis=0), rtol=1e-5)
    assert history.history["val_accuracy"][-1] > 0.95


def test_standardizing_keeps_a_constant_input_column_as_the_bias_of_a_model_without_one():
    # a linear model with no bias fits its intercept through a column of ones next to the unscaled
    # time index; centring that column to 0 would leave the intercept unreachable
    rng = np.random.default_rng(0)
    t = np.arange(100.0)
    x = np.stack([t, np.ones_like(t)], axis=1).astype(np.float32)
    y = (2 * t + 4 + rng.uniform(0, 10, 100)).astype(np.float32).reshape(-1, 1)
    m = nn.Sequential(nn.Linear(2, 1, bias=False))
    nn.init.zeros_(m[0].weight)
    history = rp.fit(m, x, y, loss="mse", epochs=300, batch_size=100, validation_data=(x, y),
                     optimizer=rp.optim.SGD(m.parameters(), lr=0.25), verbose=0, seed=0, repair=True)
    assert ("unscaled_inputs", "standardize_inputs") in applied(history)
    np.testing.assert_allclose(m[0].mean.data, [t.mean(), 0.0])
    np.testing.assert_allclose(m[0].scale.data, [t.std(), 1.0])
    error = float(np.mean((rp.predict(m, x) - y) ** 2) / np.var(y))
    assert error < 0.01  # the intercept (4 + 5 on average) is fitted, as with the unscaled column kept


def test_a_treatment_that_restarts_the_run_measures_progress_from_the_treated_models_start():
    # raw 0-255 pixels through a linear layer start at a loss of about 12; standardized, at 2.3. The
    # learning rate (1e-4 under plain SGD) then moves nothing: measured against 12 the loss at 2.3
    # looked like progress, measured against the treated model's own start it is a plateau
    x, y = rp.data.load_digits()
    x_train, x_test, y_train, y_test = rp.data.train_test_split(x * np.float32(255 / 16), y, test_size=0.25,
                                                                seed=0, stratify=y)
    rp.manual_seed(0)
    m = nn.Sequential(nn.Linear(64, 64), nn.Linear(64, 50), nn.ReLU(), nn.Linear(50, 10))
    history = rp.fit(m, x_train, y_train, loss="cross_entropy", epochs=6, validation_data=(x_test, y_test),
                     optimizer=rp.optim.SGD(m.parameters(), lr=1e-4), verbose=0, seed=0, repair=True)
    assert applied(history)[:2] == [("unscaled_inputs", "standardize_inputs"),
                                    ("slow_convergence", "higher_lr")]
    assert history.history["val_accuracy"][-1] > 0.9


def test_a_bounded_output_under_a_regression_loss_is_made_linear():
    # targets 3-7 behind a sigmoid output: mse can never reach them; fit removes the sigmoid
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=(400, 1)).astype(np.float32)
    y = (x**2 + 3).astype(np.float32)
    rp.manual_seed(0)
    m = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1), nn.Sigmoid())
    history = rp.fit(m, x[:300], y[:300], loss="mse", epochs=100, validation_data=(x[300:], y[300:]),
                     optimizer=rp.optim.Adam(m.parameters(), lr=1e-2), verbose=0, seed=0, repair=True)
    assert applied(history)[0] == ("loss_output_mismatch", "fix_output_loss")
    assert not any(isinstance(module, nn.Sigmoid) for module in m.modules())
    assert isinstance(m[2], nn.Linear)  # the output Linear layer is kept
    error = float(np.mean((rp.predict(m, x[300:]) - y[300:]) ** 2) / np.var(y[300:]))
    assert error < 0.05


def test_a_softmax_over_multi_hot_targets_becomes_one_sigmoid_per_label():
    # two independent labels per sample under a softmax and mse: no row with both (or neither) is
    # reachable; fit puts a sigmoid in the softmax's place and each label is learned on its own
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 4)).astype(np.float32)
    y = np.stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0], axis=1).astype(np.float32)

    def run(repair):
        rp.manual_seed(0)
        m = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2), nn.Softmax())
        history = rp.fit(m, x[:400], y[:400], loss="mse", epochs=20, validation_data=(x[400:], y[400:]),
                         optimizer=rp.optim.Adam(m.parameters(), lr=1e-2), verbose=0, seed=0,
                         doctor=Doctor(repair=repair))
        return m, history, float(np.mean((rp.predict(m, x[400:]) > 0.5) == y[400:]))

    _, watched, before = run(False)
    assert watched.diagnoses[0].evidence["case"] == "softmax_row_sums"
    m, history, after = run(True)
    assert applied(history)[0] == ("loss_output_mismatch", "fix_output_loss")
    assert isinstance(m[3], nn.Sigmoid) and not any(isinstance(module, nn.Softmax) for module in m.modules())
    assert before < 0.8 < 0.9 < after


def test_standardize_inputs_needs_the_data_and_a_sequential():
    from retroprop.doctor.remedies import apply_remedy

    m = mlp()
    opt = rp.optim.SGD(m.parameters(), lr=0.1)
    assert not apply_remedy("standardize_inputs", m, opt).applied  # not given the inputs' statistics
    t = apply_remedy("standardize_inputs", m, opt, mean=np.full(64, 2.0), scale=np.full(64, 4.0))
    assert t.applied and isinstance(m[0], nn.Standardize) and t.optimizer is opt
    np.testing.assert_allclose(m[0](rp.full((1, 64), 6.0)).data, 1.0)
    assert not apply_remedy("standardize_inputs", m, opt, mean=np.zeros(64), scale=np.ones(64)).applied


def _watched(act=nn.ReLU, lr=1.0):
    """A small MLP watched for a few steps by a repairing doctor in a hand-written loop."""
    m = mlp(act=act)
    opt = rp.optim.SGD(m.parameters(), lr=lr)
    doctor = Doctor(m, opt, every=1, repair=True)
    rng = np.random.default_rng(0)
    watched_steps(m, opt, doctor, rp.Tensor(rng.normal(size=(32, 64)).astype(np.float32)),
                  rng.integers(0, 10, 32), 4)
    return doctor


def test_lower_lr_is_sized_on_the_median_layer_not_the_largest():
    from retroprop.doctor import Diagnosis

    doctor = _watched()
    newest = next(r for r in reversed(doctor.recorder.records) if r.layers[0].update_ratio is not None)
    for layer, ratio in zip(newest.layers, [20.0, 1.0, 1.0], strict=True):
        layer.update_ratio = ratio  # one odd layer moves 20x its share
    record = doctor.treat([Diagnosis("unstable_loss", None, 4, 0, "warning", {}, "x")])
    assert record.remedy == "lower_lr"
    # the median layer's 1.0 comes down to 2e-2: a factor of 0.02 (the largest layer's would give 0.001)
    assert doctor.optimizer.param_groups[0]["lr"] == pytest.approx(0.02)


def test_saturation_is_treated_before_the_vanishing_gradients_it_causes():
    from retroprop.doctor import Diagnosis

    doctor = _watched(act=nn.Tanh, lr=0.01)
    vanishing = Diagnosis("vanishing_gradients", "0", 4, 0, "warning", {}, "x")
    saturated = Diagnosis("saturated_activations", "1", 4, 0, "warning", {}, "x")
    record = doctor.treat([vanishing, saturated])
    assert record.problem == "saturated_activations"


def test_batchnorm_is_never_inserted_into_a_run_of_one_sample_batches():
    """BatchNorm normalizes over the batch: at one sample per batch its training forward pass fails, so
    the remedy would stop the run it was meant to cure."""
    model = mlp()
    doctor = Doctor(model, rp.optim.SGD(model.parameters(), lr=0.1), repair=True)
    doctor.attach(model, doctor.optimizer, batch_size=1)
    reason = doctor._ruled_out("vanishing_gradients", "batchnorm", None)
    assert reason is not None and "one sample" in reason
    assert doctor._ruled_out("vanishing_gradients", "relu", None) is None
    doctor.attach(model, doctor.optimizer, batch_size=2)
    assert doctor._ruled_out("vanishing_gradients", "batchnorm", None) is None
    doctor.close()


def test_a_loss_comparison_within_the_noise_of_its_windows_is_no_verdict():
    doctor = Doctor(repair=True)
    one_sample = {"loss": 3.0e3, "loss_noise": math.inf}  # a treatment at the first step: one batch's loss
    later = {"loss": 2.6e4, "loss_noise": 4.0e3}
    assert doctor._compare(one_sample, later, "standardize_inputs")["verdict"] == "same"
    steady = {"loss": 3.0e3, "loss_noise": 50.0}
    assert doctor._compare(steady, later, "standardize_inputs")["verdict"] == "worse"
    assert doctor._compare(one_sample, {"loss": 10.0, "loss_noise": 1.0}, "lower_lr")["verdict"] == "better"


def test_a_remedy_for_single_sample_noise_starts_from_where_the_run_stands():
    # batch_too_small does no damage a roll-back undoes: the last snapshot of a noisy run may lie
    # thousands of steps back, and going there would throw the run's learning away (a script's loop
    # gives no steps back); its lower rate anneals the weights the run has. AutoTrainer's oscillating
    # blobs (unscaled, overlapping): single samples at momentum 0.9 hold the model well short of the
    # 81 % a nearest-neighbour vote sorts
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2)
    x, y = x.astype(np.float32), y.astype(np.int64)
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 50), nn.ReLU(), nn.Linear(50, 3))
    history = rp.fit(model, x[:700], y[:700], loss="cross_entropy",
                     optimizer=rp.optim.SGD(model.parameters(), lr=0.01, momentum=0.9), epochs=6,
                     batch_size=1,
                     validation_data=(x[700:], y[700:]), doctor=rp.Doctor(repair=True), seed=0, verbose=0)
    noisy = [t for t in history.treatments if t.problem == "batch_too_small" and t.applied]
    assert noisy, [str(t) for t in history.treatments]
    assert all(t.rolled_back_to is None and t.wasted_steps == 0 for t in noisy)
    assert "rolled back" not in str(noisy[0])
