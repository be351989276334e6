"""Tensor, Function and the reverse-mode engine (backpropagation).

A ``Function`` computes on raw arrays; ``Function.apply`` wraps its result in a ``Tensor`` and, when
a gradient is needed, records the function as the tensor's creator. ``Tensor.backward`` walks the
recorded graph in reverse topological order (iteratively, so deep graphs cannot overflow the
stack), un-broadcasts each gradient to its input's shape in one place, and accumulates gradients
into the leaves' ``.grad``.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any, TypeVar

import numpy as np

from retroprop.backend import array_module, is_array

DEFAULT_DTYPE = np.dtype(np.float32)
_SUPPORTED_KINDS = "biuf"  # bool, signed and unsigned integers, floats

F = TypeVar("F", bound=Callable[..., Any])


class ShapeError(ValueError):
    """Operand shapes do not fit an op (a broadcasting or matmul mismatch)."""


# ---------------------------------------------------------------------------------------------
# Gradient mode
# ---------------------------------------------------------------------------------------------
class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()
_new_object = object.__new__
_NEEDED, _NOT_NEEDED = (True,), (False,)
_sequence = itertools.count()  # creation order of graph nodes: a node only depends on older ones


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
        array = data.data
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
# Tensor
# ---------------------------------------------------------------------------------------------
class Tensor:
    """An n-dimensional array that remembers how it was computed, so gradients can flow back."""

    __slots__ = ("__weakref__", "_ctx", "_requires_grad", "_retains_grad", "data", "grad")
    __array_ufunc__ = None  # make ``ndarray + Tensor`` defer to Tensor.__radd__
    __hash__ = object.__hash__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data = as_array(data, dtype)
        self.grad: np.ndarray | None = None
        self._ctx: Function | None = None
        self._requires_grad = False
        self._retains_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _make(cls, data: Any, requires_grad: bool = False) -> Tensor:
        """Wrap an array produced by an op, without copying or re-checking it."""
        if type(data) is not np.ndarray and not is_array(data):
            data = np.asarray(data)
        t = cls.__new__(cls)
        t.data = data
        t.grad = None
        t._ctx = None
        t._requires_grad = requires_grad
        t._retains_grad = False
        return t

    # -- properties ----------------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        value = bool(value)
        if value and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients; this tensor is "
                f"{self.data.dtype} (convert it first, e.g. x.float())"
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
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def numel(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self) -> Function | None:
        return self._ctx

    @property
    def T(self) -> Tensor:
        return self.transpose()

    # -- conversion ----------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(
                f"item() needs a tensor with one element; this one has shape {self.shape}"
            )
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph."""
        return Tensor._make(self.data)

    def astype(self, dtype: Any) -> Tensor:
        """Differentiable cast to ``dtype``."""
        from retroprop import ops

        return ops.Cast.apply(self, dtype=np.dtype(dtype))

    to = astype

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is None:
            return self.data
        return self.data.astype(dtype)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                "use (x).all() or (x).any() on .data"
            )
        return bool(self.data.item())

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.data.dtype not in (DEFAULT_DTYPE, np.dtype(np.int64), np.dtype(np.bool_)):
            extras.append(f"dtype={self.data.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn=<{type(self._ctx).__name__}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # -- gradients -----------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        if set_to_none or self.grad is None:
            self.grad = None
        else:
            self.grad.fill(0)

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

    def __neg__(self) -> Tensor:
        return _ops.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def __pow__(self, exponent: Any) -> Tensor:
        if isinstance(exponent, Tensor):
            if exponent.ndim == 0 and not exponent.requires_grad:
                exponent = exponent.item()
            else:
                raise TypeError(
                    "x ** y takes a scalar exponent; for a tensor exponent write (y * x.log()).exp()"
                )
        if not isinstance(exponent, (int, float, np.integer, np.floating)):
            raise TypeError(f"x ** y takes a scalar exponent, got {type(exponent).__name__}")
        return _ops.Pow.apply(self, exponent=exponent)

    def __rpow__(self, base: Any) -> Tensor:
        if not isinstance(base, (int, float, np.integer, np.floating)):
            raise TypeError(f"b ** x takes a scalar base, got {type(base).__name__}")
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
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._make(op(self.data, other))

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
        return Tensor._make(self.data.argmax(axis=axis, keepdims=keepdims))

    def argmin(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
               keepdim: bool | None = None) -> Tensor:
        axis, keepdims = _ops.reduction_args(axis, keepdims, dim, keepdim)
        return Tensor._make(self.data.argmin(axis=axis, keepdims=keepdims))


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

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Tensor:
        """Run ``forward`` on the inputs' arrays and link the result into the graph."""
        fn = _new_object(cls)
        if len(inputs) == 1:  # the most common case, without the list building below
            x = inputs[0]
            if isinstance(x, Tensor):
                need = x._requires_grad and _grad_mode.enabled
                arrays = (x.data,)
            else:
                need, arrays = False, (x,)
            fn.needs_input_grad = _NEEDED if need else _NOT_NEEDED
        elif len(inputs) == 2:  # binary ops and losses, unrolled like the 3-input case below
            a, b = inputs
            ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
            arrays = (a.data if ta else a, b.data if tb else b)
            if _grad_mode.enabled:
                needs = (ta and a._requires_grad, tb and b._requires_grad)
                need = True in needs
            else:
                needs, need = (False, False), False
            fn.needs_input_grad = needs
        elif len(inputs) == 3:  # linear, batch_norm, where: unrolled, it is 3x faster than a loop
            a, b, c = inputs
            ta, tb, tc = isinstance(a, Tensor), isinstance(b, Tensor), isinstance(c, Tensor)
            arrays = (a.data if ta else a, b.data if tb else b, c.data if tc else c)
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
            arrays = tuple([x.data if isinstance(x, Tensor) else x for x in inputs])
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
        result.data = out
        result.grad = None
        result._retains_grad = False
        if need:
            fn.inputs = inputs
            fn.sequence = next(_sequence)
            result._ctx = fn
            result._requires_grad = True
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


def _backward(root: Tensor, grad: Any, retain_graph: bool) -> None:
    if not root._requires_grad:
        raise RuntimeError(
            "backward() on a tensor that does not require grad: no input of the computation had "
            "requires_grad=True (or it ran under rp.no_grad())"
        )
    xp = array_module(root.data)
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() without a gradient needs a scalar output; this tensor has shape "
                f"{root.shape}. Reduce it first (e.g. loss.mean()) or pass grad= of that shape"
            )
        seed = xp.ones(root.shape, dtype=root.dtype)
    else:
        seed = xp.array(grad.data if isinstance(grad, Tensor) else grad, dtype=root.dtype)
        if seed.shape != root.shape:
            raise ShapeError(
                f"backward(grad=...): grad has shape {seed.shape} but the tensor has shape "
                f"{root.shape}; they must match"
            )
    if root._ctx is None:  # backward on a leaf: its gradient is the seed itself
        _accumulate_leaf(root, seed, owned=True)
        return

    # Each pending gradient is kept with an 'owned' flag: True when no other reference to the
    # array exists, so it may be stored as a .grad or added into in place. A gradient returned
    # for two inputs, a view, or a pass-through of a borrowed array is not owned.
    #
    # Nodes are processed newest first (a max-heap on creation order): every consumer of a node
    # is newer than the node, so its gradient is complete when it is popped. A node that no
    # gradient reaches (its consumers all returned None) is never pushed.
    if root._ctx.freed:
        raise RuntimeError(_FREED_MESSAGE)
    # keyed by the tensors themselves: their hash is object identity, so no __eq__ is ever called
    pending: dict[Tensor, tuple[Any, bool]] = {root: (seed, True)}
    heap: list[tuple[int, Tensor]] = []
    following: Tensor | None = root  # the next node when it is the only candidate (a chain)
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
        grad_out, grad_owned = pending.pop(node)
        if node._retains_grad:
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
            target = parent.data
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
                if parent.grad is None:
                    parent.grad = g if owned else g.copy()
                else:
                    parent.grad += g
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


def _any_shared(grads: tuple[Any, ...]) -> bool:
    """True when one array object is returned as the gradient of two inputs."""
    if len(grads) == 2:
        return grads[0] is grads[1] and grads[0] is not None
    if len(grads) == 3:
        a, b, c = grads
        return (a is not None and (a is b or a is c)) or (b is not None and b is c)
    present = [id(g) for g in grads if g is not None]
    return len(set(present)) < len(present)


def _accumulate_leaf(tensor: Tensor, grad: Any, owned: bool) -> None:
    if tensor.grad is None:
        tensor.grad = grad if owned else grad.copy()
    else:
        tensor.grad += grad


from retroprop import ops as _ops  # noqa: E402  (ops subclasses Function, defined above)
