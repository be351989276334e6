"""Fused losses: gradients, reductions, label smoothing, stability and label validation."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from tests.helpers import check_grad

F = rp.F
RNG = np.random.default_rng(11)
REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("n", [1, 6])
def test_cross_entropy_gradients(reduction, smoothing, n):
    labels = RNG.integers(0, 4, size=n)
    check_grad(lambda z: F.cross_entropy(z, labels, reduction=reduction, label_smoothing=smoothing),
               RNG.normal(size=(n, 4)))


def test_cross_entropy_unbatched():
    check_grad(lambda z: F.cross_entropy(z, np.array(2)), RNG.normal(size=5))
    check_grad(lambda z: F.cross_entropy(z, 1, reduction="none"), RNG.normal(size=5))


def test_cross_entropy_values():
    logits = RNG.normal(size=(5, 3))
    labels = np.array([0, 2, 1, 1, 0])
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    nll = -log_probs[np.arange(5), labels]
    np.testing.assert_allclose(F.cross_entropy(rp.tensor(logits), labels).data, nll.mean())
    np.testing.assert_allclose(F.cross_entropy(rp.tensor(logits), labels, reduction="none").data, nll)
    smoothed = 0.9 * nll + 0.1 * (-log_probs.mean(axis=1))
    np.testing.assert_allclose(
        F.cross_entropy(rp.tensor(logits), labels, reduction="sum", label_smoothing=0.1).data,
        smoothed.sum())


def test_cross_entropy_is_stable_for_huge_logits():
    logits = rp.tensor(np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 0.0]]), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([2, 1]))
    loss.backward()
    assert np.isfinite(loss.data) and np.isfinite(logits.grad).all()
    np.testing.assert_allclose(loss.data, 1e4)


def test_cross_entropy_float32():
    labels = RNG.integers(0, 3, size=4)
    check_grad(lambda z: F.cross_entropy(z, labels, label_smoothing=0.2), RNG.normal(size=(4, 3)),
               dtype=np.float32, eps=1e-3)


@pytest.mark.parametrize(("labels", "message"), [
    (np.array([0, 3]), r"must lie in \[0, 3\) for 3 classes; got 3 at position 1"),
    (np.array([-1, 0]), r"got -1 at position 0"),
    (np.array([0.0, 1.0]), r"integer class indices, got dtype float"),
    (np.array([0, 1, 2]), r"needs a target of shape \(2,\), got \(3,\)"),
])
@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss], ids=["cross_entropy", "nll_loss"])
def test_bad_labels_are_named(loss, labels, message):
    with pytest.raises((ValueError, TypeError), match=message):
        loss(rp.tensor(RNG.normal(size=(2, 3))), labels)


def test_unknown_reduction():
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(rp.ones(2), rp.ones(2), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(rp.ones(2, 2), [0, 1], label_smoothing=1.5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(reduction):
    labels = RNG.integers(0, 4, size=5)
    check_grad(lambda z: F.nll_loss(z, labels, reduction=reduction), RNG.normal(size=(5, 4)))
    check_grad(lambda z: F.nll_loss(z, np.array(1), reduction=reduction), RNG.normal(size=4))


def test_nll_of_log_softmax_equals_cross_entropy():
    logits = rp.tensor(RNG.normal(size=(6, 5)))
    labels = RNG.integers(0, 5, size=6)
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(logits, axis=1), labels).data,
                               F.cross_entropy(logits, labels).data)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(), (4,), (3, 2)])
def test_mse_loss(reduction, shape):
    check_grad(lambda p, t: F.mse_loss(p, t, reduction=reduction),
               RNG.normal(size=shape), RNG.normal(size=shape))
    target = RNG.normal(size=shape)
    check_grad(lambda p: F.mse_loss(p, target, reduction=reduction), RNG.normal(size=shape))


def test_mse_refuses_silent_broadcasting():
    with pytest.raises(rp.ShapeError, match=r"input shape \(4, 1\) and target shape \(4,\) differ"):
        F.mse_loss(rp.ones(4, 1), np.ones(4))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(), (5,), (3, 2)])
def test_bce_with_logits(reduction, shape):
    check_grad(lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction=reduction),
               RNG.normal(scale=3, size=shape), RNG.random(size=shape))


def test_bce_with_logits_values_and_stability():
    x = np.array([-100.0, -2.0, 0.0, 3.0, 100.0])
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    p = 1 / (1 + np.exp(-x[1:4]))
    expected = -(y[1:4] * np.log(p) + (1 - y[1:4]) * np.log(1 - p))
    logits = rp.tensor(x, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    np.testing.assert_allclose(loss.data[1:4], expected)
    np.testing.assert_allclose(loss.data[[0, 4]], [100.0, 100.0])
    loss.sum().backward()
    np.testing.assert_allclose(logits.grad, 1 / (1 + np.exp(-x)) - y)
