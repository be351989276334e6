"""Errors and dtypes made to match torch 2.13.0: range factories with ``dtype=bool``,
``cross_entropy`` with a float target of another shape, ``repeat`` with fewer sizes than dims,
``max_pool1d/2d`` of integer tensors (values, dtype, indices; torch's refusals).
"""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
import retroprop.functional as F
from retroprop.conv import ConvolutionError
from tests.helpers import keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
TF = torch.nn.functional


@pytest.mark.parametrize("name", ["linspace", "logspace", "arange"])
def test_range_factories_refuse_bool(name):
    args = (3,) if name == "arange" else (5, 10, 3)
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
        getattr(torch, name)(*args, dtype=torch.bool)
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'") as caught:
        getattr(rp, name)(*args, dtype=bool)
    assert isinstance(caught.value, TypeError)  # as retroprop raised before
    assert isinstance(caught.value, RuntimeError)


def test_cross_entropy_float_target_of_another_shape():
    logits, target = keyed_normal((32, 10), "ce"), keyed_normal((32, 1), "ce-t")
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected, multi-target not supported"):
        TF.cross_entropy(torch.tensor(logits), torch.tensor(target))
    with pytest.raises(rp.ShapeError, match="0D or 1D target tensor expected, multi-target not supported"):
        F.cross_entropy(rp.tensor(logits), rp.tensor(target))
    with pytest.raises(rp.ShapeError, match=r"needs a target of shape \(32,\), got \(32, 1\)"):
        F.nll_loss(rp.tensor(logits), rp.tensor(target))
    # a float target of the class-index shape is still a dtype error (torch: expected Long)
    with pytest.raises(TypeError, match="integer class indices"):
        F.cross_entropy(rp.tensor(logits), rp.tensor(np.zeros(32)))


def test_repeat_with_fewer_sizes_than_dims():
    x = keyed_normal((4, 6, 3), "repeat")
    with pytest.raises(RuntimeError, match="can not be smaller"):
        torch.tensor(x).repeat(2, 4)
    with pytest.raises(rp.ShapeError, match="can not be smaller") as caught:
        rp.tensor(x).repeat(2, 4)
    assert isinstance(caught.value, ValueError)
    assert rp.tensor(x).repeat(2, 0, 4).shape == (8, 0, 12)


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "int8"])
@pytest.mark.parametrize("kwargs", [{"kernel_size": 2, "padding": 1}, {"kernel_size": 3, "stride": 1},
                                    {"kernel_size": (3, 2), "dilation": (2, 1), "ceil_mode": True}])
def test_max_pool2d_of_integers(dtype, kwargs):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(3)
    data = rng.integers(info.min, info.max, size=(2, 3, 7, 8), endpoint=True).astype(dtype)
    out, idx = F.max_pool2d(rp.tensor(data), return_indices=True, **kwargs)
    want, want_idx = TF.max_pool2d(torch.tensor(data), return_indices=True, **kwargs)
    assert out.dtype == want.numpy().dtype and idx.dtype == want_idx.numpy().dtype
    np.testing.assert_array_equal(out.numpy(), want.numpy())
    np.testing.assert_array_equal(idx.numpy(), want_idx.numpy())
    np.testing.assert_array_equal(F.max_pool2d(rp.tensor(data[0]), **kwargs).numpy(),
                                  TF.max_pool2d(torch.tensor(data[0]), **kwargs).numpy())


def test_max_pool2d_ties_of_integers_pick_the_first():
    data = np.ones((1, 1, 6, 6), dtype=np.int32)
    _, idx = F.max_pool2d(rp.tensor(data), 3, stride=1, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), TF.max_pool2d(torch.tensor(data), 3, stride=1,
                                                             return_indices=True)[1].numpy())


def test_max_pool1d_of_integers_as_torch():
    data = np.arange(16, dtype=np.int32).reshape(1, 4, 4)[:, :, ::-1].copy()
    out, idx = F.max_pool1d(rp.tensor(data), 2, return_indices=True)
    want, want_idx = TF.max_pool1d(torch.tensor(data), 2, return_indices=True)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out.numpy(), want.numpy())
    np.testing.assert_array_equal(idx.numpy(), want_idx.numpy())
    with pytest.raises(NotImplementedError):  # torch has no integer max_pool1d without indices
        TF.max_pool1d(torch.tensor(data), 2)
    with pytest.raises(NotImplementedError, match="not implemented for int32") as caught:
        F.max_pool1d(rp.tensor(data), 2)
    assert isinstance(caught.value, ConvolutionError)


def test_max_pool_refuses_bool():
    with pytest.raises(NotImplementedError):
        TF.max_pool2d(torch.ones(1, 1, 4, 4, dtype=torch.bool), 2)
    with pytest.raises(NotImplementedError):
        F.max_pool2d(rp.ones(1, 1, 4, 4, dtype=bool), 2)
