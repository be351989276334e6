"""Resampling: ``F.interpolate``, with torch's index rules.

Every supported mode is separable: the output is the input resampled along each spatial axis in
turn, one gather (``nearest``) or two weighted gathers (``linear``) per axis, with the source
indices and weights torch's CPU forward kernels compute (``nearest``: ``floor(dst / scale_factor)``,
torch's legacy rule; linear: ``(dst + 0.5) / scale_factor - 0.5`` clamped at 0, or
``dst * (in - 1) / (out - 1)`` with ``align_corners=True``; ``in / out`` stands for the scale
factor when a size was given). The backward pass applies each axis's transpose: a scatter-add of the
gradient onto the source indices (they never decrease along the output, so each is one
``add.reduceat``).

torch's 2-d nearest kernel (forward and backward) copies when ``out == in`` and halves the index
when ``out == 2 * in``, whatever the scale factor; its 1-d and 3-d forward kernels do not.

Differences from torch: the gradient of ``nearest`` is always the transpose of the forward pass.
torch's 1-d and 3-d backward kernels map indices by the 2-d rule, so for a scale factor such as 2.1
or 1.2 whose output size is twice or once the input's, torch's gradient is not its forward's
transpose and retroprop's differs from it. ``bicubic``, ``area``, ``lanczos`` and ``antialias=True`` are not
implemented; integer inputs are refused (torch resamples uint8).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from retroprop.backend import array_module
from retroprop.conv import check_output_size
from retroprop.tensor import Function, ShapeError, Tensor

__all__ = ["interpolate"]

_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"
_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}
_NOT_IMPLEMENTED = ("bicubic", "area", "lanczos")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _nearest_indices(size_in: int, size_out: int, scale: float | None, exact: bool, legacy: bool,
                     dtype: np.dtype) -> np.ndarray:
    """The source index of every output position, as torch's CPU forward kernels compute it:
    ``floor(dst * step)`` (``exact``: ``floor(max(step * (dst + 0.5) - 0.5, 0) + 0.5)``), with
    ``step = 1 / scale_factor`` when one was given, else ``in / out``, in the input's dtype and floored
    through ``floorf`` (float32). ``legacy`` (torch's 2-d kernel, ``nearest_idx``): a copy when
    ``out == in``, halving when ``out == 2 * in``, else the same rule in float32."""
    if legacy:
        if size_out == size_in:
            return np.arange(size_out)
        if size_out == 2 * size_in:
            return np.arange(size_out) >> 1
        dtype = np.dtype(np.float32)
    if scale is not None and scale > 0:
        step = dtype.type(1.0 / scale)
    else:
        step = dtype.type(size_in) / dtype.type(size_out)
    dst = np.arange(size_out).astype(dtype)
    if exact:
        real = np.maximum(step * (dst + dtype.type(0.5)) - dtype.type(0.5), dtype.type(0))
        source = (real.astype(np.float64) + 0.5).astype(np.float32)
    else:
        source = (step * dst).astype(np.float32)
    return np.minimum(np.floor(source).astype(np.int64), size_in - 1)


def _linear_weights(size_in: int, size_out: int, scale: float | None, align_corners: bool,
                    dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """torch's ``compute_source_index_and_lambda``: for each output position the two source indices
    and their weights, computed in the input's dtype (torch's opmath type on CPU)."""
    dst = np.arange(size_out)
    if size_out == size_in:  # torch copies, whatever the scale factor
        return dst, dst, np.ones(size_out, dtype), np.zeros(size_out, dtype)
    one = dtype.type(1)
    if align_corners:
        step = dtype.type(size_in - 1) / dtype.type(size_out - 1) if size_out > 1 else dtype.type(0)
        real = step * dst.astype(dtype)
    else:
        if scale is not None and scale > 0:
            step = dtype.type(1.0 / scale)
        else:
            step = dtype.type(size_in) / dtype.type(size_out)
        real = np.maximum(step * (dst.astype(dtype) + dtype.type(0.5)) - dtype.type(0.5), dtype.type(0))
    # torch floors through floorf (float32) even for float64 inputs
    low = np.minimum(np.floor(real.astype(np.float32)).astype(np.int64), size_in - 1)
    frac = np.clip(real - low.astype(dtype), 0, 1).astype(dtype)
    high = np.minimum(low + 1, size_in - 1)
    return low, high, one - frac, frac


def _scatter(lib: Any, grad: Any, index: np.ndarray, size: int, axis: int) -> Any:
    """The transpose of ``take(x, index, axis)``: sums of ``grad`` along ``axis`` onto ``index``
    (non-decreasing, so equal indices are adjacent: one ``add.reduceat``)."""
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    shape = list(grad.shape)
    shape[axis] = size
    out = lib.zeros(shape, dtype=grad.dtype)
    target = [slice(None)] * grad.ndim
    target[axis] = lib.asarray(index[starts])
    out[tuple(target)] = lib.add.reduceat(grad, lib.asarray(starts), axis=axis)
    return out


class Interpolate(Function):
    """Separable resampling of the spatial axes: per axis ``(axis, indices, weights)``, one index array
    and no weights for nearest, two of each for linear."""

    saves = ()

    def forward(self, x: Any, plan: list[tuple[int, list[np.ndarray], list[np.ndarray] | None]]) -> Any:
        lib = array_module(x)
        self.plan, self.sizes = plan, [x.shape[axis] for axis, _, _ in plan]
        out = x
        for axis, indices, weights in plan:
            if weights is None:
                out = lib.take(out, lib.asarray(indices[0]), axis=axis)
                continue
            shape = [1] * out.ndim
            shape[axis] = -1
            low, high = (lib.take(out, lib.asarray(i), axis=axis) for i in indices)
            out = low * lib.asarray(weights[0]).reshape(shape) + high * lib.asarray(weights[1]).reshape(shape)
        return out

    def backward(self, grad: Any) -> Any:
        lib = array_module(grad)
        for (axis, indices, weights), size in zip(reversed(self.plan), reversed(self.sizes), strict=True):
            if weights is None:
                grad = _scatter(lib, grad, indices[0], size, axis)
                continue
            shape = [1] * grad.ndim
            shape[axis] = -1
            parts = [_scatter(lib, grad * lib.asarray(w).reshape(shape), i, size, axis)
                     for i, w in zip(indices, weights, strict=True)]
            grad = parts[0] + parts[1]
        return grad


def _sizes(x: Tensor, nd: int, size: Any, scale_factor: Any,
           recompute_scale_factor: bool | None) -> tuple[list[int], list[float | None]]:
    """torch's output sizes and the scales its kernels use (None: from the sizes)."""
    spatial = list(x.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
        if isinstance(size, (list, tuple)):
            if len(size) != nd:
                raise ValueError("Input and output must have the same number of spatial dimensions, but "
                                 f"got input with spatial dimensions of {spatial} and output size of {size}. "
                                 "Please provide input tensor in (N, C, d1, d2, ...,dK) format and output "
                                 "size in (o1, o2, ...,oK) format.")
            sizes = list(size)
        else:
            sizes = [size] * nd
        if not all(_is_int(s) for s in sizes):
            raise TypeError(f"interpolate: expected size to be an int or a tuple of {nd} ints, got {size!r}")
        sizes, scales = [int(s) for s in sizes], [None] * nd
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != nd:
                raise ValueError("Input and scale_factor must have the same number of spatial dimensions, "
                                 f"but got input with spatial dimensions of {spatial} and scale_factor of "
                                 f"shape {scale_factor}. Please provide input tensor in (N, C, d1, d2, "
                                 "...,dK) format and scale_factor in (s1, s2, ...,sK) format.")
            factors = list(scale_factor)
        else:
            factors = [scale_factor] * nd
        if not all(isinstance(f, (int, float, np.integer, np.floating)) and not isinstance(f, bool)
                   for f in factors):
            raise TypeError(f"interpolate: expected scale_factor to be a number or a tuple of {nd} numbers, "
                            f"got {scale_factor!r}")
        factors = [float(f) for f in factors]
        if any(not math.isfinite(f) for f in factors):
            raise ValueError(f"interpolate: scale_factor must be finite, got {scale_factor!r}")
        sizes = [int(n * f) for n, f in zip(spatial, factors, strict=True)]  # torch truncates
        scales = [None] * nd if recompute_scale_factor else factors
    else:
        raise ValueError("either size or scale_factor should be defined")
    names = "DHW"[3 - nd:]
    if any(n <= 0 for n in spatial) or any(s <= 0 for s in sizes):
        shown_in = ", ".join(f"{a}: {n}" for a, n in zip(names, spatial, strict=True))
        shown_out = ", ".join(f"{a}: {n}" for a, n in zip(names, sizes, strict=True))
        raise ShapeError(f"Input and output sizes should be greater than 0, but got input ({shown_in}) and "
                         f"output ({shown_out})")
    return sizes, scales


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resample ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)`` to ``size`` or by
    ``scale_factor``, as torch's ``F.interpolate``: ``mode`` is 'nearest' (torch's legacy index rule),
    'nearest-exact', 'linear' (3-D), 'bilinear' (4-D) or 'trilinear' (5-D); ``align_corners`` (linear
    modes only, default False) maps the corner pixels' centers onto each other."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    nd = x.ndim - 2
    if mode in _LINEAR:
        if align_corners is None:
            align_corners = False
    elif align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: linear | "
                         "bilinear | bicubic | trilinear")
    if antialias:
        if not (mode in ("bilinear", "bicubic", "lanczos") and x.ndim == 4):
            raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and "
                             "requires a 4-D tensor as input")
        raise NotImplementedError("interpolate: antialias=True is not implemented")
    if nd not in (1, 2, 3) or mode not in ("nearest", "nearest-exact", *_LINEAR, *_NOT_IMPLEMENTED):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {x.ndim}D) "
                                  f"for the modes: {_MODES} (got {mode})")
    if mode in _NOT_IMPLEMENTED:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not implemented; 'nearest', "
                                  "'nearest-exact', 'linear', 'bilinear' and 'trilinear' are")
    if mode in _LINEAR and _LINEAR[mode] != nd:
        raise NotImplementedError(f"Got {x.ndim}D input, but {mode} mode needs {_LINEAR[mode] + 2}D input")
    sizes, scales = _sizes(x, nd, size, scale_factor, recompute_scale_factor)
    check_output_size((*x.shape[:2], *sizes), "interpolate")
    if x.dtype.kind != "f":
        raise RuntimeError(f"interpolate: not implemented for {x.dtype} tensors; cast to a float dtype first "
                           "(x.float())")
    plan: list[tuple[int, list[np.ndarray], list[np.ndarray] | None]] = []
    for i, (n_in, n_out, scale) in enumerate(zip(x.shape[2:], sizes, scales, strict=True)):
        if mode in _LINEAR:
            low, high, w_low, w_high = _linear_weights(n_in, n_out, scale, bool(align_corners), x.dtype)
            plan.append((2 + i, [low, high], [w_low, w_high]))
        else:
            exact = mode == "nearest-exact"
            indices = _nearest_indices(n_in, n_out, scale, exact, nd == 2 and not exact, x.dtype)
            plan.append((2 + i, [indices], None))
    return Interpolate.apply(x, plan=plan)
