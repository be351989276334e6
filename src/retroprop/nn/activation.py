"""Activation layers: thin Modules over ``retroprop.functional``."""

from __future__ import annotations

from typing import Any

import numpy as np

from retroprop import functional as F
from retroprop.nn.module import Module
from retroprop.tensor import Tensor

__all__ = ["ELU", "GELU", "SELU", "Hardsigmoid", "Hardswish", "Hardtanh", "LeakyReLU", "LogSigmoid",
           "LogSoftmax", "Mish", "ReLU", "ReLU6", "SiLU", "Sigmoid", "Softmax", "Softplus", "Softsign",
           "Tanh"]

_relu = F.ReLU.apply  # bound once: this is called once per layer and step


def _inplace_flag(value: Any, where: str) -> bool:
    """torch's ``inplace=`` argument, accepted so that torch code runs; the output is computed out of
    place all the same (the input keeps its values; the output and its gradients are torch's)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: inplace must be a bool, got {type(value).__name__}")
    return bool(value)


def _with_inplace(text: str, inplace: bool) -> str:
    """An extra_repr with torch's ``inplace=True`` appended when set."""
    if not inplace:
        return text
    return f"{text}, inplace=True" if text else "inplace=True"


class ReLU(Module):
    """``max(x, 0)``. A unit whose input stays below 0 outputs 0 and passes no gradient (dead)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = _inplace_flag(inplace, "ReLU")

    def forward(self, x: Tensor) -> Tensor:
        return _relu(x)

    def extra_repr(self) -> str:
        return _with_inplace("", self.inplace)

    def get_config(self) -> dict[str, Any]:
        return {}


class LeakyReLU(Module):
    """``x`` for x > 0, else ``negative_slope * x``: negative inputs still pass a little gradient."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)
        self.inplace = _inplace_flag(inplace, "LeakyReLU")

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return _with_inplace(f"negative_slope={self.negative_slope}", self.inplace)

    def get_config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


class ELU(Module):
    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = float(alpha)
        self.inplace = _inplace_flag(inplace, "ELU")

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return _with_inplace(f"alpha={self.alpha}", self.inplace)

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class SELU(Module):
    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = _inplace_flag(inplace, "SELU")

    def forward(self, x: Tensor) -> Tensor:
        return F.selu(x)

    def extra_repr(self) -> str:
        return _with_inplace("", self.inplace)

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


class _NoArguments(Module):
    """An activation without arguments: saved and rebuilt with an empty config."""

    def get_config(self) -> dict[str, Any]:
        return {}


class _InPlaceArgument(_NoArguments):
    """An activation whose only argument is torch's ``inplace=``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = _inplace_flag(inplace, type(self).__name__)

    def extra_repr(self) -> str:
        return _with_inplace("", self.inplace)


class SiLU(_InPlaceArgument):
    """``x * sigmoid(x)`` (swish): smooth, slightly negative below 0."""

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)


class Mish(_InPlaceArgument):
    """``x * tanh(softplus(x))``: smooth, slightly negative below 0."""

    def forward(self, x: Tensor) -> Tensor:
        return F.mish(x)


class Hardswish(_InPlaceArgument):
    """``x * relu6(x + 3) / 6``: 0 (and no gradient) up to -3, ``x`` from 3 on."""

    def forward(self, x: Tensor) -> Tensor:
        return F.hardswish(x)

    def extra_repr(self) -> str:  # torch's repr does not show inplace here
        return ""


class Hardsigmoid(_InPlaceArgument):
    """``relu6(x + 3) / 6``: saturates at 0 below -3 and at 1 above 3, with no gradient there."""

    def forward(self, x: Tensor) -> Tensor:
        return F.hardsigmoid(x)

    def extra_repr(self) -> str:  # torch's repr does not show inplace here
        return ""


class Softsign(_NoArguments):
    """``x / (1 + |x|)``: saturates toward ±1, more slowly than tanh."""

    def forward(self, x: Tensor) -> Tensor:
        return F.softsign(x)


class LogSigmoid(_NoArguments):
    """``log(sigmoid(x))``, stable for large ``|x|``."""

    def forward(self, x: Tensor) -> Tensor:
        return F.logsigmoid(x)


def _number(value: Any, name: str, where: str) -> float:
    """A real number argument, kept as given (an int stays an int in the repr, as torch's)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{where}: {name} must be a number, got {type(value).__name__}")
    return value.item() if isinstance(value, np.generic) else value


class Hardtanh(Module):
    """Clamp to ``[min_val, max_val]``; no gradient passes at or beyond the bounds."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.min_val = _number(min_val, "min_val", type(self).__name__)
        self.max_val = _number(max_val, "max_val", type(self).__name__)
        self.inplace = _inplace_flag(inplace, type(self).__name__)
        if not self.max_val > self.min_val:
            raise ValueError(f"Hardtanh: max_val ({self.max_val}) must be greater than min_val "
                             f"({self.min_val})")

    def forward(self, x: Tensor) -> Tensor:
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return _with_inplace(f"min_val={self.min_val}, max_val={self.max_val}", self.inplace)

    def get_config(self) -> dict[str, Any]:
        return {"min_val": float(self.min_val), "max_val": float(self.max_val)}


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``: a ReLU that also saturates at 6 (no gradient at 0 or from 6 on)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _with_inplace("", self.inplace)

    def get_config(self) -> dict[str, Any]:
        return {}


class Softplus(Module):
    """``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = _number(beta, "beta", "Softplus")
        self.threshold = _number(threshold, "threshold", "Softplus")

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"

    def get_config(self) -> dict[str, Any]:
        return {"beta": float(self.beta), "threshold": float(self.threshold)}
