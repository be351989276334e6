"""Tensor, Function and the reverse-mode engine (backpropagation).

A ``Function`` computes on raw arrays; ``Function.apply`` wraps its result in a ``Tensor`` and, when
a gradient is needed, records the function as the tensor's creator. ``Tensor.backward`` walks the
recorded graph in reverse topological order (iteratively, so deep graphs cannot overflow the
stack), un-broadcasts each gradient to its input's shape in one place, and accumulates gradients
into the leaves' ``.grad``.

Version counter (PyTorch's ``_version``). Users edit ``x.data`` in place as a NumPy array, which no
tensor method sees. So once a graph node has kept a tensor's array for backward (``Function.saves``
names what each op keeps; ops keep those very arrays, or views of them), ``x.data`` hands the array
out as a ``_TrackedArray`` view whenever anything besides the tensor references it -- as a node
that still keeps it does -- or it is a view of another array. NumPy writes through that view
(``x.data[...] = v``, ``x.data += 1``, ``np.add(..., out=x.data)``, ``np.copyto(x.data, ...)``,
``fill``/``sort``/``put``, views of it) bump the tensor's version and log a stamp from the node
counter; ``backward`` compares each node's creation stamp with the stamps of the arrays it keeps
and raises ``ModifiedInPlaceError`` ("... is at version 1; expected version 0 instead") -- unless
only gradients nobody needs read that array (``Function.read_for``), as PyTorch allows. Copies and
results made from a tracked view (``.copy()``, ``astype``, ``np.zeros_like``, fancy indexing,
arithmetic) are plain arrays. Nodes only mark what they keep (no counts to release): an array
nobody else references (a parameter after backward freed its graph, at the optimizer's update)
comes back plain, for one ``sys.getrefcount`` per access; the count that means "only the tensor"
is measured at import through ``Tensor.data`` itself (it differs across Python versions), and
where none is found every kept array is tracked. Replacing ``x.data = new`` is not an in-place
change (nodes keep the old array; the tensor's counter goes on as its own). Not seen (as in
PyTorch, whose ``.numpy()`` and ``.data`` writes are not tracked either): writes through an array
taken before the forward pass, through ``np.asarray(x)`` / ``x.__array__()`` or through another
tensor given the same array (``a.data = b.data``), and writes that bypass NumPy's Python-level API
(``.flat[...] =``, memoryview, ctypes, compiled extensions). Integer index arrays of ``x[idx]``
are copied for backward (as torch makes a tensor of them): editing them later is harmless.
Compiled code that demands an exact ``ndarray`` (``out=`` of ``Generator.permuted``) refuses a
tracked view: give it ``np.asarray(x.data)``.

In-place tensor methods (``add_``, ``mul_``, ``copy_``, ``fill_``, ``zero_``, ..., and ``+=``) follow
torch's rules: each write bumps the version; while a graph is recorded a leaf that requires grad
refuses, and any other tensor is changed in place and becomes the output of a new node whose input
is its earlier self. Graph nodes made before the change still read that earlier self (the tensor's
``_prior`` list, consulted by backward only for nodes older than the latest such change). A change
of a view of another tensor in a recorded graph is refused (torch rewrites the base's graph).
"""

from __future__ import annotations

import heapq
import itertools
import sys
import threading
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any, TypeVar

import numpy as np

from retroprop.backend import array_module, is_array

DEFAULT_DTYPE = np.dtype(np.float32)
_SUPPORTED_KINDS = "biuf"  # bool, signed and unsigned integers, floats

F = TypeVar("F", bound=Callable[..., Any])


class ShapeError(ValueError, RuntimeError):
    """Operand shapes do not fit an op (a broadcasting, matmul, reshape, cat or stack mismatch).

    A ``RuntimeError``, as torch raises for these, and a ``ValueError``, as retroprop always has."""


class GradDtypeError(ValueError, RuntimeError):
    """A gradient assigned to ``.grad`` has another dtype than its tensor (a RuntimeError, as torch's)."""


class CastError(TypeError, RuntimeError):
    """An in-place op's result dtype cannot be written into its tensor's dtype (torch's rule: no
    float into an integer tensor, nothing but bool into a bool tensor). A RuntimeError, as torch's."""


class ModifiedInPlaceError(RuntimeError):
    """An array saved for backward was modified in place between the forward pass and backward."""


# ---------------------------------------------------------------------------------------------
# Gradient mode
# ---------------------------------------------------------------------------------------------
class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()
_new_object = object.__new__
_NEEDED, _NOT_NEEDED = (True,), (False,)
_sequence = itertools.count(1)  # creation order of graph nodes: a node only depends on older ones
# the stamp (from ``_sequence``) of the latest in-place write to an array a live node holds: a node
# created after it needs no check
_last_write = [0]
# the stamp of the latest in-place op recorded on a tensor in a graph (its older consumers see its
# earlier self: see _inputs_as_seen); such an op is a write too, so it is never above _last_write
_last_rewire = [0]


def is_grad_enabled() -> bool:
    """True when ops record a graph for backpropagation."""
    return _grad_mode.enabled


class set_grad_enabled:
    """Context manager (and decorator) that turns graph recording on or off."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(_grad_mode.enabled)
        _grad_mode.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _grad_mode.enabled = self._previous.pop()

    def __call__(self, func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(self.mode):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def no_grad() -> set_grad_enabled:
    """Build no graph inside ``with rp.no_grad():`` (or on a function decorated with it)."""
    return set_grad_enabled(False)


def enable_grad() -> set_grad_enabled:
    """Record the graph again inside a ``no_grad`` block."""
    return set_grad_enabled(True)


# ---------------------------------------------------------------------------------------------
# Array conversion
# ---------------------------------------------------------------------------------------------
_KIND_NAMES = {"U": "str", "S": "bytes", "O": "object", "c": "complex", "M": "datetime",
               "m": "timedelta", "V": "void"}


def _check_dtype(dtype: np.dtype, where: str) -> None:
    if dtype.kind not in _SUPPORTED_KINDS:
        raise TypeError(
            f"{where}: unsupported dtype {dtype} ({_KIND_NAMES.get(dtype.kind, dtype.kind)}); "
            "retroprop tensors hold bool, integer or floating-point numbers"
        )


def as_array(data: Any, dtype: Any = None, copy: bool = True) -> np.ndarray:
    """Convert ``data`` to an array with retroprop's dtype rule (as torch's ``torch.tensor``).

    Arrays keep their dtype; Python floats (and lists of them) become float32, the default dtype;
    Python ints become int64; ``dtype`` overrides.
    """
    if isinstance(data, Tensor):
        array = data._data
    elif is_array(data) or isinstance(data, np.generic):
        array = data
    else:
        try:
            array = np.asarray(data)
        except (ValueError, TypeError) as err:
            raise TypeError(
                f"rp.tensor: cannot make a tensor from {type(data).__name__}: {err}"
            ) from None
        if array.dtype.kind == "f" and dtype is None:
            array = array.astype(DEFAULT_DTYPE)
        elif array.dtype.kind == "i" and dtype is None:
            array = array.astype(np.int64, copy=False)
    xp = array_module(array)
    if dtype is not None:
        target = np.dtype(dtype)
        _check_dtype(target, "rp.tensor")
        return xp.array(array, dtype=target, copy=copy)
    array = xp.array(array, copy=copy) if copy else xp.asarray(array)
    _check_dtype(array.dtype, "rp.tensor")
    return array


# ---------------------------------------------------------------------------------------------
# Version counters
# ---------------------------------------------------------------------------------------------
# A counter is a list [version, events], made when first needed and shared by a tensor and its
# views: the in-place writes seen, and the ``_sequence`` stamps of the latest ones (negative: the
# tensor's array was replaced, so later writes no longer reach the old one that nodes keep). A third
# item (True) marks a counter that a view in a graph shares: an in-place op recorded on such memory
# is refused, as its views' graphs would not see it (torch replays views; retroprop does not).
_VERSION, _EVENTS = 0, 1
_KEEP_EVENTS = 64  # nodes older than the oldest kept event count it as written (see _note_event)


_event_lock = threading.Lock()  # a write in one thread must not hide another's (stamps, counts)


def _note_event(counter: list[Any], write: bool, stamp: int | None = None) -> None:
    with _event_lock:
        if stamp is None:
            stamp = next(_sequence)
        events = counter[_EVENTS]
        if events is None:
            counter[_EVENTS] = events = []
        elif len(events) >= 2 * _KEEP_EVENTS:
            floor = abs(events[_KEEP_EVENTS - 1])
            del events[:_KEEP_EVENTS]
            events.insert(0, floor)  # the dropped ones count as a write for older nodes: never less safe
        if write:
            counter[_VERSION] += 1
            events.append(stamp)
            if stamp > _last_write[0]:  # a stamp reserved before the write may be older than the last
                _last_write[0] = stamp
        else:
            events.append(-stamp)


# the counter of a tensor whose array a node has kept but which no write has reached yet: the real
# one is made when needed (nodes mark what they keep without allocating)
_KEPT: list[Any] = [0, None]


def _new_counter(tensor: Tensor) -> list[Any]:
    counter = tensor._vc = [0, None]
    return counter


def _counter(tensor: Tensor) -> list[Any]:
    """``tensor``'s version counter, made now if it has none yet."""
    counter = tensor._vc
    return _new_counter(tensor) if counter is None or counter is _KEPT else counter


def _bump(tensor: Tensor) -> None:
    """Count an in-place write to ``tensor``'s array (torch bumps ``_version`` on every one)."""
    _note_event(_counter(tensor), write=True)


def share_counter(source: Any, view: Tensor) -> None:
    """``view``'s array is a view of ``source``'s: writes to either change both, one counter."""
    if not isinstance(source, Tensor):
        return
    mine, array = view._data, source._data
    base = mine.base  # NumPy points a view's base at the array that owns the memory: cheap tests first
    if mine is array or (base is not None and (base is array or base is array.base
                                               or np.may_share_memory(base, array))):
        counter = source._vc
        view._vc = counter = _new_counter(source) if counter is None or counter is _KEPT else counter
        if view._ctx is not None and len(counter) == 2:
            counter.append(True)  # a view in a graph: see the notes on counters


class _TrackedArray(np.ndarray):
    """A view of a tensor's array, handed out by ``Tensor.data`` while a graph node keeps the
    array for backward: in-place writes through it (or through its views) bump the counter.
    What is not a view of that memory (copies, results, ``*_like`` arrays) comes back plain."""

    _counter: list[Any] | None = None
    _source: Any = None  # the tensor's own array, on the view ``of`` made (not on views of it)

    @staticmethod
    def of(array: np.ndarray, counter: list[Any]) -> _TrackedArray:
        view = array.view(_TrackedArray)
        view._counter = counter
        view._source = array
        return view

    def __array_finalize__(self, obj: Any) -> None:
        # views of a tracked array write to its memory; copies (fancy indexing included) do not
        counter = getattr(obj, "_counter", None)
        if counter is not None and self.base is not None and np.may_share_memory(self, obj):
            self._counter = counter

    def _written(self) -> None:
        if self._counter is not None:
            _note_event(self._counter, write=True)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._written()
        super().__setitem__(key, value)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.get("out")
        if out is not None:
            for o in out:
                if isinstance(o, _TrackedArray):
                    o._written()
            kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, _TrackedArray) else o
                                  for o in out)
        if method == "at" and isinstance(inputs[0], _TrackedArray):  # np.add.at(x.data, ...)
            inputs[0]._written()
        plain = tuple(a.view(np.ndarray) if isinstance(a, _TrackedArray) else a for a in inputs)
        result = getattr(ufunc, method)(*plain, **kwargs)
        if out is None or method == "at":
            return result  # new arrays come back plain: they are no tensor's memory
        return out[0] if len(out) == 1 else out

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if func in _WRITES_FIRST_ARGUMENT and args and isinstance(args[0], _TrackedArray):
            args[0]._written()
        out = kwargs.get("out")
        if isinstance(out, _TrackedArray):
            out._written()
        result = super().__array_function__(func, types, args, kwargs)
        if isinstance(result, (tuple, list)):
            return type(result)(_plain_unless_view(r) for r in result)
        return _plain_unless_view(result)

    def __repr__(self) -> str:
        return repr(self.view(np.ndarray))

    def __reduce__(self) -> Any:  # a pickled or deep-copied view is a plain array
        return np.asarray(self).copy().__reduce__()


def _plain_unless_view(result: Any) -> Any:
    """``result`` as a plain ndarray unless it is a view of tracked memory (which stays tracked)."""
    if type(result) is _TrackedArray and result._counter is None:
        return result.view(np.ndarray)
    return result


def _writing_method(name: str) -> Callable[..., Any]:
    method = getattr(np.ndarray, name)

    def wrapper(self: _TrackedArray, *args: Any, **kwargs: Any) -> Any:
        if name != "byteswap" or kwargs.get("inplace", args[:1] == (True,)):
            self._written()
        return method(self, *args, **kwargs)

    wrapper.__name__ = name
    return wrapper


def _result_method(name: str) -> Callable[..., Any]:
    method = getattr(np.ndarray, name)

    def wrapper(self: _TrackedArray, *args: Any, **kwargs: Any) -> Any:
        return _plain_unless_view(method(self, *args, **kwargs))

    wrapper.__name__ = name
    return wrapper


for _method in ("fill", "sort", "partition", "put", "setfield", "byteswap", "resize"):
    setattr(_TrackedArray, _method, _writing_method(_method))
# methods that may return a new array (a copy comes back plain; a view stays tracked)
for _method in ("__getitem__", "__copy__", "__deepcopy__", "copy", "astype", "flatten", "ravel",
                "reshape", "squeeze", "repeat", "take", "compress", "choose", "diagonal", "dot",
                "round", "clip", "cumsum", "cumprod", "conj", "conjugate"):
    setattr(_TrackedArray, _method, _result_method(_method))
_WRITES_FIRST_ARGUMENT = frozenset(
    f for f in (np.copyto, np.put, np.place, np.putmask, np.put_along_axis, np.fill_diagonal)
)


# ---------------------------------------------------------------------------------------------
# Tensor
# ---------------------------------------------------------------------------------------------
class Size(tuple):
    """A tensor's shape as ``size()`` returns it (torch's ``torch.Size``): a tuple of ints."""

    __slots__ = ()

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds."""
        return int(np.prod(self, dtype=np.int64))

    def __repr__(self) -> str:
        return f"rp.Size({list(self)})"


# ``ndarray <op> Tensor`` reaches Tensor.__array_ufunc__ as the ufunc: the tensor's reflected operator
_REFLECTED = {
    np.add: "__radd__", np.subtract: "__rsub__", np.multiply: "__rmul__", np.true_divide: "__rtruediv__",
    np.floor_divide: "__rfloordiv__", np.remainder: "__rmod__", np.power: "__rpow__",
    np.matmul: "__rmatmul__", np.less: "__gt__", np.less_equal: "__ge__", np.greater: "__lt__",
    np.greater_equal: "__le__", np.equal: "__eq__", np.not_equal: "__ne__",
}


class Tensor:
    """An n-dimensional array that remembers how it was computed, so gradients can flow back."""

    # _prior: set only on a tensor changed in place in a recorded graph (see _record_in_place)
    __slots__ = ("__weakref__", "_ctx", "_data", "_grad", "_prior", "_requires_grad", "_retains_grad", "_vc")
    __hash__ = object.__hash__

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy meeting a tensor. ``ndarray + Tensor`` (and -, *, /, @, **, comparisons) is the
        tensor's reflected operator, so the result is a Tensor in the graph. An array updated in
        place (``p.data -= lr * p.grad``, ``out=`` an array) is written from the tensors' arrays,
        as torch's ``.data``. Any other ufunc returns an array when no input requires grad (a
        gradient, a batch) and raises TypeError otherwise, so no graph is dropped silently."""
        if method == "__call__":
            out = kwargs.get("out")
            if out and not any(isinstance(o, Tensor) for o in out):
                return ufunc(*[x._data if isinstance(x, Tensor) else x for x in inputs], **kwargs)
            if len(inputs) == 2 and not kwargs and inputs[1] is self and not isinstance(inputs[0], Tensor):
                name = _REFLECTED.get(ufunc)
                reflected = getattr(self, name, None) if name else None
                if reflected is not None:
                    return reflected(inputs[0])
        if any(isinstance(x, Tensor) and x._requires_grad for x in inputs):
            return NotImplemented
        plain = [x._data if isinstance(x, Tensor) else x for x in inputs]
        return getattr(ufunc, method)(*plain, **kwargs)

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self._data = as_array(data, dtype)
        self._vc: list[Any] | None = None  # the version counter, made when first needed
        # the gradient: None, the engine's array, or (once .grad was read or assigned) the Tensor
        # wrapping it; internals read the array through grad_array(), without making a Tensor
        self._grad: Any = None
        self._ctx: Function | None = None
        self._requires_grad = False
        self._retains_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _make(cls, data: Any, requires_grad: bool = False) -> Tensor:
        """Wrap an array produced by an op, without copying or re-checking it."""
        counter = None
        if type(data) is not np.ndarray:
            if isinstance(data, _TrackedArray):  # from_numpy(x.data): x's memory, x's counter
                counter, data = data._counter, data.view(np.ndarray)
            elif not is_array(data):
                data = np.asarray(data)
        t = cls.__new__(cls)
        t._data = data
        t._vc = counter
        t._grad = None
        t._ctx = None
        t._requires_grad = requires_grad
        t._retains_grad = False
        return t

    # -- properties ----------------------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The underlying array (shared, not copied). While a graph node keeps it for backward it
        comes as a view that reports in-place writes (see the module's notes on versions)."""
        array = self._data
        counter = self._vc
        # plain when no graph node ever kept it, or when nothing but this tensor references it (a
        # view's memory is also its base's, which nodes may keep: views are always tracked)
        if counter is None or (_getrefcount(array) <= _ALONE and array.base is None):
            return array
        return _TrackedArray.of(array, _new_counter(self) if counter is _KEPT else counter)

    @data.setter
    def data(self, value: Any) -> None:
        current = self._data if hasattr(self, "_data") else None
        if value is current:  # x.data += 1 on an array no node holds: written in place already
            return
        if isinstance(value, _TrackedArray):
            source = value._source
            if source is current and current is not None:
                return  # x.data += 1 through the tracked view: counted already
            # a.data = b.data shares b's array itself, as before versions (b's counter stays b's)
            value = source if source is not None else value.view(np.ndarray)
        self._data = value
        counter = getattr(self, "_vc", None)
        if counter is not None and counter is not _KEPT:
            if current is not None and is_array(value) and np.may_share_memory(value, current):
                return  # the same memory seen anew (x.data = x.data.T): writes still reach it
            # nodes keep the old array, not the new: this tensor's history goes on in a counter of
            # its own, so the views that share the old array keep counting writes to it
            self._vc = counter = [counter[_VERSION], list(counter[_EVENTS] or ())]
            _note_event(counter, write=False)

    def __copy__(self) -> Tensor:
        """A shallow copy (``copy.copy``) shares the array, so it shares the version counter too."""
        twin = type(self).__new__(type(self))
        for name in ("_ctx", "_data", "_requires_grad", "_retains_grad", "_grad"):
            setattr(twin, name, getattr(self, name))
        if hasattr(self, "__dict__"):  # subclasses (Parameter)
            twin.__dict__.update(self.__dict__)
        twin._vc = None
        share_counter(self, twin)
        return twin

    def __getstate__(self) -> Any:
        """Deep copies (``copy.deepcopy``, a model snapshot) start with a counter of their own."""
        state = object.__getstate__(self)
        if isinstance(state, tuple) and state[1] and state[1].get("_vc") is not None:
            state = (state[0], {**state[1], "_vc": None})
        return state

    @property
    def _version(self) -> int:
        """In-place writes seen on this tensor's array (see the module's notes on versions)."""
        return 0 if self._vc is None or self._vc is _KEPT else self._vc[_VERSION]

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        value = bool(value)
        if value and self._data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients; this tensor is "
                f"{self._data.dtype} (convert it first, e.g. x.float())"
            )
        if not value and self._ctx is not None:
            raise RuntimeError(
                "requires_grad can only be switched off on a leaf tensor; use .detach() instead"
            )
        self._requires_grad = value

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    def size(self, dim: int | None = None) -> Size | int:
        """torch's ``size()``: the shape (a ``Size``, a tuple); ``size(dim)`` one dimension's
        length (negative counts from the end). The element count is ``numel()``."""
        if dim is None:
            return Size(self._data.shape)
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"size(dim): dim must be an int, got {type(dim).__name__}")
        ndim = self._data.ndim
        if not ndim:
            raise IndexError(f"size: Dimension specified as {dim} but tensor has no dimensions")
        if not -ndim <= dim < ndim:
            raise IndexError(f"size: Dimension out of range (expected to be in range of "
                             f"[{-ndim}, {ndim - 1}], but got {dim})")
        return self._data.shape[dim]

    def numel(self) -> int:
        return self._data.size

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self) -> Function | None:
        return self._ctx

    # -- conversion ----------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied), as ``.data``."""
        return self.data

    def item(self) -> float | int | bool:
        if self._data.size != 1:  # a RuntimeError too, as torch's
            raise ShapeError(
                f"item() needs a tensor with one element; this one has shape {self.shape}"
            )
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def detach(self) -> Tensor:
        """A tensor sharing this one's data (and version counter), cut from the graph."""
        view = Tensor._make(self._data)
        share_counter(self, view)
        return view

    def astype(self, dtype: Any) -> Tensor:
        """Differentiable cast to ``dtype``."""
        from retroprop import ops

        return ops.Cast.apply(self, dtype=np.dtype(dtype))

    # to(device, dtype), cpu(), cuda(), .device, float(), double(), long(), int(), bool(), half(): bound in
    # devices.py

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is None:
            return self._data
        return self._data.astype(dtype)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:  # a RuntimeError too, as torch's
            raise ShapeError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                "use (x).all() or (x).any() on .data"
            )
        return bool(self._data.item())

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="tensor(")
        extras = []
        if self._data.dtype not in (DEFAULT_DTYPE, np.dtype(np.int64), np.dtype(np.bool_)):
            extras.append(f"dtype={self._data.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn=<{type(self._ctx).__name__}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # -- gradients -----------------------------------------------------------------------------
    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient, a Tensor without a graph (None before any backward reaches
        this tensor), as torch's. The same Tensor object until it is replaced or set to None."""
        g = self._grad
        if g is None or type(g) is Tensor:
            return g
        wrapped = Tensor._make(g)
        self._grad = wrapped
        return wrapped

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is None:
            self._grad = None
            return
        if isinstance(value, Tensor):
            array = value._data
        elif is_array(value):
            array = value
            value = Tensor._make(value)
        else:
            raise TypeError(f"assigned grad expected to be a Tensor, an array or None but got "
                            f"grad of type {type(value).__name__}")
        if array.shape != self._data.shape:
            raise ShapeError(f"attempting to assign a gradient of shape {tuple(array.shape)} to a "
                             f"tensor of shape {tuple(self._data.shape)}; they must be the same size")
        if array.dtype != self._data.dtype:
            raise GradDtypeError(f"attempting to assign a gradient with dtype {array.dtype} to a "
                                 f"tensor of dtype {self._data.dtype}; they must match (cast it first)")
        self._grad = value if type(value) is Tensor else Tensor._make(array)

    def zero_grad(self, set_to_none: bool = True) -> None:
        if set_to_none or self._grad is None:
            self._grad = None
        else:
            grad_array(self).fill(0)
            if type(self._grad) is Tensor and self._grad._vc is not None:
                _bump(self._grad)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        self._retains_grad = True

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor, accumulating gradients into the leaves' ``.grad``."""
        _backward(self, grad, retain_graph)

    # -- arithmetic (defined in ops.py, bound below) --------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _ops.Add.apply(self, _operand(other, "+"))

    def __radd__(self, other: Any) -> Tensor:
        return _ops.Add.apply(_operand(other, "+"), self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.Sub.apply(self, _operand(other, "-"))

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.Sub.apply(_operand(other, "-"), self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.Mul.apply(self, _operand(other, "*"))

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.Mul.apply(_operand(other, "*"), self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.Div.apply(self, _operand(other, "/"))

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.Div.apply(_operand(other, "/"), self)

    # in place, as torch's (add_, sub_, ... below): ``p -= lr * p.grad`` under no_grad updates p's
    # array and bumps its version; while a graph is recorded a leaf that requires grad refuses, and
    # any other tensor is changed in place and gets a new node (see _record_in_place)
    def __setitem__(self, index: Any, value: Any) -> None:
        """``x[index] = value`` in place (and so ``x[i] += v``), outside a recorded graph."""
        if _grad_mode.enabled and (self._requires_grad
                                   or (isinstance(value, Tensor) and value._requires_grad)):
            if self._requires_grad and self._ctx is None:
                raise RuntimeError(
                    "a leaf Variable that requires grad is being used in an in-place operation "
                    "(x[index] = value); assign inside `with rp.no_grad():`"
                )
            raise RuntimeError(
                "x[index] = value on a tensor in a recorded graph is not supported: build the result "
                "with rp.where(mask, value, x) or rp.concatenate, or assign inside rp.no_grad()"
            )
        target = self.data  # a tracked view while a graph node keeps the array: the write is seen
        target[_ops._normalize_index(index)] = value._data if isinstance(value, Tensor) else value

    def __iadd__(self, other: Any) -> Tensor:
        return _add_(self, _operand(other, "+="))

    def __isub__(self, other: Any) -> Tensor:
        return _sub_(self, _operand(other, "-="))

    def __imul__(self, other: Any) -> Tensor:
        return _mul_(self, _operand(other, "*="))

    def __itruediv__(self, other: Any) -> Tensor:
        return _div_(self, _operand(other, "/="))

    def __neg__(self) -> Tensor:
        return _ops.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def __pow__(self, exponent: Any) -> Tensor:
        if not isinstance(exponent, (int, float, np.integer, np.floating)):
            # a tensor (or array) exponent: elementwise, broadcast, differentiable in both
            return _ops.TensorPow.apply(self, _operand(exponent, "**"))
        return _ops.Pow.apply(self, exponent=exponent)

    def __rpow__(self, base: Any) -> Tensor:
        if not isinstance(base, (int, float, np.integer, np.floating)):
            return _ops.TensorPow.apply(_operand(base, "**"), self)
        return _ops.ScalarPow.apply(self, base=base)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(self, _operand(other, "@"))

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(_operand(other, "@"), self)

    def matmul(self, other: Any) -> Tensor:
        return self @ other

    def pow(self, exponent: Any) -> Tensor:
        return self**exponent

    # -- comparisons: plain boolean tensors, never differentiable --------------------------------
    def _compare(self, other: Any, op: Callable[[Any, Any], Any]) -> Tensor:
        other = other._data if isinstance(other, Tensor) else other
        return Tensor._make(op(self._data, other))

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    def argmax(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
               keepdim: bool | None = None) -> Tensor:
        axis, keepdims = _ops.reduction_args(axis, keepdims, dim, keepdim)
        return Tensor._make(self._data.argmax(axis=axis, keepdims=keepdims))

    def argmin(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
               keepdim: bool | None = None) -> Tensor:
        axis, keepdims = _ops.reduction_args(axis, keepdims, dim, keepdim)
        return Tensor._make(self._data.argmin(axis=axis, keepdims=keepdims))


def _operand(other: Any, op: str) -> Any:
    """Accept tensors, arrays and scalars as the other operand of an arithmetic op."""
    if isinstance(other, (Tensor, int, float, bool, np.generic)) or is_array(other):
        return other
    if isinstance(other, (list, tuple)):
        return as_array(other, copy=False)
    raise TypeError(f"unsupported operand for '{op}': Tensor and {type(other).__name__}")


# ---------------------------------------------------------------------------------------------
# Function
# ---------------------------------------------------------------------------------------------
class Function:
    """A differentiable operation on raw arrays.

    Subclasses define ``forward(*arrays, **options) -> array`` and ``backward(grad) -> tuple``
    with one gradient per positional input (``None`` where none is needed; consult
    ``self.needs_input_grad``). ``backward`` returns new arrays or views of them, never an array
    it saved in ``forward``: the engine may keep a returned array as a leaf's ``.grad``.
    Gradients may keep broadcast shape; the engine sums them to each input's shape.
    """

    needs_input_grad: tuple[bool, ...]
    inputs: tuple[Any, ...]
    freed = False  # set once a backward without retain_graph has released the saved arrays
    # True for ops whose backward returns, for each input, a new array of exactly that input's
    # shape (or the incoming gradient itself, when told it may): the engine then skips its
    # un-broadcasting and aliasing checks. Only fused built-in ops on the hot path set it.
    exact_gradients = False
    # During backward: True when no one else holds the incoming gradient array, so backward may
    # write into it and return it (saves an allocation in elementwise ops).
    grad_owned = False
    sequence: int  # creation order, set when the node joins a graph
    # Which arrays backward reads from what forward saw: positions of inputs, -1 for the output,
    # None (the safe default for new ops) for every tensor input and the output. A built-in op
    # that names them keeps those arrays (``self.x = x``) or views of them (which reference them):
    # that reference is what makes ``Tensor.data`` hand out a tracked view (see the module's
    # notes). For ops with ``saves = None`` the engine keeps their arrays itself.
    saves: tuple[int, ...] | None = None
    # Optional, one entry per ``saves`` position: the inputs whose gradients read it, or None for
    # all (``Mul``: input 0 is read only for input 1's gradient). A write to an array only unneeded
    # gradients read is harmless, and backward allows it, as PyTorch does.
    read_for: tuple[tuple[int, ...] | None, ...] | None = None

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Tensor:
        """Run ``forward`` on the inputs' arrays and link the result into the graph."""
        fn = _new_object(cls)
        if len(inputs) == 1:  # the most common case, without the list building below
            x = inputs[0]
            if isinstance(x, Tensor):
                need = x._requires_grad and _grad_mode.enabled
                arrays = (x._data,)
            else:
                need, arrays = False, (x,)
            fn.needs_input_grad = _NEEDED if need else _NOT_NEEDED
        elif len(inputs) == 2:  # binary ops and losses, unrolled like the 3-input case below
            a, b = inputs
            ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
            arrays = (a._data if ta else a, b._data if tb else b)
            if _grad_mode.enabled:
                needs = (ta and a._requires_grad, tb and b._requires_grad)
                need = True in needs
            else:
                needs, need = (False, False), False
            fn.needs_input_grad = needs
        elif len(inputs) == 3:  # linear, batch_norm, where: unrolled, it is 3x faster than a loop
            a, b, c = inputs
            ta, tb, tc = isinstance(a, Tensor), isinstance(b, Tensor), isinstance(c, Tensor)
            arrays = (a._data if ta else a, b._data if tb else b, c._data if tc else c)
            if _grad_mode.enabled:
                needs = (ta and a._requires_grad, tb and b._requires_grad, tc and c._requires_grad)
                need = True in needs
            else:
                needs, need = (False, False, False), False
            fn.needs_input_grad = needs
        else:
            if _grad_mode.enabled:
                needs = tuple([isinstance(x, Tensor) and x._requires_grad for x in inputs])
                need = True in needs
            else:
                needs, need = (False,) * len(inputs), False
            fn.needs_input_grad = needs
            arrays = tuple([x._data if isinstance(x, Tensor) else x for x in inputs])
        try:
            out = fn.forward(*arrays, **options) if options else fn.forward(*arrays)
        except ValueError as err:
            message = cls.explain_error(err, list(arrays), options)
            if message is None:
                raise
            raise ShapeError(message) from None
        if type(out) is not np.ndarray and not is_array(out):
            out = np.asarray(out)
        result = _new_object(Tensor)
        result._data = out
        result._grad = None
        result._retains_grad = False
        result._vc = None
        if need:
            fn.inputs = inputs
            fn.sequence = next(_sequence)
            result._ctx = fn
            result._requires_grad = True
            saves = cls.saves
            if saves:  # mark what this node keeps (Tensor.data tracks those arrays from now on)
                for position in saves:
                    kept = inputs[position] if position >= 0 else result
                    if isinstance(kept, Tensor) and kept._vc is None:
                        kept._vc = _KEPT
            elif saves is None:  # a new op: its own saved views would not reference these arrays
                fn.kept_arrays = (arrays, out)
                for kept in (*inputs, result):
                    if isinstance(kept, Tensor) and kept._vc is None:
                        kept._vc = _KEPT
        else:
            result._ctx = None
            result._requires_grad = False
        return result

    @classmethod
    def explain_error(cls, err: ValueError, arrays: list[Any], options: dict[str, Any]) -> str | None:
        """A clearer message for a ValueError raised by ``forward``, or None to re-raise it."""
        return None

    def forward(self, *arrays: Any, **options: Any) -> Any:
        raise NotImplementedError

    def backward(self, grad: Any) -> tuple[Any, ...] | Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"



# ---------------------------------------------------------------------------------------------
# Backward
# ---------------------------------------------------------------------------------------------
def sum_to_shape(grad: Any, shape: tuple[int, ...]) -> Any:
    """Undo broadcasting: sum ``grad`` over the axes that broadcasting added or stretched."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


_FREED_MESSAGE = (
    "backward through a graph a second time: its saved values were freed by the first backward; "
    "pass retain_graph=True to the first call to keep them"
)


def _seed(root: Tensor, grad: Any, where: str = "backward()") -> Any:
    """The gradient that starts backpropagation from ``root``: ``grad`` checked, or ones for a scalar."""
    if not root._requires_grad:
        raise RuntimeError(
            f"{where} on a tensor that does not require grad: no input of the computation had "
            "requires_grad=True (or it ran under rp.no_grad())"
        )
    xp = array_module(root._data)
    if grad is None:
        if root._data.size != 1:
            raise RuntimeError(
                f"{where} without a gradient needs a scalar output; this tensor has shape "
                f"{root.shape}. Reduce it first (e.g. loss.mean()) or pass grad= of that shape"
            )
        return xp.ones(root.shape, dtype=root.dtype)
    seed = xp.array(grad._data if isinstance(grad, Tensor) else grad, dtype=root.dtype)
    if seed.shape != root.shape:
        raise ShapeError(
            f"{where}: grad has shape {seed.shape} but the tensor has shape "
            f"{root.shape}; they must match"
        )
    return seed


def _backward(root: Tensor, grad: Any, retain_graph: bool) -> None:
    seed = _seed(root, grad)
    if root._ctx is None:  # backward on a leaf: its gradient is the seed itself
        _accumulate_leaf(root, seed, owned=True)
        return
    with np.errstate(all="ignore"):  # inf and NaN gradients are results, as torch's: no NumPy warnings
        _propagate({root: (seed, True)}, retain_graph, None)


def _propagate(pending: dict[Tensor, tuple[Any, bool]], retain_graph: bool,
               sink: dict[Tensor, Any] | None) -> None:
    """Backpropagate from the non-leaf roots in ``pending`` (each with its gradient and 'owned'
    flag) into the leaves' ``.grad``; with ``sink``, into ``sink``'s tensors only (autograd.grad)."""
    # Each pending gradient is kept with an 'owned' flag: True when no other reference to the
    # array exists, so it may be stored as a .grad or added into in place. A gradient returned
    # for two inputs, a view, or a pass-through of a borrowed array is not owned.
    #
    # Nodes are processed newest first (a max-heap on creation order): every consumer of a node
    # is newer than the node, so its gradient is complete when it is popped. A node that no
    # gradient reaches (its consumers all returned None) is never pushed.
    for root in pending:
        if root._ctx.freed:  # type: ignore[union-attr]
            raise RuntimeError(_FREED_MESSAGE)
    last_write = _last_write[0]  # nodes created after the latest in-place write need no check
    xp = array_module(next(iter(pending.values()))[0])
    # keyed by the tensors themselves: their hash is object identity, so no __eq__ is ever called
    heap: list[tuple[int, Tensor]] = []
    following: Tensor | None = None  # the next node when it is the only candidate (a chain)
    if len(pending) == 1:
        following = next(iter(pending))
    else:
        heap = [(-root._ctx.sequence, root) for root in pending]  # type: ignore[union-attr]
        heapq.heapify(heap)
    while following is not None or heap:
        if following is None:
            node = heapq.heappop(heap)[1]
        elif heap and -heap[0][0] > following._ctx.sequence:  # type: ignore[union-attr]
            node = heapq.heapreplace(heap, (-following._ctx.sequence, following))[1]  # type: ignore[union-attr]
        else:
            node = following
        following = None
        fn = node._ctx
        if fn.freed:  # type: ignore[union-attr]
            raise RuntimeError(_FREED_MESSAGE)
        inputs = fn.inputs  # type: ignore[union-attr]
        if fn.sequence < last_write:  # type: ignore[union-attr]
            _check_versions(fn, node)  # type: ignore[arg-type]
            if fn.sequence < _last_rewire[0]:  # type: ignore[union-attr]
                inputs = _inputs_as_seen(fn)  # type: ignore[arg-type]
        grad_out, grad_owned = pending.pop(node)
        if sink is not None:
            if node in sink:
                sink[node] = grad_out.copy()
        elif node._retains_grad:
            _accumulate_leaf(node, grad_out, owned=False)
        fn.grad_owned = grad_owned  # type: ignore[union-attr]
        grads = fn.backward(grad_out)  # type: ignore[union-attr]
        if type(grads) is not tuple:
            grads = (grads,)
        if len(grads) != len(inputs):
            raise RuntimeError(
                f"{type(fn).__name__}.backward returned {len(grads)} gradient(s) for "
                f"{len(inputs)} input(s); return one per input (None where not needed)"
            )
        count = len(grads)
        exact = fn.exact_gradients
        if count == 1 or exact:
            shared = False
        elif count == 3:  # linear's (x, weight, bias): inlined, this runs once per layer
            a, b, c = grads
            shared = (a is not None and (a is b or a is c)) or (b is not None and b is c)
        else:
            shared = _any_shared(grads)
        for parent, needed, g in zip(inputs, fn.needs_input_grad, grads):  # noqa: B905 - lengths checked above
            if not needed or g is None:
                continue
            if type(g) is not np.ndarray and not is_array(g):
                g = xp.asarray(g)
            target = parent._data
            if exact:  # the op promises new arrays of its inputs' shapes (see Function)
                owned = grad_owned if g is grad_out else True
            elif g.shape != target.shape:
                g = sum_to_shape(g, target.shape)
                owned = True
            else:
                # owned: no other reference to the array exists, so it may become a .grad or be
                # added into in place (not a view, not handed to two inputs, not borrowed)
                owned = g.base is None and (grad_owned or g is not grad_out) and not shared
            if g.dtype is not target.dtype and g.dtype != target.dtype:
                g = g.astype(target.dtype)
                owned = True
            if parent._ctx is None:  # a leaf: store (or add into) its .grad
                if sink is not None:
                    _collect(sink, parent, g, owned)
                    continue
                held = parent._grad
                if held is None:
                    parent._grad = g if owned else g.copy()
                elif type(held) is not Tensor:
                    held.__iadd__(g)
                else:
                    held._data.__iadd__(g)
                    if held._vc is not None:  # a graph kept this .grad (or a view shares it): a write
                        _bump(held)
                continue
            previous = pending.get(parent)
            if previous is None:
                pending[parent] = (g, owned)
                if following is None:
                    following = parent
                else:
                    heapq.heappush(heap, (-parent._ctx.sequence, parent))
            elif previous[1]:
                previous[0].__iadd__(g)
            else:
                summed = previous[0] + g
                pending[parent] = (summed if is_array(summed) else xp.asarray(summed), True)
        if not retain_graph:  # release the saved arrays now, not when the graph is dropped
            fn.__dict__ = {"freed": True}  # type: ignore[union-attr]


def _collect(sink: dict[Tensor, Any], tensor: Tensor, grad: Any, owned: bool) -> None:
    """Add ``grad`` to ``sink[tensor]`` when ``tensor`` is one of the sink's (autograd.grad)."""
    if tensor in sink:
        held = sink[tensor]
        sink[tensor] = (grad if owned else grad.copy()) if held is None else held + grad


def _inputs_as_seen(fn: Function) -> tuple[Any, ...]:
    """``fn``'s inputs as they were when ``fn`` was made: a tensor modified in place in a recorded
    graph since then stands for its earlier self (the one its ``_prior`` list kept)."""
    inputs = fn.inputs
    seen: list[Any] | None = None
    for i, tensor in enumerate(inputs):
        prior = getattr(tensor, "_prior", None) if isinstance(tensor, Tensor) else None
        if not prior:
            continue
        for stamp, before in prior:
            if stamp > fn.sequence:
                if seen is None:
                    seen = list(inputs)
                seen[i] = before
                break
    return inputs if seen is None else tuple(seen)


def _check_versions(fn: Function, node: Tensor) -> None:
    """Raise when an array ``fn`` keeps for backward was written in place after ``fn`` was made."""
    saves, read_for, needs = fn.saves, fn.read_for, fn.needs_input_grad
    positions = range(-1, len(fn.inputs)) if saves is None else saves
    for position, readers in zip(positions, read_for or [None] * len(positions)):  # noqa: B905
        if readers is not None and not any(needs[i] for i in readers):
            continue
        tensor = node if position == -1 else fn.inputs[position]
        counter = tensor._vc if isinstance(tensor, Tensor) else None
        if counter is None or counter is _KEPT or not counter[_EVENTS]:
            continue
        later = [stamp for stamp in counter[_EVENTS] if abs(stamp) > fn.sequence]
        writes = next((i for i, stamp in enumerate(later) if stamp < 0), len(later))
        if not writes:  # nothing written, or the array was replaced first: the node's is intact
            continue
        version, events = counter[_VERSION], counter[_EVENTS]
        # exact unless events from before this node were dropped (_KEEP_EVENTS)
        exact = len(later) < len(events) or version == sum(1 for stamp in events if stamp > 0)
        since = sum(1 for stamp in later if stamp > 0)
        expected = f"expected version {version - since} instead" if exact else "expected an earlier one"
        role = "the output" if position == -1 else f"input {position}"
        raise ModifiedInPlaceError(
            "one of the variables needed for gradient computation has been modified by an inplace "
            f"operation: [{tensor._data.dtype} tensor of shape {tuple(tensor.shape)}], saved as "
            f"{role} of {type(fn).__name__}, is at version {version}; {expected}. Its array was "
            "changed in place (e.g. x.data[...] = v or x.data += v) after the forward pass saved it; "
            "change a copy, or run the forward pass again after the change"
        )


def _any_shared(grads: tuple[Any, ...]) -> bool:
    """True when one array object is returned as the gradient of two inputs."""
    if len(grads) == 2:
        return grads[0] is grads[1] and grads[0] is not None
    if len(grads) == 3:
        a, b, c = grads
        return (a is not None and (a is b or a is c)) or (b is not None and b is c)
    present = [id(g) for g in grads if g is not None]
    return len(set(present)) < len(present)


def grad_array(tensor: Tensor) -> Any:
    """``tensor``'s gradient as the array itself (not a copy, no Tensor made), or None."""
    g = tensor._grad
    return g._data if type(g) is Tensor else g


def _accumulate_leaf(tensor: Tensor, grad: Any, owned: bool) -> None:
    held = tensor._grad
    if held is None:
        tensor._grad = grad if owned else grad.copy()
    elif type(held) is not Tensor:
        held += grad
    else:
        held._data += grad
        if held._vc is not None:  # a graph kept this .grad (or a view shares it): count the write
            _bump(held)


def _calibrate_alone() -> int:
    """The ``sys.getrefcount`` at or below which ``Tensor.data`` hands out the plain array: found
    through the property itself (the count differs across Python versions), as the value at which
    an array only its tensor holds comes back plain and one held once more (as a node holds it)
    comes back tracked. Without such a value (no reference counts) every kept array is tracked."""
    global _ALONE
    probe = Tensor._make(np.empty(0))
    for alone in range(1, 9):
        _ALONE = alone
        probe._vc = _KEPT
        lone_is_plain = type(probe.data) is np.ndarray
        probe._vc = _KEPT
        held = probe._data  # a second holder, as a graph node's attribute
        held_is_plain = type(probe.data) is np.ndarray
        del held
        if lone_is_plain and not held_is_plain:
            return alone
    return -1


# PyPy has no reference counts: there every kept array is tracked
_getrefcount: Callable[[Any], int] = getattr(sys, "getrefcount", lambda _: 1 << 30)
_ALONE = -1
_ALONE = _calibrate_alone()

from retroprop import ops as _ops  # noqa: E402  (ops subclasses Function, defined above)

# ---------------------------------------------------------------------------------------------
# In-place methods (torch's add_, mul_, copy_, fill_, ...)
# ---------------------------------------------------------------------------------------------
# Under no_grad (or when nothing involved requires grad) the op is computed out of place, with
# torch's dtype and broadcasting rules, and written into the tensor's array. While a graph is
# recorded, a leaf that requires grad refuses (as torch); any other tensor is changed in place too
# and becomes the output of a new node whose input is its earlier self (a tensor holding its old
# value); the graph consumers made before the change still read that earlier self (_prior).
_TORCH_DTYPE_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char",
                      "int16": "Short", "int32": "Int", "int64": "Long", "uint8": "Byte", "bool": "Bool"}


def _dtype_name(dtype: np.dtype) -> str:
    return _TORCH_DTYPE_NAMES.get(dtype.name, dtype.name)


def _can_cast(source: np.dtype, target: np.dtype) -> bool:
    """torch's ``can_cast``: no floating point into an integer tensor, nothing but bool into bool."""
    if source.kind == "f" and target.kind in "biu":
        return False
    return not (source.kind != "b" and target.kind == "b")


def _check_result(self: Tensor, value: Any, name: str) -> None:
    if value.shape != self._data.shape:
        raise ShapeError(f"{name}: output with shape {list(self._data.shape)} doesn't match the broadcast "
                         f"shape {list(value.shape)} (an in-place op cannot change its tensor's shape)")
    if not _can_cast(value.dtype, self._data.dtype):
        raise CastError(f"{name}: result type {_dtype_name(value.dtype)} can't be cast to the desired "
                        f"output type {_dtype_name(self._data.dtype)}")


def _in_place(self: Tensor, name: str, compute: Callable[..., Tensor], operands: tuple[Any, ...] = (),
              reads_self: bool = False) -> Tensor:
    """Write ``compute(self, *operands)`` (out-of-place ops) into ``self``'s array, as torch's ``name``.
    ``reads_self``: the op's backward reads its input's value (mul_, pow_)."""
    if _grad_mode.enabled and (self._requires_grad or any(
            isinstance(o, Tensor) and o._requires_grad for o in operands)):
        return _record_in_place(self, name, compute, operands, reads_self)
    value = compute(self, *operands)._data
    _check_result(self, value, name)
    _bump(self)
    np.copyto(self._data, value, casting="unsafe")
    return self


def _refuse_views(self: Tensor, name: str) -> None:
    """A view's change would reach its base, whose graph would not know of it (torch rewrites the
    base's history; retroprop does not): refuse instead of computing wrong gradients."""
    fn = self._ctx
    base: Tensor | None = None
    while isinstance(fn, _ops._View) and not fn.freed and self._data.base is not None:
        parent = fn.inputs[0]
        if not np.may_share_memory(self._data, parent._data):
            break
        base, fn = parent, parent._ctx
    if base is not None and base._ctx is None and base._requires_grad:
        raise RuntimeError(f"{name}: a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation. Change the leaf itself inside `with rp.no_grad():`")
    if base is not None or (self._ctx is None and self._data.base is not None
                            and self._vc is not None and self._vc is not _KEPT):
        raise RuntimeError(f"{name}: in-place change of a view of another tensor while a graph is recorded "
                           "is not supported (torch rewrites the base's graph; retroprop does not): change a "
                           ".clone() of it, or the base tensor itself")
    if self._vc is not None and len(self._vc) > 2:
        raise RuntimeError(f"{name}: in-place change, while a graph is recorded, of a tensor whose memory a "
                           "view in the graph shares (x.view, x[i], x.T, ...) is not supported (torch "
                           "replays the views; retroprop does not): change a .clone() of it, or make the "
                           "change before taking views")


def _record_in_place(self: Tensor, name: str, compute: Callable[..., Tensor], operands: tuple[Any, ...],
                     reads_self: bool) -> Tensor:
    if self._requires_grad and self._ctx is None:
        raise RuntimeError(
            f"{name}: a leaf Variable that requires grad is being used in an in-place operation. Its "
            "new value would not be in the graph that computes its gradient: update parameters inside "
            "`with rp.no_grad():`, or compute a new tensor (out of place)"
        )
    _refuse_views(self, name)
    operands, reads_self = _unaliased(self, name, operands, reads_self)
    # the earlier self: its value (a copy when the new node reads it: the array is about to change)
    before = Tensor._make(self._data.copy() if reads_self else self._data)
    before._ctx, before._requires_grad = self._ctx, self._requires_grad
    with _event_lock:
        stamp = next(_sequence)  # the write's time: after every node made so far, before the new one's
    if self._ctx is not None:
        # the node that made self sees its output written (if it keeps it, backward raises): self's
        # history and this write, in a counter of the earlier self's own
        counter = self._vc if self._vc is not None and self._vc is not _KEPT else [0, None]
        before._vc = [counter[_VERSION] + 1, [*(counter[_EVENTS] or ()), stamp]]
    operands = tuple(before if o is self else o for o in operands)  # h += h: the earlier h, twice
    result = compute(before, *operands)
    value = result._data
    _check_result(self, value, name)
    _note_event(_counter(self), write=True, stamp=stamp)
    np.copyto(self._data, value, casting="unsafe")
    if result._ctx is None:
        return self
    if self._ctx is not None:  # consumers of self made before now read `before` (_inputs_as_seen)
        self._prior = [*_prune_prior(getattr(self, "_prior", None)), (stamp, before)]
        with _event_lock:
            _last_rewire[0] = max(_last_rewire[0], stamp)
    self._ctx = result._ctx
    self._requires_grad = True
    return self


def _unaliased(self: Tensor, name: str, operands: tuple[Any, ...],
               reads_self: bool) -> tuple[tuple[Any, ...], bool]:
    """The operands of an in-place op recorded in a graph, none of them sharing ``self``'s memory: the
    new node may keep them for backward, and ``self``'s array is about to be overwritten. ``self``
    itself stays (it becomes its earlier value, which must then be a copy); a constant that shares
    the memory (``h.div_(h.detach())``) is copied; a differentiable view of it is refused."""
    kept = []
    for operand in operands:
        if operand is self:
            reads_self = True
        elif isinstance(operand, Tensor) and np.may_share_memory(operand._data, self._data):
            if operand._requires_grad:
                raise RuntimeError(f"{name}: an operand shares memory with the tensor changed in place and "
                                   "requires grad; pass a .clone() of it")
            operand = Tensor._make(operand._data.copy())
        kept.append(operand)
    return tuple(kept), reads_self


def _prune_prior(prior: list[tuple[int, Tensor]] | None) -> list[tuple[int, Tensor]]:
    """Keep ``_prior`` short: an earlier self whose graph backward freed keeps only its shape and
    dtype (a consumer that reaches it raises the freed-graph error), and consecutive freed ones are
    merged (either raises the same error)."""
    if not prior:
        return []
    kept: list[tuple[int, Tensor]] = []
    for stamp, before in prior:
        if before._ctx is not None and before._ctx.freed:
            if before._data.base is None or before._data.strides != (0,) * before._data.ndim:
                before._data = np.broadcast_to(np.zeros((), before._data.dtype), before._data.shape)
            if kept and kept[-1][1]._ctx is not None and kept[-1][1]._ctx.freed:
                kept.pop()
        kept.append((stamp, before))
    return kept


class _Overwrite(Function):
    """``x.copy_(src)`` / ``x.fill_(value)``: ``src`` broadcast to ``x``'s shape in ``x``'s dtype.
    ``x``'s earlier value gets a zero gradient (as torch's); ``src`` the gradient summed to its shape."""

    saves = ()

    def forward(self, old: Any, src: Any, name: str) -> Any:
        src = array_module(old).asarray(src)
        try:
            value = np.broadcast_to(src, old.shape)
        except ValueError:
            raise ShapeError(f"{name}: the source's shape {list(src.shape)} cannot be broadcast to the "
                             f"tensor's shape {list(old.shape)}") from None
        return value.astype(old.dtype)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        return (array_module(grad).zeros_like(grad) if self.needs_input_grad[0] else None), grad


class _RoundedDiv(Function):
    """``a / b`` rounded toward zero (``'trunc'``) or down (``'floor'``) in torch's result dtype
    (integers stay integers). Its gradient is 0, as torch's."""

    saves = ()

    def forward(self, a: Any, b: Any, mode: str) -> Any:
        a, b = _ops._promoted(a, b)
        xp = array_module(a, b)
        if xp.result_type(a, b).kind in "biu":
            if xp.any(xp.asarray(b) == 0):
                raise ZeroDivisionError("div_: integer division by zero")
            quotient = xp.floor_divide(a, b)
            if mode == "trunc":  # floor rounds negative inexact quotients down: one up
                quotient = quotient + ((quotient < 0) & (quotient * b != a))
            return quotient
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.floor_divide(a, b) if mode == "floor" else xp.trunc(a / b)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        xp = array_module(grad)
        return tuple(xp.zeros_like(grad) if need else None for need in self.needs_input_grad)


def _float_update(self: Tensor, other: Any, ufunc: Any, alpha: Any = 1) -> bool:
    """The common case of add_/sub_/mul_/div_, a parameter update under no_grad: a float tensor
    and a float array of its shape (or a Python number), no graph recorded. Computed straight into
    the tensor's array (torch's dtype rule needs no check there); False for every other case."""
    array = self._data
    if array.dtype.kind != "f" or (type(alpha) is not int and type(alpha) is not float):
        return False
    if type(other) is Tensor:
        if _grad_mode.enabled and (self._requires_grad or other._requires_grad):
            return False
        value = other._data
    else:
        if _grad_mode.enabled and self._requires_grad:
            return False
        value = other
    if type(value) is np.ndarray:
        if value.dtype.kind != "f" or value.shape != array.shape:
            return False
    elif type(value) is not float and type(value) is not int:
        return False
    if alpha != 1:
        value = value * alpha
    _bump(self)
    ufunc(array, value, out=array, casting="unsafe")
    return True


def _add_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """``self += alpha * other`` in place (torch's ``add_``)."""
    other = _operand(other, "add_")
    if _float_update(self, other, np.add, alpha):
        return self
    return _in_place(self, "add_", Tensor.__add__, (_scaled(self, other, alpha, "add_"),))


def _sub_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """``self -= alpha * other`` in place (torch's ``sub_``)."""
    other = _operand(other, "sub_")
    if _float_update(self, other, np.subtract, alpha):
        return self
    return _in_place(self, "sub_", Tensor.__sub__, (_scaled(self, other, alpha, "sub_"),))


def _scaled(self: Tensor, other: Any, alpha: Any, name: str) -> Any:
    if isinstance(alpha, Tensor):
        alpha = alpha.item()
    if type(alpha) in (int, bool) and alpha == 1:
        return other
    integral = self._data.dtype.kind in "biu" and (
        np.asarray(other._data if isinstance(other, Tensor) else other).dtype.kind in "biu")
    if integral and isinstance(alpha, (float, np.floating)):
        raise CastError(f"{name}: for integral input tensors, argument alpha must not be a floating "
                        f"point number (got alpha={alpha})")
    return other * alpha


def _mul_(self: Tensor, other: Any) -> Tensor:
    """``self *= other`` in place (torch's ``mul_``)."""
    other = _operand(other, "mul_")
    if _float_update(self, other, np.multiply):
        return self
    return _in_place(self, "mul_", Tensor.__mul__, (other,), reads_self=True)


def _div_(self: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """``self /= other`` in place (torch's ``div_``); ``rounding_mode='trunc'`` or ``'floor'``
    rounds the quotient (integer tensors then stay integer; the gradient is 0)."""
    other = _operand(other, "div_")
    if rounding_mode is None:
        if _float_update(self, other, np.true_divide):
            return self
        return _in_place(self, "div_", Tensor.__truediv__, (other,))
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div_ expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                         f"{rounding_mode!r}")
    return _in_place(self, "div_", lambda a, b: _RoundedDiv.apply(a, b, mode=rounding_mode), (other,))


def _pow_(self: Tensor, exponent: Any) -> Tensor:
    """``self **= exponent`` in place (torch's ``pow_``)."""
    exponent = _operand(exponent, "pow_")
    return _in_place(self, "pow_", Tensor.__pow__, (exponent,), reads_self=True)


def _clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Limit to ``[min, max]`` in place (torch's ``clamp_``; ``clip_`` is the same)."""
    return _in_place(self, "clamp_", lambda a: _ops.Clip.apply(a, low=min, high=max))


def _neg_(self: Tensor) -> Tensor:
    """``-self`` in place (torch's ``neg_``)."""
    return _in_place(self, "neg_", Tensor.__neg__)


def _exp_(self: Tensor) -> Tensor:
    """``exp(self)`` in place (torch's ``exp_``); integer tensors refuse (the result is a float)."""
    return _in_place(self, "exp_", lambda a: _ops.Exp.apply(a))


def _fill_(self: Tensor, value: Any) -> Tensor:
    """Set every element to ``value`` (a number or a 0-d tensor), cast to this tensor's dtype."""
    if isinstance(value, Tensor) and value.ndim:
        raise ShapeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                         f"{value.ndim} dimensions")
    if not isinstance(value, (Tensor, int, float, bool, np.generic)) and not (
            is_array(value) and not value.ndim):
        raise TypeError(f"fill_(): value must be a number or a 0-d tensor, got {type(value).__name__}")
    if _overwrite_directly(self, value):
        return self
    return _in_place(self, "fill_", _overwrite("fill_"), (value,))


def _zero_(self: Tensor) -> Tensor:
    """Set every element to 0 in place (torch's ``zero_``)."""
    if _overwrite_directly(self, 0):
        return self
    return _in_place(self, "zero_", _overwrite("zero_"), (0,))


def _copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast to this tensor's shape, cast to its dtype) into this tensor; the
    gradient reaches ``src`` (torch's ``copy_``)."""
    if not isinstance(src, Tensor) and not is_array(src):
        raise TypeError(f"copy_(): argument 'src' must be a Tensor (or an array), got {type(src).__name__}")
    if _overwrite_directly(self, src):
        return self
    return _in_place(self, "copy_", _overwrite("copy_"), (src,))


def _overwrite_directly(self: Tensor, src: Any) -> bool:
    """``fill_``/``zero_``/``copy_`` outside any graph (nothing requires grad, or no_grad): the values
    written straight into the array, the version bumped; False where the recorded path is needed (a
    graph, a source whose shape does not broadcast, a read-only array: that path raises the error)."""
    if _grad_mode.enabled and (self._requires_grad or (isinstance(src, Tensor) and src._requires_grad)):
        return False
    array = self._data
    if not array.flags.writeable:
        return False
    value = src._data if isinstance(src, Tensor) else src
    if is_array(value) and value.shape != array.shape:
        try:
            if np.broadcast_shapes(value.shape, array.shape) != array.shape:
                return False
        except ValueError:
            return False
    _bump(self)
    np.copyto(array, value, casting="unsafe")
    return True


def _overwrite(name: str) -> Callable[[Tensor, Any], Tensor]:
    return lambda old, src: _Overwrite.apply(old, src, name=name)


def _random_fill(self: Tensor, name: str, draw: Callable[[np.random.Generator, tuple[int, ...]], Any],
                 generator: Any) -> Tensor:
    if self._data.dtype.kind != "f":
        raise RuntimeError(f"{name}: not implemented for '{_dtype_name(self._data.dtype)}' tensors; "
                           "only floating-point tensors take random values")
    from retroprop.random import get_generator

    values = draw(get_generator(generator), self._data.shape)
    return _in_place(self, name, _overwrite(name), (values,))


def _uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator: Any = None,
              **bounds: float) -> Tensor:
    """Fill with values drawn uniformly from ``[a, b)`` (torch's ``uniform_(from, to)``)."""
    unknown = set(bounds) - {"from", "to"}
    if unknown:
        raise TypeError(f"uniform_() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    a, b = float(bounds.get("from", a)), float(bounds.get("to", b))
    if a > b:
        raise ValueError(f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}")
    return _random_fill(self, "uniform_", lambda rng, shape: rng.uniform(a, b, size=shape), generator)


def _normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with values drawn from N(mean, std^2) (torch's ``normal_``)."""
    if std < 0:
        raise ValueError(f"normal expects std >= 0.0, but found std {std}")
    return _random_fill(self, "normal_",
                        lambda rng, shape: rng.normal(float(mean), float(std), size=shape), generator)


def _masked_fill_(self: Tensor, mask: Any, value: Any) -> Tensor:
    """Set the elements where ``mask`` (bool, broadcast to this tensor's shape) holds to ``value`` (a
    number or a 0-d tensor, differentiable)."""
    condition = mask._data if isinstance(mask, Tensor) else as_array(mask, copy=False)
    if condition.dtype != np.bool_:
        raise CastError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                        f"{condition.dtype}")
    if isinstance(value, Tensor):
        if value.ndim:
            raise ShapeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                             f"{value.ndim} dimension(s)")
        if not value._requires_grad and value.dtype != self._data.dtype:
            value = value._data.astype(self._data.dtype)  # a constant takes the tensor's dtype, as torch's
    elif isinstance(value, (int, float, bool, np.generic)):
        value = np.asarray(value).astype(self._data.dtype)  # cast to the tensor's dtype, as torch's
    else:
        raise TypeError(f"masked_fill_(): value must be a number or a 0-d tensor, got {type(value).__name__}")
    return _in_place(self, "masked_fill_", lambda a, v: _ops.Where.apply(condition, v, a), (value,))


_IN_PLACE_METHODS = {
    "add_": _add_, "sub_": _sub_, "subtract_": _sub_, "mul_": _mul_, "multiply_": _mul_, "div_": _div_,
    "divide_": _div_, "pow_": _pow_, "clamp_": _clamp_, "clip_": _clamp_, "neg_": _neg_,
    "negative_": _neg_, "exp_": _exp_, "fill_": _fill_, "zero_": _zero_, "copy_": _copy_,
    "uniform_": _uniform_, "normal_": _normal_, "masked_fill_": _masked_fill_,
}
for _name, _method in _IN_PLACE_METHODS.items():
    setattr(Tensor, _name, _method)
