"""Dropout: randomly zero units for one gradient step (inverted scaling)."""

from __future__ import annotations

from typing import Any

import numpy as np

from retroprop import functional as F
from retroprop.nn.module import Module
from retroprop.random import get_generator
from retroprop.tensor import Tensor


class Dropout(Module):
    """Zero each unit with probability ``p`` in training and scale the rest by 1/(1-p).

    ``p`` is the drop rate, as in the course page: 0.0 changes nothing; 1.0 drops every unit, so
    the layers before it receive no gradient and the model learns nothing (no NaN, no crash).
    Identity in ``eval()``.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False, generator: Any = None) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)):
            raise TypeError(f"Dropout: p must be a number in [0, 1], got {type(p).__name__}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p is the drop rate and must be in [0, 1], got {p}")
        self.p = float(p)
        if not isinstance(inplace, (bool, np.bool_)):
            raise TypeError(f"Dropout: inplace must be a bool, got {type(inplace).__name__}")
        self.inplace = bool(inplace)  # torch's argument; the output is computed out of place all the same
        # an int seed becomes one generator here, so successive calls draw different masks
        self.generator = None if generator is None else get_generator(generator)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.generator)

    def label(self) -> str:
        return f"Dropout p={self.p:g}"

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}
