"""Parameter: a tensor that a Module owns and an optimizer updates."""

from __future__ import annotations

from typing import Any

import numpy as np

from retroprop.tensor import Tensor


class Parameter(Tensor):
    """A trainable tensor (``requires_grad=True`` by default) registered on the Module it is set on."""

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        if dtype is None and isinstance(data, (list, float, int)):
            dtype = np.float32
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
