"""Convolution, pooling and padding (issue 14): float64 finite-difference gradients, forward values,
gradients and dtypes as torch's (float32 and float64), torch's tie and NaN rules, and bad input."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pytest

import retroprop as rp
import retroprop.functional as F
from retroprop import conv as conv_module
from retroprop.conv import ConvolutionError
from retroprop.tensor import ShapeError
from tests.helpers import assert_matches_torch, check_grad, keyed_normal

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")]

DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
_parity = partial(assert_matches_torch, check_dtype=True)

# (input shape, weight shape, with bias, keyword arguments): stride, padding (ints, tuples, 'same',
# 'valid'), dilation, groups, batch 1, one channel, unbatched inputs and non-square kernels
CONV1D = [
    pytest.param((2, 3, 9), (4, 3, 3), True, {}, id="plain"),
    pytest.param((1, 1, 10), (2, 1, 4), True, {"stride": 2, "padding": 1}, id="batch1-1channel-stride"),
    pytest.param((2, 4, 11), (6, 2, 3), False, {"stride": 3, "padding": 2, "dilation": 2, "groups": 2},
                 id="groups-dilation"),
    pytest.param((2, 3, 8), (3, 1, 3), True, {"groups": 3, "padding": "same"}, id="depthwise-same"),
    pytest.param((3, 7), (2, 3, 2), True, {"padding": "same", "dilation": 3}, id="unbatched-same-even"),
    pytest.param((2, 2, 6), (3, 2, 6), True, {"padding": "valid"}, id="valid-full-width"),
    pytest.param((3, 1, 40), (25, 1, 5), True, {"stride": 2, "padding": 1}, id="mnist1d-layer"),
    pytest.param((0, 3, 9), (4, 3, 3), True, {"padding": 1}, id="empty-batch"),
]
CONV2D = [
    pytest.param((2, 3, 6, 5), (4, 3, 3, 2), True, {}, id="non-square-kernel"),
    pytest.param((1, 1, 7, 7), (2, 1, 3, 3), True, {"stride": 2, "padding": 1}, id="batch1-1channel"),
    pytest.param((2, 4, 8, 7), (6, 2, 2, 3), True,
                 {"stride": (2, 1), "padding": (1, 2), "dilation": (2, 1), "groups": 2}, id="tuples-groups"),
    pytest.param((3, 5, 6), (2, 3, 3, 3), False, {"padding": "same"}, id="unbatched-same"),
    pytest.param((1, 2, 5, 6), (2, 2, 2, 3), True, {"padding": "same", "dilation": (1, 2)},
                 id="same-asymmetric"),
    pytest.param((2, 2, 5, 4), (2, 1, 1, 1), True, {"groups": 2, "stride": 2}, id="1x1-strided"),
    pytest.param((1, 2, 6, 5), (3, 2, 2, 2), True, {"stride": (2,), "padding": [1], "dilation": (2, 1)},
                 id="one-tuple-and-list"),
]


def _conv_case(nd: int, x_shape: tuple[int, ...], w_shape: tuple[int, ...], bias: bool,
               kwargs: dict[str, Any]) -> tuple[Any, Any, list[np.ndarray]]:
    rp_op, torch_op = (F.conv1d, TF.conv1d) if nd == 1 else (F.conv2d, TF.conv2d)
    arrays = [keyed_normal(x_shape, "x"), keyed_normal(w_shape, "w")]
    if bias:
        arrays.append(keyed_normal((w_shape[0],), "b"))
    return (lambda *t: rp_op(*t, **kwargs)), (lambda *t: torch_op(*t, **kwargs)), arrays


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("x_shape", "w_shape", "bias", "kwargs"), CONV1D)
def test_conv1d_as_torch(x_shape, w_shape, bias, kwargs, dtype):
    rp_fn, torch_fn, arrays = _conv_case(1, x_shape, w_shape, bias, kwargs)
    _parity(rp_fn, torch_fn, *arrays, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("x_shape", "w_shape", "bias", "kwargs"), CONV2D)
def test_conv2d_as_torch(x_shape, w_shape, bias, kwargs, dtype):
    rp_fn, torch_fn, arrays = _conv_case(2, x_shape, w_shape, bias, kwargs)
    _parity(rp_fn, torch_fn, *arrays, dtype=dtype)


@pytest.mark.parametrize(("nd", "x_shape", "w_shape", "bias", "kwargs"),
                         [pytest.param(1, *p.values, id=f"1d-{p.id}") for p in CONV1D[:-2]]
                         + [pytest.param(2, *p.values, id=f"2d-{p.id}") for p in CONV2D])
def test_conv_gradients_by_finite_differences(nd, x_shape, w_shape, bias, kwargs):
    rp_fn, _, arrays = _conv_case(nd, x_shape, w_shape, bias, kwargs)
    check_grad(rp_fn, *arrays)


@pytest.mark.parametrize("limit", [1, 150], ids=["one-sample-chunks", "uneven-chunks"])
@pytest.mark.parametrize(("nd", "x_shape", "w_shape", "kwargs"), [
    pytest.param(1, (5, 4, 11), (6, 2, 3), {"stride": 2, "padding": 1, "groups": 2}, id="1d-groups"),
    pytest.param(2, (3, 2, 6, 5), (4, 2, 3, 2), {"padding": 1, "dilation": (1, 2)}, id="2d"),
])
def test_conv_in_chunks_of_samples_as_torch(nd, x_shape, w_shape, kwargs, limit, monkeypatch):
    """Beyond COLUMNS_LIMIT the batch goes through in chunks (and backward rebuilds the columns)."""
    monkeypatch.setattr(conv_module, "COLUMNS_LIMIT", limit)
    rp_fn, torch_fn, arrays = _conv_case(nd, x_shape, w_shape, True, kwargs)
    _parity(rp_fn, torch_fn, *arrays)
    check_grad(rp_fn, *arrays)
    x = rp.tensor(arrays[0], requires_grad=True)  # the kept input is watched for in-place writes
    out = rp_fn(x, rp.tensor(arrays[1], requires_grad=True))
    x.data[...] = 0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_conv_gradient_of_one_input_only():
    """Backward reads only what the needed gradients use (the columns or the weight)."""
    x, w = keyed_normal((2, 3, 7), "x"), keyed_normal((4, 3, 3), "w")
    for needs in ((True, False), (False, True)):
        tx, tw = rp.tensor(x, requires_grad=needs[0]), rp.tensor(w, requires_grad=needs[1])
        F.conv1d(tx, tw, stride=2).sum().backward()
        ref_x, ref_w = torch.tensor(x, requires_grad=needs[0]), torch.tensor(w, requires_grad=needs[1])
        TF.conv1d(ref_x, ref_w, stride=2).sum().backward()
        for mine, theirs in ((tx, ref_x), (tw, ref_w)):
            if theirs.requires_grad:
                np.testing.assert_allclose(mine.grad, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)
            else:
                assert mine.grad is None


def test_conv_input_changed_in_place_before_backward_raises_where_its_memory_is_kept():
    """A 1x1 kernel over one channel keeps the input's own memory as its columns (no copy): a later
    in-place write would corrupt the weight's gradient, so backward refuses, as torch's does."""
    x = rp.tensor(keyed_normal((1, 1, 6), "x"), requires_grad=True)
    w = rp.tensor(keyed_normal((2, 1, 1), "w"), requires_grad=True)
    out = F.conv1d(x, w)
    x.data[...] = 0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_conv_weight_changed_in_place_before_backward_raises():
    x = rp.tensor(keyed_normal((1, 2, 6), "x"), requires_grad=True)
    w = rp.tensor(keyed_normal((3, 2, 3), "w"), requires_grad=True)
    out = F.conv1d(x, w)
    w.data[...] = 0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


# ---------------------------------------------------------------------------------------------
# Pooling and padding
# ---------------------------------------------------------------------------------------------
MAX_POOL = [
    pytest.param(1, (2, 3, 11), {"kernel_size": 3}, id="1d-default-stride"),
    pytest.param(1, (1, 1, 12), {"kernel_size": 4, "stride": 3, "padding": 2, "dilation": 2}, id="1d-all"),
    pytest.param(1, (3, 10), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
                 id="1d-unbatched-ceil"),
    pytest.param(2, (2, 2, 7, 6), {"kernel_size": 2}, id="2d-default"),
    pytest.param(2, (2, 3, 8, 6), {"kernel_size": 2}, id="2d-tiled"),
    pytest.param(1, (2, 2, 7), {"kernel_size": 2, "ceil_mode": True}, id="1d-tiled-ceil"),
    pytest.param(2, (1, 2, 7, 8), {"kernel_size": 2, "stride": (3, 2), "padding": 1}, id="2d-gaps"),
    pytest.param(2, (1, 3, 9, 8), {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 1),
                                   "dilation": (1, 2)}, id="2d-tuples"),
    pytest.param(2, (2, 1, 8, 9), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
                 id="2d-ceil"),
]
AVG_POOL = [
    pytest.param(1, (2, 3, 11), {"kernel_size": 3}, id="1d-default-stride"),
    pytest.param(1, (1, 1, 12), {"kernel_size": 4, "stride": 3, "padding": 2, "count_include_pad": False},
                 id="1d-exclude-pad"),
    pytest.param(1, (3, 10), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
                 id="1d-unbatched-ceil"),
    pytest.param(2, (2, 2, 7, 6), {"kernel_size": (3, 2), "stride": (2, 3), "padding": (1, 1),
                                   "ceil_mode": True, "count_include_pad": False}, id="2d-ceil-exclude"),
    pytest.param(2, (1, 3, 9, 8), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
                 id="2d-ceil-include"),
    pytest.param(2, (2, 1, 6, 6), {"kernel_size": 3, "stride": 2, "padding": 1, "divisor_override": 5},
                 id="2d-divisor"),
]
ADAPTIVE = [
    pytest.param(1, (2, 3, 10), 4, id="1d-uneven"),
    pytest.param(1, (2, 5), 7, id="1d-unbatched-upsample"),
    pytest.param(2, (2, 2, 9, 7), (4, 3), id="2d-uneven"),
    pytest.param(2, (1, 3, 5, 6), (2, None), id="2d-keep-width"),
    pytest.param(2, (2, 1, 6, 6), 1, id="2d-global"),
]
PAD = [
    pytest.param((2, 3, 5), (1, 2), {}, id="last-axis"),
    pytest.param((2, 3, 5), (1, -2, 0, 3), {"value": 2.5}, id="crop-and-value"),
    pytest.param((4, 3), (0, 0, 2, 1), {"mode": "constant"}, id="2d"),
    pytest.param((2, 3, 4), (1, 1, 1, 1, 1, 1), {}, id="every-axis"),
]


def _pool(name: str, nd: int) -> tuple[Any, Any]:
    return getattr(F, f"{name}{nd}d"), getattr(TF, f"{name}{nd}d")


def _case(rp_op: Any, torch_op: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    return (lambda x: rp_op(x, *args, **kwargs)), (lambda x: torch_op(x, *args, **kwargs))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("nd", "shape", "kwargs"), MAX_POOL)
def test_max_pool_as_torch(nd, shape, kwargs, dtype):
    _parity(*_case(*_pool("max_pool", nd), **kwargs), keyed_normal(shape, "x"), dtype=dtype)


@pytest.mark.parametrize(("nd", "shape", "kwargs"), MAX_POOL)
def test_max_pool_gradient_by_finite_differences(nd, shape, kwargs):
    check_grad(_case(*_pool("max_pool", nd), **kwargs)[0], keyed_normal(shape, "x"))


@pytest.mark.parametrize(("nd", "shape", "kwargs"), MAX_POOL)
def test_max_pool_indices_as_torch(nd, shape, kwargs):
    rp_op, torch_op = _pool("max_pool", nd)
    x = keyed_normal(shape, "x")
    values, indices = rp_op(rp.tensor(x), return_indices=True, **kwargs)
    expected_values, expected = torch_op(torch.tensor(x), return_indices=True, **kwargs)
    np.testing.assert_array_equal(values.data, expected_values.numpy())
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices.data, expected.numpy())


@pytest.mark.parametrize(("nd", "shape", "kwargs"), MAX_POOL)
def test_max_pool_gradient_never_reads_uninitialized_memory(nd, shape, kwargs, monkeypatch):
    """Backward may skip zeroing only where its windows tile the input: poison np.empty to see."""
    monkeypatch.setattr(np, "empty", lambda shape, dtype=float: np.full(shape, np.nan, dtype=dtype))
    _parity(*_case(*_pool("max_pool", nd), **kwargs), keyed_normal(shape, "x"))


def test_max_pool_without_gradient_as_torch():
    """Without a graph, the argmax is not computed; the values are the same."""
    x = keyed_normal((2, 3, 9, 8), "x")
    with rp.no_grad():
        out = F.max_pool2d(rp.tensor(x), 3, 2, 1)
    np.testing.assert_array_equal(out.data, TF.max_pool2d(torch.tensor(x), 3, 2, 1).numpy())


def test_max_pool_ties_and_nan_as_torch():
    """Ties give the gradient to the first maximum in each window; NaN wins (the last NaN)."""
    ties = np.array([[[1.0, 3.0, 3.0, 2.0, 3.0, 3.0, 0.5]]])
    _parity(*_case(F.max_pool1d, TF.max_pool1d, 3, 1), ties)
    _parity(*_case(F.max_pool2d, TF.max_pool2d, 2, 1), np.ones((1, 1, 3, 3)))
    nan = np.array([[[1.0, np.nan, 3.0, np.nan, 0.0, 2.0]]])
    rp_x, torch_x = rp.tensor(nan, requires_grad=True), torch.tensor(nan, requires_grad=True)
    out, expected = F.max_pool1d(rp_x, 4, 2, 1), TF.max_pool1d(torch_x, 4, 2, 1)
    np.testing.assert_array_equal(out.data, expected.detach().numpy())
    out.backward(np.arange(1.0, out.shape[-1] + 1).reshape(out.shape))
    expected.backward(torch.arange(1.0, out.shape[-1] + 1, dtype=torch.float64).reshape(expected.shape))
    np.testing.assert_array_equal(rp_x.grad, torch_x.grad.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("nd", "shape", "kwargs"), AVG_POOL)
def test_avg_pool_as_torch(nd, shape, kwargs, dtype):
    _parity(*_case(*_pool("avg_pool", nd), **kwargs), keyed_normal(shape, "x"), dtype=dtype)


@pytest.mark.parametrize(("nd", "shape", "kwargs"), AVG_POOL)
def test_avg_pool_gradient_by_finite_differences(nd, shape, kwargs):
    check_grad(_case(*_pool("avg_pool", nd), **kwargs)[0], keyed_normal(shape, "x"))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("nd", "shape", "size"), ADAPTIVE)
def test_adaptive_avg_pool_as_torch(nd, shape, size, dtype):
    _parity(*_case(*_pool("adaptive_avg_pool", nd), size), keyed_normal(shape, "x"), dtype=dtype)


@pytest.mark.parametrize(("nd", "shape", "size"), ADAPTIVE)
def test_adaptive_avg_pool_gradient_by_finite_differences(nd, shape, size):
    check_grad(_case(*_pool("adaptive_avg_pool", nd), size)[0], keyed_normal(shape, "x"))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "pads", "kwargs"), PAD)
def test_pad_as_torch(shape, pads, kwargs, dtype):
    _parity(*_case(F.pad, TF.pad, pads, **kwargs), keyed_normal(shape, "x"), dtype=dtype)


@pytest.mark.parametrize(("shape", "pads", "kwargs"), PAD)
def test_pad_gradient_by_finite_differences(shape, pads, kwargs):
    check_grad(_case(F.pad, TF.pad, pads, **kwargs)[0], keyed_normal(shape, "x"))


def test_pad_keeps_integer_dtype_as_torch():
    x = np.arange(6, dtype=np.int64).reshape(2, 3)
    out, expected = F.pad(rp.tensor(x), (1, 1), value=7), TF.pad(torch.tensor(x), (1, 1), value=7)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, expected.numpy())


# ---------------------------------------------------------------------------------------------
# Bad input: torch raises a RuntimeError; retroprop's errors are also ValueErrors that say why
# ---------------------------------------------------------------------------------------------
def _x(*shape: int, dtype: Any = np.float32) -> np.ndarray:
    return np.ones(shape, dtype=dtype)


BAD = [
    pytest.param(lambda m: m.conv2d(_x(1, 3, 5, 5), _x(4, 2, 3, 3)), ShapeError,
                 r"expected input\[1, 3, 5, 5\] to have 2 channels, but got 3", id="channels"),
    pytest.param(lambda m: m.conv2d(_x(1, 4, 5, 5), _x(4, 2, 3, 3), groups=3), ShapeError,
                 "divisible by 3", id="groups-out-channels"),
    pytest.param(lambda m: m.conv1d(_x(1, 3, 5), _x(4, 3, 3), bias=_x(3)), ShapeError,
                 "bias to be 1-dimensional with 4 elements", id="bias-size"),
    pytest.param(lambda m: m.conv2d(_x(1, 3, 2, 2), _x(4, 3, 3, 3)), ShapeError, "output would be empty",
                 id="input-smaller-than-kernel"),
    pytest.param(lambda m: m.conv1d(_x(1, 3, 5), _x(4, 3, 3), padding="same", stride=2),
                 ConvolutionError, "not supported for strided convolutions", id="same-strided"),
    pytest.param(lambda m: m.conv1d(_x(1, 3, 5), _x(4, 3, 3), padding="full"), ConvolutionError,
                 "padding", id="padding-string"),
    pytest.param(lambda m: m.conv1d(_x(1, 3, 5), _x(4, 3, 3), padding=-1), ConvolutionError,
                 "padding must be non-negative", id="negative-padding"),
    pytest.param(lambda m: m.conv1d(_x(1, 3, 5), _x(4, 3, 3), stride=0), ConvolutionError,
                 "stride must be positive", id="zero-stride"),
    pytest.param(lambda m: m.conv1d(_x(1, 3, 5), _x(4, 3, 3, dtype=np.float64)), ConvolutionError,
                 "float64 but the input has float32", id="dtype-mismatch"),
    pytest.param(lambda m: m.conv2d(_x(2, 3), _x(4, 3, 3, 3)), ShapeError, r"expected a 4-D input",
                 id="input-ndim"),
    pytest.param(lambda m: m.max_pool1d(_x(1, 3, 5), 3, padding=2), ConvolutionError,
                 "at most half of kernel size", id="pool-padding"),
    pytest.param(lambda m: m.max_pool1d(_x(1, 3, 2), 3), ShapeError, "too small", id="pool-too-small"),
    pytest.param(lambda m: m.avg_pool2d(_x(1, 3, 2, 2), 3), ShapeError, "too small", id="avg-too-small"),
    pytest.param(lambda m: m.max_pool2d(_x(1, 3, 5, 5), 2, stride=0), ConvolutionError,
                 "stride must be positive", id="pool-stride"),
    pytest.param(lambda m: m.pad(_x(2, 3), (1, 2, 3)), ConvolutionError, "divisible by 2", id="pad-odd"),
    pytest.param(lambda m: m.pad(_x(2, 3), (1, 2, 3, 4, 5, 6)), ConvolutionError,
                 "at most two times", id="pad-too-long"),
    pytest.param(lambda m: m.pad(_x(2, 3), (-2, -2)), ShapeError, "negative size", id="pad-crop-too-much"),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD)
def test_bad_input_raises_like_torch(call, error, message):
    with pytest.raises(RuntimeError):  # torch
        call(_TorchArrays(TF))
    with pytest.raises(error, match=message) as caught:
        call(F)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, RuntimeError)


class _TorchArrays:
    """torch's functional module taking NumPy arrays, so one lambda drives both libraries."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def __getattr__(self, name: str) -> Any:
        op = getattr(self.module, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            convert = lambda v: torch.from_numpy(v) if isinstance(v, np.ndarray) else v  # noqa: E731
            return op(*(convert(a) for a in args), **{k: convert(v) for k, v in kwargs.items()})

        return call


def test_integer_input_is_refused_clearly():
    with pytest.raises(ConvolutionError, match="floating-point"):
        F.conv1d(np.ones((1, 1, 4), dtype=np.int64), np.ones((1, 1, 2), dtype=np.int64))
    with pytest.raises(ConvolutionError, match="floating-point"):
        F.max_pool1d(np.ones((1, 1, 4), dtype=np.int64), 2)


