"""The detectors read plain numbers only: every rule is fed here from dicts, lists and arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from retroprop.doctor import RULES, rules
from retroprop.doctor.diagnosis import PROBLEMS


def layer(name: str, grad_rms: float, update_ratio: float | None = None, grad_norm: float | None = None,
          nonfinite_grad: int = 0) -> dict:
    return {"name": name, "label": f"layer {name}", "grad_rms": grad_rms,
            "grad_norm": grad_rms * 10 if grad_norm is None else grad_norm, "update_ratio": update_ratio,
            "nonfinite_grad": nonfinite_grad, "nonfinite_weight": 0}


def act(name: str, kind: str = "relu", fired=None, saturated=None, nonfinite: int = 0) -> dict:
    return {"name": name, "label": f"{kind} {name}", "kind": kind, "fired": fired,
            "saturated_share": saturated, "nonfinite": nonfinite}


def probe(step: int, layers: list[dict], activations: list[dict] | None = None) -> dict:
    return {"step": step, "epoch": 0, "loss": 1.0, "layers": layers, "activations": activations or []}


def test_every_problem_has_one_documented_rule():
    assert [r["problem"] for r in RULES] == list(PROBLEMS)  # the setup checks' problems included
    for rule in RULES:
        assert all(rule[k] for k in ("signal", "threshold", "window", "why"))


def test_vanishing_needs_a_tiny_ratio_on_two_probes():
    tiny = [layer("0", 1e-9), layer("1", 1e-6), layer("2", 1e-2)]
    healthy = [layer("0", 1e-3), layer("1", 2e-3), layer("2", 1e-2)]
    (finding,) = rules.vanishing_gradients([probe(0, tiny), probe(10, tiny)])
    assert finding.layer == "0" and finding.severity == "critical"
    assert finding.evidence["ratio"] == pytest.approx(1e-7)
    assert "layer 0's gradient is 1e-07 times layer 2's" in finding.explanation
    assert rules.vanishing_gradients([probe(0, healthy), probe(10, tiny)]) == []  # one probe is not enough
    assert rules.vanishing_gradients([probe(0, healthy), probe(10, healthy)]) == []
    assert rules.vanishing_gradients([probe(0, tiny[1:]), probe(1, tiny[1:])]) == []  # too shallow to say


def test_exploding_from_update_ratio_or_growth():
    (finding,) = rules.exploding_gradients([probe(0, [layer("0", 1.0, update_ratio=3.0)])])
    assert finding.severity == "critical" and finding.layer == "0"
    assert rules.exploding_gradients([probe(0, [layer("0", 1.0, update_ratio=1e-3)])]) == []
    growing = [probe(i, [layer("0", 1.0, grad_norm=g)]) for i, g in enumerate([1.0, 10.0, 500.0, 5e3])]
    (finding,) = rules.exploding_gradients(growing)
    assert finding.evidence["growth"] == pytest.approx(5e3)
    shrinking = [probe(i, [layer("0", 1.0, grad_norm=g)]) for i, g in enumerate([1.0, 5e3, 4e3, 2e3])]
    assert rules.exploding_gradients(shrinking) == []


def test_dead_relu_needs_the_whole_window():
    alive = np.array([True, True, False, False])
    window = [probe(i, [], [act("1", fired=alive)]) for i in range(rules.DEAD_WINDOW)]
    (finding,) = rules.dead_relu(window)
    assert finding.evidence["dead_share"] == 0.5 and finding.evidence["dead_units"] == 2
    assert rules.dead_relu(window[:-1]) == []  # the window is not full yet
    recovered = [*window[:-1], probe(9, [], [act("1", fired=np.array([True, True, True, False]))])]
    assert rules.dead_relu(recovered) == []  # a unit that fired once in the window is alive


def test_saturation_on_two_probes():
    hot = [probe(0, [], [act("1", "sigmoid", saturated=0.8)]),
           probe(1, [], [act("1", "sigmoid", saturated=0.9)])]
    (finding,) = rules.saturated_activations(hot)
    assert finding.evidence["saturated_share"] == 0.9
    cool = [probe(0, [], [act("1", "tanh", saturated=0.1)]), hot[1]]
    assert rules.saturated_activations(cool) == []


def test_non_finite_names_the_first_layer_or_the_loss():
    record = probe(3, [layer("0", 1.0), layer("2", 1.0, nonfinite_grad=4)], [act("1", nonfinite=2)])
    (finding,) = rules.non_finite([record], [1.0])
    assert finding.layer == "1" and finding.evidence["nonfinite_values"] == 2  # activations come first
    (finding,) = rules.non_finite([], [1.0, 0.5, math.nan])
    assert finding.layer is None and finding.evidence["first_step"] == 2
    assert rules.non_finite([probe(0, [layer("0", 1.0)])], [1.0]) == []


def test_loss_rules():
    falling = list(np.linspace(2.3, 0.1, 300))
    assert rules.unstable_loss(falling) == [] and rules.slow_convergence(falling) == []
    diverging = list(np.linspace(2.3, 0.5, 100)) + list(np.linspace(0.5, 5.0, 60))
    (finding,) = rules.unstable_loss(diverging)
    assert finding.problem == "unstable_loss"
    wobble = list(np.linspace(2.3, 0.01, 200)) + [0.05] * 40  # tiny late rise: converged, not unstable
    assert rules.unstable_loss(wobble) == []
    flat = [2.30 - 1e-5 * i for i in range(300)]
    (finding,) = rules.slow_convergence(flat)
    assert finding.evidence["fall_last_steps"] < 0.01
    # fell, then climbed back to where it started and stayed: progress lost (unstable), not a plateau
    lost = list(np.linspace(2.3, 0.3, 100)) + [2.3] * 200
    assert rules.slow_convergence(lost) == [] and rules.unstable_loss(lost, recent=200)


def test_steps_too_small_to_learn():
    stuck = [2.30] * 50
    (finding,) = rules.slow_steps(stuck, [3e-7, 4e-7])
    assert finding.problem == "slow_convergence" and finding.evidence["largest_update_ratio"] == 4e-7
    assert "0.04%" in finding.explanation  # 1000 steps of 4e-7
    assert rules.slow_steps(stuck, [4e-7]) == []  # one probe is not enough
    assert rules.slow_steps(stuck, [3e-7, 2e-3]) == []  # a healthy step size
    assert rules.slow_steps(stuck, [0.0, 0.0]) == []  # no update at all: no gradient, not a small rate
    learning = list(np.linspace(2.3, 1.5, 50))
    assert rules.slow_steps(learning, [3e-7, 4e-7]) == []  # small steps, but the loss is falling
    # it learned, then climbed back (units died): the steps shrank for want of gradient, not of rate
    lost = list(np.linspace(2.3, 1.0, 60)) + [2.3] * 60
    assert rules.slow_steps(lost, [3e-8, 4e-8]) == []


def test_unstable_loss_sees_a_climb_between_two_of_its_runs():
    down = list(np.linspace(2.3, 0.3, 100))
    spike = down + [2.0] * 25 + [0.3] * 30  # climbed and came back down before the rule ran again
    assert rules.unstable_loss(spike) == []  # the latest smoothed value alone looks fine
    (finding,) = rules.unstable_loss(spike, recent=50)
    assert finding.evidence["loss_smoothed"] > 2 * finding.evidence["lowest_smoothed"]
    assert finding.evidence["loss_smoothed_now"] < finding.evidence["loss_smoothed"]


def test_overfitting_needs_rising_validation_and_falling_training():
    logs = [{"loss": 1.0 - 0.1 * i, "val_loss": v} for i, v in enumerate([1.0, 0.8, 0.7, 0.8, 0.85, 0.9])]
    (finding,) = rules.overfitting(logs)
    assert finding.evidence["best_epoch"] == 2
    improving = [{"loss": 1.0 - 0.1 * i, "val_loss": 1.0 - 0.05 * i} for i in range(6)]
    assert rules.overfitting(improving) == []
    assert rules.overfitting([{"loss": 1.0} for _ in range(6)]) == []  # no validation data


def test_dropout_too_high_compares_with_a_blind_guess():
    stuck = [3.5] * 5 + [2.3] * 200
    (finding,) = rules.dropout_too_high(stuck, [0.95], chance_loss=math.log(10))
    assert finding.severity == "critical"
    assert rules.dropout_too_high(stuck, [0.5], chance_loss=math.log(10)) == []
    learning = [2.3] * 5 + [0.5] * 200
    assert rules.dropout_too_high(learning, [0.9], chance_loss=math.log(10)) == []


def test_the_rules_table_in_the_docs_matches_the_code():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "doctor.md").read_text(encoding="utf-8")
    for rule in RULES:
        cells = [f"`{rule['problem']}`", rule["signal"], rule["threshold"], rule["window"], rule["why"]]
        row = "| " + " | ".join(cells) + " |"
        assert row in text, f"docs/doctor.md is out of date for {rule['problem']}"


def test_overfitting_needs_a_generalization_gap():
    rising = [0.5, 0.4, 0.3, 0.35, 0.36, 0.37]
    falling = [0.6, 0.4, 0.3, 0.25, 0.2, 0.15]

    def logs(gap):
        return [{"loss": t, "val_loss": v, "accuracy": 0.9, "val_accuracy": 0.9 - gap}
                for t, v in zip(falling, rising, strict=True)]

    (finding,) = rules.overfitting(logs(0.2))
    assert finding.evidence["generalization_gap"] == pytest.approx(0.2)
    assert rules.overfitting(logs(0.01)) == []  # a noisy validation loss on a model that generalizes
    # without accuracies, the validation loss's excess over the training loss is the gap
    plain = [{"loss": t, "val_loss": v} for t, v in zip(falling, rising, strict=True)]
    assert rules.overfitting(plain)[0].evidence["generalization_gap"] == pytest.approx(0.37 / 0.15 - 1)


def test_the_generalization_gap_must_hold_over_the_whole_rise():
    """Asked every epoch, a gap that clears its bar on one epoch alone is what chance gives."""
    rising = [0.5, 0.4, 0.3, 0.35, 0.36, 0.37]
    falling = [0.6, 0.4, 0.3, 0.25, 0.2, 0.15]
    val_accuracy = [0.9, 0.9, 0.9, 0.9, 0.9, 0.7]  # a gap of 0.2 on the last epoch only

    def logs(val_accuracy):
        return [{"loss": t, "val_loss": v, "accuracy": 0.9, "val_accuracy": a}
                for t, v, a in zip(falling, rising, val_accuracy, strict=True)]

    assert rules.overfitting(logs(val_accuracy)) == []
    (finding,) = rules.overfitting(logs([0.9, 0.9, 0.9, 0.75, 0.75, 0.7]))
    assert finding.evidence["generalization_gap"] == pytest.approx(0.2) and finding.evidence["epochs"] == 3


def test_exploding_reads_the_newest_probe_whose_update_is_known():
    earlier = probe(0, [layer("0", 1.0, update_ratio=2.0)])
    newest = probe(20, [layer("0", 1.0)])  # its update has not happened yet
    (finding,) = rules.exploding_gradients([earlier, newest])
    assert finding.evidence["update_ratio"] == 2.0


def test_the_remedies_table_in_the_docs_matches_the_code():
    from pathlib import Path

    from retroprop.doctor import REMEDIES, TREATMENT_ORDER

    text = (Path(__file__).resolve().parents[2] / "docs" / "doctor.md").read_text(encoding="utf-8")
    for problem, order in TREATMENT_ORDER.items():
        row = "| `" + problem + "` | " + "; ".join(f"`{r}`: {REMEDIES[r]}" for r in order) + " |"
        assert row in text, f"docs/doctor.md's remedies table is out of date for {problem}"


def test_an_accuracy_gap_must_exceed_its_sampling_noise():
    rising = [0.5, 0.4, 0.3, 0.35, 0.36, 0.37]
    falling = [1.0, 0.8, 0.6, 0.5, 0.4, 0.3]
    logs = [{"loss": t, "val_loss": v, "accuracy": 0.9, "val_accuracy": 0.75}
            for t, v in zip(falling, rising, strict=True)]
    noise = math.sqrt(0.9 * 0.1 / 10 + 0.75 * 0.25 / 10)  # 10 samples each: 0.17
    assert rules.overfitting(logs, samples=(10, 10)) == []  # a gap of 0.15 is within 2 x 0.17
    (finding,) = rules.overfitting(logs, samples=(1000, 1000))
    assert finding.evidence["gap_needed"] == pytest.approx(max(rules.OVERFIT_GAP, 2 * noise / 10))


def test_no_probe_rule_fires_without_its_symptom_on_the_latest_probe():
    """The doctor skips the probe rules when ``symptoms`` finds nothing: that must never hide a finding."""
    rng = np.random.default_rng(0)
    fired = set()
    for _ in range(300):
        probes = []
        dead = rng.random(8) < rng.uniform(0, 1)  # units silent throughout, the others fire at random
        for step in range(rules.DEAD_WINDOW):
            layers = [layer(str(i), float(10 ** rng.uniform(-7, 0)), nonfinite_grad=int(rng.random() < 0.05))
                      for i in range(rng.integers(1, 5))]
            acts = [act("a", "relu", fired=(rng.random(8) < rng.uniform(0, 1)) & ~dead),
                    act("s", "sigmoid", saturated=float(rng.random()), nonfinite=int(rng.random() < 0.05))]
            probes.append(probe(step, layers, acts))
        found = (rules.non_finite(probes, [1.0]) + rules.vanishing_gradients(probes) + rules.dead_relu(probes)
                 + rules.saturated_activations(probes))
        fired |= {f.problem for f in found}
        assert {f.problem for f in found} <= set(rules.symptoms(probes[-1]))
        # an ongoing episode's lower threshold (hysteresis) is the symptom's too
        assert {f.problem for f in rules.dead_relu(probes, ongoing={"a"})} <= set(
            rules.symptoms(probes[-1], ongoing={"a"}))
    assert fired == {"non_finite", "vanishing_gradients", "dead_relu", "saturated_activations"}  # not vacuous


def test_dead_units_are_excused_only_by_a_fit_below_a_blind_guess_too():
    # XOR at Adam's rate of 0.5: the second step is thrown to 33 (the start, a mean of the first 20 steps,
    # becomes 3.6), then the loss wobbles near 0.25, a tenth of that start but a third of ln 2
    alive = np.zeros(4, dtype=bool)  # the whole layer: named however short the run
    window = [probe(i, [], [act("1", fired=alive)]) for i in range(rules.DEAD_WINDOW)]
    losses = np.r_[0.71, 32.9, 11.0, 7.4, 8.6, np.full(57, 0.25)]
    assert rules.dead_relu(window, losses=losses, batch_size=32) == []  # "fitted" against the start
    (finding,) = rules.dead_relu(window, losses=losses, batch_size=32, chance_loss=math.log(2))
    assert finding.problem == "dead_relu"
