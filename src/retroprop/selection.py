"""Selecting, sorting, scanning and testing values, with torch's names and meaning.

``gather``, ``scatter``, ``scatter_add``, ``index_select``, ``take_along_dim`` and ``masked_fill``;
``sort``, ``argsort`` and ``topk``; ``cumsum``, ``cumprod``, ``cummax`` and ``cummin``; ``any``,
``all``, ``isclose``, ``allclose`` and ``equal``; ``scatter_reduce``; ``logsumexp`` and
``logcumsumexp``; ``tril``, ``triu``, ``diag``, ``diagonal``; ``masked_select``, ``nonzero``,
``nonzero_static`` and ``one_hot``. Exported at the top level (``rp.gather``) and bound as Tensor
methods (``x.gather(dim, index)``).

As torch's: indices come back int64; ``sort``, ``topk``, ``cummax`` and ``cummin`` return
(values, indices) and their gradients flow through the values to the chosen elements. ``sort``
puts NaN last (first when descending) and is always stable; ``topk`` picks the first of tied
elements (torch's choice among ties is unspecified); ``cummax``/``cummin`` pick the last of equal
extremes, and once a NaN is met it stays the value (its index the latest NaN's). ``cumsum`` and
``cumprod`` of integers and bools give int64; ``cumprod``'s gradient is exact where the input holds
zeros. ``any``/``all`` give bool (uint8 for uint8 input). Indices out of range raise
``IndexOutOfRangeError`` (an IndexError and a RuntimeError) before any work is done.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from retroprop.backend import array_module, is_array
from retroprop.ops import Cast, Clone, MaxMin, Reshape, _Broadcasting, _check_dim, _View
from retroprop.tensor import Function, ShapeError, Tensor, is_grad_enabled

__all__ = [
    "all", "allclose", "any", "argsort", "cummax", "cummin", "cumprod", "cumsum", "diag", "diagonal", "equal",
    "gather", "index_select", "isclose", "logcumsumexp", "logsumexp", "masked_fill", "masked_select",
    "nonzero", "nonzero_static", "one_hot", "scatter", "scatter_add", "scatter_reduce", "sort",
    "take_along_dim", "topk", "tril", "triu",
]


class IndexOutOfRangeError(IndexError, RuntimeError):
    """An index outside its dimension: an ``IndexError``, and a ``RuntimeError`` as torch raises."""


class IndexDtypeError(TypeError, RuntimeError):
    """An index tensor of a dtype other than int64 (or int32): a ``RuntimeError`` as torch's."""


# ---------------------------------------------------------------------------------------------
# Return types
# ---------------------------------------------------------------------------------------------
class _ValuesIndices(MaxMin):
    """(values, indices), as torch's ``torch.return_types``; ``op`` names the op that made it."""

    __slots__ = ()
    op = ""

    def __repr__(self) -> str:
        return f"{self.op}(values={self[0]!r}, indices={self[1]!r})"


class SortResult(_ValuesIndices):
    """What ``sort`` returns: (values, indices)."""

    __slots__ = ()
    op = "sort"


class TopkResult(_ValuesIndices):
    """What ``topk`` returns: (values, indices)."""

    __slots__ = ()
    op = "topk"


class CummaxResult(_ValuesIndices):
    """What ``cummax`` returns: (values, indices)."""

    __slots__ = ()
    op = "cummax"


class CumminResult(_ValuesIndices):
    """What ``cummin`` returns: (values, indices)."""

    __slots__ = ()
    op = "cummin"


# ---------------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------------
def _array(x: Any, op: str, name: str = "input") -> Any:
    if isinstance(x, Tensor):
        return x._data
    if is_array(x):
        return x
    raise TypeError(f"{op}(): argument '{name}' must be a Tensor, not {type(x).__name__}")


def _index_array(index: Any, op: str, kinds: tuple[type, ...] = (np.int64, np.int32),
                 name: str = "index") -> Any:
    """The index's array, refused unless it is of one of ``kinds``."""
    array = _array(index, op, name)
    if array.dtype.type not in kinds:
        wanted = "/".join(np.dtype(k).name for k in kinds)
        raise IndexDtypeError(f"{op}(): expected dtype {wanted} for {name}, got {array.dtype}")
    return array


def _check_range(index: Any, size: int, op: str, dim: int, negative: bool = False) -> None:
    """Raise when an index lies outside ``[0, size)`` (``[-size, size)`` with ``negative``)."""
    if not index.size:
        return
    low = -size if negative else 0
    smallest, largest = index.min(), index.max()
    if smallest < low or largest >= size:
        bad = smallest if smallest < low else largest
        raise IndexOutOfRangeError(f"{op}(): index {int(bad)} is out of bounds for dimension {dim} "
                                   f"with size {size}")


def _same_ndim(index: Any, input: Any, op: str, other: str = "input") -> None:
    """torch counts a 0-d tensor as 1-d here: index and input must agree on that count."""
    if max(index.ndim, 1) != max(input.ndim, 1):
        raise ShapeError(f"{op}(): index must have the same number of dimensions as {other} "
                         f"(index has shape {index.shape}, {other} {input.shape})")


def _check_sizes(index: Any, input: Any, dim: int, op: str, src: Any = None) -> None:
    """index.size(d) <= input.size(d) for d != dim (and <= src.size(d) for every d), as torch's
    (which checks nothing for an empty index)."""
    if not index.size:
        return
    shape, ishape = index.shape or (1,), input.shape or (1,)
    if builtins.any(n > m for d, (n, m) in enumerate(zip(shape, ishape, strict=True)) if d != dim):
        raise ShapeError(f"{op}(): index of shape {index.shape} must be no larger than input "
                         f"{input.shape} apart from dimension {dim}")
    if src is not None:
        sshape = src.shape or (1,)
        if builtins.any(n > m for n, m in zip(shape, sshape, strict=True)):
            raise ShapeError(f"{op}(): index of shape {index.shape} must be no larger than src "
                             f"{src.shape} in any dimension")


def _scalar_for(value: Any, dtype: np.dtype, op: str) -> Any:
    """A Python number converted to ``dtype`` as torch does (RuntimeError where it overflows)."""
    if isinstance(value, Tensor) or is_array(value):
        if np.ndim(value) != 0:
            raise RuntimeError(f"{op}(): only supports a 0-dimensional value tensor, but got one "
                               f"of shape {np.shape(value)}")
        value = (value._data if isinstance(value, Tensor) else value).item()
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, (bool, int, float)):
        raise TypeError(f"{op}(): value must be a number or a 0-d tensor, not {type(value).__name__}")
    if dtype.kind == "b":
        return np.bool_(value)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if isinstance(value, float) and not np.isfinite(value):
            raise RuntimeError(f"{op}(): value {value} cannot be converted to {dtype} without overflow")
        number = int(value)
        if not -(2 ** (info.bits - 1)) <= number <= info.max:  # uint8 takes -1 (255), as torch's
            raise RuntimeError(f"{op}(): value {value} cannot be converted to {dtype} without overflow")
        return np.array(number).astype(dtype)[()]
    if np.isfinite(value) and builtins.abs(float(value)) > np.finfo(dtype).max:
        raise RuntimeError(f"{op}(): value {value} cannot be converted to {dtype} without overflow")
    return dtype.type(value)


def _int(value: Any, op: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}(): argument '{name}' must be int, not {type(value).__name__}")
    return int(value)


def _open_index(index: Any, dim: int, shape: tuple[int, ...] | None = None) -> tuple[Any, ...]:
    """The index tuple that, in NumPy, addresses ``target[..., index[i, j, k], ...]`` at ``dim``;
    with ``shape`` (the output's) a 1-D ``index`` serves every position along ``dim``."""
    xp = array_module(index)
    spread = shape is not None
    shape = index.shape if shape is None else shape
    parts: list[Any] = []
    for d, n in enumerate(shape):
        axis_shape = [1] * len(shape)
        axis_shape[d] = n
        if d != dim:
            parts.append(xp.arange(n).reshape(axis_shape))
        else:
            parts.append(index.reshape(axis_shape) if spread else index)
    return tuple(parts)


def _add_at(target: Any, coords: tuple[Any, ...], values: Any) -> None:
    """``target[coords] += values`` with repeated coordinates adding up (``np.add.at``; for float
    arrays a ``bincount`` over the flat positions, several times faster, which also turns -0.0
    into 0.0: for gradients, which start from zeros)."""
    xp = array_module(target)
    if target.dtype.kind != "f" or target.dtype.itemsize > 8 or not target.flags.c_contiguous:
        xp.add.at(target, coords, values)
        return
    flat = xp.ravel_multi_index(coords, target.shape)
    values = xp.broadcast_to(values, flat.shape)
    sums = xp.bincount(flat.reshape(-1), weights=values.reshape(-1), minlength=target.size)
    target += sums.reshape(target.shape).astype(target.dtype, copy=False)


def _leading(shape: tuple[int, ...], dim: int) -> tuple[slice, ...]:
    """Slices taking the first ``shape[d]`` entries of every dimension but ``dim``."""
    return tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(shape))


# ---------------------------------------------------------------------------------------------
# Gathering and scattering
# ---------------------------------------------------------------------------------------------
class Gather(Function):
    """``out[i][j][k] = a[i][index[i][j][k]][k]`` (for ``dim == 1``); the index may be smaller
    than ``a`` in the other dimensions. The gradient is scattered back, repeated indices adding
    up (``unique=True`` says there are none: a permutation, as ``sort``'s). ``broadcast`` names
    the shape ``a`` is broadcast to first (``take_along_dim``)."""

    saves = (1,)

    def forward(self, a: Any, index: Any, dim: int, unique: bool = False,
                broadcast: tuple[int, ...] | None = None) -> Any:
        xp = array_module(a)
        self.shape, self.dim, self.unique = a.shape if broadcast is None else broadcast, dim, unique
        self.index = index
        if broadcast is not None:
            a = xp.broadcast_to(a, broadcast)
        if not index.size:
            return xp.zeros(index.shape, dtype=a.dtype)
        source = a.reshape(1) if a.ndim == 0 else a
        flat = index.reshape(1) if index.ndim == 0 else index
        out = xp.take_along_axis(source[_leading(flat.shape, dim)], flat, dim)
        return out.reshape(index.shape)

    def backward(self, grad: Any) -> Any:
        xp = array_module(grad)
        full = xp.zeros(self.shape or (1,), dtype=grad.dtype)
        index = self.index.reshape(1) if self.index.ndim == 0 else self.index
        grad = grad.reshape(index.shape)
        if index.size and self.unique:
            xp.put_along_axis(full[_leading(index.shape, self.dim)], index, grad, self.dim)
        elif index.size:  # the index's coordinates are the same in full as in its leading block
            _add_at(full, _open_index(index, self.dim), grad)
        return full.reshape(self.shape), None


class Scatter(Function):
    """A copy of ``a`` with ``src[i][j][k]`` written at ``[i][index[i][j][k]][k]`` (``dim == 1``),
    or added there (``add=True``). ``src`` may be a number (``scatter``'s ``value``). Gradients:
    ``a``'s is the incoming one, zero where written (not where added); ``src``'s is gathered."""

    saves = (1,)

    def forward(self, a: Any, index: Any, src: Any, dim: int, add: bool) -> Any:
        xp = array_module(a)
        self.index, self.dim, self.add = index, dim, add
        self.src_shape = np.shape(src)
        out = a.copy()
        if not index.size:
            return out
        target = out.reshape(1) if out.ndim == 0 else out
        flat = index.reshape(1) if index.ndim == 0 else index
        if is_array(src):
            src = (src.reshape(1) if src.ndim == 0 else src)[tuple(slice(0, n) for n in flat.shape)]
        target = target[_leading(flat.shape, dim)]
        if add:
            xp.add.at(target, _open_index(flat, dim), src)
        else:
            xp.put_along_axis(target, flat, src, dim)
        return out

    def backward(self, grad: Any) -> tuple[Any, None, Any]:
        xp = array_module(grad)
        need_a, _, need_src = self.needs_input_grad
        flat = self.index.reshape(1) if self.index.ndim == 0 else self.index
        grad_a = grad_src = None
        if need_a:
            grad_a = grad
            if not self.add and flat.size:
                grad_a = grad.copy()
                target = grad_a.reshape(1) if grad_a.ndim == 0 else grad_a
                xp.put_along_axis(target[_leading(flat.shape, self.dim)], flat, 0, self.dim)
        if need_src:
            grad_src = xp.zeros(self.src_shape or (1,), dtype=grad.dtype)
            if flat.size:
                source = grad.reshape(1) if grad.ndim == 0 else grad
                picked = xp.take_along_axis(source[_leading(flat.shape, self.dim)], flat, self.dim)
                grad_src[tuple(slice(0, n) for n in flat.shape)] = picked
            grad_src = grad_src.reshape(self.src_shape)
        return grad_a, None, grad_src


class IndexSelect(Function):
    """The entries ``index`` names along ``dim``; repeated indices add up their gradients."""

    saves = (1,)

    def forward(self, a: Any, index: Any, dim: int) -> Any:
        xp = array_module(a)
        self.shape, self.index, self.dim = a.shape, index, dim
        if a.ndim == 0:
            return a.copy()
        return xp.take(a, index.reshape(-1), axis=dim)

    def backward(self, grad: Any) -> tuple[Any, None]:
        xp = array_module(grad)
        if not self.shape:
            return grad, None
        full = xp.zeros(self.shape, dtype=grad.dtype)
        _add_at(full, _open_index(self.index.reshape(-1), self.dim, grad.shape), grad)
        return full, None


class MaskedFill(_Broadcasting):
    """``value`` where ``mask`` holds, else ``a`` (broadcast together). The gradient reaches ``a``
    where the mask is False and a 0-d tensor ``value`` summed where it is True."""

    saves = (1,)
    symbol = "masked_fill"

    def forward(self, a: Any, mask: Any, value: Any, fill: Any) -> Any:
        self.mask = mask
        self.value_dtype = getattr(value, "dtype", None)
        return array_module(a).where(mask, fill, a)

    def backward(self, grad: Any) -> tuple[Any, None, Any]:
        xp = array_module(grad)
        need_a, _, need_value = self.needs_input_grad
        grad_a = xp.where(self.mask, 0, grad).astype(grad.dtype, copy=False) if need_a else None
        grad_value = None
        if need_value:
            grad_value = xp.asarray(xp.where(self.mask, grad, 0).sum(), dtype=self.value_dtype)
        return grad_a, None, grad_value


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """``out[i][j][k] = input[i][index[i][j][k]][k]`` for ``dim == 1``; the output has the
    index's shape, which may be smaller than the input's apart from ``dim``."""
    data = _array(input, "gather")
    dim = _check_dim(dim, data.ndim, "gather")
    array = _index_array(index, "gather")
    _same_ndim(array, data, "gather")
    _check_sizes(array, data, dim, "gather")
    _check_range(array, (data.shape or (1,))[dim], "gather", dim)
    return Gather.apply(input, index, dim=dim)


def _scatter(input: Tensor, dim: int, index: Tensor, src: Any, op: str, add: bool) -> Tensor:
    data = _array(input, op)
    dim = _check_dim(dim, data.ndim, op)
    array = _index_array(index, op)
    _same_ndim(array, data, op, "self")
    if isinstance(src, Tensor) or is_array(src):
        source = _array(src, op, "src")
        if source.dtype != data.dtype:
            raise RuntimeError(f"{op}(): expected src of the input's dtype {data.dtype}, got "
                               f"{source.dtype}")
        _same_ndim(array, source, op, "src")
    else:
        source = None
        src = _scalar_for(src, data.dtype, op)
    _check_sizes(array, data, dim, op, source)
    _check_range(array, (data.shape or (1,))[dim], op, dim)
    return Scatter.apply(input, index, src, dim=dim, add=add)


def scatter(input: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None) -> Tensor:
    """A copy of ``input`` with ``src`` (a tensor, or a number ``value``) written at the places
    ``index`` names along ``dim``: ``out[i][index[i][j][k]][k] = src[i][j][k]`` for ``dim == 1``.
    Where an index repeats, the last write wins. Not differentiable at the indices for ``input``."""
    if (src is None) == (value is None):
        raise TypeError("scatter(): pass either src (a tensor or a number) or value=, not both or neither")
    return _scatter(input, dim, index, value if src is None else src, "scatter", add=False)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``src`` added at the places ``index`` names along ``dim``
    (repeated indices add up)."""
    if not (isinstance(src, Tensor) or is_array(src)):
        raise TypeError(f"scatter_add(): argument 'src' must be a Tensor, not {type(src).__name__}")
    return _scatter(input, dim, index, src, "scatter_add", add=True)


_SCATTER_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def _scatter_reduced(a: Any, index: Any, src: Any, dim: int, reduce: str,
                     include_self: bool) -> tuple[Any, Any]:
    """``a`` with ``src`` reduced into the places ``index`` names along ``dim`` (arrays, 1-D or more),
    and for 'mean' the count each place divides by (else None)."""
    xp = array_module(a)
    out = a.copy()
    if not index.size:
        return out, (xp.ones(a.shape, dtype=a.dtype) if reduce == "mean" else None)
    target = out[_leading(index.shape, dim)]
    coords = _open_index(index, dim)
    src = src[tuple(slice(0, n) for n in index.shape)]
    if not include_self:
        if reduce in ("sum", "mean"):
            start: Any = 0
        elif reduce == "prod":
            start = 1
        elif a.dtype.kind == "f":
            start = -np.inf if reduce == "amax" else np.inf
        else:
            info = np.iinfo(a.dtype) if a.dtype.kind in "iu" else None
            start = (info.min if reduce == "amax" else info.max) if info else reduce == "amin"
        target[coords] = start
    ufunc = {"sum": xp.add, "mean": xp.add, "prod": xp.multiply, "amax": xp.maximum,
             "amin": xp.minimum}[reduce]
    with np.errstate(all="ignore"):
        ufunc.at(target, coords, src)
    count = None
    if reduce == "mean":
        count = xp.ones(a.shape, dtype=a.dtype)
        counted = count[_leading(index.shape, dim)]
        if not include_self:
            counted[coords] = 0
        xp.add.at(counted, coords, 1)
        count = xp.maximum(count, 1)  # as torch's: a place nothing reached (count 0) keeps its value
        with np.errstate(all="ignore"):
            out = out / count if a.dtype.kind == "f" else xp.floor_divide(out, count)
    return out.astype(a.dtype, copy=False), count


class ScatterReduce(Function):
    """``a`` with ``src`` reduced ('sum', 'prod', 'mean', 'amax', 'amin') into the places ``index``
    names along ``dim``, with or without ``a``'s own value there. Gradients as torch's: 'amax'/'amin'
    share the gradient among all the values equal to the result; 'prod' divides the result by each
    factor, computing the product of the others where a factor is zero."""

    saves = (0, 1, 2)

    def forward(self, a: Any, index: Any, src: Any, dim: int, reduce: str, include_self: bool) -> Any:
        self.a, self.index, self.src, self.options = a, index, src, (dim, reduce, include_self)
        self.out, self.count = _scatter_reduced(a, index, src, dim, reduce, include_self)
        return self.out

    def _gather(self, x: Any) -> Any:
        dim = self.options[0]
        return array_module(x).take_along_axis(x[_leading(self.index.shape, dim)], self.index, dim)

    def _scatter_add(self, x: Any) -> Any:
        xp = array_module(x)
        out = xp.zeros(self.a.shape, dtype=x.dtype)
        dim = self.options[0]
        xp.add.at(out[_leading(self.index.shape, dim)], _open_index(self.index, dim),
                  x[tuple(slice(0, n) for n in self.index.shape)])
        return out

    def backward(self, grad: Any) -> tuple[Any, None, Any]:
        xp = array_module(grad)
        dim, reduce, include_self = self.options
        a, src, out, index = self.a, self.src, self.out, self.index
        with np.errstate(all="ignore"):
            if reduce == "sum":
                grad_a, grad_src = grad, self._gather(grad)
            elif reduce == "mean":
                share = grad / self.count
                grad_a, grad_src = share, self._gather(share)
            elif reduce == "prod":
                # the product of the other factors: out / a, or (a zero factor) the product without it
                kept = xp.where(a == 0, 1, a)
                grad_a = grad * _scatter_reduced(kept, index, src, dim, reduce, include_self)[0] / kept
                src_zero = src == 0
                zeros_there = self._gather(self._scatter_add(src_zero.astype(grad.dtype)))
                single = src_zero[tuple(slice(0, n) for n in index.shape)] & (zeros_there == 1)
                without = _scatter_reduced(a, index, xp.where(src_zero, 1, src), dim, reduce, include_self)[0]
                cut = src[tuple(slice(0, n) for n in index.shape)]
                grad_src = xp.where(single, self._gather(grad * without),
                                    self._gather(grad * out) / xp.where(cut == 0, 1, cut))
            else:  # amax, amin: shared among the values equal to the result
                # as torch's: input values equal to the result count (without include_self too, though
                # their gradient is then zeroed where src was reduced in)
                self_is = (a == out).astype(grad.dtype)
                cut = src[tuple(slice(0, n) for n in index.shape)]
                src_is = (cut == self._gather(out)).astype(grad.dtype)
                share = grad / (self_is + self._scatter_add(src_is))
                grad_a, grad_src = self_is * share, src_is * self._gather(share)
            if not include_self:
                grad_a = grad_a.copy()
                xp.put_along_axis(grad_a[_leading(index.shape, dim)], index, 0, dim)
        full_src = xp.zeros(src.shape, dtype=grad.dtype)
        full_src[tuple(slice(0, n) for n in index.shape)] = grad_src
        return grad_a, None, full_src


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """A copy of ``input`` with ``src`` reduced into the places ``index`` names along ``dim``
    (``reduce``: 'sum', 'prod', 'mean', 'amax' or 'amin'), counting ``input``'s own value there
    unless ``include_self=False``; as torch's ``scatter_reduce`` (integer 'mean' rounds down)."""
    if reduce not in _SCATTER_REDUCTIONS:
        raise RuntimeError(f"scatter_reduce(): reduce argument must be either sum, prod, mean, amax or amin, "
                           f"got {reduce!r}")
    data = _array(input, "scatter_reduce")
    dim = _check_dim(dim, data.ndim, "scatter_reduce")
    array = _index_array(index, "scatter_reduce")
    if not (isinstance(src, Tensor) or is_array(src)):
        raise TypeError(f"scatter_reduce(): argument 'src' must be a Tensor, not {type(src).__name__}")
    source = _array(src, "scatter_reduce", "src")
    if source.dtype != data.dtype:
        raise RuntimeError(f"scatter_reduce(): Expected self.dtype to be equal to src.dtype ({data.dtype} "
                           f"and {source.dtype})")
    _same_ndim(array, data, "scatter_reduce", "self")
    _same_ndim(array, source, "scatter_reduce", "src")
    _check_sizes(array, data, dim, "scatter_reduce", source)
    _check_range(array, (data.shape or (1,))[dim], "scatter_reduce", dim)
    if data.ndim == 0:
        src = Reshape.apply(src, shape=(1,)) if isinstance(src, Tensor) else source.reshape(1)
        out = ScatterReduce.apply(Reshape.apply(input, shape=(1,)), array.reshape(1), src, dim=0,
                                  reduce=reduce, include_self=bool(include_self))
        return Reshape.apply(out, shape=())
    return ScatterReduce.apply(input, array, src, dim=dim, reduce=reduce, include_self=bool(include_self))


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries of ``input`` at the positions ``index`` (a 1-D int tensor) names along ``dim``."""
    data = _array(input, "index_select")
    dim = _check_dim(dim, data.ndim, "index_select")
    array = _index_array(index, "index_select")
    if array.ndim > 1:
        raise IndexOutOfRangeError(f"index_select(): index must be a vector (0-d or 1-D), got shape "
                                   f"{array.shape}")
    if data.ndim == 0 and array.size != 1:
        raise IndexOutOfRangeError(f"index_select(): index into a 0-d tensor must hold one value, "
                                   f"got {array.size}")
    _check_range(array, (data.shape or (1,))[dim], "index_select", dim)
    return IndexSelect.apply(input, index, dim=dim)


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """``gather`` with the index broadcast against the input (all but ``dim``), where negative
    indices count from the end; with no ``dim`` both are flattened (and indices must be >= 0)."""
    data = _array(input, "take_along_dim")
    array = _index_array(indices, "take_along_dim", (np.int64,), "indices")
    if dim is None:
        flat = array.reshape(-1).copy()  # backward keeps it: a later write to indices must not reach it
        _check_range(flat, data.size, "take_along_dim", 0)  # torch wraps negatives only with a dim
        return Gather.apply(Reshape.apply(input, shape=(-1,)), flat, dim=0)
    dim = _check_dim(dim, data.ndim, "take_along_dim")
    if array.ndim != data.ndim:
        raise ShapeError(f"take_along_dim(): input and indices must have the same number of "
                         f"dimensions (input has shape {data.shape}, indices {array.shape})")
    try:
        shape = list(np.broadcast_shapes(
            tuple(1 if d == dim else n for d, n in enumerate(data.shape)),
            tuple(1 if d == dim else n for d, n in enumerate(array.shape))))
    except ValueError:
        raise ShapeError(f"take_along_dim(): input of shape {data.shape} and indices of shape "
                         f"{array.shape} cannot be broadcast apart from dimension {dim}") from None
    size = (data.shape or (1,))[dim]
    _check_range(array, size, "take_along_dim", dim, negative=True)
    if not data.ndim:
        array = array.copy()
    else:
        shape[dim] = array.shape[dim]
        xp = array_module(array)
        array = xp.broadcast_to(xp.where(array < 0, array + size, array), shape)
        shape[dim] = size
    return Gather.apply(input, array, dim=dim, broadcast=tuple(shape))


def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    """``value`` (a number, or a 0-d tensor, which then gets a gradient) where the bool ``mask``
    holds, else ``input``; the mask broadcasts against the input."""
    data = _array(input, "masked_fill")
    mask_array = _array(mask, "masked_fill", "mask")
    if mask_array.dtype != np.bool_:
        raise RuntimeError(f"masked_fill(): only supports boolean masks, but got mask with dtype "
                           f"{mask_array.dtype}")
    fill = _scalar_for(value, data.dtype, "masked_fill")
    if not isinstance(value, Tensor):
        value = None
    return MaskedFill.apply(input, mask, value, fill=fill)


# ---------------------------------------------------------------------------------------------
# Sorting
# ---------------------------------------------------------------------------------------------
def _argsort(data: Any, dim: int, descending: bool) -> Any:
    """Stable sort order along ``dim``: NaN last (first when descending), ties in input order."""
    xp = array_module(data)
    if not descending:
        return xp.argsort(data, axis=dim, kind="stable")
    # sorting the reversed array ascending and reversing the order keeps ties in input order
    reversed_order = xp.argsort(xp.flip(data, dim), axis=dim, kind="stable")
    return xp.flip(data.shape[dim] - 1 - reversed_order, dim)


def _indices(order: Any) -> Tensor:
    return Tensor._make(order.astype(np.int64, copy=False))


def _sort_dim(input: Any, dim: int, op: str) -> tuple[Any, int]:
    data = _array(input, op)
    return data, _check_dim(dim, data.ndim, op)


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> SortResult:
    """(values, indices) sorted along ``dim``; NaN counts as the largest value. Always stable
    (``stable`` is accepted for torch's signature). Gradients flow through ``values``."""
    data, dim = _sort_dim(input, dim, "sort")
    if data.ndim == 0:
        return SortResult(Clone.apply(input), _indices(np.zeros((), np.int64)))
    indices = _indices(_argsort(data, dim, descending))
    # the indices tensor is what backward reads: an in-place write to it is caught, as in torch
    return SortResult(Gather.apply(input, indices, dim=dim, unique=True), indices)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The int64 indices that sort ``input`` along ``dim`` (``sort(...).indices``)."""
    data, dim = _sort_dim(input, dim, "argsort")
    if data.ndim == 0:
        return _indices(np.zeros((), np.int64))
    return _indices(_argsort(data, dim, descending))


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> TopkResult:
    """The ``k`` largest (smallest with ``largest=False``) values along ``dim`` and their indices,
    in order (also with ``sorted=False``). NaN counts as the largest; of tied values the first
    come first."""
    data, dim = _sort_dim(input, dim, "topk")
    k = _int(k, "topk", "k")
    if data.dtype == np.bool_:
        raise RuntimeError("topk(): not supported for bool tensors, as in torch; cast them first")
    size = data.shape[dim] if data.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"topk(): selected index k={k} out of range for dimension {dim} of size "
                           f"{size}")
    if data.ndim == 0:
        return TopkResult(Clone.apply(input), _indices(np.zeros((), np.int64)))
    first = tuple(slice(0, k) if d == dim else slice(None) for d in range(data.ndim))
    indices = _indices(_argsort(data, dim, largest)[first].copy())
    return TopkResult(Gather.apply(input, indices, dim=dim, unique=True), indices)


# ---------------------------------------------------------------------------------------------
# Scans
# ---------------------------------------------------------------------------------------------
def _reverse_cumsum(xp: Any, x: Any, axis: int) -> Any:
    return xp.flip(xp.cumsum(xp.flip(x, axis), axis=axis), axis)


class Cumsum(Function):
    """Running sums along ``axis``; integers and bools give int64 (as torch's)."""

    saves = ()

    def forward(self, a: Any, axis: int, keep_dtype: bool = False) -> Any:
        self.axis = axis
        dtype = a.dtype if keep_dtype or a.dtype.kind == "f" else np.dtype(np.int64)
        if a.ndim == 0:
            return a.astype(dtype)
        return array_module(a).cumsum(a, axis=axis, dtype=dtype)

    def backward(self, grad: Any) -> Any:
        if grad.ndim == 0:
            return grad
        return _reverse_cumsum(array_module(grad), grad, self.axis)


class Cumprod(Function):
    """Running products along ``axis``; integers and bools give int64. The gradient, as torch's,
    holds where the input has zeros (no division by them)."""

    saves = (0, -1)

    def forward(self, a: Any, axis: int, keep_dtype: bool = False) -> Any:
        self.axis = axis
        dtype = a.dtype if keep_dtype or a.dtype.kind == "f" else np.dtype(np.int64)
        self.a = a
        self.out = a.astype(dtype) if a.ndim == 0 else array_module(a).cumprod(a, axis=axis, dtype=dtype)
        return self.out

    def backward(self, grad: Any) -> Any:
        if grad.ndim == 0:
            return grad
        xp = array_module(grad)
        a, out, g = (xp.moveaxis(x, self.axis, -1) for x in (self.a, self.out, grad))
        # d out_k / d a_i = prod_{j <= k, j != i} a_j. Before the first zero of a slice that is
        # out_k / a_i; at the first zero z it is prod_{j < z} a_j * prod_{z < j <= k} a_j (the
        # running product with a_z taken as 1); after z every term holds a_z = 0.
        zero = a == 0
        reached = xp.logical_or.accumulate(zero, axis=-1)  # at or after the first zero
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            result = xp.where(reached, 0, _reverse_cumsum(xp, g * out, -1) / xp.where(reached, 1, a))
            result = result.astype(grad.dtype, copy=False)
            if reached.any():
                first = xp.argmax(zero, axis=-1)[..., None]
                ones = a.copy()
                xp.put_along_axis(ones, first, 1, -1)
                at_first = xp.where(reached, g * xp.cumprod(ones, axis=-1), 0).sum(axis=-1, keepdims=True)
                has_zero = reached[..., -1:]
                kept = xp.take_along_axis(result, first, -1)
                xp.put_along_axis(result, first, xp.where(has_zero, at_first, kept), -1)
        return xp.moveaxis(result, -1, self.axis)


def _scan_input(input: Tensor, dim: Any, axis: Any, dtype: Any, op: str) -> tuple[Any, int, bool]:
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}(): pass either dim= or axis=, not both")
        dim = axis
    if dim is None:
        raise TypeError(f"{op}(): missing the required argument 'dim'")
    data = _array(input, op)
    dim = _check_dim(dim, data.ndim, op)
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype != data.dtype:
            if dtype.kind == "f":
                input = Cast.apply(input, dtype=dtype)
            elif isinstance(input, Tensor) and input.requires_grad and is_grad_enabled():
                raise RuntimeError(f"{op}(): dtype={dtype} cannot carry gradients; detach the input "
                                   f"or pass a floating dtype")
            else:
                input = Tensor._make(data.astype(dtype))
    return input, dim, dtype is not None


def cumsum(input: Tensor, dim: int | None = None, *, dtype: Any = None, axis: int | None = None) -> Tensor:
    """Running sums along ``dim``; integers and bools give int64. ``dtype`` casts the input
    first."""
    input, dim, keep_dtype = _scan_input(input, dim, axis, dtype, "cumsum")
    return Cumsum.apply(input, axis=dim, keep_dtype=keep_dtype)


def cumprod(input: Tensor, dim: int | None = None, *, dtype: Any = None, axis: int | None = None) -> Tensor:
    """Running products along ``dim``; integers and bools give int64. ``dtype`` casts the input
    first."""
    input, dim, keep_dtype = _scan_input(input, dim, axis, dtype, "cumprod")
    return Cumprod.apply(input, axis=dim, keep_dtype=keep_dtype)


def _running_extreme(input: Tensor, dim: int, largest: bool, result: type[_ValuesIndices]) -> Any:
    op = result.op
    data = _array(input, op)
    dim = _check_dim(dim, data.ndim, op)
    if data.ndim == 0:
        return result(Clone.apply(input), _indices(np.zeros((), np.int64)))
    xp = array_module(data)
    with np.errstate(invalid="ignore"):
        running = (xp.maximum if largest else xp.minimum).accumulate(data, axis=dim)  # NaN stays
        # the latest position holding the running extreme (ties: the last), or a NaN (as torch's)
        hit = data == running
    if data.dtype.kind == "f":
        hit |= xp.isnan(data)
    shape = [1] * data.ndim
    shape[dim] = data.shape[dim]
    positions = xp.arange(data.shape[dim], dtype=np.int64).reshape(shape)
    indices = _indices(xp.maximum.accumulate(xp.where(hit, positions, 0), axis=dim))
    return result(Gather.apply(input, indices, dim=dim), indices)


def cummax(input: Tensor, dim: int) -> CummaxResult:
    """(values, indices) of the running maximum along ``dim``; of equal maxima the last index,
    as torch's. Gradients flow through ``values`` to the indexed elements."""
    return _running_extreme(input, dim, True, CummaxResult)


def cummin(input: Tensor, dim: int) -> CumminResult:
    """(values, indices) of the running minimum along ``dim``; of equal minima the last index."""
    return _running_extreme(input, dim, False, CumminResult)


# ---------------------------------------------------------------------------------------------
# Tests of values (no gradients)
# ---------------------------------------------------------------------------------------------
def _logical_reduction(input: Tensor, dim: Any, keepdim: bool, axis: Any, keepdims: Any,
                       op: str) -> Tensor:
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}(): pass either dim= or axis=, not both")
        dim = axis
    keepdim = bool(keepdim if keepdims is None else keepdims)
    data = _array(input, op)
    if dim is None:
        axes: Any = None
    else:
        given = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
        axes = tuple(_check_dim(d, data.ndim, op) for d in given)
        if len(set(axes)) != len(axes):
            raise RuntimeError(f"{op}(): dim {dim} names a dimension more than once")
        if data.ndim == 0:
            axes = ()
    reduce = array_module(data).any if op == "any" else array_module(data).all
    out = reduce(data, axis=axes, keepdims=keepdim)
    if data.dtype == np.uint8:
        out = out.astype(np.uint8)  # torch keeps uint8 here
    return Tensor._make(array_module(data).asarray(out))


def any(input: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
        keepdims: bool | None = None, out: None = None) -> Tensor:
    """Whether any element (along ``dim``, an int or a tuple) is nonzero; bool (uint8 for
    uint8). ``out`` is only there for ``np.any(tensor)``, which passes ``out=None``."""
    _no_out(out, "any")
    return _logical_reduction(input, dim, keepdim, axis, keepdims, "any")


def all(input: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
        keepdims: bool | None = None, out: None = None) -> Tensor:
    """Whether every element (along ``dim``, an int or a tuple) is nonzero; bool (uint8 for
    uint8). ``out`` is only there for ``np.all(tensor)``, which passes ``out=None``."""
    _no_out(out, "all")
    return _logical_reduction(input, dim, keepdim, axis, keepdims, "all")


def _no_out(out: Any, op: str) -> None:
    if out is not None:
        raise TypeError(f"{op}(): out= is not supported")


def _pair(input: Tensor, other: Tensor, op: str) -> tuple[Any, Any]:
    return _array(input, op), _array(other, op, "other")


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """``|input - other| <= atol + rtol * |other|`` elementwise (bool), with broadcasting; equal
    infinities are close, NaN only to NaN with ``equal_nan``. Both must have the same dtype."""
    a, b = _pair(input, other, "isclose")
    if a.dtype != b.dtype:
        raise RuntimeError(f"isclose(): input ({a.dtype}) and other ({b.dtype}) must have the same "
                           f"dtype")
    if rtol < 0 or atol < 0:
        name, bad = ("rtol", rtol) if rtol < 0 else ("atol", atol)
        raise RuntimeError(f"isclose(): {name} must be greater than or equal to zero, but got {bad}")
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ShapeError(f"isclose(): shapes {a.shape} and {b.shape} cannot be broadcast together") from None
    xp = array_module(a, b)
    close = a == b
    if equal_nan and a.dtype.kind == "f":
        close = close | (xp.isnan(a) & xp.isnan(b))
    if rtol or atol:
        # as torch's: integers and bools are compared (beyond equality) as float32 values
        if a.dtype.kind != "f":
            a, b = a.astype(np.float32), b.astype(np.float32)
        with np.errstate(invalid="ignore", over="ignore"):
            error = xp.abs(a - b)
            close = close | (xp.isfinite(error) & (error <= atol + xp.abs(rtol * b)))
    return Tensor._make(xp.asarray(close))


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """Whether ``isclose`` holds everywhere (a Python bool)."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input: Tensor, other: Tensor) -> bool:
    """Whether the two have the same shape and the same values (NaN equals nothing)."""
    a, b = _pair(input, other, "equal")
    return a.shape == b.shape and bool((a == b).all())


# ---------------------------------------------------------------------------------------------
# Log-space reductions and scans
# ---------------------------------------------------------------------------------------------
class LogSumExp(Function):
    """``log(sum(exp(x)))`` over ``axis``, shifted by the maximum so that it cannot overflow (an
    infinite maximum is not subtracted). Gradient ``grad * exp(x - out)``."""

    saves = (0, -1)

    def forward(self, a: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
        xp = array_module(a)
        if a.dtype.kind != "f":
            a = a.astype(np.float32)
        self.a, self.axis, self.keepdims = a, axis, keepdims
        with np.errstate(all="ignore"):
            if a.size == 0:
                shift = xp.zeros([1 if i in axis else n for i, n in enumerate(a.shape)], dtype=a.dtype)
            else:
                shift = xp.amax(a, axis=axis, keepdims=True)
                shift = xp.where(xp.isinf(shift), 0, shift).astype(a.dtype, copy=False)
            out = xp.log(xp.sum(xp.exp(a - shift), axis=axis, keepdims=True)) + shift
        self.out = out
        return out if keepdims else out.reshape([n for i, n in enumerate(a.shape) if i not in axis])

    def backward(self, grad: Any) -> Any:
        xp = array_module(grad)
        if not self.keepdims:
            grad = grad.reshape(self.out.shape)
        with np.errstate(all="ignore"):
            return grad * xp.exp(self.a - self.out)


def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(input), dim))``, computed without overflow; integers give float32."""
    data = _array(input, "logsumexp")
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if not dims:  # torch fails on an empty tuple too (it is not "every dim" here)
        raise RuntimeError("logsumexp(): dim is empty; pass the dimension(s) to reduce")
    axes = tuple(sorted({_check_dim(d, data.ndim, "logsumexp()") for d in dims}))
    if data.ndim == 0:
        axes = ()
    if len(axes) != len(dims) and data.ndim:
        raise RuntimeError(f"logsumexp(): dim {dims} names a dimension more than once")
    return LogSumExp.apply(input, axis=axes, keepdims=bool(keepdim))


def _log_cumsum_exp(xp: Any, x: Any, axis: int) -> Any:
    return xp.logaddexp.accumulate(x, axis=axis) if x.shape[axis] else x.copy()


class LogCumSumExp(Function):
    """Running ``log(sum(exp(x)))`` along ``axis`` (``logaddexp.accumulate``: no overflow). The
    gradient ``sum_{j>=i} grad_j exp(x_i - out_j)`` is computed in log space, the positive and
    negative parts of ``grad`` apart, so that neither ``exp`` overflows."""

    saves = (0, -1)

    def forward(self, a: Any, axis: int) -> Any:
        self.a, self.axis = a, axis
        with np.errstate(all="ignore"):
            self.out = _log_cumsum_exp(array_module(a), a, axis)
        return self.out

    def backward(self, grad: Any) -> Any:
        xp = array_module(grad)
        axis = self.axis

        def part(g: Any) -> Any:
            logs = xp.log(g) - self.out
            tail = xp.flip(_log_cumsum_exp(xp, xp.flip(logs, axis), axis), axis)
            return xp.exp(self.a + tail)

        with np.errstate(all="ignore"):
            return part(xp.maximum(grad, 0)) - part(xp.maximum(-grad, 0))


def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """Running ``log(sum(exp(input)))`` along ``dim``, computed without overflow (floats only)."""
    data = _array(input, "logcumsumexp")
    axis = _check_dim(dim, data.ndim, "logcumsumexp()")
    if data.dtype.kind != "f":
        raise NotImplementedError(f"\"logcumsumexp_out_cpu\" not implemented for {data.dtype} tensors, as "
                                  f"in torch; cast to a float dtype first (x.float())")
    if data.ndim == 0:
        return Clone.apply(input)
    return LogCumSumExp.apply(input, axis=axis)


# ---------------------------------------------------------------------------------------------
# Triangles, diagonals, masked selection, nonzero, one-hot
# ---------------------------------------------------------------------------------------------
def _triangle_mask(shape: tuple[int, ...], diagonal: int, upper: bool) -> Any:
    rows, cols = shape[-2], shape[-1]
    lower = np.tri(rows, cols, k=diagonal - 1 if upper else diagonal, dtype=bool)
    return ~lower if upper else lower


class Triangle(Function):
    """The lower (``tril``) or upper (``triu``) triangle of the last two axes, zeros elsewhere;
    the gradient is masked the same way."""

    saves = ()

    def forward(self, a: Any, diagonal: int, upper: bool) -> Any:
        xp = array_module(a)
        self.mask = xp.asarray(_triangle_mask(a.shape, diagonal, upper))
        return xp.where(self.mask, a, xp.zeros((), dtype=a.dtype))

    def backward(self, grad: Any) -> Any:
        return array_module(grad).where(self.mask, grad, grad.dtype.type(0))


def _triangle(input: Tensor, diagonal: Any, upper: bool, op: str) -> Tensor:
    data = _array(input, op)
    if data.ndim < 2:
        raise ShapeError(f"{op}: input tensor must have at least 2 dimensions, got shape {data.shape}")
    return Triangle.apply(input, diagonal=_int(diagonal, op, "diagonal"), upper=upper)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The elements on and below the ``diagonal``-th diagonal of the last two axes; zeros above."""
    return _triangle(input, diagonal, False, "tril")


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The elements on and above the ``diagonal``-th diagonal of the last two axes; zeros below."""
    return _triangle(input, diagonal, True, "triu")


def _diagonal_positions(shape: tuple[int, ...], offset: int, dim1: int, dim2: int) -> tuple[Any, Any]:
    length = builtins.max(0, builtins.min(shape[dim1] + builtins.min(offset, 0),
                                          shape[dim2] - builtins.max(offset, 0)))
    index = np.arange(length)
    return index + builtins.max(-offset, 0), index + builtins.max(offset, 0)


def _diagonal_view(a: Any, offset: int, dim1: int, dim2: int) -> Any:
    """``a``'s diagonal as a view that writes through (NumPy's own ``diagonal`` view is read-only)."""
    index = [slice(None)] * a.ndim
    if offset >= 0:
        index[dim2] = slice(offset, None)
    else:
        index[dim1] = slice(-offset, None)
    part = a[tuple(index)]
    kept = [axis for axis in range(a.ndim) if axis not in (dim1, dim2)]
    length = builtins.min(part.shape[dim1], part.shape[dim2])
    shape = (*(part.shape[axis] for axis in kept), length)
    strides = (*(part.strides[axis] for axis in kept), part.strides[dim1] + part.strides[dim2])
    return np.lib.stride_tricks.as_strided(part, shape, strides, writeable=part.flags.writeable)


class Diagonal(_View):
    """The diagonal of axes ``dim1``/``dim2`` (shifted by ``offset``) as the last axis, a view of the
    input as torch's (``copy=True``: a new array, as ``torch.diag``); the gradient is written back onto
    that diagonal."""

    def forward(self, a: Any, offset: int, dim1: int, dim2: int, copy: bool = False) -> Any:
        self.shape, self.options = a.shape, (offset, dim1, dim2)
        xp = array_module(a)
        if copy:
            return xp.diagonal(a, offset, dim1, dim2).copy()
        return _diagonal_view(a, offset, dim1, dim2) if xp is np else xp.diagonal(a, offset, dim1, dim2)

    def backward(self, grad: Any) -> Any:
        xp = array_module(grad)
        offset, dim1, dim2 = self.options
        out = xp.zeros(self.shape, dtype=grad.dtype)
        rows, cols = _diagonal_positions(self.shape, offset, dim1, dim2)
        xp.moveaxis(out, (dim1, dim2), (-2, -1))[..., rows, cols] = grad
        return out


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The ``offset``-th diagonal of the 2-D planes of axes ``dim1`` and ``dim2`` (above the main one
    for ``offset > 0``), as a new last axis."""
    data = _array(input, "diagonal")
    first, second = _check_dim(dim1, data.ndim, "diagonal()"), _check_dim(dim2, data.ndim, "diagonal()")
    if data.ndim < 2:
        raise ShapeError(f"diagonal(): input must have at least 2 dimensions, got shape {data.shape}")
    if first == second:
        raise ShapeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return Diagonal.apply(input, offset=_int(offset, "diagonal", "offset"), dim1=first, dim2=second)


class DiagEmbed(Function):
    """A vector laid on the ``offset``-th diagonal of a square matrix of zeros."""

    saves = ()

    def forward(self, a: Any, offset: int) -> Any:
        size = a.shape[0] + builtins.abs(offset)
        out = array_module(a).zeros((size, size), dtype=a.dtype)
        self.positions = _diagonal_positions(out.shape, offset, 0, 1)
        out[self.positions] = a
        return out

    def backward(self, grad: Any) -> Any:
        return grad[self.positions]


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-D input: the square matrix with it on the ``diagonal``-th diagonal; a 2-D input: that
    diagonal of it, as a 1-D tensor."""
    data = _array(input, "diag")
    offset = _int(diagonal, "diag", "diagonal")
    if data.ndim == 1:
        return DiagEmbed.apply(input, offset=offset)
    if data.ndim == 2:
        return Diagonal.apply(input, offset=offset, dim1=0, dim2=1, copy=True)
    raise ShapeError(f"diag(): Supports 1D or 2D tensors. Got {data.ndim}D (shape {data.shape})")


class MaskedSelect(Function):
    """The elements where the (broadcast) mask is True, in a 1-D tensor; the gradient is scattered
    back to them."""

    saves = ()

    def forward(self, a: Any, mask: Any) -> Any:
        xp = array_module(a)
        shape = np.broadcast_shapes(a.shape, mask.shape)
        self.shape, self.mask = shape, xp.broadcast_to(mask, shape)
        return xp.broadcast_to(a, shape)[self.mask]

    def backward(self, grad: Any) -> tuple[Any, None]:
        out = array_module(grad).zeros(self.shape, dtype=grad.dtype)
        out[self.mask] = grad
        return out, None


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements of ``input`` where ``mask`` (bool, broadcast with it) is True, as a 1-D tensor."""
    data = _array(input, "masked_select")
    where = _array(mask, "masked_select", "mask")
    if where.dtype != np.bool_:
        raise TypeError(f"masked_select: expected BoolTensor for mask, got dtype {where.dtype}")
    try:
        np.broadcast_shapes(data.shape, where.shape)
    except ValueError:
        raise ShapeError(f"masked_select: the mask of shape {where.shape} cannot be broadcast with the "
                         f"input's shape {data.shape}") from None
    return MaskedSelect.apply(input, mask.detach() if isinstance(mask, Tensor) else mask)


def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:
    """The indices of the nonzero elements: an int64 ``(count, ndim)`` tensor, one row per element in
    row-major order; with ``as_tuple``, one 1-D tensor per dimension (a 0-d input counts as 1-D)."""
    data = _array(input, "nonzero")
    xp = array_module(data)
    if as_tuple:
        found = xp.nonzero(data.reshape(-1) if data.ndim == 0 else data)
        return tuple(Tensor._make(i.astype(np.int64)) for i in found)
    if data.ndim == 0:
        return Tensor._make(xp.zeros((int(bool(data)), 0), dtype=np.int64))
    return Tensor._make(xp.argwhere(data).astype(np.int64))


def nonzero_static(input: Tensor, *, size: int, fill_value: int = -1) -> Tensor:
    """``nonzero`` with exactly ``size`` rows: the first ``size`` indices, or all of them followed by
    rows of ``fill_value`` (int64, ``(size, ndim)``)."""
    data = _array(input, "nonzero_static")
    rows = _int(size, "nonzero_static", "size")
    fill = _int(fill_value, "nonzero_static", "fill_value")
    if rows < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer, got {rows}")
    xp = array_module(data)
    found = xp.argwhere(data).astype(np.int64)[:rows]
    out = xp.full((rows, data.ndim), fill, dtype=np.int64)
    out[: len(found)] = found
    return Tensor._make(out)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot rows of class indices (int64): shape ``(*tensor.shape, num_classes)``;
    ``num_classes=-1`` takes the largest index plus one."""
    data = _array(tensor, "one_hot", "tensor")
    if data.dtype != np.int64:
        raise IndexDtypeError(f"one_hot is only applicable to index tensor of type LongTensor, got dtype "
                              f"{data.dtype} (cast with .long())")
    classes = _int(num_classes, "one_hot", "num_classes")
    if data.size and int(data.min()) < 0:
        raise IndexOutOfRangeError("one_hot: Class values must be non-negative.")
    if classes == -1:
        if not data.size:
            raise ShapeError("one_hot: Can not infer total number of classes from empty tensor.")
        classes = int(data.max()) + 1
    elif classes < 0:
        raise ValueError(f"one_hot: num_classes must be -1 or non-negative, got {classes}")
    elif data.size and int(data.max()) >= classes:
        raise IndexOutOfRangeError(f"one_hot: Class values must be smaller than num_classes ({classes}), got "
                                   f"{int(data.max())}")
    xp = array_module(data)
    return Tensor._make((data[..., None] == xp.arange(classes)).astype(np.int64))


# ---------------------------------------------------------------------------------------------
# Tensor methods
# ---------------------------------------------------------------------------------------------
_METHODS = {
    "gather": gather, "scatter": scatter, "scatter_add": scatter_add, "index_select": index_select,
    "take_along_dim": take_along_dim, "masked_fill": masked_fill, "sort": sort, "argsort": argsort,
    "topk": topk, "cumsum": cumsum, "cumprod": cumprod, "cummax": cummax, "cummin": cummin, "any": any,
    "all": all, "isclose": isclose, "allclose": allclose, "equal": equal, "logsumexp": logsumexp,
    "logcumsumexp": logcumsumexp, "tril": tril, "triu": triu, "diagonal": diagonal, "diag": diag,
    "masked_select": masked_select, "nonzero": nonzero, "nonzero_static": nonzero_static,
    "scatter_reduce": scatter_reduce,
}
for _name, _method in _METHODS.items():
    setattr(Tensor, _name, _method)
