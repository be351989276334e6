"""Fixtures of the doctor's tests."""

from __future__ import annotations

import pytest

import retroprop as rp


@pytest.fixture(scope="module")
def digits():
    """Standardized digits: (x_train, y_train, x_test, y_test), split seed 0."""
    x, y = rp.data.load_digits()
    x_train, x_test, y_train, y_test = rp.data.train_test_split(x, y, test_size=0.25, seed=0)
    x_train, x_test = rp.data.standardize(x_train, x_test)
    return x_train, y_train, x_test, y_test
