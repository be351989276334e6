"""``tril``, ``triu``, ``diag``, ``diagonal``, ``masked_select``, ``nonzero`` and ``one_hot``
(retroprop.selection) against torch 2.13.0 and finite differences: values, gradients, dtypes,
empty and 0-d inputs, and torch's refusals.
"""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop.selection import one_hot
from tests.helpers import assert_matches_torch, check_grad, keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]


@pytest.mark.parametrize("name", ["tril", "triu"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "diagonal"), [((3, 3), 0), ((3, 3), 1), ((3, 3), -2), ((4, 5), 6),
                                                 ((4, 5), -4), ((4, 5), -6), ((5, 3, 3), 1), ((5, 0, 3), 0),
                                                 ((1, 1), 0)])
def test_triangles_match_torch(name, dtype, shape, diagonal):
    x = keyed_normal(shape, name)
    assert_matches_torch(lambda t: getattr(rp, name)(t, diagonal),
                         lambda t: getattr(torch, name)(t, diagonal), x, dtype=dtype, check_dtype=True)
    assert_matches_torch(lambda t: getattr(t, name)(diagonal=diagonal),
                         lambda t: getattr(t, name)(diagonal=diagonal), x, dtype=dtype)


@pytest.mark.parametrize("name", ["tril", "triu"])
def test_triangles_gradient_dtypes_and_errors(name):
    check_grad(lambda t: getattr(rp, name)(t, 1), keyed_normal((2, 3, 4), name))
    for data in ([[True] * 3] * 3, [[1, 2], [3, 4]]):
        out = getattr(rp.tensor(data), name)()
        want = getattr(torch.tensor(data), name)().numpy()
        assert out.dtype == want.dtype
        np.testing.assert_array_equal(out.numpy(), want)
    with pytest.raises(RuntimeError):
        getattr(torch, name)(torch.ones(3))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        getattr(rp, name)(rp.ones(3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "kwargs"), [
    ((5, 5), {}), ((3, 4), {}), ((4, 3), {}), ((3, 3, 3), {"dim1": -2, "dim2": -1}),
    ((2, 3, 4, 5), {"dim1": -2, "dim2": -1}), ((5, 5), {"offset": 1}), ((5, 5), {"offset": -1}),
    ((3, 5), {"offset": 2}), ((2, 3, 4), {"offset": 1, "dim1": 2, "dim2": 0}), ((3, 4), {"offset": 9}),
])
def test_diagonal_matches_torch(dtype, shape, kwargs):
    x = keyed_normal(shape, "diagonal")
    assert_matches_torch(lambda t: rp.diagonal(t, **kwargs), lambda t: torch.diagonal(t, **kwargs), x,
                         dtype=dtype, check_dtype=True)
    assert_matches_torch(lambda t: t.diagonal(**kwargs), lambda t: t.diagonal(**kwargs), x, dtype=dtype)


def test_diagonal_gradient_and_errors():
    check_grad(lambda t: t.diagonal(1, 0, 2), keyed_normal((3, 2, 4), "diag-g"))
    with pytest.raises(RuntimeError):
        torch.ones(3, 3).diagonal(dim1=0, dim2=0)
    with pytest.raises(RuntimeError, match="cannot be identical"):
        rp.ones(3, 3).diagonal(dim1=0, dim2=0)
    with pytest.raises(IndexError):
        rp.ones(3, 3).diagonal(dim1=0, dim2=2)


@pytest.mark.parametrize(("offset", "dim1", "dim2"), [(0, 0, 1), (1, 0, 1), (-1, 0, 1), (2, 1, 2), (-1, 2, 0),
                                                      (9, 0, 1)])
def test_diagonal_is_a_view_that_writes_through_as_torch(offset, dim1, dim2):
    """``x.diagonal().fill_(v)`` (and ``+=``) changes ``x`` as torch's view does; ``diag`` is a copy."""
    x, t = rp.zeros(3, 4, 5), torch.zeros(3, 4, 5)
    for lib, z in ((rp, x), (torch, t)):
        view = z.diagonal(offset, dim1, dim2)
        view.fill_(2.0)
        view += 1.0
        lib.diag(z[0], 1).fill_(-5.0)
    np.testing.assert_array_equal(x.numpy(), t.numpy())
    if t.diagonal(offset, dim1, dim2).numel():  # an empty view shares no memory: nothing to count
        assert x._version == t._version


def test_diagonal_of_a_tensor_in_a_graph_refuses_an_in_place_change():
    h = rp.ones(3, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="view of another tensor"):
        h.diagonal().fill_(0.0)
    w = rp.ones(3, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.diagonal().fill_(0.0)
    with rp.no_grad():
        w.diagonal().fill_(0.0)
    assert w.numpy().trace() == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "diagonal"), [((5,), 0), ((5,), 2), ((5,), -1), ((3, 4), 0), ((3, 4), 1),
                                                 ((4, 3), -2), ((1,), 0)])
def test_diag_matches_torch(dtype, shape, diagonal):
    x = keyed_normal(shape, "diag")
    assert_matches_torch(lambda t: rp.diag(t, diagonal), lambda t: torch.diag(t, diagonal), x, dtype=dtype,
                         check_dtype=True)
    assert_matches_torch(lambda t: t.diag(diagonal), lambda t: t.diag(diagonal), x, dtype=dtype)


def test_diag_gradient_and_errors():
    check_grad(lambda t: rp.diag(t, -1), keyed_normal((4,), "dg"))
    check_grad(lambda t: rp.diag(t, 1), keyed_normal((3, 4), "dg2"))
    with pytest.raises(RuntimeError):
        torch.diag(torch.ones(2, 2, 2))
    with pytest.raises(RuntimeError, match="Supports 1D or 2D"):
        rp.diag(rp.ones(2, 2, 2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "mask_shape"), [((4, 5), (4, 5)), ((4, 5), (5,)), ((4, 1), (4, 5)),
                                                   ((3,), ()), ((), ())])
def test_masked_select_matches_torch(dtype, shape, mask_shape):
    x = keyed_normal(shape, "ms")
    mask = keyed_normal(mask_shape, "mask") > 0
    assert_matches_torch(lambda t: rp.masked_select(t, rp.tensor(mask)),
                         lambda t: torch.masked_select(t, torch.tensor(mask)), x, dtype=dtype,
                         check_dtype=True)
    assert_matches_torch(lambda t: t.masked_select(rp.tensor(True)),
                         lambda t: t.masked_select(torch.tensor(True)), x, dtype=dtype)


def test_masked_select_gradient_and_errors():
    mask = rp.tensor(keyed_normal((3, 4), "msg") > 0)
    check_grad(lambda t: rp.masked_select(t, mask), keyed_normal((3, 4), "msx"))
    check_grad(lambda t: rp.masked_select(t, mask), keyed_normal((4,), "msx2"))  # broadcast input
    with pytest.raises(RuntimeError):
        torch.masked_select(torch.ones(3), torch.ones(3, dtype=torch.int64))
    with pytest.raises(TypeError, match="BoolTensor"):
        rp.masked_select(rp.ones(3), rp.tensor([1, 0, 1]))
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        rp.masked_select(rp.ones(3), rp.tensor([True, False]))


@pytest.mark.parametrize("data", [
    np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([0, 3, 0, 5]), np.zeros((2, 0, 3)), np.array(0),
    np.array(2.5), np.array(True), np.array([[[True, False], [False, True]]]),
], ids=["2d", "1d", "empty", "0d-zero", "0d", "0d-bool", "3d-bool"])
def test_nonzero_matches_torch(data):
    out, want = rp.nonzero(rp.tensor(data)), torch.nonzero(torch.tensor(data)).numpy()
    assert out.dtype == want.dtype == np.int64 and out.shape == want.shape
    np.testing.assert_array_equal(out.numpy(), want)
    np.testing.assert_array_equal(rp.tensor(data).nonzero().numpy(), want)
    got_tuple = rp.nonzero(rp.tensor(data), as_tuple=True)
    want_tuple = torch.nonzero(torch.tensor(data), as_tuple=True)
    assert len(got_tuple) == len(want_tuple)
    for g, w in zip(got_tuple, want_tuple, strict=True):
        np.testing.assert_array_equal(g.numpy(), w.numpy())
        assert g.dtype == w.numpy().dtype


@pytest.mark.parametrize(("data", "classes"), [([1, 2, 4], 6), ([[1, 2, 3], [0, 3, 5]], 8), ([3, 0], -1),
                                               (2, 3), ([], 4)])
def test_one_hot_matches_torch(data, classes):
    want = torch.nn.functional.one_hot(torch.tensor(data, dtype=torch.int64), classes).numpy()
    out = one_hot(rp.tensor(np.array(data, dtype=np.int64)), classes)
    assert out.dtype == want.dtype and out.shape == want.shape
    np.testing.assert_array_equal(out.numpy(), want)


def test_one_hot_errors():
    for bad in (lambda: one_hot(rp.tensor([1, 5]), 3), lambda: one_hot(rp.tensor([-1, 0]), 3),
                lambda: one_hot(rp.tensor([1, 2], dtype=np.int32), 3),
                lambda: one_hot(rp.tensor(np.zeros(0, dtype=np.int64)), -1)):
        with pytest.raises(RuntimeError):
            bad()
    with pytest.raises(RuntimeError):
        torch.nn.functional.one_hot(torch.tensor([1, 2], dtype=torch.int32), 3)


@pytest.mark.parametrize(("data", "size", "fill"), [
    ([1, 0, 2, 0, 3], 3, -1), ([1, 0, 2, 0, 3], 5, -1), ([1, 0, 2, 0, 3], 2, 7), ([[1, 0], [0, 2]], 1, -1),
    (5, 4, -1), (np.zeros(0, dtype=np.int32), 3, -1), ([[True, False], [True, True]], 0, -1),
])
def test_nonzero_static_matches_torch(data, size, fill):
    want = torch.nonzero_static(torch.tensor(data), size=size, fill_value=fill).numpy()
    out = rp.nonzero_static(rp.tensor(data), size=size, fill_value=fill)
    assert out.dtype == want.dtype and out.shape == want.shape
    np.testing.assert_array_equal(out.numpy(), want)
    np.testing.assert_array_equal(rp.tensor(data).nonzero_static(size=size, fill_value=fill).numpy(), want)


def test_nonzero_static_errors():
    with pytest.raises(TypeError):
        torch.nonzero_static(torch.tensor([1, 0]), size=3, fill_value=-1.5)
    with pytest.raises(TypeError, match="fill_value"):
        rp.nonzero_static(rp.tensor([1, 0]), size=3, fill_value=-1.5)
    with pytest.raises(RuntimeError, match="non-negative"):
        rp.nonzero_static(rp.tensor([1, 0]), size=-1)
