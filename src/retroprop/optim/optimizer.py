"""The ``Optimizer`` base class: parameter groups, per-parameter state, ``zero_grad``, ``step``, and a
pickle-free ``state_dict`` (as ``torch.optim.Optimizer``).

Subclasses implement ``_step_group(group)``, which updates each parameter of one group in place
(``p.data`` is modified, never replaced: other code holds references to these arrays), and
``_check_options(options, where)``, which validates (and may normalize) one group's options.

Also here: the small helpers the optimizers share (argument checks, the weight-decayed gradient,
an in-place ``lerp``).
"""

from __future__ import annotations

import copy
import math
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from retroprop.tensor import Tensor, enable_grad, grad_array

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------
def check_real(owner: str, name: str, value: Any, *, low: float = 0.0, high: float = math.inf,
               low_open: bool = False, high_open: bool = True, where: str = "") -> float:
    """Raise unless ``value`` is a finite real number in the given interval; return it.

    The message names the owner, the argument, the allowed range and the value, e.g.
    ``SGD: momentum must be in [0, 1), got 1.5``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r} "
                        f"({type(value).__name__}){where}")
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if above and below and math.isfinite(value):
        return value
    if high == math.inf:
        allowed = f"{'>' if low_open else '>='} {low:g}"
    else:
        allowed = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    finite = "" if math.isnan(value) or not math.isinf(value) else "finite and "
    raise ValueError(f"{owner}: {name} must be {finite}{allowed}, got {value}{where}")


def check_int(owner: str, name: str, value: Any, *, low: int = 0, where: str = "") -> int:
    """Raise unless ``value`` is an integer >= ``low``; return it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an integer, got {value!r} "
                        f"({type(value).__name__}){where}")
    if value < low:
        raise ValueError(f"{owner}: {name} must be >= {low}, got {value}{where}")
    return int(value)


def decayed_grad(param: np.ndarray, grad: Any, weight_decay: float,
                 maximize: bool) -> tuple[np.ndarray, bool]:
    """The gradient to use: ``±grad + weight_decay * param`` (torch's L2 penalty, sign flipped when
    maximizing).

    Returns ``(g, owned)``. When neither option applies, ``g`` is ``grad`` itself and ``owned`` is
    False: the caller must not modify it. Otherwise ``g`` is a fresh array of the parameter's dtype
    and shape that the caller may overwrite. ``p.grad`` is never modified.
    """
    if weight_decay != 0:
        g = np.multiply(param, weight_decay, out=np.empty_like(param))
        if maximize:
            g -= grad
        else:
            g += grad
        return g, True
    if maximize:
        return np.negative(grad, out=np.empty_like(param)), True
    return grad, False


def lerp_(start: np.ndarray, end: Any, weight: float, scratch: np.ndarray) -> None:
    """``start += weight * (end - start)`` in place, with torch's two formulas for ``lerp_``.

    ``scratch`` is a temporary of ``start``'s shape that is overwritten.
    """
    np.subtract(end, start, out=scratch)
    if abs(weight) < 0.5:
        scratch *= weight
        start += scratch
    else:
        scratch *= 1.0 - weight
        np.subtract(end, scratch, out=start)


def _index_key(key: Any) -> Any:
    """A state-dict parameter index: ints as they are, and digit strings (a JSON round trip)."""
    if isinstance(key, str) and key.lstrip("-").isdigit():
        return int(key)
    return key


# ---------------------------------------------------------------------------------------------
# Optimizer
# ---------------------------------------------------------------------------------------------
class Optimizer:
    """Base class of all optimizers (as ``torch.optim.Optimizer``).

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts (parameter
    groups: ``{'params': [...], 'lr': ...}``) whose options override ``defaults``.
    """

    # Per-parameter state entries that are arrays shaped like the parameter (in its dtype), and
    # entries that are integer counters. load_state_dict checks and converts them.
    _state_arrays: ClassVar[tuple[str, ...]] = ()
    _state_counters: ClassVar[tuple[str, ...]] = ("step",)

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults: dict[str, Any] = dict(defaults)
        self._check_options(self.defaults, "")
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{self._name}: params must be an iterable of tensors or of dicts "
                            "(parameter groups), got a single Tensor; wrap it in a list")
        if isinstance(params, dict):
            params = [params]
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: optimizer got an empty parameter list "
                             "(was a generator such as model.parameters() already consumed?)")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    # -- to be implemented by subclasses --------------------------------------------------------
    def _check_options(self, options: dict[str, Any], where: str) -> None:
        """Validate (and normalize in place) one group's options; ``where`` ends each message."""

    def _step_group(self, group: dict[str, Any]) -> None:
        """Update, in place, every parameter of ``group`` that has a gradient."""
        raise NotImplementedError(f"{self._name} does not implement _step_group")

    # -- public API -----------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (the rest come from ``defaults``)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a parameter group must be a dict, "
                            f"got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{self._name}: a parameter group needs a 'params' entry, "
                             f"got keys {sorted(param_group)}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set | frozenset):
            raise TypeError(f"{self._name}: parameters must be in an ordered collection (a list), "
                            "not a set, whose order changes between runs")
        params = list(params)
        index = len(self.param_groups)
        tensors, names = [], []
        for i, item in enumerate(params):
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                names.append(item[0])
                item = item[1]
            if not isinstance(item, Tensor):
                raise TypeError(f"{self._name}: can only optimize retroprop Tensors, but parameter {i} "
                                f"of parameter group {index} is a {type(item).__name__}")
            if not item.is_leaf:
                raise ValueError(f"{self._name}: can't optimize a non-leaf Tensor (parameter {i} of "
                                 f"parameter group {index} was computed by an op)")
            tensors.append(item)
        if names and len(names) != len(tensors):
            raise ValueError(f"{self._name}: parameters must be all named or all unnamed "
                             f"(parameter group {index} mixes them)")
        group["params"] = tensors
        if names:
            group["param_names"] = names
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._check_options(group, f" (parameter group {index})")

        seen: dict[int, int] = {}
        for i, p in enumerate(tensors):
            if id(p) in seen:
                raise ValueError(f"{self._name}: parameter group {index} holds the same parameter "
                                 f"twice (positions {seen[id(p)]} and {i})")
            seen[id(p)] = i
        for k, other in enumerate(self.param_groups):
            if ("param_names" in other) != bool(names):
                raise ValueError(f"{self._name}: parameter groups must be all named or all unnamed; "
                                 f"parameter group {index} differs from group {k}")
            for p in other["params"]:
                if id(p) in seen:
                    raise ValueError(
                        f"{self._name}: some parameters appear in more than one parameter group "
                        f"(parameter {seen[id(p)]} of group {index} is already in group {k})")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to None (default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                grad = grad_array(p)
                if grad is None:
                    continue
                if set_to_none:
                    p._grad = None
                elif isinstance(grad, np.ndarray) and grad.flags.writeable:
                    p.zero_grad(set_to_none=False)  # in place, bumping .grad's version
                else:
                    p.grad = np.zeros_like(grad)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient.

        ``closure``, if given, re-evaluates the loss (with gradients enabled) before the update;
        its return value is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _grads(self, group: dict[str, Any]) -> Iterator[tuple[Tensor, Any]]:
        """The (parameter, gradient) pairs of ``group``, skipping gradients that are None."""
        for p in group["params"]:
            grad = grad_array(p)
            if grad is None:
                continue
            if np.shape(grad) != p.data.shape:
                self._check_grad_shape(group, p)
            yield p, grad

    def _check_grad_shape(self, group: dict[str, Any], p: Tensor) -> None:
        """Raise a clear error when ``p.grad`` does not have ``p``'s shape."""
        shape = np.shape(grad_array(p))
        if shape != p.data.shape:
            position = next(i for i, q in enumerate(group["params"]) if q is p)
            index = next(k for k, g in enumerate(self.param_groups) if g is group)
            raise ValueError(f"{self._name}: parameter {position} of parameter group {index} has "
                             f"shape {p.data.shape} but its gradient has shape {shape}")

    # -- state dict -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as plain data (as torch's).

        ``{'state': {index: {name: value}}, 'param_groups': [{option: value, 'params': [index]}]}``,
        where parameters are numbered in group order. State arrays are copies: later steps do not
        change a saved state dict.
        """
        indices: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [indices.setdefault(id(p), len(indices)) for p in group["params"]]
            groups.append(packed)
        state: dict[int, dict[str, Any]] = {}
        for group in self.param_groups:
            for p in group["params"]:
                entries = self.state.get(p)
                if entries:
                    state[indices[id(p)]] = {
                        k: v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v)
                        for k, v in entries.items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load a state made by ``state_dict`` (arrays are copied and cast to each parameter's dtype).

        The optimizer must have as many groups of the same sizes as the saved one; parameters are
        matched by position. Nothing changes if the state dict does not fit.
        """
        where = f"{self._name}.load_state_dict"
        if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError(f"{where}: expected a dict with 'state' and 'param_groups' entries")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{where}: the state dict has {len(saved_groups)} parameter group(s), "
                             f"but the optimizer has {len(self.param_groups)}")
        id_map: dict[Any, Tensor] = {}
        new_groups = []
        for k, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            saved_params = list(saved.get("params", ()))
            if len(saved_params) != len(group["params"]):
                raise ValueError(f"{where}: parameter group {k} of the state dict has "
                                 f"{len(saved_params)} parameter(s), but the optimizer's has "
                                 f"{len(group['params'])}")
            missing = sorted(set(self.defaults) - set(saved))
            if missing:
                raise ValueError(f"{where}: parameter group {k} of the state dict lacks the option(s) "
                                 f"{missing} (was it saved from another kind of optimizer?)")
            for saved_index, p in zip(saved_params, group["params"], strict=True):
                saved_index = _index_key(saved_index)
                if saved_index in id_map:
                    raise ValueError(f"{where}: parameter index {saved_index} appears twice")
                id_map[saved_index] = p
            new = {}
            for key, value in saved.items():
                if key == "params":
                    continue
                value = copy.deepcopy(value)
                if isinstance(group.get(key), tuple) and isinstance(value, list):
                    value = tuple(value)  # e.g. betas after a JSON round trip
                new[key] = value
            for key, value in group.items():  # keep what the saved group does not set (initial_lr)
                new.setdefault(key, value)
            new["params"] = group["params"]
            self._check_options(new, f" (parameter group {k} of the loaded state dict)")
            new_groups.append(new)

        new_state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, entries in state_dict["state"].items():
            index = _index_key(key)
            if index not in id_map:
                raise ValueError(f"{where}: the state dict has state for parameter index {key!r}, "
                                 f"which none of its parameter groups lists")
            p = id_map[index]
            loaded = {}
            for name, value in entries.items():
                if name in self._state_arrays or (
                        isinstance(value, np.ndarray) and name not in self._state_counters):
                    dtype = p.data.dtype if p.data.dtype.kind == "f" else None
                    array = np.array(value, dtype=dtype, copy=True)
                    if array.shape != p.data.shape:
                        raise ValueError(f"{where}: state '{name}' of parameter {index} has shape "
                                         f"{array.shape}, but the parameter has shape {p.data.shape}")
                    loaded[name] = array
                elif name in self._state_counters:
                    loaded[name] = int(np.asarray(value).item())
                else:
                    loaded[name] = copy.deepcopy(value)
            new_state[p] = loaded

        for group, new in zip(self.param_groups, new_groups, strict=True):
            group.clear()
            group.update(new)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join([*lines, ")"])
