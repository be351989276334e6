"""``F.max_unpool1d/2d`` (retroprop.pool) against torch 2.13.0: values and gradients after
``max_pool`` with ``return_indices``, ``output_size`` forms, unbatched input, inf/NaN values, and
torch's refusals (an output_size out of range, an index past the plane, int32 indices).
"""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
import retroprop.functional as F
from tests.helpers import keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _compare(x: np.ndarray, nd: int, pool_args: dict, unpool_args: dict) -> None:
    pool, unpool = (TF.max_pool1d, TF.max_unpool1d) if nd == 1 else (TF.max_pool2d, TF.max_unpool2d)
    rp_pool, rp_unpool = (F.max_pool1d, F.max_unpool1d) if nd == 1 else (F.max_pool2d, F.max_unpool2d)
    values, indices = pool(torch.tensor(x), return_indices=True, **pool_args)
    values = values.detach().requires_grad_(True)
    want = unpool(values, indices, **unpool_args)
    weights = keyed_normal(tuple(want.shape), "weights")
    want.backward(torch.tensor(weights))
    rp_values, rp_indices = rp_pool(rp.tensor(x), return_indices=True, **pool_args)
    rp_values = rp_values.detach().requires_grad_(True)
    got = rp_unpool(rp_values, rp_indices, **unpool_args)
    got.backward(rp.tensor(weights))
    assert got.shape == tuple(want.shape) and got.dtype == want.detach().numpy().dtype
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    np.testing.assert_allclose(rp_values.grad.numpy(), values.grad.numpy())


@pytest.mark.parametrize(("shape", "pool_args", "output_size"), [
    ((1, 2, 50, 50), {"kernel_size": (5, 5), "stride": (6, 5)}, None),
    ((2, 3, 30, 30), {"kernel_size": 3, "stride": (6, 7), "padding": 1}, (30, 30)),
    ((1, 3, 7, 6), {"kernel_size": 2}, (99, 99, 7, 6)),
    ((3, 7, 6), {"kernel_size": 2}, None),
    ((2, 2, 6, 6), {"kernel_size": 3, "stride": 1}, None),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_max_unpool2d_matches_torch(shape, pool_args, output_size, dtype):
    x = keyed_normal(shape, "unpool").astype(dtype)
    unpool_args = {k: v for k, v in pool_args.items() if k != "dilation"} | {"output_size": output_size}
    _compare(x, 2, pool_args, unpool_args)


def test_max_unpool1d_and_special_values():
    _compare(keyed_normal((2, 3, 9), "u1"), 1, {"kernel_size": 2}, {"kernel_size": 2, "output_size": (9,)})
    special = np.array([[[[np.inf, -np.inf, np.nan], [1.0, 2.0, 3.0]]]])
    values, indices = F.max_pool2d(rp.tensor(special), 2, return_indices=True)
    t_values, t_indices = TF.max_pool2d(torch.tensor(special), 2, return_indices=True)
    np.testing.assert_array_equal(F.max_unpool2d(values, indices, 2).numpy(),
                                  TF.max_unpool2d(t_values, t_indices, 2).numpy())


def test_max_unpool_errors():
    x = keyed_normal((1, 2, 5, 5), "err")
    values, indices = F.max_pool2d(rp.tensor(x), 2, return_indices=True)
    t_values, t_indices = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    with pytest.raises(ValueError):
        TF.max_unpool2d(t_values, t_indices, 2, output_size=(6, 6))
    with pytest.raises(ValueError, match="dim 0 must be between 2 and 6"):
        F.max_unpool2d(values, indices, 2, output_size=(6, 6))
    with pytest.raises(RuntimeError):
        TF.max_unpool2d(t_values, t_indices * 100, 2)
    with pytest.raises(RuntimeError, match="Found an invalid max index"):
        F.max_unpool2d(values, indices * 100, 2)
    with pytest.raises(RuntimeError, match="should be type int64"):
        F.max_unpool2d(values, indices.int(), 2)
    with pytest.raises(RuntimeError, match="same as that of the input"):
        F.max_unpool2d(values, indices[:, :1], 2)
