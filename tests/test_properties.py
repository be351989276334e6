"""Property tests: elementwise, broadcasting and reduction ops on random shapes (hypothesis).

(a)-(d) are checked against references computed with NumPy alone, never through retroprop;
(e) and (f) are laws the engine must obey, checked against retroprop runs on fresh graphs:

(a) the forward of ``+ - * /``, ``maximum``, ``minimum`` and ``where`` equals NumPy's, with NumPy's
    result shape and dtype promotion, for mutually broadcastable shapes;
(b) gradients of the broadcasting binary ops have exactly the inputs' shapes and equal the
    analytic derivative, summed back onto each input by an independent ``np.bincount``
    reference (leading added axes and stretched size-1 axes alike);
(c) ``sum``/``mean``/``max``/``min``/``var``/``std`` over random axes (None, int, tuple, negative)
    with and without keepdims: forward equals NumPy (ddof=0); gradients are ones, 1/n, and an
    equal share among tied maxima; every reduction passes a float64 central-difference check;
(d) ``exp``/``log``/``sqrt``/``abs``/``tanh``/``sigmoid``/``relu``: gradient equals the NumPy
    analytic derivative (inputs kept away from kinks);
(e) gradients accumulate: backward on two separately built graphs sums into ``.grad``, without
    disturbing other leaves or the caller's upstream arrays;
(f) linearity: the gradient of ``alpha * f`` is ``alpha`` times the gradient of ``f``.

The example budget comes from the hypothesis profile in conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import retroprop as rp
from retroprop import F
from tests.helpers import away_from, check_grad

# Pure arithmetic on float64: the engine and the reference differ only in summation order.
EXACT = {"rtol": 1e-10, "atol": 1e-12}
NUMERIC_DTYPES = (np.int32, np.int64, np.float32, np.float64)


# ---------------------------------------------------------------------------------------------
# Strategies and references
# ---------------------------------------------------------------------------------------------
def elements(dtype: Any, low: float = -10.0, high: float = 10.0) -> st.SearchStrategy[Any]:
    """Bounded finite elements of ``dtype`` (bounds must be exact in float32)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return st.floats(low, high, allow_nan=False, allow_infinity=False,
                         width=8 * dtype.itemsize)
    return st.integers(int(low), int(high))


def nonzero_elements(dtype: Any, low: float = 0.5, high: float = 10.0) -> st.SearchStrategy[Any]:
    """Elements with ``low <= |x| <= high``: safe divisors."""
    positive = elements(dtype, max(low, 1.0) if np.dtype(dtype).kind != "f" else low, high)
    return st.one_of(positive, positive.map(lambda v: -v))


def arrays(dtype: Any, shape: tuple[int, ...], elems: st.SearchStrategy[Any] | None = None,
           **kwargs: Any) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(dtype, shape, elements=elems if elems is not None else elements(dtype),
                      **kwargs)


def broadcast_shapes(num_shapes: int, min_side: int = 1) -> st.SearchStrategy[Any]:
    return hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=0, max_dims=4,
                                             min_side=min_side, max_side=4)


def any_axis(ndim: int, allow_empty: bool = True) -> st.SearchStrategy[Any]:
    """None, an int (possibly negative) or a tuple of distinct axes (possibly negative)."""
    if ndim == 0:
        return st.sampled_from([None, ()]) if allow_empty else st.none()
    return st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                     hnp.valid_tuple_axes(ndim, min_size=0 if allow_empty else 1))


def upstream(data: st.DataObject, shape: tuple[int, ...]) -> np.ndarray:
    """The gradient to seed backward with: ones, or random positive weights."""
    if data.draw(st.booleans(), label="ones upstream"):
        return np.ones(shape)
    seed = data.draw(st.integers(0, 2**32 - 1), label="upstream seed")
    return np.random.default_rng(seed).uniform(0.5, 1.5, size=shape)


def unbroadcast_ref(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` (of the broadcast shape) onto an input of ``shape``.

    Independent of any axis bookkeeping: each input element is labelled with its flat index,
    the labels are broadcast like the input was, and ``bincount`` adds every output element's
    gradient into the input element it was read from.
    """
    size = int(np.prod(shape, dtype=np.int64))
    labels = np.broadcast_to(np.arange(size).reshape(shape), grad.shape)
    summed = np.bincount(labels.ravel(), weights=grad.ravel(), minlength=size)
    return summed.reshape(shape)


def normalized_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else axis
    return tuple(sorted(a % ndim for a in axes))


# ---------------------------------------------------------------------------------------------
# (a) Forward of binary ops equals NumPy, with NumPy's dtype promotion
# ---------------------------------------------------------------------------------------------
BINARY: dict[str, tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]] = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.true_divide),
    "maximum": (rp.maximum, np.maximum),
    "minimum": (rp.minimum, np.minimum),
}


def _as_torch_promotes(name: str, *operands: Any) -> list[Any]:
    """The operands cast to the dtype torch computes ``name`` in (torch.result_type; true division
    of integers in the default float32): NumPy then gives torch's dtype and values."""
    torch = pytest.importorskip("torch")
    as_torch = [torch.from_numpy(np.array(x)) if isinstance(x, np.ndarray) else x for x in operands]
    dtype = torch.empty(0, dtype=torch.result_type(*as_torch)).numpy().dtype
    if name == "div" and dtype.kind != "f":
        dtype = np.dtype(np.float32)
    return [x.astype(dtype) if isinstance(x, np.ndarray) else x for x in operands]


@pytest.mark.parametrize("name", list(BINARY))
@given(data=st.data())
def test_binary_forward_matches_numpy(name: str, data: st.DataObject) -> None:
    rp_fn, np_fn = BINARY[name]
    shapes = data.draw(broadcast_shapes(2, min_side=0), label="shapes")
    dtype_a = data.draw(st.sampled_from(NUMERIC_DTYPES), label="dtype a")
    dtype_b = data.draw(st.sampled_from(NUMERIC_DTYPES), label="dtype b")
    a = data.draw(arrays(dtype_a, shapes.input_shapes[0]), label="a")
    elems_b = nonzero_elements(dtype_b) if name == "div" else None
    b = data.draw(arrays(dtype_b, shapes.input_shapes[1], elems_b), label="b")

    out = rp_fn(rp.tensor(a), rp.tensor(b))
    want = np_fn(*_as_torch_promotes(name, a, b))

    assert isinstance(out, rp.Tensor)
    assert out.shape == want.shape == shapes.result_shape
    assert out.dtype == want.dtype
    np.testing.assert_array_equal(out.data, want)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
@given(data=st.data())
def test_binary_forward_with_python_scalar_matches_numpy(name: str, data: st.DataObject) -> None:
    """A Python scalar on either side promotes as in torch (weakly: float32 stays float32, an
    integer tensor with a float becomes float32)."""
    rp_fn, np_fn = BINARY[name]
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), label="shape")
    dtype = data.draw(st.sampled_from(NUMERIC_DTYPES), label="dtype")
    divides = name == "div"
    a = data.draw(arrays(dtype, shape, nonzero_elements(dtype) if divides else None), label="a")
    scalar = data.draw(st.one_of(st.integers(1, 5), st.floats(0.5, 5.0)), label="scalar")
    t = rp.tensor(a)
    for got, want in ((rp_fn(t, scalar), np_fn(*_as_torch_promotes(name, a, scalar))),
                      (rp_fn(scalar, t), np_fn(*_as_torch_promotes(name, scalar, a)))):
        want = np.asarray(want)
        assert got.shape == want.shape
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.data, want)


@given(data=st.data())
def test_where_forward_matches_numpy(data: st.DataObject) -> None:
    shapes = data.draw(broadcast_shapes(3, min_side=0), label="shapes")
    cond = data.draw(hnp.arrays(np.bool_, shapes.input_shapes[0]), label="condition")
    dtype_a = data.draw(st.sampled_from(NUMERIC_DTYPES), label="dtype a")
    dtype_b = data.draw(st.sampled_from(NUMERIC_DTYPES), label="dtype b")
    a = data.draw(arrays(dtype_a, shapes.input_shapes[1]), label="a")
    b = data.draw(arrays(dtype_b, shapes.input_shapes[2]), label="b")
    condition = rp.tensor(cond) if data.draw(st.booleans(), label="tensor condition") else cond

    out = rp.where(condition, rp.tensor(a), rp.tensor(b))
    want = np.where(cond, a, b)

    assert out.shape == want.shape == shapes.result_shape
    assert out.dtype == want.dtype
    np.testing.assert_array_equal(out.data, want)


# ---------------------------------------------------------------------------------------------
# (b) Gradients of broadcasting binary ops: exact input shapes, un-broadcast analytic values
# ---------------------------------------------------------------------------------------------
def _local_binary_grads(name: str, a: np.ndarray, b: np.ndarray,
                        g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Analytic d(out)/d(a), d(out)/d(b) times the upstream, in the broadcast shape."""
    A, B = np.broadcast_arrays(a, b)
    if name == "add":
        return g * np.ones_like(A), g * np.ones_like(B)
    if name == "sub":
        return g * np.ones_like(A), -g * np.ones_like(B)
    if name == "mul":
        return g * B, g * A
    if name == "div":
        return g / B, -g * A / (B * B)
    tie = 0.5 * (A == B)  # ties give each side half, as torch
    a_wins = (A > B) if name == "maximum" else (A < B)
    b_wins = (A < B) if name == "maximum" else (A > B)
    return g * (a_wins + tie), g * (b_wins + tie)


def _binary_grad_case(name: str, data: st.DataObject) -> None:
    rp_fn, _ = BINARY[name]
    shapes = data.draw(broadcast_shapes(2), label="shapes")
    shape_a, shape_b = shapes.input_shapes
    if name in ("maximum", "minimum") and data.draw(st.booleans(), label="ties"):
        elems: st.SearchStrategy[Any] = st.integers(-2, 2).map(float)  # plenty of ties
    else:
        elems = elements(np.float64)
    a = data.draw(arrays(np.float64, shape_a, elems), label="a")
    elems_b = nonzero_elements(np.float64) if name == "div" else elems
    b = data.draw(arrays(np.float64, shape_b, elems_b), label="b")
    needs = data.draw(st.sampled_from([(True, True), (True, False), (False, True)]),
                      label="requires_grad")
    g = upstream(data, shapes.result_shape)

    ta = rp.tensor(a, requires_grad=needs[0])
    tb = rp.tensor(b, requires_grad=needs[1])
    out = rp_fn(ta, tb)
    assert out.shape == shapes.result_shape
    out.backward(g)

    local_a, local_b = _local_binary_grads(name, a, b, g)
    for tensor, local, needed in ((ta, local_a, needs[0]), (tb, local_b, needs[1])):
        if not needed:
            assert tensor.grad is None
            continue
        assert tensor.grad is not None
        assert tensor.grad.shape == tensor.shape
        assert tensor.grad.dtype == np.float64
        np.testing.assert_allclose(tensor.grad, unbroadcast_ref(local, tensor.shape), **EXACT)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
@given(data=st.data())
def test_binary_grad_unbroadcasts_to_input_shapes(name: str, data: st.DataObject) -> None:
    _binary_grad_case(name, data)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
@given(data=st.data())
def test_extremum_grad_unbroadcasts_to_input_shapes(name: str, data: st.DataObject) -> None:
    _binary_grad_case(name, data)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
@pytest.mark.parametrize("a, b", [(1.0, 2.0), (2.0, 1.0), (1.5, 1.5)])
def test_extremum_grad_of_0d_operands(name: str, a: float, b: float) -> None:
    """0-d operands (a 0-d comparison is a NumPy scalar, not an array): same shares as above."""
    ta = rp.tensor(np.array(a), requires_grad=True)
    tb = rp.tensor(np.array(b), requires_grad=True)
    BINARY[name][0](ta, tb).backward()
    assert ta.grad is not None and tb.grad is not None
    assert ta.grad.shape == () and tb.grad.shape == ()
    local_a, local_b = _local_binary_grads(name, np.array(a), np.array(b), np.array(1.0))
    assert (float(ta.grad), float(tb.grad)) == (float(local_a), float(local_b))


@given(data=st.data())
def test_where_grad_unbroadcasts_to_input_shapes(data: st.DataObject) -> None:
    shapes = data.draw(broadcast_shapes(3), label="shapes")
    shape_c, shape_a, shape_b = shapes.input_shapes
    cond = data.draw(hnp.arrays(np.bool_, shape_c), label="condition")
    a = data.draw(arrays(np.float64, shape_a), label="a")
    b = data.draw(arrays(np.float64, shape_b), label="b")
    g = upstream(data, shapes.result_shape)

    ta, tb = rp.tensor(a, requires_grad=True), rp.tensor(b, requires_grad=True)
    out = rp.where(cond, ta, tb)
    out.backward(g)

    C = np.broadcast_to(cond, shapes.result_shape)
    assert ta.grad is not None and tb.grad is not None
    assert ta.grad.shape == shape_a and tb.grad.shape == shape_b
    np.testing.assert_allclose(ta.grad, unbroadcast_ref(g * C, shape_a), **EXACT)
    np.testing.assert_allclose(tb.grad, unbroadcast_ref(g * ~C, shape_b), **EXACT)


@pytest.mark.parametrize("dtype_a, dtype_b", [(np.float32, np.float64), (np.float64, np.float32)])
@pytest.mark.parametrize("name", ["add", "mul", "div", "maximum"])
@given(data=st.data())
def test_binary_grad_keeps_each_input_dtype(name: str, dtype_a: Any, dtype_b: Any,
                                            data: st.DataObject) -> None:
    """Mixed float32/float64: the output promotes as torch's (a 0-d operand does not widen one with
    dims), each gradient comes back in its input's dtype."""
    rp_fn, _ = BINARY[name]
    shapes = data.draw(broadcast_shapes(2).filter(lambda s: len(s.result_shape) >= 1),
                       label="shapes")
    a = data.draw(arrays(dtype_a, shapes.input_shapes[0]), label="a")
    elems_b = nonzero_elements(dtype_b) if name == "div" else None
    b = data.draw(arrays(dtype_b, shapes.input_shapes[1], elems_b), label="b")
    ta, tb = rp.tensor(a, requires_grad=True), rp.tensor(b, requires_grad=True)
    out = rp_fn(ta, tb)
    wide = b if dtype_b == np.float64 else a
    narrow = a if wide is b else b
    assert out.dtype == (np.float64 if wide.ndim or not narrow.ndim else np.float32)
    g = np.ones(out.shape)
    out.backward(g)
    # computed in the output's dtype (a tie there is a tie, as in torch), compared in float64
    computed = [x.astype(out.dtype).astype(np.float64) for x in (a, b)]
    local_a, local_b = _local_binary_grads(name, *computed, g)
    for tensor, local in ((ta, local_a), (tb, local_b)):
        assert tensor.grad is not None
        assert tensor.grad.shape == tensor.shape
        assert tensor.grad.dtype == tensor.dtype
        want = unbroadcast_ref(local, tensor.shape)
        np.testing.assert_allclose(tensor.grad, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "shape_a, shape_b",
    [
        ((3,), (2, 3)),  # leading axis added to a
        ((2, 1), (2, 3)),  # size-1 axis stretched
        ((1, 3), (4, 1)),  # both operands stretched
        ((3, 1, 4), (2, 1, 5, 1)),  # leading added and stretched together
        ((), (2, 3)),  # 0-d operand
        ((1,), ()),  # 1-element operand against a 0-d one
        ((1, 1, 1), (2, 3)),  # all size-1, more axes than the other operand
    ],
)
def test_mul_unbroadcast_canonical_shapes(shape_a: tuple[int, ...],
                                          shape_b: tuple[int, ...]) -> None:
    """a*b with upstream ones: grad_a is b summed to a's shape (and vice versa)."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=shape_a), rng.normal(size=shape_b)
    ta, tb = rp.tensor(a, requires_grad=True), rp.tensor(b, requires_grad=True)
    out = ta * tb
    out.backward(np.ones(out.shape))
    A, B = np.broadcast_arrays(a, b)
    assert ta.grad is not None and tb.grad is not None
    assert ta.grad.shape == shape_a and tb.grad.shape == shape_b
    np.testing.assert_allclose(ta.grad, unbroadcast_ref(B, shape_a), **EXACT)
    np.testing.assert_allclose(tb.grad, unbroadcast_ref(A, shape_b), **EXACT)


# ---------------------------------------------------------------------------------------------
# (c) Reductions
# ---------------------------------------------------------------------------------------------
REDUCTIONS = ("sum", "mean", "max", "min", "var", "std")


def _reduce(t: rp.Tensor, name: str, axis: Any, keepdims: bool) -> rp.Tensor:
    """NumPy's reduction ``name``: amax/amin for max/min (torch's max(dim) returns indices too),
    var/std with ddof=0 (torch's default is 1)."""
    if name in ("var", "std"):
        return getattr(t, name)(axis=axis, keepdims=keepdims, ddof=0)
    return getattr(t, {"max": "amax", "min": "amin"}.get(name, name))(axis=axis, keepdims=keepdims)


@pytest.mark.parametrize("name", REDUCTIONS)
@given(data=st.data())
def test_reduction_forward_matches_numpy(name: str, data: st.DataObject) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4),
                      label="shape")
    dtype = data.draw(st.sampled_from((np.int64, np.float32, np.float64)), label="dtype")
    x = data.draw(arrays(dtype, shape), label="x")
    axis = data.draw(any_axis(len(shape)), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")

    out = _reduce(rp.tensor(x), name, axis, keepdims)
    want = np.asarray(getattr(np, name)(x, axis=axis, keepdims=keepdims))  # var/std: ddof=0

    assert out.shape == want.shape
    assert out.dtype == want.dtype
    if name in ("var", "std"):  # computed by another formula than NumPy's: rounding differs
        tol = {"rtol": 1e-10, "atol": 1e-12} if want.dtype == np.float64 else {
            "rtol": 1e-5, "atol": 1e-5}
        np.testing.assert_allclose(out.data, want, **tol)
    else:
        np.testing.assert_array_equal(out.data, want)


@pytest.mark.parametrize("name", ["sum", "mean"])
@given(data=st.data())
def test_sum_and_mean_grad_are_ones_and_one_over_n(name: str, data: st.DataObject) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4),
                      label="shape")
    x = data.draw(arrays(np.float64, shape), label="x")
    axis = data.draw(any_axis(len(shape)), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")

    t = rp.tensor(x, requires_grad=True)
    out = _reduce(t, name, axis, keepdims)
    out.backward(np.ones(out.shape))

    n = x.size // out.numel()  # elements per reduction, from the sizes alone
    assert n == int(np.prod([shape[i] for i in normalized_axes(axis, len(shape))], dtype=np.int64))
    assert t.grad is not None
    assert t.grad.shape == shape and t.grad.dtype == np.float64
    want = np.ones(shape) if name == "sum" else np.full(shape, 1.0 / n)
    np.testing.assert_allclose(t.grad, want, rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", ["max", "min"])
@given(data=st.data())
def test_max_min_grad_shares_equally_among_ties(name: str, data: st.DataObject) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4),
                      label="shape")
    x = data.draw(arrays(np.float64, shape, st.integers(-2, 2).map(float)), label="x")
    axis = data.draw(any_axis(len(shape)), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")

    t = rp.tensor(x, requires_grad=True)
    out = _reduce(t, name, axis, keepdims)
    g = upstream(data, out.shape)
    out.backward(g)

    extreme = getattr(np, name)(x, axis=axis, keepdims=True)
    winners = (x == extreme).astype(np.float64)
    share = winners / winners.sum(axis=axis, keepdims=True)
    # the reduced shape and the keepdims shape hold the same elements in the same order
    want = share * np.reshape(g, extreme.shape)
    assert t.grad is not None and t.grad.shape == shape
    np.testing.assert_allclose(t.grad, want, **EXACT)
    # the whole upstream gradient of each reduction is handed out, no more, no less
    np.testing.assert_allclose(t.grad.sum(), g.sum(), **EXACT)


@st.composite
def spread_arrays(draw: st.DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    """Distinct values at least 1/8 apart in [-2, 2]: no ties, finite differences stay smooth."""
    ints = draw(hnp.arrays(np.int64, shape, elements=st.integers(-16, 16), unique=True))
    return ints / 8.0


@pytest.mark.parametrize("name", REDUCTIONS)
@given(data=st.data())
def test_reduction_grad_matches_finite_differences(name: str, data: st.DataObject) -> None:
    std = name == "std"
    # std's gradient divides by the std: keep at least 2 distinct values in every reduction
    shape = data.draw(hnp.array_shapes(min_dims=1 if std else 0, max_dims=3,
                                       min_side=2 if std else 1, max_side=3), label="shape")
    x = data.draw(spread_arrays(shape), label="x")
    axis = data.draw(any_axis(len(shape), allow_empty=not std), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    seed = data.draw(st.integers(0, 1000), label="weights seed")
    check_grad(lambda t: _reduce(t, name, axis, keepdims), x, seed=seed)


# ---------------------------------------------------------------------------------------------
# (d) Elementwise unary ops: gradient equals the analytic derivative
# ---------------------------------------------------------------------------------------------
def _np_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# name: (retroprop fn, NumPy forward, NumPy derivative, domain, kink to stay away from)
UNARY: dict[str, tuple[Callable[[rp.Tensor], rp.Tensor], Callable[[np.ndarray], np.ndarray],
                       Callable[[np.ndarray], np.ndarray], tuple[float, float], float | None]] = {
    "exp": (lambda t: t.exp(), np.exp, np.exp, (-20.0, 20.0), None),
    "log": (lambda t: t.log(), np.log, lambda x: 1.0 / x, (0.125, 100.0), None),
    "sqrt": (lambda t: t.sqrt(), np.sqrt, lambda x: 0.5 / np.sqrt(x), (0.125, 100.0), None),
    "abs": (lambda t: t.abs(), np.abs, np.sign, (-10.0, 10.0), 0.0),
    "tanh": (F.tanh, np.tanh, lambda x: 1.0 / np.cosh(x) ** 2, (-10.0, 10.0), None),
    "sigmoid": (F.sigmoid, _np_sigmoid, lambda x: np.exp(-x) / (1.0 + np.exp(-x)) ** 2,
                (-30.0, 30.0), None),
    "relu": (F.relu, lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(np.float64),
             (-10.0, 10.0), 0.0),
}


@pytest.mark.parametrize("name", list(UNARY))
@given(data=st.data())
def test_unary_grad_matches_analytic_derivative(name: str, data: st.DataObject) -> None:
    rp_fn, np_fn, derivative, (low, high), kink = UNARY[name]
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4),
                      label="shape")
    x = data.draw(arrays(np.float64, shape, elements(np.float64, low, high)), label="x")
    if kink is not None:
        x = away_from(x, kinks=(kink,))
    g = upstream(data, shape)

    t = rp.tensor(x, requires_grad=True)
    out = rp_fn(t)
    assert out.shape == shape and out.dtype == np.float64
    np.testing.assert_allclose(out.data, np_fn(x), rtol=1e-12, atol=0)
    out.backward(g)
    assert t.grad is not None and t.grad.shape == shape and t.grad.dtype == np.float64
    # atol: 1 - tanh(x)**2 and s * (1 - s) cancel for large |x|; their absolute error is ~1e-16
    np.testing.assert_allclose(t.grad, g * derivative(x), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", ["abs", "relu"])
def test_kinked_unary_grad_at_zero_is_zero(name: str) -> None:
    """At the kink itself both take gradient 0 (PyTorch's convention)."""
    t = rp.tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    UNARY[name][0](t).backward(np.ones(3))
    assert t.grad is not None
    assert t.grad[1] == 0.0


# ---------------------------------------------------------------------------------------------
# (e) Gradient accumulation across separately built graphs
# ---------------------------------------------------------------------------------------------
# Each builds a graph from leaves x and z (z broadcastable against x) and a constant c.
GRAPHS: dict[str, Callable[[rp.Tensor, rp.Tensor, np.ndarray], rp.Tensor]] = {
    "leaf": lambda x, z, c: x,  # backward on the leaf itself
    "sub": lambda x, z, c: x - z,  # x's gradient is the upstream passed straight through
    "add": lambda x, z, c: x + z,  # one gradient array returned for both inputs
    "mul": lambda x, z, c: x * z * c,
    "div": lambda x, z, c: x / c,
    "maximum": lambda x, z, c: rp.maximum(x, z),
    "exp_sum": lambda x, z, c: (x.exp() * c).sum(),
    "fan_out": lambda x, z, c: (lambda h: h * h + h - z)(x * c),  # a reused non-leaf
    "chain": lambda x, z, c: F.tanh(F.sigmoid(x) * z).mean(keepdims=True),
}


def _run_graph(name: str, x: np.ndarray, z: np.ndarray, c: np.ndarray,
               g_seed: int) -> tuple[rp.Tensor, rp.Tensor, rp.Tensor, np.ndarray]:
    tx, tz = rp.tensor(x, requires_grad=True), rp.tensor(z, requires_grad=True)
    out = GRAPHS[name](tx, tz, c)
    g = np.random.default_rng(g_seed).uniform(0.5, 1.5, size=out.shape)
    return tx, tz, out, g


@given(data=st.data())
def test_backward_on_two_graphs_accumulates(data: st.DataObject) -> None:
    shapes = data.draw(broadcast_shapes(2), label="shapes")
    shape_x, shape_z = shapes.input_shapes
    x = data.draw(arrays(np.float64, shape_x, elements(np.float64, -2.0, 2.0)), label="x")
    z = data.draw(arrays(np.float64, shape_z, elements(np.float64, -2.0, 2.0)), label="z")
    c = data.draw(arrays(np.float64, shapes.result_shape, nonzero_elements(np.float64, 0.5, 2.0)),
                  label="c")
    names = sorted(GRAPHS)
    first = data.draw(st.sampled_from(names), label="first graph")
    second = data.draw(st.sampled_from(names), label="second graph")
    seeds = data.draw(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), label="seeds")

    # references: each graph on fresh leaves
    grads = []
    for name, seed in ((first, seeds[0]), (second, seeds[1])):
        tx, tz, out, g = _run_graph(name, x, z, c, seed)
        out.backward(g)
        grads.append(tuple(None if t.grad is None else t.grad.numpy() for t in (tx, tz)))

    # the same two graphs built on one pair of leaves, backward on each in turn
    tx, tz, out1, g1 = _run_graph(first, x, z, c, seeds[0])
    g1_before = g1.copy()
    out1.backward(g1)
    z_grad_after_first = None if tz.grad is None else tz.grad.numpy().copy()
    out2 = GRAPHS[second](tx, tz, c)
    g2 = np.random.default_rng(seeds[1]).uniform(0.5, 1.5, size=out2.shape)
    out2.backward(g2)

    np.testing.assert_array_equal(g1, g1_before)  # the caller's upstream is not written into
    for k, (leaf, shape) in enumerate(((tx, shape_x), (tz, shape_z))):
        parts = [pair[k] for pair in grads if pair[k] is not None]
        if not parts:
            assert leaf.grad is None
            continue
        assert leaf.grad is not None and leaf.grad.shape == shape
        np.testing.assert_allclose(leaf.grad, sum(parts[1:], parts[0].copy()), **EXACT)
    if grads[1][1] is None:  # the second graph does not touch z: its grad must not move
        if z_grad_after_first is None:
            assert tz.grad is None
        else:
            np.testing.assert_array_equal(tz.grad, z_grad_after_first)


@given(data=st.data())
def test_reused_non_leaf_accumulates_within_one_graph(data: st.DataObject) -> None:
    """y = h*h + h - z with h = x*c: dy/dx = (2h + 1) c, summed back onto x's shape."""
    shapes = data.draw(broadcast_shapes(2), label="shapes")
    shape_x, shape_z = shapes.input_shapes
    x = data.draw(arrays(np.float64, shape_x, elements(np.float64, -2.0, 2.0)), label="x")
    z = data.draw(arrays(np.float64, shape_z, elements(np.float64, -2.0, 2.0)), label="z")
    c = data.draw(arrays(np.float64, shapes.result_shape, elements(np.float64, -2.0, 2.0)),
                  label="c")
    tx, tz, out, g = _run_graph("fan_out", x, z, c, 0)
    out.backward(g)
    h = x * c
    assert tx.grad is not None and tz.grad is not None
    np.testing.assert_allclose(tx.grad, unbroadcast_ref(g * (2 * h + 1) * c, shape_x), **EXACT)
    np.testing.assert_allclose(tz.grad, unbroadcast_ref(-g, shape_z), **EXACT)


@pytest.mark.parametrize("shape", [(), (1,), (2, 1)])
def test_reused_small_non_leaf_accumulates(shape: tuple[int, ...]) -> None:
    """y = (h + h) + h with h = 2x: dy/dx = 6, also when h is 0-d.

    A 0-d non-leaf with three or more contributions, the first one shared: 0-d + 0-d is a NumPy
    scalar, which must not end up as a pending gradient that is later added into in place.
    """
    x = rp.tensor(np.ones(shape), requires_grad=True)
    h = x * 2.0
    ((h + h) + h).sum().backward()
    assert x.grad is not None and x.grad.shape == shape
    np.testing.assert_array_equal(x.grad, np.full(shape, 6.0))


# ---------------------------------------------------------------------------------------------
# (f) Linearity: grad of alpha * f is alpha * grad of f
# ---------------------------------------------------------------------------------------------
FUNCTIONS: dict[str, Callable[[rp.Tensor, np.ndarray], rp.Tensor]] = {
    "mul_sum_last": lambda x, c: (x * c).sum(axis=-1) if (x * c).ndim else x * c,
    "maximum_mean": lambda x, c: rp.maximum(x, c).mean(),
    "exp_var": lambda x, c: ((x - c) * 0.5).exp().var(ddof=0),
    "sigmoid_tanh": lambda x, c: F.sigmoid(x) * F.tanh(c + x),
    "div_max": lambda x, c: (x / c).max(keepdims=True),
    "relu_abs": lambda x, c: F.relu(x - c) + (x * c).abs(),
    "where_min": lambda x, c: rp.where(c > 0, x * x, x).amin(axis=0) if (x * c).ndim else x,
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
@given(data=st.data())
def test_grad_is_linear_in_output_scale(name: str, data: st.DataObject) -> None:
    fn = FUNCTIONS[name]
    shapes = data.draw(broadcast_shapes(2), label="shapes")
    shape_x, shape_c = shapes.input_shapes
    x = data.draw(arrays(np.float64, shape_x, elements(np.float64, -2.0, 2.0)), label="x")
    c = data.draw(arrays(np.float64, shape_c, nonzero_elements(np.float64, 0.5, 2.0)), label="c")
    alpha = data.draw(st.floats(-5.0, 5.0, allow_nan=False), label="alpha")
    as_tensor = data.draw(st.booleans(), label="alpha as a 0-d tensor")
    seed = data.draw(st.integers(0, 1000), label="upstream seed")

    base = rp.tensor(x, requires_grad=True)
    out = fn(base, c)
    g = np.random.default_rng(seed).uniform(0.5, 1.5, size=out.shape)
    out.backward(g)

    scaled = rp.tensor(x, requires_grad=True)
    factor = rp.tensor(np.float64(alpha)) if as_tensor else alpha
    (factor * fn(scaled, c)).backward(g)

    assert base.grad is not None and scaled.grad is not None
    assert scaled.grad.shape == shape_x
    want = alpha * base.grad
    scale = float(np.abs(want).max(initial=0.0))
    np.testing.assert_allclose(scaled.grad, want, rtol=1e-10, atol=1e-12 * max(scale, 1.0))
