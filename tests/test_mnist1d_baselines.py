"""The MNIST-1D paper's baselines, reproduced over 5 seeds with the paper's own setup."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mnist1d")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import mnist1d_baselines as baselines

pytestmark = pytest.mark.slow


def test_logistic_regression_matches_the_paper():
    accuracies = [baselines.train("logistic", seed).test_accuracy for seed in range(5)]
    assert abs(np.mean(accuracies) - 31.5) <= 1.5, accuracies


def test_mlp_matches_the_paper():
    accuracies = [baselines.train("mlp", seed).test_accuracy for seed in range(5)]
    assert 61.0 <= np.mean(accuracies) <= 68.0, accuracies
