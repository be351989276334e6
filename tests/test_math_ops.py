"""The elementwise math family (retroprop.elementwise) against torch 2.13.0 and finite differences.

Each op: forward values, gradients and output dtype as torch's in float32 and float64, on 2-D,
size-1 and 0-d inputs; float64 central differences on a smooth domain; NaN, inf, -0.0, the edges
of its domain and (for rounding) ties; integer and bool inputs (torch's result dtypes, and its
refusals as RuntimeError).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import retroprop as rp
from tests.helpers import assert_matches_torch, check_grad, keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
SHAPES = [pytest.param((3, 4), id="2d"), pytest.param((1,), id="size1"), pytest.param((), id="0d")]


def raise_warnings() -> Any:
    """NumPy's warnings (those it gives by default: underflow is silent) raised as errors."""
    return np.errstate(over="raise", invalid="raise", divide="raise")


def _any(shape: tuple[int, ...], key: str) -> np.ndarray:
    return 2 * keyed_normal(shape, key)


def _open_unit(shape: tuple[int, ...], key: str) -> np.ndarray:
    return 0.9 * np.tanh(keyed_normal(shape, key))  # inside (-0.9, 0.9)


def _positive(shape: tuple[int, ...], key: str) -> np.ndarray:
    return 0.3 + np.abs(2 * keyed_normal(shape, key))


def _above_minus_one(shape: tuple[int, ...], key: str) -> np.ndarray:
    return -0.7 + np.abs(2 * keyed_normal(shape, key))


def _off_integers(shape: tuple[int, ...], key: str) -> np.ndarray:
    values = 3 * keyed_normal(shape, key)
    return np.where(np.abs(values - np.round(values)) < 0.05, values + 0.2, values)  # no ties nearby


# name -> (domain for smooth checks, whether finite differences apply)
SMOOTH = {
    "sin": _any, "cos": _any, "tan": _open_unit, "sinh": _any, "cosh": _any, "asin": _open_unit,
    "acos": _open_unit, "atan": _any, "exp2": _any, "log2": _positive, "log10": _positive,
    "log1p": _above_minus_one, "expm1": _any, "reciprocal": _positive, "rsqrt": _positive,
    "square": _any, "erf": _any, "frac": _off_integers, "exp": _any, "log": _positive, "sqrt": _positive,
    "tanh": _any, "sigmoid": _any,
}
STEPS = ["floor", "ceil", "round", "trunc", "sign"]
ALL = [*SMOOTH, *STEPS]


def _rp(name: str) -> Any:
    return getattr(rp, name)


def _torch(name: str) -> Any:
    return getattr(torch, name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(SMOOTH))
def test_smooth_ops_match_torch(name: str, shape: tuple[int, ...], dtype: Any) -> None:
    x = SMOOTH[name](shape, name)
    assert_matches_torch(_rp(name), _torch(name), x, dtype=dtype, check_dtype=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", STEPS)
def test_step_ops_match_torch_and_have_zero_gradient(name: str, dtype: Any) -> None:
    x = np.array([[-2.5, -1.5, -0.5, -0.0, 0.0, 0.5], [1.5, 2.5, 0.49999997, -1.7, 3.2, 7.0]])
    assert_matches_torch(_rp(name), _torch(name), x, dtype=dtype, check_dtype=True)
    t = rp.tensor(x.astype(dtype), requires_grad=True)
    _rp(name)(t).sum().backward()
    assert t.grad.dtype == dtype
    np.testing.assert_array_equal(t.grad, np.zeros_like(x))
    assert_matches_torch(_rp(name), _torch(name), np.array(-1.5), dtype=dtype, check_dtype=True)


@pytest.mark.parametrize("name", list(SMOOTH))
def test_smooth_ops_match_finite_differences(name: str) -> None:
    check_grad(_rp(name), SMOOTH[name]((2, 3), name, ))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", DTYPES)
def test_special_values_propagate_as_torch(name: str, dtype: Any) -> None:
    """NaN, ±inf, ±0 and the edges of each domain: values and gradients (NaN where torch's are)."""
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.0, 1e30, -1e30, 100.0])
    with raise_warnings():  # retroprop must not leak NumPy's warnings for these
        assert_matches_torch(_rp(name), _torch(name), x, dtype=dtype, check_dtype=True)


@pytest.mark.parametrize("name", ALL)
def test_methods_are_the_functions(name: str) -> None:
    x = rp.tensor(_positive((2, 2), name) / 4)
    np.testing.assert_array_equal(getattr(x, name)().data, _rp(name)(x).data)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("array", [
    pytest.param(np.array([-3, 0, 2, 7]), id="int64"),
    pytest.param(np.array([-3, 0, 2], np.int32), id="int32"),
    pytest.param(np.array([True, False]), id="bool"), pytest.param(np.array(5), id="int-0d"),
])
def test_integer_and_bool_inputs_as_torch(name: str, array: np.ndarray) -> None:
    """Float functions give float32; rounding, sign and square keep integers; where torch refuses
    the dtype (frac of ints, rounding bools) retroprop raises RuntimeError too."""
    try:
        expected = _torch(name)(torch.tensor(array))
    except RuntimeError:
        with pytest.raises(RuntimeError, match="not implemented for"):
            _rp(name)(rp.tensor(array))
        return
    with raise_warnings():
        out = _rp(name)(rp.tensor(array))
    assert out.dtype == expected.numpy().dtype, f"{out.dtype} vs torch {expected.dtype}"
    np.testing.assert_allclose(out.data, expected.numpy(), rtol=1e-6)


def test_rounding_ties_go_to_even_and_decimals_as_torch() -> None:
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 1.25, 2.675, -1.35, 125.0, 135.0, 1e20, np.nan])
    for decimals in (0, 1, 2, -1, -2):
        for dtype in (np.float32, np.float64):
            assert_matches_torch(lambda t, d=decimals: rp.round(t, decimals=d),
                                 lambda t, d=decimals: torch.round(t, decimals=d), x, dtype=dtype,
                                 check_dtype=True)
    x = rp.tensor([1.25, 2.5], requires_grad=True)
    x.round(decimals=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    with pytest.raises(RuntimeError, match="not implemented for int64"):
        rp.round(rp.tensor([1, 2]), decimals=1)
    with pytest.raises(TypeError, match="decimals must be an int"):
        rp.round(rp.tensor([1.0]), decimals=1.5)


def test_sign_of_nan_and_negative_zero_is_positive_zero() -> None:
    out = rp.sign(rp.tensor([np.nan, -0.0, 0.0, -3.0]))
    np.testing.assert_array_equal(out.data, [0.0, 0.0, 0.0, -1.0])
    assert not np.signbit(out.data[:3]).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape_a", "shape_b"), [
    pytest.param((3, 4), (3, 4), id="same"), pytest.param((3, 1), (4,), id="broadcast"),
    pytest.param((), (2, 3), id="0d-left"), pytest.param((2, 3), (), id="0d-right"),
    pytest.param((), (), id="0d"),
])
def test_atan2_matches_torch(shape_a: tuple[int, ...], shape_b: tuple[int, ...], dtype: Any) -> None:
    a, b = keyed_normal(shape_a, "a"), keyed_normal(shape_b, "b")
    assert_matches_torch(rp.atan2, torch.atan2, a, b, dtype=dtype, check_dtype=True)
    assert_matches_torch(lambda x, y: x.atan2(y), lambda x, y: x.atan2(y), a, b, dtype=dtype)


def test_atan2_finite_differences_and_quadrants() -> None:
    check_grad(rp.atan2, keyed_normal((3, 1), "y"), keyed_normal((4,), "x"))
    values = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan])
    y, x = np.meshgrid(values, values)
    with raise_warnings():  # the origin's gradient is 0, inf * 0 gives NaN: no warnings
        assert_matches_torch(rp.atan2, torch.atan2, y, x, dtype=np.float32)


def test_atan2_dtypes_as_torch() -> None:
    ints = np.array([1, -2, 3])
    cases = [(ints, ints), (ints, np.array([0.5, 1.0, 2.0], np.float32)),
             (np.array([1.0, 2.0], np.float32), np.array(3.0)),  # a float64 0-d does not widen
             (np.array([1.0, 2.0], np.float32), np.array([3.0, 1.0]))]
    for a, b in cases:
        out = rp.atan2(rp.tensor(a), rp.tensor(b))
        expected = torch.atan2(torch.tensor(a), torch.tensor(b))
        assert out.dtype == expected.numpy().dtype
        np.testing.assert_allclose(out.data, expected.numpy(), rtol=1e-6)
    assert rp.atan2(rp.tensor(ints), 2.0).dtype == np.float32  # a number is accepted too
    with pytest.raises(rp.ShapeError, match="atan2"):
        rp.atan2(rp.tensor(np.ones((2, 3))), rp.tensor(np.ones(4)))
    with pytest.raises(TypeError, match="atan2"):
        rp.atan2(1.0, 2.0)


def test_functions_refuse_non_tensors() -> None:
    with pytest.raises(TypeError, match=r"sin\(\): argument 'input' must be a Tensor, not list"):
        rp.sin([1.0, 2.0])
    assert isinstance(rp.sin(np.array([1.0])), rp.Tensor)


def test_grad_flows_through_a_chain_in_float32() -> None:
    x = rp.tensor(np.array([0.3, 1.2, 2.0], np.float32), requires_grad=True)
    y = (x.sin() * x.exp2() + x.log1p().rsqrt() - x.erf().square()).sum()
    y.backward()
    tx = torch.tensor([0.3, 1.2, 2.0], requires_grad=True)
    (tx.sin() * tx.exp2() + tx.log1p().rsqrt() - tx.erf().square()).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-5)


def test_in_place_write_to_a_saved_output_is_caught() -> None:
    """Ops that keep their output (tan, exp2, ...) name it for the version counter."""
    x = rp.tensor([0.1, 0.2], requires_grad=True)
    y = x.exp2()
    y.data[0] = 5.0
    with pytest.raises(rp.ModifiedInPlaceError):
        y.sum().backward()


@pytest.mark.parametrize("name", ALL)
def test_float16_stays_float16(name: str) -> None:
    x = np.array([0.5, -1.25, 2.5, 0.125], np.float16)
    out, expected = _rp(name)(rp.tensor(x)), _torch(name)(torch.tensor(x))
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.data.astype(np.float64), expected.numpy().astype(np.float64), rtol=2e-3)


def test_a_star_import_brings_the_math_family_but_keeps_pythons_builtins():
    namespace: dict = {}
    exec("from retroprop import *", namespace)
    assert {"sin", "atan2", "erf", "tanh"} <= set(namespace)
    assert "abs" not in namespace and "round" not in namespace  # Python's own stay visible
    assert rp.abs is not abs and rp.round is not round  # still reachable as rp.abs, rp.round
