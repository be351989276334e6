"""Checkpoints: model, optimizer, scheduler, epochs done, History and random state, to resume
training exactly.

``load_checkpoint`` is transactional: it reads and validates every field (the architecture
against the model's, each weight's shape and dtype, the optimizer's and scheduler's kind and
state, the random state, the History) into temporaries, and changes the model, the optimizer, the
scheduler and retroprop's random state only once everything has passed. Given only a path, it
rebuilds the model (and the optimizer and scheduler, when they were saved) from the file.
"""

from __future__ import annotations

import copy
import inspect
import math
from collections import OrderedDict, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from retroprop.architecture import describe, first_difference, model_config
from retroprop.containers import FileFormatError
from retroprop.history import History
from retroprop.random import default_generator
from retroprop.serialization import check_info, model_arrays, model_dtype, read_arrays, rebuild, write_arrays

__all__ = ["load_checkpoint", "save_checkpoint"]

_SCALAR_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                  "float16", "float32", "float64"}
_LOAD_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError)


# ---------------------------------------------------------------------------------------------
# Nested state <-> JSON plus arrays
# ---------------------------------------------------------------------------------------------
def _flatten(value: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON-able copy of ``value`` with every array moved into ``arrays`` under a path key."""
    if isinstance(value, np.ndarray):
        arrays[prefix] = value
        return {"__array__": prefix}
    if isinstance(value, np.generic):
        return {"__scalar__": value.item(), "dtype": str(value.dtype)}
    if isinstance(value, dict):
        if not all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in value):
            raise TypeError(f"save_checkpoint: cannot store dict keys {list(value)[:3]} at {prefix}")
        return {"__dict__": [[k, _flatten(v, f"{prefix}/{k}", arrays)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_flatten(v, f"{prefix}/{i}", arrays) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_flatten(v, f"{prefix}/{i}", arrays) for i, v in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "data") and isinstance(value.data, np.ndarray):  # a Tensor
        return _flatten(value.data, prefix, arrays)
    raise TypeError(f"save_checkpoint: cannot store {type(value).__name__} at {prefix}")


def _unflatten(value: Any, arrays: dict[str, np.ndarray], where: str, used: set[str]) -> Any:
    """The inverse of ``_flatten``, refusing anything ``_flatten`` cannot have written."""
    if isinstance(value, list):
        return [_unflatten(v, arrays, f"{where}[{i}]", used) for i, v in enumerate(value)]
    if isinstance(value, dict):
        keys = set(value)
        if keys == {"__array__"}:
            ref = value["__array__"]
            if not isinstance(ref, str) or ref not in arrays or ref.startswith("model/"):
                raise FileFormatError(f"{where}: refers to the array {str(ref)[:80]!r}, which the file "
                                      "does not hold")
            used.add(ref)
            return arrays[ref]
        if keys == {"__scalar__", "dtype"}:
            dtype, scalar = value["dtype"], value["__scalar__"]
            if dtype not in _SCALAR_DTYPES or isinstance(scalar, (str, list, dict)) or scalar is None:
                raise FileFormatError(f"{where}: a scalar must be a number with a numeric dtype, got "
                                      f"{str(scalar)[:40]} of {str(dtype)[:40]}")
            try:
                return np.array(scalar).astype(dtype, casting="same_kind")[()] if dtype != "bool" \
                    else np.bool_(scalar)
            except (TypeError, ValueError, OverflowError):
                raise FileFormatError(f"{where}: {str(scalar)[:40]} is not a valid {dtype}") from None
        if keys == {"__tuple__"} and isinstance(value["__tuple__"], list):
            items = value["__tuple__"]
            return tuple(_unflatten(v, arrays, f"{where}[{i}]", used) for i, v in enumerate(items))
        if keys == {"__dict__"} and isinstance(value["__dict__"], list):
            result: dict[Any, Any] = {}
            for pair in value["__dict__"]:
                if (not isinstance(pair, list) or len(pair) != 2 or isinstance(pair[0], bool)
                        or not isinstance(pair[0], (str, int)) or pair[0] in result):
                    raise FileFormatError(f"{where}: a dict entry must be a [key, value] pair with a new "
                                          f"string or integer key, got {str(pair)[:80]}")
                result[pair[0]] = _unflatten(pair[1], arrays, f"{where}[{pair[0]!r}]", used)
            return result
        raise FileFormatError(f"{where}: unrecognized entry with keys {sorted(keys)[:4]}")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise FileFormatError(f"{where}: unexpected {type(value).__name__}")


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------
def save_checkpoint(path: str | Path, model: Any, optimizer: Any = None, *, scheduler: Any = None,
                    epoch: int = 0, history: Any = None, info: dict[str, Any] | None = None) -> None:
    """Save everything needed to resume training exactly: model, optimizer and scheduler (state,
    kind and settings), the number of epochs done, the History so far and retroprop's random state.
    The file is written atomically."""
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
        raise ValueError(f"save_checkpoint: epoch must be a non-negative integer, got {epoch!r}")
    arrays: dict[str, np.ndarray] = OrderedDict(  # the arrays themselves: written before this returns
        (f"model/{name}", tensor.data) for name, tensor in model._state_tensors())
    state: dict[str, Any] = {
        "kind": "checkpoint",
        "architecture": model_config(model),
        "dtype": str(model.dtype),
        "epoch": int(epoch),
        "rng": default_generator().bit_generator.state,
    }
    if optimizer is not None:
        names = {id(p): name for name, p in model.named_parameters()}
        state["optimizer"] = _flatten(optimizer.state_dict(), "optimizer", arrays)
        state["optimizer_class"] = type(optimizer).__name__
        state["optimizer_defaults"] = _flatten(optimizer.defaults, "optimizer_defaults", arrays)
        state["optimizer_params"] = [[names.get(id(p)) for p in group["params"]]
                                     for group in optimizer.param_groups]
    if scheduler is not None:
        state["scheduler"] = _flatten(scheduler.state_dict(), "scheduler", arrays)
        state["scheduler_class"] = type(scheduler).__name__
    if history is not None:
        state["history"] = {"history": history.history, "epoch": history.epoch,
                            "step_loss": list(history._step_loss), "wall_time": history.wall_time}
    if info is not None:
        state["info"] = check_info(info, "save_checkpoint")
    write_arrays(path, arrays, state)


# ---------------------------------------------------------------------------------------------
# Validation of each field, into temporaries
# ---------------------------------------------------------------------------------------------
def _epoch(path: Path, metadata: dict[str, Any]) -> int:
    epoch = metadata.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise FileFormatError(f"{path}: field 'epoch' must be a non-negative integer, got {str(epoch)[:40]}")
    return epoch


def _rng(path: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    state = metadata.get("rng")
    bit_generator = default_generator().bit_generator
    scratch = type(bit_generator)()
    try:
        if not isinstance(state, dict):
            raise TypeError(f"expected an object, got {type(state).__name__}")
        scratch.state = state
    except _LOAD_ERRORS as err:
        raise FileFormatError(f"{path}: field 'rng' is not a valid {type(bit_generator).__name__} state "
                              f"({str(err)[:200]})") from None
    return state


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _only(values: list[Any], types: set[type]) -> bool:
    """Whether every item's exact type is one of ``types`` (at C speed: a History may be long)."""
    return set(map(type, values)) <= types


def _history(path: Path, metadata: dict[str, Any], model: Any) -> History:
    history = History()
    history.model = model
    saved = metadata.get("history")
    if saved is None:
        return history
    where = f"{path}: field 'history'"
    fields = {"history", "epoch", "step_loss", "wall_time"}
    if not isinstance(saved, dict) or set(saved) != fields:
        raise FileFormatError(f"{where} must be an object with exactly {', '.join(sorted(fields))}")
    where += ": its"
    logs, epochs, steps, wall_time = (saved[k] for k in ("history", "epoch", "step_loss", "wall_time"))
    if not isinstance(epochs, list) or not _only(epochs, {int}) or (epochs and min(epochs) < 0):
        raise FileFormatError(f"{where} 'epoch' entry must be a list of non-negative integers")
    if not isinstance(logs, dict) or not all(
            isinstance(v, list) and _only(v, {int, float, type(None)}) for v in logs.values()):
        raise FileFormatError(f"{where} 'history' entry must map names to lists of numbers")
    for key, values in logs.items():  # History.append adds a value to a key only in an epoch that logs it
        if len(values) > len(epochs):
            raise FileFormatError(f"{where} 'history' entry {key[:80]!r} holds {len(values)} values for "
                                  f"{len(epochs)} epochs")
    if not isinstance(steps, list) or not _only(steps, {int, float}):
        raise FileFormatError(f"{where} 'step_loss' entry must be a list of numbers")
    if not _number(wall_time) or not math.isfinite(wall_time) or wall_time < 0:
        raise FileFormatError(f"{where} 'wall_time' entry must be a non-negative number")
    history.history = {k: list(v) for k, v in logs.items()}
    history.epoch = list(epochs)
    history._step_loss = [float(x) for x in steps]
    history.wall_time = float(wall_time)
    return history


def _state_difference(saved: dict[str, np.ndarray], model: Any) -> str | None:
    own = dict(model._state_tensors())
    # buffers whose dtype does not follow the model's (Standardize's float64 statistics): an older
    # checkpoint holds them in the model's dtype, and loading casts them
    fixed = {f"{prefix}.{name}" if prefix else name for prefix, module in model.named_modules()
             for name in getattr(module, "fixed_dtype_buffers", ())}
    for key, tensor in own.items():  # in the model's order, so the first layer that differs comes first
        if key not in saved:
            return f"{key}: in the model, missing from the checkpoint"
        array, target = saved[key], tensor.data
        if array.shape != target.shape:
            return f"{key}: shape {array.shape} in the checkpoint, {target.shape} in the model"
        if key in fixed and array.dtype.kind == target.dtype.kind == "f":
            continue
        if array.dtype != target.dtype:
            return f"{key}: {array.dtype} in the checkpoint, {target.dtype} in the model"
    for key in saved:
        if key not in own:
            return f"{key}: in the checkpoint, not in the model"
    return None


def _check_fits(path: Path, metadata: dict[str, Any], model: Any, arrays: dict[str, np.ndarray]) -> None:
    """Refuse a checkpoint whose architecture or weights differ from ``model``'s, naming the first
    difference."""
    problems = []
    saved, current = metadata.get("architecture"), model_config(model)
    if saved is not None:
        try:
            saved, _ = describe(saved)
        except FileFormatError as err:
            raise FileFormatError(f"{path}: the saved architecture: {err}") from None
    if saved is not None and current is not None:
        difference = first_difference(saved, describe(current)[0])
        if difference:
            problems.append(difference)
    difference = _state_difference(arrays, model)
    if difference:
        problems.append(difference)
    if problems:
        raise FileFormatError(f"{path}: the checkpoint does not fit this model: {'; '.join(problems)}")


def _kind_check(path: Path, metadata: dict[str, Any], what: str, target: Any) -> None:
    saved = metadata.get(f"{what}_class")
    if saved is not None and saved != type(target).__name__:
        raise FileFormatError(f"{path}: the checkpoint holds {str(saved)[:40]} {what} state, not "
                              f"{type(target).__name__} state")


def _scratch_copy(optimizer: Any) -> Any:
    """A shallow copy of ``optimizer`` whose groups and state can change without touching it."""
    scratch = copy.copy(optimizer)
    scratch.param_groups = [dict(group) for group in optimizer.param_groups]
    scratch.state = defaultdict(dict)
    return scratch


def _staged_optimizer(path: Path, optimizer: Any, state: Any) -> Any:
    """A copy of ``optimizer`` with ``state`` loaded; ``optimizer`` itself is not touched."""
    scratch = _scratch_copy(optimizer)
    try:
        scratch.load_state_dict(state)
    except _LOAD_ERRORS as err:
        raise FileFormatError(f"{path}: field 'optimizer' does not fit this {type(optimizer).__name__}: "
                              f"{str(err)[:300]}") from None
    for index, entries in enumerate(scratch.state.values()):
        for name in scratch._state_counters:  # a negative step count makes Adam's bias correction NaN
            if entries.get(name, 0) < 0:
                raise FileFormatError(f"{path}: field 'optimizer': the {name} count of parameter {index} is "
                                      f"{entries[name]}; it must be non-negative")
    return scratch


def _same_kind(saved: Any, current: Any) -> bool:
    if current is None or saved is None:
        return saved is None or (current is None and _number(saved))
    if isinstance(current, bool) or isinstance(saved, bool):
        return isinstance(current, bool) and isinstance(saved, bool)
    if _number(current):
        return _number(saved)
    if isinstance(current, (list, tuple)):
        return isinstance(saved, (list, tuple)) and all(
            _same_kind(a, b) for a, b in zip(saved, current, strict=False))
    return type(saved) is type(current)


def _staged_scheduler(path: Path, cls: type, optimizer: Any, state: Any) -> dict[str, Any]:
    """The attributes a ``cls`` scheduler of ``optimizer`` has once ``state`` is loaded, checked and
    not applied: the saved settings pass the constructor's own checks (on a scratch copy of the
    optimizer), then the state is loaded and each entry compared in kind with the fresh scheduler's."""
    if not isinstance(state, dict):
        raise FileFormatError(f"{path}: field 'scheduler' must be an object")
    settings = dict(state)
    if "min_lrs" in settings:  # ReduceLROnPlateau keeps its min_lr argument as min_lrs
        settings["min_lr"] = settings["min_lrs"]
    accepted = [p for p in inspect.signature(cls).parameters if p not in ("optimizer", "last_epoch")]
    try:
        fresh = cls(_scratch_copy(optimizer), **{k: settings[k] for k in accepted if k in settings})
        staged = copy.copy(fresh)
        staged.load_state_dict(state)
    except _LOAD_ERRORS as err:
        raise FileFormatError(f"{path}: field 'scheduler' does not fit a {cls.__name__}: "
                              f"{str(err)[:300]}") from None
    for key, value in fresh.__dict__.items():
        if key != "optimizer" and not _same_kind(staged.__dict__[key], value):
            saved = str(staged.__dict__[key])[:40]
            raise FileFormatError(f"{path}: field 'scheduler': entry {key!r} is {saved}, expected a value "
                                  f"like {str(value)[:40]}")
    return {k: v for k, v in staged.__dict__.items() if k != "optimizer"}


# ---------------------------------------------------------------------------------------------
# Rebuilding an optimizer and a scheduler from the file
# ---------------------------------------------------------------------------------------------
def _class_from(module: Any, names: list[str], saved: Any, path: Path, what: str) -> type:
    if saved not in names:
        raise FileFormatError(f"{path}: field '{what}_class' must be one of {', '.join(names)}, got "
                              f"{str(saved)[:40]!r}")
    return getattr(module, saved)


def _rebuild_optimizer(path: Path, metadata: dict[str, Any], sections: dict[str, Any], model: Any) -> Any:
    from retroprop import optim

    names = [n for n in optim.__all__ if n not in ("Optimizer", "lr_scheduler")]
    cls = _class_from(optim, names, metadata.get("optimizer_class"), path, "optimizer")
    defaults, groups = sections.get("optimizer_defaults"), metadata.get("optimizer_params")
    named = dict(model.named_parameters())
    if not isinstance(defaults, dict) or not isinstance(groups, list) or not groups or not all(
            isinstance(g, list) and all(isinstance(n, str) and n in named for n in g) for g in groups):
        raise FileFormatError(f"{path}: fields 'optimizer_defaults' and 'optimizer_params' must give the "
                              "optimizer's settings and the model's parameter names of each group")
    accepted = inspect.signature(cls).parameters
    try:
        optimizer = cls([{"params": [named[n] for n in g]} for g in groups],
                        **{k: v for k, v in defaults.items() if k in accepted})
    except _LOAD_ERRORS as err:
        raise FileFormatError(f"{path}: field 'optimizer': cannot rebuild the {cls.__name__} optimizer: "
                              f"{str(err)[:300]}") from None
    staged = _staged_optimizer(path, optimizer, sections["optimizer"])
    optimizer.param_groups, optimizer.state = staged.param_groups, staged.state
    return optimizer


def _rebuild_scheduler(path: Path, metadata: dict[str, Any], state: Any, optimizer: Any) -> Any:
    from retroprop.optim import lr_scheduler

    names = [n for n in lr_scheduler.__all__ if n != "LRScheduler"]
    cls = _class_from(lr_scheduler, names, metadata.get("scheduler_class"), path, "scheduler")
    scheduler = cls.__new__(cls)  # the staged attributes are the whole scheduler but its optimizer
    scheduler.__dict__.update(_staged_scheduler(path, cls, optimizer, state), optimizer=optimizer)
    return scheduler


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------
def load_checkpoint(path: str | Path, model: Any = None, optimizer: Any = None, *,
                    scheduler: Any = None) -> dict[str, Any]:
    """Restore a checkpoint into ``model``/``optimizer``/``scheduler`` and retroprop's random state.

    Everything is validated first: a checkpoint of another architecture (the first difference is
    named), another optimizer or scheduler kind, or with any malformed field raises
    ``FileFormatError`` and changes nothing. With ``model`` left out, the model is rebuilt from the
    saved architecture, and so are the optimizer and the scheduler when the checkpoint holds them
    (with their kind, which checkpoints have recorded since this version; else they are None).

    Returns ``{"epoch": epochs done, "history": History, "model": ..., "optimizer": ...,
    "scheduler": ...}``; continue with ``rp.fit(..., initial_epoch=epoch, history=history)``.
    """
    path = Path(path)
    if model is None and (optimizer is not None or scheduler is not None):
        raise TypeError("load_checkpoint: pass the model along with its optimizer or scheduler, or only "
                        "the path to rebuild them all from the file")
    arrays, metadata = read_arrays(path)
    if metadata.get("kind") != "checkpoint":
        raise FileFormatError(f"{path}: not a checkpoint (it holds a model only; use rp.load)")
    epoch = _epoch(path, metadata)
    rng = _rng(path, metadata)
    model_dtype(path, metadata)
    weights = model_arrays(arrays)
    used: set[str] = set()
    sections = {key: _unflatten(metadata[key], arrays, f"{path}: field {key!r}", used)
                for key in ("optimizer", "optimizer_defaults", "scheduler") if key in metadata}
    orphans = [name for name in arrays if not name.startswith("model/") and name not in used]
    if orphans:
        raise FileFormatError(f"{path}: the array {orphans[0]!r} belongs to no field of the checkpoint")

    if model is None:
        model = rebuild(path, metadata, weights)
        # checkpoints from before the optimizer's kind was saved hold a state for a given optimizer
        if "optimizer" in sections and "optimizer_class" in metadata:
            optimizer = _rebuild_optimizer(path, metadata, sections, model)
            if "scheduler" in sections and "scheduler_class" in metadata:
                scheduler = _rebuild_scheduler(path, metadata, sections["scheduler"], optimizer)
        history = _history(path, metadata, model)
    else:
        _check_fits(path, metadata, model, weights)
        staged_optimizer = staged_scheduler = None
        if optimizer is not None:
            if "optimizer" not in sections:
                raise FileFormatError(f"{path}: the checkpoint holds no optimizer state")
            _kind_check(path, metadata, "optimizer", optimizer)
            staged_optimizer = _staged_optimizer(path, optimizer, sections["optimizer"])
        if scheduler is not None:
            if "scheduler" not in sections:
                raise FileFormatError(f"{path}: the checkpoint holds no scheduler state")
            _kind_check(path, metadata, "scheduler", scheduler)
            staged_scheduler = _staged_scheduler(path, type(scheduler), scheduler.optimizer,
                                                 sections["scheduler"])
        history = _history(path, metadata, model)
        # everything has validated: commit
        model.load_state_dict(weights)
        if staged_optimizer is not None:
            for group, new in zip(optimizer.param_groups, staged_optimizer.param_groups, strict=True):
                group.clear()
                group.update(new)
            optimizer.state = staged_optimizer.state
        if staged_scheduler is not None:
            scheduler.__dict__.update(staged_scheduler)
    default_generator().bit_generator.state = rng
    return {"epoch": epoch, "history": history, "model": model, "optimizer": optimizer,
            "scheduler": scheduler}
