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
