"""F.linear: PyTorch's (out_features, in_features) weight layout, gradients and errors."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from tests.helpers import check_grad

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("x_shape", [(4,), (5, 4), (2, 5, 4), (1, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients(x_shape, bias):
    x, w, b = RNG.normal(size=x_shape), RNG.normal(size=(3, 4)), RNG.normal(size=3)
    if bias:
        check_grad(lambda x_, w_, b_: rp.F.linear(x_, w_, b_), x, w, b)
    else:
        check_grad(lambda x_, w_: rp.F.linear(x_, w_), x, w)


def test_linear_values_and_float32():
    x, w, b = RNG.normal(size=(5, 4)), RNG.normal(size=(3, 4)), RNG.normal(size=3)
    out = rp.F.linear(rp.tensor(x), rp.tensor(w), rp.tensor(b))
    np.testing.assert_allclose(out.data, x @ w.T + b)
    check_grad(lambda x_, w_, b_: rp.F.linear(x_, w_, b_), x, w, b, dtype=np.float32, eps=1e-3)


def test_linear_skips_gradients_nobody_needs():
    x = rp.tensor(RNG.normal(size=(5, 4)))  # data: no gradient wanted
    w = rp.tensor(RNG.normal(size=(3, 4)), requires_grad=True)
    rp.F.linear(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == (3, 4)


def test_linear_width_mismatch_names_both_sizes():
    with pytest.raises(rp.ShapeError, match=r"has 5 features.*weight of shape \(3, 4\) expects 4"):
        rp.F.linear(rp.ones(2, 5), rp.ones(3, 4))
    with pytest.raises(rp.ShapeError, match="bias"):
        rp.F.linear(rp.ones(2, 4), rp.ones(3, 4), rp.ones(2))


@pytest.mark.parametrize("x_shape", [(4,), (5, 4), (2, 5, 4)])
def test_fused_linear_relu_gradients(x_shape):
    x = RNG.normal(size=x_shape)
    w, b = RNG.normal(size=(3, 4)), RNG.normal(size=3)
    # keep pre-activations away from the ReLU kink so finite differences stay on one side
    pre = x @ w.T + b
    b = b + np.where(np.abs(pre).min(axis=tuple(range(pre.ndim - 1))) < 0.05, 0.2, 0.0)
    check_grad(lambda x_, w_, b_: rp.F.linear_relu(x_, w_, b_), x, w, b)


def test_fused_linear_relu_equals_the_two_ops_exactly():
    x = rp.tensor(RNG.normal(size=(6, 4)), requires_grad=True)
    w = rp.tensor(RNG.normal(size=(3, 4)), requires_grad=True)
    b = rp.tensor(RNG.normal(size=3), requires_grad=True)
    upstream = RNG.normal(size=(6, 3))
    fused = rp.F.linear_relu(x, w, b)
    fused.backward(upstream)
    grads = [t.grad.numpy().copy() for t in (x, w, b)]
    for t in (x, w, b):
        t.grad = None
    apart = rp.F.relu(rp.F.linear(x, w, b))
    apart.backward(upstream)
    np.testing.assert_array_equal(fused.data, apart.data)
    for got, t in zip(grads, (x, w, b), strict=True):
        np.testing.assert_array_equal(got, t.grad)
    with pytest.raises(rp.ShapeError, match="has 5 features"):
        rp.F.linear_relu(rp.ones(2, 5), rp.ones(3, 4))


def test_fused_linear_relu_matches_torch():
    torch = pytest.importorskip("torch")
    x, w, b = RNG.normal(size=(7, 4)), RNG.normal(size=(5, 4)), RNG.normal(size=5)
    ours = [rp.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = rp.F.linear_relu(*ours)
    ref = torch.relu(torch.nn.functional.linear(*theirs))
    upstream = RNG.normal(size=(7, 5))
    out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-7, atol=1e-10)
    for a, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=1e-7, atol=1e-10)
