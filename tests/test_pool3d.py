"""``F.avg_pool3d`` and ``F.max_pool3d`` (retroprop.pool) against torch 2.13.0: values, gradients,
indices, integer input for max pooling, unbatched input, and the rank check.
"""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
import retroprop.functional as F
from tests.helpers import assert_matches_torch, check_grad, keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
TF = torch.nn.functional

CASES = [
    {"kernel_size": (8, 8, 6), "stride": 5, "padding": 1}, {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, {"kernel_size": 2},
    {"kernel_size": (2, 3, 1), "stride": (1, 2, 1)},
]


@pytest.mark.parametrize("kwargs", CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_avg_pool3d_matches_torch(kwargs, count_include_pad, dtype):
    x = keyed_normal((2, 2, 9, 8, 7), "avg3d")
    assert_matches_torch(lambda t: F.avg_pool3d(t, count_include_pad=count_include_pad, **kwargs),
                         lambda t: TF.avg_pool3d(t, count_include_pad=count_include_pad, **kwargs), x,
                         dtype=dtype, check_dtype=True)


@pytest.mark.parametrize("kwargs", [*CASES, {"kernel_size": 2, "dilation": 2}])
def test_max_pool3d_matches_torch(kwargs):
    x = keyed_normal((2, 2, 9, 8, 7), "max3d")
    assert_matches_torch(lambda t: F.max_pool3d(t, **kwargs), lambda t: TF.max_pool3d(t, **kwargs), x,
                         check_dtype=True)
    got = F.max_pool3d(rp.tensor(x), return_indices=True, **kwargs)[1]
    want = TF.max_pool3d(torch.tensor(x), return_indices=True, **kwargs)[1]
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_pool3d_gradients_unbatched_integers_and_errors():
    check_grad(lambda t: F.avg_pool3d(t, 2, stride=1, padding=1, count_include_pad=False),
               keyed_normal((1, 3, 3, 4), "g-avg"))
    check_grad(lambda t: F.max_pool3d(t, 2, stride=1), keyed_normal((1, 1, 3, 3, 4), "g-max"))
    data = np.arange(2 * 4 * 4 * 4, dtype=np.int32).reshape(2, 4, 4, 4) % 7
    out = F.max_pool3d(rp.tensor(data), 2)
    want = TF.max_pool3d(torch.tensor(data), 2).numpy()
    assert out.dtype == want.dtype
    np.testing.assert_array_equal(out.numpy(), want)
    with pytest.raises(RuntimeError):
        TF.max_pool3d(torch.ones(2, 2, 2), 2)
    with pytest.raises(RuntimeError, match="4D or 5D"):
        F.max_pool3d(rp.ones(2, 2, 2), 2)
    with pytest.raises(RuntimeError, match="4D or 5D"):
        F.avg_pool3d(rp.ones(1, 0, 2, 2, 2), 2)
