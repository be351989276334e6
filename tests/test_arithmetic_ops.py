"""The arithmetic family (retroprop.arithmetic) against torch 2.13.0 and finite differences.

Each differentiable op: forward values, gradients and result dtype as torch's in float32 and float64,
on 2-D, broadcast, size-1 and 0-d operands; float64 central differences. Integer division (``//``,
``%``, ``fmod``, ``div(rounding_mode=...)``) keeps integer dtypes and refuses a zero divisor as
torch does; float division by zero, inf and NaN give torch's values (signs of zeros included)
without NumPy's warnings. ``prod``'s gradient with zeros in the input; the module-level reductions
(``rp.sum``, ``rp.max``, ...) and the comparisons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from tests.helpers import assert_matches_torch, check_grad, keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
PAIRS = [
    pytest.param((3, 4), (3, 4), id="same"), pytest.param((3, 4), (4,), id="broadcast"),
    pytest.param((3, 1), (1, 4), id="outer-broadcast"), pytest.param((), (2, 3), id="0d-left"),
    pytest.param((2, 3), (), id="0d-right"), pytest.param((1,), (), id="size1"),
    pytest.param((), (), id="0d"),
]


def raise_warnings() -> Any:
    return np.errstate(over="raise", invalid="raise", divide="raise")


def _operands(shape_a: tuple[int, ...], shape_b: tuple[int, ...], key: str) -> tuple[np.ndarray, np.ndarray]:
    """``a`` anywhere, ``b`` away from 0, with ``a / b`` at least 0.02 from an integer (so floor and
    trunc of the quotient are constant under finite differences)."""
    for attempt in range(1000):
        a = 2 * keyed_normal(shape_a, key, "a", attempt)
        b = keyed_normal(shape_b, key, "b", attempt)
        b = np.sign(b) * (0.5 + np.abs(b)) + (b == 0)
        q = a / b
        if np.all(np.abs(q - np.round(q)) > 0.02):
            return a, b
    raise AssertionError("no operands found")


# name -> (retroprop fn, torch fn, whether the gradient is checked by finite differences)
BINARY: dict[str, tuple[Callable[..., Any], Callable[..., Any], bool]] = {
    "add": (rp.add, torch.add, True),
    "add-alpha": (lambda a, b: rp.add(a, b, alpha=2.5), lambda a, b: torch.add(a, b, alpha=2.5), True),
    "add-method": (lambda a, b: a.add(b, alpha=-1), lambda a, b: a.add(b, alpha=-1), True),
    "sub": (rp.sub, torch.sub, True),
    "subtract-alpha": (lambda a, b: rp.subtract(a, b, alpha=3), lambda a, b: torch.subtract(a, b, alpha=3),
                       True),
    "mul": (rp.mul, torch.mul, True),
    "multiply-method": (lambda a, b: a.multiply(b), lambda a, b: a.multiply(b), True),
    "div": (rp.div, torch.div, True),
    "divide-method": (lambda a, b: a.divide(b), lambda a, b: a.divide(b), True),
    "true_divide": (rp.true_divide, torch.true_divide, True),
    "div-trunc": (lambda a, b: rp.div(a, b, rounding_mode="trunc"),
                  lambda a, b: torch.div(a, b, rounding_mode="trunc"), True),
    "div-floor": (lambda a, b: a.div(b, rounding_mode="floor"), lambda a, b: a.div(b, rounding_mode="floor"),
                  True),
    "remainder": (rp.remainder, torch.remainder, True),
    "mod-operator": (lambda a, b: a % b, lambda a, b: a % b, True),
    "fmod": (rp.fmod, torch.fmod, True),
    "fmod-method": (lambda a, b: a.fmod(b), lambda a, b: a.fmod(b), True),
    "maximum": (lambda a, b: rp.max(a, b), lambda a, b: torch.max(a, b), True),
    "minimum": (lambda a, b: rp.min(a, b), lambda a, b: torch.min(a, b), True),
}


# every pair in float64; float32 (its dtype kept, its tolerance) on three of them
PAIRS_AND_DTYPES = [pytest.param(*p.values, np.float64, id=f"{p.id}-f64") for p in PAIRS] + [
    pytest.param(*p.values, np.float32, id=f"{p.id}-f32")
    for p in PAIRS if p.id in ("broadcast", "0d-left", "0d")
]


@pytest.mark.parametrize(("shape_a", "shape_b", "dtype"), PAIRS_AND_DTYPES)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_ops_match_torch(name: str, shape_a: tuple[int, ...], shape_b: tuple[int, ...],
                                dtype: Any) -> None:
    rp_fn, torch_fn, _ = BINARY[name]
    a, b = _operands(shape_a, shape_b, name)
    assert_matches_torch(rp_fn, torch_fn, a, b, dtype=dtype, check_dtype=True)


@pytest.mark.parametrize(("shape_a", "shape_b"), PAIRS[:4])
@pytest.mark.parametrize("name", [n for n, case in BINARY.items() if case[2]])
def test_binary_ops_match_finite_differences(name: str, shape_a: tuple[int, ...],
                                             shape_b: tuple[int, ...]) -> None:
    check_grad(BINARY[name][0], *_operands(shape_a, shape_b, name))


WITH_NUMBERS: dict[str, Callable[[Any, Any], Any]] = {
    "add-alpha": lambda m, x: m.add(x, 2, alpha=0.5), "sub": lambda m, x: x.sub(1.5),
    "mul": lambda m, x: m.mul(x, 3), "div": lambda m, x: x.div(-2.0), "mod": lambda m, x: x % 1.5,
    "rmod": lambda m, x: 2.5 % x, "fmod": lambda m, x: m.fmod(x, -1.25),
    "remainder": lambda m, x: x.remainder(-0.75),
    "div-floor": lambda m, x: m.div(x, 0.7, rounding_mode="floor"),
    "number-first": lambda m, x: m.add(2.0, x),
    "true_divide": lambda m, x: x.true_divide(4),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(WITH_NUMBERS))
def test_operations_with_numbers_match_torch(name: str, dtype: Any) -> None:
    fn = WITH_NUMBERS[name]
    a, _ = _operands((3, 4), (), name)
    # torch has no derivative for number % tensor (retroprop's is remainder's): values only there
    assert_matches_torch(lambda x: fn(rp, x), lambda x: fn(torch, x), a, dtype=dtype, check_dtype=True,
                         grad_inputs=() if name == "rmod" else None)


@pytest.mark.parametrize("dtype", DTYPES)
def test_floor_divide_values_match_torch_and_backward_raises_as_torch(dtype: Any) -> None:
    a, b = _operands((3, 4), (4,), "floor")
    for fn in (rp.floor_divide, lambda x, y: x // y, lambda x, y: x.floor_divide(y)):
        tfn = torch.floor_divide if fn is rp.floor_divide else fn
        assert_matches_torch(fn, tfn, a, b, dtype=dtype, grad_inputs=(), check_dtype=True)
    assert_matches_torch(lambda x: 3 // x, lambda x: 3 // x, b, dtype=dtype, grad_inputs=(), check_dtype=True)
    x = torch.tensor(a, requires_grad=True)
    with pytest.raises(RuntimeError, match="floor_divide"):
        (x // 2).sum().backward()
    t = rp.tensor(a, requires_grad=True)
    out = t // 2
    assert out.requires_grad
    with pytest.raises(RuntimeError, match=r"derivative for 'floor_divide'.*not implemented"):
        out.sum().backward()


# -- integer and bool dtypes ------------------------------------------------------------------
INTEGER_OPS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "floor_divide": lambda m, a, b: a // b,
    "rfloordiv": lambda m, a, b: 7 // b,
    "remainder": lambda m, a, b: m.remainder(a, b),
    "rmod": lambda m, a, b: -7 % b,
    "fmod": lambda m, a, b: m.fmod(a, b),
    "div-trunc": lambda m, a, b: m.div(a, b, rounding_mode="trunc"),
    "div-floor": lambda m, a, b: a.div(b, rounding_mode="floor"),
    "div": lambda m, a, b: m.div(a, b),
    "true_divide": lambda m, a, b: m.true_divide(a, b),
    "add-alpha": lambda m, a, b: m.add(a, b, alpha=3),
    "sub": lambda m, a, b: m.sub(a, b),
    "mul": lambda m, a, b: m.mul(a, b),
    "neg": lambda m, a, b: m.neg(a),
    "scalar-floor_divide": lambda m, a, b: a // 2,
    "scalar-float-floor_divide": lambda m, a, b: a // 2.5,
    "scalar-remainder": lambda m, a, b: a % -3,
    "scalar-fmod": lambda m, a, b: m.fmod(a, -3),
}
INTEGER_DTYPES = [np.int64, np.int32, np.int8, np.uint8]


@pytest.mark.parametrize("dtype", INTEGER_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(INTEGER_OPS))
def test_integer_ops_keep_torch_dtypes_and_values(name: str, dtype: Any) -> None:
    values = np.array([7, -7, 0, 1, -1, 3, -3, 5, -6, 100])
    a, b = np.meshgrid(values, values[values != 0])
    if np.dtype(dtype).kind == "u":
        a, b = np.abs(a), np.abs(b)
        if name in ("neg", "rmod", "sub", "scalar-remainder", "scalar-fmod"):
            return  # unsigned wrap-around, as torch's, is NumPy's too; not what this test is about
    a, b = a.astype(dtype), b.astype(dtype)
    with raise_warnings():
        out = INTEGER_OPS[name](rp, rp.tensor(a), rp.tensor(b))
    expected = INTEGER_OPS[name](torch, torch.tensor(a), torch.tensor(b)).numpy()
    assert out.dtype == expected.dtype, f"{out.dtype} vs torch {expected.dtype}"
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)


@pytest.mark.parametrize("call", [
    pytest.param(lambda m, a, b: a // b, id="floordiv"), pytest.param(lambda m, a, b: a % b, id="mod"),
    pytest.param(lambda m, a, b: m.fmod(a, b), id="fmod"),
    pytest.param(lambda m, a, b: m.div(a, b, rounding_mode="trunc"), id="div-trunc"),
    pytest.param(lambda m, a, b: m.div(a, b, rounding_mode="floor"), id="div-floor"),
    pytest.param(lambda m, a, b: 7 // (b - b), id="rfloordiv"),
    pytest.param(lambda m, a, b: 7 % (b - b), id="rmod"),
    pytest.param(lambda m, a, b: a // 0, id="number"), pytest.param(lambda m, a, b: a % m.tensor(0), id="0d"),
])
def test_integer_division_by_zero_raises_as_torch(call: Callable[[Any, Any, Any], Any]) -> None:
    a, b = np.array([4, -5, 6]), np.array([2, 0, 3])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        call(torch, torch.tensor(a), torch.tensor(b))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        call(rp, rp.tensor(a), rp.tensor(b))


def test_bool_tensors_as_torch() -> None:
    t, f = rp.tensor([True, False]), rp.tensor([True, True])
    for call in (lambda m, x, y: x // y, lambda m, x, y: m.remainder(x, y)):
        with pytest.raises(NotImplementedError):
            call(torch, torch.tensor([True, False]), torch.tensor([True, True]))
        with pytest.raises(NotImplementedError, match="bool"):
            call(rp, t, f)
    with pytest.raises(RuntimeError, match=r"Subtraction.*bool"):
        rp.sub(t, f)
    with pytest.raises(RuntimeError, match=r"Negation.*bool"):
        rp.neg(t)
    assert rp.add(t, f).dtype == torch.add(torch.tensor([True]), torch.tensor([True])).numpy().dtype
    assert rp.mul(t, 2).dtype == np.int64 and rp.div(t, f).dtype == np.float32


# -- special values -------------------------------------------------------------------------------
SPECIAL = np.array([7.0, -7.0, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 3.5, -2.25, np.inf, -np.inf, np.nan, 1.1,
                    0.3])
SPECIAL_OPS = {
    "div": lambda m, a, b: m.div(a, b), "true_divide": lambda m, a, b: m.true_divide(a, b),
    "floor_divide": lambda m, a, b: a // b, "remainder": lambda m, a, b: a % b,
    "fmod": lambda m, a, b: m.fmod(a, b),
    "div-trunc": lambda m, a, b: m.div(a, b, rounding_mode="trunc"),
    "div-floor": lambda m, a, b: m.div(a, b, rounding_mode="floor"),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(SPECIAL_OPS))
def test_special_values_as_torch_without_warnings(name: str, dtype: Any) -> None:
    """Division by ±0, inf and NaN operands: torch's values, the signs of zero results included."""
    a, b = (v.astype(dtype) for v in np.meshgrid(SPECIAL, SPECIAL))
    with raise_warnings():
        out = SPECIAL_OPS[name](rp, rp.tensor(a), rp.tensor(b)).data
    expected = SPECIAL_OPS[name](torch, torch.tensor(a), torch.tensor(b)).numpy()
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out, expected)
    number = ~np.isnan(expected)  # a NaN's sign bit is not part of its meaning
    np.testing.assert_array_equal(np.signbit(out[number]), np.signbit(expected[number]))


def test_division_by_zero_gradients_as_torch_without_warnings() -> None:
    a, b = np.array([1.0, -2.0, 0.0, 3.0]), np.array([0.0, -0.0, 0.0, 2.0])
    with raise_warnings():
        for name in ("div", "remainder", "fmod"):
            assert_matches_torch(getattr(rp, name), getattr(torch, name), a, b)


# -- prod -----------------------------------------------------------------------------------------
PROD_INPUTS = {
    "plain": np.array([[0.5, -1.5, 2.0, 1.2], [0.7, 1.1, -0.9, 1.3], [1.4, 0.6, 1.8, -0.8]]),
    "one-zero": np.array([[0.5, 0.0, 2.0, 1.2], [0.7, 1.1, -0.9, 1.3], [1.4, 0.6, 1.8, -0.8]]),
    "two-zeros-in-a-row": np.array([[0.5, 0.0, 2.0, 0.0], [0.7, 1.1, -0.9, 1.3], [0.0, 0.6, 1.8, -0.8]]),
    "size1": np.array([1.7]),
    "0d": np.array(-1.3),
}
PROD_CALLS = {
    "all": (lambda x: rp.prod(x), lambda x: torch.prod(x)),
    "dim0": (lambda x: x.prod(0), lambda x: x.prod(0)),
    "dim-1-keepdim": (lambda x: rp.prod(x, -1, keepdim=True), lambda x: torch.prod(x, -1, keepdim=True)),
    "dtype": (lambda x: x.prod(dtype=rp.float64), lambda x: x.prod(dtype=torch.float64)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("call", list(PROD_CALLS))
@pytest.mark.parametrize("case", list(PROD_INPUTS))
def test_prod_matches_torch_with_zeros(case: str, call: str, dtype: Any) -> None:
    rp_fn, torch_fn = PROD_CALLS[call]
    assert_matches_torch(rp_fn, torch_fn, PROD_INPUTS[case], dtype=dtype, check_dtype=True)


@pytest.mark.parametrize("call", ["all", "dim0", "dim-1-keepdim"])
@pytest.mark.parametrize("case", list(PROD_INPUTS))
def test_prod_matches_finite_differences(case: str, call: str) -> None:
    check_grad(PROD_CALLS[call][0], PROD_INPUTS[case])


def test_prod_dtypes_as_torch() -> None:
    for array in (np.array([1, 2, 3], np.int32), np.array([True, True]), np.array([2, 3], np.uint8),
                  np.array([[1, 2], [3, 4]])):
        for fn in (lambda m, x: m.prod(x), lambda m, x: x.prod(0)):
            out, expected = fn(rp, rp.tensor(array)), fn(torch, torch.tensor(array)).numpy()
            assert out.dtype == expected.dtype
            np.testing.assert_array_equal(out.data, expected)
    with pytest.raises(TypeError):
        rp.prod(rp.ones(2, 2), (0, 1))


# -- matrix products ------------------------------------------------------------------------------
PRODUCTS = {
    "mm": ("mm", [(3, 4), (4, 2)]), "mm-size1": ("mm", [(1, 1), (1, 1)]),
    "bmm": ("bmm", [(2, 3, 4), (2, 4, 5)]), "dot": ("dot", [(4,), (4,)]), "dot-size1": ("dot", [(1,), (1,)]),
    "mv": ("mv", [(3, 4), (4,)]), "outer": ("outer", [(3,), (4,)]), "ger": ("ger", [(2,), (1,)]),
    "inner": ("inner", [(2, 3), (4, 3)]), "inner-1d": ("inner", [(3,), (3,)]),
    "inner-0d": ("inner", [(), (2, 3)]), "matmul": ("matmul", [(2, 3, 4), (4,)]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(PRODUCTS))
def test_matrix_products_match_torch(case: str, dtype: Any) -> None:
    name, shapes = PRODUCTS[case]
    arrays = [keyed_normal(s, case, k) for k, s in enumerate(shapes)]
    assert_matches_torch(getattr(rp, name), getattr(torch, name), *arrays, dtype=dtype, check_dtype=True)
    if name != "matmul":
        assert_matches_torch(lambda a, b: getattr(a, name)(b), lambda a, b: getattr(a, name)(b), *arrays,
                             dtype=dtype)


@pytest.mark.parametrize("case", list(PRODUCTS))
def test_matrix_products_match_finite_differences(case: str) -> None:
    name, shapes = PRODUCTS[case]
    check_grad(getattr(rp, name), *[keyed_normal(s, case, k) for k, s in enumerate(shapes)])


def test_outer_promotes_and_integer_products_stay_integer() -> None:
    ints, floats = np.array([1, 2]), np.array([0.5, 1.5, 2.0], np.float32)
    assert rp.outer(rp.tensor(ints), rp.tensor(floats)).dtype == torch.outer(
        torch.tensor(ints), torch.tensor(floats)).numpy().dtype
    m = np.arange(6).reshape(2, 3)
    out = rp.mm(rp.tensor(m), rp.tensor(m.T))
    np.testing.assert_array_equal(out.data, torch.mm(torch.tensor(m), torch.tensor(m.T)).numpy())
    assert out.dtype == np.int64


# -- reductions and other module-level forms --------------------------------------------------
REDUCTIONS = {
    "sum": (lambda m, x: m.sum(x), True), "sum-dim": (lambda m, x: m.sum(x, 1), True),
    "sum-dims-keepdim": (lambda m, x: m.sum(x, (0, 1), keepdim=True), True),
    "sum-dtype": (lambda m, x: x.sum(dtype=m.float64), False),
    "mean": (lambda m, x: m.mean(x), True), "mean-dim": (lambda m, x: m.mean(x, -1, True), True),
    "mean-dtype": (lambda m, x: m.mean(x, dtype=m.float64), False),
    "max": (lambda m, x: m.max(x), True), "max-dim-values": (lambda m, x: m.max(x, 1)[0], True),
    "max-dim-keepdim": (lambda m, x: m.max(x, dim=0, keepdim=True).values, True),
    "min": (lambda m, x: m.min(x), True), "min-dim-values": (lambda m, x: m.min(x, 1).values, True),
    "amax": (lambda m, x: m.amax(x, (0, 1)), True), "amin": (lambda m, x: m.amin(x, 0), True),
    "var": (lambda m, x: m.var(x), True), "var-dim": (lambda m, x: m.var(x, 1), True),
    "std-correction": (lambda m, x: m.std(x, 0, correction=0), True),
    "norm": (lambda m, x: m.norm(x), True), "norm-dim": (lambda m, x: m.norm(x, dim=1), True),
    "clone": (lambda m, x: m.clone(x) * 2, True), "matmul": (lambda m, x: m.matmul(x, x.T), True),
    "neg": (lambda m, x: m.neg(x), True), "negative": (lambda m, x: m.negative(x), True),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_module_level_reductions_match_torch(name: str, dtype: Any) -> None:
    fn = REDUCTIONS[name][0]
    x = keyed_normal((3, 4), name)
    assert_matches_torch(lambda t: fn(rp, t), lambda t: fn(torch, t), x, dtype=dtype, check_dtype=True)


@pytest.mark.parametrize("name", [n for n, case in REDUCTIONS.items() if case[1]])
def test_module_level_reductions_match_finite_differences(name: str) -> None:
    fn = REDUCTIONS[name][0]
    check_grad(lambda t: fn(rp, t), keyed_normal((3, 4), name))


def test_max_and_min_forms_as_torch() -> None:
    x = np.array([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    values, indices = rp.max(rp.tensor(x), 1)
    expected = torch.max(torch.tensor(x), 1)
    np.testing.assert_array_equal(values.data, expected.values.numpy())
    np.testing.assert_array_equal(indices.data, expected.indices.numpy())
    assert indices.dtype == np.int64
    assert rp.min(rp.tensor(x), dim=0).indices.tolist() == torch.min(torch.tensor(x), dim=0).indices.tolist()
    both = rp.max(rp.tensor(x), rp.tensor(x[::-1].copy()))
    np.testing.assert_array_equal(both.data, torch.max(torch.tensor(x), torch.tensor(x[::-1].copy())).numpy())
    for name in ("argmax", "argmin"):
        for kwargs in ({}, {"dim": 1}, {"dim": 0, "keepdim": True}):
            out = getattr(rp, name)(rp.tensor(x), **kwargs)
            want = getattr(torch, name)(torch.tensor(x), **kwargs)
            assert out.dtype == np.int64 and out.tolist() == want.tolist(), (name, kwargs)
    assert rp.numel(rp.tensor(x)) == torch.numel(torch.tensor(x)) == 6


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_, np.int64, np.float32])
def test_sum_dtypes_as_torch(dtype: Any) -> None:
    x = (np.arange(6).reshape(2, 3) % 3).astype(dtype)
    for fn in (lambda m, t: m.sum(t), lambda m, t: t.sum(1), lambda m, t: t.sum(dtype=m.float64),
               lambda m, t: m.sum(t, 0, dtype=m.int32)):
        out, expected = fn(rp, rp.tensor(x)), fn(torch, torch.tensor(x)).numpy()
        assert out.dtype == expected.dtype
        np.testing.assert_array_equal(out.data, expected)


def test_sum_with_dtype_passes_the_gradient_back_in_the_input_dtype() -> None:
    x = rp.tensor(np.ones((2, 2), np.float32), requires_grad=True)
    out = x.sum(dtype=rp.float64)
    assert out.dtype == np.float64
    out.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, np.ones((2, 2)))
    assert float(np.sum(rp.tensor([1.0, 2.0]))) == 3.0  # NumPy's np.sum calls Tensor.sum


# -- comparisons ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less",
                                  "less_equal", "not_equal"])
def test_comparisons_as_torch(name: str) -> None:
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    for other in (np.array([2.0, 2.0, 2.0]), np.array(2.0), 2, 2.5):
        t_other = torch.tensor(other) if isinstance(other, np.ndarray) else other
        r_other = rp.tensor(other) if isinstance(other, np.ndarray) else other
        expected = getattr(torch, name)(torch.tensor(a), t_other).numpy()
        for out in (getattr(rp, name)(rp.tensor(a), r_other), getattr(rp.tensor(a), name)(r_other)):
            assert out.dtype == np.bool_ and not out.requires_grad
            np.testing.assert_array_equal(out.data, expected)


# -- errors ---------------------------------------------------------------------------------------
ERRORS: list[tuple[str, Callable[[Any], Any], type[BaseException], str]] = [
    ("div-rounding-mode", lambda m: m.div(m.ones(2), 2, rounding_mode="round"), RuntimeError, "rounding_m"),
    ("add-float-alpha-ints", lambda m: m.add(m.ones(2, dtype=m.int64), 2, alpha=1.5), RuntimeError, "alpha"),
    ("add-bool-alpha", lambda m: m.add(m.ones(2), m.ones(2), alpha=True), RuntimeError, "Boolean alpha"),
    ("mm-shapes", lambda m: m.mm(m.zeros(2, 3), m.zeros(4, 2)), RuntimeError, r"\(2x3 and 4x2\)"),
    ("mm-1d", lambda m: m.mm(m.zeros(3), m.zeros(3, 2)), RuntimeError, "must be a matrix"),
    ("mm-dtypes", lambda m: m.mm(m.zeros(2, 3), m.zeros(3, 2, dtype=m.float64)), RuntimeError, "same dtype"),
    ("bmm-2d", lambda m: m.bmm(m.zeros(2, 3), m.zeros(2, 3, 2)), RuntimeError, "3D tensor"),
    ("bmm-batch", lambda m: m.bmm(m.zeros(2, 2, 3), m.zeros(3, 3, 2)), RuntimeError, r"\[2, 3\]"),
    ("dot-2d", lambda m: m.dot(m.zeros(3, 1), m.zeros(3)), RuntimeError, "1D tensors expected"),
    ("dot-sizes", lambda m: m.dot(m.zeros(3), m.zeros(4)), RuntimeError, "inconsistent tensor size"),
    ("dot-dtypes", lambda m: m.dot(m.zeros(3), m.zeros(3, dtype=m.float64)), RuntimeError, "same dtype"),
    ("mv-sizes", lambda m: m.mv(m.zeros(2, 3), m.zeros(4)), RuntimeError, "size mismatch"),
    ("mv-2d-vec", lambda m: m.mv(m.zeros(2, 3), m.zeros(3, 1)), RuntimeError, "vector"),
    ("outer-2d", lambda m: m.outer(m.zeros(2, 3), m.zeros(4)), RuntimeError, "Expected 1-D argument self"),
    ("inner-sizes", lambda m: m.inner(m.zeros(2, 3), m.zeros(2)), RuntimeError, "last dimension must match"),
    ("prod-dim", lambda m: m.prod(m.zeros(2, 3), 2), IndexError, "out of range"),
    ("eq-number-first", lambda m: m.eq(0, m.zeros(2)), TypeError, "must be a Tensor"),
]


@pytest.mark.parametrize(("name", "call", "error", "match"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_as_torch(name: str, call: Callable[[Any], Any], error: type[BaseException],
                         match: str) -> None:
    with pytest.raises(error):
        call(torch)
    with pytest.raises(error, match=match):
        call(rp)


def test_names_are_exported() -> None:
    for name in ("add", "sub", "mul", "div", "true_divide", "floor_divide", "remainder", "fmod", "neg",
                 "prod",
                 "mm", "bmm", "dot", "mv", "outer", "eq", "ne", "lt", "le", "gt", "ge", "mean", "amax",
                 "argmax", "var", "std", "norm", "matmul", "clone", "numel", "sum", "max", "min"):
        assert callable(getattr(rp, name)), name
    assert "add" in rp.__all__ and "sum" not in rp.__all__  # builtins' names stay out of star imports
