"""``retroprop.autograd``: custom differentiable functions written as torch writes them.

``Function`` subclasses define ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` as
static methods on Tensors and are called through ``apply``; the result joins the same graph as
every built-in op (one node of the engine in ``retroprop.tensor``). ``grad`` returns gradients
without touching ``.grad``; ``backward`` accumulates them from several tensors at once.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from retroprop import tensor as _engine
from retroprop.backend import array_module
from retroprop.tensor import (
    ModifiedInPlaceError,
    ShapeError,
    Tensor,
    _new_object,
    no_grad,
    share_counter,
)

__all__ = ["Function", "FunctionCtx", "backward", "grad"]



class FunctionCtx:
    """The ``ctx`` that ``Function.forward`` and ``Function.backward`` receive: tensors saved for
    backward, which inputs need a gradient, and any attribute the function sets on it."""

    needs_input_grad: tuple[bool, ...]

    def __init__(self) -> None:
        self._function_name = "Function"
        self._saved: tuple[tuple[Tensor, list[Any], int, Any], ...] | None = None
        self._non_differentiable: list[Tensor] = []
        self._materialize_grads = True

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep ``tensors`` (or None) for ``backward``, read back with ``ctx.saved_tensors``. A
        tensor changed in place before backward makes ``saved_tensors`` raise ModifiedInPlaceError."""
        saved = []
        for i, t in enumerate(tensors):
            if t is None:
                saved.append(None)
                continue
            if not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save tensors (or None), but argument {i} "
                                f"is of type {type(t).__name__}")
            counter = _engine._counter(t)
            # the array too: while something besides its tensor holds it, Tensor.data hands out a view
            # that counts writes (x.data[...] = v)
            saved.append((t, counter, counter[_engine._VERSION], t._data))
        self._saved = tuple(saved)

    @property
    def saved_tensors(self) -> tuple[Tensor | None, ...]:
        """The tensors given to ``save_for_backward``, checked for in-place changes since then."""
        if self._saved is None:
            return ()
        out = []
        for i, entry in enumerate(self._saved):
            if entry is None:
                out.append(None)
                continue
            t, counter, version, _ = entry
            if counter[_engine._VERSION] != version:
                raise ModifiedInPlaceError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [{t.dtype} tensor of shape {tuple(t.shape)}], saved tensor {i} "
                    f"of {self._function_name}, is at version {counter[_engine._VERSION]}; expected "
                    f"version {version} instead. Change a copy (x.clone()), or run the forward pass "
                    "again after the change"
                )
            out.append(t)
        return tuple(out)

    def mark_non_differentiable(self, *outputs: Tensor) -> None:
        """These outputs get no gradient: they do not require grad, and backward receives zeros
        (or None, after ``set_materialize_grads(False)``) for them."""
        self._non_differentiable.extend(outputs)

    def set_materialize_grads(self, value: bool) -> None:
        """With False, backward receives None (not zeros) for outputs that got no gradient."""
        self._materialize_grads = bool(value)

    def mark_dirty(self, *tensors: Tensor) -> None:
        raise NotImplementedError(
            f"{self._function_name}: ctx.mark_dirty (an input changed in place by forward) is not "
            "supported; return a new tensor instead"
        )


class _OutputGrads:
    """The gradients of a multi-output function's outputs, one slot each (None: none arrived).
    Carried through the engine as a 0-d object array, so the engine sums them as any gradient."""

    __slots__ = ("grads",)

    def __init__(self, grads: list[Any]) -> None:
        self.grads = grads

    def __add__(self, other: _OutputGrads) -> _OutputGrads:
        return _OutputGrads([b if a is None else a if b is None else a + b
                             for a, b in zip(self.grads, other.grads, strict=True)])


class _FunctionNode(_engine.Function):
    """The engine's node for one call of a ``Function``: its inputs are the forward's arguments."""

    saves = ()
    function: type[Function]
    ctx: FunctionCtx
    outputs: tuple[tuple[tuple[int, ...], np.dtype] | None, ...]  # shape and dtype (None: not a Tensor)

    def backward(self, grad: Any) -> tuple[Any, ...]:
        if grad.dtype == object:  # several outputs: their gradients, gathered by _OutputSelect
            arrays = grad[()].grads
        else:
            arrays = [grad]
        ctx, name = self.ctx, type(self).__name__
        grad_outputs = []
        for array, meta in zip(arrays, self.outputs, strict=True):
            if array is None and ctx._materialize_grads and meta is not None:
                array = array_module(grad).zeros(meta[0], dtype=meta[1])
            grad_outputs.append(None if array is None else Tensor._make(array))
        with no_grad():
            result = self.function.backward(ctx, *grad_outputs)
        return _checked_gradients(result, self.inputs, self.needs_input_grad, name)


class _OutputSelect(_engine.Function):
    """Output ``index`` of a multi-output function: hands its gradient to the function's node."""

    saves = ()
    index: int
    count: int

    def backward(self, grad: Any) -> Any:
        slots: list[Any] = [None] * self.count
        slots[self.index] = grad
        carrier = np.empty((), dtype=object)
        carrier[()] = _OutputGrads(slots)
        return carrier


def _checked_gradients(result: Any, inputs: tuple[Any, ...], needs: tuple[bool, ...],
                       name: str) -> tuple[Any, ...]:
    """``backward``'s return value as one array (or None) per forward input, checked as torch's."""
    grads = result if isinstance(result, tuple) else (result,)
    if len(grads) != len(inputs) and not (len(grads) > len(inputs)
                                          and all(g is None for g in grads[len(inputs):])):
        raise RuntimeError(
            f"function {name} returned an incorrect number of gradients (expected {len(inputs)}, got "
            f"{len(grads)}): backward must return one gradient (or None) per forward input"
        )
    arrays: list[Any] = []
    for i, (g, x, need) in enumerate(zip(grads, inputs, needs, strict=False)):
        if g is None:
            arrays.append(None)
            continue
        if not isinstance(x, Tensor):
            raise RuntimeError(f"function {name} returned a gradient different than None at position {i}, "
                               f"but the corresponding forward input was not a Tensor "
                               f"({type(x).__name__})")
        if not isinstance(g, Tensor):
            raise TypeError(f"function {name} returned a gradient of type {type(g).__name__} at position "
                            f"{i}; expected a Tensor or None")
        if not need:
            arrays.append(None)
            continue
        array = g._data
        if array.shape != x.shape and not _expandable(x.shape, array.shape):
            raise ShapeError(f"function {name} returned an invalid gradient at index {i} - got "
                             f"{list(array.shape)} but expected shape compatible with {list(x.shape)}")
        # a view: the engine copies it before keeping it as a .grad (backward may return an array
        # that something else holds, such as a saved tensor's)
        arrays.append(array.view())
    return tuple(arrays)


def _expandable(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """True when ``shape`` broadcasts to exactly ``target`` (the gradient is then summed back)."""
    if len(shape) > len(target):
        return False
    return all(n == m or n == 1 for n, m in zip(reversed(shape), reversed(target), strict=False))


_NODE_CLASSES: dict[type, tuple[type[_FunctionNode], type[_OutputSelect]]] = {}


def _node_classes(cls: type[Function]) -> tuple[type[_FunctionNode], type[_OutputSelect]]:
    """The node classes of ``cls`` (named ``<cls>Backward``, as torch's ``grad_fn``), made once."""
    classes = _NODE_CLASSES.get(cls)
    if classes is None:
        name = f"{cls.__name__}Backward"
        classes = (type(name, (_FunctionNode,), {"function": cls, "__module__": cls.__module__}),
                   type(name, (_OutputSelect,), {"__module__": cls.__module__}))
        _NODE_CLASSES[cls] = classes
    return classes


class Function:
    """A differentiable function defined by its forward pass and its gradient (torch's
    ``torch.autograd.Function``)::

        class Exp(rp.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, grad_output):
                y, = ctx.saved_tensors
                return grad_output * y

        y = Exp.apply(x)

    ``forward`` receives the arguments of ``apply`` (tensors and anything else) and runs without
    recording a graph; it returns a Tensor or a tuple of them. ``backward`` receives one gradient
    per output and returns one per forward argument (None where there is none). ``forward`` may also
    take no ``ctx`` when the class defines ``setup_context(ctx, inputs, output)``.
    """

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        """The computation, on Tensors (grad recording is off)."""
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple[Any, ...], output: Any) -> Any:
        """Optional: fill ``ctx`` from the inputs and output when ``forward`` takes no ``ctx``."""
        raise NotImplementedError("setup_context is not overridden.")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        """The gradients of the forward's arguments given those of its outputs."""
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"{type(self).__name__}: custom autograd Functions are not instantiated; call "
                           f"{type(self).__name__}.apply(...) with the forward's arguments")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` on ``args`` and, when an input requires grad, join the result to the graph."""
        uses_setup = cls.setup_context is not Function.setup_context
        if kwargs or uses_setup:  # bound to positions (defaults too, for setup_context's inputs, as torch)
            signature = inspect.signature(cls.forward)
            bound = (signature.bind(*args, **kwargs) if uses_setup
                     else signature.bind(None, *args, **kwargs))
            bound.apply_defaults()
            args = bound.args if uses_setup else bound.args[1:]
            if bound.kwargs:
                raise TypeError(f"{cls.__name__}.apply: keyword-only arguments of forward are not supported")
        # which inputs require grad (as torch's, also under no_grad, where no graph is recorded)
        needs = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        node_class, select_class = _node_classes(cls)
        ctx = FunctionCtx()
        ctx._function_name = node_class.__name__
        ctx.needs_input_grad = needs
        with no_grad():
            if uses_setup:
                output = cls.forward(*args)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args)
        single = not isinstance(output, tuple)
        outputs = (output,) if single else output
        if not outputs:
            raise RuntimeError(f"{cls.__name__}.forward returned an empty tuple; return a Tensor or a "
                               "tuple of Tensors")
        if not _engine.is_grad_enabled() or not any(needs):
            return output
        results: list[Any] = []
        for out in outputs:
            if isinstance(out, Tensor):  # one tensor returned twice: two outputs, two tensors
                out = _fresh(out, (*args, *results))
            results.append(out)
        differentiable = [isinstance(out, Tensor) and out._data.dtype.kind == "f"
                          and not any(out is o for o in ctx._non_differentiable)
                          for out in outputs]
        if not any(differentiable):
            return output if single else tuple(results)
        node = _new_object(node_class)
        node.inputs = args
        node.needs_input_grad = needs
        node.ctx = ctx
        node.outputs = tuple((out.shape, out.dtype) if isinstance(out, Tensor) else None for out in outputs)
        node.sequence = next(_engine._sequence)
        if single:
            out = results[0]
            out._ctx, out._requires_grad = node, True
            return out
        carrier = Tensor._make(np.empty((), dtype=object))
        carrier._ctx, carrier._requires_grad = node, True
        for index, (out, d) in enumerate(zip(results, differentiable, strict=True)):
            if not d:
                continue
            select = _new_object(select_class)
            select.inputs, select.needs_input_grad = (carrier,), (True,)
            select.index, select.count = index, len(results)
            select.sequence = next(_engine._sequence)
            out._ctx, out._requires_grad = select, True
        return tuple(results)


def _fresh(out: Tensor, args: tuple[Any, ...]) -> Tensor:
    """``out`` itself when forward made it; a new tensor sharing its array (and version counter)
    when it is one of the inputs or already in a graph, whose history must stay as it is."""
    if out._ctx is None and not out._requires_grad and not any(out is a for a in args):
        counter = out._vc
        if counter is not None and any(isinstance(a, Tensor) and a._vc is counter for a in args):
            _mark_graph_view(counter)  # a view of an input (x.view(...) in forward)
        return out
    alias = Tensor._make(out._data)
    share_counter(out, alias)
    _mark_graph_view(alias._vc)  # the alias joins the graph
    return alias


def _mark_graph_view(counter: list[Any] | None) -> None:
    """Memory that a tensor in the graph views: recorded in-place changes of it are refused (see
    the notes on version counters in tensor.py)."""
    if counter is not None and counter is not _engine._KEPT and len(counter) == 2:
        counter.append(True)


# ---------------------------------------------------------------------------------------------
# grad and backward
# ---------------------------------------------------------------------------------------------
def _as_tuple(value: Any, what: str) -> tuple[Any, ...]:
    if isinstance(value, Tensor):
        return (value,)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return tuple(value)
    raise TypeError(f"{what} must be a Tensor or a sequence of Tensors, got {type(value).__name__}")


def _roots(tensors: tuple[Tensor, ...], grads: Any, where: str) -> dict[Tensor, tuple[Any, bool]]:
    """The starting gradients of backpropagation, one per (distinct) tensor."""
    seeds = (None,) * len(tensors) if grads is None else _as_tuple(grads, f"{where}: grad_outputs")
    if len(seeds) != len(tensors):
        raise ValueError(f"{where}: got {len(seeds)} gradient(s) for {len(tensors)} tensor(s); pass one "
                         "per tensor (None for a scalar)")
    pending: dict[Tensor, tuple[Any, bool]] = {}
    for i, (t, seed) in enumerate(zip(tensors, seeds, strict=True)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{where}: element {i} is a {type(t).__name__}, not a Tensor")
        if not t._requires_grad:
            raise RuntimeError(f"{where}: element {i} of tensors does not require grad and does not have "
                               "a grad_fn")
        array = _engine._seed(t, seed, where)
        previous = pending.get(t)
        pending[t] = (array if previous is None else previous[0] + array, True)
    return pending


def _run(pending: dict[Tensor, tuple[Any, bool]], retain_graph: bool,
         sink: dict[Tensor, Any] | None) -> None:
    """Leaf roots take their gradient directly; the others backpropagate together."""
    inner = {}
    for t, (array, owned) in pending.items():
        if t._ctx is not None:
            inner[t] = (array, owned)
        elif sink is None:
            _engine._accumulate_leaf(t, array, owned=True)
        elif t in sink:
            sink[t] = array.copy() if sink[t] is None else sink[t] + array
    if inner:
        with np.errstate(all="ignore"):  # inf and NaN gradients are results, as torch's
            _engine._propagate(inner, retain_graph, sink)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Tensor | Sequence[Tensor | None] | None = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None,
         materialize_grads: bool = False) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, as a tuple of Tensors (torch's
    ``torch.autograd.grad``); no ``.grad`` is changed. ``grad_outputs``: the gradient of each
    output (None for a scalar: ones). An input the outputs do not depend on raises, or gives None
    with ``allow_unused=True`` (zeros with ``materialize_grads=True``)."""
    if create_graph:
        raise NotImplementedError("grad(create_graph=True): retroprop computes gradients on arrays, "
                                  "without a graph of the backward pass (no double backward)")
    roots = _as_tuple(outputs, "grad: outputs")
    targets = _as_tuple(inputs, "grad: inputs")
    if allow_unused is None:
        allow_unused = materialize_grads
    for i, t in enumerate(targets):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: inputs[{i}] is a {type(t).__name__}, not a Tensor")
        if not t._requires_grad:
            raise RuntimeError(f"grad: One of the differentiated Tensors (inputs[{i}]) does not require grad")
    sink: dict[Tensor, Any] = dict.fromkeys(targets)
    _run(_roots(roots, grad_outputs, "grad"), bool(retain_graph), sink)
    result: list[Tensor | None] = []
    for i, t in enumerate(targets):
        array = sink[t]
        if array is None:
            if not allow_unused:
                raise RuntimeError(f"grad: One of the differentiated Tensors (inputs[{i}]) appears to not "
                                   "have been used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
            result.append(Tensor._make(array_module(t._data).zeros_like(t._data)) if materialize_grads
                          else None)
            continue
        result.append(Tensor._make(array if array.dtype == t.dtype else array.astype(t.dtype)))
    return tuple(result)


def backward(tensors: Tensor | Sequence[Tensor], grad_tensors: Tensor | Sequence[Tensor | None] | None = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Tensor | Sequence[Tensor] | None = None) -> None:
    """Accumulate into the leaves' ``.grad`` the gradients of the sum of ``tensors`` (each weighted
    by its ``grad_tensors`` entry; None for a scalar), in one pass (torch's
    ``torch.autograd.backward``). ``inputs``: accumulate into these tensors' ``.grad`` only."""
    if create_graph:
        raise NotImplementedError("backward(create_graph=True): retroprop computes gradients on arrays, "
                                  "without a graph of the backward pass (no double backward)")
    pending = _roots(_as_tuple(tensors, "backward: tensors"), grad_tensors, "backward")
    if inputs is None:
        _run(pending, bool(retain_graph), None)
        return
    targets = _as_tuple(inputs, "backward: inputs")
    sink: dict[Tensor, Any] = dict.fromkeys(targets)
    _run(pending, bool(retain_graph), sink)
    for t in targets:
        if sink[t] is not None:
            array = sink[t] if sink[t].dtype == t.dtype else sink[t].astype(t.dtype)
            _engine._accumulate_leaf(t, array, owned=True)
