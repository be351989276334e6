"""The static checks: bugs visible from the model's structure, the loss and the data before the first
step. Fed plain layer dicts and arrays (as any adapter would), and retroprop models through
``structure``."""

from __future__ import annotations

import math

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import checks
from retroprop.doctor.checks import DescriptionError, check_setup
from retroprop.doctor.probes import Probe
from retroprop.doctor.rules import Finding
from retroprop.doctor.structure import describe_loss, describe_model
from retroprop.doctor.table import held_until


def lin(name: str, n_in: int, n_out: int) -> dict:
    return {"name": name, "label": f"Linear {n_in}→{n_out}", "kind": "linear", "in_features": n_in,
            "out_features": n_out}


def act(name: str, kind: str) -> dict:
    return {"name": name, "label": f"{kind} {name}", "kind": kind}


def mlp(*tail: dict, n_in: int = 8, hidden: int = 16, n_out: int = 3) -> list[dict]:
    return [lin("0", n_in, hidden), act("1", "relu"), lin("2", hidden, n_out), *tail]


def only(findings: list[Finding], problem: str) -> Finding:
    (finding,) = [f for f in findings if f.problem == problem]
    return finding


RNG = np.random.default_rng(0)
STANDARD_X = RNG.standard_normal((300, 8))
LABELS = np.arange(300) % 3
LABELS10 = np.arange(300) % 10


# ---------------------------------------------------------------------------------------------
# Healthy setups raise nothing
# ---------------------------------------------------------------------------------------------
def test_standard_mlp_with_cross_entropy_on_standardized_data_is_clean():
    assert check_setup(mlp(), "cross_entropy", STANDARD_X, LABELS, n_classes=3) == []
    assert check_setup(mlp(act("3", "log_softmax")), "nll", STANDARD_X, LABELS) == []
    assert check_setup(mlp(act("3", "log_softmax")), "cross_entropy", STANDARD_X, LABELS) == []


def test_logistic_regression_with_bce_with_logits_on_one_output_is_clean():
    binary = (STANDARD_X[:, 0] > 0).astype(np.float32)
    assert check_setup([lin("0", 8, 1)], "bce_with_logits", STANDARD_X, binary, n_classes=2) == []
    assert check_setup([lin("0", 8, 1)], "bce_with_logits", STANDARD_X, binary[:, None]) == []
    assert check_setup([lin("0", 8, 1), act("1", "sigmoid")], "bce", STANDARD_X, binary) == []
    # two outputs against one-hot targets: one-vs-rest, shapes agree
    one_hot = np.eye(2)[binary.astype(int)]
    assert check_setup([lin("0", 8, 2)], "bce_with_logits", STANDARD_X, one_hot) == []


def test_one_hot_binary_and_constant_features_are_not_unscaled():
    one_hot = np.eye(5)[np.arange(300) % 5]
    rare = (np.arange(300) % 97 == 0).astype(float)  # a rare binary flag: a small std, still 0/1
    constant = np.full((300, 1), 1000.0)  # its own (mild) matter: no alarm
    x = np.hstack([STANDARD_X, one_hot, rare[:, None], constant])
    assert checks.unscaled_inputs(x) == []
    # counts of 0..40 next to 0/1 flags: the flags' unit range is no "narrow feature"
    counts = RNG.integers(0, 41, size=(300, 4)).astype(float)
    assert checks.unscaled_inputs(np.hstack([counts, one_hot]), mlp(n_in=9)) == []


def test_inputs_far_below_unit_scale_are_unscaled():
    """Pixels divided by 255 twice (TheDeepChecker's double normalization) lie below 0.004: the output
    of a default-initialized network starts flat and its steps are tiny. A rare 0/1 flag (small RMS,
    unit-scale values) and pixels divided once are not."""
    pixels = RNG.integers(0, 256, size=(300, 16)).astype(np.float32)
    (finding,) = checks.unscaled_inputs(pixels / 255 / 255, mlp(n_in=16))
    assert finding.severity == "warning" and finding.evidence["largest_value"] == pytest.approx(1 / 255)
    assert "every input value is below 0.0039" in finding.explanation
    assert checks.unscaled_inputs(pixels / 255, mlp(n_in=16)) == []
    rare = (np.arange(300) % 997 == 0).astype(float)[:, None] * np.ones((1, 4))
    assert checks.unscaled_inputs(rare, mlp(n_in=4)) == []


def test_a_model_that_starts_by_standardizing_takes_raw_inputs():
    raw = RNG.integers(0, 256, size=(200, 8)).astype(np.float32)
    for first in ("standardize", "batchnorm"):
        layers = [{"name": "s", "kind": first, "in_features": 8, "out_features": 8}, *mlp()]
        assert checks.unscaled_inputs(raw, layers) == []
    flattened = [{"name": "f", "kind": "flatten"}, {"name": "s", "kind": "standardize"}, *mlp()]
    assert checks.unscaled_inputs(raw, flattened) == []
    assert checks.unscaled_inputs(raw, mlp())  # the same data without it


def test_regression_on_standardized_or_moderate_targets_is_clean():
    y = RNG.standard_normal((300, 1))
    layers = [lin("0", 8, 16), act("1", "relu"), lin("2", 16, 1)]
    assert check_setup(layers, "mse", STANDARD_X, y) == []
    # Boston-housing-like prices in $1000s (mean 22, std 9): trained raw by textbook programs
    assert checks.unscaled_targets(22 + 9 * y, "mse") == []
    # a non-negative output for non-negative targets
    assert check_setup([*layers, act("3", "relu")], "mse", STANDARD_X, np.abs(y)) == []


def test_bundled_data_sets_that_train_raw_are_not_flagged():
    iris_x, _ = rp.data.load_iris()  # features of 0.1 to 7.9, similar ranges
    digits_x, _ = rp.data.load_digits()
    assert checks.unscaled_inputs(iris_x, mlp(n_in=4)) == []
    assert checks.unscaled_inputs(digits_x / 16, mlp(n_in=64)) == []
    # raw 0..16 digits: a ReLU net takes them; tanh units would start in their flat regions
    assert checks.unscaled_inputs(digits_x, mlp(n_in=64)) == []
    tanh_net = [lin("0", 64, 32), act("1", "tanh"), lin("2", 32, 10)]
    assert only(checks.unscaled_inputs(digits_x, tanh_net), "unscaled_inputs").severity == "warning"


# ---------------------------------------------------------------------------------------------
# loss_output_mismatch
# ---------------------------------------------------------------------------------------------
def test_softmax_over_one_unit_is_critical_whatever_the_loss():
    layers = mlp(act("3", "softmax"), n_out=1)
    for loss in ("cross_entropy", "bce_with_logits", "mse"):
        findings = check_setup(layers, loss, STANDARD_X, (LABELS > 0).astype(float))
        finding = only(findings, "loss_output_mismatch")
        assert (finding.severity, finding.layer) == ("critical", "3")
        assert finding.evidence["case"] == "softmax_one_unit"
        # one unit suits a binary or a regression loss (fit removes the softmax); not a categorical one
        fixer = "user" if loss == "cross_entropy" else "fit"
        assert finding.evidence["output_width"] == 1 and finding.evidence["fix_by"] == fixer
        assert "constant 1" in finding.explanation
    assert "constant 0" in only(checks.loss_output_mismatch(mlp(act("3", "log_softmax"), n_out=1), "nll"),
                                "loss_output_mismatch").explanation


def test_dropout_after_the_softmax_does_not_hide_it():
    layers = mlp(act("3", "softmax"), {"name": "4", "kind": "dropout"}, n_out=1)
    assert only(checks.loss_output_mismatch(layers, "cross_entropy"), "loss_output_mismatch").layer == "3"


def test_cross_entropy_after_softmax_is_a_double_softmax_with_a_loss_floor():
    (finding,) = checks.loss_output_mismatch(mlp(act("3", "softmax"), n_out=10), "cross_entropy",
                                             LABELS10)
    assert (finding.severity, finding.evidence["case"]) == ("warning", "double_softmax")
    # scores in (0, 1): the true class gets at most e / (e + 9)
    assert finding.evidence["loss_floor"] == pytest.approx(math.log(1 + 9 / math.e))
    assert finding.evidence["fix_by"] == "fit" and "fix_output_loss" in finding.evidence["fix_note"]


@pytest.mark.parametrize(("kind", "loss", "case"), [
    ("sigmoid", "cross_entropy", "sigmoid_categorical"),
    ("tanh", "cross_entropy", "bounded_scores"),
    ("relu", "cross_entropy", "nonnegative_scores"),
    ("sigmoid", "bce_with_logits", "double_sigmoid"),
    ("relu", "bce_with_logits", "bounded_scores"),
    ("softmax", "nll", "nll_without_log_softmax"),
])
def test_a_squashing_output_before_a_loss_that_squashes_is_a_warning(kind, loss, case):
    width = 1 if loss == "bce_with_logits" else 3
    targets = (LABELS > 0).astype(float) if loss == "bce_with_logits" else LABELS
    (finding,) = checks.loss_output_mismatch(mlp(act("3", kind), n_out=width), loss, targets)
    assert (finding.severity, finding.evidence["case"], finding.layer) == ("warning", case, "3")


@pytest.mark.parametrize(("before", "softmax", "loss"), [
    ("relu", "log_softmax", "nll"), ("relu", "log_softmax", "cross_entropy"),
    ("sigmoid", "softmax", "cross_entropy_probs"), ("tanh", "log_softmax", "nll"),
])
def test_scores_clipped_or_squashed_before_the_output_softmax_are_named(before, softmax, loss):
    layers = mlp(act("3", before), {"name": "4", "label": "dropout 4", "kind": "dropout"}, act("5", softmax),
                 n_out=10)
    (finding,) = checks.loss_output_mismatch(layers, loss, LABELS10)
    assert (finding.severity, finding.evidence["case"]) == ("warning", "activation_before_softmax")
    assert finding.layer == "3"
    assert finding.evidence["activation"] == before and "before the" in finding.explanation
    if before != "relu":  # scores in a band of width 1 or 2: the true class's share stays bounded
        band = 2.0 if before == "tanh" else 1.0
        assert finding.evidence["loss_floor"] == pytest.approx(math.log(1 + 9 * math.exp(-band)))
    # the scores as the last Linear layer made them, or through an activation that only bends them below 0
    assert checks.loss_output_mismatch(mlp(act("3", softmax), n_out=10), loss, LABELS10) == []
    elu = mlp(act("3", "elu"), act("4", softmax), n_out=10)
    assert checks.loss_output_mismatch(elu, loss, LABELS10) == []


def test_nll_on_raw_scores_has_no_minimum():
    for tail in ((), (act("3", "relu"),), (act("3", "leaky_relu"),)):
        (finding,) = checks.loss_output_mismatch(mlp(*tail), "nll", LABELS)
        assert (finding.severity, finding.evidence["case"]) == ("critical", "nll_without_log_softmax")
        assert "no lower bound" in finding.explanation


def test_class_scores_must_number_the_classes():
    (one,) = checks.loss_output_mismatch(mlp(n_out=1), "cross_entropy", LABELS)
    assert (one.severity, one.evidence["case"]) == ("critical", "one_output")
    (few,) = checks.loss_output_mismatch(mlp(n_out=5), "cross_entropy", LABELS10)
    assert few.evidence["case"] == "too_few_outputs" and few.evidence["classes"] == 10
    assert checks.loss_output_mismatch(mlp(n_out=10), "cross_entropy", LABELS10) == []
    assert checks.loss_output_mismatch(mlp(n_out=5), "cross_entropy", None, n_classes=10)


def test_binary_cross_entropy_on_more_than_two_classes_is_critical():
    (finding,) = checks.loss_output_mismatch(mlp(n_out=1), "bce_with_logits", LABELS10.astype(float))
    assert (finding.severity, finding.evidence["case"]) == ("critical", "binary_loss_multiclass")
    assert finding.evidence["distinct_targets"] == 10 and finding.evidence["fix_by"] == "user"
    (declared,) = checks.loss_output_mismatch(mlp(n_out=1), "bce_with_logits", None, n_classes=4)
    assert declared.evidence["case"] == "binary_loss_multiclass"
    (signs,) = checks.loss_output_mismatch(mlp(n_out=1), "bce_with_logits", np.where(LABELS > 0, 1.0, -1.0))
    assert signs.evidence["case"] == "binary_targets_out_of_range"


def test_binary_cross_entropy_wants_one_output_for_two_classes():
    binary = (LABELS > 0).astype(float)
    (finding,) = checks.loss_output_mismatch(mlp(n_out=2), "bce_with_logits", binary)
    assert (finding.severity, finding.evidence["case"]) == ("critical", "binary_output_width")
    assert finding.evidence["expected_width"] == 1 and finding.evidence["output_width"] == 2
    assert checks.loss_output_mismatch(mlp(n_out=2), "bce_with_logits", None, n_classes=2)
    assert checks.loss_output_mismatch(mlp(n_out=2), "bce_with_logits") == []  # multi-label is possible


def test_bce_on_probabilities_needs_an_output_in_0_1():
    (finding,) = checks.loss_output_mismatch(mlp(n_out=1), "bce", (LABELS > 0).astype(float))
    assert (finding.severity, finding.evidence["case"]) == ("critical", "probabilities_expected")
    assert checks.loss_output_mismatch(mlp(act("3", "sigmoid"), n_out=1), "bce") == []


def test_mse_on_integer_class_labels():
    for loss in ("mse", "l1", "huber"):
        (finding,) = checks.loss_output_mismatch(mlp(n_out=1), loss, LABELS10)
        assert (finding.severity, finding.evidence["case"]) == ("warning", "regression_on_labels")
        assert finding.evidence["distinct_targets"] == 10 and finding.evidence["fix_by"] == "user"
    assert checks.loss_output_mismatch(mlp(n_out=1), "mse", None, n_classes=3)
    one_hot = np.eye(3)[LABELS]
    assert checks.loss_output_mismatch(mlp(act("3", "softmax")), "mse", one_hot)[0].evidence["case"] == (
        "regression_on_labels")
    # a loss declared a classification's (n_classes) codes the labels itself: they are one-hot rows,
    # inside a sigmoid's range, not the values 0..9 out of its reach
    (coded,) = checks.loss_output_mismatch(mlp(act("10", "sigmoid"), n_out=10), "mse", LABELS10, n_classes=10)
    assert coded.evidence["case"] == "regression_on_labels" and "also" not in coded.evidence
    assert coded.severity == "warning" and "confidently wrong" in coded.explanation
    # one sigmoid per class under least squares is the textbooks' quadratic cost: named once the run
    # shows its cost; a softmax or raw scores under it are named at once
    assert held_until(coded) == "consequence" and coded.evidence["until_consequence"]
    (softmax,) = checks.loss_output_mismatch(mlp(act("3", "softmax")), "mse", one_hot)
    assert held_until(softmax) is None
    assert held_until(checks.loss_output_mismatch(mlp(), "mse", np.eye(10)[LABELS10])[0]) is None
    (raw,) = checks.loss_output_mismatch(mlp(act("10", "sigmoid"), n_out=10), "mse", LABELS10)
    assert raw.evidence["case"] == "output_range" and raw.severity == "critical"
    (beyond,) = checks.loss_output_mismatch(mlp(act("10", "sigmoid"), n_out=10), "mse", LABELS10 + 1,
                                            n_classes=10)
    assert beyond.evidence["case"] == "output_range"  # labels past the class count are no class indices
    # two classes impose no order: 0/1 targets under MSE (the Brier score; XOR with a sigmoid output)
    binary = (LABELS > 0).astype(np.float32)
    assert checks.loss_output_mismatch(mlp(act("3", "sigmoid"), n_out=1), "mse", binary) == []
    assert checks.loss_output_mismatch(mlp(n_out=1), "mse", binary) == []
    assert checks.loss_output_mismatch(mlp(n_out=1), "mse", None, n_classes=2) == []
    # one-hot rows under a linear output: least squares on class indicators (masking), also named
    (linear,) = checks.loss_output_mismatch(mlp(), "mse", one_hot)
    assert "mask" in linear.explanation and "vanishes" not in linear.explanation
    assert checks.loss_output_mismatch(mlp(n_out=2), "mse", np.eye(2)[binary.astype(int)]) == []
    # counts, ratings and real values are regression targets
    assert checks.loss_output_mismatch(mlp(n_out=1), "mse", 1 + LABELS10 % 5) == []  # 1..5
    assert checks.loss_output_mismatch(mlp(n_out=1), "mse", np.arange(300) % 40) == []  # 40 values
    assert checks.loss_output_mismatch(mlp(n_out=1), "mse", RNG.standard_normal(300)) == []


def test_a_bounded_output_cannot_reach_the_targets():
    targets = RNG.uniform(0, 100, size=300)
    (finding,) = checks.loss_output_mismatch(mlp(act("3", "sigmoid"), n_out=1), "mse", targets)
    assert (finding.severity, finding.evidence["case"]) == ("critical", "output_range")
    assert finding.evidence["targets_outside"] > 0.95
    assert finding.evidence["fix_by"] == "fit" and "a linear output" in finding.evidence["fix_note"]
    centred = RNG.standard_normal(300)
    (relu,) = checks.loss_output_mismatch(mlp(act("3", "relu"), n_out=1), "mse", centred)
    assert relu.evidence["case"] == "output_range"
    assert checks.loss_output_mismatch(mlp(act("3", "sigmoid"), n_out=1), "mse", RNG.uniform(0, 1, 300)) == []


def test_multi_hot_targets_under_a_categorical_loss_are_a_mismatch():
    rng = np.random.default_rng(1)
    multi_hot = (rng.random((300, 5)) < 0.2).astype(np.float32)  # about 26 % of rows with 2+ labels
    for model, loss in ((mlp(act("3", "softmax"), n_out=5), "cross_entropy_probs"),
                        (mlp(n_out=5), "cross_entropy")):
        (finding,) = checks.loss_output_mismatch(model, loss, multi_hot)
        assert finding.evidence["case"] == "multilabel_categorical" and finding.evidence["fix_by"] == "user"
        assert 0.15 < finding.evidence["multilabel_rows"] < 0.4 and finding.severity == "warning"
    one_hot = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 300)]
    assert checks.loss_output_mismatch(mlp(n_out=5), "cross_entropy", one_hot) == []
    assert checks.loss_output_mismatch(mlp(n_out=5), "bce_with_logits", multi_hot) == []  # the right loss
    soft = rng.dirichlet(np.ones(5), 300)  # soft targets (label smoothing, distillation) sum to 1
    assert checks.loss_output_mismatch(mlp(n_out=5), "cross_entropy", soft) == []


def test_multi_hot_targets_under_a_softmax_and_a_regression_loss_are_out_of_its_reach():
    rng = np.random.default_rng(2)
    multi_hot = (rng.random((300, 3)) < 0.5).astype(np.float32)  # 3 of 8 rows mark one class, 1 of 8 none
    softmax = mlp(act("3", "softmax"), n_out=3)
    for loss in ("mse", "l1"):
        (finding,) = checks.loss_output_mismatch(softmax, loss, multi_hot)
        assert (finding.severity, finding.evidence["case"]) == ("critical", "softmax_row_sums")
        assert 0.5 < finding.evidence["rows_off"] < 0.75 and 0.05 < finding.evidence["rows_none"] < 0.2
        assert finding.evidence["fix_by"] == "fit" and "sigmoid" in finding.evidence["fix_note"]
        assert "mark several classes" in finding.explanation
    soft = rng.uniform(0, 0.5, (300, 3)).astype(np.float32)  # not indicators: the sums are named instead
    (finding,) = checks.loss_output_mismatch(softmax, "mse", soft)
    assert finding.evidence["case"] == "softmax_row_sums" and "sum to other than 1" in finding.explanation
    # rows a softmax can reach, or an output that is not a softmax, are left alone
    smoothed = np.full((300, 3), 0.05, dtype=np.float32)
    smoothed[np.arange(300), rng.integers(0, 3, 300)] = 0.9
    assert all(f.evidence["case"] != "softmax_row_sums"
               for f in checks.loss_output_mismatch(softmax, "mse", smoothed))
    assert checks.loss_output_mismatch(mlp(act("3", "sigmoid"), n_out=3), "mse", multi_hot) == []
    assert checks.loss_output_mismatch(mlp(n_out=3), "mse", multi_hot) == []


def test_categorical_cross_entropy_on_probabilities_wants_a_softmax():
    assert checks.loss_output_mismatch(mlp(act("3", "softmax")), "cross_entropy_probs", LABELS) == []
    (sigmoid,) = checks.loss_output_mismatch(mlp(act("3", "sigmoid")), "cross_entropy_probs", LABELS)
    assert (sigmoid.severity, sigmoid.evidence["case"]) == ("warning", "sigmoid_categorical")
    for tail in ((act("3", "relu"),), ()):
        (finding,) = checks.loss_output_mismatch(mlp(*tail), "cross_entropy_probs", LABELS)
        assert (finding.severity, finding.evidence["case"]) == ("critical", "probabilities_expected")
    (one,) = checks.loss_output_mismatch(mlp(n_out=1), "cross_entropy_probs", LABELS)
    assert one.evidence["case"] == "one_output"


def test_an_unknown_output_layer_is_not_judged():
    layers = mlp({"name": "3", "kind": "other"}, n_out=1)
    assert checks.loss_output_mismatch(layers, "cross_entropy", LABELS) == []
    assert checks.loss_output_mismatch(mlp(act("3", "softmax"), n_out=1), None) == []


# ---------------------------------------------------------------------------------------------
# missing_nonlinearity
# ---------------------------------------------------------------------------------------------
def test_stacked_linear_layers_collapse_to_one():
    layers = [lin("0", 64, 32), lin("1", 32, 16), lin("2", 16, 10)]
    (finding,) = checks.missing_nonlinearity(layers)
    assert finding.evidence["layers"] == ["0", "1", "2"] and finding.evidence["missing_after"] == ["0", "1"]
    assert finding.layer == "0" and finding.severity == "warning" and finding.evidence["fix_by"] == "fit"
    assert "Linear 64→32 → Linear 32→16 → Linear 16→10" in finding.explanation


def test_dropout_batchnorm_and_identity_are_not_nonlinearities():
    layers = [lin("0", 8, 16), {"name": "1", "kind": "dropout"}, {"name": "2", "kind": "batchnorm"},
              {"name": "3", "kind": "identity"}, lin("4", 16, 3)]
    assert checks.missing_nonlinearity(layers)[0].evidence["layers"] == ["0", "4"]


def test_each_run_of_linear_layers_is_named_once():
    layers = [lin("0", 8, 16), lin("1", 16, 16), act("2", "tanh"), lin("3", 16, 16), act("4", "relu"),
              lin("5", 16, 4), lin("6", 4, 16)]
    findings = checks.missing_nonlinearity(layers)
    assert [f.evidence["layers"] for f in findings] == [["0", "1"], ["5", "6"]]
    assert findings[0].evidence["rank_limit"] is None
    assert findings[1].evidence["rank_limit"] == 4  # a bottleneck narrower than both ends
    assert not any(f.evidence["model_is_linear"] for f in findings)
    stack = [lin("0", 8, 16), {"name": "1", "kind": "dropout"}, lin("2", 16, 3)]
    (linear,) = checks.missing_nonlinearity(stack)
    assert linear.evidence["model_is_linear"] and "the whole model is a linear model" in linear.explanation


def test_activations_and_unknown_layers_separate_linear_layers():
    assert checks.missing_nonlinearity(mlp()) == []
    assert checks.missing_nonlinearity([lin("0", 8, 8), {"name": "1", "kind": "other"}, lin("2", 8, 3)]) == []
    assert checks.missing_nonlinearity([lin("0", 8, 3)]) == []


# ---------------------------------------------------------------------------------------------
# unscaled_inputs
# ---------------------------------------------------------------------------------------------
def test_raw_pixels_are_unscaled():
    pixels = RNG.integers(0, 256, size=(500, 64)).astype(np.uint8)
    (relu,) = checks.unscaled_inputs(pixels, mlp(n_in=64))
    assert relu.severity == "warning" and relu.evidence["raw_pixels"] is True
    assert relu.evidence["input_rms"] == pytest.approx(math.sqrt(255 * 511 / 6), rel=0.05)  # uniform 0..255
    assert relu.evidence["fix_by"] == "fit" and "standardize_inputs" in relu.evidence["fix_note"]
    assert "raw 0–255 pixel values" in relu.explanation
    # sigmoid units saturate well before ReLU steps explode
    sigmoid_net = [lin("0", 64, 32), act("1", "sigmoid"), lin("2", 32, 10)]
    assert checks.unscaled_inputs(pixels, sigmoid_net)[0].severity == "critical"
    assert checks.unscaled_inputs(pixels / 255.0, mlp(n_in=64)) == []


def test_a_linear_models_input_scale_waits_for_its_cost():
    raw = np.arange(200, dtype=np.float64).reshape(-1, 1)  # keras issue 3040's x = 0..199
    (linear,) = checks.unscaled_inputs(raw, [lin("0", 1, 1)])
    # its curvature is the inputs' scale: a rate sized to it trains, one that is not explodes or stalls
    assert linear.evidence["until_consequence"] and held_until(linear) == "consequence"
    assert held_until(checks.unscaled_inputs(raw, [lin("0", 1, 1), act("1", "dropout")])[0]) == "consequence"
    assert held_until(checks.unscaled_inputs(raw, mlp(n_in=1))[0]) is None  # a ReLU network: at once
    tiny = RNG.normal(size=(200, 4)) * 1e-4
    assert held_until(checks.unscaled_inputs(tiny, [lin("0", 4, 1)])[0]) == "consequence"
    # ranges that differ a thousandfold slow some weights whatever the rate: named at once
    spread = np.column_stack([RNG.uniform(0, 1, 300), RNG.uniform(0, 1000, 300), RNG.uniform(0, 3, 300)])
    assert held_until(checks.unscaled_inputs(spread, [lin("0", 3, 1)])[0]) is None


def test_fit_names_a_linear_models_raw_inputs_with_the_explosion_and_not_at_a_rate_that_suits_them():
    x = np.arange(200, dtype=np.float32).reshape(-1, 1)
    y = 2.0 * x

    def fit(lr):
        rp.manual_seed(0)
        model = nn.Sequential(nn.Linear(1, 1))
        return rp.fit(model, x[:160], y[:160], loss="mse", optimizer=rp.optim.SGD(model.parameters(), lr=lr),
                      epochs=1, batch_size=1, validation_data=(x[160:], y[160:]), verbose=0, seed=0,
                      doctor=True)

    assert fit(1e-5).diagnoses == []  # below 1 / max x^2: every step shrinks the error
    problems = [d.problem for d in fit(1e-3).diagnoses]
    assert problems[0] == "unscaled_inputs" and "exploding_gradients" in problems


def test_a_batchnorm_after_the_first_layer_divides_out_the_inputs_scale_and_offset():
    pixels = RNG.integers(0, 256, size=(500, 64)).astype(np.float64)
    normed = [lin("0", 64, 32), {"name": "1", "label": "bn", "kind": "batchnorm"}, act("2", "relu"),
              lin("3", 32, 10)]
    assert checks.unscaled_inputs(pixels, normed) == []  # scale-invariant: the same outputs and gradients
    assert checks.unscaled_inputs(pixels + 1000.0, normed) == []  # an offset: centred away
    # not ranges that differ (each unit mixes them before the normalization), nor a scale near its eps
    spread = np.column_stack([pixels[:, :32] / 255.0, pixels[:, 32:] * 100.0])
    assert "ranges differ" in checks.unscaled_inputs(spread, normed)[0].explanation
    assert checks.unscaled_inputs(pixels * 1e-6, normed)
    # a normalization after the activation comes too late
    late = [lin("0", 64, 32), act("1", "relu"), {"name": "2", "label": "bn", "kind": "batchnorm"},
            lin("3", 32, 10)]
    assert checks.unscaled_inputs(pixels, late)


def test_the_largest_feature_sets_the_step_and_the_mean_square_the_saturation():
    # linear regression on a raw time index t = 0..99 next to a constant column (an SO question):
    # the constant adds nothing, t alone makes steps that suit unit inputs explode
    t = np.arange(100, dtype=np.float64)
    x = np.column_stack([t, np.ones(100)])
    (finding,) = checks.unscaled_inputs(x, [lin("0", 2, 1)])
    assert finding.evidence["largest_feature_rms"] == pytest.approx(math.sqrt(np.mean(t * t)))
    assert finding.evidence["constant_features"] == 1 and "largest input feature" in finding.explanation
    assert checks.unscaled_inputs(np.column_stack([t / 99, np.ones(100)]), [lin("0", 2, 1)]) == []
    # one wide feature among many narrow ones: the mean square stays small, a tanh layer is not saturated
    wide = np.hstack([STANDARD_X, 8 * STANDARD_X[:, :1]])
    assert checks.unscaled_inputs(wide, [lin("0", 9, 4), act("1", "tanh"), lin("2", 4, 1)]) == []


def test_features_of_wildly_different_scales():
    x = STANDARD_X.copy()
    x[:, 3] *= 1e-3  # one feature in other units: within scale, but a thousandfold narrower
    (finding,) = checks.unscaled_inputs(x, mlp())
    assert finding.evidence["range_ratio"] > 500 and "differ" in finding.explanation
    assert checks.unscaled_inputs(STANDARD_X, mlp()) == []
    income_age = np.column_stack([RNG.normal(5e4, 2e4, 300), RNG.normal(40, 12, 300)])
    assert checks.unscaled_inputs(income_age, mlp(n_in=2))[0].severity == "critical"


def test_a_feature_far_from_zero_against_its_range():
    x = STANDARD_X.copy()
    x[:, 0] = RNG.uniform(10, 10.5, 300)  # RMS 10: no scale problem for ReLU, but 20 ranges from 0
    (finding,) = checks.unscaled_inputs(x, mlp())
    assert finding.evidence["offset_ratio"] == pytest.approx(20, rel=0.05)
    x[:, 0] = RNG.uniform(10, 15, 300)  # 2 ranges from 0: fine
    assert checks.unscaled_inputs(x, mlp()) == []


def test_statistics_come_from_a_bounded_sample_and_survive_non_finite_values():
    big = np.tile(RNG.integers(0, 256, size=(1000, 4)).astype(np.float32), (50, 1))  # 50,000 rows
    (finding,) = checks.unscaled_inputs(big)
    assert finding.evidence["sampled_rows"] <= checks.SAMPLE_ROWS
    x = STANDARD_X.copy()
    x[0, 0], x[1, 1] = np.nan, np.inf
    assert checks.unscaled_inputs(x, mlp()) == []
    assert checks.unscaled_inputs(np.full((10, 3), np.nan)) == []


def test_images_are_read_per_channel():
    images = RNG.integers(0, 256, size=(100, 1, 8, 8)).astype(np.float32)
    (finding,) = checks.unscaled_inputs(images)
    # the channel is the feature
    assert finding.evidence["features"] == 1 and finding.evidence["raw_pixels"]
    assert checks.unscaled_inputs(images / 255.0) == []
    # border pixels that never vary, beside centre pixels that span [0, 1]: positions are no features
    scaled = np.zeros((100, 3, 8, 8))
    scaled[:, :, 2:6, 2:6] = RNG.random((100, 3, 4, 4))
    scaled[:, :, 1, 1] = RNG.random((100, 3)) / 255.0
    assert checks.unscaled_inputs(scaled) == []
    scaled[:, 2] *= 255.0  # one channel left raw: its range against the others'
    (finding,) = checks.unscaled_inputs(scaled)
    assert finding.evidence["features"] == 3
    assert finding.evidence["range_ratio"] == pytest.approx(255.0, rel=0.01)
    rows = checks.feature_rows(scaled)
    assert rows.shape == (100 * 64, 3)


# ---------------------------------------------------------------------------------------------
# unscaled_targets
# ---------------------------------------------------------------------------------------------
def test_house_price_targets_are_critical():
    prices = RNG.normal(1.8e5, 8e4, size=(300, 1))
    (finding,) = checks.unscaled_targets(prices, "mse")
    assert finding.severity == "critical" and finding.evidence["target_rms"] > 1e5
    assert finding.evidence["fix_by"] == "fit" and "standardize_targets" in finding.evidence["fix_note"]
    assert "explode" in finding.explanation
    assert "bounded" in checks.unscaled_targets(prices, "l1")[0].explanation


def test_a_large_offset_with_a_small_spread():
    (big,) = checks.unscaled_targets(RNG.normal(1000, 5, 300), "mse")
    assert big.severity == "critical"  # RMS 1000: even small healthy steps explode
    (moderate,) = checks.unscaled_targets(RNG.normal(100, 20, 300), "huber")
    assert moderate.severity == "warning"
    (offset,) = checks.unscaled_targets(RNG.normal(5, 0.05, 300), "mse")
    assert offset.severity == "warning" and offset.evidence["offset_ratio"] > 50
    assert "standard deviations from 0" in offset.explanation


def test_the_offset_of_several_target_columns_is_the_averaged_losss():
    # sixteen outputs near 1: one column barely varies (1.4 +- 0.04), the others spread by 0.3; the mse
    # averaged over them starts about 14x the variance left to explain, not that one column's 1000x
    rows = np.concatenate([RNG.normal(1.4, 0.04, (300, 1)), RNG.normal(1.0, 0.3, (300, 15))], axis=1)
    assert checks.unscaled_targets(rows, "mse") == []
    (shifted,) = checks.unscaled_targets(rows + 20.0, "mse")  # every column far from 0: named as before
    assert shifted.evidence["offset_ratio"] > checks.TARGET_OFFSET_MAX
    assert "standard deviations from 0" in shifted.explanation


def test_unscaled_targets_need_an_output_that_does_not_rescale_and_a_nonlinear_model_or_adam():
    prices = RNG.normal(1.8e5, 8e4, size=(300, 1))
    net = [lin("0", 8, 16), act("1", "relu"), lin("2", 16, 1)]
    assert checks.unscaled_targets(prices, "mse", layers=net)
    # a fixed "y * std + mean" output layer (unknown to the checks): the network itself sees unit targets
    assert checks.unscaled_targets(prices, "mse", layers=[*net, {"name": "3", "kind": "other"}]) == []
    # linear regression: its curvature ignores the targets, so gradient descent meets any scale alike;
    # Adam's fixed-size steps take prices / lr steps to get there
    assert checks.unscaled_targets(prices, "mse", layers=[lin("0", 8, 1)]) == []
    assert checks.unscaled_targets(prices, "mse", layers=[lin("0", 8, 1)], adaptive=True)
    # stacked linear layers: their product must grow to the targets' scale, and the curvature with it
    assert checks.unscaled_targets(prices, "mse", layers=[lin("0", 8, 1), lin("1", 1, 1)])
    assert check_setup([lin("0", 8, 1)], "mse", STANDARD_X, prices) == []


def test_unscaled_targets_only_for_regression_losses_and_real_values():
    prices = RNG.normal(1.8e5, 8e4, size=300)
    assert checks.unscaled_targets(prices, "cross_entropy") == []
    assert checks.unscaled_targets(prices, None) == []
    assert checks.unscaled_targets(LABELS10, "mse") == []  # labels: loss_output_mismatch's to name
    assert checks.unscaled_targets(RNG.standard_normal(300), "mse") == []


# ---------------------------------------------------------------------------------------------
# Plain descriptions: validation, the rules table
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("layers", "match"), [
    ("Linear", "list of layer dicts"),
    ([{"name": "0", "kind": "conv"}], "unknown kind 'conv'"),
    ([{"kind": "relu"}], "'name' must be a str"),
    ([{"name": "0", "kind": "linear", "out_features": 0}], "'out_features' must be a positive int"),
    ([["linear"]], r"layers\[0\] must be a dict"),
])
def test_malformed_layer_lists_are_named(layers, match):
    with pytest.raises(DescriptionError, match=match):
        check_setup(layers, "mse")


def test_malformed_losses_and_data_are_named():
    with pytest.raises(DescriptionError, match="unknown loss 'hinge'"):
        check_setup(mlp(), "hinge")
    with pytest.raises(DescriptionError, match="n_classes"):
        check_setup(mlp(), "cross_entropy", n_classes=0)
    with pytest.raises(DescriptionError, match="inputs must be a numeric array"):
        check_setup(mlp(), "cross_entropy", np.array([["a", "b"]]))
    with pytest.raises(DescriptionError, match="targets must have at least one row"):
        check_setup(mlp(), "cross_entropy", None, np.zeros((0,)))
    assert issubclass(DescriptionError, ValueError)


def test_the_rules_table_documents_each_static_problem():
    from retroprop.doctor import table

    setup = [rule.doc() for rule in table.TABLE if rule.problem.value in table.SETUP_PROBLEMS]
    assert [r["problem"] for r in setup] == ["constant_targets", "loss_output_mismatch",
                                             "missing_nonlinearity", "unregistered_parameters",
                                             "symmetric_units", "unscaled_inputs",
                                             "unscaled_targets", "validation_mismatch", "unshuffled_data",
                                             "gradient_ascent"]
    assert all(rule[k] for rule in setup for k in ("signal", "threshold", "window", "why"))
    # thresholds follow from the exploding-update ratio of the rules and the healthy band of steps
    assert checks.STEP_SCALE_MAX == pytest.approx(50) and checks.STEP_SCALE_CRITICAL == pytest.approx(500)


# ---------------------------------------------------------------------------------------------
# retroprop models and losses through structure.py: the real-bug shapes
# ---------------------------------------------------------------------------------------------
def test_describe_model_labels_layers_as_the_probes_do():
    rp.manual_seed(0)
    model = nn.Sequential(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.2)), nn.Linear(8, 8),
                          nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3), nn.LogSoftmax(dim=1))
    layers = describe_model(model)
    assert [(d["name"], d["kind"]) for d in layers] == [
        ("0.0", "linear"), ("0.1", "relu"), ("0.2", "dropout"), ("1", "linear"), ("2", "batchnorm"),
        ("3", "tanh"), ("4", "linear"), ("5", "log_softmax")]
    probe = Probe(model)
    labels = {d["name"]: d["label"] for d in layers}
    for name, _, label in probe.weighted:
        assert labels[name] == label
    for name, _, _, label in probe.activation_modules:
        assert labels[name] == label
    assert labels["5"] == "log_softmax after layer 4, Linear 8→3"
    assert (layers[0]["in_features"], layers[0]["out_features"]) == (4, 8)


def test_describe_model_keeps_custom_blocks_opaque():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(8, 8)

        def forward(self, x):
            return self.inner(x).relu()

    model = nn.Sequential(nn.Linear(4, 8), Block(), nn.Linear(8, 2))
    layers = describe_model(model)
    assert [d["kind"] for d in layers] == ["linear", "other", "linear"]
    assert layers[2]["label"] == "layer 3, Linear 8→2"  # the block's Linear is layer 2, as the probes count
    assert checks.missing_nonlinearity(layers) == []
    assert describe_model(nn.Linear(3, 1)) == [{"name": "", "label": "layer 1, Linear 3→1", "kind": "linear",
                                                "in_features": 3, "out_features": 1}]
    with pytest.raises(TypeError, match="retroprop Module"):
        describe_model("model")


def test_describe_loss_maps_modules_functions_and_fit_names():
    assert describe_loss("cross_entropy") == "cross_entropy"
    assert describe_loss("sparse_categorical_crossentropy") == "cross_entropy"
    assert describe_loss("binary_crossentropy") == "bce_with_logits"  # fit's name: scores, sigmoid inside
    assert describe_loss("MSE") == "mse" and describe_loss("nll_loss") == "nll"
    assert describe_loss(nn.CrossEntropyLoss()) == "cross_entropy" and describe_loss(nn.NLLLoss) == "nll"
    assert describe_loss(nn.BCEWithLogitsLoss()) == "bce_with_logits"
    assert describe_loss(rp.functional.mse_loss) == "mse"
    assert describe_loss(lambda out, y: out) is None and describe_loss(None) is None
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        describe_loss("hinge")


def test_describe_loss_trusts_a_subclass_only_when_it_keeps_the_computation():
    class Weighted(nn.CrossEntropyLoss):  # same forward: still cross-entropy on scores
        pass

    class OnProbabilities(nn.BCEWithLogitsLoss):  # Keras's binary_crossentropy: its own forward
        def forward(self, input, target):
            return input

    class Declared(OnProbabilities):
        doctor_loss_kind = "bce"

    assert describe_loss(Weighted()) == "cross_entropy"
    assert describe_loss(OnProbabilities()) is None
    assert describe_loss(Declared()) == "bce" and describe_loss(Declared) == "bce"
    Declared.doctor_loss_kind = "hinge"
    with pytest.raises(ValueError, match="doctor_loss_kind must be one of"):
        describe_loss(Declared())


def test_real_bug_softmax_over_one_unit_with_cross_entropy():
    x, y = rp.data.load_breast_cancer()
    x = rp.data.standardize(x)
    model = nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 1), nn.Softmax(dim=1))
    findings = check_setup(describe_model(model), describe_loss(nn.CrossEntropyLoss()), x, y)
    finding = only(findings, "loss_output_mismatch")
    assert (finding.severity, finding.layer, finding.label) == ("critical", "3",
                                                               "softmax after layer 2, Linear 16→1")
    assert [f.problem for f in findings] == ["loss_output_mismatch"]


def test_real_bug_linear_stack_and_mse_on_digit_labels():
    x, y = rp.data.load_digits()
    model = nn.Sequential(nn.Linear(64, 32), nn.Linear(32, 16), nn.Linear(16, 1))
    findings = check_setup(describe_model(model), describe_loss("mse"), x / 16, y)
    assert sorted(f.problem for f in findings) == ["loss_output_mismatch", "missing_nonlinearity"]
    assert only(findings, "loss_output_mismatch").evidence["case"] == "regression_on_labels"
    assert only(findings, "missing_nonlinearity").evidence["labels"] == [
        "layer 1, Linear 64→32", "layer 2, Linear 32→16", "layer 3, Linear 16→1"]


def test_a_cnn_whose_only_nonlinearity_is_max_pooling_is_nearly_linear():
    def cnn(activation: bool) -> list[dict]:
        act = [{"name": "r", "kind": "relu"}] if activation else []
        return [{"name": "0", "kind": "linear", "label": "conv 1"}, *act,
                {"name": "1", "kind": "linear", "label": "conv 2"},
                {"name": "2", "kind": "other_activation", "pooling": "max"},
                {"name": "3", "kind": "flatten"},
                {"name": "4", "kind": "linear", "in_features": 32, "out_features": 32},
                {"name": "5", "kind": "linear", "in_features": 32, "out_features": 10}]
    found = checks.missing_nonlinearity(cnn(False))
    assert len(found) == 2 and all(f.evidence["model_is_linear"] for f in found)
    assert "max pooling aside" in found[0].explanation
    found = checks.missing_nonlinearity(cnn(True))
    assert found and not any(f.evidence["model_is_linear"] for f in found)
    other = cnn(False)
    del other[2]["pooling"]  # an activation the checks do not know (Softplus, ...): not linear
    assert not any(f.evidence["model_is_linear"] for f in checks.missing_nonlinearity(other))


def test_an_optimizer_set_to_maximize_is_gradient_ascent():
    (finding,) = checks.maximizing(True)
    assert (finding.problem, finding.severity) == ("gradient_ascent", "critical")
    assert "descend" in finding.evidence["fix_note"]
    assert checks.maximizing(False) == []


def test_attainable_error_is_a_nearest_neighbour_averages_leave_one_out_error():
    from retroprop.doctor.checks import attainable_error

    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=(300, 1))
    cubic = x[:, 0] ** 3 - 2 * x[:, 0] + rng.normal(0, 0.5, 300)  # a line explains a fraction of it
    found = attainable_error(x * 1000.0, cubic)  # the feature standardized: scale is no matter
    assert found["error"] < 0.02 and found["rows"] == 300 and 0 < found["noise"] < found["error"]
    line = np.polyval(np.polyfit(x[:, 0], cubic, 1), x[:, 0])
    assert np.mean((line - cubic) ** 2) / np.var(cubic) > 0.1  # what a line leaves: ten times more
    assert attainable_error(x, rng.normal(size=300))["error"] > 0.9  # targets with no signal
    assert attainable_error(x, np.stack([cubic, cubic], axis=1))["error"] == pytest.approx(found["error"])
    for inputs, targets in ((x, np.ones(300)), (x[:49], cubic[:49]), (x, cubic[:-1]), (x * 0, cubic)):
        assert attainable_error(inputs, targets) is None


def test_attainable_accuracy_is_a_nearest_neighbour_votes_leave_one_out_accuracy():
    from retroprop.doctor.checks import attainable_accuracy

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 2))
    xor = (x[:, 0] * x[:, 1] > 0).astype(int)
    found = attainable_accuracy(x * [1.0, 1000.0], xor)  # each feature standardized: scale is no matter
    assert found["accuracy"] > 0.9 and found["rows"] == 600
    assert attainable_accuracy(x, rng.integers(0, 2, 600))["accuracy"] < 0.6  # labels with no signal
    assert attainable_accuracy(x, np.eye(2)[xor])["accuracy"] == found["accuracy"]  # one-hot rows
    images = rng.normal(size=(3000, 1, 4, 4))
    assert attainable_accuracy(images, (images[:, 0, 0, 0] > 0).astype(int))["rows"] == 1000  # capped
    for inputs, targets in ((x, np.ones((600, 2))), (x[:199], xor[:199]), (x, xor[:-1]), (x[:, :1] * 0, xor),
                            (np.full((600, 2), np.nan), xor)):
        assert attainable_accuracy(inputs, targets) is None
