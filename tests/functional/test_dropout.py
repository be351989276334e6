"""Inverted dropout: p is the drop rate in [0, 1], identity when not training."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp

F = rp.F


def test_identity_when_p_is_zero_or_not_training():
    x = rp.randn(10, 10, requires_grad=True)
    assert F.dropout(x, 0.0) is x
    assert F.dropout(x, 0.7, training=False) is x


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_inverted_scaling_and_gradient(p):
    x = rp.tensor(np.ones((200, 100)), requires_grad=True)
    out = F.dropout(x, p, generator=np.random.default_rng(0))
    kept = out.data != 0
    np.testing.assert_allclose(out.data[kept], 1 / (1 - p))
    assert abs(1 - kept.mean() - p) < 0.02, "drop share should be p"
    assert abs(out.data.mean() - 1.0) < 0.05, "inverted dropout keeps the expectation"
    upstream = np.random.default_rng(1).normal(size=out.shape)
    out.backward(upstream)
    np.testing.assert_allclose(x.grad, upstream * kept / (1 - p))


def test_p_one_drops_everything_without_nan():
    x = rp.tensor(np.ones((4, 3), dtype=np.float32), requires_grad=True)
    out = F.dropout(x, 1.0)
    out.sum().backward()
    assert (out.data == 0).all() and (x.grad.numpy() == 0).all()
    assert np.isfinite(x.grad).all() and out.dtype == np.float32


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_p_outside_unit_interval_is_an_error(p):
    with pytest.raises(ValueError, match=r"drop rate and must be in \[0, 1\]"):
        F.dropout(rp.ones(3), p)


def test_seeded_masks_are_reproducible():
    rp.manual_seed(5)
    a = F.dropout(rp.ones(50), 0.5).data
    rp.manual_seed(5)
    b = F.dropout(rp.ones(50), 0.5).data
    np.testing.assert_array_equal(a, b)
    c = F.dropout(rp.ones(50), 0.5, generator=3).data
    d = F.dropout(rp.ones(50), 0.5, generator=np.random.default_rng(3)).data
    np.testing.assert_array_equal(c, d)
    with pytest.raises(TypeError, match="generator"):
        F.dropout(rp.ones(3), 0.5, generator="seed")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    out = F.dropout(rp.tensor(np.ones(8, dtype=dtype)), 0.3)
    assert out.dtype == dtype
