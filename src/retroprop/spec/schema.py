"""The spec's schema: pydantic models, one per layer type, optimizer, schedule and data source.

Each field has an exact type (``true`` is not a number, ``10.0`` not an integer, ``"10"`` neither) and
a range said in words; a failed check is a ``PydanticCustomError`` of type ``spec`` whose context may
extend the field's path (``at``) or name the value to show (``got``). ``retroprop.spec`` turns these
errors into one-line ``SpecError`` messages and a validated ``_Spec`` into its frozen dataclasses.
The limits that keep a spec from making retroprop allocate without bound are here too.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    PlainValidator,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError

from retroprop.data.prepare import BUILTIN_SETS
from retroprop.nn.init import INITIALIZERS
from retroprop.training import LOSSES

MAX_UNITS = 2**20  # the widest layer a spec may ask for
MAX_PARAMETERS = 10**8  # the most parameters a spec's model may have (about 400 MB of float32)
MAX_FILE_BYTES = 1 << 20  # the largest spec file read
MAX_DEPTH = 100  # the deepest nesting of mappings and lists in a spec
MAX_VALUES = 100_000  # the most values in a spec, once YAML aliases are expanded

# ---------------------------------------------------------------------------------------------
# Values: shown as written in a spec (JSON spelling), cut short before they are formatted
# ---------------------------------------------------------------------------------------------
_NOTHING = object()  # no value to show (a missing or unknown field)


def _show(value: Any, limit: int = 60) -> str:
    parts: list[str] = []
    room = limit + 1

    def put(text: str) -> bool:
        nonlocal room
        parts.append(text[:room])
        room -= len(text)
        return room > 0

    def walk(v: Any) -> bool:  # False once the room is used up; nesting is bounded by the room
        if isinstance(v, Mapping):
            if not put("{"):
                return False
            for i, (k, x) in enumerate(v.items()):
                key = k if isinstance(k, str) else _show(k, 20)
                if (i and not put(", ")) or not put(json.dumps(key[:room]) + ": ") or not walk(x):
                    return False
            return put("}")
        if isinstance(v, (list, tuple)):
            return put("[") and all((not i or put(", ")) and walk(x) for i, x in enumerate(v)) and put("]")
        if v is None or isinstance(v, (bool, np.bool_)):
            return put(json.dumps(None if v is None else bool(v)))
        if isinstance(v, str):
            return put(json.dumps(v[:room]))
        if isinstance(v, numbers.Integral):
            n = int(v)
            # a huge int is not turned into digits (slow, and refused past 4300 of them)
            return put(str(n) if n.bit_length() < 200 else f"<an integer of {int(n.bit_length() * 0.30103)} "
                       "digits>")
        if isinstance(v, numbers.Real):
            return put(repr(float(v)))
        return put(repr(v)[:room])

    walk(value)
    text = "".join(parts)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _fail(message: str, at: str = "", got: Any = _NOTHING, *, hide: bool = False) -> PydanticCustomError:
    """A validation error; ``at`` extends the field's path, ``got`` replaces the value shown (the
    input), ``hide`` shows none."""
    context: dict[str, Any] = {"at": at, "hide": hide}
    if got is not _NOTHING:
        context["shown"] = _show(got)  # pydantic may repr its context: a value is kept only shown
    return PydanticCustomError("spec", message.replace("{", "{{").replace("}", "}}"), context)


# ---------------------------------------------------------------------------------------------
# Field types: exact (true is not a number, 10.0 not an integer, "10" neither) with the range in words
# ---------------------------------------------------------------------------------------------
def _integer(v: Any) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise _fail("must be an integer")
    return int(v)


def _number(v: Any) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise _fail("must be a number")
    try:
        number = float(v)
    except OverflowError:  # an int past 1.8e308
        number = math.inf
    if not math.isfinite(number):
        raise _fail("must be a finite number")
    return number


def _boolean(v: Any) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise _fail("must be true or false")
    return bool(v)


def _string(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise _fail("must be a string" if not isinstance(v, str) else "must not be empty")
    return v


def _choice(*names: str) -> Any:
    def check(v: Any) -> str:
        if not isinstance(v, str) or v not in names:
            raise _fail(f"must be one of {', '.join(names)}")
        return v
    return Annotated[str, PlainValidator(check)]


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _within(low: float | None = None, high: float | None = None, *, low_open: bool = False,
            high_open: bool = False) -> AfterValidator:
    if high is None:
        text = f"{'>' if low_open else '>='} {_num(low or 0)}"
    elif not low_open and not high_open:
        text = f"between {_num(low or 0)} and {_num(high)}"
    else:
        text = f"in {'(' if low_open else '['}{_num(low or 0)}, {_num(high)}{')' if high_open else ']'}"

    def check(v: float) -> float:
        if (low is not None and (v <= low if low_open else v < low)) or (
                high is not None and (v >= high if high_open else v > high)):
            raise _fail(f"must be {text}")
        return v
    return AfterValidator(check)


def _int64(v: int) -> int:
    if abs(v) > _INT64:
        raise _fail(f"must be at most {_INT64} in size")
    return v


_INT64 = 2**63 - 1  # counts and seeds go into NumPy
Int = Annotated[int, PlainValidator(_integer), AfterValidator(_int64)]
Int0, Int1, Int2 = (Annotated[Int, _within(n)] for n in (0, 1, 2))
Number = Annotated[float, PlainValidator(_number)]
NonNegative = Annotated[Number, _within(0)]
Positive = Annotated[Number, _within(0, low_open=True)]
Fraction = Annotated[Number, _within(0, 1, high_open=True)]  # [0, 1)
Share = Annotated[Number, _within(0, 1, low_open=True, high_open=True)]  # (0, 1)
Unit = Annotated[Number, _within(0, 1)]  # [0, 1]
Bool = Annotated[bool, PlainValidator(_boolean)]
String = Annotated[str, PlainValidator(_string)]
Seed = Annotated[Int, _within(0, 2**32 - 1)]


def _betas(v: Any) -> tuple[float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise _fail("must be a list of two numbers [beta1, beta2]")
    out = []
    for i, beta in enumerate(v):
        try:
            out.append(_number(beta))
        except PydanticCustomError as err:
            raise _fail(err.message(), f"[{i}]", beta) from None
        if not 0 <= out[-1] < 1:
            raise _fail("must be in [0, 1)", f"[{i}]", beta)
    return out[0], out[1]


def _units(v: Any) -> int | str:
    if v == "auto" and isinstance(v, str):
        return v
    n = _integer(v)
    if n < 1:
        raise _fail("must be >= 1")
    if n > MAX_UNITS:
        raise _fail(f"must be at most {MAX_UNITS} (the widest layer a spec may have)")
    return n


# ---------------------------------------------------------------------------------------------
# The schema: one model per layer type, optimizer, schedule and data source
# ---------------------------------------------------------------------------------------------
class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _tagged(members: dict[str, type[_Fields]], key: str, what: str, *, shorthand: bool = False,
            others: dict[str, type[_Fields]] | None = None, kind: Callable[[Mapping[str, Any]], str | None]
            = lambda v: None) -> Any:
    """A union of ``members`` told apart by the value of ``key`` (a bare name is short for
    {key: name} with ``shorthand``); ``kind`` picks one of ``others`` for an input without it."""
    def check(v: Any) -> Any:
        if shorthand and isinstance(v, str):
            v = {key: v}
        if not isinstance(v, Mapping):
            raise _fail(what)
        if kind(v) is None and key not in v:
            raise _fail("missing required field", f".{key}", hide=True)
        if kind(v) is None and (not isinstance(v[key], str) or v[key] not in members):
            raise _fail(f"must be one of {', '.join(members)}", f".{key}", v[key])
        return v
    every = {**members, **(others or {})}
    tags = {cls: tag for tag, cls in every.items()}

    def tag_of(v: Any) -> str:  # of the input, or of a validated model (when it is dumped)
        return (kind(v) or v[key]) if isinstance(v, Mapping) else getattr(v, key, None) or tags[type(v)]
    union = tuple(Annotated[cls, Tag(tag)] for tag, cls in every.items())
    return Annotated[_union(union), Discriminator(tag_of), BeforeValidator(check)]


def _union(types: tuple[Any, ...]) -> Any:
    from typing import Union

    return Union[types]  # noqa: UP007 - a union built at run time


class _Linear(_Fields):
    type: Literal["linear"]
    units: Annotated[int | str, PlainValidator(_units)] | None = None  # None or "auto" only on the last
    init: _choice(*INITIALIZERS) | None = None


class _LeakyReLU(_Fields):
    type: Literal["leaky_relu"]
    negative_slope: NonNegative = 0.01


class _ELU(_Fields):
    type: Literal["elu"]
    alpha: NonNegative = 1.0


class _GELU(_Fields):
    type: Literal["gelu"]
    approximate: _choice("none", "tanh") = "none"


class _Dropout(_Fields):
    type: Literal["dropout"]
    p: Unit = 0.5


def _plain_layer(tag: str, module: str) -> type[_Fields]:
    return type(f"_{module}", (_Fields,), {"__annotations__": {"type": Literal[tag]}})


_LAYERS: dict[str, type[_Fields]] = {
    "linear": _Linear, "relu": _plain_layer("relu", "ReLU"), "leaky_relu": _LeakyReLU, "elu": _ELU,
    "selu": _plain_layer("selu", "SELU"), "gelu": _GELU, "sigmoid": _plain_layer("sigmoid", "Sigmoid"),
    "tanh": _plain_layer("tanh", "Tanh"), "dropout": _Dropout,
    "batchnorm": _plain_layer("batchnorm", "BatchNorm1d"),
}  # each built by the nn.LAYERS class its model is named after


def _layer_list(v: Any) -> Any:
    if not isinstance(v, (list, tuple)) or not v:
        raise _fail("must be a non-empty list of layers")
    return v


_Layer = _tagged(_LAYERS, "type", "must be a mapping with a type (or just a layer type)", shorthand=True)


class _Model(_Fields):
    layers: Annotated[list[_Layer], BeforeValidator(_layer_list)]

    @model_validator(mode="after")
    def _shape(self) -> _Model:
        last = len(self.layers) - 1
        if self.layers[last].type != "linear":
            raise _fail("the last layer must be linear", f".layers[{last}].type", self.layers[last].type)
        for i, layer in enumerate(self.layers[:last]):
            units = getattr(layer, "units", 1)
            if units == "auto":
                raise _fail("may be auto only on the last layer", f".layers[{i}].units", "auto")
            if units is None:
                raise _fail("missing required field (only the last linear layer may leave it out)",
                            f".layers[{i}].units", hide=True)
        return self


class _SGD(_Fields):
    name: Literal["sgd"]
    lr: Positive
    momentum: Fraction = 0.0
    dampening: Unit = 0.0
    nesterov: Bool = False
    weight_decay: NonNegative = 0.0

    @model_validator(mode="after")
    def _nesterov(self) -> _SGD:
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise _fail(f"needs momentum > 0 and dampening 0 (momentum is {self.momentum:g}, dampening "
                        f"{self.dampening:g})", ".nesterov", True)
        return self


class _Adam(_Fields):
    name: Literal["adam"]
    lr: Positive
    betas: Annotated[tuple[float, float], PlainValidator(_betas)] = (0.9, 0.999)
    eps: NonNegative = 1e-8
    weight_decay: NonNegative = 0.0
    amsgrad: Bool = False


class _AdamW(_Adam):
    name: Literal["adamw"]
    weight_decay: NonNegative = 0.01


class _RMSprop(_Fields):
    name: Literal["rmsprop"]
    lr: Positive
    alpha: Fraction = 0.99
    eps: NonNegative = 1e-8
    weight_decay: NonNegative = 0.0
    momentum: Fraction = 0.0
    centered: Bool = False


class _Adagrad(_Fields):
    name: Literal["adagrad"]
    lr: Positive
    lr_decay: NonNegative = 0.0
    weight_decay: NonNegative = 0.0
    initial_accumulator_value: NonNegative = 0.0
    eps: NonNegative = 1e-10


class _StepLR(_Fields):
    name: Literal["step"]
    step_size: Int1
    gamma: Positive = 0.1


class _ExponentialLR(_Fields):
    name: Literal["exponential"]
    gamma: Positive


class _CosineAnnealingLR(_Fields):
    name: Literal["cosine"]
    T_max: Int1 | None = None  # None: the spec's epochs
    eta_min: NonNegative = 0.0


class _LinearLR(_Fields):
    name: Literal["linear"]
    start_factor: Annotated[Number, _within(0, 1, low_open=True)] = 1.0 / 3
    end_factor: Unit = 1.0
    total_iters: Int1 = 5


class _ReduceLROnPlateau(_Fields):
    name: Literal["plateau"]
    mode: _choice("min", "max") = "min"
    factor: Fraction = 0.1
    patience: Int0 = 10
    threshold: NonNegative = 1e-4
    threshold_mode: _choice("rel", "abs") = "rel"
    cooldown: Int0 = 0
    min_lr: NonNegative = 0.0
    eps: NonNegative = 1e-8


_OPTIMIZERS = {"sgd": _SGD, "adam": _Adam, "adamw": _AdamW, "rmsprop": _RMSprop, "adagrad": _Adagrad}
_SCHEDULES = {"step": _StepLR, "exponential": _ExponentialLR, "cosine": _CosineAnnealingLR,
              "linear": _LinearLR, "plateau": _ReduceLROnPlateau}


class _Doctor(_Fields):
    enabled: Bool = True
    repair: Bool = False
    every: Int1 | None = None
    make_up: NonNegative = 0.5

    @model_validator(mode="after")
    def _repair(self) -> _Doctor:
        if self.repair and not self.enabled:
            raise _fail("needs doctor.enabled: true", ".repair", True)
        return self


def _doctor_shape(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return {"enabled": bool(v)}
    if not isinstance(v, Mapping):
        raise _fail("must be a mapping of fields (or true or false)")
    return v


class _Builtin(_Fields):
    name: str
    test_size: Share = 0.25
    seed: Seed = 0
    standardize: Bool = True

    @model_validator(mode="after")
    def _split(self) -> _Builtin:
        info = BUILTIN_SETS[self.name]
        n_classes = info.n_classes or getattr(self, "n_classes", 0)
        n = info.n_samples or getattr(self, "n_samples", 0)
        if info.n_samples is None and n < 2 * n_classes:
            raise _fail(f"must be at least {2 * n_classes} (two per class, for the split)", ".n_samples", n)
        n_test = math.ceil(self.test_size * n)  # a stratified split needs every class in both sets
        if not n_classes <= n_test <= n - n_classes:
            raise _fail(f"leaves {n_test} of {n} samples for testing; the test and the training set each "
                        f"need one sample of each of the {n_classes} classes", ".test_size", self.test_size)
        return self


class _Loaded(_Builtin):
    name: Literal["digits", "iris", "breast_cancer", "wine"]


class _Spiral(_Builtin):
    name: Literal["spiral"]
    n_samples: Int2 = 300
    n_classes: Int2 = 3
    noise: NonNegative = 0.2


class _Circles(_Builtin):
    name: Literal["circles"]
    n_samples: Int2 = 200
    noise: NonNegative = 0.05
    factor: Fraction = 0.5


class _XOR(_Builtin):
    name: Literal["xor"]
    n_samples: Int2 = 200
    noise: NonNegative = 0.1


class _Gaussians(_Builtin):
    name: Literal["gaussians"]
    n_samples: Int2 = 200
    n_classes: Int2 = 2
    noise: NonNegative = 0.5


class _Moons(_XOR):
    name: Literal["moons"]


class _Mnist1d(_Fields):
    name: Literal["mnist1d"]
    seed: Seed = 42  # the package's standard set
    standardize: Bool = True
    n_train: Int1 = 4000
    n_test: Int1 = 1000


def _label(v: Any) -> str | int:
    return _string(v) if isinstance(v, str) else _integer(v)


def _delimiter(v: Any) -> str:
    if not isinstance(v, str) or len(v) != 1:
        raise _fail('must be one character, such as "," or ";" or "\\t"')
    return v


class _File(_Fields):
    test_size: Share = 0.25
    seed: Seed = 0
    standardize: Bool = True

    @model_validator(mode="after")
    def _one_split(self) -> _File:
        validation = [f for f in type(self).model_fields if f.startswith("validation_")]
        given = [getattr(self, f) is not None for f in validation]
        if any(given) and "test_size" in self.model_fields_set:
            raise _fail(f"is not used with {validation[0]}: give one or the other", ".test_size",
                        self.test_size)
        if any(given) and not all(given):
            missing = validation[given.index(False)]
            raise _fail(f"missing required field (with {validation[1 - given.index(False)]})", f".{missing}",
                        hide=True)
        return self


class _Csv(_File):
    file: String
    label: Annotated[str | int, PlainValidator(_label)] = -1
    header: Bool | None = None  # None: detected
    delimiter: Annotated[str, PlainValidator(_delimiter)] | None = None  # None: detected
    validation_file: String | None = None


class _Npz(_File):
    file: String
    x: String = "x"
    y: String = "y"
    validation_file: String | None = None


class _NpyPair(_File):
    x_file: String
    y_file: String
    validation_x_file: String | None = None
    validation_y_file: String | None = None


def _file_kind(v: Mapping[str, Any]) -> str | None:
    if "file" in v:
        return "npz" if str(v["file"]).lower().endswith(".npz") else "csv"
    return "npy" if "x_file" in v or "y_file" in v else None


_DATA: dict[str, type[_Fields]] = {
    **dict.fromkeys(("digits", "iris", "breast_cancer", "wine"), _Loaded), "mnist1d": _Mnist1d,
    "spiral": _Spiral, "circles": _Circles, "xor": _XOR, "gaussians": _Gaussians, "moons": _Moons}
_FILES: dict[str, type[_Fields]] = {"csv": _Csv, "npz": _Npz, "npy": _NpyPair}
_FILE_OWNERS = {"csv": "a CSV file", "npz": "an .npz file", "npy": ".npy files"}
_BINARY_LOSSES = frozenset(k for k, v in LOSSES.items() if v.__name__ == "BCEWithLogitsLoss")
_MSE_LOSSES = frozenset(k for k, v in LOSSES.items() if v.__name__ == "MSELoss")
_NLL_LOSSES = frozenset(k for k, v in LOSSES.items() if v.__name__ == "NLLLoss")


class _Spec(_Fields):
    name: String | None = None
    data: _tagged(_DATA, "name", "must be a mapping of fields", others=_FILES, kind=_file_kind)
    model: _Model
    loss: _choice(*LOSSES) = "cross_entropy"
    optimizer: _tagged(_OPTIMIZERS, "name", "must be a mapping of fields")
    schedule: _tagged(_SCHEDULES, "name", "must be a mapping of fields") | None = None
    epochs: Int1
    batch_size: Int1 = 32
    seed: Int0 = 0
    doctor: Annotated[_Doctor, BeforeValidator(_doctor_shape)] = _Doctor()

    @model_validator(mode="after")
    def _whole(self) -> _Spec:
        name = getattr(self.data, "name", None)
        if name is None:  # a file: checked when it is read
            return self
        info = BUILTIN_SETS[name]
        n_classes = info.n_classes or self.data.n_classes
        if self.loss in _BINARY_LOSSES and n_classes != 2:
            raise _fail(f"a binary loss needs 2 classes, but {name} has {n_classes}", "loss", self.loss)
        layers, out = self.model.layers, _output_units(self.loss, n_classes)
        last = len(layers) - 1
        if layers[last].units not in (None, "auto") and (
                problem := _units_problem(layers[last].units, self.loss, n_classes)):
            raise _fail(problem, f"model.layers[{last}].units", layers[last].units)
        if found := _size_problem(layers, info.n_features, out):
            i, message = found
            if layers[i].type == "linear":
                raise _fail(message, f"model.layers[{i}].units", layers[i].units)
            raise _fail(message, f"model.layers[{i}]", hide=True)
        return self


def _output_units(loss: str, n_classes: int) -> int:
    return 1 if loss in _BINARY_LOSSES else n_classes


def _units_problem(units: int, loss: str, n_classes: int) -> str | None:
    needed = _output_units(loss, n_classes)
    if loss in _BINARY_LOSSES or loss in _MSE_LOSSES:
        wanted = f"must be {needed} (or auto) for the loss {loss} with {n_classes} classes"
        return None if units == needed else wanted
    return None if units >= needed else f"must be at least the number of classes, {needed} (or auto)"


def _size_problem(layers: Sequence[Any], n_features: int, out: int) -> tuple[int, str] | None:
    """The first layer (index, message) at which the model passes ``MAX_PARAMETERS``, if any."""
    total, width = 0, n_features
    for i, layer in enumerate(layers):
        if layer.type == "linear":
            units = out if layer.units in (None, "auto") else layer.units
            total += (width + 1) * units
            shape, width = f"Linear({width}, {units})", units
        elif layer.type == "batchnorm":
            total += 2 * width
            shape = f"BatchNorm1d({width})"
        if total > MAX_PARAMETERS:
            return i, (f"the model has {total} parameters up to this layer, {shape}; the limit is "
                       f"{MAX_PARAMETERS}")
    return None


class DataSetInfo(NamedTuple):
    """A built-in data set: its inputs and classes (None: its n_classes option) and options."""

    n_features: int
    n_classes: int | None
    n_samples: int | None
    options: tuple[str, ...]


def _options_of(models: Mapping[str, type[_Fields]], key: str,
                skip: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    return {tag: tuple(f for f in cls.model_fields if f not in (key, *skip)) for tag, cls in models.items()}


LAYER_TYPES = _options_of(_LAYERS, "type")  # type -> its options (besides type)
OPTIMIZERS = _options_of(_OPTIMIZERS, "name")
SCHEDULES = _options_of(_SCHEDULES, "name")
DATASETS = {name: DataSetInfo(*BUILTIN_SETS[name][:3], options) for name, options in
            _options_of(_DATA, "name", ("test_size", "seed", "standardize")).items()}


