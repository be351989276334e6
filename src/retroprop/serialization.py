"""Saving and loading models and checkpoints, without pickle, whole or not at all.

Two formats: ``.safetensors`` (compatible with the ``safetensors`` package) and ``.npz`` (a zip of
``.npy`` arrays). Either holds the arrays plus JSON metadata: a format version, the architecture
(so ``load`` rebuilds a ``Sequential`` without the code that made it), an optional ``info`` dict
(what the model was trained for) and a SHA-256 checksum of everything, so a truncated or altered
file is refused with a message naming the file and what is wrong.

Writing goes through ``retroprop.files.atomic_write``: a full disk or a crash leaves an existing
file as it was. A path that is a symbolic link stays a link: the file it points to is replaced.
``save`` writes the model's arrays as they are, without copying them first.

Reading trusts nothing in the file (see ``retroprop.containers`` for the limits): only regular
files (a symbolic link is followed to one); every header checked before memory is allocated; a
saved architecture is validated (classes, arguments) and its weights counted (at most
``MAX_PARAMETERS``) and matched against the shapes the file declares before the model is built;
``load`` then reads the weights straight into the model while verifying the checksum, so they are
in memory once. Every malformed field raises ``FileFormatError`` (a ``ValueError``) naming the
file and the field.

Checkpoints (``save_checkpoint``/``load_checkpoint``) live in ``retroprop.checkpoints`` and are
re-exported here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Container, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from retroprop import containers
from retroprop.architecture import MAX_LAYERS, MAX_PARAMETERS, Layout, build_model, describe, model_config
from retroprop.containers import (
    MAX_JSON_DEPTH,
    ArrayFile,
    FileFormatError,
    little_endian,
    loads_json,
    open_arrays,
    raw_bytes,
    string_map,
    write_npz,
    write_safetensors,
)
from retroprop.files import atomic_write, check_output_path
from retroprop.tensor import Tensor

__all__ = ["FORMAT_VERSION", "MAX_LAYERS", "MAX_PARAMETERS", "FileFormatError", "build_model", "load",
           "load_checkpoint", "load_state_dict", "model_config", "read_arrays", "read_info", "save",
           "save_checkpoint", "write_arrays"]

FORMAT_VERSION = 1
_META_KEY = "__retroprop_metadata__"
_SUFFIXES = (".safetensors", ".npz", ".pt", ".pth")  # .pt/.pth: safetensors under torch's names
_MODEL_DTYPES = ("float16", "float32", "float64")


# ---------------------------------------------------------------------------------------------
# Arrays plus verified metadata
# ---------------------------------------------------------------------------------------------
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


def write_arrays(path: str | Path, arrays: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Write arrays with JSON metadata, a format version and a checksum, atomically.

    The folder is created when missing. A path that cannot be written (a folder, another suffix, no
    permission) raises ``OutputPathError`` (a ``ValueError``) before anything is written; a failed
    write raises ``OSError`` naming the path and the reason, and leaves any existing file unchanged.
    """
    path = check_output_path(path, what="file", suffixes=_SUFFIXES, create_folder=True)
    for reserved in (_META_KEY, "__metadata__"):
        if reserved in arrays:
            raise ValueError(f"{path}: the array name {reserved!r} is reserved")
    prepared = OrderedDict((name, little_endian(value)) for name, value in arrays.items())
    meta = {"format": "retroprop", "format_version": str(FORMAT_VERSION)}
    meta.update({key: json.dumps(value) for key, value in metadata.items()})
    size = sum(len(key) + len(value) for key, value in meta.items())
    if size > containers.MAX_HEADER_BYTES // 2:  # JSON escapes may double it; the reader's limit
        raise ValueError(f"{path}: {size:,} bytes of metadata, more than a file can hold and be read back "
                         f"({containers.MAX_HEADER_BYTES // 2:,}); shorten the info or the History")
    meta["checksum"] = _digest(meta, ((name, prepared[name].dtype, prepared[name].shape,
                                       [raw_bytes(prepared[name])]) for name in sorted(prepared)))
    try:
        with atomic_write(path, "wb") as handle:
            if path.suffix.lower() != ".npz":
                write_safetensors(handle, prepared, meta)
            else:
                prepared[_META_KEY] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
                write_npz(handle, prepared)
    except OSError as err:
        raise OSError(err.errno, f"{path}: could not write the file ({err.strerror or err}); any "
                                 "earlier file there is unchanged") from err


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[tuple[ArrayFile, OrderedDict[str, Any], dict[str, str], dict[str, Any]]]:
    """Open a retroprop file: (container, its arrays' (dtype, shape) by name, the raw metadata, the
    metadata parsed). No array is read yet and the checksum is not verified (``_verified`` does)."""
    with open_arrays(path) as container:
        entries = OrderedDict(container.entries)
        raw: dict[str, str] = container.metadata
        if path.suffix.lower() == ".npz":
            raw = {}
            if _META_KEY in entries:
                dtype, shape = entries.pop(_META_KEY)
                if dtype != np.uint8 or len(shape) != 1:
                    raise FileFormatError(f"{path}: the retroprop metadata member must be 1-D uint8, got "
                                          f"{list(shape)} of {dtype}")
                where = f"{path}: retroprop metadata"
                if shape[0] > containers.MAX_HEADER_BYTES:  # refused before it is inflated
                    raise FileFormatError(f"{where}: {shape[0]:,} bytes of JSON, above the limit of "
                                          f"{containers.MAX_HEADER_BYTES:,}")
                raw = string_map(loads_json(container.read(_META_KEY).tobytes(), where), where)
        if raw.get("format") != "retroprop":
            raise FileFormatError(f"{path}: not a retroprop file (no retroprop metadata); plain tensors can "
                                  "be read with rp.load_state_dict only if the file was written by "
                                  "retroprop")
        version = raw.get("format_version")
        if version != str(FORMAT_VERSION):
            raise FileFormatError(f"{path}: format version {str(version)[:20]} is not supported (this "
                                  f"retroprop writes and reads version {FORMAT_VERSION})")
        metadata = {key: loads_json(value, f"{path}: metadata entry {key!r}") for key, value in raw.items()
                    if key not in ("format", "format_version", "checksum")}
        yield container, entries, raw, metadata


def _verified(path: Path, container: ArrayFile, entries: dict[str, Any], raw: dict[str, str],
              keep: Container[str], into: Mapping[str, np.ndarray] | None = None,
              ) -> OrderedDict[str, np.ndarray]:
    """Stream every array through the checksum, reading those in ``into`` into the given arrays and
    keeping those in ``keep`` as new arrays (returned, in the file's order); refuse a mismatch."""
    into = into or {}
    kept: dict[str, np.ndarray] = {}

    def items() -> Iterator[tuple[str, np.dtype, tuple[int, ...], Iterable[Any]]]:
        for name in sorted(entries):
            dtype, shape = entries[name]
            if name in into or name in keep:
                array = container.read(name, into.get(name))
                if name not in into:
                    kept[name] = array
                yield name, dtype, shape, [raw_bytes(array)]
            else:
                yield name, dtype, shape, container.chunks(name)

    covered = {key: value for key, value in raw.items() if key != "checksum"}
    if raw.get("checksum") != _digest(covered, items()):
        raise FileFormatError(f"{path}: checksum mismatch: the weights or the saved architecture were "
                              "altered or corrupted after saving")
    return OrderedDict((name, kept[name]) for name in entries if name in kept)


def read_arrays(path: str | Path) -> tuple[OrderedDict[str, np.ndarray], dict[str, Any]]:
    """Read and verify a file written by ``write_arrays``; returns (arrays, metadata)."""
    path = Path(path)
    with _opened(path) as (container, entries, raw, metadata):
        return _verified(path, container, entries, raw, keep=entries), metadata


def read_info(path: str | Path) -> dict[str, Any]:
    """The ``info`` dict saved with ``rp.save(..., info=...)`` ({} when there is none).

    Reads the metadata and streams the arrays through the checksum without keeping them.
    """
    path = Path(path)
    with _opened(path) as (container, entries, raw, metadata):
        _verified(path, container, entries, raw, keep=())
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
        elif type(value) is int and value.bit_length() > 63:
            try:
                str(value)
            except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
                raise ValueError(f"{where}: {at} is an integer too long to write as text") from None
    return info


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------
def save(model: Any, path: str | Path, *, info: dict[str, Any] | None = None) -> None:
    """Write ``model``'s weights and architecture to one ``.safetensors`` or ``.npz`` file (``.pt``
    and ``.pth`` are safetensors files under torch's names).

    Models built from retroprop layers (``Sequential`` of built-in layers) are rebuilt by
    ``rp.load`` without their code; other Modules save their ``state_dict`` for
    ``model.load_state_dict(rp.load_state_dict(path))``. ``info`` is a JSON-able dict saved with
    the model (e.g. its loss, data and classes), read back by ``read_info``. A ``state_dict``
    itself (a mapping of names to tensors or arrays, as ``torch.save(model.state_dict(), path)``
    writes it) is saved as it is, and ``rp.load`` returns it.
    """
    if isinstance(model, Mapping):
        write_arrays(path, _state_arrays(model, path), {"kind": "state_dict"})
        return
    metadata: dict[str, Any] = {"kind": "model", "architecture": model_config(model),
                                "dtype": str(model.dtype)}
    if info is not None:
        metadata["info"] = check_info(info)
    # the arrays themselves, not state_dict()'s copies: they are written before this returns
    write_arrays(path, OrderedDict((name, t.data) for name, t in model._state_tensors()), metadata)


def _state_arrays(state: Mapping[Any, Any], path: str | Path) -> OrderedDict[str, np.ndarray]:
    """A state dict's arrays, refused unless every name is a string and every value a tensor or an
    array of numbers."""
    arrays: OrderedDict[str, np.ndarray] = OrderedDict()
    for name, value in state.items():
        if not isinstance(name, str):
            raise TypeError(f"save: {path}: a state dict's names must be strings, got {type(name).__name__}")
        array = value.data if isinstance(value, Tensor) else value
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
            raise TypeError(f"save: {path}: state dict entry {name!r} must be a tensor or an array of "
                            f"numbers, got {type(value).__name__}")
        arrays[name] = array
    return arrays


def _kind(path: str | Path, metadata: dict[str, Any]) -> str:
    kind = metadata.get("kind")
    if kind not in ("model", "checkpoint", "state_dict"):
        raise FileFormatError(f"{path}: field 'kind' must be 'model', 'checkpoint' or 'state_dict', got "
                              f"{str(kind)[:40]!r}")
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


Entries = Mapping[str, tuple[np.dtype, tuple[int, ...]]]  # name -> (dtype, shape), as ArrayFile.entries


def check_layout(path: str | Path, layout: Layout, entries: Entries) -> None:
    """Refuse weights (``entries``: name -> (dtype, shape)) that do not match the architecture's
    layout, before anything is built."""
    needed = sum(math.prod(shape) for shape, _ in layout.values())
    present = sum(math.prod(shape) for _, shape in entries.values())
    where = f"{path}: the weights do not fit the saved architecture"
    if needed > present:
        raise FileFormatError(f"{where}: it needs {needed:,} weights, the file holds {present:,}; refused "
                              "before allocating anything")
    for name, (shape, kind) in layout.items():
        if name not in entries:
            raise FileFormatError(f"{where}: {name} is missing")
        dtype, saved_shape = entries[name]
        if saved_shape != shape:
            raise FileFormatError(f"{where}: {name} has shape {saved_shape} in the file, the architecture "
                                  f"needs {shape}")
        if dtype.kind != ("f" if kind == "float" else "i"):
            raise FileFormatError(f"{where}: {name} is {dtype}, the architecture needs "
                                  f"{'floats' if kind == 'float' else 'integers'}")
    extra = [name for name in entries if name not in layout]
    if extra:
        raise FileFormatError(f"{where}: the file holds {extra[0]}, which the architecture has no place for")


def _built(path: str | Path, metadata: dict[str, Any], entries: Entries) -> Any:
    """The model described by ``metadata['architecture']``, its weights not yet loaded; the
    architecture, the weights' count, shapes and kinds (``entries``) are checked first."""
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
    check_layout(path, layout, entries)
    try:
        model = build_model(normalized)
    except FileFormatError as err:
        raise FileFormatError(f"{path}: the saved architecture: {err}") from None
    return model.to(dtype)


def rebuild(path: str | Path, metadata: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """The model described by ``metadata['architecture']`` with ``arrays`` as weights, checked
    (architecture, weight count and shapes) before anything is allocated."""
    model = _built(path, metadata, {name: (array.dtype, array.shape) for name, array in arrays.items()})
    model.load_state_dict(arrays)
    return model


def load(path: str | Path, map_location: Any = None, *, weights_only: bool = True) -> Any:
    """Rebuild the model saved by ``rp.save`` (architecture and weights), or return the state dict
    saved by ``rp.save(model.state_dict(), path)`` (its tensors by name).

    The architecture is checked against the weights' shapes before the model is built, and the
    weights are read straight into it (one copy in memory) while the checksum is verified.
    ``map_location`` and ``weights_only`` are torch's arguments: the CPU is the only device, and
    nothing is ever unpickled, whatever ``weights_only`` says.
    """
    if map_location is not None:
        from retroprop.devices import device as _device

        if _device(map_location).type != "cpu":
            raise ValueError(f"load: map_location={map_location!r}: the CPU is the only device")
    path = Path(path)
    with _opened(path) as (container, entries, raw, metadata):
        kind = _kind(path, metadata)
        if kind == "state_dict":
            arrays = _verified(path, container, entries, raw, keep=entries)
            return OrderedDict((name, Tensor(array, dtype=array.dtype)) for name, array in arrays.items())
        prefix = "model/" if kind == "checkpoint" else ""
        weights = {name[len(prefix):]: entries[name] for name in entries if name.startswith(prefix)}
        model = _built(path, metadata, weights)
        into, cast = {}, []
        for name, tensor in model._state_tensors():
            if entries[prefix + name][0] == tensor.data.dtype and tensor.data.flags.c_contiguous:
                into[prefix + name] = tensor.data
            else:  # another dtype or byte order: read, then cast into place
                cast.append(prefix + name)
        kept = _verified(path, container, entries, raw, keep=cast, into=into)
    if kept:
        model.load_state_dict(model_arrays(kept) if prefix else kept, strict=False)
    return model


from retroprop.checkpoints import load_checkpoint, save_checkpoint  # noqa: E402  (uses the above)
