"""``F.pad`` modes 'reflect', 'replicate' and 'circular' against torch 2.13.0.

Values and gradients (scatter-added back to the copied positions) for each input rank torch takes
(unbatched and batched, 1 to 3 padded axes), negative pads (crops), the largest pads allowed, and
torch's refusals: the wrong rank for a padding length (NotImplementedError), reflect pads not less
than the axis, circular pads past one wrap, an unknown mode ("Unrecognised padding mode").
"""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
import retroprop.functional as F
from retroprop.conv import ConvolutionError
from tests.helpers import assert_matches_torch, check_grad, keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
TF = torch.nn.functional

MODES = ["reflect", "replicate", "circular"]
CASES = [
    ((2, 5), (1, 2)), ((2, 3, 5), (2, 1)), ((2, 3, 5), (-1, 2)), ((2, 3, 4), (-2, 3)),
    ((3, 4, 5), (1, 2, 3, 0)), ((1, 2, 4, 5), (0, 2, 3, 2)), ((3, 3, 3, 3), (-1, 2, 2, -1)),
    ((1, 1, 5, 5), (3, -3, 0, -3)), ((1, 1, 5, 5), (3, -5, 1, -5)), ((1, 1, 5, 5), (0, 0, 0, -5)),
    ((1, 1, 5, 5), (4, 4, 0, 4)), ((2, 3, 4, 5), (1, 2, 3, 1, 1, 2)), ((1, 2, 3, 4, 5), (1, 2, 2, 1, 1, 2)),
    ((0, 2, 5), (2, 1)), ((2, 3, 1), (0, 0)),
]


# circular pads past what a negative pad leaves of the axis: torch's output is uninitialized memory
# there (or an internal error); retroprop refuses them
WRAPS_PAST_CROP = {((2, 3, 4), (-2, 3)), ((1, 1, 5, 5), (3, -3, 0, -3)), ((1, 1, 5, 5), (3, -5, 1, -5))}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("shape", "pad"), CASES, ids=[f"{s}-{p}" for s, p in CASES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_pad_modes_match_torch(mode, shape, pad, dtype):
    x = keyed_normal(shape, "pad", mode)
    if mode == "circular" and (shape, pad) in WRAPS_PAST_CROP:
        with pytest.raises(RuntimeError, match="wrapping around more than once"):
            F.pad(rp.tensor(x), pad, mode=mode)
        return
    assert_matches_torch(lambda t: F.pad(t, pad, mode=mode), lambda t: TF.pad(t, pad, mode=mode), x,
                         dtype=dtype, check_dtype=True)


@pytest.mark.parametrize("mode", MODES)
def test_pad_modes_gradient(mode):
    check_grad(lambda t: F.pad(t, (2, 1, 1, 2), mode=mode), keyed_normal((2, 3, 4), "g", mode))
    check_grad(lambda t: F.pad(t, (1, 3), mode=mode), keyed_normal((2, 4), "g1", mode))


def test_pad_large_replicate_and_circular():
    x = keyed_normal((1, 1, 5, 5), "large")
    assert_matches_torch(lambda t: F.pad(t, (3, 11, 0, 30), mode="replicate"),
                         lambda t: TF.pad(t, (3, 11, 0, 30), mode="replicate"), x)
    assert_matches_torch(lambda t: F.pad(t, (5, 5, 1, -2), mode="circular"),
                         lambda t: TF.pad(t, (5, 5, 1, -2), mode="circular"), x)


def test_pad_modes_keep_integer_dtypes():
    data = np.arange(10, dtype=np.int32).reshape(2, 5)
    for mode in MODES:
        out = F.pad(rp.tensor(data), (2, 1), mode=mode)
        want = TF.pad(torch.tensor(data), (2, 1), mode=mode).numpy()
        assert out.dtype == want.dtype
        np.testing.assert_array_equal(out.numpy(), want)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("shape", "pad"), [((5,), (1, 1)), ((1, 2, 3, 5), (1, 1)), ((3, 5), (1, 1, 1, 1)),
                                            ((2, 3, 5), (1,) * 6), ((1, 1, 2, 3, 5), (1, 1, 1, 1))])
def test_unsupported_rank_raises_not_implemented(mode, shape, pad):
    with pytest.raises(NotImplementedError):
        TF.pad(torch.ones(shape), pad, mode=mode)
    with pytest.raises(NotImplementedError, match=f"Padding size {len(pad)} is not supported for "
                                                  f"{len(shape)}D input"):
        F.pad(rp.ones(*shape), pad, mode=mode)


@pytest.mark.parametrize(("mode", "shape", "pad", "message"), [
    ("reflect", (2, 3, 5), (5, 0), "Padding size should be less than the corresponding input dimension"),
    ("reflect", (1, 1, 5, 5), (3, 5, 0, 0), "Padding size should be less than"),
    ("reflect", (2, 3, 5), (-3, -3), r"input \(W: 5\) is too small"),
    ("replicate", (2, 3, 5), (-3, -3), "too small"),
    ("circular", (1, 1, 5, 5), (3, 6, 0, 0), "wrapping around more than once"),
    ("circular", (2, 3, 5), (-3, -3), "resulting in an empty dimension"),
    ("reflect", (2, 0, 5), (1, 1), "non-zero dimensions"),
    ("replicate", (0, 5), (1, 1), "non-zero dimensions"),
    ("reflect", (2, 5), (1, 1, 1), "divisible by 2"),
])
def test_bad_padding_raises_runtime_error_as_torch(mode, shape, pad, message):
    with pytest.raises(RuntimeError):
        TF.pad(torch.ones(shape), pad, mode=mode)
    with pytest.raises(RuntimeError, match=message):
        F.pad(rp.ones(*shape), pad, mode=mode)


def test_value_with_a_non_constant_mode():
    with pytest.raises(RuntimeError):
        TF.pad(torch.ones(2, 5), (1, 1), mode="reflect", value=1.0)
    with pytest.raises(RuntimeError, match="doesn't take in value argument"):
        F.pad(rp.ones(2, 5), (1, 1), mode="reflect", value=1.0)
    F.pad(rp.ones(2, 5), (1, 1), mode="reflect", value=0)  # as torch: 0 is accepted


def test_unknown_mode():
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode typo"):
        TF.pad(torch.ones(3, 3, 3), (3, 0), mode="typo")
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode typo") as caught:
        F.pad(rp.ones(3, 3, 3), (3, 0), mode="typo")
    assert isinstance(caught.value, ConvolutionError)
