"""PyTorch's meaning for PyTorch's names (issue 14's silent traps): transpose, max/min(dim),
var/std's default estimate, type promotion, ``0 ** x``'s gradient and in-place updates.

Each case once gave a wrong result without an error; each is compared with torch 2.x itself
(forward values, dtypes and gradients) and, for the differentiable ops, with float64 finite
differences."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from tests.helpers import assert_matches_torch, check_grad, keyed_normal

# torch warns (a UserWarning) on .T of a 1-D tensor and on var/std without degrees of freedom
pytestmark = [pytest.mark.torch,
              pytest.mark.filterwarnings("ignore:.*(deprecated|degrees of freedom):UserWarning")]
torch = pytest.importorskip("torch")

DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
randn = keyed_normal
# forward values, gradients and the output's dtype as torch's
_parity = partial(assert_matches_torch, check_dtype=True)


# ---------------------------------------------------------------------------------------------
# transpose, .T, .mT, permute
# ---------------------------------------------------------------------------------------------
TRANSPOSES = [
    pytest.param((3, 4), lambda t: t.transpose(0, 1), id="2d-0-1"),
    pytest.param((3, 4), lambda t: t.transpose(1, 0), id="2d-1-0"),
    pytest.param((3, 4), lambda t: t.transpose(-1, -2), id="2d-negative"),
    pytest.param((3, 4), lambda t: t.transpose(1, 1), id="2d-same"),
    pytest.param((2, 3, 4), lambda t: t.transpose(1, 2), id="3d-1-2"),
    pytest.param((2, 3, 4), lambda t: t.transpose(0, 2), id="3d-0-2"),
    pytest.param((2, 3, 4), lambda t: t.transpose(-3, -1), id="3d-negative"),
    pytest.param((2, 3, 4, 5), lambda t: t.transpose(1, 3) * t.transpose(3, 1), id="4d-twice"),
    pytest.param((5,), lambda t: t.transpose(0, -1), id="1d"),
    pytest.param((), lambda t: t.transpose(0, -1), id="0d"),
    pytest.param((3, 4), lambda t: t.T, id="T-2d"),
    pytest.param((4,), lambda t: t.T, id="T-1d"),
    pytest.param((2, 3, 4), lambda t: t.mT, id="mT-3d"),
    pytest.param((3, 4), lambda t: t.mT, id="mT-2d"),
    pytest.param((2, 3, 4), lambda t: t.permute(2, 0, 1), id="permute"),
    pytest.param((2, 3, 4), lambda t: t.permute((-1, 0, 1)), id="permute-tuple"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "fn"), TRANSPOSES)
def test_transpose_family_as_torch(shape, fn, dtype):
    _parity(fn, fn, randn(shape, "transpose"), dtype=dtype)


@pytest.mark.parametrize(("shape", "fn"), TRANSPOSES)
def test_transpose_family_gradient(shape, fn):
    check_grad(fn, randn(shape, "transpose-grad"))


def test_transpose_2d_swaps_instead_of_returning_the_input():
    x = rp.tensor(np.arange(6.0).reshape(2, 3))
    assert x.transpose(0, 1).tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]


def test_transpose_refuses_numpy_spellings_naming_permute():
    x = rp.ones(2, 3, 4)
    for call in (lambda: x.transpose(), lambda: x.transpose(2, 0, 1), lambda: x.transpose((2, 0, 1)),
                 lambda: x.transpose(1)):
        with pytest.raises(TypeError, match=r"permute"):
            call()
    with pytest.raises(IndexError, match=r"\[-3, 2\], but got 3"):
        x.transpose(0, 3)
    with pytest.raises(RuntimeError, match="mT"):
        _ = rp.ones(3).mT
    with pytest.raises(ValueError, match="not a permutation"):
        x.permute(0, 0, 1)


def test_transpose_keywords_as_torch():
    x = randn((2, 3, 4), "kw")
    np.testing.assert_array_equal(rp.tensor(x).transpose(dim0=0, dim1=2).data,
                                  torch.tensor(x).transpose(dim0=0, dim1=2).numpy())


# ---------------------------------------------------------------------------------------------
# max / min
# ---------------------------------------------------------------------------------------------
TIES = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [-1.0, 0.0, -1.0]])


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("call", [
    pytest.param(lambda t, f: getattr(t, f)(1), id="positional"),
    pytest.param(lambda t, f: getattr(t, f)(0, True), id="positional-keepdim"),
    pytest.param(lambda t, f: getattr(t, f)(dim=-1), id="dim"),
    pytest.param(lambda t, f: getattr(t, f)(dim=1, keepdim=True), id="dim-keepdim"),
    pytest.param(lambda t, f: getattr(t, f)(axis=0), id="axis"),
])
@pytest.mark.parametrize("data", [pytest.param(randn((3, 4), "max"), id="random"),
                                  pytest.param(TIES, id="ties")])
def test_max_min_dim_return_values_and_indices(name, call, data):
    rp_out = call(rp.tensor(data), name)
    th_out = call(torch.tensor(data), name)
    values, indices = rp_out
    assert values is rp_out.values and indices is rp_out.indices and rp_out[1] is indices
    np.testing.assert_array_equal(values.data, th_out.values.numpy())
    np.testing.assert_array_equal(indices.data, th_out.indices.numpy())
    assert indices.dtype == np.int64 and values.shape == tuple(th_out.values.shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_max_min_dim_gradient_goes_to_the_index(name, dim, dtype):
    """torch routes max(dim)'s gradient to the chosen index, even on ties (amax splits it)."""
    _parity(lambda t: getattr(t, name)(dim).values, lambda t: getattr(t, name)(dim).values, TIES,
            dtype=dtype)
    _parity(lambda t: getattr(t, name)(dim, keepdim=True)[0] * 2.0,
            lambda t: getattr(t, name)(dim, keepdim=True)[0] * 2.0, randn((3, 4), "g"), dtype=dtype)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_dim_finite_differences(name):
    check_grad(lambda t: getattr(t, name)(1).values, randn((3, 5), "fd"))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_without_dim_and_against_a_tensor(name, dtype):
    _parity(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), TIES, dtype=dtype)
    other = randn((3, 3), "other")
    _parity(lambda a, b: getattr(a, name)(b), lambda a, b: getattr(a, name)(b), TIES, other,
            dtype=dtype)


def test_max_min_of_0d_and_errors():
    values, indices = rp.tensor(2.5).max(0)
    th = torch.tensor(2.5).max(0)
    assert values.item() == th.values.item() and indices.item() == th.indices.item() == 0
    with pytest.raises(TypeError, match="amax"):
        rp.ones(2, 3).max(dim=(0, 1))
    with pytest.raises(IndexError, match="non-zero size"):
        rp.ones(2, 0).max(1)
    with pytest.raises(IndexError, match="out of range"):
        rp.ones(2, 3).min(2)


def test_max_index_is_the_index_not_the_value():
    """The trap: x.max(1)[1] once gave the values."""
    x = rp.tensor([[0.1, 0.9, 0.0], [0.7, 0.2, 0.1]])
    assert x.max(1)[1].tolist() == [1, 0]


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("kwargs", [{}, {"dim": 1}, {"dim": 0, "keepdim": True}, {"dim": -1}])
def test_argmax_argmin_as_torch(name, kwargs):
    rp_out = getattr(rp.tensor(TIES), name)(**kwargs)
    th_out = getattr(torch.tensor(TIES), name)(**kwargs)
    np.testing.assert_array_equal(rp_out.data, th_out.numpy())
    assert rp_out.shape == tuple(th_out.shape)


# ---------------------------------------------------------------------------------------------
# var / std
# ---------------------------------------------------------------------------------------------
SPREADS = [
    pytest.param(lambda t, f: getattr(t, f)(), id="default"),
    pytest.param(lambda t, f: getattr(t, f)(1), id="dim"),
    pytest.param(lambda t, f: getattr(t, f)(dim=0, keepdim=True), id="dim-keepdim"),
    pytest.param(lambda t, f: getattr(t, f)(1, False), id="dim-unbiased-false"),
    pytest.param(lambda t, f: getattr(t, f)(1, True, True), id="positional-keepdim"),
    pytest.param(lambda t, f: getattr(t, f)(False), id="unbiased-overload"),
    pytest.param(lambda t, f: getattr(t, f)(unbiased=False), id="unbiased-kw"),
    pytest.param(lambda t, f: getattr(t, f)(dim=(0, 1), correction=0), id="correction-0"),
    pytest.param(lambda t, f: getattr(t, f)(dim=1, correction=2), id="correction-2"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("call", SPREADS)
def test_var_std_as_torch(name, call, dtype):
    _parity(lambda t: call(t, name), lambda t: call(t, name), randn((3, 4), "spread"), dtype=dtype)


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("call", SPREADS)
def test_var_std_finite_differences(name, call):
    check_grad(lambda t: call(t, name), randn((3, 4), "spread-fd"))


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_of_one_value_is_nan_as_torch(name):
    _parity(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), np.array([3.0]))
    _parity(lambda t: getattr(t, name)(1), lambda t: getattr(t, name)(1), randn((3, 1), "one"))
    assert np.isnan(getattr(rp.tensor([3.0]), name)().item())


def test_var_default_is_unbiased_and_numpy_ddof_is_explicit():
    x = randn((6,), "ddof")
    np.testing.assert_allclose(rp.tensor(x).var().item(), np.var(x, ddof=1))
    np.testing.assert_allclose(rp.tensor(x).std(ddof=0).item(), np.std(x))
    with pytest.raises(TypeError, match="one of"):
        rp.tensor(x).var(unbiased=True, correction=0)


def test_batch_norm_still_normalizes_by_the_biased_variance():
    """BatchNorm's numbers are unchanged: biased variance to normalize, unbiased into running_var."""
    x = randn((8, 3), "bn")
    layer = rp.nn.BatchNorm1d(3)
    out = layer(rp.tensor(x)).data
    np.testing.assert_allclose(out, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.running_var, 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Type promotion
# ---------------------------------------------------------------------------------------------
INTS = np.array([1, 2, 7])
PROMOTIONS = [
    pytest.param(lambda a: a / a, id="int/int"),
    pytest.param(lambda a: a / 2, id="int/python-int"),
    pytest.param(lambda a: 3 / a, id="python-int/int"),
    pytest.param(lambda a: a * 0.5, id="int*float"),
    pytest.param(lambda a: 0.5 + a, id="float+int"),
    pytest.param(lambda a: a - np.float64(0.25), id="int-np.float64"),
    pytest.param(lambda a: a.exp(), id="exp"),
    pytest.param(lambda a: a.log(), id="log"),
    pytest.param(lambda a: a.sqrt(), id="sqrt"),
    pytest.param(lambda a: a**0.5, id="int**float"),
    pytest.param(lambda a: 2.0**a, id="float**int"),
    pytest.param(lambda a: a + 1, id="int+int"),
    pytest.param(lambda a: a * True, id="int*bool"),
    pytest.param(lambda a: (a > 1) + 1, id="bool+int"),
    pytest.param(lambda a: a.float() * a, id="f32*int64"),
    pytest.param(lambda a: a.double() / a, id="f64/int64"),
]


@pytest.mark.parametrize("fn", PROMOTIONS)
def test_promotion_as_torch(fn):
    rp_out = fn(rp.tensor(INTS))
    th_out = fn(torch.tensor(INTS))
    assert rp_out.dtype == th_out.numpy().dtype, f"{rp_out.dtype} vs torch {th_out.dtype}"
    np.testing.assert_allclose(rp_out.data, th_out.numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_float_tensor_with_int_tensor_keeps_the_float_dtype_and_gradient(dtype):
    _parity(lambda x: x * rp.tensor(INTS) / rp.tensor(INTS + 1),
            lambda x: x * torch.tensor(INTS) / torch.tensor(INTS + 1), randn((3,), "mix"), dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Powers at zero
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("base", [0, 0.0, 2.0, 0.5])
def test_scalar_base_power_gradient_as_torch(base, dtype):
    _parity(lambda e: base**e, lambda e: base**e, np.array([0.0, 1.0, 2.0, -1.0, 0.5]), dtype=dtype)
    _parity(lambda e: base**e, lambda e: base**e, np.array(0.0), dtype=dtype)


def test_zero_to_a_tensor_power_backward_gives_zeros():
    """The trap: (0 ** x).backward() once gave [-inf, nan, nan]."""
    e = rp.tensor([0.0, 1.0, 2.0], requires_grad=True)
    (0**e).sum().backward()
    np.testing.assert_array_equal(e.grad, [0.0, 0.0, 0.0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_power_zero_gradient_as_torch(dtype):
    _parity(lambda x: x**0, lambda x: x**0, np.array([0.0, 1.5, -2.0]), dtype=dtype)
    _parity(lambda x: x**0.0, lambda x: x**0.0, np.array(0.0), dtype=dtype)
    _parity(lambda x: x**2, lambda x: x**2, np.array([0.0, 1.5, -2.0]), dtype=dtype)


def test_scalar_base_power_finite_differences():
    check_grad(lambda e: 2.0**e, randn((4,), "pow"))
    check_grad(lambda e: 0.5**e * e, randn((4,), "pow2"))


# ---------------------------------------------------------------------------------------------
# In-place updates
# ---------------------------------------------------------------------------------------------
def test_in_place_update_under_no_grad_changes_the_parameter():
    """The trap: ``p -= lr * p.grad`` in a loop over parameters once rebound ``p`` only."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64, 1))
    y = 3.0 * x - 0.5
    w = rp.tensor(np.zeros((1, 1)), requires_grad=True)
    b = rp.tensor(np.zeros(1), requires_grad=True)
    losses = []
    for _ in range(200):
        loss = ((rp.tensor(x) @ w + b - rp.tensor(y)) ** 2).mean()
        losses.append(loss.item())
        loss.backward()
        with rp.no_grad():
            for p in (w, b):
                p -= 0.1 * p.grad
                p.grad = None
    assert losses[-1] < 1e-3 * losses[0]
    np.testing.assert_allclose([w.item(), b.item()], [3.0, -0.5], atol=1e-2)


def test_in_place_ops_write_into_the_tensor_as_torch():
    for op in ("__iadd__", "__isub__", "__imul__", "__itruediv__"):
        a = rp.tensor([1.0, 2.0, 4.0])
        alias = a.detach()  # shares the array, as torch's detach
        result = getattr(a, op)(rp.tensor([2.0, 2.0, 2.0]))
        t = torch.tensor([1.0, 2.0, 4.0])
        getattr(t, op)(torch.tensor([2.0, 2.0, 2.0]))
        assert result is a
        np.testing.assert_array_equal(alias.data, t.numpy())


def test_in_place_on_a_leaf_that_requires_grad_raises_as_torch():
    a = rp.tensor([1.0, 2.0], requires_grad=True)
    (a * a).sum().backward()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        a -= 0.1 * a.grad
    np.testing.assert_array_equal(a.data, [1.0, 2.0])  # untouched
    (a * a).sum().backward()  # the next backward still works
    np.testing.assert_array_equal(a.grad, [4.0, 8.0])


def test_in_place_change_of_a_saved_tensor_is_caught_at_backward():
    w = rp.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    with rp.no_grad():
        w -= 1.0
    with pytest.raises(rp.ModifiedInPlaceError):
        loss.backward()


def test_in_place_on_a_non_leaf_records_a_new_node():
    a = rp.tensor([1.0, 2.0], requires_grad=True)
    h = a * 2.0
    h += a
    h.sum().backward()
    np.testing.assert_array_equal(a.grad, [3.0, 3.0])


def test_in_place_division_of_an_integer_tensor_is_refused():
    x = rp.tensor([1, 2])
    with pytest.raises(TypeError):
        x /= 2
    with pytest.raises(TypeError):
        x += 0.5
    assert x.tolist() == [1, 2]


def test_item_assignment_and_augmented_item_assignment_as_torch():
    x, t = rp.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([1.0, 2.0, 3.0, 4.0])
    for target in (x, t):
        target[0] += 1.0
        target[1:3] *= 2.0
        target[-1] = 9.0
    np.testing.assert_array_equal(x.data, t.numpy())
    m = rp.tensor(np.zeros((2, 3)))
    m[:, 1] = rp.tensor([1.0, 2.0])
    np.testing.assert_array_equal(m.data, [[0.0, 1.0, 0.0], [0.0, 2.0, 0.0]])


def test_item_assignment_in_a_graph_raises():
    w = rp.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w[0] = 3.0
    h = w * 2.0
    with pytest.raises(RuntimeError, match=r"rp\.where"):
        h[0] = 0.0
    with rp.no_grad():
        w[0] = 3.0
    assert w.tolist() == [3.0, 2.0]
    loss = (w * w).sum()
    with rp.no_grad():
        w[1] = 0.0
    with pytest.raises(rp.ModifiedInPlaceError):
        loss.backward()


# ---------------------------------------------------------------------------------------------
# Integers beside index arrays
# ---------------------------------------------------------------------------------------------
def _torch_index(index: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(torch.from_numpy(p) if isinstance(p, np.ndarray) else p for p in index)


ROWS, COLS, MASK = np.array([0, 1, 1]), np.array([1, 2, 0]), np.array([True, False, True, True])
INDICES = [
    pytest.param((0, slice(None), COLS), id="int-slice-array"),
    pytest.param((slice(None), 0, slice(None), COLS), id="slice-int-slice-array"),
    pytest.param((Ellipsis, 1, COLS), id="ellipsis-int-array"),
    pytest.param((0, None, slice(None), COLS), id="int-newaxis-array"),
    pytest.param((1, slice(None), MASK), id="int-slice-mask"),
    pytest.param((ROWS, 0, COLS), id="array-int-array"),
    pytest.param((ROWS, slice(None), 0), id="array-slice-int"),
    pytest.param((ROWS, slice(None), COLS), id="arrays-around-a-slice"),
    pytest.param((np.int64(1), slice(1, 3), COLS, 2), id="numpy-int"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index", INDICES)
def test_integers_beside_index_arrays_place_dims_as_torch(index, dtype):
    """An integer selects first in torch; NumPy counts it as an index array (other dims order)."""
    _parity(lambda t: t[index], lambda t: t[_torch_index(index)], randn((2, 3, 4, 5), "idx"),
            dtype=dtype)


@pytest.mark.parametrize("index", INDICES)
def test_integers_beside_index_arrays_gradient(index):
    check_grad(lambda t: t[index], randn((2, 3, 4, 5), "idx-fd"))
