"""The doctor names the losses added with torch's options by the kinds its checks know, for modules,
functions and fit's names alike."""

from __future__ import annotations

import pytest

from retroprop import F, nn
from retroprop.doctor.structure import describe_loss


@pytest.mark.parametrize("loss, kind", [
    (nn.BCELoss(), "bce"), (F.binary_cross_entropy, "bce"), ("bce", "bce"),
    (nn.L1Loss(), "l1"), (F.l1_loss, "l1"), ("l1", "l1"),
    (nn.HuberLoss(), "huber"), (nn.SmoothL1Loss(), "huber"), (F.huber_loss, "huber"), ("smooth_l1", "huber"),
    (nn.CrossEntropyLoss(weight=None, ignore_index=3), "cross_entropy"),
])
def test_new_losses_have_their_kinds(loss: object, kind: str) -> None:
    assert describe_loss(loss) == kind
