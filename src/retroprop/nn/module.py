"""Module: the base of every layer, with PyTorch's names for walking, saving and switching modes."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from retroprop.nn.parameter import Parameter
from retroprop.tensor import Tensor, grad_array, no_grad

Hook = Callable[["Module", tuple[Any, ...], Any], Any]


class OutputHook:
    """A forward hook that reads only the layer's output (see ``register_forward_hook``)."""

    __slots__ = ("hook",)

    def __init__(self, hook: Hook) -> None:
        self.hook = hook

    def __call__(self, module: Module, inputs: Any, output: Any) -> Any:
        return self.hook(module, inputs, output)


class RemovableHandle:
    """Returned by ``register_forward_hook``; ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict[int, Hook]) -> None:
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class Module:
    """Base class for layers and models: holds parameters, buffers and child modules.

    Subclasses define ``forward``; calling the module runs ``forward`` and then its forward hooks.
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- attribute registration -------------------------------------------------------------
    # Parameters, buffers and child modules live in their registries (for walking the tree) and
    # also in the instance __dict__, so that reading ``self.weight`` in forward is a plain lookup.
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign '{name}' before Module.__init__() is called; call "
                f"super().__init__() first in {type(self).__name__}.__init__"
            )
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if isinstance(value, Parameter):
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value  # an existing name keeps its position
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to parameter '{name}' of "
                                f"{type(self).__name__}; expected nn.Parameter or None")
            params[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                value = Tensor(value)
            buffers[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to submodule '{name}' of "
                                f"{type(self).__name__}; expected a Module or None")
            del modules[name]
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value: Any) -> None:
        """A non-trainable array saved with the model (e.g. BatchNorm's running statistics)."""
        if value is not None and not isinstance(value, Tensor):
            value = Tensor(value)
        setattr(self, name, value)
        self._buffers[name] = value

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        setattr(self, name, param)
        if param is None:
            self._parameters[name] = None

    def add_module(self, name: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        setattr(self, name, module)

    # -- calling ------------------------------------------------------------------------------
    def forward(self, *args: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                result = hook(self, args, out)
                if result is not None:
                    out = result
        return out

    def register_forward_hook(self, hook: Hook, *, output_only: bool = False) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward; a non-None return replaces
        the output. Returns a handle whose ``remove()`` unregisters it.

        ``output_only=True`` promises that the hook reads only the output (it gets ``inputs=None``
        when the layer ran fused with the one before it): a ``Sequential`` then keeps running a
        Linear followed by this ReLU as one fused node, as it does without hooks.
        """
        if output_only:
            hook = OutputHook(hook)
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # -- walking the tree ---------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from self._modules.items()

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (named ``prefix``, '' at the root) and every descendant, dotted names."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{child_name}" if name else child_name, child)
                        for child_name, child in module._modules.items() if child is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    yield (f"{module_name}.{name}" if module_name else name), buffer

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every submodule (children first) and on this module."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -- modes and dtypes ---------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.parameters():
            param.zero_grad(set_to_none=set_to_none)

    # Buffers that keep their dtype under to()/float()/double() (e.g. Standardize's float64 statistics).
    fixed_dtype_buffers: tuple[str, ...] = ()

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """torch's ``Module.to``: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(tensor)``.
        Casts floating-point parameters and buffers in place (objects keep identity; the buffers a
        module names in ``fixed_dtype_buffers`` keep theirs); a device other than the CPU raises
        ``DeviceError``."""
        from retroprop.devices import parse_to

        dtype, _ = parse_to(args, kwargs, "Module.to")
        if dtype is None:
            return self
        if dtype.kind != "f":
            raise TypeError(f"Module.to: expected a floating-point dtype, got {dtype}")
        for module in self.modules():
            module._cast_own(dtype)
        return self

    def cpu(self) -> Module:
        """The module itself: retroprop runs on the CPU."""
        return self

    def cuda(self, device: Any = None) -> Module:
        """Raises ``DeviceError``: retroprop runs on the CPU only."""
        from retroprop.devices import cuda_error

        raise cuda_error("Module.cuda")

    def _cast_own(self, dtype: np.dtype) -> None:
        """Cast this module's own parameters and buffers (not its children's) for ``to``."""
        buffers = [b for name, b in self._buffers.items() if name not in self.fixed_dtype_buffers]
        for tensor in [*self._parameters.values(), *buffers]:
            if tensor is not None and tensor.data.dtype.kind == "f" and tensor.data.dtype != dtype:
                tensor.data = tensor.data.astype(dtype)
                grad = grad_array(tensor)
                if grad is not None:
                    tensor.grad = grad.astype(dtype)

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the first parameter (float32 for a module without parameters)."""
        for param in self.parameters():
            return param.dtype
        return np.dtype(np.float32)

    # -- state --------------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Copies of every parameter and buffer array, keyed by dotted name."""
        return OrderedDict((name, tensor.data.copy()) for name, tensor in self._state_tensors())

    def _state_tensors(self, prefix: str = "") -> list[tuple[str, Tensor]]:
        """Every parameter and buffer under every name it has (shared ones repeat), torch's order."""
        items = [(prefix + name, tensor) for registry in (self._parameters, self._buffers)
                 for name, tensor in registry.items() if tensor is not None]
        for name, child in self._modules.items():
            if child is not None:
                items.extend(child._state_tensors(f"{prefix}{name}."))
        return items

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> tuple[list[str], list[str]]:
        """Copy arrays into this module's parameters and buffers (in place, keeping identities).

        Raises KeyError on missing or unexpected keys (when ``strict``) and ValueError on a
        shape mismatch, naming every offending key. Returns (missing, unexpected).
        """
        own = dict(self._state_tensors())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {', '.join(unexpected)}")
        arrays = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            value = value.data if isinstance(value, Tensor) else np.asarray(value)
            if value.shape != target.shape:
                problems.append(f"{key}: saved shape {value.shape}, model shape {target.shape}")
            arrays[key] = value
        if problems:
            error = KeyError if all(p.startswith(("missing", "unexpected")) for p in problems) else ValueError
            raise error(f"load_state_dict into {type(self).__name__}: " + "; ".join(problems))
        with no_grad():
            for key, value in arrays.items():
                target = own[key]
                target.data[...] = value.astype(target.dtype, copy=False)
        return missing, unexpected

    # -- description --------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def label(self) -> str:
        """A short human label for messages, e.g. 'Linear 64→128'."""
        return type(self).__name__

    def _tree_repr(self) -> str:
        lines = []
        for name, child in self._modules.items():
            child_repr = child._tree_repr().replace("\n", "\n  ")
            count = sum(p.numel() for p in child.parameters())
            suffix = f"  # {count:,} params" if count and not child._modules else ""
            lines.append(f"  ({name}): {child_repr}{suffix}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"

    def __repr__(self) -> str:
        text = self._tree_repr()
        if self._modules:
            total, trainable = self.num_parameters(), self.num_parameters(trainable_only=True)
            text += f"\nTotal parameters: {total:,} ({trainable:,} trainable)"
        return text

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this layer (for saving without code)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not describe its architecture; save its state_dict and "
            "rebuild it in code, or give it a get_config()"
        )


def annotate_error(err: BaseException, name: str, module: Module) -> BaseException:
    """The same kind of error, its message prefixed with the layer's dotted name and label.

    Containers call this on errors raised inside a child, so that 'in layer 2 (Linear 64→128)'
    reaches the user however deep the failing layer sits.
    """
    inner = getattr(err, "retroprop_layer", None)
    path = name if inner is None else f"{name}.{inner}"
    label = getattr(err, "retroprop_label", None) or module.label()
    message = getattr(err, "retroprop_message", None) or str(err)
    where = f"layer '{path}'" if message.startswith(label) else f"layer '{path}' ({label})"
    try:
        annotated = type(err)(f"{where}: {message}")
    except Exception:  # an exception type whose constructor takes other arguments
        return err
    annotated.retroprop_layer = path  # type: ignore[attr-defined]
    annotated.retroprop_label = label  # type: ignore[attr-defined]
    annotated.retroprop_message = message  # type: ignore[attr-defined]
    return annotated
