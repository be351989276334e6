"""F.interpolate and nn.Upsample (issue 14) against torch 2.13.0 and finite differences: nearest
(torch's legacy index rule, and its 2-d copy and halving cases), nearest-exact, linear, bilinear and
trilinear with align_corners False and True, size and scale_factor (integer, fractional, below 1,
per axis, recompute_scale_factor), float32 and float64, and torch's errors."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pytest

import retroprop as rp
import retroprop.functional as F
from retroprop.nn.upsampling import Upsample
from retroprop.tensor import ShapeError
from tests.helpers import assert_matches_torch, check_grad, keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
_parity = partial(assert_matches_torch, check_dtype=True)

RESIZES = [
    pytest.param({"size": 13}, id="size-up"),
    pytest.param({"size": 3}, id="size-down"),
    pytest.param({"size": 1}, id="size-1"),
    pytest.param({"scale_factor": 2}, id="scale-2"),
    pytest.param({"scale_factor": 3.0}, id="scale-3"),
    pytest.param({"scale_factor": 1.7}, id="scale-1.7"),
    pytest.param({"scale_factor": 0.5}, id="scale-0.5"),
    pytest.param({"scale_factor": 0.4}, id="scale-0.4"),
    pytest.param({"scale_factor": 1.7, "recompute_scale_factor": True}, id="scale-1.7-recomputed"),
]
# (input shape, mode, align_corners)
MODES = [
    pytest.param((2, 3, 6), "nearest", None, id="nearest-1d"),
    pytest.param((2, 2, 5, 6), "nearest", None, id="nearest-2d"),
    pytest.param((2, 3, 6), "nearest-exact", None, id="nearest-exact-1d"),
    pytest.param((1, 2, 5, 6), "nearest-exact", None, id="nearest-exact-2d"),
    pytest.param((2, 3, 6), "linear", False, id="linear"),
    pytest.param((2, 3, 6), "linear", True, id="linear-corners"),
    pytest.param((2, 2, 5, 6), "bilinear", False, id="bilinear"),
    pytest.param((2, 2, 5, 6), "bilinear", True, id="bilinear-corners"),
]


def _fns(mode: str, align_corners: bool | None, kwargs: dict[str, Any]) -> tuple[Any, Any]:
    return (lambda x: F.interpolate(x, mode=mode, align_corners=align_corners, **kwargs),
            lambda x: TF.interpolate(x, mode=mode, align_corners=align_corners, **kwargs))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", RESIZES)
@pytest.mark.parametrize(("shape", "mode", "align_corners"), MODES)
def test_interpolate_as_torch(shape, mode, align_corners, kwargs, dtype):
    rp_fn, torch_fn = _fns(mode, align_corners, kwargs)
    _parity(rp_fn, torch_fn, keyed_normal(shape, mode), dtype=dtype)


@pytest.mark.parametrize("kwargs", [RESIZES[0], RESIZES[1], RESIZES[5], RESIZES[7]])
@pytest.mark.parametrize(("shape", "mode", "align_corners"), MODES)
def test_interpolate_gradients_by_finite_differences(shape, mode, align_corners, kwargs):
    rp_fn, _ = _fns(mode, align_corners, kwargs)
    check_grad(rp_fn, keyed_normal(shape, mode))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "kwargs"), [
    pytest.param((1, 2, 4, 5), {"size": (7, 3)}, id="size-per-axis"),
    pytest.param((1, 2, 4, 5), {"scale_factor": (1.5, 0.6)}, id="scale-per-axis"),
    pytest.param((1, 2, 4, 5), {"scale_factor": (1, 2.5)}, id="scale-1-on-one-axis"),
    pytest.param((2, 1, 1, 1), {"size": (3, 4)}, id="from-one-pixel"),
])
@pytest.mark.parametrize(("mode", "align_corners"), [("nearest", None), ("bilinear", False),
                                                     ("bilinear", True)])
def test_interpolate_per_axis_arguments_as_torch(shape, kwargs, mode, align_corners, dtype):
    rp_fn, torch_fn = _fns(mode, align_corners, kwargs)
    _parity(rp_fn, torch_fn, keyed_normal(shape, "x"), dtype=dtype)


@pytest.mark.parametrize(("mode", "align_corners"), [("nearest", None), ("trilinear", False),
                                                     ("trilinear", True)])
def test_interpolate_3d_as_torch(mode, align_corners):
    rp_fn, torch_fn = _fns(mode, align_corners, {"scale_factor": (1.5, 0.7, 2)})
    x = keyed_normal((1, 2, 3, 4, 3), "x")
    _parity(rp_fn, torch_fn, x)
    check_grad(rp_fn, x)


@pytest.mark.parametrize("scale", [2.1, 1.1])
def test_nearest_2d_copies_and_halves_as_torch(scale):
    """torch's 2-d nearest kernel maps out == 2 * in by halving and out == in by copying, whatever the
    scale factor (7 * 2.1 gives 14, 3 * 1.1 gives 3): forward and gradient as torch's."""
    rp_fn, torch_fn = _fns("nearest", None, {"scale_factor": scale})
    x = keyed_normal((1, 2, 3, 7), "x")
    _parity(rp_fn, torch_fn, x)
    check_grad(rp_fn, x)


def test_nearest_1d_gradient_is_the_transpose_of_its_forward():
    """torch's 1-d nearest forward reads floor(dst / 2.1) (0, 0, 0, 1, 1, ...) but its backward halves
    (0, 0, 1, 1, ...): retroprop's forward is torch's and its gradient the forward's true transpose."""
    x = keyed_normal((1, 1, 7), "x")
    rp_fn, torch_fn = _fns("nearest", None, {"scale_factor": 2.1})
    out = rp_fn(rp.tensor(x))
    np.testing.assert_array_equal(out.data, torch_fn(torch.tensor(x)).numpy())
    np.testing.assert_array_equal(out.data[0, 0, :4], x[0, 0, [0, 0, 0, 1]])
    check_grad(rp_fn, x)
    t = rp.tensor(x, requires_grad=True)
    rp_fn(t).backward(np.arange(14.0).reshape(1, 1, 14))
    assert t.grad[0, 0, 0] == 0 + 1 + 2


def test_output_is_float32_by_default_and_keeps_dtype():
    x = rp.randn(1, 2, 3, 3)
    assert F.interpolate(x, scale_factor=2).dtype == np.float32
    assert F.interpolate(x.double(), scale_factor=2, mode="bilinear").dtype == np.float64


# ---------------------------------------------------------------------------------------------
# nn.Upsample
# ---------------------------------------------------------------------------------------------
UPSAMPLES = [
    pytest.param({"scale_factor": 2}, id="scale"),
    pytest.param({"size": (3, 7), "mode": "bilinear"}, id="size-bilinear"),
    pytest.param({"scale_factor": (2, 1.5), "mode": "bilinear", "align_corners": True},
                 id="per-axis-corners"),
    pytest.param({"size": 5}, id="size-int"),
]


@pytest.mark.parametrize("kwargs", UPSAMPLES)
def test_upsample_as_torch(kwargs):
    mine, theirs = Upsample(**kwargs), torch.nn.Upsample(**kwargs)
    assert repr(mine) == repr(theirs)
    assert mine.scale_factor == theirs.scale_factor
    _parity(mine, theirs, keyed_normal((2, 3, 4, 4), "x"), dtype=np.float32)


def test_upsample_config_rebuilds_it():
    layer = Upsample(scale_factor=(2, 1.5), mode="bilinear", align_corners=True)
    config = layer.get_config()
    assert config == {"size": None, "scale_factor": [2.0, 1.5], "mode": "bilinear", "align_corners": True,
                      "recompute_scale_factor": None}
    again = Upsample(**config)
    assert repr(again) == repr(layer) and again.scale_factor == (2.0, 1.5)
    assert Upsample(**Upsample(size=(3, 4)).get_config()).size == (3, 4)


# ---------------------------------------------------------------------------------------------
# Bad input: the same exception types as torch's, with its words
# ---------------------------------------------------------------------------------------------
BAD = [
    pytest.param((1, 2, 5), {}, ValueError, "either size or scale_factor should be defined", id="neither"),
    pytest.param((1, 2, 5), {"size": 3, "scale_factor": 2}, ValueError, "only one of size or scale_factor",
                 id="both"),
    pytest.param((1, 2, 5), {"size": (3, 4)}, ValueError, "same number of spatial dimensions",
                 id="size-length"),
    pytest.param((1, 2, 5), {"scale_factor": (2.0, 3.0)}, ValueError, "same number of spatial dimensions",
                 id="scale-length"),
    pytest.param((1, 2, 5), {"size": 3, "align_corners": True}, ValueError,
                 "align_corners option can only be set with the interpolating modes", id="corners-nearest"),
    pytest.param((1, 2, 5), {"size": 3, "mode": "bilinear"}, NotImplementedError,
                 "Got 3D input, but bilinear mode needs 4D input", id="bilinear-3d"),
    pytest.param((1, 2, 3, 3), {"size": 3, "mode": "linear"}, NotImplementedError,
                 "Got 4D input, but linear mode needs 3D input", id="linear-4d"),
    pytest.param((2, 3), {"size": 3}, NotImplementedError,
                 r"Only 3D, 4D and 5D input Tensors supported \(got 2D\)", id="2d-input"),
    pytest.param((1, 2, 5), {"size": 3, "mode": "foo"}, NotImplementedError, r"\(got foo\)",
                 id="unknown-mode"),
    pytest.param((1, 2, 5), {"size": 0}, RuntimeError,
                 r"Input and output sizes should be greater than 0, but got input \(W: 5\)", id="size-0"),
    pytest.param((1, 2, 5), {"scale_factor": 0.1}, RuntimeError, r"output \(W: 0\)", id="scale-to-0"),
    pytest.param((1, 2, 0), {"size": 3, "mode": "linear"}, RuntimeError, r"input \(W: 0\)", id="empty-input"),
    pytest.param((1, 2, 5), {"size": 3, "recompute_scale_factor": True}, ValueError,
                 "recompute_scale_factor is not meaningful with an explicit size", id="recompute-with-size"),
    pytest.param((1, 2, 5), {"size": 3, "mode": "linear", "antialias": True}, ValueError,
                 "Anti-alias option is restricted", id="antialias-linear"),
]


@pytest.mark.parametrize(("shape", "kwargs", "error", "message"), BAD)
def test_bad_input_raises_like_torch(shape, kwargs, error, message):
    with pytest.raises(error, match=message):
        TF.interpolate(torch.ones(shape), **kwargs)
    with pytest.raises(error, match=message):
        F.interpolate(rp.ones(shape), **kwargs)


def test_size_errors_are_shape_errors():
    with pytest.raises(ShapeError):
        F.interpolate(rp.ones((1, 2, 5)), size=0)


def test_not_implemented_modes_and_integer_inputs_are_refused_clearly():
    for mode in ("bicubic", "area"):
        with pytest.raises(NotImplementedError, match=f"mode '{mode}' is not implemented"):
            F.interpolate(rp.ones((1, 2, 3, 3)), size=5, mode=mode)
    with pytest.raises(NotImplementedError, match="antialias=True is not implemented"):
        F.interpolate(rp.ones((1, 2, 3, 3)), size=5, mode="bilinear", antialias=True)
    with pytest.raises(RuntimeError):
        TF.interpolate(torch.ones((1, 2, 5), dtype=torch.int64), size=3)
    with pytest.raises(RuntimeError, match="cast to a float dtype"):
        F.interpolate(rp.tensor(np.ones((1, 2, 5), dtype=np.int64)), size=3)
    with pytest.raises(TypeError):
        F.interpolate(rp.ones((1, 2, 5)), size=3.5)
