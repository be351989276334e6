"""The spec's field types: exact (``true`` is not a number, ``10.0`` not an integer, ``"10"`` neither), the
range said in words, values shown as a spec writes them and cut short before they are formatted; and the
limits that keep a spec from making retroprop allocate without bound.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, PlainValidator
from pydantic_core import PydanticCustomError

MAX_UNITS = 2**20  # the widest layer a spec may ask for
MAX_PARAMETERS = 10**8  # the most parameters a spec's model may have (about 400 MB of float32)
MAX_FILE_BYTES = 1 << 20  # the largest spec file read
MAX_DEPTH = 100  # the deepest nesting of mappings and lists in a spec
MAX_VALUES = 100_000  # the most values in a spec, once YAML aliases are expanded
_INT64 = 2**63 - 1  # counts and seeds go into NumPy
_NOTHING = object()  # no value to show


def show(value: Any, limit: int = 60) -> str:
    """``value`` in JSON spelling, at most ``limit`` characters; only what fits is looked at."""
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
                key = k if isinstance(k, str) else show(k, 20)
                if (i and not put(", ")) or not put(json.dumps(key[:room]) + ": ") or not walk(x):
                    return False
            return put("}")
        if isinstance(v, (list, tuple)):
            return put("[") and all((not i or put(", ")) and walk(x) for i, x in enumerate(v)) and put("]")
        if v is None or isinstance(v, (bool, np.bool_)):
            return put(json.dumps(None if v is None else bool(v)))
        if isinstance(v, str):
            return put(json.dumps(v[:room]))
        if isinstance(v, numbers.Integral):  # a huge int is not turned into digits (slow, refused past 4300)
            n = int(v)
            digits = int(n.bit_length() * 0.30103)
            return put(str(n) if n.bit_length() < 200 else f"<an integer of {digits} digits>")
        return put(repr(float(v)) if isinstance(v, numbers.Real) else repr(v)[:room])

    walk(value)
    text = "".join(parts)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def fail(message: str, at: str = "", got: Any = _NOTHING, *, hide: bool = False) -> PydanticCustomError:
    """A validation error, made a SpecError by ``retroprop.spec``: ``at`` extends the field's path, ``got``
    is the value shown (default: the input), ``hide`` shows none."""
    context: dict[str, Any] = {"at": at, "hide": hide}
    if got is not _NOTHING:
        context["shown"] = show(got)  # pydantic may repr its context: a value is kept only shown
    return PydanticCustomError("spec", message.replace("{", "{{").replace("}", "}}"), context)


def _integer(v: Any, *, int64: bool = True) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise fail("must be an integer")
    if int64 and abs(int(v)) > _INT64:
        raise fail(f"must be at most {_INT64} in size")
    return int(v)


def _number(v: Any) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise fail("must be a number")
    try:
        number = float(v)
    except OverflowError:  # an int past 1.8e308
        number = math.inf
    if not math.isfinite(number):
        raise fail("must be a finite number")
    return number


def _boolean(v: Any) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise fail("must be true or false")
    return bool(v)


def _string(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise fail("must be a string" if not isinstance(v, str) else "must not be empty")
    return v


def choice(*names: str) -> Any:
    """A string that is one of ``names``."""
    def check(v: Any) -> str:
        if not isinstance(v, str) or v not in names:
            raise fail(f"must be one of {', '.join(names)}")
        return v
    return Annotated[str, PlainValidator(check)]


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def within(low: float = 0, high: float | None = None, *, low_open: bool = False,
           high_open: bool = False) -> AfterValidator:
    """A range check, said as ">= 0", "between 0 and 1" or "in (0, 1]"."""
    if high is None:
        text = f"{'>' if low_open else '>='} {_num(low)}"
    elif not low_open and not high_open:
        text = f"between {_num(low)} and {_num(high)}"
    else:
        text = f"in {'(' if low_open else '['}{_num(low)}, {_num(high)}{')' if high_open else ']'}"

    def check(v: float) -> float:
        too_low = v <= low if low_open else v < low
        if too_low or (high is not None and (v >= high if high_open else v > high)):
            raise fail(f"must be {text}")
        return v
    return AfterValidator(check)


def _betas(v: Any) -> tuple[float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise fail("must be a list of two numbers [beta1, beta2]")
    out = []
    for i, beta in enumerate(v):
        try:
            out.append(_number(beta))
        except PydanticCustomError as err:
            raise fail(err.message(), f"[{i}]", beta) from None
        if not 0 <= out[-1] < 1:
            raise fail("must be in [0, 1)", f"[{i}]", beta)
    return out[0], out[1]


def _units(v: Any) -> int | None:
    if isinstance(v, str) and v == "auto":
        return None  # as many as the loss needs
    n = _integer(v, int64=False)
    if n < 1:
        raise fail("must be >= 1")
    if n > MAX_UNITS:
        raise fail(f"must be at most {MAX_UNITS} (the widest layer a spec may have)")
    return n


def _label(v: Any) -> str | int:
    return _string(v) if isinstance(v, str) else _integer(v)


def _delimiter(v: Any) -> str:
    if not isinstance(v, str) or len(v) != 1:
        raise fail('must be one character, such as "," or ";" or "\\t"')
    return v


Int = Annotated[int, PlainValidator(_integer)]
Int0, Int1, Int2 = (Annotated[Int, within(n)] for n in (0, 1, 2))
Number = Annotated[float, PlainValidator(_number)]
NonNegative = Annotated[Number, within(0)]
Positive = Annotated[Number, within(0, low_open=True)]
Fraction = Annotated[Number, within(0, 1, high_open=True)]  # [0, 1)
Share = Annotated[Number, within(0, 1, low_open=True, high_open=True)]  # (0, 1)
Unit = Annotated[Number, within(0, 1)]  # [0, 1]
Bool = Annotated[bool, PlainValidator(_boolean)]
String = Annotated[str, PlainValidator(_string)]
Seed = Annotated[Int, within(0, 2**32 - 1)]
Betas = Annotated[Any, PlainValidator(_betas)]  # a tuple (Any: serialized as a list without a warning)
Units = Annotated[int, PlainValidator(_units)]  # "auto" is None
Label = Annotated[str | int, PlainValidator(_label)]
Delimiter = Annotated[str, PlainValidator(_delimiter)]
