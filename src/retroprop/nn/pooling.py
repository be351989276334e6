"""Pooling layers, as PyTorch's: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d."""

from __future__ import annotations

from typing import Any

from retroprop import conv as C
from retroprop import pool as P
from retroprop.nn.module import Module
from retroprop.tensor import Tensor

__all__ = ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "MaxPool1d", "MaxPool2d"]


class _MaxPoolNd(Module):
    _nd = 0

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        # kept as given, as torch keeps them (its repr shows ints where ints were passed); lists (as a
        # saved architecture has them) as tuples
        self.kernel_size = kernel_size = _tuple(kernel_size)
        self.stride = _tuple(stride) if stride is not None else kernel_size
        self.padding, self.dilation = _tuple(padding), _tuple(dilation)
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)
        name = type(self).__name__
        for what, value, low in (("kernel_size", kernel_size, 1), ("stride", self.stride, 1),
                                 ("padding", padding, 0), ("dilation", dilation, 1)):
            C._at_least(C._ntuple(value, self._nd, what, name), low, what, name)

    def forward(self, x: Tensor) -> Any:
        pool = P.max_pool1d if self._nd == 1 else P.max_pool2d
        return pool(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                    self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")

    def get_config(self) -> dict[str, Any]:
        return {"kernel_size": _json(self.kernel_size), "stride": _json(self.stride),
                "padding": _json(self.padding), "dilation": _json(self.dilation),
                "return_indices": self.return_indices, "ceil_mode": self.ceil_mode}


class MaxPool1d(_MaxPoolNd):
    """Max over sliding windows of ``(N, C, L)`` (or ``(C, L)``); ``stride`` defaults to ``kernel_size``."""

    _nd = 1


class MaxPool2d(_MaxPoolNd):
    """Max over sliding windows of ``(N, C, H, W)`` (or ``(C, H, W)``); ``stride`` defaults to
    ``kernel_size``."""

    _nd = 2


class AvgPool1d(Module):
    """Mean over sliding windows of ``(N, C, L)`` (or ``(C, L)``), as ``torch.nn.AvgPool1d``."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        # torch's AvgPool1d keeps 1-tuples (its repr shows kernel_size=(3,))
        self.kernel_size = C._ntuple(kernel_size, 1, "kernel_size", "AvgPool1d")
        self.stride = self.kernel_size if stride is None else C._ntuple(stride, 1, "stride", "AvgPool1d")
        self.padding = C._ntuple(padding, 1, "padding", "AvgPool1d")
        for what, value, low in (("kernel_size", self.kernel_size, 1), ("stride", self.stride, 1),
                                 ("padding", self.padding, 0)):
            C._at_least(value, low, what, "AvgPool1d")
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)

    def forward(self, x: Tensor) -> Tensor:
        return P.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def get_config(self) -> dict[str, Any]:
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding), "ceil_mode": self.ceil_mode,
                "count_include_pad": self.count_include_pad}


class AvgPool2d(Module):
    """Mean over sliding windows of ``(N, C, H, W)`` (or ``(C, H, W)``), as ``torch.nn.AvgPool2d``."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size = _tuple(kernel_size)
        self.stride = _tuple(stride) if stride is not None else kernel_size
        self.padding = padding = _tuple(padding)
        for what, value, low in (("kernel_size", kernel_size, 1), ("stride", self.stride, 1),
                                 ("padding", padding, 0)):
            C._at_least(C._ntuple(value, 2, what, "AvgPool2d"), low, what, "AvgPool2d")
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return P.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def get_config(self) -> dict[str, Any]:
        return {"kernel_size": _json(self.kernel_size), "stride": _json(self.stride),
                "padding": _json(self.padding), "ceil_mode": self.ceil_mode,
                "count_include_pad": self.count_include_pad, "divisor_override": self.divisor_override}


class _AdaptiveAvgPoolNd(Module):
    _nd = 0

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = _tuple(output_size)

    def forward(self, x: Tensor) -> Tensor:
        return P._adaptive_avg_pool(self._nd, x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def get_config(self) -> dict[str, Any]:
        return {"output_size": _json(self.output_size)}


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average ``(N, C, L)`` (or ``(C, L)``) down to ``output_size`` positions (torch's windows)."""

    _nd = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average ``(N, C, H, W)`` (or ``(C, H, W)``) down to ``output_size`` (an int or a pair; None
    keeps that axis' size)."""

    _nd = 2


def _tuple(value: Any) -> Any:
    """A list as a tuple; anything else as it is."""
    return tuple(value) if isinstance(value, list) else value


def _json(value: Any) -> Any:
    """An int or a tuple of ints (or None) as JSON-able values."""
    return list(value) if isinstance(value, tuple) else value
