"""Sequential: layers applied one after another, indexable and editable by position or name."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from retroprop.nn.activation import ReLU
from retroprop.nn.linear import Linear
from retroprop.nn.module import Module, OutputHook, annotate_error
from retroprop.tensor import ShapeError


def _outputs_only(hooks: OrderedDict[int, Any]) -> bool:
    """True when no hook needs a layer's input (none at all, or only output hooks)."""
    return all(type(hook) is OutputHook for hook in hooks.values())


class Sequential(Module):
    """Apply modules in order. ``Sequential(a, b)`` names them '0', '1'; an OrderedDict names them."""

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (OrderedDict, dict)):
            for name, module in modules[0].items():
                self._check(module, name)
                self.add_module(str(name), module)
        else:
            for index, module in enumerate(modules):
                self._check(module, str(index))
                self.add_module(str(index), module)

    @staticmethod
    def _check(module: Any, where: str) -> None:
        if not isinstance(module, Module):
            raise TypeError(
                f"Sequential: item {where} must be a Module (e.g. nn.Linear(4, 8) or nn.ReLU()), got "
                f"{type(module).__name__}"
            )

    def forward(self, x: Any) -> Any:
        layers = list(self._modules.items())
        count = len(layers)
        i = 0
        while i < count:
            name, module = layers[i]
            try:
                if module._forward_hooks:
                    x = module(x)
                elif (type(module) is Linear and i + 1 < count and type(layers[i + 1][1]) is ReLU
                      and (not (hooks := layers[i + 1][1]._forward_hooks) or _outputs_only(hooks))):
                    # Linear then ReLU, the pair observed by no hook that needs the ReLU's input:
                    # one fused node, same numbers
                    x = module.forward_relu(x)
                    i += 1
                    relu = layers[i][1]
                    for hook in list(relu._forward_hooks.values()):
                        result = hook(relu, None, x)
                        if result is not None:
                            x = result
                else:  # a module without hooks runs through forward() directly: one call less
                    x = module.forward(x)
            except (ShapeError, ValueError, TypeError, IndexError) as err:
                raise annotate_error(err, name, module) from err
            i += 1
        return x

    # -- list-like access ---------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def _name_at(self, index: int | str) -> str:
        if isinstance(index, str):
            if index not in self._modules:
                raise KeyError(f"Sequential has no layer named {index!r}; names: {list(self._modules)}")
            return index
        size = len(self._modules)
        if not -size <= index < size:
            raise IndexError(f"Sequential index {index} out of range for {size} layers")
        return list(self._modules)[index % size]

    def __getitem__(self, index: int | str | slice) -> Any:
        if isinstance(index, slice):
            items = list(self._modules.items())[index]
            if self._default_names():
                return Sequential(*(m for _, m in items))
            return Sequential(OrderedDict(items))
        return self._modules[self._name_at(index)]

    def __setitem__(self, index: int | str, module: Module) -> None:
        self.replace(index, module)

    def __delitem__(self, index: int | str) -> None:
        delattr(self, self._name_at(index))
        self._renumber()

    def _default_names(self) -> bool:
        return list(self._modules) == [str(i) for i in range(len(self._modules))]

    def _renumber(self) -> None:
        if all(name.isdigit() for name in self._modules):
            modules = list(self._modules.values())
            for name in list(self._modules):
                delattr(self, name)
            for i, module in enumerate(modules):
                setattr(self, str(i), module)

    def append(self, module: Module, name: str | None = None) -> Sequential:
        """Add a layer at the end."""
        return self.insert(len(self), module, name)

    def insert(self, index: int, module: Module, name: str | None = None) -> Sequential:
        """Insert a layer before position ``index``; numbered names are renumbered."""
        self._check(module, str(index))
        size = len(self._modules)
        if not -size <= index <= size:
            raise IndexError(f"Sequential.insert: index {index} out of range for {size} layers")
        index = max(0, size + index) if index < 0 else index  # as list.insert
        items = list(self._modules.items())
        numbered = self._default_names()
        if name is None:
            if not numbered:
                raise ValueError("Sequential.insert: this Sequential names its layers; pass name=")
            name = str(size)  # placeholder, renumbered below
        elif name in self._modules:
            raise KeyError(f"Sequential.insert: a layer named {name!r} exists already")
        items.insert(index, (name, module))
        for key in list(self._modules):
            delattr(self, key)
        for i, (key, value) in enumerate(items):
            setattr(self, str(i) if numbered else key, value)
        return self

    def replace(self, index: int | str, module: Module) -> Module:
        """Put ``module`` in place of the layer at ``index`` (position or name); return the old one."""
        self._check(module, str(index))
        name = self._name_at(index)
        old = self._modules[name]
        setattr(self, name, module)
        return old

    def get_config(self) -> dict[str, Any]:
        return {}
