"""Ops whose output size follows from a scale, a stride or a size argument refuse, before allocating,
an output beyond ``conv.MAX_OUTPUT_ELEMENTS`` values: a typo or a crafted model file cannot make the
first forward pass ask for terabytes."""

from __future__ import annotations

import pytest

import retroprop as rp
from retroprop import nn


@pytest.mark.parametrize("call", [
    lambda x: nn.Upsample(scale_factor=1e6)(x),
    lambda x: nn.Upsample(size=(2**31, 2**31))(x),
    lambda x: rp.F.conv_transpose2d(x, rp.randn(4, 2, 3, 3), stride=(10**9, 1)),
    lambda x: rp.F.conv_transpose2d(x, rp.randn(4, 2, 3, 3), dilation=10**8),
], ids=["scale", "size", "stride", "dilation"])
def test_outputs_beyond_the_limit_are_refused_before_allocation(call) -> None:
    with pytest.raises(ValueError, match="more than the 2,147,483,648 an op may allocate"):
        call(rp.randn(1, 4, 5, 5))


def test_outputs_within_the_limit_are_made() -> None:
    assert nn.Upsample(scale_factor=3)(rp.randn(1, 4, 5, 5)).shape == (1, 4, 15, 15)
    assert rp.F.conv_transpose2d(rp.randn(1, 4, 5, 5), rp.randn(4, 2, 3, 3), stride=2).shape == (1, 2, 11, 11)
