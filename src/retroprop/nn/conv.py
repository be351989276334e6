"""Conv1d, Conv2d, ConvTranspose1d and ConvTranspose2d layers, as PyTorch's (arguments, default
initialization, ``extra_repr``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from retroprop import conv as C
from retroprop.nn import init as nn_init
from retroprop.nn.linear import _fresh_parameter, _positive_int
from retroprop.nn.module import Module
from retroprop.tensor import Tensor

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

_convolution = C.Convolution.apply  # bound once: called once per layer and step
_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What Conv1d and Conv2d share; ``_nd`` is the number of spatial axes."""

    _nd = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: Any = None, generator: Any = None) -> None:
        super().__init__()
        name, nd = type(self).__name__, self._nd
        self._set_channels(in_channels, out_channels, groups)
        self.kernel_size = C._ntuple(kernel_size, nd, "kernel_size", name)
        self.stride = C._ntuple(stride, nd, "stride", name)
        self.dilation = C._ntuple(dilation, nd, "dilation", name)
        for what, values in (("kernel_size", self.kernel_size), ("stride", self.stride),
                             ("dilation", self.dilation)):
            C._at_least(values, 1, what, name)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        # as torch keeps it: a tuple of ints, or the string 'same' / 'valid'
        self.padding = padding if isinstance(padding, str) else C._ntuple(padding, nd, "padding", name)
        C._conv_padding(self.padding, nd, self.kernel_size, self.stride, self.dilation, name)  # checks it
        dtype = np.float32 if dtype is None else np.dtype(dtype)
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = _fresh_parameter(shape, dtype)
        if bias:
            self.bias = _fresh_parameter((self.out_channels,), dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def _set_channels(self, in_channels: Any, out_channels: Any, groups: Any) -> None:
        """Channels and groups, positive ints with both channel counts divisible by ``groups``."""
        name = type(self).__name__
        self.in_channels = _positive_int(in_channels, "in_channels", name)
        self.out_channels = _positive_int(out_channels, "out_channels", name)
        self.groups = _positive_int(groups, "groups", name)
        for what, count in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            if count % self.groups:
                raise ValueError(f"{name}: {what} ({count}) must be divisible by groups ({self.groups})")

    def reset_parameters(self, generator: Any = None) -> None:
        """PyTorch's default: weight ``kaiming_uniform_(a=sqrt(5))``, i.e. U(±1/sqrt(fan_in)), and
        bias U(±1/sqrt(fan_in)), with ``fan_in = in_channels / groups * prod(kernel_size)``."""
        nn_init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            fan_in = self.in_channels // self.groups * math.prod(self.kernel_size)
            bound = 1.0 / math.sqrt(fan_in)
            nn_init.uniform_(self.bias, -bound, bound, generator)

    def forward(self, x: Tensor) -> Tensor:
        weight, padding = self.weight, self.padding
        if self.padding_mode != "zeros":  # as torch: F.pad in that mode, then a convolution without padding
            low, high = C._conv_padding(padding, self._nd, self.kernel_size, self.stride, self.dilation,
                                        type(self).__name__)
            pads = [p for axis in reversed(range(self._nd)) for p in (low[axis], high[axis])]
            x = C.pad(x, pads, mode=self.padding_mode)
            padding = (0,) * self._nd
            return C._conv(self._nd, x, weight, self.bias, self.stride, padding, self.dilation, self.groups)
        # the usual case goes straight to the op; anything else through F's checks and messages
        if (isinstance(x, Tensor) and x.ndim == self._nd + 2 and x.shape[1] == self.in_channels
                and x.dtype == weight.dtype and type(padding) is tuple):
            return _convolution(x, weight, self.bias, stride=self.stride, low=padding, high=padding,
                                dilation=self.dilation, groups=self.groups)
        return C._conv(self._nd, x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def label(self) -> str:
        return f"{type(self).__name__} {self.in_channels}→{self.out_channels}"

    def extra_repr(self) -> str:
        nd = self._nd
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,) * nd:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text

    def get_config(self) -> dict[str, Any]:
        padding = self.padding if isinstance(self.padding, str) else list(self.padding)
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride), "padding": padding,
                "dilation": list(self.dilation), "groups": self.groups, "bias": self.bias is not None,
                **({"padding_mode": self.padding_mode} if self.padding_mode != "zeros" else {})}


class Conv1d(_ConvNd):
    """1-D convolution over ``(N, C_in, L)`` (or ``(C_in, L)``) inputs, as ``torch.nn.Conv1d``: weight
    ``(C_out, C_in / groups, k)``; ``padding`` an int, a 1-tuple, 'valid' or 'same'."""

    _nd = 1


class Conv2d(_ConvNd):
    """2-D convolution over ``(N, C_in, H, W)`` (or ``(C_in, H, W)``) inputs, as ``torch.nn.Conv2d``:
    weight ``(C_out, C_in / groups, kH, kW)``; ``padding`` an int, a pair, 'valid' or 'same'."""

    _nd = 2


class _ConvTransposeNd(_ConvNd):
    """What ConvTranspose1d and ConvTranspose2d share: torch's arguments (``groups``, ``bias`` and
    ``dilation`` in its order), a ``(C_in, C_out / groups, *kernel)`` weight."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", dtype: Any = None,
                 generator: Any = None) -> None:
        Module.__init__(self)
        name, nd = type(self).__name__, self._nd
        self._set_channels(in_channels, out_channels, groups)
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a tuple of {nd} ints, got {padding!r} "
                             "(transposed convolutions take no padding strings)")
        self.kernel_size = C._ntuple(kernel_size, nd, "kernel_size", name)
        self.stride = C._ntuple(stride, nd, "stride", name)
        self.padding = C._ntuple(padding, nd, "padding", name)
        self.output_padding = C._ntuple(output_padding, nd, "output_padding", name)
        self.dilation = C._ntuple(dilation, nd, "dilation", name)
        for what, values, low in (("kernel_size", self.kernel_size, 1), ("stride", self.stride, 1),
                                  ("padding", self.padding, 0), ("output_padding", self.output_padding, 0),
                                  ("dilation", self.dilation, 1)):
            C._at_least(values, low, what, name)
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        self.padding_mode = padding_mode
        dtype = np.float32 if dtype is None else np.dtype(dtype)
        shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        self.weight = _fresh_parameter(shape, dtype)
        if bias:
            self.bias = _fresh_parameter((self.out_channels,), dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: Any = None) -> None:
        """PyTorch's default: weight ``kaiming_uniform_(a=sqrt(5))``, i.e. U(±1/sqrt(fan_in)), and
        bias U(±1/sqrt(fan_in)), with torch's ``fan_in`` from the weight's shape:
        ``out_channels / groups * prod(kernel_size)``."""
        nn_init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1.0 / math.sqrt(fan_in)
            nn_init.uniform_(self.bias, -bound, bound, generator)

    def _output_padding(self, x: Tensor, output_size: Any) -> tuple[int, ...]:
        """torch's: the output_padding that gives ``output_size`` (the module's when it is None)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        batched = getattr(x, "ndim", 0) == nd + 2
        leading = 2 if batched else 1
        sizes = list(output_size)
        if len(sizes) == leading + nd:
            sizes = sizes[leading:]
        if len(sizes) != nd:
            raise ValueError(f"ConvTranspose{nd}D: for {x.ndim}D input, output_size must have {nd} or "
                             f"{leading + nd} elements (got {len(sizes)})")
        low = [(x.shape[leading + d] - 1) * self.stride[d] - 2 * self.padding[d]
               + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(nd)]
        high = [m + s - 1 for m, s in zip(low, self.stride, strict=True)]
        if any(not lo <= size <= hi for size, lo, hi in zip(sizes, low, high, strict=True)):
            raise ValueError(f"requested an output size of {list(output_size)}, but valid sizes range from "
                             f"{low} to {high} (for an input of {list(x.shape[leading:])})")
        return tuple(size - lo for size, lo in zip(sizes, low, strict=True))

    def forward(self, x: Tensor, output_size: Any = None) -> Tensor:
        return C._conv_transpose(self._nd, x, self.weight, self.bias, self.stride, self.padding,
                                 self._output_padding(x, output_size), self.groups, self.dilation)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.output_padding != (0,) * self._nd:  # torch puts it after dilation, before groups
            at = text.find(", groups=")
            at = at if at >= 0 else text.find(", bias=")
            at = at if at >= 0 else len(text)
            text = f"{text[:at]}, output_padding={self.output_padding}{text[at:]}"
        return text

    def get_config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding), "output_padding": list(self.output_padding),
                "groups": self.groups, "bias": self.bias is not None, "dilation": list(self.dilation)}


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution over ``(N, C_in, L)`` (or ``(C_in, L)``) inputs, as
    ``torch.nn.ConvTranspose1d``: weight ``(C_in, C_out / groups, k)``; ``forward(x, output_size=None)``
    picks the output_padding that gives ``output_size`` when one is passed."""

    _nd = 1


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution over ``(N, C_in, H, W)`` (or ``(C_in, H, W)``) inputs, as
    ``torch.nn.ConvTranspose2d``: weight ``(C_in, C_out / groups, kH, kW)``;
    ``forward(x, output_size=None)`` picks the output_padding that gives ``output_size`` when one is
    passed."""

    _nd = 2
