"""Batch normalization as PyTorch does it: eps 1e-5, momentum 0.1, unbiased running variance."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from tests.helpers import check_grad

F = rp.F
RNG = np.random.default_rng(5)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 1)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_gradients(shape, training, affine):
    channels = shape[1]
    mean, var = RNG.normal(size=channels), RNG.random(channels) + 0.5

    def run(x, *params):
        return F.batch_norm(x, mean.copy(), var.copy(), *params, training=training)

    arrays = [RNG.normal(size=shape)]
    if affine:
        arrays += [RNG.normal(size=channels), RNG.normal(size=channels)]
    check_grad(run, *arrays)


def test_batch_norm_float32():
    check_grad(lambda x, w, b: F.batch_norm(x, np.zeros(4), np.ones(4), w, b, training=True),
               RNG.normal(size=(8, 4)), RNG.normal(size=4), RNG.normal(size=4),
               dtype=np.float32, eps=1e-3)


def test_training_normalizes_with_biased_variance_and_updates_running_stats():
    x = RNG.normal(loc=3.0, scale=2.0, size=(10, 4))
    running_mean, running_var = np.zeros(4), np.ones(4)
    out = F.batch_norm(rp.tensor(x), running_mean, running_var, training=True)
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    np.testing.assert_allclose(running_mean, 0.1 * x.mean(0))
    np.testing.assert_allclose(running_var, 0.9 + 0.1 * x.var(0, ddof=1))


def test_eval_uses_running_statistics():
    x = RNG.normal(size=(5, 3))
    mean, var = np.array([1.0, 2.0, 3.0]), np.array([4.0, 1.0, 0.25])
    weight, bias = rp.tensor(np.array([1.0, 2.0, 3.0])), rp.tensor(np.array([0.0, 1.0, -1.0]))
    out = F.batch_norm(rp.tensor(x), mean, var, weight, bias, training=False)
    expected = (x - mean) / np.sqrt(var + 1e-5) * weight.data + bias.data
    np.testing.assert_allclose(out.data, expected)
    np.testing.assert_array_equal(mean, [1.0, 2.0, 3.0])  # eval never updates the statistics


def test_running_stats_as_tensors_are_updated_in_place():
    mean, var = rp.zeros(2, dtype=rp.float64), rp.ones(2, dtype=rp.float64)
    F.batch_norm(rp.tensor(np.array([[0.0, 1.0], [2.0, 5.0]])), mean, var, training=True)
    np.testing.assert_allclose(mean.data, [0.1, 0.3])
    np.testing.assert_allclose(var.data, [0.9 + 0.1 * 2.0, 0.9 + 0.1 * 8.0])


def test_one_sample_per_channel_in_training_is_an_error():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(rp.ones(1, 4), np.zeros(4), np.ones(4), training=True)
    F.batch_norm(rp.ones(1, 4), np.zeros(4), np.ones(4), training=False)  # fine in eval


def test_shape_errors_name_the_argument():
    with pytest.raises(rp.ShapeError, match=r"running_mean has shape \(3,\) but the input has 4"):
        F.batch_norm(rp.ones(2, 4), np.zeros(3), np.ones(4), training=True)
    with pytest.raises(rp.ShapeError, match=r"\(N, C, \*\) with at least 2 dimensions"):
        F.batch_norm(rp.ones(4), np.zeros(4), np.ones(4))
