"""Transposed convolution (issue 14): F.conv_transpose1d/2d and nn.ConvTranspose1d/2d against torch
2.13.0 (forward values, gradients, dtypes, float32 and float64), float64 finite differences, chunked
batches, torch's default init and fan_in, output_size, repr, get_config, and bad input."""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np
import pytest

import retroprop as rp
import retroprop.functional as F
from retroprop import conv as conv_module
from retroprop import nn
from retroprop.conv import ConvolutionError
from retroprop.tensor import ShapeError
from tests.helpers import assert_matches_torch, check_grad, keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
_parity = partial(assert_matches_torch, check_dtype=True)

# (input shape, weight shape (C_in, C_out / groups, *k), with bias, keyword arguments)
TRANSPOSE1D = [
    pytest.param((2, 3, 5), (3, 4, 3), True, {}, id="plain"),
    pytest.param((2, 3, 5), (3, 2, 3), True, {"stride": 2, "padding": 1, "output_padding": 1}, id="stride"),
    pytest.param((1, 4, 4), (4, 1, 2), False, {"stride": 3, "padding": 2, "output_padding": 2, "groups": 2},
                 id="groups-output-padding"),
    pytest.param((2, 2, 4), (2, 3, 3), True, {"dilation": 3, "output_padding": 2}, id="dilation-padding<dil"),
    pytest.param((3, 6), (3, 2, 4), True, {"stride": 2}, id="unbatched"),
    pytest.param((2, 1, 1), (1, 2, 1), True, {}, id="size1"),
    pytest.param((0, 3, 5), (3, 4, 3), True, {"stride": 2}, id="empty-batch"),
]
TRANSPOSE2D = [
    pytest.param((2, 3, 4, 5), (3, 2, 3, 2), True, {}, id="non-square-kernel"),
    pytest.param((2, 4, 3, 3), (4, 3, 3, 3), True, {"stride": 2, "padding": 1, "output_padding": 1},
                 id="stride2-decoder"),
    pytest.param((1, 6, 3, 4), (6, 1, 2, 3), False,
                 {"stride": (2, 1), "padding": (1, 0), "output_padding": (1, 0), "groups": 3,
                  "dilation": (1, 2)}, id="groups-tuples"),
    pytest.param((2, 4, 3, 3), (4, 4, 1, 1), True, {"groups": 4}, id="depthwise-1x1"),
    pytest.param((4, 3, 3), (4, 2, 2, 2), True, {"stride": 2, "dilation": 2, "output_padding": 1},
                 id="unbatched"),
    pytest.param((1, 2, 5, 5), (2, 2, 3, 3), True, {"padding": 2}, id="padding-crops"),
]


def _case(nd: int, x_shape: tuple[int, ...], w_shape: tuple[int, ...], bias: bool,
          kwargs: dict[str, Any]) -> tuple[Any, Any, list[np.ndarray]]:
    rp_op, torch_op = (F.conv_transpose1d, TF.conv_transpose1d) if nd == 1 else \
        (F.conv_transpose2d, TF.conv_transpose2d)
    arrays = [keyed_normal(x_shape, "x"), keyed_normal(w_shape, "w")]
    if bias:
        arrays.append(keyed_normal((w_shape[1] * kwargs.get("groups", 1),), "b"))
    return (lambda *t: rp_op(*t, **kwargs)), (lambda *t: torch_op(*t, **kwargs)), arrays


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("x_shape", "w_shape", "bias", "kwargs"), TRANSPOSE1D)
def test_conv_transpose1d_as_torch(x_shape, w_shape, bias, kwargs, dtype):
    rp_fn, torch_fn, arrays = _case(1, x_shape, w_shape, bias, kwargs)
    _parity(rp_fn, torch_fn, *arrays, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("x_shape", "w_shape", "bias", "kwargs"), TRANSPOSE2D)
def test_conv_transpose2d_as_torch(x_shape, w_shape, bias, kwargs, dtype):
    rp_fn, torch_fn, arrays = _case(2, x_shape, w_shape, bias, kwargs)
    _parity(rp_fn, torch_fn, *arrays, dtype=dtype)


@pytest.mark.parametrize(("nd", "x_shape", "w_shape", "bias", "kwargs"),
                         [pytest.param(1, *p.values, id=f"1d-{p.id}") for p in TRANSPOSE1D[:-1]]
                         + [pytest.param(2, *p.values, id=f"2d-{p.id}") for p in TRANSPOSE2D])
def test_conv_transpose_gradients_by_finite_differences(nd, x_shape, w_shape, bias, kwargs):
    rp_fn, _, arrays = _case(nd, x_shape, w_shape, bias, kwargs)
    check_grad(rp_fn, *arrays)


def test_conv_transpose_is_the_gradient_of_conv():
    """conv_transpose2d(g, w) is the gradient of conv2d(x, w) with respect to x (same stride, padding,
    dilation, groups; output_padding restores the rows the convolution's stride dropped)."""
    x = rp.tensor(keyed_normal((2, 4, 8, 7), "x"), requires_grad=True)
    w = rp.tensor(keyed_normal((6, 2, 3, 3), "w"))
    kwargs = {"stride": 2, "padding": 1, "dilation": 1, "groups": 2}
    out = F.conv2d(x, w, **kwargs)
    g = keyed_normal(out.shape, "g")
    out.backward(g)
    back = F.conv_transpose2d(rp.tensor(g), w, output_padding=(1, 0), **kwargs)
    np.testing.assert_allclose(back.data, x.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("limit", [1, 100], ids=["one-sample-chunks", "uneven-chunks"])
@pytest.mark.parametrize(("nd", "x_shape", "w_shape", "kwargs"), [
    pytest.param(1, (5, 4, 6), (4, 3, 3), {"stride": 2, "padding": 1, "groups": 2}, id="1d-groups"),
    pytest.param(2, (3, 2, 4, 3), (2, 3, 3, 2), {"stride": 2, "output_padding": 1, "dilation": (1, 2)},
                 id="2d"),
])
def test_conv_transpose_in_chunks_of_samples_as_torch(nd, x_shape, w_shape, kwargs, limit, monkeypatch):
    monkeypatch.setattr(conv_module, "COLUMNS_LIMIT", limit)
    rp_fn, torch_fn, arrays = _case(nd, x_shape, w_shape, True, kwargs)
    _parity(rp_fn, torch_fn, *arrays)
    check_grad(rp_fn, *arrays)


def test_conv_transpose_gradient_of_one_input_only():
    x, w = keyed_normal((2, 3, 5), "x"), keyed_normal((3, 4, 3), "w")
    for needs in ((True, False), (False, True)):
        tx, tw = rp.tensor(x, requires_grad=needs[0]), rp.tensor(w, requires_grad=needs[1])
        F.conv_transpose1d(tx, tw, stride=2).sum().backward()
        ref_x, ref_w = torch.tensor(x, requires_grad=needs[0]), torch.tensor(w, requires_grad=needs[1])
        TF.conv_transpose1d(ref_x, ref_w, stride=2).sum().backward()
        for mine, theirs in ((tx, ref_x), (tw, ref_w)):
            if theirs.requires_grad:
                np.testing.assert_allclose(mine.grad, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)
            else:
                assert mine.grad is None


def test_conv_transpose_inputs_changed_in_place_before_backward_raise():
    for changed in (0, 1):
        x = rp.tensor(keyed_normal((1, 2, 4), "x"), requires_grad=True)
        w = rp.tensor(keyed_normal((2, 3, 3), "w"), requires_grad=True)
        out = F.conv_transpose1d(x, w)
        (x, w)[changed].data[...] = 0
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.sum().backward()


# ---------------------------------------------------------------------------------------------
# Modules
# ---------------------------------------------------------------------------------------------
MODULES = [
    pytest.param("ConvTranspose1d", (4, 6, 3), {"stride": 2, "groups": 2, "output_padding": 1, "dilation": 2},
                 id="1d-groups"),
    pytest.param("ConvTranspose2d", (4, 6, (3, 2)), {"stride": 2, "padding": 1, "output_padding": (1, 0)},
                 id="2d"),
    pytest.param("ConvTranspose2d", (3, 2, 3), {"bias": False, "padding": (1, 2)}, id="2d-no-bias"),
    pytest.param("ConvTranspose1d", (2, 3, 1), {}, id="1d-defaults"),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), MODULES)
def test_module_as_torch(name, args, kwargs):
    """Parameters' shapes and dtype, repr, and with torch's weights its output and gradients."""
    mine, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(mine) == repr(theirs)
    assert [(k, p.shape, p.dtype) for k, p in mine.named_parameters()] == [
        (k, tuple(p.shape), np.float32) for k, p in theirs.named_parameters()]
    mine.double()
    theirs.double()
    missing, unexpected = mine.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert not missing and not unexpected
    nd = 1 if name.endswith("1d") else 2
    x = keyed_normal((2, args[0], *(4,) * nd), name)
    out, expected = mine(rp.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    out.sum().backward()
    expected.sum().backward()
    for (key, p), q in zip(mine.named_parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)


@pytest.mark.parametrize(("name", "args", "kwargs", "fan_in"), [
    pytest.param("ConvTranspose2d", (64, 32, 3), {}, 32 * 9, id="2d"),
    pytest.param("ConvTranspose1d", (128, 64, 5), {"groups": 4}, 16 * 5, id="1d-groups"),
    pytest.param("ConvTranspose2d", (8, 96, (3, 2)), {"groups": 2}, 48 * 6, id="2d-wide-out"),
])
def test_default_init_as_torch(name, args, kwargs, fan_in):
    """torch's fan_in for a transposed weight (C_in, C_out / groups, *k) is C_out / groups * prod(k):
    both weight and bias are U(±1/sqrt(fan_in)), checked by their bounds and standard deviations."""
    rp.manual_seed(0)
    torch.manual_seed(0)
    mine, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    bound = 1 / math.sqrt(fan_in)
    for (key, p), q in zip(mine.named_parameters(), theirs.parameters(), strict=True):
        values, reference = p.data.ravel(), q.detach().numpy().ravel()
        assert np.abs(values).max() <= bound and np.abs(reference).max() <= bound, key
        assert np.abs(values).max() > bound * (1 - 20 / values.size), key  # reaches the bound
        tolerance = 5 * 0.45 / math.sqrt(values.size)  # 5 standard errors of a uniform sample's std
        for sample in (values, reference):
            assert abs(sample.std() / (bound / math.sqrt(3)) - 1) < tolerance, key
            assert abs(sample.mean()) < 5 * bound / math.sqrt(3 * values.size), key


def test_generator_makes_init_reproducible():
    first = nn.ConvTranspose2d(3, 4, 3, generator=np.random.default_rng(7))
    second = nn.ConvTranspose2d(3, 4, 3, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(first.weight.data, second.weight.data)
    np.testing.assert_array_equal(first.bias.data, second.bias.data)


@pytest.mark.parametrize("output_size", [(9, 10), (10, 9), (1, 3, 10, 10), (9, 9)])
def test_module_output_size_as_torch(output_size):
    mine = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    mine.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = keyed_normal((1, 2, 5, 5), "x").astype(np.float32)
    out = mine(rp.tensor(x), output_size=output_size)
    expected = theirs(torch.tensor(x), output_size=output_size)
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("output_size", [(11, 9), (8, 9), (3, 9, 9)])
def test_module_output_size_out_of_range_raises_as_torch(output_size):
    x = keyed_normal((1, 2, 5, 5), "x").astype(np.float32)
    with pytest.raises(ValueError):
        torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)(torch.tensor(x), output_size=output_size)
    with pytest.raises(ValueError, match=r"output_size must have|valid sizes range"):
        nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)(rp.tensor(x), output_size=output_size)


def test_get_config_rebuilds_the_module():
    layer = nn.ConvTranspose2d(4, 6, (3, 2), stride=2, padding=1, output_padding=(1, 0), groups=2, bias=False,
                               dilation=(1, 2))
    config = layer.get_config()
    assert config == {"in_channels": 4, "out_channels": 6, "kernel_size": [3, 2], "stride": [2, 2],
                      "padding": [1, 1], "output_padding": [1, 0], "groups": 2, "bias": False,
                      "dilation": [1, 2]}
    again = nn.ConvTranspose2d(**config)
    assert repr(again) == repr(layer)
    assert again.weight.shape == layer.weight.shape == (4, 3, 3, 2)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"padding_mode": "reflect"}, '"zeros" padding mode'),
    ({"padding": "same"}, "padding strings"),
    ({"groups": 4}, "divisible by groups"),
    ({"stride": 0}, "stride must be positive"),
    ({"output_padding": -1}, "output_padding must be non-negative"),
])
def test_module_bad_arguments_raise_value_error(kwargs, message):
    """torch refuses these when it builds the layer or when it first runs it; retroprop when it builds it."""
    with pytest.raises((ValueError, TypeError, RuntimeError)):
        torch.nn.ConvTranspose2d(6, 3, 3, **kwargs)(torch.ones(1, 6, 4, 4))
    with pytest.raises(ValueError, match=message):
        nn.ConvTranspose2d(6, 3, 3, **kwargs)


# ---------------------------------------------------------------------------------------------
# Bad input: torch raises a RuntimeError; retroprop's errors are also ValueErrors that say why
# ---------------------------------------------------------------------------------------------
def _x(*shape: int, dtype: Any = np.float32) -> np.ndarray:
    return np.ones(shape, dtype=dtype)


BAD = [
    pytest.param(lambda m: m.conv_transpose2d(_x(1, 5, 4, 4), _x(4, 3, 3, 3)), ShapeError,
                 r"expected input\[1, 5, 4, 4\] to have 4 channels, but got 5", id="channels"),
    pytest.param(lambda m: m.conv_transpose2d(_x(1, 4, 4, 4), _x(4, 3, 3, 3), groups=3), ShapeError,
                 "divisible by 3", id="groups"),
    pytest.param(lambda m: m.conv_transpose1d(_x(1, 4, 4), _x(4, 3, 3), bias=_x(4)), ShapeError,
                 "bias to be 1-dimensional with 3 elements", id="bias-size"),
    pytest.param(lambda m: m.conv_transpose2d(_x(1, 4, 4, 4), _x(4, 3, 3, 3), output_padding=1),
                 ConvolutionError, "output padding must be smaller than either stride or dilation",
                 id="output-padding-stride1"),
    pytest.param(lambda m: m.conv_transpose1d(_x(1, 4, 4), _x(4, 3, 3), stride=2, output_padding=2),
                 ConvolutionError, "output_padding_width: 2 stride_width: 2 dilation_width: 1",
                 id="output-padding-equals-stride"),
    pytest.param(lambda m: m.conv_transpose2d(_x(1, 4, 1, 1), _x(4, 3, 3, 3), padding=2), ShapeError,
                 r"Calculated output size per channel: \(-1 x -1\)", id="output-too-small"),
    pytest.param(lambda m: m.conv_transpose1d(_x(1, 4, 4), _x(4, 3, 3), stride=0), ConvolutionError,
                 "stride must be positive", id="zero-stride"),
    pytest.param(lambda m: m.conv_transpose1d(_x(1, 4, 4), _x(4, 3, 3), padding=-1), ConvolutionError,
                 "padding must be non-negative", id="negative-padding"),
    pytest.param(lambda m: m.conv_transpose1d(_x(1, 4, 4), _x(4, 3, 3, dtype=np.float64)), ConvolutionError,
                 "float64 but the input has float32", id="dtype-mismatch"),
    pytest.param(lambda m: m.conv_transpose2d(_x(4, 3), _x(4, 3, 3, 3)), ShapeError, "expected a 4-D input",
                 id="input-ndim"),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD)
def test_bad_input_raises_like_torch(call, error, message):
    with pytest.raises(RuntimeError):  # torch
        call(_TorchArrays(TF))
    with pytest.raises(error, match=message) as caught:
        call(F)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, RuntimeError)


def test_padding_string_is_a_type_error_as_torch():
    with pytest.raises(TypeError):
        TF.conv_transpose1d(torch.ones(1, 4, 4), torch.ones(4, 3, 3), padding="same")
    with pytest.raises(TypeError, match="no padding strings"):
        F.conv_transpose1d(_x(1, 4, 4), _x(4, 3, 3), padding="same")


def test_integer_input_is_refused_clearly():
    with pytest.raises(ConvolutionError, match="floating-point"):
        F.conv_transpose1d(np.ones((1, 1, 4), dtype=np.int64), np.ones((1, 1, 2), dtype=np.int64))


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
