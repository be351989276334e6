"""The shaping family (retroprop.shaping) against torch 2.13.0 and finite differences.

Each op: forward values and gradients as torch's in float32 and float64, on 2-D, size-1 and 0-d
inputs where torch takes them; float64 central differences; result dtypes (``cat`` promotes, the
``new_*`` factories keep the tensor's dtype); and torch's refusals (a non-1 dim expanded, split
sizes that do not add up, ...) with the same exception class.
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


def _joined(pieces: Any) -> Any:
    """Pieces (of split, chunk, unbind, ...) flattened, weighted by position and joined: one tensor
    whose values and gradient check every piece (works for rp and torch alike)."""
    module = rp if isinstance(pieces[0], rp.Tensor) else torch
    return module.cat([p.reshape(-1) * (i + 1) for i, p in enumerate(pieces)])


def _same(fn: Callable[..., Any]) -> tuple[Callable[..., Any], Callable[..., Any]]:
    return fn, fn


# name -> (retroprop fn, torch fn, input shapes); the same lambda where the spelling is the same
CASES: dict[str, tuple[Callable[..., Any], Callable[..., Any], list[tuple[int, ...]]]] = {
    "repeat": (*_same(lambda x: x.repeat(2, 1, 3)), [(3, 4)]),
    "repeat-tuple": (*_same(lambda x: x.repeat((2, 2))), [(1,)]),
    "repeat-0d": (*_same(lambda x: x.repeat(2, 3)), [()]),
    "repeat-zero": (*_same(lambda x: x.repeat(0, 2)), [(2, 3)]),
    "tile": (*_same(lambda x: x.tile((2,))), [(3, 4)]),
    "rp.tile": (lambda x: rp.tile(x, (2, 1, 1)), lambda x: torch.tile(x, (2, 1, 1)), [(3, 4)]),
    "expand": (*_same(lambda x: x.expand(2, -1, 5)), [(3, 1)]),
    "expand-size1": (*_same(lambda x: x.expand(4)), [(1,)]),
    "expand-0d": (*_same(lambda x: x.expand(3, 2)), [()]),
    "expand-same": (*_same(lambda x: x.expand(3, 4)), [(3, 4)]),
    "expand_as": (*_same(lambda x, y: x.expand_as(y) * y), [(1, 4), (3, 4)]),
    "broadcast_to": (lambda x: rp.broadcast_to(x, (2, 3, 4)), lambda x: torch.broadcast_to(x, (2, 3, 4)),
                     [(3, 1)]),
    "broadcast_tensors": (lambda x, y: _joined(rp.broadcast_tensors(x, y)),
                          lambda x, y: _joined(torch.broadcast_tensors(x, y)), [(3, 1), (4,)]),
    "split": (*_same(lambda x: _joined(x.split(3, 1))), [(2, 7)]),
    "split-sections": (*_same(lambda x: _joined(x.split([1, 0, 3], dim=-1))), [(2, 4)]),
    "rp.split": (lambda x: _joined(rp.split(x, 2)), lambda x: _joined(torch.split(x, 2)), [(5,)]),
    "chunk": (*_same(lambda x: _joined(x.chunk(3, 1))), [(2, 5)]),
    "chunk-fewer": (*_same(lambda x: _joined(x.chunk(4))), [(6,)]),
    "rp.chunk": (lambda x: _joined(rp.chunk(x, 2, dim=0)), lambda x: _joined(torch.chunk(x, 2, dim=0)),
                 [(3, 2)]),
    "tensor_split": (*_same(lambda x: _joined(x.tensor_split(3, dim=1))), [(2, 7)]),
    "tensor_split-indices": (*_same(lambda x: _joined(x.tensor_split([1, 5]))), [(7,)]),
    "tensor_split-unsorted": (*_same(lambda x: _joined(x.tensor_split((5, 1, 9, -2)))), [(7, 2)]),
    "unbind": (*_same(lambda x: _joined(x.unbind(1))), [(3, 4)]),
    "rp.unbind": (lambda x: _joined(rp.unbind(x)), lambda x: _joined(torch.unbind(x)), [(1,)]),
    "narrow": (*_same(lambda x: x.narrow(1, 1, 2)), [(3, 4)]),
    "narrow-negative": (lambda x: rp.narrow(x, -1, -3, 2), lambda x: torch.narrow(x, -1, -3, 2), [(3, 4)]),
    "cat": (lambda x, y: rp.cat([x, y, x], dim=1), lambda x, y: torch.cat([x, y, x], dim=1),
            [(3, 4), (3, 2)]),
    "cat-negative-dim": (lambda x, y: rp.cat((x, y), -2), lambda x, y: torch.cat((x, y), -2),
                         [(3, 4), (1, 4)]),
    "concat-size1": (lambda x, y: rp.concat([x, y]), lambda x, y: torch.concat([x, y]), [(1,), (1,)]),
    "cat-legacy-empty": (lambda x, y: rp.cat([x, y]), lambda x, y: torch.cat([x, y]), [(2, 3), (0,)]),
    "flip": (*_same(lambda x: x.flip(0, 1)), [(3, 4)]),
    "flip-list": (lambda x: rp.flip(x, [-1]), lambda x: torch.flip(x, [-1]), [(3, 4)]),
    "flip-0d": (*_same(lambda x: x.flip(0)), [()]),
    "fliplr": (*_same(lambda x: x.fliplr()), [(3, 4)]),
    "flipud": (lambda x: rp.flipud(x), lambda x: torch.flipud(x), [(3, 4)]),
    "roll": (*_same(lambda x: x.roll(1, 1)), [(3, 4)]),
    "roll-flat": (*_same(lambda x: x.roll(-5)), [(3, 4)]),
    "roll-several": (lambda x: rp.roll(x, (2, -1), (0, 1)), lambda x: torch.roll(x, (2, -1), (0, 1)),
                     [(3, 4)]),
    "roll-0d": (*_same(lambda x: x.roll(1)), [()]),
    "movedim": (lambda x: rp.movedim(x, (0, 1), (2, 0)), lambda x: torch.movedim(x, (0, 1), (2, 0)),
                [(2, 3, 4)]),
    "moveaxis": (*_same(lambda x: x.moveaxis(-1, 0)), [(2, 3, 4)]),
    "t": (*_same(lambda x: x.t()), [(3, 4)]),
    "t-1d": (lambda x: rp.t(x), lambda x: torch.t(x), [(3,)]),
    "t-0d": (*_same(lambda x: x.t()), [()]),
    "swapaxes": (*_same(lambda x: x.swapaxes(0, 2)), [(2, 3, 4)]),
    "swapdims": (lambda x: rp.swapdims(x, -1, 0), lambda x: torch.swapdims(x, -1, 0), [(3, 4)]),
    "view_as": (*_same(lambda x, y: x.view_as(y) * y), [(3, 4), (2, 6)]),
    "reshape_as": (*_same(lambda x, y: x.reshape_as(y) * y), [(3, 4), (12,)]),
    "rp.reshape": (lambda x: rp.reshape(x, (4, -1)), lambda x: torch.reshape(x, (4, -1)), [(3, 4)]),
    "rp.transpose": (lambda x: rp.transpose(x, 0, 1), lambda x: torch.transpose(x, 0, 1), [(3, 4)]),
    "rp.permute": (lambda x: rp.permute(x, (2, 0, 1)), lambda x: torch.permute(x, (2, 0, 1)), [(2, 3, 4)]),
    "rp.squeeze": (lambda x: rp.squeeze(x, 1), lambda x: torch.squeeze(x, 1), [(3, 1, 2)]),
    "rp.squeeze-all": (lambda x: rp.squeeze(x), lambda x: torch.squeeze(x), [(1, 3, 1)]),
    "rp.unsqueeze": (lambda x: rp.unsqueeze(x, -1), lambda x: torch.unsqueeze(x, -1), [(3, 4)]),
    "rp.flatten": (lambda x: rp.flatten(x, 1), lambda x: torch.flatten(x, 1), [(2, 3, 4)]),
    "rp.flatten-0d": (lambda x: rp.flatten(x), lambda x: torch.flatten(x), [()]),
    "contiguous": (*_same(lambda x: x.t().contiguous() * 2), [(3, 4)]),
    "type_as": (*_same(lambda x, y: x.type_as(y) + y), [(3, 4), (3, 4)]),
}


def _inputs(name: str, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    return [keyed_normal(shape, name, k) for k, shape in enumerate(shapes)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name: str, dtype: Any) -> None:
    rp_fn, torch_fn, shapes = CASES[name]
    assert_matches_torch(rp_fn, torch_fn, *_inputs(name, shapes), dtype=dtype, check_dtype=True)


@pytest.mark.parametrize("name", [n for n in CASES if not n.startswith(("rp.", "t-", "flip-0d"))])
def test_matches_finite_differences(name: str) -> None:
    rp_fn, _, shapes = CASES[name]
    check_grad(rp_fn, *_inputs(name, shapes))


def test_expand_is_a_view_whose_gradient_sums_back() -> None:
    x = rp.tensor(np.array([[1.0], [2.0]]), requires_grad=True)
    y = x.expand(3, 2, 4)
    assert y.shape == (3, 2, 4) and np.shares_memory(y.data, x.data)
    (y * rp.tensor(np.arange(24.0).reshape(3, 2, 4))).sum().backward()
    np.testing.assert_array_equal(x.grad, np.arange(24.0).reshape(3, 2, 4).sum(axis=(0, 2))[:, None])


def test_pieces_are_views_and_gradients_of_unused_pieces_are_zero() -> None:
    x = rp.tensor(np.arange(6.0), requires_grad=True)
    first, second, _ = x.split(2)
    assert np.shares_memory(first.data, x.data)
    (second * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 0, 3, 3, 0, 0])


def test_split_and_chunk_sizes_as_torch() -> None:
    for n in (0, 1, 5, 6, 7):
        for k in (1, 2, 3, 4, 8):
            rp_sizes = [p.shape[0] for p in rp.zeros(n).chunk(k)]
            assert rp_sizes == [p.shape[0] for p in torch.zeros(n).chunk(k)], (n, k)
            rp_sizes = [p.shape[0] for p in rp.zeros(n).tensor_split(k)]
            assert rp_sizes == [p.shape[0] for p in torch.zeros(n).tensor_split(k)], (n, k)
            if n or k:
                rp_sizes = [p.shape[0] for p in rp.zeros(n).split(k)]
                assert rp_sizes == [p.shape[0] for p in torch.zeros(n).split(k)], (n, k)
    assert [p.shape for p in rp.zeros(0).split(0)] == [(0,)]
    assert isinstance(rp.zeros(4).split(2), tuple) and isinstance(rp.zeros(4).unbind(), tuple)


@pytest.mark.parametrize(("a", "b"), [
    pytest.param(np.int64, np.float32, id="int64-float32"),
    pytest.param(np.float32, np.float64, id="f32-f64"),
    pytest.param(np.bool_, np.int32, id="bool-int32"), pytest.param(np.int32, np.int64, id="int32-int64"),
    pytest.param(np.uint8, np.int64, id="uint8-int64"),
])
@pytest.mark.parametrize("name", ["cat", "concat", "concatenate", "stack"])
def test_cat_promotes_dtypes_as_torch(a: Any, b: Any, name: str) -> None:
    x, y = np.ones((2, 2), a), np.zeros((1 if name != "stack" else 2, 2), b)
    out = getattr(rp, name)([rp.tensor(x), rp.tensor(y)])
    expected = getattr(torch, name)([torch.tensor(x), torch.tensor(y)])
    assert out.dtype == expected.numpy().dtype
    np.testing.assert_array_equal(out.data, expected.numpy())


def test_cat_gradient_reaches_a_promoted_input_in_its_dtype() -> None:
    x = rp.tensor(np.ones(2, np.float32), requires_grad=True)
    y = rp.tensor(np.ones(3, np.float64), requires_grad=True)
    out = rp.cat([x, y])
    assert out.dtype == np.float64
    (out * rp.tensor(np.arange(5.0))).sum().backward()
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, [0, 1])
    np.testing.assert_array_equal(y.grad, [2, 3, 4])


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.uint8])
def test_integer_and_bool_tensors_keep_their_dtype(dtype: Any) -> None:
    x = np.arange(6).reshape(2, 3).astype(dtype)
    for fn in (lambda t: t.repeat(2, 1), lambda t: t[:1].expand(4, 3), lambda t: t.flip(1),
               lambda t: t.roll(1, 0), lambda t: t.chunk(2, 1)[0], lambda t: t.t(),
               lambda t: t.narrow(1, 1, 2), lambda t: t.movedim(0, 1), lambda t: t.unbind(1)[2]):
        out, expected = fn(rp.tensor(x)), fn(torch.tensor(x))
        assert out.dtype == expected.numpy().dtype
        np.testing.assert_array_equal(out.data, expected.numpy())


def test_tensor_helpers_as_torch() -> None:
    x = rp.tensor(np.ones((2, 3), np.int32))
    tx = torch.ones((2, 3), dtype=torch.int32)
    assert x.dim() == x.ndimension() == 2 and x.nelement() == 6
    assert x.contiguous() is x and x.is_contiguous()
    for name, args in (("new_zeros", ((2, 2),)), ("new_ones", (3,)), ("new_empty", (1, 2)),
                       ("new_full", ((2,), 7)), ("new_tensor", ([1.5, 2.5],))):
        out, expected = getattr(x, name)(*args), getattr(tx, name)(*args)
        assert out.dtype == expected.numpy().dtype, name
        assert out.shape == tuple(expected.shape), name
        if name != "new_empty":
            np.testing.assert_array_equal(out.data, expected.numpy())
    assert x.new_zeros(2, dtype=rp.float64).dtype == np.float64
    assert x.new_ones(2, requires_grad=False).requires_grad is False
    y = rp.tensor(np.ones(2, np.float64))
    assert y.type_as(y) is y and y.type_as(x).dtype == np.int32


# (retroprop call, torch call, the exception torch raises)
ERRORS: list[tuple[str, Callable[[Any], Any], type[BaseException], str]] = [
    ("expand-non-singleton", lambda m: m.zeros(2, 3).expand(2, 4), RuntimeError, "non-singleton dimension 1"),
    ("expand-fewer-sizes", lambda m: m.zeros(2, 3).expand(3), RuntimeError, "number of sizes"),
    ("expand-leading-minus-one", lambda m: m.zeros(3).expand(-1, 3), RuntimeError, "leading, non-existing"),
    ("expand-negative", lambda m: m.zeros(1, 3).expand(-2, 3), RuntimeError, "-2"),
    ("repeat-fewer-sizes", lambda m: m.zeros(2, 3).repeat(2), RuntimeError, "can not be smaller"),
    ("repeat-negative", lambda m: m.zeros(2).repeat(-1), RuntimeError, "negative"),
    ("split-sizes-sum", lambda m: m.zeros(3).split([1, 1]), RuntimeError, "sum exactly to 3"),
    ("split-negative-section", lambda m: m.zeros(3).split([2, -1, 2]), RuntimeError, "non-negative"),
    ("split-zero", lambda m: m.zeros(3).split(0), RuntimeError, "split_size can only be 0"),
    ("split-negative", lambda m: m.zeros(3).split(-1), RuntimeError, "non-negative"),
    ("split-0d", lambda m: m.zeros(()).split(1), RuntimeError, "at least a 1-dimensional"),
    ("split-dim", lambda m: m.zeros(3).split(1, 1), IndexError, "out of range"),
    ("chunk-zero", lambda m: m.zeros(3).chunk(0), RuntimeError, "greater than 0"),
    ("chunk-0d", lambda m: m.zeros(()).chunk(1), RuntimeError, "at least a 1-dimensional"),
    ("tensor_split-zero", lambda m: m.zeros(3).tensor_split(0), RuntimeError, "larger than 0"),
    ("unbind-0d", lambda m: m.zeros(()).unbind(), IndexError, "no dimensions"),
    ("unbind-dim", lambda m: m.zeros(3).unbind(1), IndexError, "out of range"),
    ("narrow-past-end", lambda m: m.zeros(2, 3).narrow(1, 2, 2), RuntimeError, "exceeds dimension size"),
    ("narrow-start", lambda m: m.zeros(2, 3).narrow(1, -4, 1), IndexError, "start out of range"),
    ("cat-0d", lambda m: m.cat([m.zeros(()), m.zeros(())]), RuntimeError, "zero-dimensional"),
    ("cat-sizes", lambda m: m.cat([m.zeros(2, 3), m.zeros(2, 4)]), RuntimeError, "Sizes of tensors"),
    ("cat-ndim", lambda m: m.cat([m.zeros(2, 3), m.zeros(3)]), RuntimeError, "same number of dimensions"),
    ("cat-dim", lambda m: m.cat([m.zeros(2, 3)], 2), IndexError, "out of range"),
    ("cat-empty", lambda m: m.cat([]), ValueError, "non-empty"),
    ("flip-repeated", lambda m: m.zeros(2, 3).flip(0, 0), RuntimeError, "multiple times"),
    ("flip-dim", lambda m: m.zeros(2, 3).flip(2), IndexError, "out of range"),
    ("roll-misaligned", lambda m: m.zeros(2, 3).roll((1, 2), (0,)), RuntimeError, "must align"),
    ("movedim-counts", lambda m: m.movedim(m.zeros(2, 3), (0, 1), (1,)), RuntimeError, "same number"),
    ("movedim-repeated", lambda m: m.movedim(m.zeros(2, 3), (0, 0), (0, 1)), RuntimeError, "repeated dim"),
    ("t-3d", lambda m: m.zeros(2, 2, 2).t(), RuntimeError, "<= 2 dimensions"),
    ("fliplr-1d", lambda m: m.zeros(3).fliplr(), RuntimeError, ">= 2-d"),
    ("broadcast_tensors", lambda m: m.broadcast_tensors(m.zeros(2), m.zeros(3)), RuntimeError, "broadcast"),
]


@pytest.mark.parametrize(("name", "call", "error", "match"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_as_torch(name: str, call: Callable[[Any], Any], error: type[BaseException],
                         match: str) -> None:
    with pytest.raises(error):
        call(torch)
    with pytest.raises(error, match=match):
        call(rp)


def test_expand_error_says_how_to_copy_instead() -> None:
    with pytest.raises(rp.ShapeError, match=r"Target sizes: \[2, 4\].*Tensor sizes: \[2, 3\].*repeat"):
        rp.zeros(2, 3).expand(2, 4)


def test_functions_refuse_non_tensors() -> None:
    with pytest.raises(TypeError, match=r"repeat\(\): argument 'input' must be a Tensor, not list"):
        rp.repeat([1.0], 2)
    with pytest.raises(TypeError, match="expected Tensor as element 1"):
        rp.cat([rp.zeros(2), [1.0]])
    with pytest.raises(TypeError, match="must be an int"):
        rp.zeros(4).split(1.5)


def test_names_are_exported() -> None:
    for name in ("repeat", "expand", "split", "chunk", "cat", "concat", "unbind", "flip", "roll", "narrow",
                 "movedim", "t", "swapaxes", "tile", "broadcast_to", "tensor_split", "reshape", "transpose",
                 "permute", "squeeze", "unsqueeze", "flatten"):
        assert name in rp.__all__ and callable(getattr(rp, name)), name
