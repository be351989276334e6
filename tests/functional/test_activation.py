"""Activations, softmax and log-softmax: gradients, kinks and numerical stability."""

from __future__ import annotations

import math

import numpy as np
import pytest

import retroprop as rp
from tests.helpers import away_from, check_grad

F = rp.F
RNG = np.random.default_rng(7)
SHAPES = [(), (5,), (3, 4), (2, 1, 3)]

SMOOTH = [
    pytest.param(F.sigmoid, id="sigmoid"),
    pytest.param(F.tanh, id="tanh"),
    pytest.param(F.gelu, id="gelu"),
    pytest.param(lambda t: F.gelu(t, approximate="tanh"), id="gelu_tanh"),
    pytest.param(F.softplus, id="softplus"),
    pytest.param(lambda t: F.softplus(t, beta=2.0, threshold=3.0), id="softplus_beta2"),
    pytest.param(F.selu, id="selu"),
    pytest.param(F.elu, id="elu"),
    pytest.param(lambda t: F.elu(t, alpha=0.5), id="elu_alpha"),
]
KINKED = [
    pytest.param(F.relu, id="relu"),
    pytest.param(F.leaky_relu, id="leaky_relu"),
    pytest.param(lambda t: F.leaky_relu(t, 0.2), id="leaky_relu_0.2"),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fn", SMOOTH + KINKED)
def test_activation_gradients(fn, shape):
    x = away_from(RNG.normal(scale=2.0, size=shape), (0.0, 1.5), margin=0.01)
    check_grad(fn, x)


@pytest.mark.parametrize("fn", SMOOTH + KINKED)
def test_activation_float32(fn):
    x = away_from(RNG.normal(size=(4, 5)), (0.0, 1.5), margin=0.05)
    check_grad(fn, x, dtype=np.float32, eps=1e-3)


def test_relu_mask_is_strict():
    x = rp.tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    F.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])


def test_leaky_relu_and_elu_at_zero_follow_torch():
    x = rp.tensor(np.array([0.0]), requires_grad=True)
    F.leaky_relu(x, 0.1).sum().backward()
    np.testing.assert_allclose(x.grad, [0.1])
    x.grad = None
    F.elu(x, alpha=2.0).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0])  # torch uses the x <= 0 branch: alpha * exp(0)


def test_known_values():
    x = rp.tensor(np.array([-1.0, 0.0, 1.0]))
    np.testing.assert_allclose(F.sigmoid(x).data, 1 / (1 + np.exp([1.0, 0.0, -1.0])))
    np.testing.assert_allclose(F.leaky_relu(x).data, [-0.01, 0.0, 1.0])
    np.testing.assert_allclose(F.elu(x).data, [math.expm1(-1.0), 0.0, 1.0])
    gelu_exact = [v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in (-1.0, 0.0, 1.0)]
    np.testing.assert_allclose(F.gelu(x).data, gelu_exact, rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose(F.softplus(x).data, np.log1p(np.exp([-1.0, 0.0, 1.0])))
    np.testing.assert_allclose(F.selu(x).data, [1.0507009873554805 * 1.6732632423543772 * math.expm1(-1),
                                                0.0, 1.0507009873554805])


def test_gelu_matches_math_erfc_to_float64_precision():
    values = np.linspace(-8, 8, 2001)
    expected = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in values])
    np.testing.assert_allclose(F.gelu(rp.tensor(values)).data, expected, rtol=5e-14, atol=0)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(rp.ones(2), approximate="fast")


def test_saturating_activations_stay_finite_for_large_inputs():
    x = rp.tensor(np.array([-1000.0, -50.0, 50.0, 1000.0]), requires_grad=True)
    for fn in (F.sigmoid, F.tanh, F.softplus, F.elu, F.selu, F.gelu):
        x.grad = None
        out = fn(x)
        out.sum().backward()
        assert np.isfinite(out.data).all() and np.isfinite(x.grad).all(), fn.__name__
    np.testing.assert_allclose(F.sigmoid(x).data, [0.0, 1.9287498479639178e-22, 1.0, 1.0])


@pytest.mark.parametrize(("shape", "axis"), [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1),
                                             ((1, 1), -1)])
@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_gradients(fn, shape, axis):
    check_grad(lambda t: fn(t, axis=axis), RNG.normal(size=shape))
    check_grad(lambda t: fn(t, dim=axis), RNG.normal(size=shape))


def test_softmax_is_max_shifted():
    logits = rp.tensor(np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1000.0, -1000.0]]))
    probs = F.softmax(logits, axis=1).data
    log_probs = F.log_softmax(logits, axis=1).data
    assert np.isfinite(probs).all() and np.isfinite(log_probs).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    shifted = np.array([0.0, 1.0, -1.0])
    expected = shifted - np.log(np.exp(shifted).sum())
    np.testing.assert_allclose(log_probs[0], expected, rtol=1e-12)
    np.testing.assert_allclose(log_probs[1], np.log(1 / 3))


def test_activations_are_tensor_methods_too():
    x = rp.tensor(RNG.normal(size=(2, 3)))
    for name in ("relu", "sigmoid", "tanh", "softmax", "log_softmax"):
        np.testing.assert_array_equal(getattr(x, name)().data, getattr(F, name)(x).data)
    np.testing.assert_array_equal(x.softmax(axis=0).data, F.softmax(x, dim=0).data)
