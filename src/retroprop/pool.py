"""Pooling with torch's semantics: ``F.max_pool1d/2d/3d``, ``F.avg_pool1d/2d/3d``,
``F.max_unpool1d/2d``, ``F.adaptive_avg_pool1d/2d``.

Inputs are ``(N, C, *spatial)`` (or unbatched ``(C, *spatial)``), as torch's. Max and average pooling
loop over the kernel offsets, one strided slice of the (padded) input each, never over pixels;
adaptive average pooling is one product per axis with an averaging matrix. Max pooling's gradient
goes to each window's maximum: the first one on ties, the last NaN where there are NaNs (torch's
rule). ``max_pool2d`` takes integer tensors and keeps their dtype (``max_pool1d`` only with
``return_indices``, as torch's); average pooling refuses integers (torch pools int64 there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from retroprop.backend import array_module
from retroprop.conv import (
    ConvolutionError,
    _at_least,
    _batched,
    _cropped,
    _floating,
    _is_int,
    _ntuple,
    _offset_slices,
    _padded,
    _spatial,
    _tensor,
    _unbatched,
)
from retroprop.selection import IndexDtypeError, IndexOutOfRangeError
from retroprop.tensor import Function, ShapeError, Tensor

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "max_pool1d", "max_pool2d", "max_pool3d", "max_unpool1d", "max_unpool2d"]


class PoolDtypeError(ConvolutionError, NotImplementedError):
    """A pooling of a dtype torch has no kernel for: torch's ``NotImplementedError`` (a
    ``RuntimeError``), and a ``ConvolutionError``."""


def _pool_geometry(nd: int, x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
                   ceil_mode: bool, where: str) -> tuple[tuple[int, ...], ...]:
    """Checked (kernel, stride, padding, dilation, out, high) of a pooling: ``high`` is the pad past
    each axis' end that the last window reaches (negative where the windows stop short)."""
    kernel = _ntuple(kernel_size, nd, "kernel_size", where)
    if stride is None or stride == [] or stride == ():  # torch's default: the kernel size
        stride = kernel
    stride = _ntuple(stride, nd, "stride", where)
    pads = _ntuple(padding, nd, "padding", where)
    dilation = _ntuple(dilation, nd, "dilation", where)
    _at_least(kernel, 1, "kernel_size", where)
    _at_least(stride, 1, "stride", where)
    _at_least(pads, 0, "padding", where)
    _at_least(dilation, 1, "dilation", where)
    if any(p > k // 2 for p, k in zip(pads, kernel, strict=True)):
        shown = (pads, kernel) if nd > 1 else (pads[0], kernel[0])
        raise ConvolutionError(f"{where}: padding should be at most half of kernel size, but got "
                               f"padding={shown[0]} and kernel_size={shown[1]}")
    out = []
    for n, k, s, p, d in zip(x.shape[2:], kernel, stride, pads, dilation, strict=True):
        size = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (size - 1) * s >= n + p:  # the last window must start inside the input or left pad
            size -= 1
        out.append(size)
    if any(o < 1 for o in out):
        raise ShapeError(f"{where}: input of shape {tuple(x.shape)} is too small for kernel_size={kernel}, "
                         f"stride={stride}, padding={pads}, dilation={dilation}: the output would have "
                         f"size {tuple(out)}")
    high = tuple((o - 1) * s + d * (k - 1) + 1 - n - p
                 for o, s, d, k, n, p in zip(out, stride, dilation, kernel, x.shape[2:], pads, strict=True))
    return kernel, stride, pads, dilation, tuple(out), high


class MaxPool(Function):
    """Max over each window; the gradient goes to the window's maximum, the first one on ties and
    the last NaN where there are NaNs, as torch's."""

    saves = ()

    def forward(self, x: Any, kernel: tuple[int, ...], stride: tuple[int, ...], low: tuple[int, ...],
                high: tuple[int, ...], dilation: tuple[int, ...], out: tuple[int, ...],
                indices: list[Any] | None = None) -> Any:
        lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min  # integers pad with their minimum
        xp = _padded(x, low, high, lowest)
        slices = _offset_slices(kernel, stride, dilation, out)
        lib = array_module(x)
        views = [xp[_spatial(index)] for _, index in slices]
        best = views[0].copy()
        for values in views[1:]:
            lib.maximum(best, values, out=best)  # NaN propagates, as in torch
        if not self.needs_input_grad[0] and indices is None:
            return best
        # each window's argmax: the first position equal to the maximum (assigned last to first) ...
        which = lib.zeros(best.shape, dtype=np.int64 if len(slices) > 127 else np.int8)
        for position in range(len(views) - 1, -1, -1):
            lib.copyto(which, position, where=views[position] == best)
        nan = lib.isnan(best) if best.dtype.kind == "f" else None
        if nan is not None and nan.any():  # ... or torch's pick where the maximum is NaN: the last NaN
            for position, values in enumerate(views):
                lib.copyto(which, position, where=nan & lib.isnan(values))
        self.which, self.slices, self.shape, self.padded, self.low = which, slices, x.shape, xp.shape, low
        # disjoint windows (no dilation, stride >= kernel); tiled: they also cover the padded input
        disjoint = all(d == 1 and s >= k for k, s, d in zip(kernel, stride, dilation, strict=True))
        self.layout = (disjoint, disjoint and all(
            s == k and o * s == p for k, s, o, p in zip(kernel, stride, out, xp.shape[2:], strict=True)))
        if indices is not None:  # return_indices: handed out through this list, not kept by the node
            indices.append(self._flat_indices(kernel, stride, dilation))
        return best

    def backward(self, grad: Any) -> Any:
        lib = array_module(grad)
        disjoint, tiled = self.layout
        grad_padded = (lib.empty if tiled else lib.zeros)(self.padded, dtype=grad.dtype)
        zero = grad.dtype.type(0)
        for position, (_, index) in enumerate(self.slices):
            chosen = lib.where(self.which == position, grad, zero)
            if disjoint:  # no two windows share an element: written, not added
                grad_padded[_spatial(index)] = chosen
            else:
                grad_padded[_spatial(index)] += chosen
        return _cropped(grad_padded, self.shape, self.low)

    def _flat_indices(self, kernel: tuple[int, ...], stride: tuple[int, ...],
                      dilation: tuple[int, ...]) -> Any:
        """torch's ``return_indices``: each maximum's flat position in its (unpadded) input plane."""
        lib = array_module(self.which)
        offsets = lib.unravel_index(self.which, kernel)
        spatial = self.shape[2:]
        flat = lib.zeros(self.which.shape, dtype=np.int64)
        for axis, (off, s, d, lo) in enumerate(zip(offsets, stride, dilation, self.low, strict=True)):
            starts = lib.arange(self.which.shape[2 + axis]) * s - lo
            starts = starts.reshape((-1,) + (1,) * (len(spatial) - axis - 1))
            flat = flat * spatial[axis] + starts + off.astype(np.int64) * d
        return flat


def _max_pool(nd: int, input: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
              ceil_mode: bool, return_indices: bool) -> Any:
    where = f"max_pool{nd}d"
    x, added = _batched(_tensor(input), nd, where)
    # as torch's: max_pool2d/3d take integer tensors (max_pool1d only with return_indices), never bool
    if x.dtype.kind == "b" or (x.dtype.kind in "iu" and nd == 1 and not return_indices):
        raise PoolDtypeError(f"{where}: not implemented for {x.dtype} tensors, as in torch: input must be a "
                             f"floating-point tensor{' (or an integer one)' if nd > 1 else ''}; cast it "
                             f"first (x.float())")
    if x.dtype.kind not in "iu":
        _floating(x, "input", where)
    kernel, stride, pads, dilation, out, high = _pool_geometry(nd, x, kernel_size, stride, padding, dilation,
                                                               ceil_mode, where)
    sink: list[Any] | None = [] if return_indices else None
    result = _unbatched(MaxPool.apply(x, kernel=kernel, stride=stride, low=pads, high=high, dilation=dilation,
                                      out=out, indices=sink), added)
    if sink is None:
        return result
    indices = Tensor._make(sink[0])
    return result, (indices[0] if added else indices)


def _volume(input: Any, where: str) -> Any:
    """A 3-D pooling's input, checked here for its own message: (N, C, D, H, W) or (C, D, H, W)."""
    x = _tensor(input)
    if x.ndim not in (4, 5) or 0 in x.shape[1:]:
        raise ShapeError(f"{where}: non-empty 4D or 5D (batch mode) tensor expected for input: "
                         f"(N, C, D, H, W) or (C, D, H, W), got shape {tuple(x.shape)}")
    return x


def max_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over windows of ``(N, C, L)`` (or ``(C, L)``), as torch's ``F.max_pool1d`` (padding is -inf;
    ``stride`` defaults to ``kernel_size``); with ``return_indices``, also each maximum's position."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over windows of ``(N, C, H, W)`` (or ``(C, H, W)``), as torch's ``F.max_pool2d``."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


class MaxUnpool(Function):
    """Each value written at its flat index in a zero plane of ``size`` positions (per sample and
    channel); the gradient is read back from those positions."""

    saves = ()

    def forward(self, x: Any, indices: Any, size: tuple[int, ...]) -> Any:
        xp = array_module(x)
        lead, count = x.shape[:2], int(np.prod(size))
        self.flat = indices.reshape(*lead, -1)
        out = xp.zeros((*lead, count), dtype=x.dtype)
        xp.put_along_axis(out, self.flat, x.reshape(*lead, -1), axis=-1)
        self.shape = x.shape
        return out.reshape(*lead, *size)

    def backward(self, grad: Any) -> tuple[Any, None]:
        xp = array_module(grad)
        plane = grad.reshape(*grad.shape[:2], -1)
        return xp.take_along_axis(plane, self.flat, axis=-1).reshape(self.shape), None


def _max_unpool(nd: int, input: Any, indices: Any, kernel_size: Any, stride: Any, padding: Any,
                output_size: Any) -> Tensor:
    where = f"max_unpool{nd}d"
    x, added = _batched(_tensor(input), nd, where)
    index = indices._data if isinstance(indices, Tensor) else np.asarray(indices)
    if index.dtype != np.int64:
        raise IndexDtypeError(f"{where}: elements in indices should be type int64 but got: {index.dtype}")
    if tuple(index.shape) != tuple(input.shape if isinstance(input, Tensor) else np.shape(input)):
        raise ShapeError(f"{where}: Expected shape of indices to be same as that of the input tensor "
                         f"({tuple(x.shape[1 if added else 0:])}) but got indices tensor with shape "
                         f"{tuple(index.shape)}")
    kernel = _ntuple(kernel_size, nd, "kernel_size", where)
    stride = kernel if stride is None else _ntuple(stride, nd, "stride", where)
    pads = _ntuple(padding, nd, "padding", where)
    default = tuple((n - 1) * s - 2 * p + k
                    for n, s, p, k in zip(x.shape[2:], stride, pads, kernel, strict=True))
    if output_size is None:
        size = default
    else:
        size = tuple(int(v) for v in (output_size[-nd:] if len(output_size) in (nd, nd + 2) else ()))
        if len(size) != nd:
            raise ShapeError(f"{where}: output_size must have {nd} or {nd + 2} elements, got "
                             f"{len(output_size)}")
        for d, (n, low, s) in enumerate(zip(size, default, stride, strict=True)):
            if not low - s < n < low + s:
                raise ConvolutionError(f'invalid output_size "{tuple(size)}" (dim {d} must be between '
                                       f"{low - s} and {low + s})")
    index = index[None] if added else index
    count = int(np.prod(size))
    if index.size and (int(index.min()) < 0 or int(index.max()) >= count):
        bad = int(index.max()) if int(index.max()) >= count else int(index.min())
        raise IndexOutOfRangeError(f"{where}: Found an invalid max index: {bad} (output volumes are of "
                                   f"size {'x'.join(str(n) for n in size)})")
    return _unbatched(MaxUnpool.apply(x, index, size=size), added)


def max_unpool1d(input: Any, indices: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> Tensor:
    """The inverse of ``max_pool1d``: each value put back at its index (from ``return_indices``),
    zeros elsewhere, as torch's ``F.max_unpool1d``."""
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input: Any, indices: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> Tensor:
    """The inverse of ``max_pool2d``: each value put back at its flat index in its (H, W) plane,
    zeros elsewhere; ``output_size`` (H, W) or (N, C, H, W) picks among the sizes the pooling could
    have come from, as torch's ``F.max_unpool2d``."""
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_pool3d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over windows of ``(N, C, D, H, W)`` (or ``(C, D, H, W)``), as torch's ``F.max_pool3d``."""
    return _max_pool(3, _volume(input, "max_pool3d"), kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


class AvgPool(Function):
    """Mean over each window, divided as torch's: by the window clipped to the padded input
    (``count_include_pad``), by its elements inside the input, or by ``divisor_override``."""

    saves = ()

    def forward(self, x: Any, kernel: tuple[int, ...], stride: tuple[int, ...], low: tuple[int, ...],
                high: tuple[int, ...], out: tuple[int, ...], divisor: Any) -> Any:
        xp = _padded(x, low, high, 0)
        slices = _offset_slices(kernel, stride, (1,) * len(kernel), out)
        total = xp[_spatial(slices[0][1])].copy()
        for _, index in slices[1:]:
            total += xp[_spatial(index)]
        divisor = array_module(x).asarray(divisor)  # built with NumPy: on the input's device
        self.slices, self.shape, self.padded, self.low, self.divisor = slices, x.shape, xp.shape, low, divisor
        total /= divisor
        return total

    def backward(self, grad: Any) -> Any:
        share = grad / self.divisor
        grad_padded = array_module(grad).zeros(self.padded, dtype=grad.dtype)
        for _, index in self.slices:
            grad_padded[_spatial(index)] += share
        return _cropped(grad_padded, self.shape, self.low)


def _avg_divisor(x: Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], pads: tuple[int, ...],
                 out: tuple[int, ...], count_include_pad: bool) -> Any:
    """Each window's divisor (torch's ``pool_size`` or count of input elements), per output position."""
    divisor = np.ones((), dtype=x.dtype)
    for n, k, s, p, o in zip(x.shape[2:], kernel, stride, pads, out, strict=True):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        counts = end - start if count_include_pad else np.minimum(end, n) - np.maximum(start, 0)
        divisor = divisor[..., None] * counts.astype(x.dtype)
    return divisor


def _avg_pool(nd: int, input: Any, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool,
              count_include_pad: bool, divisor_override: Any) -> Tensor:
    where = f"avg_pool{nd}d"
    x, added = _batched(_tensor(input), nd, where)
    _floating(x, "input", where)
    kernel, stride, pads, _, out, high = _pool_geometry(nd, x, kernel_size, stride, padding, 1, ceil_mode,
                                                        where)
    if divisor_override is not None:
        if not _is_int(divisor_override) or divisor_override == 0:
            raise ConvolutionError(f"{where}: divisor_override must be a non-zero int, got "
                                   f"{divisor_override!r}")
        divisor = np.asarray(divisor_override, dtype=x.dtype)
    else:
        divisor = _avg_divisor(x, kernel, stride, pads, out, bool(count_include_pad))
    result = AvgPool.apply(x, kernel=kernel, stride=stride, low=pads, high=high, out=out, divisor=divisor)
    return _unbatched(result, added)


def avg_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over windows of ``(N, C, L)`` (or ``(C, L)``), as torch's ``F.avg_pool1d``."""
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over windows of ``(N, C, H, W)`` (or ``(C, H, W)``), as torch's ``F.avg_pool2d``."""
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool3d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: Any = None) -> Tensor:
    """Mean over windows of ``(N, C, D, H, W)`` (or ``(C, D, H, W)``), as torch's ``F.avg_pool3d``."""
    return _avg_pool(3, _volume(input, "avg_pool3d"), kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


class AdaptiveAvgPool(Function):
    """Mean over torch's adaptive windows ``[floor(i * n / o), ceil((i + 1) * n / o))`` per axis: the
    windows are separable, so each axis is one product with an ``(o, n)`` averaging matrix."""

    saves = ()

    def forward(self, x: Any, matrices: tuple[Any, ...]) -> Any:
        lib = array_module(x)
        self.matrices = matrices = tuple(lib.asarray(m) for m in matrices)  # built with NumPy
        out = x
        for axis, matrix in enumerate(matrices):
            out = lib.moveaxis(lib.moveaxis(out, 2 + axis, -1) @ matrix.T, -1, 2 + axis)
        return lib.ascontiguousarray(out)

    def backward(self, grad: Any) -> Any:
        lib = array_module(grad)
        for axis, matrix in enumerate(self.matrices):
            grad = lib.moveaxis(lib.moveaxis(grad, 2 + axis, -1) @ matrix, -1, 2 + axis)
        return grad


def _averaging_matrix(n: int, o: int, dtype: np.dtype) -> Any:
    matrix = np.zeros((o, n), dtype=dtype)
    for i in range(o):
        start, end = (i * n) // o, -((-(i + 1) * n) // o)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def _adaptive_avg_pool(nd: int, input: Any, output_size: Any) -> Tensor:
    where = f"adaptive_avg_pool{nd}d"
    x, added = _batched(_tensor(input), nd, where)
    _floating(x, "input", where)
    sizes = (output_size,) * nd if _is_int(output_size) else output_size
    if not isinstance(sizes, (tuple, list)) or len(sizes) != nd or not all(
            s is None or (_is_int(s) and s >= 0) for s in sizes):
        raise ConvolutionError(f"{where}: output_size must be a non-negative int or a tuple of {nd} of them "
                               f"(None keeps the input's size), got {output_size!r}")
    sizes = tuple(n if s is None else int(s) for s, n in zip(sizes, x.shape[2:], strict=True))
    if any(n == 0 for n in x.shape[2:]):
        raise ShapeError(f"{where}: input of shape {tuple(x.shape)} has an empty spatial axis")
    matrices = tuple(_averaging_matrix(n, o, x.dtype) for n, o in zip(x.shape[2:], sizes, strict=True))
    return _unbatched(AdaptiveAvgPool.apply(x, matrices=matrices), added)


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Tensor:
    """Average ``(N, C, L)`` (or ``(C, L)``) down to ``output_size`` positions, as torch's."""
    return _adaptive_avg_pool(1, input, output_size)


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:
    """Average ``(N, C, H, W)`` (or ``(C, H, W)``) down to ``output_size`` (an int, or a pair whose
    None entries keep the input's size), as torch's."""
    return _adaptive_avg_pool(2, input, output_size)
