"""Saving and loading models and checkpoints, without pickle, whole or not at all.

Two formats: ``.safetensors`` (compatible with the ``safetensors`` package) and ``.npz`` (a zip of
``.npy`` arrays). Either holds the arrays plus JSON metadata: a format version, the architecture
(so ``load`` rebuilds a ``Sequential`` without the code that made it), an optional ``info`` dict
(what the model was trained for) and a SHA-256 checksum of everything, so a truncated or altered
file is refused with a message naming the file and what is wrong.

Writing goes through ``retroprop.files.atomic_write``: a full disk or a crash leaves an existing
file as it was. Reading trusts nothing in the file (see ``retroprop.containers`` for the limits):
only regular files; every header checked before memory is allocated; a saved architecture is
validated (classes, arguments) and its weights counted (at most ``MAX_PARAMETERS``, and no more
than the file really holds) before the model is built; every malformed field raises
``FileFormatError`` (a ``ValueError``) naming the file and the field.

Checkpoints (``save_checkpoint``/``load_checkpoint``) live in ``retroprop.checkpoints`` and are
re-exported here.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from retroprop import containers
from retroprop.architecture import MAX_LAYERS, MAX_PARAMETERS, Layout, build_model, describe, model_config
from retroprop.containers import (
    MAX_JSON_DEPTH,
    FileFormatError,
    loads_json,
    open_arrays,
    string_map,
    write_npz,
    write_safetensors,
)
from retroprop.files import atomic_write, check_output_path

__all__ = ["FORMAT_VERSION", "MAX_LAYERS", "MAX_PARAMETERS", "FileFormatError", "build_model", "load",
           "load_checkpoint", "load_state_dict", "model_config", "read_arrays", "read_info", "save",
           "save_checkpoint", "write_arrays"]

FORMAT_VERSION = 1
_META_KEY = "__retroprop_metadata__"
_SUFFIXES = (".safetensors", ".npz")
_MODEL_DTYPES = ("float16", "float32", "float64")


# ---------------------------------------------------------------------------------------------
# Arrays plus verified metadata
# ---------------------------------------------------------------------------------------------
def _bytes_of(array: np.ndarray) -> memoryview:
    return memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8))


def _digest(metadata: dict[str, str], items: Iterable[tuple[str, np.dtype, tuple[int, ...],
                                                              Iterable[Any]]]) -> str:
    """SHA-256 over every metadata entry and every array (name, dtype, shape, bytes; sorted names)."""
    digest = hashlib.sha256()
    for key in sorted(metadata):
        digest.update(f"{key}={metadata[key]}\n".encode())
    for name, dtype, shape, chunks in items:
        digest.update(name.encode())
        digest.update(dtype.str.encode())
        digest.update(str(tuple(shape)).encode())
        for chunk in chunks:
            digest.update(chunk)
    return digest.hexdigest()


def _little_endian(array: Any) -> np.ndarray:
    array = np.asarray(array, order="C")  # keeps 0-d arrays 0-d
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    return array


def write_arrays(path: str | Path, arrays: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Write arrays with JSON metadata, a format version and a checksum, atomically.

    The folder is created when missing. A failed write raises ``OSError`` naming the path and
    the reason, and leaves any existing file unchanged.
    """
    path = check_output_path(path, what="file", suffixes=_SUFFIXES, create_folder=True)
    for reserved in (_META_KEY, "__metadata__"):
        if reserved in arrays:
            raise ValueError(f"{path}: the array name {reserved!r} is reserved")
    prepared = OrderedDict((name, _little_endian(value)) for name, value in arrays.items())
    meta = {"format": "retroprop", "format_version": str(FORMAT_VERSION)}
    meta.update({key: json.dumps(value) for key, value in metadata.items()})
    size = sum(len(key) + len(value) for key, value in meta.items())
    if size > containers.MAX_HEADER_BYTES // 2:  # JSON escapes may double it; the reader's limit
        raise ValueError(f"{path}: {size:,} bytes of metadata, more than a file can hold and be read back "
                         f"({containers.MAX_HEADER_BYTES // 2:,}); shorten the info or the History")
    meta["checksum"] = _digest(meta, ((name, prepared[name].dtype, prepared[name].shape,
                                       [_bytes_of(prepared[name])]) for name in sorted(prepared)))
    try:
        with atomic_write(path, "wb") as handle:
            if path.suffix.lower() == ".safetensors":
                write_safetensors(handle, prepared, meta)
            else:
                prepared[_META_KEY] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
                write_npz(handle, prepared)
    except OSError as err:
        raise OSError(err.errno, f"{path}: could not write the file ({err.strerror or err}); any "
                                 "earlier file there is unchanged") from err


def _read(path: str | Path, keep: bool) -> tuple[OrderedDict[str, np.ndarray], dict[str, Any]]:
    """Open, verify the checksum, parse the metadata; the arrays too when ``keep``."""
    path = Path(path)
    with open_arrays(path) as container:
        entries = OrderedDict(container.entries)
        if path.suffix.lower() == ".npz":
            raw: dict[str, str] = {}
            if _META_KEY in entries:
                dtype, shape = entries.pop(_META_KEY)
                if dtype != np.uint8 or len(shape) != 1:
                    raise FileFormatError(f"{path}: the retroprop metadata member must be 1-D uint8, got "
                                          f"{list(shape)} of {dtype}")
                text = container.read(_META_KEY).tobytes()
                where = f"{path}: retroprop metadata"
                raw = string_map(loads_json(text, where), where)
        else:
            raw = container.metadata
        if raw.get("format") != "retroprop":
            raise FileFormatError(f"{path}: not a retroprop file (no retroprop metadata); plain tensors can "
                                  "be read with rp.load_state_dict only if the file was written by "
                                  "retroprop")
        version = raw.get("format_version")
        if version != str(FORMAT_VERSION):
            raise FileFormatError(f"{path}: format version {str(version)[:20]} is not supported (this "
                                  f"retroprop writes and reads version {FORMAT_VERSION})")
        arrays: dict[str, np.ndarray] = {}

        def items() -> Iterator[tuple[str, np.dtype, tuple[int, ...], Iterable[Any]]]:
            for name in sorted(entries):
                dtype, shape = entries[name]
                if keep:
                    arrays[name] = container.read(name)
                    yield name, dtype, shape, [_bytes_of(arrays[name])]
                else:
                    yield name, dtype, shape, container.chunks(name)

        covered = {key: value for key, value in raw.items() if key != "checksum"}
        if raw.get("checksum") != _digest(covered, items()):
            raise FileFormatError(f"{path}: checksum mismatch: the weights or the saved architecture were "
                                  "altered or corrupted after saving")
    metadata = {}
    for key, value in covered.items():
        if key not in ("format", "format_version"):
            metadata[key] = loads_json(value, f"{path}: metadata entry {key!r}")
    return OrderedDict((name, arrays[name]) for name in entries if name in arrays), metadata


def read_arrays(path: str | Path) -> tuple[OrderedDict[str, np.ndarray], dict[str, Any]]:
    """Read and verify a file written by ``write_arrays``; returns (arrays, metadata)."""
    return _read(path, keep=True)


def read_info(path: str | Path) -> dict[str, Any]:
    """The ``info`` dict saved with ``rp.save(..., info=...)`` ({} when there is none).

    Reads the metadata and streams the arrays through the checksum without keeping them.
    """
    _, metadata = _read(path, keep=False)
    return _info_field(path, metadata)


def _info_field(path: str | Path, metadata: dict[str, Any]) -> dict[str, Any]:
    info = metadata.get("info", {})
    if not isinstance(info, dict):
        raise FileFormatError(f"{path}: field 'info' must be an object, got {type(info).__name__}")
    return info


def check_info(info: Any, where: str = "save") -> dict[str, Any]:
    """``info`` if it is a JSON-able dict with string keys, else ``TypeError`` naming the entry."""
    if not isinstance(info, dict):
        raise TypeError(f"{where}: info must be a dict, got {type(info).__name__}")
    stack: list[tuple[Any, str, int]] = [(info, "info", 1)]
    while stack:
        value, at, depth = stack.pop()
        if depth > MAX_JSON_DEPTH - 2:
            raise TypeError(f"{where}: {at} is nested more than {MAX_JSON_DEPTH - 2} levels deep")
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise TypeError(f"{where}: {at} has the key {key!r} ({type(key).__name__}); JSON keys "
                                    "are strings")
                stack.append((item, f"{at}[{key!r}]", depth + 1))
        elif isinstance(value, (list, tuple)):
            stack.extend((item, f"{at}[{i}]", depth + 1) for i, item in enumerate(value))
        elif not (value is None or type(value) in (bool, int, float, str)):
            raise TypeError(f"{where}: {at} is a {type(value).__name__}, which JSON cannot hold (use dicts "
                            "with string keys, lists, str, int, float, bool or None)")
    return info


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------
def save(model: Any, path: str | Path, *, info: dict[str, Any] | None = None) -> None:
    """Write ``model``'s weights and architecture to one ``.safetensors`` or ``.npz`` file.

    Models built from retroprop layers (``Sequential`` of built-in layers) are rebuilt by
    ``rp.load`` without their code; other Modules save their ``state_dict`` for
    ``model.load_state_dict(rp.load_state_dict(path))``. ``info`` is a JSON-able dict saved with
    the model (e.g. its loss, data and classes), read back by ``read_info``.
    """
    metadata: dict[str, Any] = {"kind": "model", "architecture": model_config(model),
                                "dtype": str(model.dtype)}
    if info is not None:
        metadata["info"] = check_info(info)
    write_arrays(path, dict(model.state_dict()), metadata)


def _kind(path: str | Path, metadata: dict[str, Any]) -> str:
    kind = metadata.get("kind")
    if kind not in ("model", "checkpoint"):
        raise FileFormatError(f"{path}: field 'kind' must be 'model' or 'checkpoint', got {str(kind)[:40]!r}")
    return kind


def model_arrays(arrays: dict[str, np.ndarray]) -> OrderedDict[str, np.ndarray]:
    """The model's part of a checkpoint's arrays, without the 'model/' prefix."""
    return OrderedDict((k.removeprefix("model/"), v) for k, v in arrays.items() if k.startswith("model/"))


def load_state_dict(path: str | Path) -> OrderedDict[str, np.ndarray]:
    """The arrays of a file written by ``rp.save`` (for ``model.load_state_dict``)."""
    arrays, metadata = read_arrays(path)
    if _kind(path, metadata) == "checkpoint":
        return model_arrays(arrays)
    return OrderedDict(arrays)


def model_dtype(path: str | Path, metadata: dict[str, Any]) -> np.dtype:
    dtype = metadata.get("dtype", "float32")
    if dtype not in _MODEL_DTYPES:
        raise FileFormatError(f"{path}: field 'dtype' must be one of {', '.join(_MODEL_DTYPES)}, got "
                              f"{str(dtype)[:40]!r}")
    return np.dtype(dtype)


def check_layout(path: str | Path, layout: Layout, arrays: dict[str, np.ndarray]) -> None:
    """Refuse weights that do not match the architecture's layout, before anything is built."""
    needed = sum(int(np.prod(shape)) for shape, _ in layout.values())
    present = sum(array.size for array in arrays.values())
    where = f"{path}: the weights do not fit the saved architecture"
    if needed > present:
        raise FileFormatError(f"{where}: it needs {needed:,} weights, the file holds {present:,}; refused "
                              "before allocating anything")
    for name, (shape, kind) in layout.items():
        if name not in arrays:
            raise FileFormatError(f"{where}: {name} is missing")
        array = arrays[name]
        if array.shape != shape:
            raise FileFormatError(f"{where}: {name} has shape {array.shape} in the file, the architecture "
                                  f"needs {shape}")
        if array.dtype.kind != ("f" if kind == "float" else "i"):
            raise FileFormatError(f"{where}: {name} is {array.dtype}, the architecture needs "
                                  f"{'floats' if kind == 'float' else 'integers'}")
    extra = [name for name in arrays if name not in layout]
    if extra:
        raise FileFormatError(f"{where}: the file holds {extra[0]}, which the architecture has no place for")


def rebuild(path: str | Path, metadata: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """The model described by ``metadata['architecture']`` with ``arrays`` as weights, checked
    (architecture, weight count and shapes) before anything is allocated."""
    architecture = metadata.get("architecture")
    if architecture is None:
        raise FileFormatError(
            f"{path}: holds weights without an architecture (a custom Module); build the model in code "
            "and call model.load_state_dict(rp.load_state_dict(path))"
        )
    dtype = model_dtype(path, metadata)
    try:
        normalized, layout = describe(architecture)
    except FileFormatError as err:
        raise FileFormatError(f"{path}: the saved architecture: {err}") from None
    check_layout(path, layout, arrays)
    try:
        model = build_model(normalized)
    except FileFormatError as err:
        raise FileFormatError(f"{path}: the saved architecture: {err}") from None
    model.to(dtype)
    model.load_state_dict(arrays)
    return model


def load(path: str | Path) -> Any:
    """Rebuild the model saved by ``rp.save`` (architecture and weights)."""
    arrays, metadata = read_arrays(path)
    if _kind(path, metadata) == "checkpoint":
        arrays = model_arrays(arrays)
    return rebuild(path, metadata, arrays)


from retroprop.checkpoints import load_checkpoint, save_checkpoint  # noqa: E402  (uses the above)
