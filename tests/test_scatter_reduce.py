"""``scatter_reduce`` (retroprop.selection) against torch 2.13.0 and finite differences: every
reduction with and without ``include_self``, each dim, values and both gradients (zeros among the
'prod' factors, ties for 'amax'/'amin'), integer 'mean', 0-d input, and torch's refusals.
"""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from tests.helpers import check_grad, keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

REDUCTIONS = ["sum", "prod", "mean", "amax", "amin"]


def _index(shape: tuple[int, ...], high: int, key: str) -> np.ndarray:
    return np.random.default_rng(abs(hash(key)) % 2**32).integers(0, high, size=shape)


def _compare(x, src, index, dim, reduce, include_self, weights_key="w"):
    tx, ts = torch.tensor(x, requires_grad=True), torch.tensor(src, requires_grad=True)
    want = tx.scatter_reduce(dim, torch.tensor(index), ts, reduce, include_self=include_self)
    weights = keyed_normal(tuple(want.shape), weights_key)
    want.backward(torch.tensor(weights))
    rx, rs = rp.tensor(x, requires_grad=True), rp.tensor(src, requires_grad=True)
    got = rx.scatter_reduce(dim, rp.tensor(index), rs, reduce, include_self=include_self)
    got.backward(rp.tensor(weights))
    assert got.dtype == want.detach().numpy().dtype and got.shape == tuple(want.shape)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(rx.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(rs.grad.numpy(), ts.grad.numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("include_self", [True, False], ids=["self", "noself"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scatter_reduce_matches_torch(reduce, include_self, dim):
    x, src = keyed_normal((3, 4, 5), "x", reduce), keyed_normal((3, 4, 5), "src", reduce)
    index = _index((3, 4, 5), 3, f"{reduce}{dim}")
    if reduce == "prod":  # zero factors: one, and two reaching the same place
        x[0, 0, :2] = 0
        src[1, 1, :3] = 0
        src[0, 2, 1] = 0
    _compare(x, src, index, dim, reduce, include_self)


@pytest.mark.parametrize("reduce", ["amax", "amin"])
def test_ties_share_the_gradient(reduce):
    x = np.array([[1.0, 2.0], [3.0, 1.0]])
    src = np.array([[1.0, 1.0, 5.0], [3.0, 3.0, 0.0]])
    index = np.array([[0, 0, 1], [0, 0, 1]])
    for include_self in (True, False):
        _compare(x, src, index, 1, reduce, include_self)


@pytest.mark.parametrize("reduce", ["sum", "mean", "prod"])
def test_scatter_reduce_finite_differences(reduce):
    index = rp.tensor(_index((2, 3), 3, reduce))
    check_grad(lambda a, s: a.scatter_reduce(1, index, s, reduce), keyed_normal((3, 4), "fa"),
               keyed_normal((2, 3), "fs"))
    check_grad(lambda a, s: a.scatter_reduce(0, index, s, reduce, include_self=False),
               keyed_normal((3, 4), "fa2"), keyed_normal((2, 3), "fs2"))


def test_smaller_index_integer_mean_and_0d():
    x, index = keyed_normal((4, 5), "sx"), _index((2, 3), 4, "small")
    _compare(x, keyed_normal((2, 3), "ss"), index, 0, "amax", True)
    # a src larger than the index: torch's own backward refuses it; finite differences instead
    check_grad(lambda a, s: a.scatter_reduce(0, rp.tensor(index), s, "mean"), x, keyed_normal((3, 6), "ss2"))
    a = np.array([[5, 7, 9]], dtype=np.int64)
    s = np.array([[2, 4, 3]], dtype=np.int64)
    index = np.array([[0, 0, 2]])
    for include_self in (True, False):
        want = torch.tensor(a).scatter_reduce(1, torch.tensor(index), torch.tensor(s), "mean",
                                              include_self=include_self)
        got = rp.tensor(a).scatter_reduce(1, rp.tensor(index), rp.tensor(s), "mean",
                                          include_self=include_self)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    _compare(np.array(2.0), np.array(3.0), np.array(0), 0, "prod", True)


def test_scatter_reduce_errors():
    x, index = rp.ones(4, 5), rp.tensor(np.zeros((4, 5), dtype=np.int64))
    with pytest.raises(RuntimeError):
        torch.ones(4, 5).scatter_reduce(0, torch.zeros(4, 5, dtype=torch.int64), torch.ones(4, 5), "INVALID")
    with pytest.raises(RuntimeError, match="reduce argument must be either"):
        x.scatter_reduce(0, index, rp.ones(4, 5), "INVALID")
    with pytest.raises(RuntimeError):
        torch.ones(4, 5).half().scatter_reduce(0, torch.zeros(4, 5, dtype=torch.int64), torch.ones(4, 5),
                                               "sum")
    with pytest.raises(RuntimeError, match=r"self\.dtype to be equal to src\.dtype"):
        x.half().scatter_reduce(0, index, rp.ones(4, 5), "sum")
    with pytest.raises(IndexError):
        x.scatter_reduce(0, index + 4, rp.ones(4, 5), "sum")
