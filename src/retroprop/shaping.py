"""Repeating, expanding, splitting and joining tensors, and the module-level forms of the shape
methods (``rp.reshape``, ``rp.transpose``, ...), with torch's names and meaning.

As torch's: ``repeat`` is NumPy's ``tile`` (more sizes than dims add leading dims); ``expand`` is a
broadcast (``-1`` keeps a size; only size-1 dims grow) whose gradient is summed back; ``chunk``
gives pieces of ``ceil(n / chunks)`` (so possibly fewer than ``chunks``); ``split`` takes a piece size
or a list of sizes that must add up to the dim's size; ``cat`` promotes dtypes and skips legacy empty
``(0,)`` tensors; ``flip`` and ``roll`` copy; ``t()`` takes at most 2 dims. Pieces of ``split``,
``chunk`` and ``unbind`` are views, and their gradients flow back into the one input.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from retroprop import factories
from retroprop.backend import array_module
from retroprop.ops import (
    Cast,
    Concatenate,
    GetItem,
    Reshape,
    Transpose,
    _check_dim,
    _flatten,
    _permute,
    _promote_all,
    _reshape,
    _squeeze,
    _transpose_keywords,
    _unsqueeze,
    _View,
)
from retroprop.tensor import Function, ShapeError, Size, Tensor

__all__ = [
    "broadcast_tensors", "broadcast_to", "cat", "chunk", "concat", "concatenate", "expand", "flatten",
    "flip", "fliplr", "flipud", "moveaxis", "movedim", "narrow", "permute", "repeat", "reshape", "roll",
    "split", "squeeze", "swapaxes", "swapdims", "t", "tensor_split", "tile", "transpose", "unbind",
    "unsqueeze",
]


# ---------------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------------
def _input(x: Any, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be a Tensor, not {type(x).__name__}")
    return x


def _int(value: Any, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an int, got {type(value).__name__} ({value!r})")
    return int(value)


def _sizes(args: tuple[Any, ...], name: str) -> tuple[int, ...]:
    """Sizes given as ints (``x.repeat(2, 3)``) or as one tuple, list or Size (``x.repeat((2, 3))``)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(_int(n, f"{name}(): each size") for n in args)


def _dims(dims: Any, ndim: int, name: str) -> tuple[int, ...]:
    """One dim or a sequence of them, each checked and made non-negative; no dim twice."""
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    out = tuple(_check_dim(d, ndim, name) for d in dims)
    for d in out:
        if out.count(d) > 1:
            raise RuntimeError(f"{name}: dim {d} appears multiple times in the list of dims {list(dims)}")
    return out


# ---------------------------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------------------------
class Expand(_View):
    """``broadcast_to``: a read-only view of the input; the engine sums the gradient back."""

    saves = ()

    def forward(self, a: Any, shape: tuple[int, ...]) -> Any:
        return array_module(a).broadcast_to(a, shape)

    def backward(self, grad: Any) -> Any:
        return grad  # the engine sums it over the added and stretched dims (sum_to_shape)


class _CatSkippingEmpty(Concatenate):
    """``Concatenate`` leaving out the 1-D empty inputs (``keep`` False), which get empty gradients."""

    def forward(self, *arrays: Any, axis: int, keep: tuple[bool, ...]) -> Any:
        self.keep = keep
        return super().forward(*[a for a, k in zip(arrays, keep, strict=True) if k], axis=axis)

    def backward(self, grad: Any) -> tuple[Any, ...]:
        pieces = iter(super().backward(grad))
        xp = array_module(grad)
        return tuple(next(pieces) if k else xp.zeros((0,), grad.dtype) for k in self.keep)


class Tile(Function):
    """``np.tile(a, reps)`` with ``len(reps) >= a.ndim``; the gradient sums the copies."""

    saves = ()

    def forward(self, a: Any, reps: tuple[int, ...]) -> Any:
        self.in_shape = a.shape
        self.shape = (1,) * (len(reps) - a.ndim) + a.shape
        self.reps = reps
        return array_module(a).tile(a, reps)

    def backward(self, grad: Any) -> Any:
        # out dim i has size reps[i] * shape[i], copy-major: split it in two and sum the copies
        split = tuple(n for pair in zip(self.reps, self.shape, strict=True) for n in pair)
        summed = grad.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return summed.reshape(self.in_shape)


class Flip(Function):
    """Reverse the order along ``dims`` (a copy, as torch's)."""

    saves = ()

    def forward(self, a: Any, dims: tuple[int, ...]) -> Any:
        self.dims = dims
        return array_module(a).flip(a, dims).copy() if dims else a.copy()

    def backward(self, grad: Any) -> Any:
        return array_module(grad).flip(grad, self.dims) if self.dims else grad


class Roll(Function):
    """Shift elements along ``dims`` (over the flattened tensor when None), wrapping around."""

    saves = ()

    def forward(self, a: Any, shifts: tuple[int, ...], dims: tuple[int, ...] | None) -> Any:
        self.shifts, self.dims = shifts, dims
        xp = array_module(a)
        if dims is None:
            return xp.roll(a, shifts[0])
        return xp.roll(a, shifts, dims) if a.ndim else a.copy()

    def backward(self, grad: Any) -> Any:
        xp = array_module(grad)
        back = tuple(-s for s in self.shifts)
        if self.dims is None:
            return xp.roll(grad, back[0])
        return xp.roll(grad, back, self.dims) if grad.ndim else grad


# ---------------------------------------------------------------------------------------------
# Repeating and broadcasting
# ---------------------------------------------------------------------------------------------
def repeat(input: Tensor, *sizes: Any) -> Tensor:
    """Repeat the tensor ``sizes[i]`` times along dim ``i`` (NumPy's ``tile``); extra leading sizes
    add dims."""
    input = _input(input, "repeat")
    reps = _sizes(sizes, "repeat")
    if len(reps) < input.ndim:
        raise ShapeError(f"repeat: Number of dimensions of repeat dims ({len(reps)}) can not be smaller "
                           f"than number of dimensions of tensor ({input.ndim}, shape {input.shape})")
    if any(r < 0 for r in reps):
        raise RuntimeError(f"repeat: repeat sizes must be non-negative, got {list(reps)}")
    return Tile.apply(input, reps=reps)


def tile(input: Tensor, dims: Any) -> Tensor:
    """``repeat``, but with fewer ``dims`` than the tensor's padded with 1s in front (NumPy's tile)."""
    input = _input(input, "tile")
    reps = _sizes((dims,), "tile")
    return repeat(input, (1,) * (input.ndim - len(reps)) + reps)


def _expanded_shape(shape: tuple[int, ...], sizes: tuple[int, ...], name: str) -> tuple[int, ...]:
    if len(sizes) < len(shape):
        raise RuntimeError(f"{name}: the number of sizes provided ({len(sizes)}) must be greater or equal "
                           f"to the number of dimensions in the tensor ({len(shape)}, shape {shape})")
    lead = len(sizes) - len(shape)
    out = []
    for i, n in enumerate(sizes):
        if i < lead:
            if n < 0:
                raise RuntimeError(f"{name}: The expanded size of the tensor ({n}) isn't allowed in a "
                                   f"leading, non-existing dimension {i}")
            out.append(n)
            continue
        have = shape[i - lead]
        if n == -1:
            n = have
        elif have != 1 and n != have:
            raise ShapeError(
                f"{name}: The expanded size of the tensor ({n}) must match the existing size ({have}) at "
                f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: {list(shape)}. "
                "Only dims of size 1 can be expanded (repeat() copies any dim)")
        elif n < 0:
            raise RuntimeError(f"{name}: invalid size {n} at dimension {i}; sizes must be -1 or >= 0")
        out.append(n)
    return tuple(out)


def expand(input: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to ``sizes`` (``-1`` keeps a dim's size; new dims go in front), without copying.
    The gradient is summed over the expanded dims."""
    input = _input(input, "expand")
    shape = _expanded_shape(input.shape, _sizes(sizes, "expand"), "expand")
    return Expand.apply(input, shape=shape)


def broadcast_to(input: Tensor, size: Any) -> Tensor:
    """``input.expand(size)``."""
    return expand(input, *_sizes((size,), "broadcast_to"))


def _expand_as(self: Tensor, other: Tensor) -> Tensor:
    return expand(self, *_input(other, "expand_as").shape)


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors expanded to their common broadcast shape."""
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    tensors = tuple(_input(t, "broadcast_tensors") for t in tensors)
    try:
        shape = np.broadcast_shapes(*(t.shape for t in tensors))
    except ValueError:
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise ShapeError(f"broadcast_tensors: shapes {shapes} cannot be broadcast together; aligned from "
                         "the last dim, each pair of sizes must be equal or one of them 1") from None
    return tuple(expand(t, *shape) for t in tensors)


# ---------------------------------------------------------------------------------------------
# Splitting
# ---------------------------------------------------------------------------------------------
def _pieces(input: Tensor, dim: int, bounds: Sequence[tuple[int, int]]) -> tuple[Tensor, ...]:
    lead = (slice(None),) * dim
    return tuple(GetItem.apply(input, index=(*lead, slice(start, stop))) for start, stop in bounds)


def _at_least_1d(input: Tensor, name: str) -> None:
    if input.ndim == 0:
        raise RuntimeError(f"{name} expects at least a 1-dimensional tensor")


def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``split_size_or_sections`` along ``dim`` (the last may be smaller), or, given a
    list of sizes, pieces of those sizes (they must add up to the dim's size)."""
    tensor = _input(tensor, "split")
    _at_least_1d(tensor, "split")
    dim = _check_dim(dim, tensor.ndim, "split")
    n = tensor.shape[dim]
    if isinstance(split_size_or_sections, (tuple, list)):
        sizes = [_int(s, "split(): each section size") for s in split_size_or_sections]
        if any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, but "
                               f"got split_sizes={sizes}")
        if sum(sizes) != n:
            raise ShapeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's "
                             f"size at dimension {dim}), but got split_sizes={sizes}")
        stops = np.cumsum([0, *sizes]).tolist()
        return _pieces(tensor, dim, list(itertools.pairwise(stops)))
    size = _int(split_size_or_sections, "split(): split_size")
    if size < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
    if size == 0:
        if n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size "
                               f"of {n}")
        return _pieces(tensor, dim, [(0, 0)])
    return _pieces(tensor, dim, [(start, min(start + size, n)) for start in range(0, max(n, 1), size)])


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``ceil(n / chunks)`` along ``dim`` (as torch's: possibly fewer than ``chunks``)."""
    input = _input(input, "chunk")
    _at_least_1d(input, "chunk")
    chunks = _int(chunks, "chunk(): chunks")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    dim = _check_dim(dim, input.ndim, "chunk")
    n = input.shape[dim]
    if n == 0:
        return _pieces(input, dim, [(0, 0)] * chunks)
    return split(input, -(-n // chunks), dim)


def tensor_split(input: Tensor, indices_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """``sections`` nearly equal pieces (the first ``n % sections`` one longer), or pieces cut
    before each of ``indices`` (NumPy's ``array_split``)."""
    input = _input(input, "tensor_split")
    _at_least_1d(input, "tensor_split")
    dim = _check_dim(dim, input.ndim, "tensor_split")
    n = input.shape[dim]
    if isinstance(indices_or_sections, (tuple, list)):
        cuts = [_int(i, "tensor_split(): each index") for i in indices_or_sections]
        # each index clamped into [0, n] after wrapping a negative one, as Python slicing does
        stops = [min(max(c + n if c < 0 else c, 0), n) for c in cuts]
        starts = [0, *stops]
        return _pieces(input, dim, [(s, max(s, e)) for s, e in zip(starts, [*stops, n], strict=True)])
    sections = _int(indices_or_sections, "tensor_split(): sections")
    if sections <= 0:
        raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
    base, extra = divmod(n, sections)
    sizes = [base + 1] * extra + [base] * (sections - extra)
    stops = np.cumsum([0, *sizes]).tolist()
    return _pieces(input, dim, list(itertools.pairwise(stops)))


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along ``dim``, each without that dim."""
    input = _input(input, "unbind")
    if input.ndim == 0:
        raise IndexError("unbind: Dimension specified as 0 but tensor has no dimensions")
    dim = _check_dim(dim, input.ndim, "unbind")
    lead = (slice(None),) * dim
    return tuple(GetItem.apply(input, index=(*lead, i)) for i in range(input.shape[dim]))


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``length`` elements along ``dim`` from ``start`` (a view)."""
    input = _input(input, "narrow")
    _at_least_1d(input, "narrow")
    dim = _check_dim(dim, input.ndim, "narrow")
    start = _int(start.item() if isinstance(start, Tensor) else start, "narrow(): start")
    length = _int(length, "narrow(): length")
    n = input.shape[dim]
    if not -n <= start <= n:
        raise IndexError(f"narrow: start out of range (expected to be in range of [{-n}, {n}], but got "
                         f"{start})")
    if start < 0:
        start += n
    if length < 0:
        raise RuntimeError(f"narrow: length must be non-negative, got {length}")
    if start + length > n:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return _pieces(input, dim, [(start, start + length)])[0]


# ---------------------------------------------------------------------------------------------
# Joining
# ---------------------------------------------------------------------------------------------
def cat(tensors: Sequence[Tensor], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing dim; dtypes are promoted as torch's (int64 with float32 gives
    float32), and 1-D empty tensors are skipped (torch's legacy rule)."""
    if isinstance(tensors, Tensor):
        raise TypeError("cat(): argument 'tensors' must be a tuple or list of Tensors, not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"cat(): expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
        if t.ndim == 0:
            raise RuntimeError(f"cat(): zero-dimensional tensor (at position {i}) cannot be concatenated")
    if axis is not None:
        dim = axis
    tensors = _promote_all(tensors)
    # torch's legacy rule: 1-D empty tensors join anything (they are left out)
    keep = tuple(t.shape != (0,) for t in tensors)
    if not any(keep):
        keep = (True,) * len(tensors)
    first = tensors[keep.index(True)]
    dim = _check_dim(dim, first.ndim, "cat")
    for i, t in enumerate(tensors):
        if not keep[i]:
            continue
        if t.ndim != first.ndim:
            raise ShapeError(f"cat(): Tensors must have same number of dimensions: got {first.ndim} and "
                             f"{t.ndim} (shapes {first.shape} and {t.shape})")
        for d, (want, got) in enumerate(zip(first.shape, t.shape, strict=True)):
            if d != dim and want != got:
                raise ShapeError(f"cat(): Sizes of tensors must match except in dimension {dim}. Expected "
                                 f"size {want} but got size {got} for tensor number {i} in the list "
                                 f"(shapes {first.shape} and {t.shape})")
    if all(keep):
        return Concatenate.apply(*tensors, axis=dim)
    return _CatSkippingEmpty.apply(*tensors, axis=dim, keep=keep)


concat = concatenate = cat  # torch's aliases


# ---------------------------------------------------------------------------------------------
# Reordering
# ---------------------------------------------------------------------------------------------
def flip(input: Tensor, *dims: Any) -> Tensor:
    """Reverse the order of elements along ``dims`` (a copy)."""
    input = _input(input, "flip")
    if len(dims) == 1:
        dims = dims[0]
    checked = _dims(dims, input.ndim, "flip")
    return Flip.apply(input, dims=checked if input.ndim else ())


def fliplr(input: Tensor) -> Tensor:
    """Flip the columns (dim 1); at least 2 dims."""
    if _input(input, "fliplr").ndim < 2:
        raise RuntimeError("fliplr: input must be >= 2-d")
    return flip(input, 1)


def flipud(input: Tensor) -> Tensor:
    """Flip the rows (dim 0); at least 1 dim."""
    if _input(input, "flipud").ndim < 1:
        raise RuntimeError("flipud: input must be >= 1-d")
    return flip(input, 0)


def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Shift elements by ``shifts`` along ``dims``, wrapping around; without ``dims`` over the
    flattened tensor (its shape is kept)."""
    input = _input(input, "roll")
    shift_list = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    shift_list = tuple(_int(s, "roll(): each shift") for s in shift_list)
    if dims is None:
        if len(shift_list) != 1:
            raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shift_list)}, dims: 0 "
                               "(without dims, give one shift)")
        return Roll.apply(input, shifts=shift_list, dims=None)
    dim_list = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(dim_list) != len(shift_list):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shift_list)}, dims:"
                           f"{len(dim_list)}")
    dim_list = tuple(_check_dim(d, input.ndim, "roll") for d in dim_list)
    return Roll.apply(input, shifts=shift_list, dims=dim_list)


def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:
    """Move the dims ``source`` to the positions ``destination``; the others keep their order."""
    input = _input(input, "movedim")
    ndim = input.ndim
    src = source if isinstance(source, (tuple, list)) else (source,)
    dst = destination if isinstance(destination, (tuple, list)) else (destination,)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
                           f"contain the same number of dims as destination ({list(dst)} dims)")
    src = tuple(_check_dim(d, ndim, "movedim") for d in src)
    dst = tuple(_check_dim(d, ndim, "movedim") for d in dst)
    for name, dims in (("source", src), ("destination", dst)):
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(dims)})")
    if not ndim:
        return Reshape.apply(input, shape=())
    order = [d for d in range(ndim) if d not in src]
    for to, frm in sorted(zip(dst, src, strict=True)):
        order.insert(to, frm)
    return Transpose.apply(input, axes=tuple(order))


moveaxis = movedim


def t(input: Tensor) -> Tensor:
    """The transpose of a matrix; 0-d and 1-D tensors are returned as they are (as views)."""
    input = _input(input, "t")
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D (shape "
                           f"{input.shape}); use transpose(dim0, dim1) or mT")
    return Transpose.apply(input, axes=None)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap dims ``dim0`` and ``dim1``."""
    return _transpose_keywords(_input(input, "transpose"), dim0, dim1)


swapaxes = swapdims = transpose


def permute(input: Tensor, dims: Sequence[int]) -> Tensor:
    """Reorder the dims as ``dims``."""
    return _permute(_input(input, "permute"), dims)


def reshape(input: Tensor, shape: Sequence[int]) -> Tensor:
    """The same elements in ``shape`` (one entry may be -1)."""
    return _reshape(_input(input, "reshape"), shape)


def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    """Drop the dims of size 1 (only those in ``dim``, when given)."""
    return _squeeze(_input(input, "squeeze"), dim)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a dim of size 1 at ``dim``."""
    return _unsqueeze(_input(input, "unsqueeze"), dim)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim`` to ``end_dim`` into one."""
    return _flatten(_input(input, "flatten"), start_dim, end_dim)


# ---------------------------------------------------------------------------------------------
# Tensor-only methods
# ---------------------------------------------------------------------------------------------
def _view_as(self: Tensor, other: Tensor) -> Tensor:
    return Reshape.apply(self, shape=_input(other, "view_as").shape)


def _type_as(self: Tensor, other: Tensor) -> Tensor:
    dtype = _input(other, "type_as").dtype
    return self if self.dtype == dtype else Cast.apply(self, dtype=dtype)


# torch's legacy type names (x.type() returns "torch.FloatTensor"; x.type("torch.LongTensor") casts)
_TYPE_NAMES = {np.dtype(np.float32): "FloatTensor", np.dtype(np.float64): "DoubleTensor",
               np.dtype(np.float16): "HalfTensor", np.dtype(np.int64): "LongTensor",
               np.dtype(np.int32): "IntTensor", np.dtype(np.int16): "ShortTensor",
               np.dtype(np.int8): "CharTensor", np.dtype(np.uint8): "ByteTensor",
               np.dtype(np.bool_): "BoolTensor"}


def _type(self: Tensor, dtype: Any = None, non_blocking: bool = False, **_: Any) -> Any:
    """torch's ``type``: without a dtype, the type's name (``'torch.FloatTensor'``); with one (a dtype
    or a type name), the tensor cast to it (itself when it has that dtype already)."""
    if dtype is None:
        return f"torch.{_TYPE_NAMES.get(self.dtype, str(self.dtype))}"
    if isinstance(dtype, str) and dtype.removeprefix("torch.") in _TYPE_NAMES.values():
        name = dtype.removeprefix("torch.")
        dtype = next(key for key, value in _TYPE_NAMES.items() if value == name)
    target = np.dtype(dtype)
    return self if self.dtype == target else Cast.apply(self, dtype=target)


def _index(self: Tensor) -> int:
    """``operator.index``: a 0-d integer tensor as a Python int (``items[t]``). torch also converts a
    one-element tensor of shape (1,); here that is refused, because NumPy would then index an array
    with it as with a scalar (``x[t]`` losing an axis) where retroprop's own indexing keeps the axis."""
    if self.dtype.kind not in "iub" or self.ndim != 0:
        raise TypeError(f"only 0-d integer tensors can be used as an index, got a {self.dtype} tensor of "
                        f"shape {tuple(self.shape)} (use .item() for a one-element tensor)")
    return int(self._data)


def _new(factory: Any, name: str) -> Any:
    def method(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
        return factory(size=Size(_sizes(size, name)), dtype=self.dtype if dtype is None else dtype,
                       device=device, requires_grad=requires_grad)

    method.__name__ = name
    method.__doc__ = f"``{factory.__name__}`` with this tensor's dtype (``dtype=`` overrides)."
    return method


def _new_full(self: Tensor, size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """``full`` with this tensor's dtype (``dtype=`` overrides)."""
    return factories.full(size, fill_value, dtype=self.dtype if dtype is None else dtype, device=device,
                          requires_grad=requires_grad)


def _new_tensor(self: Tensor, data: Any, *, dtype: Any = None, device: Any = None,
                requires_grad: bool = False) -> Tensor:
    """A copy of ``data`` with this tensor's dtype (``dtype=`` overrides)."""
    if isinstance(data, Tensor):
        data = data.detach().numpy()
    return factories.tensor(data, dtype=self.dtype if dtype is None else dtype, device=device,
                            requires_grad=requires_grad)


def _split_method(self: Tensor, split_size: Any, dim: int = 0) -> tuple[Tensor, ...]:
    return split(self, split_size, dim)


_METHODS = {
    "repeat": repeat, "tile": tile, "expand": expand, "expand_as": _expand_as, "broadcast_to": broadcast_to,
    "split": _split_method, "chunk": chunk, "tensor_split": tensor_split, "unbind": unbind, "narrow": narrow,
    "flip": flip, "fliplr": fliplr, "flipud": flipud, "roll": roll, "movedim": movedim, "moveaxis": movedim,
    "t": t, "swapaxes": transpose, "swapdims": transpose, "view_as": _view_as, "reshape_as": _view_as,
    "type_as": _type_as, "type": _type, "__index__": _index,
    "contiguous": lambda self, memory_format=None: self,
    "is_contiguous": lambda self, memory_format=None: True,
    "dim": lambda self: self.ndim, "ndimension": lambda self: self.ndim,
    "nelement": lambda self: self.numel(),
    "new_zeros": _new(factories.zeros, "new_zeros"), "new_ones": _new(factories.ones, "new_ones"),
    "new_empty": _new(factories.empty, "new_empty"), "new_full": _new_full, "new_tensor": _new_tensor,
}
for _name, _method in _METHODS.items():
    setattr(Tensor, _name, _method)
