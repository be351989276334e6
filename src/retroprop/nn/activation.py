"""Activation layers: thin Modules over ``retroprop.functional``."""

from __future__ import annotations

from typing import Any

from retroprop import functional as F
from retroprop.nn.module import Module
from retroprop.tensor import Tensor

_relu = F.ReLU.apply  # bound once: this is called once per layer and step


class ReLU(Module):
    """``max(x, 0)``. A unit whose input stays below 0 outputs 0 and passes no gradient (dead)."""

    def forward(self, x: Tensor) -> Tensor:
        return _relu(x)

    def get_config(self) -> dict[str, Any]:
        return {}


class LeakyReLU(Module):
    """``x`` for x > 0, else ``negative_slope * x``: negative inputs still pass a little gradient."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"

    def get_config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


class ELU(Module):
    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class SELU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.selu(x)

    def get_config(self) -> dict[str, Any]:
        return {}


class GELU(Module):
    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}" if self.approximate != "none" else ""

    def get_config(self) -> dict[str, Any]:
        return {"approximate": self.approximate}


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``; its derivative is at most 1/4, so deep stacks shrink gradients."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)

    def get_config(self) -> dict[str, Any]:
        return {}


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)

    def get_config(self) -> dict[str, Any]:
        return {}


class Softmax(Module):
    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, axis=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}


class LogSoftmax(Softmax):
    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, axis=self.dim)
