"""Conv1d/Conv2d with torch's padding modes (reflect, replicate, circular): the same outputs and
gradients as torch's layers, explicit and 'same' padding, saved and loaded with their mode."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("nd, shape, padding", [(1, (2, 3, 9), 2), (1, (2, 3, 9), "same"),
                                                (2, (2, 3, 7, 8), (1, 2)), (2, (2, 3, 7, 8), "same")])
def test_padding_modes_match_torch(mode: str, nd: int, shape: tuple, padding: object) -> None:
    ours = getattr(nn, f"Conv{nd}d")(3, 4, 3, padding=padding, padding_mode=mode, dtype=np.float64)
    theirs = getattr(torch.nn, f"Conv{nd}d")(3, 4, 3, padding=padding, padding_mode=mode, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.numpy()))
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(0).normal(size=shape)
    xr, xt = rp.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yr, yt = ours(xr), theirs(xt)
    (yr * yr).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(yr.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xr.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-9, atol=1e-11)


def test_padding_mode_is_saved_and_loaded(tmp_path) -> None:
    rp.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 3, 3, padding=1, padding_mode="circular"), nn.ReLU())
    rp.save(model, tmp_path / "m.safetensors")
    loaded = rp.load(tmp_path / "m.safetensors")
    assert loaded[0].padding_mode == "circular"
    x = rp.randn(2, 2, 6)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv1d(2, 3, 3, padding_mode="mirror")
