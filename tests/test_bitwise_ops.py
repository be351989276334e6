"""Bitwise, logical and float-class ops (retroprop.elementwise) against torch 2.13.0.

``bitwise_and/or/xor/not``, the shifts and the operators ``& | ^ ~ << >>`` (also reflected, with
Python ints that wrap as torch's do); ``logical_*``; ``isnan``, ``isinf``, ``isposinf``,
``isneginf``, ``isfinite``. Values and dtypes as torch's, and its refusals of float operands.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest

import retroprop as rp

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

INTS = [[1, -8, 1], [32, 1, 6]]
BOOLS = [[True, True, False, False], [True, False, True, False]]


def _same(rp_out: rp.Tensor, th_out: object) -> None:
    want = th_out.numpy()
    assert rp_out.dtype == want.dtype, f"dtype {rp_out.dtype} vs torch {want.dtype}"
    np.testing.assert_array_equal(rp_out.numpy(), want)


@pytest.mark.parametrize("op", [operator.and_, operator.or_, operator.xor], ids=["and", "or", "xor"])
@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "int8"])
def test_binary_bitwise_operators(op, dtype):
    a = np.array([[1, 8, 3], [32, 1, 6]], dtype=dtype)
    b = np.array([[7, 2, 1]], dtype=dtype)  # broadcast
    _same(op(rp.tensor(a), rp.tensor(b)), op(torch.tensor(a), torch.tensor(b)))
    _same(op(rp.tensor(a), 0x37), op(torch.tensor(a), 0x37))
    _same(op(0x37, rp.tensor(a)), op(0x37, torch.tensor(a)))


@pytest.mark.parametrize("name", ["bitwise_and", "bitwise_or", "bitwise_xor"])
def test_bitwise_functions_and_methods(name):
    a, b = np.array(INTS, dtype=np.int32), np.array(INTS[::-1], dtype=np.int64)  # promoted to int64
    _same(getattr(rp, name)(rp.tensor(a), rp.tensor(b)),
          getattr(torch, name)(torch.tensor(a), torch.tensor(b)))
    _same(getattr(rp.tensor(a), name)(rp.tensor(b)), getattr(torch.tensor(a), name)(torch.tensor(b)))
    b0, b1 = np.array(BOOLS[0]), np.array(BOOLS[1])
    _same(getattr(rp, name)(rp.tensor(b0), rp.tensor(b1)), getattr(torch, name)(torch.tensor(b0),
                                                                                torch.tensor(b1)))
    _same(getattr(rp, name)(rp.tensor(b0), 1), getattr(torch, name)(torch.tensor(b0), 1))  # bool & int: int64


def test_python_ints_wrap_to_the_tensor_dtype():
    _same(rp.tensor([0], dtype=np.int32) | 0xFFFFFFFF, torch.tensor([0], dtype=torch.int32) | 0xFFFFFFFF)
    _same(rp.tensor(2**64 - 1, dtype=np.uint64) & 0xFFFFFFFF,
          torch.tensor(2**64 - 1, dtype=torch.uint64) & 0xFFFFFFFF)
    _same(rp.tensor([5], dtype=np.int32) & True, torch.tensor([5], dtype=torch.int32) & True)


def test_bitwise_not_and_invert():
    for data, dtype in ((INTS, np.int32), ([[True, False]], np.bool_), ([0, 255], np.uint8)):
        a = np.array(data, dtype=dtype)
        _same(~rp.tensor(a), ~torch.tensor(a))
        _same(rp.tensor(a).bitwise_not(), torch.tensor(a).bitwise_not())
        _same(rp.bitwise_not(rp.tensor(a)), torch.bitwise_not(torch.tensor(a)))
    with pytest.raises(TypeError, match="only implemented on integer and Boolean"):
        ~rp.tensor([1.5])


@pytest.mark.parametrize("op", [operator.lshift, operator.rshift], ids=["lshift", "rshift"])
@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "int16"])
def test_shifts(op, dtype):
    info = np.iinfo(dtype)
    a = np.array([[-1, -3, 1, 7], [0, info.min, info.max, -1]]).astype(dtype)
    bits = info.bits
    for shift in (0, 2, bits - 1):
        _same(op(rp.tensor(a), shift), op(torch.tensor(a), shift))
    # per-element shifts, including negative ones and ones at or past the bit width
    s = np.array([0, 3, bits, bits + 5]).astype(dtype) if info.min == 0 else np.array(
        [0, -1, bits, bits + 5]).astype(dtype)
    _same(op(rp.tensor(a), rp.tensor(s)), op(torch.tensor(a), torch.tensor(s)))
    _same(op(3, rp.tensor(s[:2])), op(3, torch.tensor(s[:2])))


def test_shift_functions_and_promotion():
    a, s = np.array([1, 2, 3], dtype=np.uint8), np.array([1, 2, 3], dtype=np.int64)
    _same(rp.bitwise_left_shift(rp.tensor(a), rp.tensor(s)),
          torch.bitwise_left_shift(torch.tensor(a), torch.tensor(s)))
    _same(rp.tensor(a).bitwise_right_shift(1), torch.tensor(a).bitwise_right_shift(1))
    _same(rp.tensor([True]) << 1, torch.tensor([True]) << 1)


@pytest.mark.parametrize("fn", [
    lambda m: m.tensor([1.0]) << 2, lambda m: m.tensor([4], dtype=m.int32) >> m.tensor([1.0]),
    lambda m: m.tensor([4], dtype=m.int32) << 1.0, lambda m: m.tensor([1.0]) & 1,
    lambda m: m.bitwise_xor(m.tensor([1.0]), m.tensor([1.0])),
], ids=["float<<", "int>>float", "int<<1.0", "float&", "xor-float"])
def test_float_operands_are_refused_as_torch(fn):
    with pytest.raises(NotImplementedError):
        fn(torch)
    with pytest.raises(NotImplementedError, match="not implemented for 'Float'"):
        fn(rp)


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical_binary(name):
    a, b = np.array([1.0, 0.0, 2.5, 0.0]), np.array([3, 0, 0, 7], dtype=np.int32)
    _same(getattr(rp, name)(rp.tensor(a), rp.tensor(b)),
          getattr(torch, name)(torch.tensor(a), torch.tensor(b)))
    _same(getattr(rp.tensor(a), name)(rp.tensor(b)), getattr(torch.tensor(a), name)(torch.tensor(b)))


def test_logical_not():
    for data in ([True, False, True], [1.0, 2.0, 0.0, 0.5], [0, 3]):
        _same(rp.logical_not(rp.tensor(data)), torch.logical_not(torch.tensor(data)))
        _same(rp.tensor(data).logical_not(), torch.tensor(data).logical_not())


@pytest.mark.parametrize("name", ["isnan", "isinf", "isposinf", "isneginf", "isfinite"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32", "bool"])
def test_float_classes(name, dtype):
    values = np.array([-np.inf, 0.0, np.inf, np.nan, 1.1, -0.0])
    data = values.astype(dtype) if dtype.startswith("float") else np.array([0, 1, 1, 0, 1, 0]).astype(dtype)
    _same(getattr(rp, name)(rp.tensor(data)), getattr(torch, name)(torch.tensor(data)))
    _same(getattr(rp.tensor(data), name)(), getattr(torch.tensor(data), name)())
    _same(getattr(rp, name)(rp.tensor(data[0])), getattr(torch, name)(torch.tensor(data[0])))  # 0-d


def test_results_carry_no_gradient():
    x = rp.tensor([1.0, np.nan], requires_grad=True)
    assert not rp.isnan(x).requires_grad
    assert not rp.logical_not(x).requires_grad


@pytest.mark.parametrize("symbol, method", [("&=", "bitwise_and_"), ("|=", "bitwise_or_"),
                                            ("^=", "bitwise_xor_"), ("<<=", "bitwise_left_shift_"),
                                            (">>=", "bitwise_right_shift_")])
@pytest.mark.parametrize("dtype", ["int8", "int64", "bool"])
def test_in_place_bitwise_ops_write_into_the_tensor_as_torch(symbol: str, method: str, dtype: str) -> None:
    """``x &= y`` (and ``x.bitwise_and_(y)``) change ``x`` itself: a view taken before sees the change,
    the dtype is kept and the version goes up, as torch's."""
    if dtype == "bool" and "shift" in method:
        pytest.skip("torch has no shifts of bool tensors")
    values, others = [5, 6, 7, 100], [3, 1, 2, 1]
    ours, theirs = rp.tensor(values, dtype=np.dtype(dtype)), torch.tensor(values).to(getattr(torch, dtype))
    our_view, their_view = ours[1:], theirs[1:]
    before = ours._version
    namespace = {"x": ours, "y": rp.tensor(others, dtype=np.dtype(dtype)), "tx": theirs,
                 "ty": torch.tensor(others).to(getattr(torch, dtype))}
    exec(f"x {symbol} y\ntx {symbol} ty", namespace)
    assert namespace["x"] is ours and ours._version > before
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(our_view.numpy(), their_view.numpy())
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    again = rp.tensor(values, dtype=np.dtype(dtype))
    assert getattr(again, method)(rp.tensor(others, dtype=np.dtype(dtype))) is again
    np.testing.assert_array_equal(again.numpy(), theirs.numpy())
