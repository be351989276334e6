"""Building a Linear layer allocates its weights once (no copy of a fresh array)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from retroprop import nn


def _keep(weight: object) -> None:
    """An initialization that draws nothing (as rp.load builds its layers)."""


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_building_a_linear_layer_holds_its_weights_once(dtype: type) -> None:
    nn.Linear(4, 4, init=_keep)  # imports and caches outside the measurement
    tracemalloc.start()
    try:
        layer = nn.Linear(1024, 1024, init=_keep, dtype=dtype)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    weights = layer.weight.data.nbytes + layer.bias.data.nbytes
    # a copy of the weight array would make the peak twice the weights; the rest is small objects
    assert peak < weights + 64 * 2**10, peak / weights
    assert layer.weight.requires_grad and layer.weight.dtype == dtype and layer.bias.shape == (1024,)


def test_a_linear_layer_of_integers_is_refused() -> None:
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        nn.Linear(2, 2, dtype=np.int64)
