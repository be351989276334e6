"""Selection, sorting, scanning and testing ops (retroprop.selection) against torch 2.13.0 and
finite differences.

Each op: forward values, output dtype and input gradients as torch's on 0-d, size-1, 2-D and 3-D
inputs with negative dims; float64 central differences; torch's index dtypes (int64 indices,
bool tests, int64 running sums of integers) and torch's ties (sort stable, cummax's last index);
errors as torch raises them (a RuntimeError), naming the op, the dim and the bad value.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from tests.helpers import assert_matches_torch, check_grad, keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
_parity = partial(assert_matches_torch, check_dtype=True)
nan, inf = np.nan, np.inf


def _ints(array: Any) -> np.ndarray:
    return np.asarray(array, dtype=np.int64)


def _same(rp_out: rp.Tensor, th_out: Any) -> None:
    """Equal values (NaN where torch's), shape and dtype."""
    expected = th_out.detach().numpy()
    assert rp_out.shape == expected.shape, f"shape {rp_out.shape} vs torch {expected.shape}"
    assert rp_out.dtype == expected.dtype, f"dtype {rp_out.dtype} vs torch {expected.dtype}"
    np.testing.assert_array_equal(rp_out.data, expected)


def _both_raise(rp_fn: Any, torch_fn: Any, match: str, error: type[BaseException] = RuntimeError) -> Any:
    """torch raises ``error`` (RuntimeError unless said), and retroprop too, with ``match``."""
    with pytest.raises(error):
        torch_fn()
    with pytest.raises(error, match=match) as caught:
        rp_fn()
    return caught.value


# ---------------------------------------------------------------------------------------------
# gather, scatter, scatter_add, index_select, take_along_dim, masked_fill
# ---------------------------------------------------------------------------------------------
GATHER = [
    pytest.param((3, 4), 1, _ints([[0, 3, 3], [1, 1, 0], [2, 0, 3]]), id="2d-repeats"),
    pytest.param((3, 4), -2, _ints([[2, 0, 1, 1], [0, 0, 2, 1]]), id="2d-neg-dim-smaller"),
    pytest.param((2, 3, 4), -1, _ints(np.arange(12).reshape(2, 3, 2) % 4), id="3d"),
    pytest.param((2, 3, 4), 1, _ints([[[2], [0]]]), id="3d-smaller"),
    pytest.param((1,), 0, _ints([0, 0, 0]), id="size1"),
    pytest.param((), 0, _ints(0), id="0d"),
    pytest.param((), -1, _ints([0, 0]), id="0d-1d-index"),
    pytest.param((4,), 0, _ints(2), id="1d-0d-index"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "dim", "index"), GATHER)
def test_gather_matches_torch(shape: tuple[int, ...], dim: int, index: np.ndarray, dtype: Any) -> None:
    x = keyed_normal(shape, "gather")
    _parity(lambda t, i: rp.gather(t, dim, i), lambda t, i: torch.gather(t, dim, i), x, index, dtype=dtype)
    _parity(lambda t, i: t.gather(dim, i), lambda t, i: t.gather(dim, i), x, index, dtype=dtype)


@pytest.mark.parametrize(("shape", "dim", "index"), GATHER[:4])
def test_gather_finite_differences(shape: tuple[int, ...], dim: int, index: np.ndarray) -> None:
    check_grad(lambda t: t.gather(dim, rp.tensor(index)), keyed_normal(shape, "gather-fd"))


def test_gather_and_scatter_take_int32_indices_and_empty_ones() -> None:
    x = keyed_normal((2, 3), "int32")
    index = np.array([[2], [0]], np.int32)
    _same(rp.gather(rp.tensor(x), 1, rp.tensor(index)), torch.gather(torch.tensor(x), 1, torch.tensor(index)))
    for empty in (np.zeros((2, 0), np.int64), np.zeros((5, 0), np.int64)):  # torch checks no sizes then
        _parity(lambda t, i: t.gather(1, i), lambda t, i: t.gather(1, i), x, empty)
        src = np.zeros(empty.shape)
        _parity(lambda t, i, s: t.scatter(1, i, s), lambda t, i, s: t.scatter(1, i, s), x, empty, src)
        _parity(lambda t, i, s: t.scatter_add(0, i, s), lambda t, i, s: t.scatter_add(0, i, s), x, empty, src)


SCATTER = [
    pytest.param((3, 4), 1, _ints([[0, 3], [1, 2], [3, 0]]), (3, 2), id="2d"),
    pytest.param((3, 4), -2, _ints([[2, 0, 1, 1]]), (1, 4), id="2d-neg-dim"),
    pytest.param((2, 3, 4), -1, _ints([[[1, 3], [0, 2], [2, 1]], [[3, 0], [1, 0], [0, 2]]]), (2, 3, 2),
                 id="3d"),
    pytest.param((1,), 0, _ints([0]), (1,), id="size1"),
    pytest.param((), 0, _ints(0), (), id="0d"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "dim", "index", "src_shape"), SCATTER)
def test_scatter_matches_torch(shape: tuple[int, ...], dim: int, index: np.ndarray,
                               src_shape: tuple[int, ...], dtype: Any) -> None:
    x, src = keyed_normal(shape, "scatter"), keyed_normal(src_shape, "src")
    _parity(lambda t, i, s: rp.scatter(t, dim, i, s), lambda t, i, s: torch.scatter(t, dim, i, s),
            x, index, src, dtype=dtype)
    _parity(lambda t, i: t.scatter(dim, i, 2.5), lambda t, i: t.scatter(dim, i, 2.5), x, index, dtype=dtype)
    _parity(lambda t, i: rp.scatter(t, dim, i, value=-1), lambda t, i: torch.scatter(t, dim, i, value=-1),
            x, index, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "dim", "index", "src_shape"), SCATTER)
def test_scatter_add_matches_torch(shape: tuple[int, ...], dim: int, index: np.ndarray,
                                   src_shape: tuple[int, ...], dtype: Any) -> None:
    x, src = keyed_normal(shape, "scatter_add"), keyed_normal(src_shape, "src")
    _parity(lambda t, i, s: rp.scatter_add(t, dim, i, s), lambda t, i, s: torch.scatter_add(t, dim, i, s),
            x, index, src, dtype=dtype)


def test_scatter_gradients_with_repeated_indices_as_torch() -> None:
    """A repeated index: the input's gradient is 0 there and every src element gets its place's
    gradient (torch's gather), also those that were overwritten; scatter_add adds them up."""
    x, src, index = keyed_normal((2, 3), "x"), keyed_normal((2, 2), "s"), _ints([[0, 0], [1, 2]])
    _parity(lambda t, i, s: t.scatter(1, i, s), lambda t, i, s: t.scatter(1, i, s), x, index, src)
    x, src = keyed_normal((3, 2), "x"), keyed_normal((4, 2), "s")
    index = _ints([[0, 2], [0, 2], [1, 2], [0, 0]])
    _parity(lambda t, i, s: t.scatter_add(0, i, s), lambda t, i, s: t.scatter_add(0, i, s), x, index, src)


def test_scatter_finite_differences() -> None:
    index = rp.tensor([[0, 3], [1, 2], [3, 0]])
    check_grad(lambda t, s: rp.scatter(t, 1, index, s), keyed_normal((3, 4), "a"), keyed_normal((3, 2), "b"))
    check_grad(lambda t: rp.scatter(t, 1, index, value=0.5), keyed_normal((3, 4), "a"))
    repeats = rp.tensor([[0, 0], [2, 2], [1, 0]])
    check_grad(lambda t, s: rp.scatter_add(t, 1, repeats, s), keyed_normal((3, 4), "a"),
               keyed_normal((3, 2), "b"))


def test_scatter_src_larger_than_the_index() -> None:
    """torch takes src's leading block; its backward then fails on src's shape, retroprop's gives
    zeros to the src elements not used."""
    x, src, index = keyed_normal((2, 3), "x"), keyed_normal((3, 3), "s"), _ints([[2], [0]])
    expected = torch.scatter(torch.tensor(x), 1, torch.tensor(index), torch.tensor(src))
    for op in (rp.scatter, rp.scatter_add):
        out = op(rp.tensor(x), 1, rp.tensor(index), rp.tensor(src))
        if op is rp.scatter:
            _same(out, expected)
        check_grad(lambda t, s, op=op: op(t, 1, rp.tensor(index), s), x, src)


def test_scatter_value_is_cast_to_the_input_dtype() -> None:
    for values, value in [(np.zeros((2, 3), np.int64), 7.5), (np.zeros((2, 3), np.int32), -3),
                          (np.zeros((2, 3), np.float32), nan), (np.zeros((2, 3), bool), 1)]:
        index = _ints([[0], [2]])
        _same(rp.tensor(values).scatter(1, rp.tensor(index), value),
              torch.tensor(values).scatter(1, torch.tensor(index), value))


INDEX_SELECT = [
    pytest.param((3, 4), 1, _ints([3, 0, 3]), id="2d-repeats"),
    pytest.param((3, 4), -2, _ints([2]), id="2d-neg-dim"),
    pytest.param((2, 3, 4), -1, _ints([1, 1, 0, 3, 2]), id="3d"),
    pytest.param((3, 4), 0, _ints(1), id="0d-index"),
    pytest.param((2, 3), 1, np.zeros(0, np.int64), id="empty-index"),
    pytest.param((1,), 0, _ints([0, 0]), id="size1"),
    pytest.param((), 0, _ints(0), id="0d"),
    pytest.param((), -1, _ints([0]), id="0d-1d-index"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "dim", "index"), INDEX_SELECT)
def test_index_select_matches_torch(shape: tuple[int, ...], dim: int, index: np.ndarray, dtype: Any) -> None:
    x = keyed_normal(shape, "index_select")
    _parity(lambda t, i: rp.index_select(t, dim, i), lambda t, i: torch.index_select(t, dim, i),
            x, index, dtype=dtype)
    _parity(lambda t, i: t.index_select(dim, i), lambda t, i: t.index_select(dim, i), x, index, dtype=dtype)


def test_index_select_finite_differences_and_int32() -> None:
    index = rp.tensor([3, 0, 3, 1])
    check_grad(lambda t: t.index_select(-1, index), keyed_normal((2, 3, 4), "fd"))
    x, index32 = keyed_normal((3, 4), "x"), np.array([2, 2], np.int32)
    _same(rp.tensor(x).index_select(0, rp.tensor(index32)),
          torch.tensor(x).index_select(0, torch.tensor(index32)))


TAKE_ALONG_DIM = [
    pytest.param((3, 4), 1, _ints([[0, 3], [1, 1], [3, 0]]), id="2d"),
    pytest.param((3, 4), 1, _ints([[0, -1, 2]]), id="2d-broadcast-negative"),
    pytest.param((3, 1), -1, _ints([[0, 0, 0]]), id="input-broadcast"),
    pytest.param((2, 3, 4), 0, _ints(np.zeros((1, 3, 1))), id="3d"),
    pytest.param((3, 4), None, _ints([[11, 0], [3, 5]]), id="flat"),
    pytest.param((), None, _ints([0, 0]), id="0d"),
]


@pytest.mark.parametrize(("shape", "dim", "index"), TAKE_ALONG_DIM)
def test_take_along_dim_matches_torch(shape: tuple[int, ...], dim: Any, index: np.ndarray) -> None:
    x = keyed_normal(shape, "take")
    _parity(lambda t, i: rp.take_along_dim(t, i, dim), lambda t, i: torch.take_along_dim(t, i, dim), x, index)
    _parity(lambda t, i: t.take_along_dim(i, dim=dim), lambda t, i: t.take_along_dim(i, dim=dim), x, index,
            dtype=np.float32)
    if shape:
        check_grad(lambda t: rp.take_along_dim(t, rp.tensor(index), dim), x)


def test_take_along_dim_of_a_0d_tensor_along_its_dim() -> None:
    """torch refuses dim=0 for a 0-d tensor here (as no other op does); retroprop takes it."""
    x = rp.tensor(2.5, requires_grad=True)
    out = rp.take_along_dim(x, rp.tensor(0), dim=-1)
    out.backward()
    assert out.shape == () and out.item() == 2.5 and x.grad.item() == 1.0


MASKED_FILL = [
    pytest.param((3, 4), (3, 4), id="same"),
    pytest.param((3, 4), (4,), id="mask-broadcast"),
    pytest.param((4,), (3, 4), id="input-broadcast"),
    pytest.param((3, 1), (1, 4), id="both-broadcast"),
    pytest.param((1,), (1,), id="size1"),
    pytest.param((), (), id="0d"),
    pytest.param((), (2,), id="0d-input"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "mask_shape"), MASKED_FILL)
def test_masked_fill_matches_torch(shape: tuple[int, ...], mask_shape: tuple[int, ...], dtype: Any) -> None:
    x, mask = keyed_normal(shape, "x"), keyed_normal(mask_shape, "mask") > 0
    _parity(lambda t, m: rp.masked_fill(t, m, -2.5), lambda t, m: torch.masked_fill(t, m, -2.5), x, mask,
            dtype=dtype)
    # a 0-d tensor value gets the gradient of the places it fills
    _parity(lambda t, m, v: t.masked_fill(m, v), lambda t, m, v: t.masked_fill(m, v), x, mask, np.array(1.5),
            dtype=dtype)


def test_masked_fill_finite_differences_and_dtypes() -> None:
    mask = rp.tensor([[True, False, True, False]])
    check_grad(lambda t, v: t.masked_fill(mask, v), keyed_normal((3, 4), "x"), np.array(0.5))
    mask_values = np.array([True, False, True])
    for values, value in [(np.arange(3), 2.7), (np.zeros(3, bool), 3), (np.zeros(3, np.float32), 3),
                          (np.zeros(3, np.float32), np.array(2.7)), (np.zeros(3, np.uint8), -1),
                          (np.zeros(3), inf)]:
        fill = rp.tensor(value) if isinstance(value, np.ndarray) else value
        th_fill = torch.tensor(value) if isinstance(value, np.ndarray) else value
        _same(rp.tensor(values).masked_fill(rp.tensor(mask_values), fill),
              torch.tensor(values).masked_fill(torch.tensor(mask_values), th_fill))


# ---------------------------------------------------------------------------------------------
# sort, argsort, topk
# ---------------------------------------------------------------------------------------------
SORT_SHAPES = [
    pytest.param((3, 5), -1, id="2d"),
    pytest.param((3, 5), 0, id="2d-dim0"),
    pytest.param((2, 3, 4), -2, id="3d-neg-dim"),
    pytest.param((1,), 0, id="size1"),
    pytest.param((), -1, id="0d"),
    pytest.param((2, 0), 1, id="empty"),
]


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize(("shape", "dim"), SORT_SHAPES)
def test_sort_matches_torch(shape: tuple[int, ...], dim: int, descending: bool) -> None:
    x = keyed_normal(shape, "sort")
    for dtype in (np.float64, np.float32):
        _parity(lambda t: rp.sort(t, dim, descending).values, lambda t: torch.sort(t, dim, descending).values,
                x, dtype=dtype)
    out, expected = rp.tensor(x).sort(dim=dim, descending=descending), torch.tensor(x).sort(dim, descending)
    _same(out.indices, expected.indices)
    assert out.values is out[0] and out.indices is out[1]
    _same(rp.argsort(rp.tensor(x), dim, descending), torch.argsort(torch.tensor(x), dim, descending))
    _same(rp.tensor(x).argsort(dim=dim, descending=descending), torch.tensor(x).argsort(dim, descending))
    if x.size > 1:
        check_grad(lambda t: t.sort(dim, descending)[0], x)


@pytest.mark.parametrize("descending", [False, True])
def test_sort_ties_and_nan_as_torchs_stable_sort(descending: bool) -> None:
    x = np.array([[3.0, 1.0, 3.0, nan, 1.0, 2.0, nan, 3.0, -0.0, 0.0, -inf, inf]] * 2)
    for dtype in (np.float64, np.float32):
        out = rp.sort(rp.tensor(x.astype(dtype)), descending=descending)
        expected = torch.sort(torch.tensor(x.astype(dtype)), descending=descending, stable=True)
        _same(out.values, expected.values)
        _same(out.indices, expected.indices)
        assert np.array_equal(np.signbit(out.values.data), np.signbit(expected.values.numpy()))
    _parity(lambda t: t.sort(descending=descending, stable=True).values,
            lambda t: t.sort(descending=descending, stable=True).values, x)


@pytest.mark.parametrize("values", [
    pytest.param(np.array([[3, -1, 2, -1], [0, 7, 7, 1]], np.int32), id="int32"),
    pytest.param(np.array([3, 0, 200, 0], np.uint8), id="uint8"),
    pytest.param(np.array([True, False, True, False]), id="bool"),
    pytest.param(np.array([1.5, -2.0, 1.5, 0.25], np.float16), id="float16"),
])
def test_sort_keeps_the_dtype_and_gives_int64_indices(values: np.ndarray) -> None:
    for descending in (False, True):
        out = rp.tensor(values).sort(descending=descending)
        expected = torch.tensor(values).sort(descending=descending, stable=True)
        _same(out.values, expected.values)
        _same(out.indices, expected.indices)


TOPK = [
    pytest.param((3, 6), 2, -1, id="2d"),
    pytest.param((4, 3), 3, 0, id="2d-dim0"),
    pytest.param((2, 5, 3), 1, -2, id="3d-neg-dim"),
    pytest.param((5,), 0, 0, id="k0"),
    pytest.param((5,), 5, 0, id="all"),
    pytest.param((1,), 1, -1, id="size1"),
    pytest.param((), 1, 0, id="0d"),
]


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize(("shape", "k", "dim"), TOPK)
def test_topk_matches_torch(shape: tuple[int, ...], k: int, dim: int, largest: bool) -> None:
    x = keyed_normal(shape, "topk")
    for dtype in (np.float64, np.float32):
        _parity(lambda t: rp.topk(t, k, dim, largest).values, lambda t: torch.topk(t, k, dim, largest).values,
                x, dtype=dtype)
    out, expected = rp.tensor(x).topk(k, dim=dim, largest=largest), torch.tensor(x).topk(k, dim, largest)
    _same(out.indices, expected.indices)
    if x.size > 1 and k:
        check_grad(lambda t: t.topk(k, dim, largest).values, x)


def test_topk_nan_integers_and_unsorted() -> None:
    x = np.array([3.0, nan, 1.0, inf, -2.0])
    for largest in (True, False):
        out = rp.topk(rp.tensor(x), 3, largest=largest)
        expected = torch.topk(torch.tensor(x), 3, largest=largest)
        _same(out.values, expected.values)
        _same(out.indices, expected.indices)
    ints = np.array([[1, 5, 3], [4, 2, 6]], np.int32)
    out, expected = rp.tensor(ints).topk(2), torch.tensor(ints).topk(2)
    _same(out.values, expected.values)
    _same(out.indices, expected.indices)
    # sorted=False: torch leaves the order unspecified; the same elements come back
    out = rp.topk(rp.tensor([5.0, 1.0, 4.0, 2.0, 3.0]), 3, sorted=False)
    assert sorted(out.values.data.tolist()) == [3.0, 4.0, 5.0]
    assert sorted(out.indices.data.tolist()) == [0, 2, 4]


def test_topk_ties_pick_tied_elements_with_their_gradient() -> None:
    x = rp.tensor([1.0, 2.0, 2.0, 1.0, 2.0], requires_grad=True)
    out = x.topk(2)
    np.testing.assert_array_equal(out.values.data, [2.0, 2.0])
    assert set(out.indices.data.tolist()) <= {1, 2, 4}
    out.values.sum().backward()
    np.testing.assert_array_equal(np.flatnonzero(x.grad), np.sort(out.indices.data))


# ---------------------------------------------------------------------------------------------
# cumsum, cumprod, cummax, cummin
# ---------------------------------------------------------------------------------------------
SCAN_SHAPES = [
    pytest.param((3, 4), 1, id="2d"),
    pytest.param((3, 4), -2, id="2d-neg-dim"),
    pytest.param((2, 3, 4), -1, id="3d"),
    pytest.param((1,), 0, id="size1"),
    pytest.param((), 0, id="0d"),
    pytest.param((), -1, id="0d-neg"),
    pytest.param((2, 0), 1, id="empty"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "dim"), SCAN_SHAPES)
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_cumsum_and_cumprod_match_torch(name: str, shape: tuple[int, ...], dim: int, dtype: Any) -> None:
    x = keyed_normal(shape, name)
    _parity(lambda t: getattr(rp, name)(t, dim), lambda t: getattr(torch, name)(t, dim), x, dtype=dtype)
    _parity(lambda t: getattr(t, name)(dim=dim), lambda t: getattr(t, name)(dim=dim), x, dtype=dtype)
    if x.size:
        check_grad(lambda t: getattr(t, name)(dim), x)


@pytest.mark.parametrize("x", [
    pytest.param(np.array([2.0, 0.0, 3.0, 0.0, 4.0]), id="two-zeros"),
    pytest.param(np.array([0.0, 1.5, -2.0]), id="zero-first"),
    pytest.param(np.array([1.5, -2.0, 0.0]), id="zero-last"),
    pytest.param(np.array([[1.5, 0.0, 2.0, -1.0], [0.5, 2.0, -3.0, 1.0], [0.0, 0.0, 2.0, 3.0]]), id="2d"),
])
def test_cumprod_gradient_where_the_input_has_zeros(x: np.ndarray) -> None:
    """No division by the zeros: the gradient is torch's, and central differences agree."""
    for dim in range(x.ndim):
        _parity(lambda t, d=dim: t.cumprod(d), lambda t, d=dim: t.cumprod(d), x)
        check_grad(lambda t, d=dim: t.cumprod(d), x)
    x3 = np.stack([x, x[..., ::-1] * 2])
    _parity(lambda t: t.cumprod(-1), lambda t: t.cumprod(-1), x3, dtype=np.float32)


@pytest.mark.parametrize("values", [
    pytest.param(np.array([[1, 2], [3, -4]], np.int32), id="int32"),
    pytest.param(np.array([200, 100], np.uint8), id="uint8"),
    pytest.param(np.array([True, True, False]), id="bool"),
    pytest.param(np.array([5, -3], np.int64), id="int64"),
    pytest.param(np.array(3, np.int32), id="0d-int32"),
    pytest.param(np.array([1.5, 2.25], np.float16), id="float16"),
])
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_scans_of_integers_give_int64_as_torch(name: str, values: np.ndarray) -> None:
    _same(getattr(rp, name)(rp.tensor(values), 0), getattr(torch, name)(torch.tensor(values), 0))


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_scans_take_a_dtype(name: str) -> None:
    ints, floats = np.array([1, 2, 3], np.int32), np.array([1.5, 2.0, -1.0], np.float32)
    for values, dtype, th_dtype in [(ints, np.float64, torch.float64), (ints, np.int32, torch.int32),
                                    (floats, np.float64, torch.float64), (floats, np.int64, torch.int64)]:
        _same(getattr(rp, name)(rp.tensor(values), 0, dtype=dtype),
              getattr(torch, name)(torch.tensor(values), 0, dtype=th_dtype))
    # float32 input, float64 result: the gradient comes back float32, as torch's
    _parity(lambda t: getattr(t, name)(0, dtype=rp.float64),
            lambda t: getattr(t, name)(0, dtype=torch.float64), floats, dtype=np.float32)
    with pytest.raises(RuntimeError, match="cannot carry gradients"):
        getattr(rp, name)(rp.tensor(floats, requires_grad=True), 0, dtype=rp.int64)
    with pytest.raises(TypeError, match="dim"):
        getattr(rp, name)(rp.tensor(floats))
    np.testing.assert_array_equal(getattr(rp, name)(rp.tensor(floats), axis=0).data,
                                  getattr(np, name)(floats, axis=0))


@pytest.mark.parametrize("x", [
    pytest.param(np.array([1.0, 3.0, 3.0, nan, 5.0, nan, 0.0, 3.0]), id="nan"),
    pytest.param(np.array([1.0, 1.0, 0.0, 1.0, 2.0, 2.0]), id="ties-up"),
    pytest.param(np.array([1.0, 1.0, 2.0, 1.0, 0.0, 0.0]), id="ties-down"),
    pytest.param(np.array([0.0, -0.0, 0.0, -inf, inf, inf]), id="signed-zeros-inf"),
    pytest.param(np.array([[2.0, 1.0, 2.0], [0.5, 0.5, 3.0]]), id="2d"),
    pytest.param(keyed_normal((2, 3, 4), "cum"), id="3d"),
    pytest.param(np.array([4.0]), id="size1"),
    pytest.param(np.array(4.0), id="0d"),
    pytest.param(np.zeros((2, 0)), id="empty"),
])
@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_and_cummin_match_torch(name: str, x: np.ndarray) -> None:
    """torch's indices: the last of equal extremes; after a NaN the value stays NaN, its index
    the latest NaN's. Gradients go to the indexed elements."""
    for dim in ([-1, 0] if x.ndim else [0, -1]):
        out, expected = getattr(rp.tensor(x), name)(dim), getattr(torch, name)(torch.tensor(x), dim)
        _same(out.values, expected.values)
        _same(out.indices, expected.indices)
        assert np.array_equal(np.signbit(out.values.data), np.signbit(expected.values.numpy()))
        _parity(lambda t, d=dim: getattr(rp, name)(t, d).values, lambda t, d=dim: getattr(t, name)(d).values,
                x, dtype=np.float32)
        if np.isfinite(x).all():
            _parity(lambda t, d=dim: getattr(t, name)(d)[0], lambda t, d=dim: getattr(t, name)(d)[0], x)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_and_cummin_finite_differences_and_integers(name: str) -> None:
    check_grad(lambda t: getattr(t, name)(-2).values, keyed_normal((3, 4, 2), name))
    for values in (np.array([1, 3, 2, 3], np.int32), np.array([False, True, False])):
        out, expected = getattr(rp, name)(rp.tensor(values), 0), getattr(torch, name)(torch.tensor(values), 0)
        _same(out.values, expected.values)
        _same(out.indices, expected.indices)


# ---------------------------------------------------------------------------------------------
# any, all, isclose, allclose, equal
# ---------------------------------------------------------------------------------------------
LOGICAL = [
    pytest.param(np.array([[0.0, 1.0, 2.0], [0.0, 0.0, nan]]), id="float-nan"),
    pytest.param(np.array([[[1, 0], [2, 3]], [[0, 0], [4, 5]]], np.int32), id="int32-3d"),
    pytest.param(np.array([0, 3, 0], np.uint8), id="uint8"),
    pytest.param(np.array([[True, False], [True, True]]), id="bool"),
    pytest.param(np.array([-0.0]), id="size1"),
    pytest.param(np.array(2.0), id="0d"),
    pytest.param(np.zeros((0, 2)), id="empty"),
]


@pytest.mark.parametrize("x", LOGICAL)
@pytest.mark.parametrize("name", ["any", "all"])
def test_any_and_all_match_torch(name: str, x: np.ndarray) -> None:
    t, th = rp.tensor(x), torch.tensor(x)
    _same(getattr(rp, name)(t), getattr(torch, name)(th))
    _same(getattr(t, name)(), getattr(th, name)())
    dims = [d for n in range(max(x.ndim, 1)) for d in (n, -1 - n)]
    for dim in [*dims, tuple(range(x.ndim)), ()]:
        for keepdim in (False, True):
            _same(getattr(t, name)(dim, keepdim=keepdim), getattr(th, name)(dim=dim, keepdim=keepdim))
    np.testing.assert_array_equal(getattr(t, name)(axis=0, keepdims=True).data,
                                  getattr(np, name)(x, axis=0 if x.ndim else None, keepdims=True))


def test_any_and_all_errors_as_torch() -> None:
    x = np.ones((2, 3))
    _both_raise(lambda: rp.tensor(x).any(2), lambda: torch.tensor(x).any(2), "any.*dimension out of range",
                IndexError)
    _both_raise(lambda: rp.tensor(x).all(dim=(0, -2)), lambda: torch.tensor(x).all(dim=(0, -2)),
                "all.*more than once")


ISCLOSE = [
    pytest.param(np.array([1.0, nan, inf, -inf, 1e-9, 1.0, inf, 0.0]),
                 np.array([1.0 + 1e-6, nan, inf, inf, 0.0, 1.0001, 6e4, -0.0]), id="special"),
    pytest.param(keyed_normal((3, 1), "a"), keyed_normal((4,), "b"), id="broadcast"),
    pytest.param(np.array(1.0), np.array([1.0, 1.0 + 1e-4]), id="0d"),
]


@pytest.mark.parametrize(("a", "b"), ISCLOSE)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_isclose_and_allclose_match_torch(a: np.ndarray, b: np.ndarray, dtype: Any) -> None:
    a, b = a.astype(dtype), b.astype(dtype)
    for options in ({}, {"equal_nan": True}, {"rtol": 1e-3, "atol": 0.0}, {"rtol": 0.0, "atol": 0.0},
                    {"rtol": 0.0, "atol": 1.0}):
        ra, rb, ta, tb = rp.tensor(a), rp.tensor(b), torch.tensor(a), torch.tensor(b)
        _same(rp.isclose(ra, rb, **options), torch.isclose(ta, tb, **options))
        _same(ra.isclose(rb, **options), ta.isclose(tb, **options))
        assert rp.allclose(ra, rb, **options) is torch.allclose(ta, tb, **options)
        assert ra.allclose(ra, **options) is ta.allclose(ta, **options)


def test_isclose_integers_and_bools_as_torch() -> None:
    cases = [(np.array([1, 2, 100, 1_000_000_000]), np.array([1, 3, 101, 1_000_000_001])),
             (np.array([2**31 - 1, 5], np.int32), np.array([-(2**31), 5], np.int32)),
             (np.array([True, False, True]), np.array([True, True, False]))]
    for a, b in cases:
        for options in ({}, {"rtol": 0.01, "atol": 0.0}, {"rtol": 0.0, "atol": 1.0}):
            _same(rp.isclose(rp.tensor(a), rp.tensor(b), **options),
                  torch.isclose(torch.tensor(a), torch.tensor(b), **options))


def test_isclose_errors_as_torch() -> None:
    a, b = np.ones(2, np.float32), np.ones(2)
    _both_raise(lambda: rp.isclose(rp.tensor(a), rp.tensor(b)),
                lambda: torch.isclose(torch.tensor(a), torch.tensor(b)), "isclose.*same dtype")
    _both_raise(lambda: rp.isclose(rp.tensor(b), rp.tensor(b), rtol=-1),
                lambda: torch.isclose(torch.tensor(b), torch.tensor(b), rtol=-1), "rtol must be greater")
    _both_raise(lambda: rp.allclose(rp.tensor(b), rp.tensor(b), atol=-1),
                lambda: torch.allclose(torch.tensor(b), torch.tensor(b), atol=-1), "atol must be greater")
    _both_raise(lambda: rp.allclose(rp.ones(2), rp.ones(3)),
                lambda: torch.allclose(torch.ones(2), torch.ones(3)), "cannot be broadcast")
    _both_raise(lambda: rp.isclose(rp.ones(2), 1.0), lambda: torch.isclose(torch.ones(2), 1.0),
                "must be a Tensor", TypeError)


def test_equal_as_torch() -> None:
    cases = [(np.ones(2), np.ones(2)), (np.ones(2), np.ones(1)), (np.ones((2, 1)), np.ones(2)),
             (np.ones(2, np.float32), np.ones(2)), (np.ones(2), np.ones(2, np.int64)),
             (np.array([nan]), np.array([nan])), (np.array([0.0]), np.array([-0.0])),
             (np.array(3.0), np.array(3.0)), (np.array([1.0, 2.0]), np.array([1.0, 2.5]))]
    for a, b in cases:
        assert rp.equal(rp.tensor(a), rp.tensor(b)) is torch.equal(torch.tensor(a), torch.tensor(b))
        assert rp.tensor(a).equal(rp.tensor(b)) is torch.equal(torch.tensor(a), torch.tensor(b))


def test_tests_give_no_graph() -> None:
    x = rp.tensor([1.0, 0.0], requires_grad=True)
    for out in (x.any(), x.all(0), rp.isclose(x, x), x.argsort()):
        assert not out.requires_grad


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
def _pair(x: np.ndarray, index: Any) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    def tensor(module: Any, value: Any) -> Any:
        return module.tensor(value) if isinstance(value, np.ndarray) else value
    return (rp.tensor(x), tensor(rp, index)), (torch.tensor(x), tensor(torch, index))


X = np.arange(6.0).reshape(2, 3)
OUT_OF_RANGE = [
    pytest.param("gather", lambda m, x, i: m.gather(x, 1, i), _ints([[0], [5]]),
                 r"gather\(\): index 5 .*dimension 1 with size 3", id="gather"),
    pytest.param("gather", lambda m, x, i: m.gather(x, 0, i), _ints([[0, -1]]),
                 r"index -1 .*dimension 0 with size 2", id="gather-negative"),
    pytest.param("scatter", lambda m, x, i: m.scatter(x, -1, i, 1.0), _ints([[0], [3]]),
                 r"scatter\(\): index 3 .*dimension 1 with size 3", id="scatter"),
    pytest.param("scatter_add", lambda m, x, i: m.scatter_add(x, 0, i, m.ones(1, 1, dtype=m.float64)),
                 _ints([[2]]), r"scatter_add\(\): index 2 .*dimension 0", id="scatter_add"),
    pytest.param("index_select", lambda m, x, i: m.index_select(x, 1, i), _ints([0, 3]),
                 r"index_select\(\): index 3 .*dimension 1 with size 3", id="index_select"),
    pytest.param("index_select", lambda m, x, i: m.index_select(x, 1, i), _ints([-1]),
                 r"index_select\(\): index -1", id="index_select-negative"),
]


@pytest.mark.parametrize(("name", "call", "index", "match"), OUT_OF_RANGE)
def test_indices_out_of_range_raise_as_torch(name: str, call: Any, index: np.ndarray, match: str) -> None:
    (rx, ri), (tx, ti) = _pair(X, index)
    rx.requires_grad = True
    error = _both_raise(lambda: call(rp, rx, ri), lambda: call(torch, tx, ti), match)
    assert isinstance(error, IndexError) and name in str(error)


def test_take_along_dim_out_of_range_raises() -> None:
    with pytest.raises(IndexError, match=r"take_along_dim\(\): index 3 .*dimension 1 with size 3"):
        rp.take_along_dim(rp.tensor(X), rp.tensor([[0, 3]]), 1)
    with pytest.raises(IndexError, match=r"index -1 .*dimension 0 with size 6"):
        rp.take_along_dim(rp.tensor(X), rp.tensor([-1]))  # torch refuses negatives without a dim
    with pytest.raises(IndexError, match=r"index -4 .*dimension 1 with size 3"):
        rp.take_along_dim(rp.tensor(X), rp.tensor([[-4]]), -1)


BAD_INDEX = [
    pytest.param(lambda m, x, i: m.gather(x, 1, i), id="gather"),
    pytest.param(lambda m, x, i: m.scatter(x, 1, i, 0.0), id="scatter"),
    pytest.param(lambda m, x, i: m.scatter_add(x, 1, i, x), id="scatter_add"),
    pytest.param(lambda m, x, i: m.index_select(x, 1, i[0]), id="index_select"),
]


@pytest.mark.parametrize("call", BAD_INDEX)
@pytest.mark.parametrize("dtype", [np.float32, np.int16, bool])
def test_index_of_a_wrong_dtype_raises_as_torch(call: Any, dtype: Any) -> None:
    (rx, ri), (tx, ti) = _pair(X, np.zeros((2, 1), dtype))
    error = _both_raise(lambda: call(rp, rx, ri), lambda: call(torch, tx, ti),
                        "expected dtype int64/int32 for index")
    assert isinstance(error, TypeError)
    with pytest.raises(TypeError, match=r"take_along_dim\(\): expected dtype int64 for indices, got int32"):
        rp.take_along_dim(rx, rp.tensor(np.zeros((2, 1), np.int32)), 1)
    with pytest.raises(TypeError, match="argument 'index' must be a Tensor, not list"):
        call(rp, rx, [[0], [1]])


SHAPE_ERRORS = [
    pytest.param(lambda m, x: m.gather(x, 1, m.tensor([0, 1])), "same number of dimensions",
                 id="gather-ndim"),
    pytest.param(lambda m, x: m.gather(x, 1, m.tensor([[0], [1], [1]])), "no larger than input",
                 id="gather-size"),
    pytest.param(lambda m, x: m.scatter(x, 1, m.tensor([0, 1]), m.ones(2, 1, dtype=m.float64)),
                 "same number of dimensions", id="scatter-ndim"),
    pytest.param(lambda m, x: m.scatter(x, 1, m.tensor([[0, 1], [2, 1]]), m.ones(2, 1, dtype=m.float64)),
                 "no larger than src", id="scatter-src"),
    pytest.param(lambda m, x: m.scatter(x, 1, m.tensor([[0]]), m.ones(1, 1)), "dtype", id="scatter-dtype"),
    pytest.param(lambda m, x: m.masked_fill(x, m.ones(2, 3, dtype=m.uint8), 1.0), "boolean masks",
                 id="masked_fill-uint8"),
    pytest.param(lambda m, x: m.masked_fill(x, m.ones(2, dtype=m.bool), 1.0), "cannot be broadcast",
                 id="masked_fill-shape"),
    pytest.param(lambda m, x: m.masked_fill(x, m.ones(3, dtype=m.bool), m.ones(1)), "0-dimensional value",
                 id="masked_fill-value"),
    pytest.param(lambda m, x: m.masked_fill(x.long(), m.ones(3, dtype=m.bool), float("nan")), "overflow",
                 id="masked_fill-overflow"),
    pytest.param(lambda m, x: m.topk(x, 4), "k=4 out of range", id="topk-k"),
    pytest.param(lambda m, x: m.topk(x, -1), "out of range", id="topk-negative"),
    pytest.param(lambda m, x: m.topk(x > 1, 1), "bool", id="topk-bool"),
]


@pytest.mark.parametrize(("call", "match"), SHAPE_ERRORS)
def test_bad_arguments_raise_as_torch(call: Any, match: str) -> None:
    _both_raise(lambda: call(rp, rp.tensor(X)), lambda: call(torch, torch.tensor(X)), match)


@pytest.mark.parametrize("call", [
    pytest.param(lambda m, x: m.gather(x, 2, m.tensor([[0]])), id="gather"),
    pytest.param(lambda m, x: m.scatter(x, -3, m.tensor([[0]]), 1.0), id="scatter"),
    pytest.param(lambda m, x: m.index_select(x, 2, m.tensor([0])), id="index_select"),
    pytest.param(lambda m, x: m.sort(x, 2), id="sort"),
    pytest.param(lambda m, x: m.argsort(x, -3), id="argsort"),
    pytest.param(lambda m, x: m.topk(x, 1, 2), id="topk"),
    pytest.param(lambda m, x: m.cumsum(x, 2), id="cumsum"),
    pytest.param(lambda m, x: m.cumprod(x, -3), id="cumprod"),
    pytest.param(lambda m, x: m.cummax(x, 2), id="cummax"),
    pytest.param(lambda m, x: m.cummin(x[0, 0], 1), id="cummin-0d"),
])
def test_dims_out_of_range_raise_index_error_as_torch(call: Any) -> None:
    _both_raise(lambda: call(rp, rp.tensor(X)), lambda: call(torch, torch.tensor(X)),
                r"dimension out of range \(expected to be in range of", IndexError)


def test_topk_k_must_be_an_int() -> None:
    _both_raise(lambda: rp.topk(rp.tensor(X), 1.0), lambda: torch.topk(torch.tensor(X), 1.0),
                "'k' must be int", TypeError)


def test_index_select_index_must_be_a_vector() -> None:
    _both_raise(lambda: rp.tensor(X).index_select(1, rp.tensor([[0]])),
                lambda: torch.tensor(X).index_select(1, torch.tensor([[0]])), "must be a vector", IndexError)
    _both_raise(lambda: rp.tensor(2.0).index_select(0, rp.tensor([0, 0])),
                lambda: torch.tensor(2.0).index_select(0, torch.tensor([0, 0])), "one value", RuntimeError)


def test_scatter_needs_src_or_value() -> None:
    x, index = rp.tensor(X), rp.tensor([[0]])
    with pytest.raises(TypeError, match="either src"):
        rp.scatter(x, 1, index)
    with pytest.raises(TypeError, match="either src"):
        x.scatter(1, index, rp.ones(1, 1, dtype=rp.float64), value=1.0)
    with pytest.raises(TypeError, match=r"'src' must be a Tensor"):
        x.scatter_add(1, index, 1.0)


# ---------------------------------------------------------------------------------------------
# Engine: saved indices, return types, exports
# ---------------------------------------------------------------------------------------------
def test_an_index_written_in_place_after_use_is_caught() -> None:
    x = rp.tensor(X, requires_grad=True)
    index = rp.tensor([[0], [2]])
    y = x.gather(1, index)
    index.data[0, 0] = 1
    with pytest.raises(rp.ModifiedInPlaceError):
        y.sum().backward()


@pytest.mark.parametrize("op", [lambda t: t.sort(1), lambda t: t.topk(2), lambda t: t.cummax(-1)])
def test_returned_indices_written_in_place_are_caught(op: Any) -> None:
    """Backward reads the indices it returned, as torch's: writing them in place first raises."""
    x = rp.tensor(keyed_normal((2, 3), "write"), requires_grad=True)
    values, indices = op(x)
    indices.data[0, 0] = 1
    with pytest.raises(rp.ModifiedInPlaceError):
        values.sum().backward()


def test_results_unpack_as_torchs_return_types() -> None:
    x = rp.tensor(keyed_normal((2, 3), "types"), requires_grad=True)
    for result in (x.sort(), x.topk(2), x.cummax(1), x.cummin(0)):
        values, indices = result
        assert values is result.values and indices is result.indices
        assert indices.dtype == np.int64 and not indices.requires_grad
        assert values.requires_grad and values.dtype == np.float64
        assert repr(result).startswith(type(result).op + "(values=")


def test_methods_and_exports() -> None:
    namespace: dict = {}
    exec("from retroprop import *", namespace)
    assert {"gather", "scatter", "sort", "topk", "cumsum", "cummax", "isclose", "allclose"} <= set(namespace)
    assert "any" not in namespace and "all" not in namespace  # Python's own stay visible
    assert rp.any is rp.selection.any and rp.all is not all
    x = rp.tensor(X)
    np.testing.assert_array_equal(x.cumsum(1).data, rp.cumsum(x, 1).data)
    assert np.all(x >= 0) and not np.any(x > 5)  # NumPy calls the methods with out=None
    assert x.allclose(x) is True and x.equal(x) is True
