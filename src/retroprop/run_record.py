"""``RunRecord``: one finished training run as typed, versioned plain data, which the report reads.

A record holds what ``fit`` recorded (per-epoch logs, per-step losses, why and when it stopped) and
what the doctor saw (its probes, diagnoses, treatments and own errors), in frozen dataclasses of
plain values: floats, ints, texts, tuples. Every per-layer entry carries the layer twice: ``layer``,
the dotted module name from ``named_modules()`` (the key: entries about one layer meet by it), and
``label``, the human text ("layer 2, Linear 24→16"), for display only.

```python
record = RunRecord.from_run(history, doctor)   # after rp.fit(..., doctor=doctor)
record.save("run.json")                         # atomically; RunRecord.load("run.json") reads it back
```

The JSON form (``to_dict``/``to_json``) names its schema and version; reading checks both and every
field's type, and a record that does not fit raises ``RunRecordError`` (a ``ValueError``) naming the
field and what was expected. Non-finite numbers are written as the strings ``"NaN"``, ``"Infinity"``
and ``"-Infinity"``; in the free-form values (``evidence``, ``config``) they are kept as those strings
in memory too, so that a record read back equals the one written.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retroprop.files import write_text

__all__ = ["SCHEMA", "VERSION", "ActivationProbe", "Cause", "DiagnosisEntry", "DoctorError", "LayerProbe",
           "Measurement", "Passed", "ProbeEntry", "RunRecord", "RunRecordError", "TreatmentEntry",
           "run_config"]

SCHEMA = "retroprop.run_record"
VERSION = 2  # 2 added the diagnoses that passed by itself (``RunRecord.passed``, ``DiagnosisEntry.passed``)
READS = (1, VERSION)  # the versions ``from_dict`` reads: a version 1 record read has nothing that passed
MAX_BYTES = 512 * 1024 * 1024  # a record file larger than this is refused before it is read
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class RunRecordError(ValueError):
    """A run record (a dict, a JSON text or file) that does not fit the schema."""


# ---------------------------------------------------------------------------------------------
# conversion and checks, driven by the dataclasses' type hints
# ---------------------------------------------------------------------------------------------
def _fail(where: str, expected: str, value: Any) -> RunRecordError:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return RunRecordError(f"run record: {where}: expected {expected}, got {type(value).__name__} {shown}")


def _float(value: Any, where: str) -> float:
    if isinstance(value, str) and value in _NONFINITE:
        return _NONFINITE[value]
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise _fail(where, 'a number (or "NaN", "Infinity", "-Infinity")', value)
    number = float(value)
    # one NaN object throughout: entries compare equal after a round trip (== on NaN is False, but
    # tuples and dicts compare identical objects as equal)
    return math.nan if number != number else number


def free_value(value: Any, where: str = "value") -> Any:
    """A free-form value (evidence, configuration) as JSON data: dicts with text keys, lists,
    texts, booleans, ints, finite floats, None; non-finite floats as "NaN"/"Infinity"/"-Infinity"."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isfinite(number):
            return number
        return "NaN" if number != number else ("Infinity" if number > 0 else "-Infinity")
    if isinstance(value, np.ndarray):
        return free_value(value.tolist(), where)
    if isinstance(value, Mapping):
        return {str(k): free_value(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [free_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise _fail(where, "JSON data (a dict, list, text, number, boolean or null)", value)


def _convert(value: Any, hint: Any, where: str) -> Any:
    """``value`` checked against (and converted to) the type ``hint``."""
    if hint is Any:
        return free_value(value, where)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None and len(options) < len(typing.get_args(hint)):
            return None
        errors = []
        for option in options:
            try:
                return _convert(value, option, where)
            except RunRecordError as err:
                errors.append(err)
        if len(options) == 1:
            raise errors[0]
        raise _fail(where, " or ".join(_describe(o) for o in typing.get_args(hint)), value)
    if hint is bool:
        if not isinstance(value, bool | np.bool_):
            raise _fail(where, "true or false", value)
        return bool(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise _fail(where, "an integer", value)
        return int(value)
    if hint is float:
        return _float(value, where)
    if hint is str:
        if not isinstance(value, str):
            raise _fail(where, "a text", value)
        return value
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if not isinstance(value, list | tuple):
            raise _fail(where, "a list", value)
        return tuple(_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        item = typing.get_args(hint)[1]
        if not isinstance(value, Mapping):
            raise _fail(where, "a dict", value)
        out = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise _fail(f"{where} key", "a text", key)
            out[key] = _convert(v, item, f"{where}[{key!r}]")
        return out
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if not isinstance(value, Mapping):
            raise _fail(where, f"a dict ({hint.__name__})", value)
        return hint._from_mapping(value, where)
    raise TypeError(f"run record: no conversion for {hint!r}")  # pragma: no cover - a schema bug


def _describe(hint: Any) -> str:
    if hint is type(None):
        return "null"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a text"}
    if hint in names:
        return names[hint]
    if typing.get_origin(hint) is tuple:
        return "a list"
    return f"a dict ({getattr(hint, '__name__', hint)})" if dataclasses.is_dataclass(hint) else "a dict"


def _encode(value: Any) -> Any:
    """A checked field value as JSON data."""
    if isinstance(value, _Entry):
        return value.to_dict()
    if isinstance(value, float):
        return free_value(value)
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


class _Entry:
    """What every record class shares: its fields checked and converted on construction (lists
    become tuples, numbers floats where floats are meant), and the dict form."""

    @classmethod
    def _hints(cls) -> dict[str, Any]:
        hints = cls.__dict__.get("_hint_cache")
        if hints is None:
            hints = typing.get_type_hints(cls)
            cls._hint_cache = hints
        return hints

    def __post_init__(self) -> None:
        hints = self._hints()
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            converted = _convert(value, hints[f.name], f"{self._where}.{f.name}")
            if converted is not value:
                object.__setattr__(self, f.name, converted)

    _where = "entry"  # how an error names this entry when it was built directly

    @classmethod
    def from_dict(cls, data: Any, where: str | None = None) -> Any:
        """The entry a ``to_dict()`` made, every field checked; ``where``: how an error names it."""
        where = where or cls._where
        if not isinstance(data, Mapping):
            raise _fail(where, f"a dict ({cls.__name__})", data)
        return cls._from_mapping(data, where)

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any], where: str) -> Any:
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in data if k not in names]
        if unknown:
            raise RunRecordError(f"run record: {where}: unknown field {unknown[0]!r}; expected the fields "
                                 f"{', '.join(names)}")
        missing = [n for n in names if n not in data]
        if missing:
            expected = _describe(cls._hints()[missing[0]])
            raise RunRecordError(f"run record: {where}: missing field {missing[0]!r} ({expected})")
        hints = cls._hints()
        values = {n: _convert(data[n], hints[n], f"{where}.{n}") for n in names}
        try:
            return cls(**values)
        except RunRecordError as err:  # a check across fields: named by this entry's place
            raise RunRecordError(str(err).replace(f"run record: {cls._where}.", f"run record: {where}.", 1)) \
                from None

    def to_dict(self) -> dict[str, Any]:
        """JSON data: every field, by name."""
        return {f.name: _encode(getattr(self, f.name)) for f in dataclasses.fields(self)}


# ---------------------------------------------------------------------------------------------
# the entries
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerProbe(_Entry):
    """One weighted layer (Linear, BatchNorm1d) at one probe."""

    layer: str  # dotted module name: the key
    label: str  # for display
    grad_norm: float
    grad_rms: float
    grad_mean_abs: float
    weight_norm: float
    size: int  # entries of the weight
    fan_in: int | None  # inputs per unit (Linear); None for BatchNorm1d
    update_ratio: float | None  # ||W_after - W_before|| / ||W_before|| of the probed step's update
    nonfinite_grad: int
    nonfinite_weight: int
    _where = "LayerProbe"


@dataclass(frozen=True)
class ActivationProbe(_Entry):
    """One activation layer at one probe."""

    layer: str
    label: str
    kind: str  # "relu", "sigmoid", "tanh", ...
    mean: float
    std: float
    nonfinite: int
    fired: tuple[bool, ...] | None  # per unit: fired (> 0) on the probed batch (ReLU units only)
    saturated_share: float | None  # share of outputs in the flat regions (sigmoid, tanh)
    samples: int | None  # samples in the probed batch
    after: str | None  # the weighted layer (its key) that feeds it
    _where = "ActivationProbe"

    @property
    def dead_share(self) -> float | None:
        """The share of units that fired on none of the probed batch's samples."""
        if self.fired is None or not self.fired:
            return None
        return 1.0 - sum(self.fired) / len(self.fired)


@dataclass(frozen=True)
class ProbeEntry(_Entry):
    """Everything one probe saw, input side first."""

    step: int  # 0-based
    epoch: int  # 0-based
    loss: float
    replayed: bool  # probed after the fact, to find where a NaN/Inf began
    grad_norm_total: float
    layers: tuple[LayerProbe, ...]
    activations: tuple[ActivationProbe, ...]
    _where = "ProbeEntry"

    @classmethod
    def from_probe(cls, record: Any) -> ProbeEntry:
        """From the doctor's ``ProbeRecord`` (``doctor.recorder.records``)."""
        layers = tuple(LayerProbe(layer=s.name, label=s.label, grad_norm=s.grad_norm, grad_rms=s.grad_rms,
                                  grad_mean_abs=s.grad_mean_abs, weight_norm=s.weight_norm, size=s.size,
                                  fan_in=s.fan_in, update_ratio=s.update_ratio,
                                  nonfinite_grad=s.nonfinite_grad, nonfinite_weight=s.nonfinite_weight)
                       for s in record.layers)
        activations = tuple(ActivationProbe(
            layer=a.name, label=a.label, kind=a.kind, mean=a.mean, std=a.std, nonfinite=a.nonfinite,
            fired=None if a.fired is None else np.asarray(a.fired, dtype=bool).reshape(-1).tolist(),
            saturated_share=a.saturated_share, samples=a.samples, after=a.after) for a in record.activations)
        return cls(step=record.step, epoch=record.epoch, loss=record.loss, replayed=record.replayed,
                   grad_norm_total=record.grad_norm_total, layers=layers, activations=activations)

    def at(self, layer: str) -> LayerProbe | ActivationProbe | None:
        """This probe's entry for the layer with key ``layer`` (weighted or activation), or None."""
        return next((e for e in (*self.layers, *self.activations) if e.layer == layer), None)


@dataclass(frozen=True)
class Cause(_Entry):
    """The root cause a diagnosis follows from."""

    problem: str
    layer: str | None
    label: str | None
    step: int
    _where = "Cause"


@dataclass(frozen=True)
class Passed(_Entry):
    """How the run left a diagnosis by itself, untreated: by its last step, the smoothed training loss
    fell from ``loss_then`` (at the diagnosis) to ``loss_end``."""

    step: int
    loss_then: float
    loss_end: float
    _where = "Passed"


@dataclass(frozen=True)
class DiagnosisEntry(_Entry):
    """One problem the doctor found (``Diagnosis``): what, where, since when, on what evidence, the
    cures (``(id, description)`` pairs, first to try first)."""

    problem: str
    layer: str | None  # None: the whole model
    label: str | None
    step: int
    epoch: int
    severity: str  # "warning" or "critical"
    evidence: dict[str, Any]
    explanation: str
    remedies: tuple[tuple[str, ...], ...]
    escalated_from: int | None  # the step of the milder diagnosis of the same episode
    caused_by: Cause | None
    passed: Passed | None = None  # in ``RunRecord.passed``: how the run left it by itself
    _where = "DiagnosisEntry"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.severity not in ("warning", "critical"):
            raise _fail(f"{self._where}.severity", '"warning" or "critical"', self.severity)
        for i, remedy in enumerate(self.remedies):
            if len(remedy) != 2:
                raise _fail(f"{self._where}.remedies[{i}]", "an [id, description] pair", list(remedy))

    @classmethod
    def from_diagnosis(cls, d: Any) -> DiagnosisEntry:
        """From the doctor's ``Diagnosis``."""
        cause = d.caused_by
        if cause is not None:
            cause = Cause(problem=cause["problem"], layer=cause["layer"], label=cause["layer_label"],
                          step=cause["step"])
        passed = d.passed
        if passed is not None:
            passed = Passed(step=passed["step"], loss_then=passed["loss_then"], loss_end=passed["loss_end"])
        return cls(problem=d.problem, layer=d.layer, label=d.layer_label, step=d.step, epoch=d.epoch,
                   severity=d.severity, evidence=d.evidence, explanation=d.explanation,
                   remedies=tuple((rid, text) for rid, text in d.remedies), escalated_from=d.escalated_from,
                   caused_by=cause, passed=passed)


@dataclass(frozen=True)
class Measurement(_Entry):
    """The outcome a treatment was judged by: its value before the treatment and after it."""

    metric: str | None
    before: float | None
    after: float | None
    _where = "Measurement"


@dataclass(frozen=True)
class TreatmentEntry(_Entry):
    """One entry of the doctor's treatment log (``TreatmentRecord``)."""

    step: int
    epoch: int
    problem: str
    layer: str | None
    label: str | None
    remedy: str | None
    description: str
    applied: bool
    rolled_back_to: int | None  # the step whose state the run went back to
    wasted_steps: int
    outcome: str  # "resolved", "worse", "unconfirmed", "returned", "skipped", "exhausted", "left", "pending"
    measured: Measurement | None
    _where = "TreatmentEntry"

    @classmethod
    def from_treatment(cls, t: Any, label: str | None = None) -> TreatmentEntry:
        """From the doctor's ``TreatmentRecord``; ``label``: its layer's, which it does not carry."""
        measured = None
        if t.measured is not None:
            # while a treatment is pending, ``before`` holds every outcome measured (a dict) and no
            # metric is chosen yet: only a compared outcome (one metric, two numbers) is kept
            before = t.measured.get("before")
            measured = Measurement(metric=t.measured.get("metric"),
                                   before=before if isinstance(before, int | float) else None,
                                   after=t.measured.get("after"))
        return cls(step=t.step, epoch=t.epoch, problem=t.problem, layer=t.layer, label=label, remedy=t.remedy,
                   description=t.description, applied=t.applied, rolled_back_to=t.rolled_back_to,
                   wasted_steps=t.wasted_steps, outcome=t.outcome, measured=measured)


@dataclass(frozen=True)
class DoctorError(_Entry):
    """A failure of the doctor itself: the part that raised was skipped from then on."""

    step: int
    epoch: int
    part: str  # "attach", "rule dead_relu", "probe 2", ...
    error: str
    _where = "DoctorError"


# ---------------------------------------------------------------------------------------------
# the record
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunRecord(_Entry):
    """One finished run, as the report reads it. Steps and epochs count from 0."""

    schema: str = SCHEMA
    version: int = VERSION
    title: str | None = None
    config: dict[str, Any] = field(default_factory=dict)  # how the run was set up (free-form)
    logs: dict[str, tuple[float, ...]] = field(default_factory=dict)  # per epoch: "loss", "val_accuracy", ...
    steps_per_epoch: int | None = None
    step_loss: tuple[float, ...] = ()  # the training loss of every step
    probes: tuple[ProbeEntry, ...] = ()
    diagnoses: tuple[DiagnosisEntry, ...] = ()
    passed: tuple[DiagnosisEntry, ...] = ()  # diagnoses the run left by itself (each with its ``passed``)
    treatments: tuple[TreatmentEntry, ...] = ()
    doctor_errors: tuple[DoctorError, ...] = ()
    stop_reason: str | None = None
    wall_time: float = 0.0  # seconds
    _where = "RunRecord"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.schema != SCHEMA:
            raise _fail("RunRecord.schema", repr(SCHEMA), self.schema)
        if self.version != VERSION:
            raise RunRecordError(f"run record: version {self.version} is not supported: this retroprop makes "
                                 f"version {VERSION} of {SCHEMA}")
        for name, passed in (("diagnoses", False), ("passed", True)):
            for i, entry in enumerate(getattr(self, name)):
                if (entry.passed is not None) != passed:
                    raise _fail(f"RunRecord.{name}[{i}].passed", "an entry" if passed else "null",
                                entry.passed)

    @property
    def epochs(self) -> int:
        return max((len(v) for v in self.logs.values()), default=0)

    @classmethod
    def from_run(cls, history: Any, doctor: Any = None, config: Mapping[str, Any] | None = None,
                 title: str | None = None) -> RunRecord:
        """The record of a run that ``rp.fit`` returned ``history`` for; ``doctor``: the ``Doctor``
        that watched it (its probes, diagnoses and treatments; without it, the History's diagnoses
        and treatments). ``config``: how the run was set up (default: ``run_config(history)``, with
        the doctor's settings)."""
        recorder = doctor.recorder if doctor is not None else None  # None until the doctor is attached
        probes = tuple(ProbeEntry.from_probe(r) for r in recorder.records) if recorder is not None else ()
        diagnoses = tuple(DiagnosisEntry.from_diagnosis(d) for d in
                          (doctor.diagnoses if doctor is not None else history.diagnoses))
        passed = tuple(DiagnosisEntry.from_diagnosis(d) for d in
                       (doctor.passed if doctor is not None else history.passed))
        source = doctor.treatments if doctor is not None else history.treatments
        treatments = tuple(TreatmentEntry.from_treatment(
            t, getattr(t, "layer_label", None) or _label_at(t.layer, t.step, diagnoses, probes))
            for t in source)
        if config is None:
            config = run_config(history)
            if doctor is not None:
                config["doctor"] = {"every": doctor.every or "default", "repair": bool(doctor.repair),
                                    "probes": len(probes)}
        errors = tuple(DoctorError(step=e["step"], epoch=e["epoch"], part=e["where"], error=e["error"])
                       for e in history.doctor_errors)
        return cls(title=title, config=config, logs=history.history,
                   steps_per_epoch=history.params.get("steps"),
                   step_loss=history.step_loss, probes=probes, diagnoses=diagnoses, passed=passed,
                   treatments=treatments,
                   doctor_errors=errors, stop_reason=history.stop_reason, wall_time=history.wall_time)

    # -- reading and writing ------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any, where: str | None = None) -> RunRecord:
        """The record a ``to_dict()`` made, every field checked (``RunRecordError`` names the first
        one that does not fit)."""
        if not isinstance(data, Mapping):
            raise _fail("the record", "a dict", data)
        if data.get("schema") != SCHEMA:
            raise _fail("schema", repr(SCHEMA), data.get("schema"))
        version = data.get("version")
        if version not in READS or isinstance(version, bool):
            raise RunRecordError(f"run record: version {version!r} is not supported: this retroprop reads "
                                 f"versions {' and '.join(map(str, READS))} of {SCHEMA}")
        if version == 1:  # before anything passed by itself: the same fields, less ``passed``
            data = _from_version_1(data)
        return cls._from_mapping(data, "RunRecord")

    def to_json(self, indent: int | None = None) -> str:
        """Valid JSON (non-finite numbers as "NaN", "Infinity", "-Infinity")."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> RunRecord:
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise RunRecordError(f"run record: not valid JSON: {err}") from None
        return cls.from_dict(data)

    def save(self, path: str | Path) -> Path:
        """Write the record as JSON, atomically; returns the path."""
        target = Path(path)
        write_text(target, self.to_json(indent=1) + "\n")
        return target

    @classmethod
    def load(cls, path: str | Path) -> RunRecord:
        """Read a record that ``save`` wrote (JSON only: nothing is unpickled)."""
        source = Path(path)
        size = source.stat().st_size
        if size > MAX_BYTES:
            raise RunRecordError(f"run record: {source}: {size} bytes, more than a record may have "
                                 f"({MAX_BYTES})")
        try:
            return cls.from_json(source.read_bytes())
        except RunRecordError as err:
            raise RunRecordError(f"{source}: {err}") from None


def _from_version_1(data: Mapping[str, Any]) -> dict[str, Any]:
    """A version 1 record's data as version 2's: nothing passed by itself. Fields checked later."""
    data = {**data, "version": VERSION}
    if "passed" in data:
        raise RunRecordError("run record: RunRecord: unknown field 'passed' in a version 1 record")
    data["passed"] = []
    diagnoses = data.get("diagnoses")
    if isinstance(diagnoses, list):
        for i, d in enumerate(diagnoses):
            if isinstance(d, Mapping) and "passed" in d:
                raise RunRecordError(f"run record: RunRecord.diagnoses[{i}]: unknown field 'passed' in a "
                                     "version 1 record")
        data["diagnoses"] = [{**d, "passed": None} if isinstance(d, Mapping) else d for d in diagnoses]
    return data


def _refuse_constant(name: str) -> Any:
    raise RunRecordError(f"run record: not valid JSON: {name} (a non-finite number is written as the text "
                         f'"{name}")')


def _label_at(layer: str | None, step: int, diagnoses: Sequence[DiagnosisEntry],
              probes: Sequence[ProbeEntry]) -> str | None:
    """The label layer ``layer`` had at ``step``: from the latest diagnosis or probe of it at or
    before that step (a repair that changes the model renumbers the labels)."""
    if layer is None:
        return None
    seen = [(d.step, d.label) for d in diagnoses if d.layer == layer and d.label is not None]
    for probe in probes:
        entry = probe.at(layer)
        if entry is not None:
            seen.append((probe.step, entry.label))
    before = [s for s in seen if s[0] <= step] or seen
    return max(before, key=lambda s: s[0])[1] if before else None


def run_config(history: Any) -> dict[str, Any]:
    """What a ``History`` says about how the run was set up, as plain data."""
    params = dict(history.params)
    config: dict[str, Any] = {}
    optimizer = params.pop("optimizer", None)
    scheduler = params.pop("scheduler", None)
    config.update({k: v for k, v in params.items() if isinstance(v, int | float | str | bool | type(None))})
    if optimizer is not None:
        groups = getattr(optimizer, "param_groups", None) or [{}]
        settings = {k: v for k, v in groups[0].items() if k != "params"
                    and isinstance(v, int | float | str | bool | tuple | type(None))}
        config["optimizer"] = {"type": type(optimizer).__name__, **settings}
    if scheduler is not None:
        config["scheduler"] = type(scheduler).__name__
    if history.model is not None:
        config["model"] = repr(history.model)
    if history.stop_reason:
        config["stop_reason"] = history.stop_reason
    if history.wall_time:
        config["wall_time_s"] = round(float(history.wall_time), 3)
    return config
