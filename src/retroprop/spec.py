"""Experiment specs: one YAML or JSON file that says what to train, on what, and how.

A spec names the data set and its split, the model's layers, the loss, the optimizer and its
learning-rate schedule, the epochs, batch size and seed, and the doctor's settings. ``load_spec``
reads a file, ``parse_spec`` a dict; both validate everything before anything is built, and a bad
spec raises ``SpecError`` with one line that names the field::

    model.layers[2].p: must be between 0 and 1, got 1.5

The spec is a tree of frozen dataclasses (``ExperimentSpec`` at the top). ``to_dict`` gives it back
as plain JSON-able data that ``parse_spec`` reads again. The ``build_*`` methods turn it into the
data, model, optimizer, scheduler and doctor that ``rp.fit`` takes; ``train`` does all of it.
The schema, with every field, its type, default and range, is in docs/spec.md. Nothing here needs
more than NumPy; reading YAML needs PyYAML (``pip install retroprop[cli]``), JSON does not.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retroprop.nn.init import INITIALIZERS
from retroprop.training import LOSSES

if TYPE_CHECKING:
    from retroprop.doctor import Doctor
    from retroprop.nn import Module, Sequential
    from retroprop.optim import Optimizer
    from retroprop.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
    from retroprop.training import History

__all__ = [
    "DATASETS",
    "LAYER_TYPES",
    "OPTIMIZERS",
    "SCHEDULES",
    "SPEC_EXAMPLES",
    "DataSpec",
    "DoctorSpec",
    "ExperimentSpec",
    "LayerSpec",
    "ModelSpec",
    "OptimizerSpec",
    "Prepared",
    "ScheduleSpec",
    "SpecError",
    "load_spec",
    "parse_spec",
]


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
class SpecError(ValueError):
    """A spec that cannot be used, in one line: ``"<path>: <what is wrong>, got <value>"``.

    ``path`` is the field's path (``model.layers[2].p``, ``optimizer.lr``), or None when the
    problem is the file itself (then the message starts with the file's name). ``source`` is the
    file (or the ``source`` given to ``parse_spec``); ``line`` is the field's line in a YAML file
    when known, else None. ``location`` joins the two for a command line: ``"spec.yaml, line 12"``.
    """

    def __init__(self, message: str, path: str | None = None, *, source: str | None = None,
                 line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.source = source
        self.line = line

    @property
    def location(self) -> str | None:
        if self.source is None:
            return None
        return self.source if self.line is None else f"{self.source}, line {self.line}"


_NOTHING = object()  # "no value" in messages (a missing field)
_REQUIRED = object()  # an option without a default


def _show(value: Any) -> str:
    """A value as it would be written in the spec (JSON spelling), cut short when long."""
    if value is None or isinstance(value, (bool, str)):
        text = json.dumps(value)
    elif isinstance(value, numbers.Integral):
        text = str(int(value))
    elif isinstance(value, numbers.Real):
        text = repr(float(value))
    else:
        try:
            text = json.dumps(value, default=repr)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fail(path: str, what: str, value: Any = _NOTHING) -> SpecError:
    got = "" if value is _NOTHING else f", got {_show(value)}"
    return SpecError(f"{path}: {what}{got}", path)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _one_of(names: Sequence[str]) -> str:
    return ", ".join(names)


# ---------------------------------------------------------------------------------------------
# Field checks
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Opt:
    """One option: its kind ('int', 'float', 'bool', 'choice', 'betas'), default and range."""

    kind: str
    default: Any = _REQUIRED
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()

    def range_text(self) -> str:
        def num(x: float) -> str:
            return str(int(x)) if float(x).is_integer() else f"{x:g}"

        low, high = self.low, self.high
        if low is None:
            return "" if high is None else f"{'<' if self.high_open else '<='} {num(high)}"
        if high is None:
            return f"{'>' if self.low_open else '>='} {num(low)}"
        if not self.low_open and not self.high_open:
            return f"between {num(low)} and {num(high)}"
        return f"in {'(' if self.low_open else '['}{num(low)}, {num(high)}{')' if self.high_open else ']'}"

    def in_range(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))

    def read(self, value: Any, path: str) -> Any:
        """The value checked and in its plain Python type; SpecError when it does not fit."""
        if self.kind == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise _fail(path, "must be true or false", value)
            return bool(value)
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise _fail(path, f"must be one of {_one_of(self.choices)}", value)
            return value
        if self.kind == "betas":
            if not _is_list(value) or len(value) != 2:
                raise _fail(path, "must be a list of two numbers [beta1, beta2]", value)
            beta = _Opt("float", low=0.0, high=1.0, high_open=True)
            return tuple(beta.read(v, f"{path}[{i}]") for i, v in enumerate(value))
        if self.kind == "int":
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
                raise _fail(path, "must be an integer", value)
            number: float = int(value)
        elif self.kind == "float":
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
                raise _fail(path, "must be a number", value)
            number = float(value)
            if not math.isfinite(number):
                raise _fail(path, "must be a finite number", value)
        else:  # pragma: no cover - a programming error in the tables below
            raise AssertionError(f"unknown option kind {self.kind!r}")
        if not self.in_range(number):
            raise _fail(path, f"must be {self.range_text()}", value)
        return number


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _mapping(value: Any, path: str, what: str = "must be a mapping of fields") -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, what, value)
    return dict(value)


def _check_keys(data: Mapping[Any, Any], allowed: Sequence[str], path: str, owner: str = "") -> None:
    """Refuse the first key that is not in ``allowed``, listing the fields that are."""
    for key in data:
        if not isinstance(key, str) or key not in allowed:
            where = f"unknown field{f' for {owner}' if owner else ''}"
            expected = f"only {allowed[0]}" if len(allowed) == 1 else f"one of {_one_of(allowed)}"
            raise _fail(_join(path, str(key)), f"{where}; expected {expected}")


def _require(data: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in data:
        raise _fail(_join(path, key), "missing required field")
    return data[key]


def _read_options(data: Mapping[str, Any], options: Mapping[str, _Opt], path: str,
                  defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Each option of ``options``: the value given (checked) or its default."""
    out: dict[str, Any] = {}
    for name, opt in options.items():
        where = _join(path, name)
        if name in data and not (data[name] is None and opt.default is None):
            out[name] = opt.read(data[name], where)
        elif defaults is not None and name in defaults:
            out[name] = defaults[name]
        elif opt.default is _REQUIRED:
            raise _fail(where, "missing required field")
        else:
            out[name] = opt.default
    return out


def _int(low: int, default: Any = _REQUIRED, high: int | None = None) -> _Opt:
    return _Opt("int", default, low=low, high=high)


def _real(default: Any = _REQUIRED, low: float | None = 0.0, high: float | None = None,
          low_open: bool = False, high_open: bool = False) -> _Opt:
    return _Opt("float", default, low=low, high=high, low_open=low_open, high_open=high_open)


_BOOL_FALSE = _Opt("bool", False)
_FRACTION = _real(0.0, high=1.0, high_open=True)  # [0, 1)
_SEED_MAX = 2**32 - 1


# ---------------------------------------------------------------------------------------------
# Schema tables (docs/spec.md documents them; tests/test_spec.py keeps the two in step)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _DataInfo:
    n_features: int
    n_classes: int | None  # None: the n_classes option
    n_samples: int | None  # None: the n_samples option (generated) or a fixed split (mnist1d)
    options: dict[str, _Opt]
    loader: str


DATASETS: dict[str, _DataInfo] = {
    "digits": _DataInfo(64, 10, 1797, {}, "load_digits"),
    "iris": _DataInfo(4, 3, 150, {}, "load_iris"),
    "breast_cancer": _DataInfo(30, 2, 569, {}, "load_breast_cancer"),
    "wine": _DataInfo(13, 3, 178, {}, "load_wine"),
    "mnist1d": _DataInfo(40, 10, None, {"n_train": _int(1, 4000), "n_test": _int(1, 1000)}, "load_mnist1d"),
    "spiral": _DataInfo(2, None, None, {"n_samples": _int(2, 300), "n_classes": _int(2, 3),
                                        "noise": _real(0.2)}, "spiral"),
    "circles": _DataInfo(2, 2, None, {"n_samples": _int(2, 200), "noise": _real(0.05),
                                      "factor": _real(0.5, high=1.0, high_open=True)}, "circles"),
    "xor": _DataInfo(2, 2, None, {"n_samples": _int(2, 200), "noise": _real(0.1)}, "xor"),
    "gaussians": _DataInfo(2, None, None, {"n_samples": _int(2, 200), "n_classes": _int(2, 2),
                                           "noise": _real(0.5)}, "gaussians"),
    "moons": _DataInfo(2, 2, None, {"n_samples": _int(2, 200), "noise": _real(0.1)}, "moons"),
}
_DATA_COMMON = {"test_size": _real(0.25, high=1.0, low_open=True, high_open=True),
                "seed": _int(0, 0, high=_SEED_MAX), "standardize": _Opt("bool", True)}
_DATA_OPTIONS = ("n_samples", "n_classes", "noise", "factor", "n_train", "n_test")

# type -> its options (besides ``type``); linear's ``units`` is handled on its own
LAYER_TYPES: dict[str, dict[str, _Opt]] = {
    "linear": {"init": _Opt("choice", None, choices=tuple(INITIALIZERS))},
    "relu": {},
    "leaky_relu": {"negative_slope": _real(0.01)},
    "elu": {"alpha": _real(1.0)},
    "selu": {},
    "gelu": {"approximate": _Opt("choice", "none", choices=("none", "tanh"))},
    "sigmoid": {},
    "tanh": {},
    "dropout": {"p": _real(0.5, high=1.0)},
    "batchnorm": {},
}
_LAYER_OPTIONS = ("units", "init", "negative_slope", "alpha", "approximate", "p")

_LR = _real(low=0.0, low_open=True)
OPTIMIZERS: dict[str, dict[str, _Opt]] = {
    "sgd": {"lr": _LR, "momentum": _FRACTION, "dampening": _real(0.0, high=1.0), "nesterov": _BOOL_FALSE,
            "weight_decay": _real(0.0)},
    "adam": {"lr": _LR, "betas": _Opt("betas", (0.9, 0.999)), "eps": _real(1e-8), "weight_decay": _real(0.0),
             "amsgrad": _BOOL_FALSE},
    "adamw": {"lr": _LR, "betas": _Opt("betas", (0.9, 0.999)), "eps": _real(1e-8),
              "weight_decay": _real(0.01), "amsgrad": _BOOL_FALSE},
    "rmsprop": {"lr": _LR, "alpha": _real(0.99, high=1.0, high_open=True), "eps": _real(1e-8),
                "weight_decay": _real(0.0), "momentum": _FRACTION, "centered": _BOOL_FALSE},
    "adagrad": {"lr": _LR, "lr_decay": _real(0.0), "weight_decay": _real(0.0),
                "initial_accumulator_value": _real(0.0), "eps": _real(1e-10)},
}
_OPTIMIZER_OPTIONS = ("lr", "momentum", "dampening", "nesterov", "weight_decay", "betas", "eps", "amsgrad",
                      "alpha", "centered", "lr_decay", "initial_accumulator_value")

SCHEDULES: dict[str, dict[str, _Opt]] = {
    "step": {"step_size": _int(1), "gamma": _real(0.1, low_open=True)},
    "exponential": {"gamma": _real(low_open=True)},
    "cosine": {"T_max": _int(1, None), "eta_min": _real(0.0)},  # T_max None: the spec's epochs
    "linear": {"start_factor": _real(1.0 / 3, high=1.0, low_open=True), "end_factor": _real(1.0, high=1.0),
               "total_iters": _int(1, 5)},
    "plateau": {"mode": _Opt("choice", "min", choices=("min", "max")),
                "factor": _real(0.1, high=1.0, high_open=True),
                "patience": _int(0, 10), "threshold": _real(1e-4),
                "threshold_mode": _Opt("choice", "rel", choices=("rel", "abs")), "cooldown": _int(0, 0),
                "min_lr": _real(0.0), "eps": _real(1e-8)},
}
_SCHEDULE_OPTIONS = ("step_size", "gamma", "T_max", "eta_min", "start_factor", "end_factor", "total_iters",
                     "mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr", "eps")

_DOCTOR = {"enabled": _Opt("bool", True), "repair": _BOOL_FALSE, "make_up": _real(0.5)}
_BINARY_LOSSES = frozenset(k for k, v in LOSSES.items() if v.__name__ == "BCEWithLogitsLoss")
_REGRESSION_LOSSES = frozenset(k for k, v in LOSSES.items() if v.__name__ == "MSELoss")
_NLL_LOSSES = frozenset(k for k, v in LOSSES.items() if v.__name__ == "NLLLoss")
_TOP = ("name", "data", "model", "loss", "optimizer", "schedule", "epochs", "batch_size", "seed", "doctor")


def _options_of(obj: Any, names: Sequence[str], first: Sequence[str] = ()) -> dict[str, Any]:
    """The fields of ``obj`` among ``names`` that are set (not None), those in ``first`` first."""
    order = [*(n for n in first if n in names), *(n for n in names if n not in first)]
    return {n: getattr(obj, n) for n in order if getattr(obj, n) is not None}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# ---------------------------------------------------------------------------------------------
# The spec
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prepared:
    """The data of a spec, split, scaled and shaped for its loss (``ExperimentSpec.build_data``).

    The targets are class labels (int64) for cross-entropy and NLL, a float column (n, 1) of 0/1
    for the binary losses, and one-hot float rows for the squared error. Unpacks as
    ``x_train, y_train, x_val, y_val``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    n_features: int
    n_classes: int
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...] | None = None
    name: str = ""

    def __iter__(self) -> Iterator[np.ndarray]:
        yield from (self.x_train, self.y_train, self.x_val, self.y_val)

    def __repr__(self) -> str:
        return (f"Prepared({self.name!r}: x_train {self.x_train.shape}, x_val {self.x_val.shape}, "
                f"{self.n_features} features, {self.n_classes} classes)")


@dataclass(frozen=True)
class DataSpec:
    """The data set, its generator's options and its split.

    Options left None take the data set's default (``parse_spec`` fills them in): ``test_size``
    0.25, ``seed`` 0 (42 for mnist1d, its standard set) and the generator defaults in docs/spec.md.
    """

    name: str
    test_size: float | None = None
    seed: int | None = None
    standardize: bool = True
    n_samples: int | None = None
    n_classes: int | None = None
    noise: float | None = None
    factor: float | None = None
    n_train: int | None = None
    n_test: int | None = None

    def _option(self, name: str) -> Any:
        value = getattr(self, name)
        if value is None:
            opt = DATASETS[self.name].options.get(name) or _DATA_COMMON.get(name)
            value = None if opt is None else opt.default
        return value

    @property
    def num_classes(self) -> int:
        """How many classes the data set has (known before loading it)."""
        fixed = DATASETS[self.name].n_classes
        return fixed if fixed is not None else int(self._option("n_classes"))

    @property
    def num_features(self) -> int:
        """How many input features the data set has."""
        return DATASETS[self.name].n_features

    def _seed(self) -> int:
        if self.seed is not None:
            return self.seed
        return 42 if self.name == "mnist1d" else 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.name != "mnist1d":
            out["test_size"] = self._option("test_size")
        out["seed"] = self._seed()
        out["standardize"] = self.standardize
        out.update(_options_of(self, _DATA_OPTIONS, tuple(DATASETS[self.name].options)))
        return out


@dataclass(frozen=True)
class LayerSpec:
    """One layer. ``units`` is the width of a linear layer (None on the last one: as many as the
    loss needs, the number of classes); the other options belong to one type each."""

    type: str
    units: int | None = None
    init: str | None = None
    negative_slope: float | None = None
    alpha: float | None = None
    approximate: str | None = None
    p: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **_options_of(self, _LAYER_OPTIONS)}


@dataclass(frozen=True)
class ModelSpec:
    """A stack of layers (an ``nn.Sequential``) that ends in a linear layer."""

    layers: tuple[LayerSpec, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))

    def to_dict(self) -> dict[str, Any]:
        return {"layers": [layer.to_dict() for layer in self.layers]}


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
        return _options_of(self, _OPTIMIZER_OPTIONS, tuple(OPTIMIZERS.get(self.name, ())))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **{k: _plain(v) for k, v in self.options().items()}}


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
        return _options_of(self, _SCHEDULE_OPTIONS, tuple(SCHEDULES.get(self.name, ())))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.options()}


@dataclass(frozen=True)
class DoctorSpec:
    """The doctor: on or off, whether it repairs, how often it probes (None: its own pace) and how
    many epochs a repaired run may add (``make_up``, a share of ``epochs``)."""

    enabled: bool = True
    repair: bool = False
    every: int | None = None
    make_up: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "repair": self.repair, "every": self.every, "make_up": self.make_up}


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
        out: dict[str, Any] = {} if self.name is None else {"name": self.name}
        out["data"] = self.data.to_dict()
        out["model"] = self.model.to_dict()
        out["loss"] = self.loss
        out["optimizer"] = self.optimizer.to_dict()
        if self.schedule is not None:
            out["schedule"] = self.schedule.to_dict()
        out.update(epochs=self.epochs, batch_size=self.batch_size, seed=self.seed,
                   doctor=self.doctor.to_dict())
        return out

    def validate(self) -> ExperimentSpec:
        """Check a spec made in Python (the constructors do not): the same spec through
        ``parse_spec``, with its defaults filled in."""
        return parse_spec(self.to_dict())

    # -- builders -------------------------------------------------------------------------------
    def build_data(self) -> Prepared:
        """Load or generate the data, split it (stratified, seeded by ``data.seed``) and scale it
        with the training set's statistics (``data.standardize``)."""
        from retroprop import data as rp_data

        spec = self.data
        info = DATASETS[spec.name]
        seed = spec._seed()
        feature_names = None
        if spec.name == "mnist1d":
            split = rp_data.load_mnist1d(n_train=spec._option("n_train"), n_test=spec._option("n_test"),
                                         seed=seed)
            x_train, y_train, x_val, y_val = split
            class_names = split.target_names
        else:
            streams = np.random.SeedSequence(seed).spawn(2)  # one for the generator, one for the split
            generate_rng, split_rng = (np.random.default_rng(s) for s in streams)
            loader = getattr(rp_data, info.loader)
            if info.options:  # a generated 2-D set
                options = {n: spec._option(n) for n in info.options}
                x, y = loader(**options, seed=generate_rng)
                class_names = tuple(str(c) for c in range(spec.num_classes))
            else:
                loaded = loader()
                x, y = loaded
                class_names, feature_names = loaded.target_names, loaded.feature_names
            x_train, x_val, y_train, y_val = rp_data.train_test_split(
                x, y, test_size=spec._option("test_size"), seed=split_rng, stratify=y)
        if spec.standardize:
            x_train, x_val = rp_data.standardize(x_train, x_val)
        n_classes = len(class_names)
        y_train, y_val = (self._targets(y, n_classes) for y in (y_train, y_val))
        return Prepared(np.asarray(x_train, dtype=np.float32), y_train, np.asarray(x_val, dtype=np.float32),
                        y_val, info.n_features, n_classes, tuple(class_names),
                        None if feature_names is None else tuple(feature_names), spec.name)

    def _targets(self, labels: np.ndarray, n_classes: int) -> np.ndarray:
        labels = np.asarray(labels, dtype=np.int64)
        if self.loss in _BINARY_LOSSES:
            return labels.astype(np.float32).reshape(-1, 1)
        if self.loss in _REGRESSION_LOSSES:
            return np.eye(n_classes, dtype=np.float32)[labels]
        return labels

    def output_units(self, n_classes: int) -> int:
        """The width of the last layer that the loss needs: 1 for a binary loss, else ``n_classes``."""
        return 1 if self.loss in _BINARY_LOSSES else n_classes

    def build_model(self, n_features: int, n_classes: int) -> Sequential:
        """The model as an ``nn.Sequential``, its weights drawn after ``rp.manual_seed(seed)``.
        With an NLL loss a ``LogSoftmax`` follows the last linear layer."""
        from retroprop import nn
        from retroprop.random import manual_seed

        manual_seed(self.seed)
        layers: list[Any] = []
        width = n_features
        last = len(self.model.layers) - 1
        for i, layer in enumerate(self.model.layers):
            kind = layer.type
            if kind == "linear":
                if layer.units is None and i != last:
                    raise _fail(f"model.layers[{i}].units", "missing required field (only the last linear "
                                "layer may leave it out)")
                units = self.output_units(n_classes) if layer.units is None else layer.units
                if i == last:
                    _check_output_units(units, self, n_classes, f"model.layers[{i}].units")
                layers.append(nn.Linear(width, units, init=layer.init))
                width = units
            elif kind == "batchnorm":
                layers.append(nn.BatchNorm1d(width))
            elif kind == "dropout":
                layers.append(nn.Dropout(_or(layer.p, 0.5)))
            elif kind == "leaky_relu":
                layers.append(nn.LeakyReLU(_or(layer.negative_slope, 0.01)))
            elif kind == "elu":
                layers.append(nn.ELU(_or(layer.alpha, 1.0)))
            elif kind == "gelu":
                layers.append(nn.GELU(_or(layer.approximate, "none")))
            elif kind in _SIMPLE_LAYERS:
                layers.append(getattr(nn, _SIMPLE_LAYERS[kind])())
            else:
                raise _fail(f"model.layers[{i}].type", f"must be one of {_one_of(tuple(LAYER_TYPES))}", kind)
        if self.loss in _NLL_LOSSES:
            layers.append(nn.LogSoftmax())
        return nn.Sequential(*layers)

    def build_optimizer(self, model: Module) -> Optimizer:
        """The optimizer over ``model.parameters()``."""
        from retroprop import optim

        classes: dict[str, type[Optimizer]] = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW,
                                               "rmsprop": optim.RMSprop, "adagrad": optim.Adagrad}
        cls = classes[self.optimizer.name]
        return cls(model.parameters(), **self.optimizer.options())

    def build_scheduler(self, optimizer: Optimizer) -> LRScheduler | ReduceLROnPlateau | None:
        """The learning-rate scheduler for ``optimizer``, or None without a schedule."""
        if self.schedule is None:
            return None
        from retroprop.optim import lr_scheduler as lrs

        options = self.schedule.options()
        name = self.schedule.name
        if name == "step":
            return lrs.StepLR(optimizer, **options)
        if name == "exponential":
            return lrs.ExponentialLR(optimizer, **options)
        if name == "cosine":
            options.setdefault("T_max", self.epochs)
            return lrs.CosineAnnealingLR(optimizer, **options)
        if name == "linear":
            return lrs.LinearLR(optimizer, **options)
        return lrs.ReduceLROnPlateau(optimizer, **options)

    def build_doctor(self) -> Doctor | bool:
        """An ``rp.Doctor`` with the spec's settings, or False when the doctor is off."""
        if not self.doctor.enabled:
            return False
        from retroprop.doctor import Doctor

        return Doctor(every=self.doctor.every, repair=self.doctor.repair, make_up=self.doctor.make_up)

    def fit_kwargs(self) -> dict[str, Any]:
        """``epochs``, ``batch_size``, ``seed`` and ``loss`` for ``rp.fit``."""
        return {"epochs": self.epochs, "batch_size": self.batch_size, "seed": self.seed, "loss": self.loss}

    def train(self, *, verbose: int = 0, callbacks: Sequence[Any] = (),
              data: Prepared | None = None, doctor: Any = None) -> History:
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


_SIMPLE_LAYERS = {"relu": "ReLU", "selu": "SELU", "sigmoid": "Sigmoid", "tanh": "Tanh"}


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _check_output_units(units: int, spec: ExperimentSpec, n_classes: int, path: str) -> None:
    needed = spec.output_units(n_classes)
    if spec.loss in _BINARY_LOSSES or spec.loss in _REGRESSION_LOSSES:
        if units != needed:
            raise _fail(path, f"must be {needed} (or auto) for the loss {spec.loss} with {n_classes} classes",
                        units)
    elif units < needed:
        raise _fail(path, f"must be at least the number of classes, {needed} (or auto)", units)


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------
def parse_spec(data: Mapping[str, Any], source: str = "spec") -> ExperimentSpec:
    """Check ``data`` (a spec as parsed from JSON or YAML) and return it as an ``ExperimentSpec``,
    the defaults filled in. Raises ``SpecError`` naming the first bad field; ``source`` names the
    spec in messages about the whole of it (and becomes the error's ``source``)."""
    try:
        return _parse(data, source)
    except SpecError as err:
        if err.source is None:
            err.source = source
        raise


def _parse(data: Any, source: str) -> ExperimentSpec:
    if not isinstance(data, Mapping):
        raise SpecError(f"{source}: the spec must be a mapping of fields, got {_show(data)}", source=source)
    _check_keys(data, _TOP, "")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise _fail("name", "must be a string", name)
    data_spec = _parse_data(_require(data, "data", ""))
    model_raw = _require(data, "model", "")
    loss = data.get("loss", "cross_entropy")
    if not isinstance(loss, str) or loss not in LOSSES:
        raise _fail("loss", f"must be one of {_one_of(tuple(LOSSES))}", loss)
    if loss in _BINARY_LOSSES and data_spec.num_classes != 2:
        raise _fail("loss", f"a binary loss needs 2 classes, but {data_spec.name} has "
                    f"{data_spec.num_classes}", loss)
    optimizer = _parse_optimizer(_require(data, "optimizer", ""))
    epochs = _int(1).read(_require(data, "epochs", ""), "epochs")
    schedule_raw = data.get("schedule")
    schedule = None if schedule_raw is None else _parse_schedule(schedule_raw, epochs)
    batch_size = _int(1, 32).read(data.get("batch_size", 32), "batch_size")
    seed = _int(0).read(data.get("seed", 0), "seed")
    doctor = _parse_doctor(data.get("doctor", {}))
    spec = ExperimentSpec(name=name, data=data_spec, model=ModelSpec(()), loss=loss, optimizer=optimizer,
                          schedule=schedule, epochs=epochs, batch_size=batch_size, seed=seed, doctor=doctor)
    return dataclasses.replace(spec, model=_parse_model(model_raw, spec))


def _parse_data(raw: Any) -> DataSpec:
    path = "data"
    data = _mapping(raw, path)
    name = _Opt("choice", choices=tuple(DATASETS)).read(_require(data, "name", path), "data.name")
    info = DATASETS[name]
    common = {k: v for k, v in _DATA_COMMON.items() if not (name == "mnist1d" and k == "test_size")}
    allowed = ("name", *common, *info.options)
    _check_keys(data, allowed, path, name)
    values = _read_options(data, {**common, **info.options}, path,
                           defaults={"seed": 42} if name == "mnist1d" else None)
    spec = DataSpec(name=name, **values)
    n_classes = spec.num_classes
    if info.options and name != "mnist1d":
        n = values["n_samples"]
        if n < 2 * n_classes:
            raise _fail("data.n_samples", f"must be at least {2 * n_classes} (two per class, for the split)",
                        n)
    else:
        n = info.n_samples
    if n is not None:  # a stratified split needs every class in both sets
        n_test = math.ceil(values["test_size"] * n)
        if not n_classes <= n_test <= n - n_classes:
            raise _fail("data.test_size", f"leaves {n_test} of {n} samples for testing; the test and the "
                        f"training set each need one sample of each of the {n_classes} classes",
                        values["test_size"])
    return spec


def _parse_layer(raw: Any, path: str) -> LayerSpec:
    if isinstance(raw, str):  # shorthand: "relu" is {type: relu}
        raw = {"type": raw}
    data = _mapping(raw, path, "must be a mapping with a type (or just a layer type)")
    kind = _Opt("choice", choices=tuple(LAYER_TYPES)).read(_require(data, "type", path), _join(path, "type"))
    options = LAYER_TYPES[kind]
    allowed = ("type", "units", *options) if kind == "linear" else ("type", *options)
    _check_keys(data, allowed, path, f"a {kind} layer")
    values = _read_options(data, options, path)
    if kind == "linear":
        units = data.get("units")  # None or "auto": checked by _parse_model (only the last may)
        values["units"] = None if units in (None, "auto") else _int(1).read(units, _join(path, "units"))
    return LayerSpec(type=kind, **values)


def _parse_model(raw: Any, spec: ExperimentSpec) -> ModelSpec:
    data = _mapping(raw, "model")
    _check_keys(data, ("layers",), "model")
    layers_raw = _require(data, "layers", "model")
    if not _is_list(layers_raw) or not layers_raw:
        raise _fail("model.layers", "must be a non-empty list of layers", layers_raw)
    layers = tuple(_parse_layer(layer, f"model.layers[{i}]") for i, layer in enumerate(layers_raw))
    last = len(layers) - 1
    if layers[last].type != "linear":
        raise _fail(f"model.layers[{last}].type", "the last layer must be linear", layers[last].type)
    for i, layer in enumerate(layers[:last]):
        if layer.type == "linear" and layer.units is None:
            where = f"model.layers[{i}].units"
            if isinstance(layers_raw[i], Mapping) and layers_raw[i].get("units") == "auto":
                raise _fail(where, "may be auto only on the last layer", "auto")
            raise _fail(where, "missing required field (only the last linear layer may leave it out)")
    if layers[last].units is not None:
        _check_output_units(layers[last].units, spec, spec.data.num_classes, f"model.layers[{last}].units")
    return ModelSpec(layers)


def _parse_optimizer(raw: Any) -> OptimizerSpec:
    path = "optimizer"
    data = _mapping(raw, path)
    name = _Opt("choice", choices=tuple(OPTIMIZERS)).read(_require(data, "name", path), "optimizer.name")
    options = OPTIMIZERS[name]
    _check_keys(data, ("name", *options), path, name)
    values = _read_options(data, options, path)
    if values.get("nesterov") and (values["momentum"] <= 0 or values["dampening"] != 0):
        raise _fail("optimizer.nesterov", f"needs momentum > 0 and dampening 0 (momentum is "
                    f"{values['momentum']:g}, dampening {values['dampening']:g})", True)
    return OptimizerSpec(name=name, **values)


def _parse_schedule(raw: Any, epochs: int) -> ScheduleSpec:
    path = "schedule"
    data = _mapping(raw, path)
    name = _Opt("choice", choices=tuple(SCHEDULES)).read(_require(data, "name", path), "schedule.name")
    options = SCHEDULES[name]
    _check_keys(data, ("name", *options), path, name)
    values = _read_options(data, options, path, defaults={"T_max": epochs} if name == "cosine" else None)
    return ScheduleSpec(name=name, **values)


def _parse_doctor(raw: Any) -> DoctorSpec:
    if isinstance(raw, (bool, np.bool_)):  # shorthand: doctor: false
        return DoctorSpec(enabled=bool(raw))
    path = "doctor"
    data = _mapping(raw, path, "must be a mapping of fields (or true or false)")
    _check_keys(data, ("enabled", "repair", "every", "make_up"), path)
    values = _read_options(data, _DOCTOR, path)
    every = data.get("every")
    values["every"] = None if every is None else _int(1).read(every, "doctor.every")
    if values["repair"] and not values["enabled"]:
        raise _fail("doctor.repair", "needs doctor.enabled: true", True)
    return DoctorSpec(**values)


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------
def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and check a spec file (``.json``, ``.yaml`` or ``.yml``).

    A file that is missing, unreadable or not valid JSON/YAML raises ``SpecError`` naming the file
    (and the line, for a parse error); a bad field raises it naming the field (its ``line`` set for
    YAML).
    """
    path = Path(path)
    name = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise SpecError(f"{name}: unknown spec file type {suffix or '(no extension)'!r}; expected a .json, "
                        ".yaml or .yml file", source=name)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise SpecError(f"{name}: cannot read the file: not UTF-8 text (byte {err.start})",
                        source=name) from None
    except OSError as err:
        raise SpecError(f"{name}: cannot read the file: {err.strerror or err}", source=name) from None
    if suffix == ".json":
        data, locate = _read_json(text, name), None
    else:
        data, locate = _read_yaml(text, name)
    if data is None:
        raise SpecError(f"{name}: the file is empty; expected a spec (a mapping of fields)", source=name)
    try:
        return parse_spec(data, name)
    except SpecError as err:
        if locate is not None and err.path is not None:
            err.line = locate(err.path)
        raise


def _read_json(text: str, name: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise SpecError(f"{name}: duplicate key {key!r} in a JSON object", source=name)
            out[key] = value
        return out

    if not text.strip():
        return None
    try:
        return json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as err:
        raise SpecError(f"{name}: not valid JSON at line {err.lineno}, column {err.colno}: {err.msg}",
                        source=name, line=err.lineno) from None


# YAML 1.1 (PyYAML) reads 1e-3 as a string; a spec means the number, as JSON and YAML 1.2 do.
_YAML_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.VERBOSE)


def _read_yaml(text: str, name: str) -> tuple[Any, Callable[[str], int | None] | None]:
    try:
        import yaml
    except ImportError:
        raise SpecError(f"{name}: reading YAML needs PyYAML (pip install retroprop[cli]); or write the "
                        "spec as JSON", source=name) from None

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if isinstance(key, str) and key in seen:
                    raise SpecError(f"{name}: duplicate key {key!r} at line {key_node.start_mark.line + 1}",
                                    source=name, line=key_node.start_mark.line + 1)
                if isinstance(key, str):
                    seen.add(key)
            return super().construct_mapping(node, deep=deep)

    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML_FLOAT, list("-+0123456789."))
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        where = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
        raise SpecError(f"{name}: not valid YAML{where}: {problem}", source=name,
                        line=None if mark is None else mark.line + 1) from None
    finally:
        loader.dispose()
    return data, (lambda field_path: _yaml_line(node, field_path))


def _yaml_line(node: Any, field_path: str) -> int | None:
    """The line of ``field_path`` (``model.layers[2].p``) in a YAML node tree: of the field's key if
    it is there, else of the deepest mapping or list on the way to it."""
    import yaml

    if node is None:
        return None
    parts: list[str | int] = []
    for piece in field_path.split("."):
        head, *indices = piece.split("[")
        if head:
            parts.append(head)
        parts.extend(int(i.rstrip("]")) for i in indices)
    line = node.start_mark.line + 1
    for part in parts:
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        elif isinstance(node, yaml.MappingNode) and isinstance(part, str):
            found = [(k, v) for k, v in node.value if getattr(k, "value", None) == part]
            if not found:
                break
            line = found[0][0].start_mark.line + 1
            node = found[0][1]
        else:
            break
    return line


# ---------------------------------------------------------------------------------------------
# Examples: one per data set (docs/spec.md shows the same, as YAML; a test keeps them equal).
# A bare type name is a layer without options.
# ---------------------------------------------------------------------------------------------
SPEC_EXAMPLES: dict[str, dict[str, Any]] = {
    "digits": {
        "name": "digits-mlp",
        "data": {"name": "digits", "test_size": 0.25, "seed": 0},
        "model": {"layers": [
            {"type": "linear", "units": 128, "init": "he_normal"},
            "relu",
            {"type": "dropout", "p": 0.1},
            {"type": "linear"},
        ]},
        "loss": "cross_entropy",
        "optimizer": {"name": "adam", "lr": 0.001},
        "epochs": 15,
        "batch_size": 32,
        "seed": 0,
        "doctor": {"enabled": True},
    },
    "iris": {
        "name": "iris-sgd",
        "data": {"name": "iris", "test_size": 0.3},
        "model": {"layers": [
            {"type": "linear", "units": 16},
            "tanh",
            {"type": "linear", "units": 3},
        ]},
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
        "schedule": {"name": "step", "step_size": 20, "gamma": 0.5},
        "epochs": 60,
        "batch_size": 16,
    },
    "breast_cancer": {
        "name": "breast-cancer-logistic",
        "data": {"name": "breast_cancer"},
        "model": {"layers": [
            {"type": "linear", "units": 32},
            "relu",
            {"type": "linear", "units": 1},
        ]},
        "loss": "bce_with_logits",
        "optimizer": {"name": "adamw", "lr": 0.003, "weight_decay": 0.01},
        "epochs": 30,
    },
    "wine": {
        "name": "wine-batchnorm",
        "data": {"name": "wine", "test_size": 0.25, "seed": 1},
        "model": {"layers": [
            {"type": "linear", "units": 32},
            "batchnorm",
            "relu",
            {"type": "linear"},
        ]},
        "optimizer": {"name": "rmsprop", "lr": 0.001},
        "epochs": 40,
        "batch_size": 16,
    },
    "mnist1d": {
        "name": "mnist1d-mlp",
        "data": {"name": "mnist1d", "n_train": 4000, "n_test": 1000},
        "model": {"layers": [
            {"type": "linear", "units": 256, "init": "he_normal"},
            "gelu",
            {"type": "linear", "units": 256, "init": "he_normal"},
            "gelu",
            {"type": "linear"},
        ]},
        "optimizer": {"name": "adam", "lr": 0.002, "weight_decay": 0.0001},
        "schedule": {"name": "cosine", "eta_min": 0.0001},
        "epochs": 50,
        "batch_size": 100,
    },
    "spiral": {
        "name": "spiral-leaky",
        "data": {"name": "spiral", "n_samples": 600, "n_classes": 3, "noise": 0.2},
        "model": {"layers": [
            {"type": "linear", "units": 64},
            {"type": "leaky_relu", "negative_slope": 0.05},
            {"type": "linear", "units": 64},
            {"type": "leaky_relu", "negative_slope": 0.05},
            {"type": "linear"},
        ]},
        "optimizer": {"name": "adam", "lr": 0.01},
        "schedule": {"name": "plateau", "factor": 0.5, "patience": 5},
        "epochs": 100,
    },
    "circles": {
        "name": "circles-nesterov",
        "data": {"name": "circles", "n_samples": 400, "noise": 0.1, "factor": 0.5},
        "model": {"layers": [{"type": "linear", "units": 16}, "tanh", {"type": "linear"}]},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
        "epochs": 50,
    },
    "xor": {
        "name": "xor-sigmoid",
        "data": {"name": "xor", "n_samples": 400, "noise": 0.05},
        "model": {"layers": [{"type": "linear", "units": 8}, "sigmoid", {"type": "linear"}]},
        "optimizer": {"name": "adam", "lr": 0.05},
        "schedule": {"name": "exponential", "gamma": 0.98},
        "epochs": 80,
        "doctor": {"enabled": True, "every": 10},
    },
    "gaussians": {
        "name": "gaussians-elu",
        "data": {"name": "gaussians", "n_samples": 500, "n_classes": 5, "noise": 0.6},
        "model": {"layers": [
            {"type": "linear", "units": 32},
            {"type": "elu", "alpha": 1.0},
            {"type": "linear"},
        ]},
        "optimizer": {"name": "adagrad", "lr": 0.05},
        "epochs": 30,
    },
    "moons": {
        "name": "moons-repair",
        "data": {"name": "moons", "n_samples": 400, "noise": 0.15, "standardize": True},
        "model": {"layers": [
            {"type": "linear", "units": 32, "init": "lecun_normal"},
            "selu",
            {"type": "linear", "units": 32, "init": "lecun_normal"},
            "selu",
            {"type": "linear"},
        ]},
        "optimizer": {"name": "sgd", "lr": 0.1},
        "schedule": {"name": "linear", "start_factor": 0.1, "total_iters": 10},
        "epochs": 60,
        "doctor": {"enabled": True, "repair": True},
    },
}
