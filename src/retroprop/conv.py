"""Convolution, transposed convolution and padding with torch's semantics (``F.conv1d/2d``,
``F.conv_transpose1d/2d``, ``F.pad``), and the argument checks and strided-slice helpers that pooling
(``retroprop.pool``) shares.

Inputs are ``(N, C, *spatial)`` (or unbatched ``(C, *spatial)``), as torch's. A convolution gathers
its input's windows through a strided view into one column matrix ``(C * K, N * L)`` (im2col: ``K``
kernel positions, ``L`` output positions) and runs one GEMM with the weight (a batched one, one
matrix per group, when ``groups > 1``); the bias is added to the GEMM's result. Backward: the
weight's gradient is one GEMM with the saved columns, the input's a col2im scatter-add over the
kernel offsets (one strided slice per offset, never a loop over pixels). A batch whose column
matrix would pass ``COLUMNS_LIMIT`` elements goes through in chunks of samples. A transposed
convolution runs the same pieces the other way round: its forward pass is a convolution's input
gradient (GEMM, then col2im), its input's gradient a convolution (im2col, then GEMM). Outputs may be
non-contiguous views (the GEMM's ``(C_out, N, ...)`` layout seen as ``(N, C_out, ...)``): values and
semantics are torch's.

Differences from torch: integer inputs are refused (torch convolves int64 on CPU), ``F.pad`` has only
``mode='constant'`` and ``nn.Conv*d`` only ``padding_mode='zeros'``; writing in place to a
convolution's input after the forward pass raises in backward only where the op kept that input's
memory (it usually keeps its own column copy, so the gradient stays right; torch always raises).
"""

from __future__ import annotations

import math
from itertools import product
from typing import Any

import numpy as np

from retroprop.backend import array_module
from retroprop.tensor import Function, ShapeError, Tensor

__all__ = ["ConvolutionError", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "pad"]


class ConvolutionError(ValueError, RuntimeError):
    """A bad argument to a convolution, pooling or padding op (stride, padding, dtype, sizes).

    A ``RuntimeError``, as torch raises for these, and a ``ValueError``, as retroprop does."""


# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _ntuple(value: Any, n: int, name: str, where: str) -> tuple[int, ...]:
    """An int or a sequence of ``n`` ints as a tuple of ``n`` ints (torch's ``_single``/``_pair``)."""
    if _is_int(value):
        return (int(value),) * n
    if isinstance(value, (tuple, list)) and len(value) in (1, n) and all(_is_int(v) for v in value):
        return tuple(int(v) for v in value) * (n // len(value))  # torch repeats a 1-tuple, as an int
    raise ConvolutionError(f"{where}: {name} must be an int or a tuple of {n} ints, got {value!r}")


def _at_least(values: tuple[int, ...], low: int, name: str, where: str) -> None:
    if any(v < low for v in values):
        word = "positive" if low == 1 else "non-negative"
        shown = values if len(values) > 1 else values[0]
        raise ConvolutionError(f"{where}: {name} must be {word}, got {shown}")


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _floating(x: Tensor, what: str, where: str) -> None:
    if x.dtype.kind != "f":
        raise ConvolutionError(f"{where}: {what} must be a floating-point tensor, got dtype {x.dtype}")


def _batched(x: Tensor, nd: int, where: str) -> tuple[Tensor, bool]:
    """``x`` with a batch axis (added when it is unbatched) and whether one was added."""
    from retroprop.ops import Reshape

    if x.ndim == nd + 2:
        return x, False
    if x.ndim == nd + 1:
        return Reshape.apply(x, shape=(1, *x.shape)), True
    layout = "(N, C, L) or (C, L)" if nd == 1 else "(N, C, H, W) or (C, H, W)"
    raise ShapeError(f"{where}: expected a {nd + 2}-D input {layout}, got shape {tuple(x.shape)}")


def _unbatched(out: Tensor, added: bool) -> Tensor:
    from retroprop.ops import Reshape

    return Reshape.apply(out, shape=out.shape[1:]) if added else out


def _spatial(index: tuple[slice, ...]) -> tuple[slice, ...]:
    return (slice(None), slice(None), *index)


def _offset_slices(kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...],
                   out: tuple[int, ...]) -> list[tuple[tuple[int, ...], tuple[slice, ...]]]:
    """For each kernel offset, the strided slice of the (padded) input it reads at every output position."""
    return [(offset, tuple(slice(i * d, i * d + s * (o - 1) + 1, s)
                           for i, d, s, o in zip(offset, dilation, stride, out, strict=True)))
            for offset in product(*(range(k) for k in kernel))]


def _padded(x: Any, low: tuple[int, ...], high: tuple[int, ...], fill: float) -> Any:
    """``x`` padded on its spatial axes with ``fill`` (``high`` may be negative: cropped)."""
    if not any(low) and not any(high):
        return x
    shape = tuple(n + a + b for n, a, b in zip(x.shape[2:], low, high, strict=True))
    out = array_module(x).full((*x.shape[:2], *shape), fill, dtype=x.dtype)
    keep = tuple(slice(0, n - max(-b, 0)) for n, b in zip(x.shape[2:], high, strict=True))
    out[_spatial(tuple(slice(a, a + k.stop) for a, k in zip(low, keep, strict=True)))] = x[_spatial(keep)]
    return out


def _cropped(grad_padded: Any, shape: tuple[int, ...], low: tuple[int, ...]) -> Any:
    """The inverse of ``_padded`` for a gradient: the input's part, zeros where it was cropped."""
    spatial = shape[2:]
    if grad_padded.shape[2:] == spatial and not any(low):
        return grad_padded
    grad = array_module(grad_padded).zeros(shape, dtype=grad_padded.dtype)
    index = tuple(slice(0, min(n, g - a))
                  for n, g, a in zip(spatial, grad_padded.shape[2:], low, strict=True))
    source = tuple(slice(a, a + i.stop) for a, i in zip(low, index, strict=True))
    grad[_spatial(index)] = grad_padded[_spatial(source)]
    return grad


# ---------------------------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------------------------
# Elements of one column matrix (C_in * K, batch * L): a larger batch (evaluating a whole test set at
# once, say) goes through in chunks of samples, one GEMM each, so memory stays bounded; backward then
# rebuilds each chunk's columns from the kept input instead of keeping them all.
COLUMNS_LIMIT = 2**25


def _columns(lib: Any, xp: Any, kernel: tuple[int, ...], out: tuple[int, ...], stride: tuple[int, ...],
             dilation: tuple[int, ...]) -> Any:
    """im2col: the windows of the padded input ``xp`` as a ``(C * K, N * L)`` matrix (one copy of a
    strided ``(C, *kernel, N, *out)`` view)."""
    n, c = xp.shape[:2]
    st = xp.strides
    strides = (st[1], *(a * d for a, d in zip(st[2:], dilation, strict=True)), st[0],
               *(a * s for a, s in zip(st[2:], stride, strict=True)))
    view = lib.lib.stride_tricks.as_strided(xp, (c, *kernel, n, *out), strides, writeable=False)
    return lib.ascontiguousarray(view).reshape(c * math.prod(kernel), n * math.prod(out))


def _product(weight: Any, cols: Any, groups: int) -> Any:
    """``weight @ cols`` per group: ``(C_out, C_in / groups * K) x (C_in * K, P) -> (C_out, P)``."""
    c_out, positions = weight.shape[0], cols.shape[1]
    if groups == 1:
        return weight.reshape(c_out, -1) @ cols
    return (weight.reshape(groups, c_out // groups, -1)
            @ cols.reshape(groups, -1, positions)).reshape(c_out, positions)


def _weight_gradient(g: Any, cols: Any, groups: int) -> Any:
    """``g @ cols.T`` per group, as ``(groups, C_out / groups, C_in / groups * K)``."""
    g3, cols3 = g.reshape(groups, -1, g.shape[1]), cols.reshape(groups, -1, cols.shape[1])
    # the same product either way round; BLAS runs it faster with the longer side as rows
    if cols3.shape[1] > g3.shape[1]:
        return (cols3 @ g3.transpose(0, 2, 1)).transpose(0, 2, 1)
    return g3 @ cols3.transpose(0, 2, 1)


def _column_gradient(weight: Any, g: Any, groups: int) -> Any:
    """``weight.T @ g`` per group: the gradient of the column matrix, ``(C_in * K, P)``."""
    c_out, positions = weight.shape[0], g.shape[1]
    if groups == 1:
        return weight.reshape(c_out, -1).T @ g
    return (weight.reshape(groups, c_out // groups, -1).transpose(0, 2, 1)
            @ g.reshape(groups, c_out // groups, positions)).reshape(-1, positions)


class Convolution(Function):
    """N-d cross-correlation (torch's ``conv1d``/``conv2d``) through im2col and one GEMM (one per
    chunk of samples beyond ``COLUMNS_LIMIT``)."""

    saves = (0, 1)
    read_for = ((1,), (0,))  # the input (as columns) for the weight's gradient, the weight for the input's

    def forward(self, x: Any, weight: Any, bias: Any, stride: tuple[int, ...], low: tuple[int, ...],
                high: tuple[int, ...], dilation: tuple[int, ...], groups: int) -> Any:
        need_x, need_w = self.needs_input_grad[0], self.needs_input_grad[1]
        n, c = x.shape[:2]
        c_out, kernel = weight.shape[0], weight.shape[2:]
        lib = array_module(x)
        padded = tuple(m + a + b for m, a, b in zip(x.shape[2:], low, high, strict=True))
        out = tuple((p - d * (k - 1) - 1) // s + 1
                    for p, d, k, s in zip(padded, dilation, kernel, stride, strict=True))
        if any(o < 1 for o in out):
            raise ShapeError(f"conv{len(out)}d: input of shape {x.shape} padded to {padded} per "
                             f"channel is smaller than the kernel {kernel} dilated by {dilation}; the "
                             "output would be empty")
        per_sample = c * math.prod(kernel) * math.prod(out)
        chunk = n if n * per_sample <= COLUMNS_LIMIT else max(1, COLUMNS_LIMIT // per_sample)
        self.geometry = (x.shape, padded, out, stride, low, high, dilation, groups, chunk)
        self.weight_shape = weight.shape
        self.weight = weight if need_x else None
        if chunk == n:
            cols = _columns(lib, _padded(x, low, high, 0), kernel, out, stride, dilation)
            result = _product(weight, cols, groups)
            self.cols = cols if need_w else None
        else:
            length = math.prod(out)
            result = lib.empty((c_out, n * length), dtype=x.dtype)
            for start in range(0, n, chunk):
                stop = min(n, start + chunk)
                cols = _columns(lib, _padded(x[start:stop], low, high, 0), kernel, out, stride, dilation)
                result[:, start * length:stop * length] = _product(weight, cols, groups)
            self.x = x if need_w else None  # the columns are rebuilt chunk by chunk
        if bias is not None:
            result += bias[:, None]
        return result.reshape(c_out, n, *out).swapaxes(0, 1)

    def backward(self, grad: Any) -> tuple[Any, Any, Any]:
        need_x, need_w, need_b = self.needs_input_grad
        shape, padded, out, stride, low, high, dilation, groups, chunk = self.geometry
        n, c = shape[:2]
        kernel = self.weight_shape[2:]
        c_out, length = grad.shape[1], math.prod(out)
        lib = array_module(grad)
        g = grad.swapaxes(0, 1).reshape(c_out, n * length)  # free when grad has this op's own layout
        grad_b = g.sum(axis=1) if need_b else None
        grad_w = grad_padded = None
        if need_x:  # col2im target, in (C, N, ...) order: the columns' own
            grad_padded = lib.zeros((c, n, *padded), dtype=grad.dtype)
        for start in range(0, n, max(chunk, 1)):  # an empty batch: no chunk, zero gradients
            stop = min(n, start + chunk)
            g_part = g if chunk == n else g[:, start * length:stop * length]
            if need_w:
                cols = self.cols if chunk == n else _columns(
                    lib, _padded(self.x[start:stop], low, high, 0), kernel, out, stride, dilation)
                part = _weight_gradient(g_part, cols, groups)
                grad_w = part if grad_w is None else grad_w + part
            if need_x:
                grad_cols = _column_gradient(self.weight, g_part, groups)
                grad_cols = grad_cols.reshape(c, *kernel, stop - start, *out)
                target = grad_padded[:, start:stop]
                for offset, index in _offset_slices(kernel, stride, dilation, out):
                    target[_spatial(index)] += grad_cols[(slice(None), *offset)]
        grad_x = None
        if need_x:  # conv pads are never negative: the input is a window of the padded array (a view)
            inside = tuple(slice(a, a + m) for a, m in zip(low, shape[2:], strict=True))
            grad_x = grad_padded[_spatial(inside)].swapaxes(0, 1)
        if need_w:  # (an empty batch gives the weight a zero gradient, as torch's)
            grad_w = lib.zeros(self.weight_shape, grad.dtype) if grad_w is None else grad_w
            grad_w = grad_w.reshape(self.weight_shape)
        return grad_x, grad_w, grad_b


def _conv_padding(padding: Any, nd: int, kernel: tuple[int, ...], stride: tuple[int, ...],
                  dilation: tuple[int, ...], where: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """torch's padding argument as (low, high) pads per spatial axis."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * nd, (0,) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ConvolutionError(f"{where}: padding='same' is not supported for strided convolutions "
                                       f"(stride={stride})")
            total = [d * (k - 1) for d, k in zip(dilation, kernel, strict=True)]
            low = tuple(t // 2 for t in total)
            return low, tuple(t - lo for t, lo in zip(total, low, strict=True))
        raise ConvolutionError(f"{where}: invalid padding string {padding!r}; expected 'valid', 'same', "
                               "an int or a tuple of ints")
    pads = _ntuple(padding, nd, "padding", where)
    _at_least(pads, 0, "padding", where)
    return pads, pads


MAX_OUTPUT_ELEMENTS = 2**31  # an op that would make more values refuses before allocating them


def check_output_size(shape: tuple[int, ...], where: str) -> None:
    """Refuse, before anything is allocated, an output of more than ``MAX_OUTPUT_ELEMENTS`` values (a
    stride, scale or size far out of proportion, from a typo or a crafted model file)."""
    count = math.prod(int(n) for n in shape)
    if count > MAX_OUTPUT_ELEMENTS:
        raise ValueError(f"{where}: the output would have shape {tuple(int(n) for n in shape)}, {count:,} "
                         f"values, more than the {MAX_OUTPUT_ELEMENTS:,} an op may allocate; check the "
                         "stride, scale or size")


def _checked_operands(nd: int, x: Tensor, weight: Tensor, bias: Tensor | None, groups: Any, where: str,
                      layout: str) -> tuple[int, tuple[int, ...], Tensor, bool]:
    """The checks a convolution and a transposed one share: ``groups`` a positive int, a weight of
    ``nd + 2`` axes (``layout`` names its first two) whose first axis ``groups`` divides, and input,
    weight and bias floating point of one dtype. Returns (groups, the weight's shape, the input with
    a batch axis, whether that axis was added)."""
    if not _is_int(groups) or groups < 1:
        raise ConvolutionError(f"{where}: groups must be a positive integer, got {groups!r}")
    groups = int(groups)
    if weight.ndim != nd + 2:
        raise ShapeError(f"{where}: expected a {nd + 2}-D weight ({layout}, "
                         f"{'L' if nd == 1 else 'kH, kW'}), got shape {tuple(weight.shape)}")
    w_shape = tuple(weight.shape)
    x, added = _batched(x, nd, where)
    for tensor, what in ((x, "input"), (weight, "weight"), *(((bias, "bias"),) if bias is not None else ())):
        _floating(tensor, what, where)
        if tensor.dtype != x.dtype:
            raise ConvolutionError(f"{where}: {what} has dtype {tensor.dtype} but the input has {x.dtype}; "
                                   "they must be the same (convert one with .to() or .double()/.float())")
    if w_shape[0] % groups:
        raise ShapeError(f"{where}: given groups={groups}, expected weight to be divisible by {groups} at "
                         f"dimension 0, but got weight of size {list(w_shape)}")
    return groups, w_shape, x, added


def _conv(nd: int, input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any,
          groups: Any) -> Tensor:
    where = f"conv{nd}d"
    x, weight = _tensor(input), _tensor(weight)
    bias = None if bias is None else _tensor(bias)
    stride = _ntuple(stride, nd, "stride", where)
    dilation = _ntuple(dilation, nd, "dilation", where)
    _at_least(stride, 1, "stride", where)
    _at_least(dilation, 1, "dilation", where)
    groups, w_shape, x, added = _checked_operands(nd, x, weight, bias, groups, where,
                                                  "out_channels, in_channels / groups")
    if x.shape[1] != w_shape[1] * groups:
        raise ShapeError(f"{where}: given groups={groups}, weight of size {list(w_shape)}, expected "
                         f"input{list(x.shape)} to have {w_shape[1] * groups} channels, but got "
                         f"{x.shape[1]} channels instead")
    if bias is not None and tuple(bias.shape) != (w_shape[0],):
        raise ShapeError(f"{where}: given weight of size {list(w_shape)}, expected bias to be 1-dimensional "
                         f"with {w_shape[0]} elements, but got bias of size {list(bias.shape)} instead")
    kernel = w_shape[2:]
    low, high = _conv_padding(padding, nd, kernel, stride, dilation, where)
    padded = tuple(n + a + b for n, a, b in zip(x.shape[2:], low, high, strict=True))
    reach = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel, strict=True))
    if any(p < r for p, r in zip(padded, reach, strict=True)):
        raise ShapeError(f"{where}: input of shape {tuple(x.shape)} padded to {padded} per channel is "
                         f"smaller than the dilated kernel {reach} (kernel {kernel}, dilation {dilation}); "
                         "the output would be empty")
    out = Convolution.apply(x, weight, bias, stride=stride, low=low, high=high, dilation=dilation,
                            groups=groups)
    return _unbatched(out, added)


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Tensor:
    """1-D cross-correlation of ``(N, C_in, L)`` (or ``(C_in, L)``) with a ``(C_out, C_in / groups, k)``
    weight, as torch's ``F.conv1d``; ``padding`` is an int, a 1-tuple, 'valid' or 'same'."""
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Tensor:
    """2-D cross-correlation of ``(N, C_in, H, W)`` (or ``(C_in, H, W)``) with a
    ``(C_out, C_in / groups, kH, kW)`` weight, as torch's ``F.conv2d``; ``stride``, ``padding`` and
    ``dilation`` are ints or pairs, ``padding`` also 'valid' or 'same'."""
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


# ---------------------------------------------------------------------------------------------
# Transposed convolution
# ---------------------------------------------------------------------------------------------
class TransposedConvolution(Function):
    """N-d transposed convolution (torch's ``conv_transpose1d``/``conv_transpose2d``): the gradient of a
    convolution with respect to its input. Forward is that convolution's input-gradient path (one GEMM
    with the weight, then a col2im scatter-add over the kernel offsets); backward is the convolution's
    forward (im2col of the output's gradient, one GEMM) for the input and its weight-gradient GEMM for
    the weight, chunked by samples as ``Convolution`` is."""

    saves = (0, 1)
    read_for = ((1,), (0,))  # the input for the weight's gradient, the weight for the input's

    def forward(self, x: Any, weight: Any, bias: Any, stride: tuple[int, ...], padding: tuple[int, ...],
                output_padding: tuple[int, ...], dilation: tuple[int, ...], groups: int) -> Any:
        need_x, need_w = self.needs_input_grad[0], self.needs_input_grad[1]
        n, c = x.shape[:2]
        kernel = weight.shape[2:]
        c_out = weight.shape[1] * groups
        lib = array_module(x)
        size_in = x.shape[2:]
        # the matching convolution's padded input: every position the kernel reaches, plus output_padding
        full = tuple(s * (m - 1) + d * (k - 1) + 1 + o for m, s, d, k, o
                     in zip(size_in, stride, dilation, kernel, output_padding, strict=True))
        out = tuple(f - 2 * p for f, p in zip(full, padding, strict=True))
        length = math.prod(size_in)
        per_sample = c_out * math.prod(kernel) * length
        chunk = n if n * per_sample <= COLUMNS_LIMIT else max(1, COLUMNS_LIMIT // per_sample)
        self.geometry = (size_in, stride, padding, dilation, groups, chunk)
        self.weight_shape = weight.shape
        self.weight = weight if need_x else None
        self.x = x if need_w else None
        target = lib.zeros((c_out, n, *full), dtype=x.dtype)  # col2im target, in (C, N, ...) order
        offsets = _offset_slices(kernel, stride, dilation, size_in)
        for start in range(0, n, max(chunk, 1)):
            stop = min(n, start + chunk)
            rows = x[start:stop].swapaxes(0, 1).reshape(c, (stop - start) * length)
            cols = _column_gradient(weight, rows, groups).reshape(c_out, *kernel, stop - start, *size_in)
            part = target[:, start:stop]
            for offset, index in offsets:
                part[_spatial(index)] += cols[(slice(None), *offset)]
        result = target[_spatial(tuple(slice(p, p + m) for p, m in zip(padding, out, strict=True)))]
        if bias is not None:
            result += bias.reshape(c_out, *(1,) * (len(out) + 1))
        return result.swapaxes(0, 1)

    def backward(self, grad: Any) -> tuple[Any, Any, Any]:
        need_x, need_w, need_b = self.needs_input_grad
        size_in, stride, padding, dilation, groups, chunk = self.geometry
        n, c, kernel = grad.shape[0], self.weight_shape[0], self.weight_shape[2:]
        lib = array_module(grad)
        grad_b = grad.sum(axis=(0, *range(2, grad.ndim))) if need_b else None
        length = math.prod(size_in)
        grad_x = lib.empty((c, n * length), dtype=grad.dtype) if need_x else None
        grad_w = None
        for start in range(0, n, max(chunk, 1)):  # an empty batch: no chunk, zero gradients
            stop = min(n, start + chunk)
            # im2col of the output's gradient padded back to the convolution's input; the windows of
            # the input's positions never reach the output_padding beyond the last one
            cols = _columns(lib, _padded(grad[start:stop], padding, padding, 0), kernel, size_in, stride,
                            dilation)
            if need_x:
                grad_x[:, start * length:stop * length] = _product(self.weight, cols, groups)
            if need_w:
                rows = self.x[start:stop].swapaxes(0, 1).reshape(c, (stop - start) * length)
                part = _weight_gradient(rows, cols, groups)
                grad_w = part if grad_w is None else grad_w + part
        if need_x:
            grad_x = grad_x.reshape(c, n, *size_in).swapaxes(0, 1)
        if need_w:  # (an empty batch gives the weight a zero gradient, as torch's)
            grad_w = (lib.zeros(self.weight_shape, grad.dtype) if grad_w is None
                      else grad_w.reshape(self.weight_shape))
        return grad_x, grad_w, grad_b


def _transposed_output(size_in: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
                       padding: tuple[int, ...], output_padding: tuple[int, ...],
                       dilation: tuple[int, ...]) -> tuple[int, ...]:
    """A transposed convolution's output size per spatial axis, as torch's."""
    return tuple((m - 1) * s - 2 * p + d * (k - 1) + o + 1 for m, k, s, p, o, d
                 in zip(size_in, kernel, stride, padding, output_padding, dilation, strict=True))


def _check_output_padding(output_padding: tuple[int, ...], stride: tuple[int, ...],
                          dilation: tuple[int, ...], where: str) -> None:
    """torch's rule: on each axis output_padding is smaller than the stride or the dilation."""
    if all(o < s or o < d for o, s, d in zip(output_padding, stride, dilation, strict=True)):
        return
    names = ("width",) if len(stride) == 1 else ("height", "width")
    shown = " ".join(f"{what}_{name}: {v}" for what, values in (("output_padding", output_padding),
                                                                 ("stride", stride), ("dilation", dilation))
                     for name, v in zip(names, values, strict=True))
    raise ConvolutionError(f"{where}: output padding must be smaller than either stride or dilation, but got "
                           f"{shown}")


def _conv_transpose(nd: int, input: Any, weight: Any, bias: Any, stride: Any, padding: Any,
                    output_padding: Any, groups: Any, dilation: Any) -> Tensor:
    where = f"conv_transpose{nd}d"
    x, weight = _tensor(input), _tensor(weight)
    bias = None if bias is None else _tensor(bias)
    if isinstance(padding, str):
        raise TypeError(f"{where}: padding must be an int or a tuple of {nd} ints, got {padding!r} "
                        "(transposed convolutions take no padding strings)")
    stride = _ntuple(stride, nd, "stride", where)
    padding = _ntuple(padding, nd, "padding", where)
    output_padding = _ntuple(output_padding, nd, "output_padding", where)
    dilation = _ntuple(dilation, nd, "dilation", where)
    _at_least(stride, 1, "stride", where)
    _at_least(padding, 0, "padding", where)
    _at_least(output_padding, 0, "output_padding", where)
    _at_least(dilation, 1, "dilation", where)
    groups, w_shape, x, added = _checked_operands(nd, x, weight, bias, groups, where,
                                                  "in_channels, out_channels / groups")
    if x.shape[1] != w_shape[0]:
        raise ShapeError(f"{where}: given transposed=1, weight of size {list(w_shape)}, expected "
                         f"input{list(x.shape)} to have {w_shape[0]} channels, but got {x.shape[1]} channels "
                         "instead")
    c_out = w_shape[1] * groups
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ShapeError(f"{where}: given transposed=1, weight of size {list(w_shape)}, expected bias to be "
                         f"1-dimensional with {c_out} elements, but got bias of size {list(bias.shape)} "
                         "instead")
    _check_output_padding(output_padding, stride, dilation, where)
    size_in = tuple(x.shape[2:])
    out = _transposed_output(size_in, w_shape[2:], stride, padding, output_padding, dilation)
    if any(m < 1 for m in size_in) or any(o < 1 for o in out):
        raise ShapeError(f"{where}: given input size per channel: ({' x '.join(map(str, size_in))}). "
                         f"Calculated output size per channel: ({' x '.join(map(str, out))}). Output size is "
                         "too small")
    check_output_size((x.shape[0], c_out, *out), where)
    result = TransposedConvolution.apply(x, weight, bias, stride=stride, padding=padding,
                                         output_padding=output_padding, dilation=dilation, groups=groups)
    return _unbatched(result, added)


def conv_transpose1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """1-D transposed convolution of ``(N, C_in, L)`` (or ``(C_in, L)``) with a
    ``(C_in, C_out / groups, k)`` weight, as torch's ``F.conv_transpose1d``: the gradient of
    ``conv1d`` with respect to its input. Output length ``(L - 1) * stride - 2 * padding +
    dilation * (k - 1) + output_padding + 1``."""
    return _conv_transpose(1, input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """2-D transposed convolution of ``(N, C_in, H, W)`` (or ``(C_in, H, W)``) with a
    ``(C_in, C_out / groups, kH, kW)`` weight, as torch's ``F.conv_transpose2d``: the gradient of
    ``conv2d`` with respect to its input; ``stride``, ``padding``, ``output_padding`` and ``dilation``
    are ints or pairs."""
    return _conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups, dilation)


# ---------------------------------------------------------------------------------------------
# Padding
# ---------------------------------------------------------------------------------------------
class ConstantPad(Function):
    """Pad (or, with negative pads, crop) the last axes with a constant."""

    saves = ()

    def forward(self, x: Any, pads: tuple[tuple[int, int], ...], value: float) -> Any:
        lead = x.ndim - len(pads)
        shape = x.shape[:lead] + tuple(n + a + b for n, (a, b) in zip(x.shape[lead:], pads, strict=True))
        source = (slice(None),) * lead + tuple(slice(max(-a, 0), n - max(-b, 0))
                                               for n, (a, b) in zip(x.shape[lead:], pads, strict=True))
        target = (slice(None),) * lead + tuple(slice(max(a, 0), m - max(b, 0))
                                               for m, (a, b) in zip(shape[lead:], pads, strict=True))
        out = array_module(x).full(shape, value, dtype=x.dtype)
        out[target] = x[source]
        self.shape, self.source, self.target = x.shape, source, target
        return out

    def backward(self, grad: Any) -> Any:
        grad_x = array_module(grad).zeros(self.shape, dtype=grad.dtype)
        grad_x[self.source] = grad[self.target]
        return grad_x


class PadModeError(ConvolutionError, NotImplementedError):
    """An unknown padding mode, or a non-constant mode for a padding length the input's rank does not
    take: torch's ``NotImplementedError`` (a ``RuntimeError``), and a ``ConvolutionError``."""


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _source_index(n: int, before: int, after: int, mode: str) -> Any:
    """For one axis padded by (before, after) (negative: cropped), the input position each output
    position copies: mirrored without repeating the edge (reflect), the edge (replicate) or wrapped
    around (circular)."""
    position = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(position, 0, n - 1)
    if mode == "circular":  # as torch's: a negative pad crops first, the rest wraps around what is left
        first, kept = max(-before, 0), n - max(-before, 0) - max(-after, 0)
        if kept <= 0:
            return np.zeros(0, dtype=np.int64)
        return np.arange(-max(before, 0), kept + max(after, 0)) % kept + first
    period = 2 * (n - 1)
    if period == 0:
        return np.zeros_like(position)
    folded = position % period
    return np.where(folded < n, folded, period - folded)


class IndexPad(Function):
    """Reflect, replicate or circular padding: on each padded axis a gather of the input positions;
    the gradient is scatter-added back to them (an edge copied twice gets both gradients)."""

    saves = ()

    def forward(self, x: Any, pads: tuple[tuple[int, int], ...], mode: str) -> Any:
        xp = array_module(x)
        lead = x.ndim - len(pads)
        self.shape = x.shape
        self.indices = [(lead + i, _source_index(x.shape[lead + i], a, b, mode))
                        for i, (a, b) in enumerate(pads)]
        out = x
        for axis, index in self.indices:
            out = xp.take(out, xp.asarray(index), axis=axis)
        return out if out is not x else out.copy()

    def backward(self, grad: Any) -> Any:
        xp = array_module(grad)
        for axis, index in reversed(self.indices):
            front = xp.moveaxis(grad, axis, 0)
            summed = xp.zeros((self.shape[axis], *front.shape[1:]), dtype=grad.dtype)
            xp.add.at(summed, xp.asarray(index), front)
            grad = xp.moveaxis(summed, 0, axis)
        return grad


def _check_index_pad(x: Tensor, pad: tuple[int, ...], pairs: tuple[tuple[int, int], ...], mode: str,
                     value: Any) -> None:
    """torch's rules for the non-constant modes (which ranks, how far; its messages)."""
    if value is not None and value != 0:
        raise ConvolutionError(f'Padding mode "{mode}" doesn\'t take in value argument')
    k = len(pairs)
    if k not in (1, 2, 3) or x.ndim not in (k + 1, k + 2):
        raise PadModeError(f"Padding size {len(pad)} is not supported for {x.ndim}D input tensor. "
                           f"pad: mode {mode!r} pads the last 1, 2 or 3 axes of a batched or unbatched "
                           f"input ((C, W) or (N, C, W) for 2 values, (C, H, W) or (N, C, H, W) for 4, "
                           f"(C, D, H, W) or (N, C, D, H, W) for 6)")
    lead = x.ndim - k
    names = "DHW"[3 - k:]
    for i, (n, (a, b)) in enumerate(zip(x.shape[lead:], pairs, strict=True)):
        if mode == "circular":
            # torch checks the pads against the axis; past what a negative pad leaves, its output is
            # uninitialized memory (or an internal error), so that is refused here too
            kept = n - max(-a, 0) - max(-b, 0)
            if a > n or b > n or (max(a, b) > kept and n + a + b > 0):
                raise ConvolutionError(f"Padding value causes wrapping around more than once. pad: circular "
                                       f"padding ({a}, {b}) of an axis of size {n} (input shape "
                                       f"{tuple(x.shape)}, {max(kept, 0)} left after cropping) must be at "
                                       f"most {min(n, max(kept, 0))} on each side")
            if n + a + b < 0:
                raise ShapeError("Negative padding value is resulting in an empty dimension (pad: "
                                 f"padding ({a}, {b}) of an axis of size {n})")
            continue
        if 0 in x.shape[x.ndim - k - 1:]:  # only a batch axis may be empty
            raise ShapeError(f"Expected {k + 1}D or {k + 2}D (batch mode) tensor with possibly 0 batch size "
                             f"and other non-zero dimensions for input, but got: {list(x.shape)}")
        if mode == "reflect" and (a >= n or b >= n):
            raise ConvolutionError(f"Argument #4: Padding size should be less than the corresponding input "
                                   f"dimension, but got: padding ({a}, {b}) at dimension {lead + i} of input "
                                   f"{list(x.shape)}")
        if n + a + b < 0:
            raise ShapeError(f"input ({names[i]}: {n}) is too small. Calculated output {names[i]}: "
                             f"{n + a + b}")


def pad(input: Any, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` axes as torch's ``F.pad``: ``pad`` lists (before, after) pairs
    starting from the LAST axis, e.g. ``(1, 1, 2, 0)`` pads the last axis by 1 on each side and the one
    before it by 2 in front; negative values crop. ``mode`` is ``'constant'`` (with ``value``),
    ``'reflect'`` (mirrored, the edge not repeated; each pad less than its axis), ``'replicate'`` (the
    edge value) or ``'circular'`` (wrapped; each pad at most its axis); the last three pad the last 1, 2
    or 3 axes of a (batched or unbatched) input, as torch's."""
    x = _tensor(input)
    if mode not in _PAD_MODES:
        raise PadModeError(f"Unrecognised padding mode {mode} (pad: mode must be one of {_PAD_MODES})")
    if not isinstance(pad, (tuple, list)) or not all(_is_int(p) for p in pad):
        raise ConvolutionError(f"pad: pad must be a tuple of ints, got {pad!r}")
    if len(pad) % 2:
        raise ConvolutionError(f"pad: padding length must be divisible by 2, got {len(pad)} values "
                               f"{tuple(pad)}")
    if len(pad) // 2 > x.ndim:
        raise ConvolutionError(f"pad: padding length should be at most two times the input's dimension, but "
                               f"got padding length {len(pad)} and an input of shape {tuple(x.shape)}")
    pairs = tuple((int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2))[::-1]
    if mode != "constant":
        _check_index_pad(x, tuple(pad), pairs, mode, value)
        return IndexPad.apply(x, pads=pairs, mode=mode)
    lead = x.ndim - len(pairs)
    sizes = tuple(n + a + b for n, (a, b) in zip(x.shape[lead:], pairs, strict=True))
    if any(s < 0 for s in sizes):
        raise ShapeError(f"pad: padding {tuple(pad)} of an input of shape {tuple(x.shape)} gives a negative "
                         f"size {sizes} on the last {len(pairs)} axes")
    fill = 0 if value is None else value
    if x.dtype.kind in "iub" and isinstance(fill, float) and not float(fill).is_integer():
        raise ConvolutionError(f"pad: value {fill!r} does not fit an integer tensor of dtype {x.dtype}")
    return ConstantPad.apply(x, pads=pairs, value=fill)
