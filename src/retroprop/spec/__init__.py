"""Experiment specs: one YAML or JSON file that says what to train, on what, and how.

``load_spec`` reads a file, ``parse_spec`` a dict; both check every field before anything is built, and
a bad spec raises ``SpecError`` with one line that names the field::

    model.layers[2].p: must be between 0 and 1, got 1.5

The spec classes are frozen pydantic dataclasses, checked when made. A layer, optimizer, schedule or data
source is one class per kind, picked by its ``type`` or ``name`` (``LayerSpec("dropout", p=0.1)``), an
option left out taking the default of what the kind builds. Field types are in ``retroprop.spec.fields``,
files are read by ``retroprop.spec.files``; docs/spec.md lists every field.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, Union, get_args

from pydantic import BeforeValidator, ConfigDict, Discriminator, Tag, ValidationError, model_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass
from pydantic_core import PydanticCustomError

from retroprop import data as rp_data
from retroprop import nn, optim
from retroprop.data.prepare import (
    BUILTIN_SETS,
    DataSourceError,
    Prepared,
    prepare_builtin,
    prepare_files,
    split_problem,
)
from retroprop.doctor import Doctor
from retroprop.nn.init import INITIALIZERS
from retroprop.optim import lr_scheduler
from retroprop.random import manual_seed
from retroprop.spec.examples import SPEC_EXAMPLES
from retroprop.spec.fields import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_PARAMETERS,
    MAX_UNITS,
    MAX_VALUES,
    Betas,
    Bool,
    Delimiter,
    Fraction,
    Int0,
    Int1,
    Int2,
    Label,
    NonNegative,
    Number,
    Positive,
    Seed,
    Share,
    String,
    Unit,
    Units,
    choice,
    fail,
    show,
    within,
)
from retroprop.training import LOSSES, History, fit

__all__ = ["DATASETS", "FILE_SOURCES", "LAYER_TYPES", "MAX_DEPTH", "MAX_FILE_BYTES", "MAX_PARAMETERS",
           "MAX_UNITS", "MAX_VALUES", "OPTIMIZERS", "SCHEDULES", "SPEC_EXAMPLES", "SPEC_LOSSES", "DataSpec",
           "DoctorSpec",
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


# The machinery: frozen pydantic dataclasses, families of kinds told apart by a key
class _Spec:
    """What every spec class has."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data, every default spelled out (None left out); ``parse_spec`` reads it back."""
        return self.__pydantic_serializer__.to_python(self, mode="json", exclude_none=True)

    def options(self) -> dict[str, Any]:
        """The fields that are set, less the kind's key: the keyword arguments of what it builds."""
        values = {f: getattr(self, f) for f in self.__dataclass_fields__ if f != getattr(self, "_key", None)}
        return {f: v for f, v in values.items() if v is not None}

    def __repr__(self) -> str:  # named after the public class: LayerSpec(type='relu')
        name = next(c.__name__ for c in type(self).__mro__ if not c.__name__.startswith("_"))
        return f"{name}({', '.join(f'{f}={getattr(self, f)!r}' for f in self.__dataclass_fields__)})"


def _frozen(builds: Any = None, head: dict[str, Any] | None = None, *,
            kw_only: bool = False) -> Callable[[type], Any]:
    """A class made a frozen pydantic dataclass with the fields annotated on it and its bases (``head``
    first). A field without a default takes the one of ``builds``' parameter of its name (unless None
    there, or the name is in ``_required``), else None if it may be None. Made in Python, a bad value
    raises SpecError."""
    def make(cls: type) -> Any:
        fields = dict(head or {})
        for klass in reversed(cls.__mro__):
            fields.update(vars(klass).get("__annotations__", {}))
        cls.__annotations__ = fields = {**fields, **(head or {})}
        defaults = {} if builds is None else inspect.signature(builds).parameters
        for name, kind in fields.items():
            default = getattr(defaults.get(name), "default", None)
            if hasattr(cls, name) or name in getattr(cls, "_required", ()):
                continue
            if default not in (None, inspect.Parameter.empty):
                setattr(cls, name, default)
            elif not isinstance(kind, str) and type(None) in get_args(kind):
                setattr(cls, name, None)
        made = pydantic_dataclass(cls, frozen=True, repr=False, kw_only=kw_only, config=_CONFIG)
        init = made.__init__

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            try:
                init(self, *args, **kwargs)
            except ValidationError as err:
                raise _spec_error(err.errors(include_url=False), type(self)) from None
        made.__init__, made.builds = __init__, builds
        return made
    return make


_CONFIG = ConfigDict(extra="forbid", validate_default=True)


class _Family(_Spec):
    """A layer, optimizer, schedule or data source: one class per kind in ``_kinds``, by the value of
    ``_key``. Calling the family makes the kind its key names; an option of another kind reads None."""

    _words = "{}"  # the kind in messages: "unknown field for sgd"; each family sets _key and _kinds

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if "_kinds" in vars(cls):
            try:
                cls = cls._kinds[cls._tag_of({cls._key: args[0]} if args else kwargs)]
            except PydanticCustomError as err:
                raise _custom_error(err, cls) from None
        return object.__new__(cls)

    def __getattr__(self, name: str) -> None:
        if any(name in kind.__dataclass_fields__ for kind in self._kinds.values()):
            return None
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @classmethod
    def _tag_of(cls, value: Mapping[str, Any]) -> str:
        if cls._key not in value:
            raise fail("missing required field", f".{cls._key}", hide=True)
        names = [tag for tag, kind in cls._kinds.items() if cls._key in kind.__dataclass_fields__]
        if not isinstance(value[cls._key], str) or value[cls._key] not in names:
            raise fail(f"must be one of {', '.join(names)}", f".{cls._key}", value[cls._key])
        return value[cls._key]

    @classmethod
    def _add(cls, kinds: dict[str, tuple[Any, ...]], *, keyed: bool = True) -> None:
        """A kind of this family (``tag: (builds, fields[, words])``) for each entry, with ``fields``
        after the class's own; ``keyed``: its key field holds the tag. A field given as (type, default)
        has that default."""
        family = next(c for c in cls.__mro__ if "_kinds" in vars(c))
        for tag, (builds, fields, *words) in kinds.items():
            space = {k: v[1] for k, v in fields.items() if isinstance(v, tuple)}
            annotations = {k: v[0] if isinstance(v, tuple) else v for k, v in fields.items()}
            name = f"_{family.__name__}_{tag}"  # a module attribute: pickle finds it
            kind = type(name, (cls,), {"__annotations__": annotations, "__module__": __name__, **space})
            made = _frozen(builds, {family._key: Literal[tag]} if keyed else {}, kw_only=not keyed)(kind)
            made._tag, made._words = tag, (words[0] if words else family._words).format(tag)
            family._kinds[tag] = globals()[name] = made


def _one_of(family: Any, what: str = "must be a mapping of fields", *, shorthand: bool = False) -> Any:
    """A field that holds one kind of ``family``, picked by its key (a bare name is short for
    ``{key: name}`` with ``shorthand``)."""
    def check(value: Any) -> Any:
        value = {family._key: value} if shorthand and isinstance(value, str) else value
        if not isinstance(value, (family, Mapping)):
            raise fail(what)
        if not isinstance(value, family):
            family._tag_of(value)  # a missing or unknown key is said before the kind's fields
        return value

    def tag_of(value: Any) -> str:
        return value._tag if isinstance(value, family) else family._tag_of(value)
    kinds = tuple(Annotated[kind, Tag(tag)] for tag, kind in family._kinds.items())
    return Annotated[Union[kinds], Discriminator(tag_of), BeforeValidator(check)]  # noqa: UP007


# The kinds: layers, optimizers, schedules (built by nn, optim and lr_scheduler classes)
class LayerSpec(_Family):
    """One layer, by ``type``: ``LayerSpec("dropout", p=0.1)``. ``units`` is the width of a linear layer
    (None on the last one: as many as the loss needs)."""

    _key, _kinds, _words = "type", {}, "a {} layer"


LayerSpec._add({
    "linear": (nn.Linear, {"units": Units | None, "init": choice(*INITIALIZERS) | None}),
    "relu": (nn.ReLU, {}),
    "leaky_relu": (nn.LeakyReLU, {"negative_slope": NonNegative}),
    "elu": (nn.ELU, {"alpha": NonNegative}),
    "selu": (nn.SELU, {}),
    "gelu": (nn.GELU, {"approximate": choice("none", "tanh")}),
    "sigmoid": (nn.Sigmoid, {}),
    "tanh": (nn.Tanh, {}),
    "dropout": (nn.Dropout, {"p": Unit}),
    "batchnorm": (nn.BatchNorm1d, {}),
})


class OptimizerSpec(_Family):
    """The optimizer, by ``name``, and its options (the optimizer's own defaults, as PyTorch's)."""

    _key, _kinds, _required = "name", {}, ("lr",)
    lr: Positive

    @model_validator(mode="after")
    def _nesterov(self) -> Any:
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise fail(f"needs momentum > 0 and dampening 0 (momentum is {self.momentum:g}, dampening "
                       f"{self.dampening:g})", ".nesterov", True)
        return self


_ADAM = {"betas": Betas, "eps": NonNegative, "weight_decay": NonNegative, "amsgrad": Bool}
OptimizerSpec._add({
    "sgd": (optim.SGD, {"momentum": Fraction, "dampening": Unit, "nesterov": Bool,
                        "weight_decay": NonNegative}),
    "adam": (optim.Adam, _ADAM),
    "adamw": (optim.AdamW, _ADAM),
    "rmsprop": (optim.RMSprop, {"alpha": Fraction, "eps": NonNegative, "weight_decay": NonNegative,
                                "momentum": Fraction, "centered": Bool}),
    "adagrad": (optim.Adagrad, {"lr_decay": NonNegative, "weight_decay": NonNegative,
                                "initial_accumulator_value": NonNegative, "eps": NonNegative}),
})


class ScheduleSpec(_Family):
    """A learning-rate schedule, by ``name``, stepped once per epoch (``plateau`` watches the
    validation loss). A cosine schedule's ``T_max`` (torch's name) defaults to the spec's epochs."""

    _key, _kinds = "name", {}


ScheduleSpec._add({
    "step": (lr_scheduler.StepLR, {"step_size": Int1, "gamma": Positive}),
    "exponential": (lr_scheduler.ExponentialLR, {"gamma": Positive}),
    "cosine": (lr_scheduler.CosineAnnealingLR, {"T_max": Int1 | None, "eta_min": NonNegative}),
    "linear": (lr_scheduler.LinearLR, {"start_factor": Annotated[Number, within(0, 1, low_open=True)],
                                       "end_factor": Unit, "total_iters": Int1}),
    "plateau": (lr_scheduler.ReduceLROnPlateau, {
        "mode": choice("min", "max"), "factor": Fraction, "patience": Int0, "threshold": NonNegative,
        "threshold_mode": choice("rel", "abs"), "cooldown": Int0, "min_lr": NonNegative, "eps": NonNegative}),
})


# Data: a built-in set (with its generator's options and defaults) or the user's files
class DataSpec(_Family):
    """The data: a built-in set by ``name`` (with its generator's options), or a file (``file``: CSV or
    ``.npz``; or ``x_file`` and ``y_file``), and the split."""

    _key, _kinds = "name", {}

    @classmethod
    def _tag_of(cls, value: Mapping[str, Any]) -> str:
        if "file" in value:
            npz = isinstance(value["file"], str) and value["file"].lower().endswith(".npz")
            return "npz" if npz else "csv"
        return "npy" if "x_file" in value or "y_file" in value else super()._tag_of(value)

    @property
    def num_classes(self) -> int | None:
        """How many classes a built-in set has (known before loading it); None for a file."""
        return None if self.name is None else BUILTIN_SETS[self.name].n_classes or self.n_classes

    @property
    def num_features(self) -> int | None:
        """How many input features a built-in set has; None for a file."""
        return None if self.name is None else BUILTIN_SETS[self.name].n_features


class _Builtin(DataSpec):
    test_size: Share = 0.25
    seed: Seed = 0
    standardize: Bool = True

    @model_validator(mode="after")
    def _split(self) -> Any:
        info = BUILTIN_SETS[self.name]
        n_classes, n = info.n_classes or self.n_classes, info.n_samples or self.n_samples
        if info.n_samples is None and n < 2 * n_classes:
            raise fail(f"must be at least {2 * n_classes} (two per class, for the split)", ".n_samples", n)
        if problem := split_problem(n, n_classes, self.test_size):  # stratified: every class in both sets
            raise fail(problem, ".test_size", self.test_size)
        return self


class _File(DataSpec):
    test_size: Share | None = None  # None: 0.25, or the validation file's
    seed: Seed = 0
    standardize: Bool = True

    @model_validator(mode="after")
    def _one_split(self) -> Any:
        validation = [f for f in self.__dataclass_fields__ if f.startswith("validation_")]
        given = [getattr(self, f) is not None for f in validation]
        if any(given) and self.test_size is not None:
            raise fail(f"is not used with {validation[0]}: give one or the other", ".test_size",
                       self.test_size)
        if any(given) and not all(given):
            missing = given.index(False)
            raise fail(f"missing required field (with {validation[1 - missing]})", f".{validation[missing]}",
                       hide=True)
        return self


_SPLIT = ("test_size", "seed", "standardize")  # the options of every built-in set
_POINTS = {"n_samples": Int2, "noise": NonNegative}
_Builtin._add({name: (None, {}) for name in ("digits", "iris", "breast_cancer", "wine")})
DataSpec._add({"mnist1d": (rp_data.load_mnist1d, {"seed": Seed, "standardize": (Bool, True), "n_train": Int1,
                                                  "n_test": Int1})})
_Builtin._add({
    "spiral": (rp_data.spiral, {"n_samples": Int2, "n_classes": Int2, "noise": NonNegative}),
    "circles": (rp_data.circles, {**_POINTS, "factor": Fraction}),
    "xor": (rp_data.xor, _POINTS),
    "gaussians": (rp_data.gaussians, {"n_samples": Int2, "n_classes": (Int2, 2), "noise": NonNegative}),
    "moons": (rp_data.moons, _POINTS),
})
_VALIDATION = {"validation_file": String | None}
_File._add({
    "csv": (prepare_files, {"file": String, "label": Label, "header": Bool | None,  # None: detected
                            "delimiter": Delimiter | None, **_VALIDATION}, "a CSV file"),
    "npz": (prepare_files, {"file": String, "x": String, "y": String, **_VALIDATION}, "an .npz file"),
    "npy": (prepare_files, {"x_file": String, "y_file": String, "validation_x_file": String | None,
                            "validation_y_file": String | None}, ".npy files"),
}, keyed=False)


# The model, the doctor, the experiment
def _layer_list(value: Any) -> Any:
    if not isinstance(value, (list, tuple)) or not value:
        raise fail("must be a non-empty list of layers")
    for i, layer in enumerate(value[:-1]):
        if isinstance(layer, Mapping) and isinstance(layer.get("units"), str) and layer["units"] == "auto":
            raise fail("may be auto only on the last layer", f"[{i}].units", "auto")
    return value


_Layer = _one_of(LayerSpec, "must be a mapping with a type (or just a layer type)", shorthand=True)


@_frozen()
class ModelSpec(_Spec):
    """A stack of layers (an ``nn.Sequential``) that ends in a linear layer."""

    layers: Annotated[tuple[_Layer, ...], BeforeValidator(_layer_list)]

    @model_validator(mode="after")
    def _shape(self) -> Any:
        last = len(self.layers) - 1
        if self.layers[last].type != "linear":
            raise fail("the last layer must be linear", f".layers[{last}].type", self.layers[last].type)
        for i, layer in enumerate(self.layers[:last]):
            if layer.type == "linear" and layer.units is None:
                raise fail("missing required field (only the last linear layer may leave it out)",
                           f".layers[{i}].units", hide=True)
        return self


@_frozen(Doctor)
class DoctorSpec(_Spec):
    """The doctor: on or off, whether it repairs, how often it probes (None: its own pace) and how many
    epochs a repaired run may add (``make_up``, a share of ``epochs``)."""

    enabled: Bool = True
    repair: Bool
    every: Int1 | None = None
    make_up: NonNegative

    @model_validator(mode="after")
    def _repair(self) -> Any:
        if self.repair and not self.enabled:
            raise fail("needs doctor.enabled: true", ".repair", True)
        return self


def _doctor_shape(value: Any) -> Any:
    if isinstance(value, bool):
        return {"enabled": value}
    if not isinstance(value, (Mapping, DoctorSpec)):
        raise fail("must be a mapping of fields (or true or false)")
    return value


# the losses a spec trains with (and the command line evaluates): those whose targets a data file's
# classes or values give; fit's other names (bce, l1, huber) need outputs or targets a spec cannot describe
SPEC_LOSSES = {name: cls for name, cls in LOSSES.items()
               if cls.__name__ in ("CrossEntropyLoss", "NLLLoss", "MSELoss", "BCEWithLogitsLoss")}
_BINARY_LOSSES = frozenset(k for k, v in LOSSES.items() if v.__name__ == "BCEWithLogitsLoss")
_MSE_LOSSES = frozenset(k for k, v in LOSSES.items() if v.__name__ == "MSELoss")
_NLL_LOSSES = frozenset(k for k, v in LOSSES.items() if v.__name__ == "NLLLoss")


def _model_problem(layers: Sequence[Any], loss: str, n_features: int, n_classes: int) -> Any:
    """The first problem of a model for data of this shape, as an error to raise, or None: a last layer
    that does not fit the loss, or more than ``MAX_PARAMETERS`` parameters (named at the layer)."""
    last, out = len(layers) - 1, 1 if loss in _BINARY_LOSSES else n_classes
    units, where = layers[last].units, f"model.layers[{last}].units"
    if units is not None and (loss in _BINARY_LOSSES or loss in _MSE_LOSSES) and units != out:
        return fail(f"must be {out} (or auto) for the loss {loss} with {n_classes} classes", where, units)
    if units is not None and units < out:
        return fail(f"must be at least the number of classes, {out} (or auto)", where, units)
    total, width = 0, n_features
    for i, layer in enumerate(layers):
        if layer.type == "linear":
            units = layer.units or out
            total, shape, width = total + (width + 1) * units, f"Linear({width}, {units})", units
        elif layer.type == "batchnorm":
            total, shape = total + 2 * width, f"BatchNorm1d({width})"
        if total > MAX_PARAMETERS:
            message = (f"the model has {total} parameters up to this layer, {shape}; the limit is "
                       f"{MAX_PARAMETERS}")
            if layer.type == "linear":
                return fail(message, f"model.layers[{i}].units", layer.units)
            return fail(message, f"model.layers[{i}]", hide=True)
    return None


@_frozen(kw_only=True)
class ExperimentSpec(_Spec):
    """A whole experiment. Read one with ``load_spec(path)`` or ``parse_spec(dict)``."""

    name: String | None = None
    data: _one_of(DataSpec)
    model: ModelSpec
    loss: choice(*SPEC_LOSSES) = "cross_entropy"
    optimizer: _one_of(OptimizerSpec)
    schedule: _one_of(ScheduleSpec) | None = None
    epochs: Int1
    batch_size: Int1 = 32
    seed: Int0 = 0
    doctor: Annotated[DoctorSpec, BeforeValidator(_doctor_shape)] = DoctorSpec()

    @model_validator(mode="after")
    def _whole(self) -> Any:
        if self.schedule is not None and self.schedule.name == "cosine" and self.schedule.T_max is None:
            object.__setattr__(self, "schedule", dataclasses.replace(self.schedule, T_max=self.epochs))
        name = self.data.name
        if name is None:  # a file: checked when it is read
            return self
        n_classes, layers = self.data.num_classes, self.model.layers
        if self.loss in _BINARY_LOSSES and n_classes != 2:
            raise fail(f"a binary loss needs 2 classes, but {name} has {n_classes}", "loss", self.loss)
        if problem := _model_problem(layers, self.loss, self.data.num_features, n_classes):
            raise problem
        return self

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "spec") -> ExperimentSpec:
        return parse_spec(data, source)

    def validate(self) -> ExperimentSpec:
        """The same spec through ``parse_spec`` (specs are checked when they are made)."""
        return parse_spec(self.to_dict())

    def with_overrides(self, *, epochs: int | None = None, lr: float | None = None,
                       batch_size: int | None = None, seed: int | None = None,
                       source: str = "the command line") -> ExperimentSpec:
        """This spec with some common fields changed, checked again (SpecError names the field). A
        cosine schedule whose ``T_max`` was the epochs follows the new epochs."""
        data = self.to_dict()
        data.update({k: v for k, v in {"epochs": epochs, "batch_size": batch_size, "seed": seed}.items()
                     if v is not None})
        if lr is not None:
            data["optimizer"]["lr"] = lr
        cosine = data["schedule"] if self.schedule is not None and self.schedule.name == "cosine" else {}
        if epochs is not None and cosine.get("T_max") == self.epochs:
            cosine["T_max"] = epochs  # it followed the epochs
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
        data, kind = self.data, self._target_kind()
        if data.name is not None:
            options = {k: v for k, v in data.options().items() if k not in _SPLIT}
            return prepare_builtin(data.name, seed=data.seed, test_size=data.test_size or 0.25,
                                   standardize=data.standardize, kind=kind, **options)
        try:
            return prepare_files(**data.options(), kind=kind)
        except DataSourceError as err:
            path = "loss" if err.option == "kind" else f"data.{err.option}"
            text = f"the loss {self.loss} {err}" if err.option == "kind" else str(err)
            got = f", got {show(data.test_size or 0.25)}" if err.option == "test_size" else ""
            raise SpecError(f"{path}: {text}{got}", path) from None

    def build_model(self, n_features: int, n_classes: int) -> nn.Sequential:
        """The model as an ``nn.Sequential`` of the layers' ``nn`` classes, its weights drawn after
        ``rp.manual_seed(seed)``. With an NLL loss a ``LogSoftmax`` follows the last linear layer."""
        if problem := _model_problem(self.model.layers, self.loss, n_features, n_classes):
            raise _custom_error(problem, ExperimentSpec)
        manual_seed(self.seed)
        modules: list[nn.Module] = []
        width, out = n_features, 1 if self.loss in _BINARY_LOSSES else n_classes
        for layer in self.model.layers:
            if layer.type == "linear":
                modules.append(layer.builds(width, layer.units or out, init=layer.init))
                width = layer.units or out
            else:
                modules.append(layer.builds(width) if layer.type == "batchnorm" else
                               layer.builds(**layer.options()))
        if self.loss in _NLL_LOSSES:
            modules.append(nn.LogSoftmax())
        return nn.Sequential(*modules)

    def build_optimizer(self, model: nn.Module) -> optim.Optimizer:
        """The optimizer over ``model.parameters()``."""
        return self.optimizer.builds(model.parameters(), **self.optimizer.options())

    def build_scheduler(self, optimizer: optim.Optimizer) -> lr_scheduler.LRScheduler | None:
        """The learning-rate scheduler for ``optimizer``, or None without a schedule."""
        return None if self.schedule is None else self.schedule.builds(optimizer, **self.schedule.options())

    def build_doctor(self) -> Doctor | bool:
        """An ``rp.Doctor`` with the spec's settings, or False when the doctor is off."""
        if not self.doctor.enabled:
            return False
        return Doctor(every=self.doctor.every, repair=self.doctor.repair, make_up=self.doctor.make_up)

    def fit_kwargs(self) -> dict[str, Any]:
        """``epochs``, ``batch_size``, ``seed`` and ``loss`` for ``rp.fit``."""
        return {"epochs": self.epochs, "batch_size": self.batch_size, "seed": self.seed, "loss": self.loss}

    def train(self, *, verbose: int = 0, callbacks: Sequence[Any] = (), data: Prepared | None = None,
              doctor: Any = None) -> History:
        """Build everything and run ``rp.fit`` with the validation split; returns the ``History``
        (the model is ``history.model``). ``data`` reuses data already built; ``doctor`` (a
        ``Doctor`` or False) replaces the one the spec describes."""
        prepared = self.build_data() if data is None else data
        model = self.build_model(prepared.n_features, prepared.n_classes)
        optimizer = self.build_optimizer(model)
        return fit(model, prepared.x_train, prepared.y_train, optimizer=optimizer,
                   scheduler=self.build_scheduler(optimizer),
                   validation_data=(prepared.x_val, prepared.y_val),
                   doctor=self.build_doctor() if doctor is None else doctor,
                   callbacks=list(callbacks), verbose=verbose, **self.fit_kwargs())


# Parsing: pydantic's errors as one line with the field's path
def parse_spec(data: Mapping[str, Any], source: str = "spec", *,
               base_dir: str | Path | None = None) -> ExperimentSpec:
    """Check ``data`` (a spec as parsed from JSON or YAML) and return it as an ``ExperimentSpec``,
    the defaults filled in. Raises ``SpecError`` naming the first bad field; ``source`` names the
    spec in messages about the whole of it. Relative data file paths are taken from ``base_dir``."""
    if not isinstance(data, Mapping):
        raise SpecError(f"{source}: the spec must be a mapping of fields, got {show(data)}", source=source)
    _check_extent(data, source)
    fields = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    try:  # top-level keys that start with x- hold definitions (YAML anchors) and are left out
        spec = ExperimentSpec.__pydantic_validator__.validate_python(fields)
    except ValidationError as err:
        raise _spec_error(err.errors(include_url=False), ExperimentSpec, source) from None
    if base_dir is not None and spec.data.name is None:
        paths = {k: os.path.abspath(os.path.join(base_dir, v)) for k, v in spec.data.options().items()
                 if k.endswith("file")}
        spec = dataclasses.replace(spec, data=dataclasses.replace(spec.data, **paths))
    return spec


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
        stack.extend((c, depth + 1) for c in children if isinstance(c, (Mapping, list, tuple)))


def _custom_error(err: PydanticCustomError, root: type) -> SpecError:
    return _spec_error([{"type": "spec", "loc": (), "msg": err.message(), "ctx": err.context}], root)


_UNKNOWN = ("unexpected_keyword_argument", "invalid_key")  # a key that is not a field (or not a string)


def _spec_error(errors: list[Any], root: type, source: str | None = None) -> SpecError:
    """The first error (an unknown field before any other) as a SpecError; ``root`` is the class
    validated, whose fields and kinds name the path."""
    first = next((e for e in errors if e["type"] in _UNKNOWN), errors[0])
    kind, context, shown = first["type"], first.get("ctx") or {}, ""
    owner, cls, path, loc = root, root, [], list(first["loc"])
    if loc and isinstance(loc[0], int) and kind not in (*_UNKNOWN, "unexpected_positional_argument"):
        loc[0] = list(root.__dataclass_fields__)[loc[0]]  # a positional argument of a spec made in Python
    for part in loc:
        if part in vars(cls).get("_kinds", {}):
            cls = cls._kinds[part]  # the kind picked: not part of the path
            continue
        owner = cls
        path.append(part)
        cls = _NESTED.get(part, cls) if isinstance(part, str) else cls
    if kind in _UNKNOWN:
        path[-1] = str(path[-1])  # a key, even one YAML read as a number
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path) + context.get("at", "")
    where = where.lstrip(".")
    if kind in ("missing", "missing_argument") or context.get("hide"):
        what = first["msg"] if kind == "spec" else "missing required field"
    elif kind in _UNKNOWN:
        fields = list(owner.__dataclass_fields__)
        expected = f"only {fields[0]}" if len(fields) == 1 else f"one of {', '.join(fields)}"
        kind_words = f" for {owner._words}" if hasattr(owner, "_words") else ""
        what = f"unknown field{kind_words}; expected {expected}"
    else:
        what = "must be a mapping of fields" if kind == "dataclass_type" else first["msg"]
        shown = context.get("shown") or show(first.get("input"))
    what = what[:1].lower() + what[1:]
    return SpecError(f"{where}: {what}{f', got {shown}' if shown else ''}", where, source=source)


_NESTED = {"data": DataSpec, "model": ModelSpec, "layers": LayerSpec, "optimizer": OptimizerSpec,
           "schedule": ScheduleSpec, "doctor": DoctorSpec}


# The tables: each kind and its options
class DataSetInfo(NamedTuple):
    """A built-in data set: its inputs, classes (None: its n_classes option), samples and options."""

    n_features: int
    n_classes: int | None
    n_samples: int | None
    options: tuple[str, ...]


def _options_of(family: Any, skip: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    return {tag: tuple(f for f in kind.__dataclass_fields__ if f not in (family._key, *skip))
            for tag, kind in family._kinds.items()}


LAYER_TYPES = _options_of(LayerSpec)  # type -> its options (besides type)
OPTIMIZERS = _options_of(OptimizerSpec)
SCHEDULES = _options_of(ScheduleSpec)
DATASETS = {name: DataSetInfo(*BUILTIN_SETS[name][:3], options) for name, options in
            _options_of(DataSpec, _SPLIT).items() if name in BUILTIN_SETS}
FILE_SOURCES = {tag: options for tag, options in _options_of(DataSpec).items() if tag not in BUILTIN_SETS}

from retroprop.spec.files import load_spec  # noqa: E402 (it reads files into the classes above)
