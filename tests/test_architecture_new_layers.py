"""Models with transposed convolutions and Upsample are saved and loaded like any other layer, and
a file that describes one wrongly is refused before anything is built."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.architecture import describe
from retroprop.containers import FileFormatError


@pytest.mark.parametrize("suffix", ["npz", "safetensors"])
def test_round_trip(tmp_path, suffix: str) -> None:
    rp.manual_seed(0)
    image = nn.Sequential(nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=1, groups=1), nn.ReLU(),
                          nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True))
    signal = nn.Sequential(nn.ConvTranspose1d(4, 6, 3, dilation=2, groups=2, bias=False),
                           nn.Upsample(size=20))
    for model, x in ((image, rp.randn(2, 3, 5, 5)), (signal, rp.randn(2, 4, 7))):
        path = tmp_path / f"model.{suffix}"
        rp.save(model, path)
        loaded = rp.load(path)
        assert repr(loaded) == repr(model)
        np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


@pytest.mark.parametrize("config, message", [
    ({"class": "Upsample", "config": {"size": 4, "scale_factor": 2.0, "mode": "nearest"}}, "exactly one"),
    ({"class": "Upsample", "config": {"scale_factor": -1.0, "mode": "nearest"}}, "positive number"),
    ({"class": "ConvTranspose2d", "config": {"in_channels": 3, "out_channels": 4, "kernel_size": 3,
                                             "groups": 2}}, "divisible by groups"),
])
def test_bad_descriptions_are_refused(config: dict, message: str) -> None:
    with pytest.raises(FileFormatError, match=message):
        describe(config)
