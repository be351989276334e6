"""Log-space and other new differentiable ops against torch 2.13.0 and finite differences.

``logsumexp`` (``retroprop.selection``; dim, keepdim, no overflow), ``logcumsumexp``, ``logaddexp``,
``copysign``, ``asinh``/``acosh``/``atanh``, ``lerp`` and ``nan_to_num``: forward values, gradients
and dtypes as torch's in float32 and float64 on 2-D, size-1 and 0-d inputs; float64 central
differences; values that would overflow a naive formula.
"""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from tests.helpers import assert_matches_torch, check_grad, keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
SHAPES = [pytest.param((3, 4), id="2d"), pytest.param((1,), id="size1"), pytest.param((), id="0d")]


# ---------------------------------------------------------------------------------------------
# logsumexp
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "dim"), [((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((2, 3, 4), (0, 2)),
                                            ((1,), 0), ((), 0), ((), -1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_logsumexp_matches_torch(dtype, shape, dim, keepdim):
    x = 3 * keyed_normal(shape, "lse")
    assert_matches_torch(lambda t: rp.logsumexp(t, dim, keepdim=keepdim),
                         lambda t: torch.logsumexp(t, dim, keepdim=keepdim), x, dtype=dtype, check_dtype=True)
    assert_matches_torch(lambda t: t.logsumexp(dim, keepdim), lambda t: t.logsumexp(dim, keepdim), x,
                         dtype=dtype)


def test_logsumexp_gradient_and_stability():
    check_grad(lambda t: rp.logsumexp(t, 1), keyed_normal((3, 5), "lse-g"))
    check_grad(lambda t: rp.logsumexp(t, (0, 1), keepdim=True), keyed_normal((3, 5), "lse-g2"))
    big = np.array([[1000.0, 1000.0], [-1000.0, -np.inf], [-np.inf, -np.inf], [np.inf, 1.0]])
    assert_matches_torch(lambda t: rp.logsumexp(t, 1), lambda t: torch.logsumexp(t, 1), big[:2])
    got = rp.logsumexp(rp.tensor(big), 1).numpy()
    np.testing.assert_allclose(got, torch.logsumexp(torch.tensor(big), 1).numpy())


def test_logsumexp_integers_and_errors():
    data = np.array([[1, 2], [3, 4]])
    out = rp.logsumexp(rp.tensor(data), 0)
    want = torch.logsumexp(torch.tensor(data), 0)
    assert out.dtype == want.numpy().dtype
    np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-6)
    with pytest.raises(IndexError):
        rp.logsumexp(rp.ones(2, 3), 2)


# ---------------------------------------------------------------------------------------------
# logcumsumexp
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "dim"), [((3, 4), 0), ((3, 4), 1), ((2, 3, 4), -2), ((1,), 0), ((), 0),
                                            ((), -1)])
def test_logcumsumexp_matches_torch(dtype, shape, dim):
    x = 3 * keyed_normal(shape, "lcse")
    assert_matches_torch(lambda t: rp.logcumsumexp(t, dim), lambda t: torch.logcumsumexp(t, dim), x,
                         dtype=dtype, check_dtype=True)
    assert_matches_torch(lambda t: t.logcumsumexp(dim), lambda t: t.logcumsumexp(dim), x, dtype=dtype)


def test_logcumsumexp_gradient_and_stability():
    check_grad(lambda t: rp.logcumsumexp(t, 1), keyed_normal((3, 5), "lcse-g"))
    # a gradient with both signs (its two parts are summed in log space apart)
    check_grad(lambda t: rp.logcumsumexp(t, 0) * rp.tensor([[1.0], [-2.0], [0.5], [-1.0]]),
               keyed_normal((4, 2), "lcse-g2"))
    for values in ([0.0, 100.0], [1000.0, -1000.0, 1000.0], [-800.0, -800.5]):
        assert_matches_torch(lambda t: rp.logcumsumexp(t, 0), lambda t: torch.logcumsumexp(t, 0),
                             np.array(values))


def test_logcumsumexp_refuses_integers():
    with pytest.raises(NotImplementedError):
        torch.logcumsumexp(torch.tensor([1, 2]), 0)
    with pytest.raises(NotImplementedError, match="cast to a float"):
        rp.logcumsumexp(rp.tensor([1, 2]), 0)


# ---------------------------------------------------------------------------------------------
# logaddexp, copysign
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_logaddexp_matches_torch(dtype, shape):
    a, b = 3 * keyed_normal(shape, "lae-a"), 3 * keyed_normal(shape, "lae-b")
    assert_matches_torch(rp.logaddexp, torch.logaddexp, a, b, dtype=dtype, check_dtype=True)
    assert_matches_torch(lambda x, y: x.logaddexp(y), lambda x, y: x.logaddexp(y), a, np.float64(0.5) + a,
                         dtype=dtype)


def test_logaddexp_broadcast_extremes_and_gradient():
    assert_matches_torch(rp.logaddexp, torch.logaddexp, np.array([-1.0]), np.array([-1.0, 2, 3]))
    assert_matches_torch(rp.logaddexp, torch.logaddexp, np.array([1.0, 2000, 30000]), np.array([-1.0, 2, 3]))
    assert_matches_torch(rp.logaddexp, torch.logaddexp, np.array([-100.0, -200, -300]),
                         np.array([-1.0, 2, 3]))
    check_grad(rp.logaddexp, keyed_normal((3, 1), "lae-g"), keyed_normal((1, 4), "lae-g2"))
    assert rp.logaddexp(rp.tensor([1, 2]), rp.tensor([3, 4])).dtype == np.float32  # as torch's


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_copysign_matches_torch(dtype, shape):
    a, b = keyed_normal(shape, "cs-a"), keyed_normal(shape, "cs-b")
    assert_matches_torch(rp.copysign, torch.copysign, a, b, dtype=dtype, check_dtype=True)
    assert_matches_torch(lambda x, y: x.copysign(y), lambda x, y: x.copysign(y), a,
                         b[..., :1] if shape else b, dtype=dtype)


def test_copysign_signed_zeros_and_specials():
    values = [-1.0, -0.0, 0.0, 1.0, np.inf, -np.inf, np.nan]
    a = np.repeat(values, len(values))
    b = np.tile(values, len(values))
    out = rp.copysign(rp.tensor(a), rp.tensor(b)).numpy()
    want = torch.copysign(torch.tensor(a), torch.tensor(b)).numpy()
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(np.signbit(out), np.signbit(want))
    finite = np.isfinite(a)  # torch's gradient at inf and NaN is NaN (inf / inf)
    assert_matches_torch(rp.copysign, torch.copysign, a[finite], b[finite])
    check_grad(rp.copysign, keyed_normal((3, 4), "cs-g"), keyed_normal((4,), "cs-g2"))
    want = torch.copysign(torch.tensor([1, -2]), -1.0).numpy().dtype
    assert rp.copysign(rp.tensor([1, -2]), -1.0).dtype == want


# ---------------------------------------------------------------------------------------------
# asinh, acosh, atanh
# ---------------------------------------------------------------------------------------------
DOMAINS = {
    "asinh": lambda shape: 3 * keyed_normal(shape, "asinh"),
    "acosh": lambda shape: 1.2 + np.abs(3 * keyed_normal(shape, "acosh")),
    "atanh": lambda shape: 0.9 * np.tanh(keyed_normal(shape, "atanh")),
}


@pytest.mark.parametrize("name", list(DOMAINS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_inverse_hyperbolic_match_torch(name, dtype, shape):
    x = DOMAINS[name](shape)
    assert_matches_torch(getattr(rp, name), getattr(torch, name), x, dtype=dtype, check_dtype=True)
    assert_matches_torch(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x, dtype=dtype)


@pytest.mark.parametrize("name", list(DOMAINS))
def test_inverse_hyperbolic_gradients_and_edges(name):
    check_grad(getattr(rp, name), DOMAINS[name]((3, 4)))
    edges = np.array([-300.0, -2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 300.0, np.inf, -np.inf, np.nan])
    out = getattr(rp, name)(rp.tensor(edges)).numpy()
    np.testing.assert_allclose(out, getattr(torch, name)(torch.tensor(edges)).numpy(), equal_nan=True)
    ints = getattr(rp, name)(rp.tensor([1, 2]))
    assert ints.dtype == getattr(torch, name)(torch.tensor([1, 2])).numpy().dtype


# ---------------------------------------------------------------------------------------------
# lerp, nan_to_num
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_lerp_matches_torch(dtype, shape):
    s, e, w = keyed_normal(shape, "s"), keyed_normal(shape, "e"), keyed_normal(shape, "w")
    assert_matches_torch(rp.lerp, torch.lerp, s, e, w, dtype=dtype, check_dtype=True)
    for weight in (0.25, 0.75, -1.5):
        assert_matches_torch(lambda a, b, wt=weight: a.lerp(b, wt), lambda a, b, wt=weight: a.lerp(b, wt),
                             s, e, dtype=dtype, check_dtype=True)


def test_lerp_gradient_and_errors():
    check_grad(rp.lerp, keyed_normal((3, 4), "ls"), keyed_normal((3, 4), "le"), keyed_normal((4,), "lw"))
    check_grad(lambda a, b: rp.lerp(a, b, 0.3), keyed_normal((2, 3), "ls2"), keyed_normal((2, 3), "le2"))
    with pytest.raises(RuntimeError):
        rp.lerp(rp.tensor([1, 2]), rp.tensor([3, 4]), 0.5)
    with pytest.raises(RuntimeError):
        rp.lerp(rp.ones(2), rp.ones(2, dtype=np.float64), 0.5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_to_num_matches_torch(dtype):
    x = np.array([[np.nan, np.inf, -np.inf, 1.5], [0.0, -2.0, np.nan, 3.0]])
    assert_matches_torch(rp.nan_to_num, torch.nan_to_num, x, dtype=dtype, check_dtype=True)
    assert_matches_torch(lambda t: t.nan_to_num(1.0, 9.0, -9.0), lambda t: t.nan_to_num(1.0, 9.0, -9.0), x,
                         dtype=dtype)
    ints = rp.nan_to_num(rp.tensor([1, 2]))
    assert ints.dtype == np.int64 and ints.tolist() == [1, 2]
