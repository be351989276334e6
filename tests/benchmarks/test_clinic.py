"""The clinic (benchmarks/clinic/): its scenarios are well formed, and a few run end to end."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from clinic import run as clinic
from clinic import scenarios as sc

FAULTY = [s for s in sc.SCENARIOS if not s.healthy]
HEALTHY = [s for s in sc.SCENARIOS if s.healthy]


def test_there_are_at_least_forty_scenarios_with_unique_names_about_half_healthy():
    names = [s.name for s in sc.SCENARIOS]
    assert len(names) >= 40
    assert len(set(names)) == len(names), [n for n, c in Counter(names).items() if c > 1]
    assert 0.4 <= len(HEALTHY) / len(names) <= 0.6


def test_labels_use_known_problems_and_healthy_runs_allow_nothing():
    for s in sc.SCENARIOS:
        assert s.split in ("dev", "test"), s.name
        assert set(s.expected) <= set(sc.PROBLEMS), s.name
        # the setup check's name for raw inputs may be allowed besides the clinic's measured problems
        assert set(s.allowed) <= {*sc.PROBLEMS, "unscaled_inputs"}, s.name
        assert not set(s.expected) & set(s.allowed), f"{s.name}: a problem is both expected and allowed"
    for s in HEALTHY:
        assert not s.allowed and s.twin is None, s.name
    assert set(sc.SIGNALS) == set(sc.PROBLEMS) == set(sc.SIGNAL_KEYS)


@pytest.mark.parametrize("split", ["dev", "test"])
def test_every_problem_has_two_faulty_scenarios_in_each_split(split):
    counts = Counter(p for s in FAULTY if s.split == split for p in s.expected)
    assert {p: counts[p] for p in sc.PROBLEMS if counts[p] < 2} == {}
    assert any(s.split == split for s in HEALTHY)


def test_each_faulty_scenario_names_a_healthy_twin_of_the_same_family_and_length():
    by_name = sc.by_name()
    for s in FAULTY:
        twin = by_name.get(s.twin)
        assert twin is not None and twin.healthy, f"{s.name}: twin {s.twin!r} is not a healthy scenario"
        assert twin.split == s.split and twin.seed == s.seed, s.name
        family = (s.data.name, s.data.seed, s.data.n_train)
        assert (twin.data.name, twin.data.seed, twin.data.n_train) == family, s.name
        # the same number of steps, so that wall times compare
        assert (twin.epochs, twin.batch_size) == (s.epochs, s.batch_size), s.name


def test_the_test_split_uses_other_data_than_the_dev_split():
    dev = {(s.data.name, s.data.seed, s.data.n_train) for s in sc.SCENARIOS if s.split == "dev"}
    test = {(s.data.name, s.data.seed, s.data.n_train) for s in sc.SCENARIOS if s.split == "test"}
    assert not dev & test
    assert {d[0] for d in test} - {d[0] for d in dev}, "the test split should add data sets"


def test_only_selects_exact_names_else_substrings():
    assert [s.name for s in clinic.select("all", "dev_digits_relu_adam")] == ["dev_digits_relu_adam"]
    assert {s.split for s in clinic.select("test", "digits")} == {"test"}
    with pytest.raises(SystemExit):
        clinic.select("all", "no_such_scenario")


def test_reseed_moves_the_data_and_initialization_seeds_and_keeps_the_label():
    s = sc.by_name()["test_digits_negative_bias"]
    (moved,) = clinic.select("all", s.name, offset=3)
    assert (moved.seed, moved.data.seed) == (s.seed + 3, s.data.seed + 3)
    assert (moved.name, moved.expected, moved.allowed, moved.twin) == (s.name, s.expected, s.allowed, s.twin)
    assert sc.reseed(s, 0) is s


def test_scores_leave_out_runs_whose_labels_their_signals_do_not_confirm():
    healthy, faulty = sc.by_name()["dev_digits_relu_adam"], sc.by_name()["dev_digits_deep8_sigmoid"]

    def verdict(s, fired, label_problems):
        run = sc.Run(s, [], {}, 1.0, label_problems=label_problems, steps_per_epoch=10)
        first = {p: (5, 0) for p in fired}
        return clinic.Verdict(run, set(s.expected) - set(fired), set(fired) - s.expected - s.allowed, first)

    summary = clinic.score([verdict(healthy, ["overfitting"], ["shows overfitting"]),
                            verdict(faulty, [], ["vanishing_gradients not shown"])])
    assert summary["healthy"] == summary["faulty"] == 0 and summary["healthy_with_alarm"] == 0
    assert set(summary["labels_not_confirmed"]) == {healthy.name, faulty.name}
    summary = clinic.score([verdict(healthy, ["overfitting"], []), verdict(faulty, [], [])])
    assert summary["healthy_with_alarm"] == 1 and summary["problems"]["vanishing_gradients"]["recall"] == 0


# ---------------------------------------------------------------------------------------------
# End to end (a few seconds)
# ---------------------------------------------------------------------------------------------
QUICK = ["dev_digits_relu_adam", "dev_digits_deep8_sigmoid", "dev_digits_sgd_lr50", "dev_digits_dropout095"]


@pytest.mark.slow
def test_quick_scenarios_are_confirmed_by_their_signals_and_diagnosed(tmp_path):
    pytest.importorskip("sklearn")
    out = tmp_path / "clinic.json"
    result = clinic.main(["--only", ",".join(QUICK), "--no-repair", "--json", str(out)])
    runs = result["scenarios"]
    assert set(runs) == set(QUICK)
    for name, entry in runs.items():
        assert entry["label_problems"] == [], (name, entry["signals"])
        assert entry["missed"] == [] and entry["false_alarms"] == [], (name, entry["diagnoses"])
    assert runs["dev_digits_relu_adam"]["signals"]["val_acc"] > 0.9
    assert runs["dev_digits_deep8_sigmoid"]["signals"]["grad_ratio"] < 1e-3
    assert runs["dev_digits_sgd_lr50"]["signals"]["nonfinite_losses"] >= 1
    summary = result["splits"]["dev"]["detection"]
    assert summary["healthy_alarm_share"] == 0.0
    assert summary["problems"]["vanishing_gradients"]["recall"] == 1.0
    assert summary["problems"]["vanishing_gradients"]["median_epoch"] == 1
    assert json.loads(out.read_text())["scenarios"].keys() == runs.keys()


@pytest.mark.slow
def test_a_healthy_run_that_trains_badly_is_flagged_as_mislabelled():
    pytest.importorskip("sklearn")
    s = sc.by_name()["dev_digits_relu_adam"]
    bad = sc.Scenario(**{**s.__dict__, "name": "mislabelled", "lr": 1e-6})  # cannot reach the floor
    run = sc.run(bad)
    assert any("val_acc" in problem for problem in run.label_problems)
    assert any("slow_convergence" in problem for problem in run.label_problems)


@pytest.mark.slow
def test_repair_of_a_quick_scenario_is_measured_against_its_twin():
    pytest.importorskip("sklearn")
    verdicts = clinic.detect([sc.by_name()["dev_digits_dropout095"]], log=lambda *_: None)
    rows = clinic.repair(verdicts, repeats=1, log=lambda *_: None)
    assert len(rows) == 1 and rows[0]["error"] is None, rows
    assert rows[0]["twin"] == "dev_digits_dropout02"
    assert rows[0]["time_ratio"] > 0
    assert any(t["remedy"] == "lower_dropout" and t["applied"] for t in rows[0]["treatments"])


@pytest.mark.slow
def test_the_whole_clinic_holds_its_measured_quality(tmp_path):
    """A guard against regressions, at the levels docs/doctor.md reports (with a little room: the
    clinic's own command runs on the native BLAS kernel, pytest on the machine's default one)."""
    pytest.importorskip("sklearn")
    result = clinic.main(["--repeats", "1", "--json", str(tmp_path / "clinic.json")])
    for split in ("dev", "test"):
        detection = result["splits"][split]["detection"]
        recalls = {p: v["recall"] for p, v in detection["problems"].items() if v["runs"]}
        # dev_spiral_momentum_lr1's gradient burst is chaotic: a BLAS kernel's rounding can hide it
        assert min(recalls.values()) >= 0.5, (split, recalls)
        assert detection["faulty_all_found"] >= 0.9 * detection["faulty"], (split, recalls)
        assert detection["healthy_with_alarm"] <= 1, (split, detection["healthy_alarms"])
        for problem in ("vanishing_gradients", "exploding_gradients", "saturated_activations", "non_finite"):
            found = detection["problems"][problem]
            # named by epoch 1 or step 100, all but at most one run (which may be named later, or missed)
            assert found["in_time"] >= found["runs"] - 1, (split, problem, found)
        repair = result["splits"][split]["repair"]
        assert repair["success_share"] >= 0.8, (split, repair)
        assert repair["time_ratio_median"] <= 1.5, (split, repair)


def test_draws_pools_the_scores_of_several_draws():
    from clinic import draws

    def result(alarm, ok):
        problems = {p: {"runs": 1, "recall": 1.0, "in_time": 1, "detected": 1} for p in sc.PROBLEMS}
        detection = {"healthy_with_alarm": alarm, "healthy": 10, "faulty_all_found": 9, "faulty": 9,
                     "problems": problems, "labels_not_confirmed": {}}
        rows = [{"scenario": "x_faulty", "twin": "x_healthy", "val_acc_repaired": 0.9 + 0.01 * ok,
                 "val_acc_twin": 0.91, "success": bool(ok), "time_ratio": 1.2, "error": None}]
        repair = {"successes": ok, "runs": 1, "time_ratio_median": 1.2, "time_ratio_max": 1.2}
        return {"splits": {"dev": {"detection": detection, "repair": repair, "repair_rows": rows}}}

    text = draws.summarize({0: result(0, 1), 1: result(1, 0)})
    assert "| all  | 1/20 (5%)" in text and "1/2 (50%)" in text and "10/10 (100%)" in text
    assert "draw 1: x_faulty 0.900 against its twin's 0.910" in text
    assert "| x_faulty | 2     | -0.005" in text
