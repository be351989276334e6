"""The doctor never ends the training it watches, and never calls a diverged run healthy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop import F, nn
from retroprop.doctor import doctor as doctor_module
from retroprop.doctor import probes, rules
from retroprop.doctor import repair as repair_module

from .common import mlp


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise ZeroDivisionError("float division by zero")


def _fit(digits, model, optimizer=None, *, doctor: Any = True, epochs: int = 2, **options: Any) -> rp.History:
    x_train, y_train, x_test, y_test = digits
    optimizer = optimizer or rp.optim.SGD(model.parameters(), lr=0.05)
    return rp.fit(model, x_train, y_train, loss="cross_entropy", optimizer=optimizer, epochs=epochs,
                  batch_size=64, verbose=0, seed=0, doctor=doctor, validation_data=(x_test, y_test),
                  **options)


# ---------------------------------------------------------------------------------------------
# a failing rule or probe never ends training
# ---------------------------------------------------------------------------------------------
def test_a_rule_that_raises_is_recorded_skipped_and_the_run_goes_on(digits, monkeypatch):
    calls = []

    def broken(*args: Any) -> Any:
        calls.append(1)
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(rules, "exploding_growth", broken)  # runs at every probe
    history = _fit(digits, mlp())
    assert len(history.epoch) == 2 and history.stop_reason is None
    (error,) = history.doctor_errors
    assert error["where"] == "rule exploding_gradients (growth)" and error["step"] == 0
    assert error["error"] == "ZeroDivisionError('float division by zero')"
    assert len(calls) == 1  # disabled for the rest of the run


def test_the_summary_and_stderr_say_what_failed(digits, monkeypatch, capsys):
    monkeypatch.setattr(rules, "slow_convergence", _boom)
    doctor = rp.Doctor()
    x_train, y_train, *_ = digits
    model = mlp()
    rp.fit(model, x_train, y_train, loss="cross_entropy", optimizer=rp.optim.SGD(model.parameters(), lr=1e-6),
           epochs=3, batch_size=64, verbose=2, seed=0, doctor=doctor)
    err = capsys.readouterr().err
    assert err.count("Doctor: internal error in rule slow_convergence at step") == 1
    assert ("internal doctor error in rule slow_convergence at step 51: ZeroDivisionError('float division "
            "by zero'); the run went on without it") in doctor.summary()
    assert '"errors": [{"step": 50' in doctor.to_json()


def test_a_probe_hook_that_raises_does_not_break_the_forward_pass(digits, monkeypatch):
    monkeypatch.setattr(probes, "ActivationStats", _boom)
    history = _fit(digits, mlp(), epochs=1)
    assert len(history.epoch) == 1 and history.stop_reason is None
    assert [e["where"] for e in history.doctor_errors] == ["probe 1", "probe 3"]  # each layer once


def test_a_failure_inside_observe_turns_the_doctor_off_not_the_run(digits, monkeypatch):
    monkeypatch.setattr(doctor_module.Doctor, "_observe", _boom)
    doctor = rp.Doctor()
    history = _fit(digits, mlp(), doctor=doctor)
    assert len(history.epoch) == 2 and history.doctor_errors[0]["where"] == "observe"
    assert len(doctor.recorder.losses) == len(history.step_loss)  # every step still counted


def test_failures_at_the_epoch_end_and_in_a_treatment_are_survived(digits, monkeypatch):
    monkeypatch.setattr(doctor_module.Doctor, "_end_epoch", _boom)
    history = _fit(digits, mlp())
    assert len(history.epoch) == 2 and [e["where"] for e in history.doctor_errors] == ["end_epoch"]
    monkeypatch.undo()
    monkeypatch.setattr(repair_module.Repairing, "_roll_back", _boom)
    model = mlp()
    history = _fit(digits, model, rp.optim.SGD(model.parameters(), lr=1e30), doctor=None, repair=True)
    assert "treat" in [e["where"] for e in history.doctor_errors]
    assert history.stop_reason.startswith("non-finite")  # fit's own guard still stopped the overflow


def test_a_remedy_that_raises_on_this_model_is_skipped_and_the_next_one_tried(digits, monkeypatch):
    real = repair_module.apply_remedy

    def lower_lr_raises(adapter, remedy, *args, **kwargs):
        if remedy == "lower_lr":
            raise TypeError("MyOptimizer.__init__() got an unexpected keyword argument 'momentum'")
        return real(adapter, remedy, *args, **kwargs)

    monkeypatch.setattr(repair_module, "apply_remedy", lower_lr_raises)
    model = mlp()
    history = _fit(digits, model, rp.optim.SGD(model.parameters(), lr=1e30), doctor=None, repair=True)
    assert history.doctor_errors == []
    skipped = [t for t in history.treatments if t.remedy == "lower_lr"]
    assert skipped and not skipped[0].applied and skipped[0].outcome == "skipped"
    assert "raised TypeError: MyOptimizer.__init__()" in skipped[0].description
    assert any(t.applied for t in history.treatments)  # the next remedy was applied


def test_a_validation_loss_of_exactly_zero_divides_nothing(digits):
    x_train = digits[0]
    target = x_train[:, :1] * 0.5
    validations = []

    def loss(output: rp.Tensor, y: Any) -> rp.Tensor:
        value = F.mse_loss(output, y)
        if rp.is_grad_enabled() or len(output) != 100:  # a training step, or the doctor scoring a few rows
            return value
        validations.append(1)  # evaluate(): exactly 0 first, then above the training loss
        return value * 0.0 if len(validations) == 1 else value + float(len(validations))

    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 1))
    history = rp.fit(model, x_train, target, loss=loss, optimizer=rp.optim.SGD(model.parameters(), lr=0.01),
                     epochs=6, batch_size=64, verbose=0, seed=0, doctor=True, metrics=[],
                     validation_data=(x_train[:100], target[:100]))
    assert history.history["val_loss"][0] == 0.0 and len(history.epoch) == 6
    assert history.doctor_errors == []
    (overfit,) = [d for d in history.diagnoses if d.problem == "overfitting"]
    assert "the validation loss rose from 0 (epoch 1) to" in overfit.explanation


def test_the_overfitting_rule_with_a_best_of_zero():
    train, val = [1.0, 0.3, 0.2, 0.1], [0.0, 0.5, 0.6, 0.7]
    logs = [{"loss": t, "val_loss": v} for t, v in zip(train, val, strict=True)]
    (finding,) = rules.overfitting(logs)
    assert "rose from 0 (epoch 1) to 0.7" in finding.explanation


# ---------------------------------------------------------------------------------------------
# a run that diverged or stopped on NaN/Inf is never healthy
# ---------------------------------------------------------------------------------------------
def test_a_finite_divergence_is_critical_with_a_lower_learning_rate_first(digits):
    model = mlp(act=nn.Tanh)
    doctor = rp.Doctor()
    history = _fit(digits, model, rp.optim.SGD(model.parameters(), lr=1e30), doctor=doctor)
    assert history.stop_reason is None and np.isfinite(history.step_loss).all()  # finite, about 1e30
    (diverged,) = [d for d in history.diagnoses if d.evidence.get("diverged")]
    assert diverged.problem == "unstable_loss" and diverged.severity == "critical"
    assert diverged.remedies[0][0] == "lower_lr" and "the run diverged" in diverged.explanation
    assert "No problems found" not in doctor.summary()


def test_a_stop_on_overflowing_weights_is_diagnosed_non_finite(digits):
    model = mlp()
    doctor = rp.Doctor()
    history = _fit(digits, model, rp.optim.SGD(model.parameters(), lr=1e308), doctor=doctor)
    assert history.stop_reason.startswith("non-finite weights after the update of step 1")
    (stop,) = history.diagnoses
    assert (stop.problem, stop.severity, stop.step) == ("non_finite", "critical", 0)
    assert stop.evidence["stop_reason"] == history.stop_reason
    assert "No problems found" not in doctor.summary()


def test_the_divergence_rule_needs_a_loss_far_above_start_and_chance():
    rising = [2.3] + [50.0] * 19
    (finding,) = rules.diverged(rising, chance_loss=2.3)
    assert finding.severity == "critical" and finding.evidence["loss_now"] == 50.0
    assert rules.diverged([2.3] + [6.0] * 19, chance_loss=2.3) == []  # not 3x
    assert rules.diverged([0.1] + [0.5] * 19, chance_loss=2.3) == []  # 5x its start, below chance
    assert rules.diverged([2.3] * 9) == []  # too short to tell
    assert rules.diverged([2.3] + [np.inf] * 19) == []  # non_finite's to name


# ---------------------------------------------------------------------------------------------
# the evidence's words
# ---------------------------------------------------------------------------------------------
def _layer(name: str, rms: float) -> dict[str, Any]:
    return {"name": name, "label": f"layer {name}", "grad_rms": rms, "grad_norm": rms, "update_ratio": None,
            "nonfinite_grad": 0, "nonfinite_weight": 0}


def test_a_gradient_of_exactly_zero_is_said_in_words():
    layers = [_layer("0", 0.0), _layer("1", 1e-6), _layer("10", 1e-2)]
    probe = {"step": 0, "epoch": 0, "loss": 2.3, "layers": layers, "activations": []}
    (finding,) = rules.vanishing_gradients([probe, probe])
    assert "layer 0 gets no gradient at all (RMS exactly 0; layer 10's is 0.01)" in finding.explanation
    assert "is 0 of" not in finding.explanation


@pytest.mark.parametrize("share, text", [(0.0001, "0.01%"), (-0.00012, "-0.012%"), (0.034, "3.4%"),
                                         (0.456, "46%")])
def test_percentages_keep_two_significant_digits(share, text):
    assert rules._pct(share) == text


def test_a_tiny_rise_is_not_printed_as_zero():
    losses = [2.1] * 5 + [2.0] * 100 + [2.0002] * 20  # rose by 1e-4 of its value
    (finding,) = rules.slow_convergence(losses)
    assert "the loss rose 0.01%" in finding.explanation and "0.0%" not in finding.explanation


def test_an_adapter_can_make_the_doctor_give_up_and_the_run_goes_on():
    import retroprop as rp
    from retroprop.doctor import Doctor
    from tests.doctor.common import mlp

    model = mlp()
    doctor = Doctor(model, rp.optim.SGD(model.parameters(), lr=0.1), repair=True)
    assert doctor.watching
    doctor.give_up("distributed", RuntimeError("ranks drifted apart"), step=3)
    assert not doctor.watching and not doctor.repair
    assert doctor.errors == [{"step": 3, "epoch": 0, "where": "distributed",
                              "error": "RuntimeError('ranks drifted apart')"}]
    assert doctor.observe(1.0) == [] and doctor.recorder.losses.tolist() == [1.0]  # losses still kept
    assert "internal doctor error in distributed at step 4" in doctor.summary()
