"""Experiment specs: one YAML or JSON file that says what to train, on what, and how.

A spec names the data (a built-in set or the user's own file) and its split, the model's layers, the
loss, the optimizer and its learning-rate schedule, the epochs, batch size and seed, and the doctor's
settings. ``load_spec`` reads a file, ``parse_spec`` a dict; both validate everything before anything
is built, and a bad spec raises ``SpecError`` with one line that names the field::

    model.layers[2].p: must be between 0 and 1, got 1.5

The schema is a set of pydantic models (``retroprop.spec.schema``: one per layer type, optimizer,
schedule and data source, told apart by their ``type``/``name``); a validated spec becomes the tree
of frozen dataclasses here (``ExperimentSpec`` at the top), whose ``to_dict`` ``parse_spec`` reads
again. The ``build_*`` methods turn it into the data (``retroprop.data.prepare``), the model (through
``nn.LAYERS``), optimizer, scheduler and doctor that ``rp.fit`` takes; ``train`` does all of it.
Files are read by ``retroprop.spec.files``; the examples are in ``retroprop.spec.examples``. Every
field, its default and range is in docs/spec.md. Needs pydantic; YAML needs PyYAML
(``pip install retroprop[cli]``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from retroprop.data.prepare import BUILTIN_SETS, DataSourceError, Prepared, prepare_builtin, prepare_files
from retroprop.spec.examples import SPEC_EXAMPLES
from retroprop.spec.schema import (
    _BINARY_LOSSES,
    _DATA,
    _FILE_OWNERS,
    _FILES,
    _LAYERS,
    _MSE_LOSSES,
    _NLL_LOSSES,
    _OPTIMIZERS,
    _SCHEDULES,
    DATASETS,
    LAYER_TYPES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_PARAMETERS,
    MAX_UNITS,
    MAX_VALUES,
    OPTIMIZERS,
    SCHEDULES,
    _Doctor,
    _Model,
    _output_units,
    _show,
    _size_problem,
    _Spec,
    _units_problem,
)

if TYPE_CHECKING:
    from retroprop.doctor import Doctor
    from retroprop.nn import Module, Sequential
    from retroprop.optim import Optimizer
    from retroprop.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
    from retroprop.training import History

__all__ = ["DATASETS", "LAYER_TYPES", "MAX_DEPTH", "MAX_FILE_BYTES", "MAX_PARAMETERS", "MAX_UNITS",
           "MAX_VALUES", "OPTIMIZERS", "SCHEDULES", "SPEC_EXAMPLES", "DataSpec", "DoctorSpec",
           "ExperimentSpec", "LayerSpec", "ModelSpec", "OptimizerSpec", "Prepared", "ScheduleSpec",
           "SpecError", "load_spec", "parse_spec"]


class SpecError(ValueError):
    """A spec that cannot be used, in one line: ``"<path>: <what is wrong>, got <value>"``.

    ``path`` is the field's path (``model.layers[2].p``), or None when the problem is the file itself
    (then the message starts with the file's name). ``source`` is the file (or the ``source`` given
    to ``parse_spec``); ``line`` is the field's line in a YAML file when known. ``location`` joins
    the two for a command line: ``"spec.yaml, line 12"``.
    """

    def __init__(self, message: str, path: str | None = None, *, source: str | None = None,
                 line: int | None = None) -> None:
        super().__init__(message)
        self.path, self.source, self.line = path, source, line

    @property
    def parts(self) -> tuple[str | int, ...]:
        """The field's path as keys and list positions: ``("model", "layers", 2, "p")``."""
        return tuple(key if index == "" else int(index)
                     for key, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", self.path or ""))

    @property
    def location(self) -> str | None:
        if self.source is None:
            return None
        return self.source if self.line is None else f"{self.source}, line {self.line}"


# ---------------------------------------------------------------------------------------------
# The validated spec: frozen dataclasses (made in Python, they are checked by validate())
# ---------------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """Dataclasses as dicts without their None fields, tuples as lists: JSON-able data."""
    if dataclasses.is_dataclass(value):
        fields = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
        return {name: _plain(v) for name, v in fields if v is not None}
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def _set_options(obj: Any, skip: str) -> dict[str, Any]:
    return {k: v for k, v in _plain(obj).items() if k != skip}


@dataclass(frozen=True)
class DataSpec:
    """A built-in data set (``name``, its generator's options) or a file (``file``, or ``x_file`` and
    ``y_file``), and the split. Options left None take their defaults (``parse_spec`` fills them in)."""

    name: str | None = None
    test_size: float | None = None
    seed: int | None = None
    standardize: bool = True
    n_samples: int | None = None
    n_classes: int | None = None
    noise: float | None = None
    factor: float | None = None
    n_train: int | None = None
    n_test: int | None = None
    file: str | None = None
    label: str | int | None = None
    header: bool | None = None
    delimiter: str | None = None
    x: str | None = None
    y: str | None = None
    x_file: str | None = None
    y_file: str | None = None
    validation_file: str | None = None
    validation_x_file: str | None = None
    validation_y_file: str | None = None

    @property
    def num_classes(self) -> int | None:
        """How many classes a built-in set has (known before loading it); None for a file."""
        if self.name is None:
            return None
        default = _DATA[self.name].model_fields.get("n_classes")
        return BUILTIN_SETS[self.name].n_classes or self.n_classes or default.default

    @property
    def num_features(self) -> int | None:
        """How many input features a built-in set has; None for a file."""
        return None if self.name is None else BUILTIN_SETS[self.name].n_features

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True)
class LayerSpec:
    """One layer. ``units`` is the width of a linear layer (None on the last one: as many as the
    loss needs); the other options belong to one type each."""

    type: str
    units: int | None = None
    init: str | None = None
    negative_slope: float | None = None
    alpha: float | None = None
    approximate: str | None = None
    p: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True)
class ModelSpec:
    """A stack of layers (an ``nn.Sequential``) that ends in a linear layer."""

    layers: tuple[LayerSpec, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True)
class OptimizerSpec:
    """The optimizer and its options (None: the optimizer's default, as PyTorch's)."""

    name: str
    lr: float
    momentum: float | None = None
    dampening: float | None = None
    nesterov: bool | None = None
    weight_decay: float | None = None
    betas: tuple[float, float] | None = None
    eps: float | None = None
    amsgrad: bool | None = None
    alpha: float | None = None
    centered: bool | None = None
    lr_decay: float | None = None
    initial_accumulator_value: float | None = None

    def options(self) -> dict[str, Any]:
        """The keyword arguments of the optimizer's constructor that are set."""
        return {k: tuple(v) if k == "betas" else v for k, v in _set_options(self, "name").items()}

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True)
class ScheduleSpec:
    """A learning-rate schedule, stepped once per epoch (``plateau`` watches the validation loss)."""

    name: str
    step_size: int | None = None
    gamma: float | None = None
    T_max: int | None = None  # torch's name
    eta_min: float | None = None
    start_factor: float | None = None
    end_factor: float | None = None
    total_iters: int | None = None
    mode: str | None = None
    factor: float | None = None
    patience: int | None = None
    threshold: float | None = None
    threshold_mode: str | None = None
    cooldown: int | None = None
    min_lr: float | None = None
    eps: float | None = None

    def options(self) -> dict[str, Any]:
        return _set_options(self, "name")

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True)
class DoctorSpec:
    """The doctor: on or off, whether it repairs, how often it probes (None: its own pace) and how
    many epochs a repaired run may add (``make_up``, a share of ``epochs``)."""

    enabled: bool = True
    repair: bool = False
    every: int | None = None
    make_up: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True, kw_only=True)
class ExperimentSpec:
    """A whole experiment. Read one with ``load_spec(path)`` or ``parse_spec(dict)``."""

    name: str | None = None
    data: DataSpec
    model: ModelSpec
    loss: str = "cross_entropy"
    optimizer: OptimizerSpec
    schedule: ScheduleSpec | None = None
    epochs: int
    batch_size: int = 32
    seed: int = 0
    doctor: DoctorSpec = dataclasses.field(default_factory=DoctorSpec)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "spec") -> ExperimentSpec:
        return parse_spec(data, source)

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain JSON-able data, every default spelled out; ``parse_spec`` reads it back."""
        return _plain(self)

    def validate(self) -> ExperimentSpec:
        """Check a spec made in Python (the constructors do not): the same spec through
        ``parse_spec``, with its defaults filled in."""
        return parse_spec(self.to_dict())

    def with_overrides(self, *, epochs: int | None = None, lr: float | None = None,
                       batch_size: int | None = None, seed: int | None = None,
                       source: str = "the command line") -> ExperimentSpec:
        """This spec with some common fields changed, checked again (SpecError names the field). A
        cosine schedule whose ``T_max`` was the epochs follows the new epochs."""
        data = self.to_dict()
        changes = {"epochs": epochs, "batch_size": batch_size, "seed": seed}
        data.update({k: v for k, v in changes.items() if v is not None})
        if lr is not None:
            data["optimizer"]["lr"] = lr
        schedule = data.get("schedule")
        if (epochs is not None and schedule and schedule["name"] == "cosine"
                and schedule["T_max"] == self.epochs):
            schedule["T_max"] = epochs  # it followed the epochs
        return parse_spec(data, source)

    # -- builders -------------------------------------------------------------------------------
    def _target_kind(self) -> Literal["labels", "binary", "onehot", "values"]:
        if self.loss in _BINARY_LOSSES:
            return "binary"
        if self.loss in _MSE_LOSSES:
            return "onehot" if self.data.name is not None else "values"
        return "labels"

    def build_data(self) -> Prepared:
        """Load, generate or read the data, split it (stratified, seeded by ``data.seed``) and scale it
        with the training part's statistics (``data.standardize``). A file that cannot be used, or
        data that does not suit the loss, raises SpecError naming the field."""
        data = self.data
        if data.name is None:
            options = {k: v for k, v in _plain(data).items() if k not in ("name", "standardize")}
            try:
                return prepare_files(**options, standardize=data.standardize, kind=self._target_kind())
            except DataSourceError as err:
                path = "loss" if err.option == "kind" else f"data.{err.option}"
                text = f"the loss {self.loss} {err}" if err.option == "kind" else str(err)
                got = f", got {_show(data.test_size or 0.25)}" if err.option == "test_size" else ""
                raise SpecError(f"{path}: {text}{got}", path) from None
        options = {k: getattr(data, k) for k in DATASETS[data.name].options if getattr(data, k) is not None}
        seed = data.seed if data.seed is not None else _DATA[data.name].model_fields["seed"].default
        return prepare_builtin(data.name, seed=seed, test_size=data.test_size or 0.25,
                               standardize=data.standardize, kind=self._target_kind(), **options)

    def output_units(self, n_classes: int) -> int:
        """The width of the last layer that the loss needs: 1 for a binary loss, else ``n_classes``."""
        return _output_units(self.loss, n_classes)

    def build_model(self, n_features: int, n_classes: int) -> Sequential:
        """The model as an ``nn.Sequential`` of ``nn.LAYERS`` classes, its weights drawn after
        ``rp.manual_seed(seed)``. With an NLL loss a ``LogSoftmax`` follows the last linear layer."""
        from retroprop import nn
        from retroprop.random import manual_seed

        layers, out = self.model.layers, self.output_units(n_classes)
        last = len(layers) - 1
        for i, layer in enumerate(layers):
            if layer.type == "linear" and layer.units is None and i != last:
                raise SpecError(f"model.layers[{i}].units: missing required field (only the last linear "
                                "layer may leave it out)", f"model.layers[{i}].units")
        units = layers[last].units
        problem = None if units is None else _units_problem(units, self.loss, n_classes)
        if problem:
            raise SpecError(f"model.layers[{last}].units: {problem}, got {layers[last].units}",
                            f"model.layers[{last}].units")
        if found := _size_problem(layers, n_features, out):
            path = f"model.layers[{found[0]}]" + (".units" if layers[found[0]].type == "linear" else "")
            raise SpecError(f"{path}: {found[1]}", path)
        manual_seed(self.seed)
        modules: list[Module] = []
        width = n_features
        for layer in layers:
            cls = nn.LAYERS[_LAYERS[layer.type].__name__[1:]]
            if layer.type == "linear":
                units = layer.units or out
                modules.append(cls(width, units, init=layer.init))
                width = units
            elif layer.type == "batchnorm":
                modules.append(cls(width))
            else:
                modules.append(cls(**_set_options(layer, "type")))
        if self.loss in _NLL_LOSSES:
            modules.append(nn.LogSoftmax())
        return nn.Sequential(*modules)

    def build_optimizer(self, model: Module) -> Optimizer:
        """The optimizer over ``model.parameters()``."""
        from retroprop import optim

        cls = getattr(optim, _OPTIMIZERS[self.optimizer.name].__name__[1:])
        return cls(model.parameters(), **self.optimizer.options())

    def build_scheduler(self, optimizer: Optimizer) -> LRScheduler | ReduceLROnPlateau | None:
        """The learning-rate scheduler for ``optimizer``, or None without a schedule."""
        if self.schedule is None:
            return None
        from retroprop.optim import lr_scheduler

        options = self.schedule.options()
        if self.schedule.name == "cosine":
            options.setdefault("T_max", self.epochs)
        return getattr(lr_scheduler, _SCHEDULES[self.schedule.name].__name__[1:])(optimizer, **options)

    def build_doctor(self) -> Doctor | bool:
        """An ``rp.Doctor`` with the spec's settings, or False when the doctor is off."""
        if not self.doctor.enabled:
            return False
        from retroprop.doctor import Doctor

        return Doctor(every=self.doctor.every, repair=self.doctor.repair, make_up=self.doctor.make_up)

    def fit_kwargs(self) -> dict[str, Any]:
        """``epochs``, ``batch_size``, ``seed`` and ``loss`` for ``rp.fit``."""
        return {"epochs": self.epochs, "batch_size": self.batch_size, "seed": self.seed, "loss": self.loss}

    def train(self, *, verbose: int = 0, callbacks: Sequence[Any] = (), data: Prepared | None = None,
              doctor: Any = None) -> History:
        """Build everything and run ``rp.fit`` with the validation split; returns the ``History``
        (the model is ``history.model``). ``data`` reuses data already built; ``doctor`` (a
        ``Doctor`` or False) replaces the one the spec describes."""
        from retroprop.training import fit

        prepared = self.build_data() if data is None else data
        model = self.build_model(prepared.n_features, prepared.n_classes)
        optimizer = self.build_optimizer(model)
        return fit(model, prepared.x_train, prepared.y_train, optimizer=optimizer,
                   scheduler=self.build_scheduler(optimizer),
                   validation_data=(prepared.x_val, prepared.y_val),
                   doctor=self.build_doctor() if doctor is None else doctor,
                   callbacks=list(callbacks), verbose=verbose, **self.fit_kwargs())


# ---------------------------------------------------------------------------------------------
# Parsing: pydantic's errors as one line with the field's path
# ---------------------------------------------------------------------------------------------
def parse_spec(data: Mapping[str, Any], source: str = "spec", *,
               base_dir: str | Path | None = None) -> ExperimentSpec:
    """Check ``data`` (a spec as parsed from JSON or YAML) and return it as an ``ExperimentSpec``,
    the defaults filled in. Raises ``SpecError`` naming the first bad field; ``source`` names the
    spec in messages about the whole of it. Relative data file paths are taken from ``base_dir``."""
    if not isinstance(data, Mapping):
        raise SpecError(f"{source}: the spec must be a mapping of fields, got {_show(data)}", source=source)
    _check_extent(data, source)
    fields = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    try:  # top-level keys that start with x- hold definitions (YAML anchors) and are left out
        checked = _Spec.model_validate(fields)
    except ValidationError as err:
        raise _spec_error(err, source) from None
    plain = checked.model_dump()
    layers = [LayerSpec(**{**layer, "units": None if layer.get("units") == "auto" else layer.get("units")})
              for layer in plain["model"]["layers"]]
    schedule = plain["schedule"]
    if schedule is not None and schedule["name"] == "cosine" and schedule["T_max"] is None:
        schedule["T_max"] = plain["epochs"]
    data_fields = plain["data"]
    if base_dir is not None:
        for key in ("file", "x_file", "y_file", "validation_file", "validation_x_file", "validation_y_file"):
            if data_fields.get(key) is not None:
                data_fields[key] = os.path.abspath(os.path.join(base_dir, data_fields[key]))
    return ExperimentSpec(
        name=plain["name"], data=DataSpec(**data_fields), model=ModelSpec(tuple(layers)), loss=plain["loss"],
        optimizer=OptimizerSpec(**plain["optimizer"]),
        schedule=None if schedule is None else ScheduleSpec(**schedule), epochs=plain["epochs"],
        batch_size=plain["batch_size"], seed=plain["seed"], doctor=DoctorSpec(**plain["doctor"]))


_SCALARS = (str, int, float, type(None))


def _check_extent(data: Any, source: str) -> None:
    """Refuse a spec nested deeper than MAX_DEPTH or with more than MAX_VALUES values (each use of a
    YAML alias counted), looking at no more than that."""
    stack, count = [(data, 1)], 1
    while stack:
        value, depth = stack.pop()
        children = list(value.values()) if isinstance(value, Mapping) else value
        count += len(children)
        if count > MAX_VALUES:
            raise SpecError(f"{source}: the spec has more than {MAX_VALUES} values (each use of a YAML alias "
                            "counted); a spec is far smaller", source=source)
        if depth >= MAX_DEPTH and children:
            raise SpecError(f"{source}: the spec is nested deeper than {MAX_DEPTH} levels", source=source)
        stack.extend((c, depth + 1) for c in children
                     if not isinstance(c, _SCALARS) and isinstance(c, (Mapping, list, tuple)))


_UNIONS = {"data": {**_DATA, **_FILES}, "optimizer": _OPTIMIZERS, "schedule": _SCHEDULES}


def _spec_error(err: ValidationError, source: str) -> SpecError:
    errors = err.errors(include_url=False)
    unknown = ("extra_forbidden", "invalid_key")  # a key that is not a field (invalid: not even a string)
    first = next((e for e in errors if e["type"] in unknown), errors[0])
    loc, context = list(first["loc"]), first.get("ctx") or {}
    if first["type"] in unknown:
        loc[-1] = str(loc[-1])  # a key, even one YAML read as a number
    owner, model = "", _Spec  # the model that holds the field, and the words naming it
    if len(loc) > 1 and loc[0] in _UNIONS:  # the union member's tag is not part of the path
        tag = loc.pop(1)
        model = _UNIONS[loc[0]][tag]
        owner = f" for {_FILE_OWNERS.get(tag, tag)}"
    elif len(loc) > 3 and loc[:2] == ["model", "layers"]:
        tag = loc.pop(3)
        model, owner = _LAYERS[tag], f" for a {tag} layer"
    elif len(loc) > 1:
        model = {"model": _Model, "doctor": _Doctor}.get(loc[0], _Spec)
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc) + context.get("at", "")
    path = path.lstrip(".")
    kind, shown = first["type"], context.get("shown") or _show(first.get("input"))
    if kind == "missing" or context.get("hide"):
        what, shown = first["msg"] if kind == "spec" else "missing required field", ""
    elif kind in unknown:
        fields = list(model.model_fields)
        expected = f"only {fields[0]}" if len(fields) == 1 else f"one of {', '.join(fields)}"
        what, shown = f"unknown field{owner}; expected {expected}", ""
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        what = "must be a mapping of fields"
    else:
        what = first["msg"] if kind == "spec" else first["msg"][:1].lower() + first["msg"][1:]
    return SpecError(f"{path}: {what}{f', got {shown}' if shown else ''}", path, source=source)


def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and check a spec file (``.json``, ``.yaml`` or ``.yml``, at most MAX_FILE_BYTES).

    A file that is missing, unreadable, too large or not valid JSON/YAML raises ``SpecError`` naming
    the file (and the line, for a parse error); a bad field raises it naming the field (its ``line``
    set for YAML). Data file paths in the spec are relative to the spec's folder. YAML is read safely
    (``retroprop.spec.files``): no tags that build objects, merge keys, bounded aliases and depth.
    """
    from retroprop.spec.files import read_spec_file

    return read_spec_file(path)


