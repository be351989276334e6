"""The clinic's published programs (benchmarks/clinic/programs/): every module follows the protocol, cheaply.

No program is trained here (the runner does that): each version is built for seed 0 and checked for
consistent shapes, a loss and metric that ``rp.evaluate`` accepts on a few validation samples, and
``fit`` options that ``rp.fit`` knows.
"""

from __future__ import annotations

import inspect
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import retroprop as rp
from retroprop.doctor.diagnosis import PROBLEMS

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.clinic.programs import Program, load_programs
from benchmarks.clinic.programs import run as runner

# the problem ids the doctor names today, and the six being added for issue 12
NEW_PROBLEMS = ("loss_output_mismatch", "missing_nonlinearity", "unscaled_inputs", "unscaled_targets",
                "underfitting", "batch_too_small")
KNOWN = frozenset(PROBLEMS) | frozenset(NEW_PROBLEMS)
PROGRAMS = load_programs("all")
FIT_KEYWORDS = set(inspect.signature(rp.fit).parameters)


def test_both_splits_are_non_empty_and_make_up_all_programs():
    dev, heldout = load_programs("dev"), load_programs("heldout")
    assert dev and heldout
    assert set(dev) | set(heldout) == set(PROGRAMS) and not set(dev) & set(heldout)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_module_declares_the_protocol(name):
    module = PROGRAMS[name]
    for attribute in ("SOURCE", "SYMPTOM", "FIX"):
        value = getattr(module, attribute, None)
        assert isinstance(value, str) and value.strip(), f"{name}.{attribute} must be a non-empty string"
    assert module.SPLIT in ("dev", "heldout"), name
    expected, allowed = set(module.EXPECTED), set(module.ALLOWED)
    assert expected, f"{name}: EXPECTED names no problem"
    assert all(isinstance(p, str) for p in expected | allowed), name
    assert expected <= KNOWN, f"{name}: unknown ids in EXPECTED: {sorted(expected - KNOWN)}"
    assert allowed <= KNOWN, f"{name}: unknown ids in ALLOWED: {sorted(allowed - KNOWN)}"
    assert not expected & allowed, f"{name}: {sorted(expected & allowed)} both expected and allowed"
    assert callable(module.buggy) and callable(module.fixed), name
    round_ = getattr(module, "ROUND", 1)  # a module without ROUND belongs to the clinic's first round
    assert isinstance(round_, int) and not isinstance(round_, bool) and round_ >= 1, (
        f"{name}.ROUND must be an int >= 1, not {round_!r}")


def _check_program(name: str, version: str, p: Program) -> None:
    where = f"{name}.{version}(0)"
    assert isinstance(p, Program), f"{where} returned {type(p).__name__}, not a Program"
    assert isinstance(p.model, rp.nn.Module) and hasattr(p.optimizer, "step"), where
    for x, y, part in ((p.x_train, p.y_train, "train"), (p.x_val, p.y_val, "val")):
        assert isinstance(x, np.ndarray) and isinstance(y, np.ndarray), f"{where}: {part} data must be arrays"
        assert len(x) == len(y) > 0, f"{where}: {part} has {len(x)} inputs and {len(y)} targets"
        assert np.isfinite(x).all() and np.isfinite(y).all(), f"{where}: non-finite {part} data"
    assert p.x_train.shape[1:] == p.x_val.shape[1:], f"{where}: train and val inputs differ in shape"
    assert p.y_train.shape[1:] == p.y_val.shape[1:], f"{where}: train and val targets differ in shape"
    assert isinstance(p.epochs, int) and p.epochs > 0 and isinstance(p.batch_size, int) and p.batch_size > 0
    assert p.metric in ("accuracy", None), where
    unknown = set(p.fit_options) - FIT_KEYWORDS
    assert not unknown, f"{where}: fit_options {sorted(unknown)} are not rp.fit keywords"
    runner_keywords = {"loss", "optimizer", "epochs", "batch_size", "validation_data", "doctor", "repair",
                       "verbose"}
    assert not set(p.fit_options) & runner_keywords, f"{where}: fit_options repeat what the runner sets"
    n = min(8, len(p.x_val))
    with np.errstate(all="ignore"):
        metrics = p.fit_options.get("metrics")
        result = rp.evaluate(p.model, p.x_val[:n], p.y_val[:n], loss=p.loss, metrics=metrics)
        out = rp.predict(p.model, p.x_val[:n])
    assert len(out) == n, where
    if p.metric is None:
        assert out.shape == p.y_val[:n].reshape(out.shape).shape, where
    else:
        assert "accuracy" in result and 0.0 <= result["accuracy"] <= 1.0, f"{where}: no accuracy: {result}"


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_buggy_and_fixed_build_consistent_programs_for_seed_0(name):
    module = PROGRAMS[name]
    buggy, fixed = module.buggy(0), module.fixed(0)
    _check_program(name, "buggy", buggy)
    _check_program(name, "fixed", fixed)
    if not getattr(module, "FIX_CHANGES_INPUTS", False):
        assert buggy.x_train.shape[1:] == fixed.x_train.shape[1:], f"{name}: the versions take other inputs"
    else:  # the fix adds input features: the same rows, more columns
        assert len(buggy.x_train) == len(fixed.x_train) and buggy.x_train.shape[1:] != fixed.x_train.shape[1:]
    assert (buggy.metric is None) == (fixed.metric is None), f"{name}: one version is a regression, one not"


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_a_version_is_the_same_for_the_same_seed(name):
    first, second = PROGRAMS[name].buggy(0), PROGRAMS[name].buggy(0)
    for a, b in zip(first.model.parameters(), second.model.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data, err_msg=f"{name}: buggy(0) draws different weights")
    np.testing.assert_array_equal(first.x_train, second.x_train, err_msg=f"{name}: buggy(0) draws other data")


def test_rounds_start_at_one_and_the_second_round_is_present():
    rounds = {name: getattr(module, "ROUND", 1) for name, module in PROGRAMS.items()}
    assert min(rounds.values()) == 1
    assert any(r == 2 for r in rounds.values()), "no program of the clinic's second round (ROUND = 2)"


# ---------------------------------------------------------------------------------------------
# The runner's judgement (no training)
# ---------------------------------------------------------------------------------------------
def test_as_good_uses_two_points_of_accuracy_and_ten_percent_of_error():
    assert runner.as_good(0.90, 0.915, regression=False)
    assert not runner.as_good(0.89, 0.915, regression=False)
    assert runner.as_good(0.99, 0.5, regression=False)
    assert runner.as_good(1.09, 1.0, regression=True)
    assert not runner.as_good(1.2, 1.0, regression=True)
    assert runner.as_good(0.1, 1.0, regression=True)
    assert not runner.as_good(math.inf, 1.0, regression=True)
    assert not runner.as_good(float("nan"), 0.5, regression=False)
    assert not runner.as_good(0.9, float("nan"), regression=False)


def _case(fired: list[str], fixed_fired: list[str], buggy: float, fixed: float, repaired: float | None,
          expected: tuple[str, ...] = ("dead_relu",), allowed: tuple[str, ...] = ()) -> runner.Case:
    def outcome(score: float, problems: list[str]) -> runner.Outcome:
        return runner.Outcome(score=score, fired=problems, first_step={p: 0 for p in problems})

    return runner.Case("p", "dev", 0, False, list(expected), list(allowed), outcome(buggy, fired),
                       outcome(fixed, fixed_fired), None if repaired is None else outcome(repaired, []))


def test_summary_counts_alarms_labels_false_alarms_and_repairs():
    cases = [
        _case(["dead_relu", "unstable_loss"], [], 0.3, 0.9, 0.89, allowed=("exploding_gradients",)),
        _case(["exploding_gradients"], ["overfitting"], 0.5, 0.9, 0.5, allowed=("exploding_gradients",)),
        _case([], [], 0.895, 0.9, 0.9),  # not reproduced: within 2 points
    ]
    s = runner.summarize(cases)
    assert (s["bugs"], s["reproduced"], s["alarm"], s["alarm_on_reproduced"]) == (3, 2, 2, 2)
    assert (s["expected_found"], s["expected_labels"]) == (1, 3)
    assert (s["expected_found_on_reproduced"], s["expected_labels_on_reproduced"]) == (1, 2)
    assert s["buggy_with_unlisted_label"] == 1  # unstable_loss, neither expected nor allowed
    assert s["fixed_with_false_alarm"] == 1 and s["false_alarms"] == {"p@0": ["overfitting"]}
    assert (s["repair_success"], s["repairs"]) == (2, 3)
    assert (s["repair_success_on_reproduced"], s["repairs_on_reproduced"]) == (1, 2)
    text = runner.summary_text("dev", s) + "\n" + runner.table(cases)
    assert "false alarms on fixed programs: 1/3" in text and "FAILED" in text
    assert s["false_alarms_repaired"] == 0 and "repairing them" not in text


def test_a_false_alarm_repaired_is_judged_by_what_the_repair_did_to_the_fixed_program():
    def verdict(fixed: float, repaired: float | None, fired: tuple[str, ...] = ("slow_convergence",),
                regression: bool = False, error: str | None = None) -> str | None:
        case = _case(["dead_relu"], list(fired), 0.3, fixed, 0.9)
        case.regression = regression
        if repaired is not None:
            case.fixed_repaired = runner.Outcome(score=repaired, error=error)
        return case.alarm_verdict

    assert verdict(0.60, 0.95) == "improved"  # the published fix left a slow run the doctor cured
    assert verdict(0.90, 0.50) == "harmed"
    assert verdict(0.90, 0.91) == "same" and verdict(0.90, 0.885) == "same"  # within 2 points
    assert verdict(0.90, 0.99, error="ValueError: x") == "harmed"  # a repair that raised
    assert verdict(0.90, None) is None  # not repaired (--no-repair)
    assert verdict(0.90, 0.99, fired=()) is None  # no alarm: nothing to judge
    assert verdict(1.0, 0.5, regression=True) == "improved" and verdict(1.0, 1.2, regression=True) == "harmed"
    cases = [_case(["dead_relu"], ["slow_convergence"], 0.3, 0.6, 0.9),
             _case(["dead_relu"], ["overfitting"], 0.3, 0.9, 0.9)]
    cases[0].fixed_repaired = runner.Outcome(score=0.95)
    cases[1].fixed_repaired = runner.Outcome(score=0.5)
    s = runner.summarize(cases)
    counts = (s["false_alarms_repaired"], s["false_alarm_repair_improved"], s["false_alarm_repair_harmed"])
    assert counts == (2, 1, 1)
    assert "repairing them: improved 1, harmed 1, same 0 of 2" in runner.summary_text("dev", s)
    assert "(repaired: 0.950, improved)" in runner.case_line(cases[0])


def test_every_program_is_judged_for_fit_power_and_repairs_are_counted_over_those_within(tmp_path):
    within = runner.fit_power()
    assert set(within) == set(PROGRAMS), (
        f"fit_power.toml: missing {sorted(set(PROGRAMS) - set(within))[:5]}, "
        f"unknown {sorted(set(within) - set(PROGRAMS))[:5]}")
    assert any(within.values()) and not all(within.values())
    cases = [_case(["dead_relu"], [], 0.3, 0.9, 0.9), _case(["dead_relu"], [], 0.3, 0.9, 0.5),
             _case(["dead_relu"], [], 0.3, 0.9, 0.3), _case(["dead_relu"], [], 0.3, 0.9, 0.9)]
    for case, fit_can in zip(cases, (True, True, False, None), strict=True):
        case.within_fit = fit_can
    s = runner.summarize(cases)
    counts = (s["repair_success_within_fit"], s["repairs_within_fit"], s["repairs_not_judged_for_fit"])
    assert counts == (1, 2, 1)
    text = runner.summary_text("dev", s)
    assert "within fit's power to fix: 1/2" in text and "not judged for fit's power" in text
    bad = tmp_path / "fit_power.toml"
    bad.write_text('[programs.p]\nwithin = "yes"\n')
    with pytest.raises(SystemExit, match="within"):
        runner.fit_power(bad)
    assert runner.fit_power(tmp_path / "absent.toml") == {}


def test_regression_score_is_unit_free():
    x = np.linspace(-1, 1, 20, dtype=np.float32).reshape(-1, 1)
    model = rp.nn.Sequential(rp.nn.Linear(1, 1))
    errors = []
    for scale in (1.0, 1000.0):
        model[0].weight.data[...] = scale
        model[0].bias.data[...] = 0.0
        y = (scale * x + scale * 0.1).astype(np.float32)
        p = Program(model, rp.optim.SGD(model.parameters(), lr=0.1), x, y, x, y, loss="mse", epochs=1,
                    batch_size=4, metric=None)
        errors.append(runner.score(p, model))
    assert errors[0] == pytest.approx(errors[1], rel=1e-4) and errors[0] > 0


def test_command_line_refuses_bad_seeds_and_unknown_programs():
    with pytest.raises(SystemExit, match="seeds"):
        runner.parse_seeds("0,x")
    with pytest.raises(SystemExit, match="seeds"):
        runner.parse_seeds("-1")
    assert runner.parse_seeds("0, 2") == [0, 2]
    with pytest.raises(SystemExit, match="no program"):
        runner.select("all", "no_such_program_anywhere")
    with pytest.raises(SystemExit, match="round numbers"):
        runner.select("all", None, "1,x")
    with pytest.raises(SystemExit, match="of those rounds"):
        runner.select("all", None, "99")


def test_rounds_select_the_programs_of_those_rounds():
    first = runner.select("all", None, "1")
    assert first and all(getattr(module, "ROUND", 1) == 1 for module in first.values())
    both = runner.select("all", None, "1,2")
    assert set(first) < set(both) < set(PROGRAMS)


@pytest.mark.slow
def test_runner_end_to_end_on_one_program(tmp_path):
    out = tmp_path / "programs.json"
    result = runner.main(["--only", "deepfd_48385830_linear_mse", "--no-repair", "--json", str(out)])
    assert out.exists() and result["cases"][0]["name"] == "deepfd_48385830_linear_mse"
    assert result["splits"]["dev"]["bugs"] == 1
