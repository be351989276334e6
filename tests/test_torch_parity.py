"""Parity with PyTorch: forward values and input gradients of every op, per dtype.

Each test runs the same computation in retroprop and in torch (CPU) through
``tests.helpers.assert_matches_torch``, which compares the outputs and the gradients of the inputs
after backpropagating the same random upstream gradient. ``_check`` wraps it to also compare the
output dtype with torch's and to check that every gradient keeps its input's dtype.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop import F
from tests.helpers import TORCH_TOL, assert_matches_torch, away_from

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def _rng(*key: Any) -> np.random.Generator:
    """A generator seeded from ``key``: the same data on every run (str hashes are salted)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def randn(shape: tuple[int, ...], *key: Any) -> np.ndarray:
    return _rng("randn", shape, *key).standard_normal(shape)


def nonzero(shape: tuple[int, ...], *key: Any) -> np.ndarray:
    """Values with |v| in [0.5, 2] and random signs: safe denominators."""
    rng = _rng("nonzero", shape, *key)
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def positive(shape: tuple[int, ...], *key: Any) -> np.ndarray:
    return _rng("positive", shape, *key).uniform(0.3, 3.0, shape)


def _check(rp_fn: Callable[..., Any], torch_fn: Callable[..., Any], *arrays: Any,
           dtype: Any = np.float64, grad_inputs: Any = None) -> None:
    """``assert_matches_torch``, plus: the output dtype equals torch's and gradients keep dtypes."""
    seen: dict[str, Any] = {}

    def rp_wrapped(*ts: Any) -> Any:
        seen["rp_in"] = ts
        seen["rp_out"] = out = rp_fn(*ts)
        return out

    def torch_wrapped(*ts: Any) -> Any:
        seen["th_out"] = out = torch_fn(*ts)
        return out

    assert_matches_torch(rp_wrapped, torch_wrapped, *arrays, dtype=dtype, grad_inputs=grad_inputs)
    rp_dtype = seen["rp_out"].dtype
    th_dtype = seen["th_out"].detach().numpy().dtype
    assert rp_dtype == th_dtype, f"output dtype {rp_dtype}, torch gives {th_dtype}"
    for k, t in enumerate(seen["rp_in"]):
        if t.requires_grad:
            assert t.grad is not None, f"input {k} received no gradient"
            assert t.grad.shape == t.shape, f"input {k}: grad shape {t.grad.shape} != {t.shape}"
            assert t.grad.dtype == t.dtype, f"input {k}: grad dtype {t.grad.dtype} != {t.dtype}"


def _allclose(actual: Any, desired: Any, dtype: Any, msg: str = "") -> None:
    rtol, atol = TORCH_TOL[np.dtype(dtype).type]
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol, err_msg=msg)


def _tt(array: np.ndarray) -> Any:
    """A constant torch tensor from an ndarray (no gradient)."""
    return torch.from_numpy(np.array(array))  # a copy; keeps 0-d arrays 0-d


# ---------------------------------------------------------------------------------------------
# Elementwise arithmetic
# ---------------------------------------------------------------------------------------------
BINARY_SHAPES = [
    pytest.param((3, 4), (3, 4), id="same"),
    pytest.param((3, 4), (4,), id="row-bcast"),
    pytest.param((4,), (3, 4), id="row-bcast-left"),
    pytest.param((3, 1), (1, 4), id="outer"),
    pytest.param((), (2, 3), id="0d-left"),
    pytest.param((2, 3), (), id="0d-right"),
    pytest.param((), (), id="0d-0d"),
    pytest.param((1,), (2, 1, 3), id="size1-3d"),
    pytest.param((2, 1, 3), (4, 1), id="3d-2d"),
    pytest.param((1, 1), (1,), id="all-size1"),
]

BINARY_OPS = [
    pytest.param(lambda a, b: a + b, id="add"),
    pytest.param(lambda a, b: a - b, id="sub"),
    pytest.param(lambda a, b: a * b, id="mul"),
    pytest.param(lambda a, b: a / b, id="div"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape_a", "shape_b"), BINARY_SHAPES)
@pytest.mark.parametrize("op", BINARY_OPS)
def test_binary_tensor_tensor(op, shape_a, shape_b, dtype):
    a = randn(shape_a, "a")
    b = nonzero(shape_b, "b")
    _check(op, op, a, b, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape_a", "shape_b"), BINARY_SHAPES)
@pytest.mark.parametrize("op", BINARY_OPS)
def test_binary_one_side_needs_grad(op, shape_a, shape_b, dtype):
    """Only one operand requires a gradient (exercises needs_input_grad)."""
    a = nonzero(shape_a, "a")
    b = nonzero(shape_b, "b")
    _check(op, op, a, b, dtype=dtype, grad_inputs=[1])
    _check(op, op, a, b, dtype=dtype, grad_inputs=[0])


SCALAR_OPS = [
    pytest.param(lambda x: x + 2.0, id="x+2.0"),
    pytest.param(lambda x: 2.0 + x, id="2.0+x"),
    pytest.param(lambda x: x - 1.5, id="x-1.5"),
    pytest.param(lambda x: 1.5 - x, id="1.5-x"),
    pytest.param(lambda x: x * -3.0, id="x*-3.0"),
    pytest.param(lambda x: -3.0 * x, id="-3.0*x"),
    pytest.param(lambda x: x / 4.0, id="x/4.0"),
    pytest.param(lambda x: 4.0 / x, id="4.0/x"),
    pytest.param(lambda x: x + 2, id="x+int"),
    pytest.param(lambda x: 3 - x, id="int-x"),
    pytest.param(lambda x: 2 * x, id="int*x"),
    pytest.param(lambda x: 1 / x, id="int/x"),
    pytest.param(lambda x: -x, id="neg"),
    pytest.param(lambda x: -(-x * 2.0) - x / 3.0, id="chain"),
    pytest.param(lambda x: x * x + x, id="reuse"),
]

UNARY_SHAPES = [
    pytest.param((), id="0d"),
    pytest.param((1,), id="1"),
    pytest.param((5,), id="5"),
    pytest.param((3, 4), id="3x4"),
    pytest.param((2, 1, 3), id="2x1x3"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", UNARY_SHAPES)
@pytest.mark.parametrize("op", SCALAR_OPS)
def test_scalar_operand(op, shape, dtype):
    _check(op, op, nonzero(shape, "x"), dtype=dtype)


ARRAY_SHAPES = [
    pytest.param((3, 4), (3, 4), id="same"),
    pytest.param((3, 4), (4,), id="bcast-const"),
    pytest.param((4,), (3, 4), id="bcast-tensor"),
    pytest.param((3, 1), (1, 4), id="outer"),
    pytest.param((), (2, 3), id="0d-tensor"),
    pytest.param((2, 3), (), id="0d-const"),
]
ARRAY_OPS = ["add", "sub", "mul", "div"]
_PY_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape_x", "shape_c"), ARRAY_SHAPES)
@pytest.mark.parametrize("op", ARRAY_OPS)
@pytest.mark.parametrize("tensor_left", [True, False], ids=["tensor-op-array", "array-op-tensor"])
def test_ndarray_operand(op, shape_x, shape_c, tensor_left, dtype):
    """``x + ndarray`` and ``ndarray + x``; torch gets the same constant as a tensor."""
    fn = _PY_OPS[op]
    c = np.asarray(nonzero(shape_c, "c"), dtype=dtype)
    x = nonzero(shape_x, "x")
    if tensor_left:
        _check(lambda t: fn(t, c), lambda t: fn(t, _tt(c)), x, dtype=dtype)
    else:
        _check(lambda t: fn(c, t), lambda t: fn(_tt(c), t), x, dtype=dtype)


@pytest.mark.parametrize("op", [
    pytest.param(lambda x: x + np.float64(2.0), id="x+np.float64"),
    pytest.param(lambda x: np.float64(2.0) * x, id="np.float64*x"),
    pytest.param(lambda x: x ** np.float64(0.5), id="x**np.float64"),
])
def test_numpy_scalar_operands_promote_as_torch(op):
    # torch takes a NumPy float64 scalar as a Python float (weak), so float32 (op) it stays float32
    x = rp.tensor(positive((3,), "x").astype(np.float32), requires_grad=True)
    out = op(x)
    expected = op(torch.tensor(x.data))
    assert expected.dtype == torch.float32 and out.dtype == np.float32
    np.testing.assert_allclose(out.data, expected.numpy(), rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Powers
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", UNARY_SHAPES)
@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1, 0, 2.0, -0.5, 1.5])
def test_pow_scalar_exponent_positive_inputs(exponent, shape, dtype):
    fn = lambda x: x**exponent  # noqa: E731
    _check(fn, fn, positive(shape, "x"), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", UNARY_SHAPES)
@pytest.mark.parametrize("exponent", [2, 3, 0, 1, -1, -2])
def test_pow_integer_exponent_any_sign(exponent, shape, dtype):
    fn = lambda x: x**exponent  # noqa: E731
    _check(fn, fn, nonzero(shape, "x"), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_pow_method_and_zero_input(dtype):
    x = np.array([-1.5, 0.0, 2.0])
    _check(lambda t: t.pow(2), lambda t: t.pow(2), x, dtype=dtype)
    _check(lambda t: t**3, lambda t: t**3, x, dtype=dtype)
    _check(lambda t: t**0, lambda t: t**0, x, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", UNARY_SHAPES)
@pytest.mark.parametrize("base", [2.0, 0.5, float(np.e), 3, 10.0])
def test_scalar_base_pow(base, shape, dtype):
    fn = lambda x: base**x  # noqa: E731
    _check(fn, fn, randn(shape, "x"), dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Matrix multiplication
# ---------------------------------------------------------------------------------------------
MATMUL_SHAPES = [
    pytest.param((3,), (3,), id="1d@1d"),
    pytest.param((1,), (1,), id="1d@1d-size1"),
    pytest.param((3,), (3, 4), id="1d@2d"),
    pytest.param((3, 4), (4,), id="2d@1d"),
    pytest.param((3, 4), (4, 2), id="2d@2d"),
    pytest.param((1, 3), (3, 1), id="2d@2d-size1"),
    pytest.param((2, 3, 4), (2, 4, 5), id="3d@3d"),
    pytest.param((2, 1, 3, 4), (5, 4, 2), id="bcast-batch"),
    pytest.param((1, 3, 4), (2, 4, 5), id="bcast-batch-size1"),
    pytest.param((2, 3, 4), (4, 5), id="3d@2d"),
    pytest.param((3, 4), (2, 4, 5), id="2d@3d"),
    pytest.param((4,), (2, 4, 3), id="1d@3d"),
    pytest.param((2, 3, 4), (4,), id="3d@1d"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape_a", "shape_b"), MATMUL_SHAPES)
def test_matmul(shape_a, shape_b, dtype):
    fn = lambda a, b: a @ b  # noqa: E731
    _check(fn, fn, randn(shape_a, "a"), randn(shape_b, "b"), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape_a", "shape_b"), [((3, 4), (4, 2)), ((2, 3, 4), (4,))])
def test_matmul_one_side_and_method(shape_a, shape_b, dtype):
    a, b = randn(shape_a, "a"), randn(shape_b, "b")
    _check(lambda x, y: x.matmul(y), lambda x, y: x.matmul(y), a, b, dtype=dtype, grad_inputs=[0])
    _check(lambda x, y: x @ y, lambda x, y: x @ y, a, b, dtype=dtype, grad_inputs=[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_ndarray_operand(dtype):
    c = np.asarray(randn((2, 3), "c"), dtype=dtype)
    d = np.asarray(randn((4, 5), "d"), dtype=dtype)
    x = randn((3, 4), "x")
    _check(lambda t: c @ t, lambda t: _tt(c) @ t, x, dtype=dtype)
    _check(lambda t: t @ d, lambda t: t @ _tt(d), x, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------
def _torch_dims(axis: Any, ndim: int) -> Any:
    if axis is None:
        return tuple(range(ndim))
    return axis


def _torch_reduce(name: str, axis: Any, keepdims: bool, ddof: int = 0) -> Callable[[Any], Any]:
    def fn(t: Any) -> Any:
        dims = _torch_dims(axis, t.ndim)
        if name in ("var", "std"):
            return getattr(torch, name)(t, dim=dims, correction=ddof, keepdim=keepdims)
        op = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax, "min": torch.amin}[name]
        return op(t, dim=dims, keepdim=keepdims)

    return fn


def _rp_reduce(t: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """rp's reduction with _torch_reduce's meaning: amax/amin for "max"/"min", and var/std with
    correction 0 unless given (rp's default is torch's, correction 1)."""
    if name in ("var", "std") and not {"ddof", "correction"} & kwargs.keys():
        kwargs["correction"] = 0
    return getattr(t, {"max": "amax", "min": "amin"}.get(name, name))(*args, **kwargs)


REDUCTIONS = ["sum", "mean", "max", "min", "var", "std"]
AXES_3D = [
    pytest.param(None, id="all"),
    pytest.param(0, id="0"),
    pytest.param(1, id="1"),
    pytest.param(-1, id="-1"),
    pytest.param(-2, id="-2"),
    pytest.param((0, 2), id="(0,2)"),
    pytest.param((-1, 0), id="(-1,0)"),
    pytest.param((1,), id="(1,)"),
    pytest.param((0, 1, 2), id="(0,1,2)"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdims", [False, True], ids=["drop", "keep"])
@pytest.mark.parametrize("axis", AXES_3D)
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_3d(name, axis, keepdims, dtype):
    x = randn((2, 3, 4), name)
    rp_fn = lambda t: _rp_reduce(t, name, axis=axis, keepdims=keepdims)  # noqa: E731
    _check(rp_fn, _torch_reduce(name, axis, keepdims), x, dtype=dtype)


SMALL_REDUCTION_CASES = [
    pytest.param((), None, id="0d-all"),
    pytest.param((5,), None, id="1d-all"),
    pytest.param((5,), 0, id="1d-0"),
    pytest.param((5,), -1, id="1d--1"),
    pytest.param((3, 1), 1, id="size1-axis"),
    pytest.param((3, 1), 0, id="size1-other"),
    pytest.param((1, 4), (0, 1), id="size1-tuple"),
    pytest.param((1, 1), None, id="all-size1"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdims", [False, True], ids=["drop", "keep"])
@pytest.mark.parametrize(("shape", "axis"), SMALL_REDUCTION_CASES)
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_small_shapes(name, shape, axis, keepdims, dtype):
    x = randn(shape, name)
    rp_fn = lambda t: _rp_reduce(t, name, axis=axis, keepdims=keepdims)  # noqa: E731
    _check(rp_fn, _torch_reduce(name, axis, keepdims), x, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdims", [False, True], ids=["drop", "keep"])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), 1])
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_ddof1(name, axis, keepdims, dtype):
    x = randn((2, 3, 4), name, "ddof")
    rp_fn = lambda t: getattr(t, name)(axis=axis, keepdims=keepdims, ddof=1)  # noqa: E731
    _check(rp_fn, _torch_reduce(name, axis, keepdims, ddof=1), x, dtype=dtype)
    rp_alias = lambda t: getattr(t, name)(dim=axis, keepdim=keepdims, correction=1)  # noqa: E731
    _check(rp_alias, _torch_reduce(name, axis, keepdims, ddof=1), x, dtype=dtype)



@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ddof", [0, 1])
def test_std_of_constant_slice(ddof, dtype):
    x = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    _check(lambda t: t.std(axis=1, ddof=ddof), lambda t: t.std(dim=1, correction=ddof), x,
           dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_var_of_constant_slice(dtype):
    x = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    _check(lambda t: t.var(axis=1, ddof=0), lambda t: t.var(dim=1, correction=0), x, dtype=dtype)


TIES = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdims", [False, True], ids=["drop", "keep"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_ties(name, axis, keepdims, dtype):
    """Tied extremes share the gradient equally, as torch.amax/amin."""
    rp_fn = lambda t: _rp_reduce(t, name, axis=axis, keepdims=keepdims)  # noqa: E731
    torch_fn = _torch_reduce(name, axis, keepdims)
    _check(rp_fn, torch_fn, TIES, dtype=dtype)
    _check(rp_fn, torch_fn, -TIES, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [None, 0, 2, (0, 2)])
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_many_ties_3d(name, axis, dtype):
    x = _rng("ties3d").integers(0, 3, size=(3, 4, 5)).astype(np.float64)
    _check(lambda t: _rp_reduce(t, name, axis=axis), _torch_reduce(name, axis, False), x, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_ties_exact_gradient(dtype):
    x = rp.tensor(TIES.astype(dtype), requires_grad=True)
    x.amax(axis=1).sum().backward()
    _allclose(x.grad, np.array([[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]]), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var", "std"])
def test_reduction_torch_style_aliases(name, dtype):
    x = randn((2, 3, 4), name, "alias")
    rp_fn = lambda t: _rp_reduce(t, name, dim=1, keepdim=True)  # noqa: E731
    _check(rp_fn, _torch_reduce(name, 1, True), x, dtype=dtype)
    rp_fn = lambda t: _rp_reduce(t, name, dim=[0, 2])  # noqa: E731
    _check(rp_fn, _torch_reduce(name, (0, 2), False), x, dtype=dtype)
    # positional as torch's: (dim, keepdim), and (dim, unbiased, keepdim) for var/std
    positional = (-1, False, True) if name in ("var", "std") else (-1, True)
    rp_fn = lambda t: getattr(t, {"max": "amax", "min": "amin"}.get(name, name))(*positional)  # noqa: E731
    _check(rp_fn, _torch_reduce(name, -1, True), x, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reduction_composite(dtype):
    """A reduction feeding arithmetic: (x - x.mean(1, keepdims)) / x.std(1, keepdims)."""
    x = randn((4, 6), "composite")
    rp_fn = lambda t: (t - t.mean(axis=1, keepdims=True)) / t.std(axis=1, keepdims=True, ddof=0)  # noqa: E731
    torch_fn = lambda t: (t - t.mean(1, keepdim=True)) / t.std(1, keepdim=True, correction=0)  # noqa: E731
    _check(rp_fn, torch_fn, x, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Shape ops
# ---------------------------------------------------------------------------------------------
SAME_SHAPE_OPS = [
    pytest.param((2, 3, 4), lambda t: t.reshape(4, 6), id="reshape-varargs"),
    pytest.param((2, 3, 4), lambda t: t.reshape((6, 4)), id="reshape-tuple"),
    pytest.param((2, 3, 4), lambda t: t.reshape(-1), id="reshape-flat"),
    pytest.param((2, 3, 4), lambda t: t.reshape(2, -1), id="reshape-infer"),
    pytest.param((2, 3, 4), lambda t: t.view(3, 8), id="view"),
    pytest.param((), lambda t: t.reshape(1, 1), id="reshape-0d-up"),
    pytest.param((1, 1), lambda t: t.reshape(()), id="reshape-to-0d"),
    pytest.param((2, 3, 4), lambda t: t.permute(2, 0, 1), id="permute"),
    pytest.param((2, 3, 4), lambda t: t.permute((1, 2, 0)), id="permute-tuple"),
    pytest.param((2, 3, 4), lambda t: t.permute(-1, 0, -2), id="permute-negative"),
    pytest.param((3, 4), lambda t: t.T, id="T"),
    pytest.param((1, 4), lambda t: t.T, id="T-size1"),
    pytest.param((3, 4), lambda t: t.transpose(1, 0), id="transpose-2d"),
    pytest.param((2, 1, 3, 1), lambda t: t.squeeze(), id="squeeze-all"),
    pytest.param((2, 1, 3, 1), lambda t: t.squeeze(1), id="squeeze-1"),
    pytest.param((2, 1, 3, 1), lambda t: t.squeeze(-1), id="squeeze--1"),
    pytest.param((2, 1, 3, 1), lambda t: t.squeeze(dim=3), id="squeeze-dim"),
    pytest.param((2, 1, 3, 1), lambda t: t.squeeze((1, 3)), id="squeeze-tuple"),
    pytest.param((1,), lambda t: t.squeeze(), id="squeeze-to-0d"),
    pytest.param((2, 3), lambda t: t.unsqueeze(0), id="unsqueeze-0"),
    pytest.param((2, 3), lambda t: t.unsqueeze(1), id="unsqueeze-1"),
    pytest.param((2, 3), lambda t: t.unsqueeze(-1), id="unsqueeze--1"),
    pytest.param((2, 3), lambda t: t.unsqueeze(dim=-2), id="unsqueeze-dim"),
    pytest.param((), lambda t: t.unsqueeze(0), id="unsqueeze-0d"),
    pytest.param((2, 3, 4, 5), lambda t: t.flatten(), id="flatten"),
    pytest.param((2, 3, 4, 5), lambda t: t.flatten(1), id="flatten-1"),
    pytest.param((2, 3, 4, 5), lambda t: t.flatten(0, 1), id="flatten-0-1"),
    pytest.param((2, 3, 4, 5), lambda t: t.flatten(1, -1), id="flatten-1--1"),
    pytest.param((2, 3, 4, 5), lambda t: t.flatten(-3, -2), id="flatten-neg"),
    pytest.param((2, 3, 4, 5), lambda t: t.flatten(start_dim=2, end_dim=2), id="flatten-noop"),
    pytest.param((), lambda t: t.flatten(), id="flatten-0d"),
    pytest.param((2, 3), lambda t: t.reshape(3, 2).T.unsqueeze(0).flatten() * 2.0, id="chain"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "fn"), SAME_SHAPE_OPS)
def test_shape_ops(shape, fn, dtype):
    _check(fn, fn, randn(shape, "shape"), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axes", [(2, 0, 1), (0, 2, 1), (1, 0, 2), (-1, -3, -2), (0, 1, 2)])
def test_permute_axes(axes, dtype):
    _check(lambda t: t.permute(*axes), lambda t: t.permute(*axes), randn((2, 3, 4), "tr"),
           dtype=dtype)
    _check(lambda t: t.permute(axes), lambda t: t.permute(*axes), randn((2, 3, 4), "tr"),
           dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dims", [(0, 1), (1, 2), (2, 0), (-1, -2), (1, 1)])
def test_transpose_swaps_two_dims(dims, dtype):
    _check(lambda t: t.transpose(*dims), lambda t: t.transpose(*dims), randn((2, 3, 4), "tr"),
           dtype=dtype)


def _torch_index(index: Any) -> Any:
    if isinstance(index, tuple):
        return tuple(_torch_index(i) for i in index)
    if isinstance(index, np.ndarray):
        return torch.from_numpy(index)
    return index


_MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])
INDEXES = [
    pytest.param((3, 4), 1, id="int"),
    pytest.param((3, 4), -1, id="neg-int"),
    pytest.param((3, 4), (1, 2), id="int-int"),
    pytest.param((3, 4), (-1, -4), id="neg-int-int"),
    pytest.param((5,), 2, id="int-to-0d"),
    pytest.param((3, 4), slice(1, None), id="slice"),
    pytest.param((3, 4), (slice(None), slice(1, 3)), id="slice-cols"),
    pytest.param((3, 4), (slice(None, None, 2), slice(1, None, 2)), id="slice-step"),
    pytest.param((3, 4), (slice(-2, None), 0), id="slice-neg-start-int"),
    pytest.param((2, 3, 4), (Ellipsis, 0), id="ellipsis"),
    pytest.param((2, 3, 4), (0, Ellipsis, slice(1, 3)), id="int-ellipsis-slice"),
    pytest.param((3, 4), (None, 1), id="newaxis"),
    pytest.param((3, 4), np.array([0, 2]), id="int-array"),
    pytest.param((3, 4), np.array([0, 0, 2, 0]), id="int-array-repeat"),
    pytest.param((3, 4), [2, 2, 1], id="list-repeat"),
    pytest.param((3, 4), np.array([-1, 0, -1]), id="int-array-negative"),
    pytest.param((3, 4), np.array([[0, 1], [1, 1]]), id="int-array-2d"),
    pytest.param((3, 4), (np.array([0, 1, 0]), np.array([2, 2, 2])), id="two-arrays-repeat"),
    pytest.param((3, 4), (np.array([0, 0]), slice(1, 3)), id="array-slice"),
    pytest.param((3, 4), (slice(None), np.array([3, 3, 0])), id="slice-array"),
    pytest.param((3, 4), (1, np.array([0, 0, 3])), id="int-array-mixed"),
    pytest.param((2, 3, 4), (np.array([1, 1]), slice(None), np.array([0, 0])), id="arrays-split"),
    pytest.param((3, 4), _MASK, id="bool-mask"),
    pytest.param((3, 4), np.array([True, False, True]), id="bool-rows"),
    pytest.param((3, 4), (slice(None), np.array([False, True, True, False])), id="bool-cols"),
    pytest.param((5,), np.zeros(5, dtype=bool), id="bool-empty"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "index"), INDEXES)
def test_getitem(shape, index, dtype):
    th_index = _torch_index(index)
    _check(lambda t: t[index], lambda t: t[th_index], randn(shape, "idx"), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_getitem_with_index_tensors(dtype):
    """Integer and boolean index tensors (rp tensors on one side, torch tensors on the other)."""
    x = randn((4, 3), "idxt")
    rows = np.array([3, 0, 3, 3])
    mask = np.array([True, False, False, True])
    _check(lambda t: t[rp.tensor(rows)], lambda t: t[_tt(rows)], x, dtype=dtype)
    _check(lambda t: t[rp.tensor(mask), 1:], lambda t: t[_tt(mask), 1:], x, dtype=dtype)
    _check(lambda t: t[t > 0], lambda t: t[t > 0], x, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_getitem_twice_accumulates(dtype):
    """Two reads of the same tensor sum their gradients."""
    fn = lambda t: t[0] * t[[0, 0, 1]].sum(axis=0) + t[1:].sum()  # noqa: E731
    _check(fn, fn, randn((3, 4), "twice"), dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Elementwise functions
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", UNARY_SHAPES)
def test_exp(shape, dtype):
    fn = lambda t: t.exp()  # noqa: E731
    _check(fn, fn, 3 * randn(shape, "exp"), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_extremes(dtype):
    fn = lambda t: t.exp()  # noqa: E731
    _check(fn, fn, np.array([-80.0, -20.0, 0.0, 20.0, 40.0]), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", UNARY_SHAPES)
@pytest.mark.parametrize("name", ["log", "sqrt"])
def test_log_sqrt(name, shape, dtype):
    fn = lambda t: getattr(t, name)()  # noqa: E731
    _check(fn, fn, positive(shape, name), dtype=dtype)
    _check(fn, fn, 1e3 * positive(shape, name), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", UNARY_SHAPES)
def test_abs(shape, dtype):
    x = randn(shape, "abs")
    if x.size:
        x.reshape(-1)[0] = 0.0
    _check(lambda t: t.abs(), lambda t: t.abs(), x, dtype=dtype)
    _check(lambda t: abs(t), lambda t: abs(t), x, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_abs_at_zero_gradient_is_zero(dtype):
    _check(lambda t: t.abs(), lambda t: t.abs(), np.array([0.0, -0.0, 1.0, -1.0]), dtype=dtype)
    _check(lambda t: t.abs(), lambda t: t.abs(), np.array(0.0), dtype=dtype)


CLIP_X = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 1.0 - 1e-3, -1.0 + 1e-3])
CLIP_CASES = [
    pytest.param(lambda t: t.clip(-1.0, 1.0), lambda t: t.clamp(-1.0, 1.0), id="clip-both"),
    pytest.param(lambda t: t.clamp(min=-1.0, max=1.0), lambda t: t.clamp(min=-1.0, max=1.0),
                 id="clamp-both-kw"),
    pytest.param(lambda t: t.clip(-0.5), lambda t: t.clamp(min=-0.5), id="clip-min"),
    pytest.param(lambda t: t.clip(min=0.0), lambda t: t.clamp(min=0.0), id="clip-min-0"),
    pytest.param(lambda t: t.clip(max=0.5), lambda t: t.clamp(max=0.5), id="clip-max"),
    pytest.param(lambda t: t.clamp(None, 1.0), lambda t: t.clamp(None, 1.0), id="clamp-none-max"),
    pytest.param(lambda t: t.clip(0.5, 0.5), lambda t: t.clamp(0.5, 0.5), id="clip-degenerate"),
    pytest.param(lambda t: t.clip(-1, 1), lambda t: t.clamp(-1, 1), id="clip-int-bounds"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("rp_fn", "torch_fn"), CLIP_CASES)
def test_clip(rp_fn, torch_fn, dtype):
    """The gradient passes at the bounds themselves, as torch.clamp."""
    _check(rp_fn, torch_fn, CLIP_X, dtype=dtype)
    _check(rp_fn, torch_fn, CLIP_X.reshape(3, 3), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value", [-2.0, -1.0, 0.3, 1.0, 2.0])
def test_clip_0d(value, dtype):
    _check(lambda t: t.clip(-1.0, 1.0), lambda t: t.clamp(-1.0, 1.0), np.array(value), dtype=dtype)


def test_clip_no_bounds():
    x = randn((3,), "nobounds")
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        torch.tensor(x).clamp()
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        rp.tensor(x).clip()


# ---------------------------------------------------------------------------------------------
# Joining, where, maximum/minimum
# ---------------------------------------------------------------------------------------------
CONCAT_CASES = [
    pytest.param([(2, 3), (4, 3)], 0, id="2d-axis0"),
    pytest.param([(2, 3), (2, 1), (2, 2)], 1, id="2d-axis1-three"),
    pytest.param([(2, 3), (2, 1)], -1, id="2d-axis-1"),
    pytest.param([(2, 3, 4), (2, 1, 4)], -2, id="3d-axis-2"),
    pytest.param([(1,), (3,)], 0, id="1d"),
    pytest.param([(2, 3)], 0, id="single"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shapes", "axis"), CONCAT_CASES)
def test_concatenate(shapes, axis, dtype):
    arrays = [randn(s, "cat", k) for k, s in enumerate(shapes)]
    _check(lambda *ts: rp.concatenate(ts, axis=axis), lambda *ts: torch.cat(ts, dim=axis),
           *arrays, dtype=dtype)
    _check(lambda *ts: rp.concatenate(list(ts), dim=axis), lambda *ts: torch.cat(ts, dim=axis),
           *arrays, dtype=dtype, grad_inputs=[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_concatenate_same_tensor_twice(dtype):
    _check(lambda t: rp.concatenate([t, t * 2.0, t], axis=1),
           lambda t: torch.cat([t, t * 2.0, t], dim=1), randn((2, 3), "cat2"), dtype=dtype)


STACK_CASES = [
    pytest.param((2, 3), 0, 3, id="axis0"),
    pytest.param((2, 3), 1, 2, id="axis1"),
    pytest.param((2, 3), 2, 2, id="axis-last"),
    pytest.param((2, 3), -1, 3, id="axis-1"),
    pytest.param((2, 3), -2, 2, id="axis-2"),
    pytest.param((2, 3), -3, 2, id="axis-3"),
    pytest.param((), 0, 3, id="0d"),
    pytest.param((4,), 0, 1, id="single"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "axis", "count"), STACK_CASES)
def test_stack(shape, axis, count, dtype):
    arrays = [randn(shape, "stack", k) for k in range(count)]
    _check(lambda *ts: rp.stack(ts, axis=axis), lambda *ts: torch.stack(ts, dim=axis),
           *arrays, dtype=dtype)
    _check(lambda *ts: rp.stack(list(ts), dim=axis), lambda *ts: torch.stack(ts, dim=axis),
           *arrays, dtype=dtype, grad_inputs=[count - 1])


WHERE_SHAPES = [
    pytest.param((3, 4), (3, 4), (3, 4), id="same"),
    pytest.param((3, 4), (4,), (3, 1), id="bcast"),
    pytest.param((3, 1), (1, 4), (), id="bcast-0d"),
    pytest.param((), (2, 3), (2, 3), id="0d-cond"),
    pytest.param((), (), (), id="all-0d"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape_c", "shape_a", "shape_b"), WHERE_SHAPES)
def test_where(shape_c, shape_a, shape_b, dtype):
    cond = _rng("cond", shape_c).random(shape_c) > 0.5
    a, b = randn(shape_a, "wa"), randn(shape_b, "wb")
    tc = _tt(np.asarray(cond))
    _check(lambda x, y: rp.where(cond, x, y), lambda x, y: torch.where(tc, x, y), a, b,
           dtype=dtype)
    _check(lambda x, y: rp.where(rp.tensor(cond), x, y), lambda x, y: torch.where(tc, x, y),
           a, b, dtype=dtype, grad_inputs=[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_where_scalar_branches_and_comparison_condition(dtype):
    x = randn((3, 4), "wscalar")
    _check(lambda t: rp.where(t > 0, t, 0.0), lambda t: torch.where(t > 0, t, 0.0), x,
           dtype=dtype)
    _check(lambda t: rp.where(t > 0, 1.0, t * 2.0), lambda t: torch.where(t > 0, 1.0, t * 2.0),
           x, dtype=dtype)


EXTREMUM_CASES = [
    pytest.param(np.array([1.0, 2.0, 3.0, 4.0, -1.0]), np.array([1.0, 0.0, 3.0, 5.0, -1.0]),
                 id="ties"),
    pytest.param(np.array([[1.0], [2.0], [0.5]]), np.array([0.5, 1.0, 2.0, 1.0]),
                 id="bcast-ties"),
    pytest.param(np.array([[1.0, 2.0], [2.0, 2.0]]), np.array([2.0, 2.0]), id="bcast-row-ties"),
    pytest.param(np.array(1.0), np.array([0.0, 1.0, 2.0]), id="0d-vs-1d-tie"),
    pytest.param(np.array([[3.0, 3.0]]), np.array(3.0), id="all-tie-vs-0d"),
    pytest.param(np.array(1.0), np.array(1.0), id="0d-0d-tie"),
    pytest.param(np.array(1.0), np.array(2.0), id="0d-0d"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("a", "b"), EXTREMUM_CASES)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum(name, a, b, dtype):
    """On exact ties torch gives each side half the gradient."""
    _check(getattr(rp, name), getattr(torch, name), a, b, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_random_and_one_side(name, dtype):
    a, b = randn((3, 4), "ma"), randn((4,), "mb")
    _check(getattr(rp, name), getattr(torch, name), a, b, dtype=dtype)
    _check(getattr(rp, name), getattr(torch, name), a, b, dtype=dtype, grad_inputs=[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_python_scalar(name, dtype):
    x = np.array([-1.0, 0.0, 0.0, 2.0])
    tdt = TORCH_DTYPE[dtype]
    _check(lambda t: getattr(rp, name)(t, 0.0),
           lambda t: getattr(torch, name)(t, torch.tensor(0.0, dtype=tdt)), x, dtype=dtype)
    _check(lambda t: getattr(rp, name)(0.0, t),
           lambda t: getattr(torch, name)(torch.tensor(0.0, dtype=tdt), t), x, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value", [-1.0, 0.0, 1.0])
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_0d_with_python_scalar(name, value, dtype):
    tdt = TORCH_DTYPE[dtype]
    _check(lambda t: getattr(rp, name)(t, 0.0),
           lambda t: getattr(torch, name)(t, torch.tensor(0.0, dtype=tdt)), np.array(value),
           dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------------
ACT_X = np.array([-50.0, -3.0, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.0, 3.0, 50.0])

ACTIVATIONS = [
    pytest.param(F.relu, TF.relu, id="relu"),
    pytest.param(F.leaky_relu, TF.leaky_relu, id="leaky_relu"),
    pytest.param(lambda t: F.leaky_relu(t, 0.2), lambda t: TF.leaky_relu(t, 0.2), id="leaky-0.2"),
    pytest.param(lambda t: F.leaky_relu(t, negative_slope=-0.5),
                 lambda t: TF.leaky_relu(t, negative_slope=-0.5), id="leaky-neg-slope"),
    pytest.param(F.elu, TF.elu, id="elu"),
    pytest.param(lambda t: F.elu(t, alpha=0.5), lambda t: TF.elu(t, alpha=0.5), id="elu-0.5"),
    pytest.param(F.selu, TF.selu, id="selu"),
    pytest.param(F.gelu, TF.gelu, id="gelu"),
    pytest.param(lambda t: F.gelu(t, approximate="tanh"),
                 lambda t: TF.gelu(t, approximate="tanh"), id="gelu-tanh"),
    pytest.param(F.sigmoid, torch.sigmoid, id="sigmoid"),
    pytest.param(F.tanh, torch.tanh, id="tanh"),
    pytest.param(F.softplus, TF.softplus, id="softplus"),
    pytest.param(lambda t: F.softplus(t, beta=2.0), lambda t: TF.softplus(t, beta=2.0),
                 id="softplus-beta2"),
    pytest.param(lambda t: F.softplus(t, beta=0.5, threshold=5.0),
                 lambda t: TF.softplus(t, beta=0.5, threshold=5.0), id="softplus-b0.5-t5"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("rp_fn", "torch_fn"), ACTIVATIONS)
def test_activation_special_points(rp_fn, torch_fn, dtype):
    """Exact zeros (kinks), tiny values and large |x| (saturation, stability)."""
    _check(rp_fn, torch_fn, ACT_X, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", UNARY_SHAPES)
@pytest.mark.parametrize(("rp_fn", "torch_fn"), ACTIVATIONS)
def test_activation_shapes(rp_fn, torch_fn, shape, dtype):
    _check(rp_fn, torch_fn, 2 * randn(shape, "act"), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("rp_fn", "torch_fn"), [
    pytest.param(lambda t: t.relu(), lambda t: t.relu(), id="relu"),
    pytest.param(lambda t: t.sigmoid(), lambda t: t.sigmoid(), id="sigmoid"),
    pytest.param(lambda t: t.tanh(), lambda t: t.tanh(), id="tanh"),
    pytest.param(lambda t: t.softmax(0), lambda t: t.softmax(0), id="softmax"),
    pytest.param(lambda t: t.log_softmax(dim=-1), lambda t: t.log_softmax(dim=-1),
                 id="log_softmax"),
])
def test_activation_tensor_methods(rp_fn, torch_fn, dtype):
    if not hasattr(rp.Tensor, "relu"):
        pytest.skip("this retroprop has no activation methods on Tensor")
    x = ACT_X.reshape(-1, 1) * np.array([1.0, 0.1, 20.0])
    _check(rp_fn, torch_fn, x, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x", [-1000.0, -100.0, 100.0, 1000.0, 0.0])
@pytest.mark.parametrize(("rp_fn", "torch_fn"), [
    pytest.param(F.sigmoid, torch.sigmoid, id="sigmoid"),
    pytest.param(F.tanh, torch.tanh, id="tanh"),
    pytest.param(F.softplus, TF.softplus, id="softplus"),
    pytest.param(F.elu, TF.elu, id="elu"),
    pytest.param(F.selu, TF.selu, id="selu"),
    pytest.param(F.gelu, TF.gelu, id="gelu"),
])
def test_activation_huge_0d(rp_fn, torch_fn, x, dtype):
    _check(rp_fn, torch_fn, np.array(x), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x", [19.0, 20.0, 20.5, 25.0, 9.5, 10.0, 10.5, 11.0])
@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_softplus_threshold(x, beta, dtype):
    """Around the threshold (beta * x vs 20) softplus switches to the identity, as torch."""
    _check(lambda t: F.softplus(t, beta=beta), lambda t: TF.softplus(t, beta=beta),
           np.array([x, -x]), dtype=dtype)


SOFTMAX_INPUTS = [
    pytest.param((3, 4), 1.0, id="3x4"),
    pytest.param((3, 4), 1000.0, id="3x4-large"),
    pytest.param((2, 3, 4), 1.0, id="2x3x4"),
    pytest.param((2, 3, 4), 1000.0, id="2x3x4-large"),
    pytest.param((1, 5), 1.0, id="size1"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize(("shape", "scale"), SOFTMAX_INPUTS)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax(name, shape, scale, axis, dtype):
    x = randn(shape, name) * scale
    rp_fn, th_fn = getattr(F, name), getattr(TF, name)
    _check(lambda t: rp_fn(t, axis), lambda t: th_fn(t, dim=axis), x, dtype=dtype)
    _check(lambda t: rp_fn(t, dim=axis), lambda t: th_fn(t, dim=axis), x, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_huge_logits(name, dtype):
    """1000-scale logits and a +1000 offset: the max shift keeps exp() finite."""
    x = np.array([[1000.0, 999.0, 0.0, -1000.0], [1000.0, 1000.0, 1000.0, 1000.0], [0, 0, 0, 1]])
    rp_fn, th_fn = getattr(F, name), getattr(TF, name)
    _check(lambda t: rp_fn(t, -1), lambda t: th_fn(t, dim=-1), x, dtype=dtype)
    _check(lambda t: rp_fn(t, 0), lambda t: th_fn(t, dim=0), x, dtype=dtype)
    _check(lambda t: rp_fn(t, -1), lambda t: th_fn(t, dim=-1), randn((5,), "1d") + 1000.0,
           dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Linear
# ---------------------------------------------------------------------------------------------
LINEAR_SHAPES = [
    pytest.param((5, 3), id="2d"),
    pytest.param((2, 5, 3), id="3d"),
    pytest.param((3,), id="1d"),
    pytest.param((1, 3), id="batch1"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("x_shape", LINEAR_SHAPES)
def test_linear(x_shape, bias, dtype):
    x, w, b = randn(x_shape, "lx"), randn((4, 3), "lw"), randn((4,), "lb")
    if bias:
        _check(F.linear, TF.linear, x, w, b, dtype=dtype)
        _check(F.linear, TF.linear, x, w, b, dtype=dtype, grad_inputs=[2])
        _check(F.linear, TF.linear, x, w, b, dtype=dtype, grad_inputs=[0])
    else:
        _check(F.linear, TF.linear, x, w, dtype=dtype)
        _check(F.linear, TF.linear, x, w, dtype=dtype, grad_inputs=[1])


# ---------------------------------------------------------------------------------------------
# Batch normalization
# ---------------------------------------------------------------------------------------------
BN_SHAPES = [
    pytest.param((6, 3), id="NC"),
    pytest.param((4, 3, 5), id="NCL"),
    pytest.param((2, 3), id="N2"),
    pytest.param((1, 3, 4), id="N1-L4"),
]
BN_AFFINE = [
    pytest.param(0, id="plain"),
    pytest.param(1, id="weight"),
    pytest.param(2, id="weight-bias"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", BN_AFFINE)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm(shape, training, affine, dtype):
    channels = shape[1]
    x = 3.0 * randn(shape, "bnx") + 1.5
    params = [randn((channels,), "bnw") + 1.0, randn((channels,), "bnb")][:affine]
    mean0 = randn((channels,), "rm").astype(dtype)
    var0 = positive((channels,), "rv").astype(dtype)
    rm_rp, rv_rp = mean0.copy(), var0.copy()
    rm_th, rv_th = torch.tensor(mean0), torch.tensor(var0)

    def rp_fn(t, *p):
        return F.batch_norm(t, rm_rp, rv_rp, *p, training=training)

    def torch_fn(t, *p):
        return TF.batch_norm(t, rm_th, rv_th, *p, training=training, momentum=0.1, eps=1e-5)

    _check(rp_fn, torch_fn, x, *params, dtype=dtype)
    _allclose(rm_rp, rm_th.numpy(), dtype, "running_mean differs from torch")
    _allclose(rv_rp, rv_th.numpy(), dtype, "running_var differs from torch")
    if not training:
        np.testing.assert_array_equal(rm_rp, mean0)
        np.testing.assert_array_equal(rv_rp, var0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_batch_norm_running_stats_as_tensors_and_options(shape, dtype):
    """Running stats passed as rp tensors, custom momentum/eps, two training steps then eval."""
    channels = shape[1]
    rm_rp = rp.zeros(channels, dtype=dtype)
    rv_rp = rp.ones(channels, dtype=dtype)
    rm_th = torch.zeros(channels, dtype=TORCH_DTYPE[dtype])
    rv_th = torch.ones(channels, dtype=TORCH_DTYPE[dtype])
    for step in range(2):
        x = randn(shape, "bnsteps", step) * 2.0 + step
        _check(lambda t: F.batch_norm(t, rm_rp, rv_rp, training=True, momentum=0.3, eps=1e-3),
               lambda t: TF.batch_norm(t, rm_th, rv_th, training=True, momentum=0.3, eps=1e-3),
               x, dtype=dtype)
    _allclose(rm_rp.data, rm_th.numpy(), dtype, "running_mean")
    _allclose(rv_rp.data, rv_th.numpy(), dtype, "running_var")
    x = randn(shape, "bneval")
    w, b = randn((channels,), "w"), randn((channels,), "b")
    _check(lambda t, wt, bt: F.batch_norm(t, rm_rp, rv_rp, wt, bt, training=False, eps=1e-3),
           lambda t, wt, bt: TF.batch_norm(t, rm_th, rv_th, wt, bt, training=False, eps=1e-3),
           x, w, b, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_batch_norm_training_without_running_stats(shape, dtype):
    w, b = randn((shape[1],), "w"), randn((shape[1],), "b")
    _check(lambda t, wt, bt: F.batch_norm(t, None, None, wt, bt, training=True),
           lambda t, wt, bt: TF.batch_norm(t, None, None, wt, bt, training=True),
           randn(shape, "bnnone"), w, b, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_only_params_need_grad(dtype):
    x, w, b = randn((5, 3), "x"), randn((3,), "w"), randn((3,), "b")
    rm, rv = np.zeros(3, dtype), np.ones(3, dtype)
    rm_th, rv_th = torch.zeros(3, dtype=TORCH_DTYPE[dtype]), torch.ones(3, dtype=TORCH_DTYPE[dtype])
    _check(lambda t, wt, bt: F.batch_norm(t, rm, rv, wt, bt, training=True),
           lambda t, wt, bt: TF.batch_norm(t, rm_th, rv_th, wt, bt, training=True),
           x, w, b, dtype=dtype, grad_inputs=[1, 2])


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------
REDUCTION_NAMES = ["mean", "sum", "none"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("reduction", REDUCTION_NAMES)
@pytest.mark.parametrize("batched", [True, False], ids=["NC", "C"])
def test_cross_entropy(batched, reduction, smoothing, dtype):
    if batched:
        logits = randn((6, 4), "ce")
        target = np.array([0, 3, 3, 1, 2, 0])
    else:
        logits = randn((4,), "ce1d")
        target = np.array(2)
    _check(lambda z, y: F.cross_entropy(z, y, reduction=reduction, label_smoothing=smoothing),
           lambda z, y: TF.cross_entropy(z, y, reduction=reduction, label_smoothing=smoothing),
           logits, target, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("reduction", REDUCTION_NAMES)
def test_cross_entropy_large_logits(reduction, smoothing, dtype):
    logits = np.array([[1000.0, 0.0, -1000.0], [-500.0, 500.0, 499.0], [50.0, 50.0, 50.0]])
    target = np.array([0, 2, 1])
    _check(lambda z, y: F.cross_entropy(z, y, reduction=reduction, label_smoothing=smoothing),
           lambda z, y: TF.cross_entropy(z, y, reduction=reduction, label_smoothing=smoothing),
           logits, target, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_list_target_and_default_args(dtype):
    logits = randn((3, 5), "celist")
    _check(lambda z: F.cross_entropy(z, [4, 0, 4]),
           lambda z: TF.cross_entropy(z, torch.tensor([4, 0, 4])), logits, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTION_NAMES)
@pytest.mark.parametrize("batched", [True, False], ids=["NC", "C"])
def test_nll_loss(batched, reduction, dtype):
    if batched:
        z = randn((5, 4), "nll")
        target = np.array([1, 1, 0, 3, 2])
    else:
        z = randn((4,), "nll1d")
        target = np.array(3)
    _check(lambda a, y: F.nll_loss(a, y, reduction=reduction),
           lambda a, y: TF.nll_loss(a, y, reduction=reduction), z, target, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTION_NAMES)
def test_nll_of_log_softmax_matches_cross_entropy(reduction, dtype):
    z, target = randn((5, 4), "nllce"), np.array([3, 0, 0, 2, 1])
    _check(lambda a, y: F.nll_loss(F.log_softmax(a, axis=1), y, reduction=reduction),
           lambda a, y: TF.nll_loss(TF.log_softmax(a, dim=1), y, reduction=reduction),
           z, target, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTION_NAMES)
@pytest.mark.parametrize("shape", [(3, 4), (5,), (), (2, 1, 3)])
def test_mse_loss(shape, reduction, dtype):
    p, y = randn(shape, "msep"), randn(shape, "msey")
    _check(lambda a, b: F.mse_loss(a, b, reduction=reduction),
           lambda a, b: TF.mse_loss(a, b, reduction=reduction), p, y, dtype=dtype)
    _check(lambda a, b: F.mse_loss(a, b, reduction=reduction),
           lambda a, b: TF.mse_loss(a, b, reduction=reduction), p, y, dtype=dtype,
           grad_inputs=[0])
    _check(lambda a, b: F.mse_loss(a, b, reduction=reduction),
           lambda a, b: TF.mse_loss(a, b, reduction=reduction), p, y, dtype=dtype,
           grad_inputs=[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_mse_loss_ndarray_target(dtype):
    p = randn((3, 4), "msenp")
    y = np.asarray(randn((3, 4), "msenpy"), dtype=dtype)
    _check(lambda a: F.mse_loss(a, y), lambda a: TF.mse_loss(a, _tt(y)), p, dtype=dtype)


BCE_LOGITS = np.array([-100.0, -50.0, -3.0, -0.5, 0.0, 0.5, 3.0, 50.0, 100.0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTION_NAMES)
def test_bce_with_logits_large_logits(reduction, dtype):
    y = _rng("bcey").uniform(0.0, 1.0, BCE_LOGITS.shape)
    y[:3] = [0.0, 1.0, 1.0]
    fn_rp = lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction)  # noqa: E731
    fn_th = lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction=reduction)  # noqa: E731
    _check(fn_rp, fn_th, BCE_LOGITS, y, dtype=dtype)
    _check(fn_rp, fn_th, BCE_LOGITS, y, dtype=dtype, grad_inputs=[0])
    _check(fn_rp, fn_th, BCE_LOGITS, y, dtype=dtype, grad_inputs=[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTION_NAMES)
@pytest.mark.parametrize("shape", [(4, 3), (), (1,), (2, 1, 3)])
def test_bce_with_logits_shapes(shape, reduction, dtype):
    x = 3 * randn(shape, "bcex")
    y = (_rng("bceyy", shape).random(shape) > 0.5).astype(np.float64)
    _check(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
           lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction=reduction),
           x, y, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 4), (), (2, 1, 5)])
def test_dropout_identity(shape, dtype):
    x = randn(shape, "dropid")
    _check(lambda t: F.dropout(t, p=0.0), lambda t: TF.dropout(t, p=0.0), x, dtype=dtype)
    _check(lambda t: F.dropout(t, p=0.0) * 1.0, lambda t: TF.dropout(t, p=0.0) * 1.0, x,
           dtype=dtype)
    _check(lambda t: F.dropout(t, p=0.5, training=False),
           lambda t: TF.dropout(t, p=0.5, training=False), x, dtype=dtype)
    _check(lambda t: F.dropout(t, p=1.0, training=False) * 2.0,
           lambda t: TF.dropout(t, p=1.0, training=False) * 2.0, x, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("shape", [(40, 25), (7,), (2, 3, 4)])
def test_dropout_matches_torch_with_same_mask(shape, p, dtype):
    seed = 1234
    ones = rp.ones(shape, dtype=dtype)
    probe = F.dropout(ones, p=p, generator=np.random.default_rng(seed))
    mask = probe.data != 0
    # the kept units are scaled by exactly 1/(1-p); the dropped ones are 0
    _allclose(probe.data[mask], np.full(int(mask.sum()), 1.0 / (1.0 - p)), dtype)
    th_mask = torch.from_numpy(mask)

    def rp_fn(t):
        return F.dropout(t, p=p, generator=np.random.default_rng(seed))

    def torch_fn(t):
        return t * th_mask / (1.0 - p)

    _check(rp_fn, torch_fn, randn(shape, "dropx"), dtype=dtype)
    if mask.size >= 1000:
        assert abs(mask.mean() - (1 - p)) < 0.05, "kept fraction far from 1 - p"


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_gradient_is_mask_over_keep_prob(dtype):
    p, seed = 0.3, 7
    x = rp.tensor(randn((5, 6), "dropg").astype(dtype), requires_grad=True)
    out = F.dropout(x, p=p, generator=np.random.default_rng(seed))
    mask = F.dropout(rp.ones((5, 6), dtype=dtype), p=p, generator=np.random.default_rng(seed))
    mask = mask.data != 0
    upstream = _rng("up").uniform(0.5, 1.5, (5, 6)).astype(dtype)
    out.backward(upstream)
    _allclose(out.data, x.data * mask / (1 - p), dtype)
    _allclose(x.grad, mask / (1 - p) * upstream, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 4), ()])
def test_dropout_p1_zeros_without_nan(shape, dtype):
    x = randn(shape, "drop1")
    _check(lambda t: F.dropout(t, p=1.0), lambda t: TF.dropout(t, p=1.0), x, dtype=dtype)
    t = rp.tensor(x.astype(dtype), requires_grad=True)
    out = F.dropout(t, p=1.0, generator=np.random.default_rng(0))
    out.sum().backward()
    assert np.all(out.data == 0) and not np.isnan(out.data).any()
    assert np.all(t.grad == 0) and not np.isnan(t.grad).any()


# ---------------------------------------------------------------------------------------------
# A composite network step (many ops in one graph)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_two_layer_network(dtype):
    x = randn((8, 5), "netx")
    w1, b1 = randn((6, 5), "w1") * 0.5, randn((6,), "b1")
    w2, b2 = randn((3, 6), "w2") * 0.5, randn((3,), "b2")
    y = np.array([0, 2, 1, 1, 0, 2, 2, 1])

    def rp_fn(xt, a, b, c, d, yt):
        h = F.gelu(F.linear(xt, a, b))
        h = h / (h.std(axis=0, keepdims=True, ddof=0) + 1.0)
        return F.cross_entropy(F.linear(h, c, d), yt, label_smoothing=0.05) + 1e-2 * (a**2).sum()

    def torch_fn(xt, a, b, c, d, yt):
        h = TF.gelu(TF.linear(xt, a, b))
        h = h / (h.std(dim=0, keepdim=True, correction=0) + 1.0)
        return TF.cross_entropy(TF.linear(h, c, d), yt, label_smoothing=0.05) + 1e-2 * (a**2).sum()

    _check(rp_fn, torch_fn, x, w1, b1, w2, b2, y, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_away_from_kinks_relu_chain(dtype):
    """A smooth-region chain (inputs pushed off the kinks) through relu/abs/maximum."""
    x = away_from(randn((4, 5), "kinks"), kinks=(0.0, 0.5))
    fn_rp = lambda t: rp.maximum(F.relu(t), t.abs() * 0.5).sum(axis=1)  # noqa: E731
    fn_th = lambda t: torch.maximum(TF.relu(t), t.abs() * 0.5).sum(dim=1)  # noqa: E731
    _check(fn_rp, fn_th, x, dtype=dtype)


@pytest.mark.parametrize(("name", "f"), [
    ("x/0", lambda x: x / 0), ("1/x", lambda x: 1 / x), ("x/x", lambda x: x / x), ("x**-1", lambda x: x**-1),
    ("x**0.5", lambda x: x**0.5), ("x**-0.5", lambda x: x**-0.5),
])
def test_division_by_zero_gives_torchs_inf_and_nan_without_numpy_warnings(name, f):
    values = [0.0, -1.0, 2.0]
    x, t = rp.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy RuntimeWarning fails the test
        ours = f(x)
        ours.sum().backward()
    theirs = f(t)
    theirs.sum().backward()
    np.testing.assert_array_equal(ours.data, theirs.detach().numpy())
    np.testing.assert_array_equal(x.grad.data, t.grad.numpy())


@pytest.mark.parametrize("exponent", [float("nan"), float("inf"), -float("inf")])
def test_a_nan_or_infinite_exponent_gives_torchs_values(exponent):
    values = [0.0, -1.0, 0.5, 2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = rp.tensor(values) ** exponent
    np.testing.assert_array_equal(ours.data, (torch.tensor(values) ** exponent).numpy())
