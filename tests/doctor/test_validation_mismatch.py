"""``validation_mismatch``: validation inputs preprocessed apart from the training inputs (scaled or
standardized one set only), found before the first step and left to the user."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import checks


def images(seed: int, n: int = 200) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 1, 8, 8)).astype(np.float32)


def test_inputs_scaled_to_0_1_against_raw_0_255_pixels_are_a_mismatch_either_way():
    raw_train, raw_val = images(0), images(1)
    (finding,) = checks.validation_mismatch(raw_train / 255, raw_val)
    assert (finding.problem, finding.severity) == ("validation_mismatch", "critical")
    assert finding.evidence["scale_ratio"] == pytest.approx(255, rel=0.05)
    assert finding.evidence["fix_by"] == "user" and "validation inputs' RMS is 25" in finding.explanation
    (finding,) = checks.validation_mismatch(raw_train, raw_val / 255)
    assert finding.evidence["scale_ratio"] == pytest.approx(1 / 255, rel=0.05)
    assert "training inputs' RMS is 25" in finding.explanation


def test_sets_preprocessed_alike_or_too_small_to_judge_are_not():
    x = np.random.default_rng(0).standard_normal((500, 10))
    assert checks.validation_mismatch(x[:400], x[400:]) == []
    assert checks.validation_mismatch(x[:400] * 5, x[400:] * 5) == []  # unscaled alike: unscaled_inputs'
    assert checks.validation_mismatch(x[:400], 100 * x[400:404]) == []  # four rows
    assert checks.validation_mismatch(x[:400], np.zeros((50, 10))) == []  # no scale to compare
    assert checks.validation_mismatch(x, None) == []


def test_fit_names_it_first_and_repair_leaves_it_to_the_user():
    x, y = rp.data.load_digits()
    x = (x * 16).reshape(-1, 1, 8, 8).astype(np.float32)  # 0-255 pixels
    x_train, x_val, y_train, y_val = rp.data.train_test_split(x, y, test_size=0.25, seed=0)
    rp.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    history = rp.fit(model, x_train / 255, y_train, loss="cross_entropy",
                     optimizer=rp.optim.Adam(model.parameters(), lr=1e-3), epochs=2, batch_size=64,
                     validation_data=(x_val, y_val), verbose=0, seed=0, repair=True)
    first = history.diagnoses[0]
    assert (first.problem, first.step) == ("validation_mismatch", 0)
    said = [t for t in history.treatments if t.problem == "validation_mismatch"]
    assert said and not any(t.applied for t in said)
    assert "match_validation" in [remedy for remedy, _ in first.remedies]
    history = rp.fit(model, x_train / 255, y_train, loss="cross_entropy",
                     optimizer=rp.optim.Adam(model.parameters(), lr=1e-3), epochs=1, batch_size=64,
                     validation_data=(x_val / 255, y_val), verbose=0, seed=0, doctor=True)
    assert "validation_mismatch" not in [d.problem for d in history.diagnoses]


# -- classes: validation rows in classes the training targets never show --------------------------
def test_validation_classes_the_training_targets_never_show_are_a_mismatch():
    y = np.repeat(np.arange(10), 50)  # sorted by label, as a data set often is
    x = np.random.default_rng(0).standard_normal((500, 4))
    (finding,) = checks.validation_mismatch(x[:400], x[400:], y[:400], y[400:], classification=True)
    assert (finding.problem, finding.evidence["case"]) == ("validation_mismatch", "unseen_classes")
    assert finding.evidence["unseen_classes"] == [8, 9] and finding.evidence["unseen_share"] == 1.0
    assert "shuffle" in finding.evidence["fix_note"] and "cannot pass 0%" in finding.explanation
    one_hot = np.eye(10)[y]  # the same labels as one-hot rows
    (finding,) = checks.validation_mismatch(None, None, one_hot[:400], one_hot[400:], classification=True)
    assert finding.evidence["unseen_classes"] == [8, 9]


def test_shuffled_splits_rare_classes_and_regressions_are_not():
    rng = np.random.default_rng(0)
    y = rng.permutation(np.repeat(np.arange(10), 50))
    assert checks.validation_mismatch(None, None, y[:400], y[400:], classification=True) == []
    # a rare class missing from training: under a tenth of the validation rows
    rare = np.concatenate([np.repeat(np.arange(9), 44), [9] * 4])
    train, val = rare[rare != 9], rng.permutation(rare)[:100]
    assert checks.validation_mismatch(None, None, train, val, classification=True) == []
    targets = np.repeat(np.arange(10.0), 50)  # a regression's values, sorted: no classes to compare
    assert checks.validation_mismatch(None, None, targets[:400], targets[400:]) == []
    assert checks.validation_mismatch(None, None, y[:400], y[400:404], classification=True) == []


def test_classes_far_rarer_in_training_than_in_validation_are_a_warning():
    rng = np.random.default_rng(0)
    balanced = rng.permutation(np.repeat(np.arange(10), 60))
    train, val = balanced[:400], balanced[400:]
    kept = np.concatenate([np.flatnonzero(train == c)[:2] for c in range(5)])  # classes 0-4 keep 2 rows
    starved = np.concatenate([train[train >= 5], train[kept]])
    (finding,) = checks.validation_mismatch(None, None, starved, val, classification=True)
    assert (finding.evidence["case"], finding.severity) == ("starved_classes", "warning")
    assert finding.evidence["starved_classes"] == [0, 1, 2, 3, 4]
    assert 0.4 < finding.evidence["starved_share"] < 0.6 and "oversample" in finding.evidence["fix_note"]
    # imbalanced data split at random keeps each class's share, rare classes included, whatever the draw
    for seed in range(20):
        draw = np.random.default_rng(seed)
        labels = draw.choice(5, size=600, p=[0.85, 0.08, 0.04, 0.02, 0.01])
        assert checks.validation_mismatch(None, None, labels[:480], labels[480:], classification=True) == []


def test_both_cases_found_together_make_one_finding():
    y = np.repeat(np.arange(4), 100)
    x = np.random.default_rng(0).standard_normal((400, 3))
    (finding,) = checks.validation_mismatch(x[:300], 100 * x[300:], y[:300], y[300:], classification=True)
    assert finding.evidence["case"] == "input_scale" and finding.evidence["also"] == ["unseen_classes"]
    assert "Also: 100% of the validation rows" in finding.explanation


def test_fit_validation_split_of_sorted_data_is_named_before_the_first_step():
    x, y = rp.data.load_digits()
    order = np.argsort(y, kind="stable")
    x, y = x[order] / 16, y[order]
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=rp.optim.Adam(model.parameters(), lr=1e-3),
                     epochs=1, validation_split=0.2, verbose=0, seed=0, doctor=True)
    first = history.diagnoses[0]
    assert (first.problem, first.step, first.evidence["case"]) == ("validation_mismatch", 0, "unseen_classes")
    order = np.random.default_rng(0).permutation(len(y))  # shuffled first: the same run is healthy
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    history = rp.fit(model, x[order], y[order], loss="cross_entropy",
                     optimizer=rp.optim.Adam(model.parameters(), lr=1e-3), epochs=1, validation_split=0.2,
                     verbose=0, seed=0, doctor=True)
    assert "validation_mismatch" not in [d.problem for d in history.diagnoses]


def test_multi_hot_targets_have_no_single_class_to_compare():
    rng = np.random.default_rng(0)
    multi_hot = (rng.random((400, 5)) < 0.4).astype(np.float32)
    multi_hot[:, 0] = 1  # every row's first active label is 0 in training ...
    val = multi_hot.copy()
    val[:, 0] = 0  # ... and never in validation: an argmax would call that unseen classes
    assert checks.validation_mismatch(None, None, multi_hot, val, classification=True) == []
