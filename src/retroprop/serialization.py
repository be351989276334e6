"""Saving and loading models and checkpoints, without pickle.

Two formats, one container each: ``.safetensors`` (read and written here in pure NumPy, compatible
with the ``safetensors`` package) and ``.npz`` (read with ``allow_pickle=False``). Either holds the
arrays plus JSON metadata: a format version, the architecture config (so ``load`` rebuilds a
``Sequential`` without the code that made it) and a SHA-256 checksum of the arrays, so a truncated
or altered file is refused with a message naming the file and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from retroprop.random import default_generator

FORMAT_VERSION = 1
_META_KEY = "__retroprop_metadata__"
_SAFETENSORS_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "U16": np.uint16, "U32": np.uint32,
    "U64": np.uint64, "BOOL": np.bool_,
}
_DTYPE_NAMES = {np.dtype(v): k for k, v in _SAFETENSORS_DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024


class FileFormatError(ValueError):
    """A weights or checkpoint file is truncated, altered or not a retroprop file."""


# ---------------------------------------------------------------------------------------------
# Containers: name -> array, plus a str -> str metadata dict
# ---------------------------------------------------------------------------------------------
def _checksum(arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> str:
    """SHA-256 over every array (name, dtype, shape, bytes) and every metadata entry."""
    digest = hashlib.sha256()
    for key in sorted(metadata):
        digest.update(f"{key}={metadata[key]}\n".encode())
    for name in sorted(arrays):
        array = np.asarray(arrays[name], order="C")  # keeps 0-d arrays 0-d
        digest.update(name.encode())
        digest.update(str(array.dtype.str).encode())
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _write_safetensors(path: Path, arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    header: dict[str, Any] = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, array in arrays.items():
        array = np.asarray(array, order="C")
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        if dtype not in _DTYPE_NAMES:
            raise TypeError(f"save: cannot store array {name!r} of dtype {array.dtype} in safetensors")
        data = array.astype(dtype, copy=False).tobytes()
        header[name] = {"dtype": _DTYPE_NAMES[dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)))
        handle.write(encoded)
        for blob in blobs:
            handle.write(blob)


def _read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    raw = path.read_bytes()
    if len(raw) < 8:
        raise FileFormatError(f"{path}: too short to be a safetensors file ({len(raw)} bytes)")
    (size,) = struct.unpack("<Q", raw[:8])
    if size > min(_MAX_HEADER, len(raw) - 8):
        raise FileFormatError(f"{path}: header length {size} exceeds the file; the file is truncated "
                              "or not a safetensors file")
    try:
        header = json.loads(raw[8:8 + size].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FileFormatError(f"{path}: unreadable safetensors header ({err})") from None
    if not isinstance(header, dict):
        raise FileFormatError(f"{path}: the safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    buffer = memoryview(raw)[8 + size:]
    arrays: dict[str, np.ndarray] = OrderedDict()
    spans = []
    for name, info in header.items():
        try:
            dtype = np.dtype(_SAFETENSORS_DTYPES[info["dtype"]])
            shape = tuple(int(n) for n in info["shape"])
            begin, end = (int(n) for n in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise FileFormatError(f"{path}: malformed entry for tensor {name!r} in the header") from None
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if not 0 <= begin <= end <= len(buffer) or end - begin != expected:
            raise FileFormatError(
                f"{path}: tensor {name!r} claims bytes {begin}..{end} of a {len(buffer)}-byte data "
                f"section (needs {expected}); the file is truncated or altered"
            )
        spans.append((begin, end))
        arrays[name] = np.frombuffer(buffer[begin:end], dtype=dtype.newbyteorder("<")).reshape(shape).copy()
    covered = sum(end - begin for begin, end in spans)
    if covered != len(buffer):
        raise FileFormatError(f"{path}: {len(buffer) - covered} bytes of the data section belong to no "
                              "tensor; the file was altered")
    return arrays, {str(k): str(v) for k, v in metadata.items()}


def _write_npz(path: Path, arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    payload = dict(arrays)
    payload[_META_KEY] = np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8)
    with path.open("wb") as handle:
        np.savez(handle, **payload)


def _read_npz(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        raise FileFormatError(f"{path}: not a readable .npz archive (truncated or altered?): {err}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise FileFormatError(f"{path}: not an .npz archive (it holds a single array, as a .npy file does)")
    try:
        with archive:
            arrays = OrderedDict((name, archive[name]) for name in archive.files)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        raise FileFormatError(f"{path}: not a readable .npz archive (truncated or altered?): {err}") from None
    meta = arrays.pop(_META_KEY, None)
    if meta is None:
        return arrays, {}
    try:
        return arrays, json.loads(meta.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FileFormatError(f"{path}: unreadable retroprop metadata ({err})") from None


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".safetensors", ".npz"):
        raise ValueError(f"{path}: unknown file type {suffix or '(none)'}; use .safetensors or .npz")
    return suffix


def write_arrays(path: str | Path, arrays: dict[str, np.ndarray], metadata: dict[str, Any]) -> None:
    """Write arrays with JSON metadata, a format version and a checksum."""
    path = Path(path)
    meta = {"format": "retroprop", "format_version": str(FORMAT_VERSION)}
    meta.update({key: json.dumps(value) for key, value in metadata.items()})
    meta["checksum"] = _checksum(arrays, meta)  # covers the architecture too, not only weights
    path.parent.mkdir(parents=True, exist_ok=True)
    (_write_safetensors if _format(path) == ".safetensors" else _write_npz)(path, arrays, meta)


def read_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read and verify a file written by ``write_arrays``; returns (arrays, metadata)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    arrays, raw = (_read_safetensors if _format(path) == ".safetensors" else _read_npz)(path)
    if raw.get("format") != "retroprop":
        raise FileFormatError(f"{path}: not a retroprop file (no retroprop metadata); plain tensors can be "
                              "read with rp.load_state_dict only if the file was written by retroprop")
    version = raw.get("format_version")
    if version != str(FORMAT_VERSION):
        raise FileFormatError(f"{path}: format version {version} is not supported (this retroprop writes "
                              f"and reads version {FORMAT_VERSION})")
    covered = {key: value for key, value in raw.items() if key != "checksum"}
    if raw.get("checksum") != _checksum(arrays, covered):
        raise FileFormatError(
            f"{path}: checksum mismatch: the weights or the saved architecture were altered or "
            "corrupted after saving")
    metadata = {}
    for key, value in raw.items():
        if key in ("format", "format_version", "checksum"):
            continue
        try:
            metadata[key] = json.loads(value)
        except json.JSONDecodeError as err:
            raise FileFormatError(f"{path}: metadata entry {key!r} is not valid JSON ({err})") from None
    return arrays, metadata


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------
def model_config(model: Any) -> dict[str, Any] | None:
    """The JSON architecture of a model built from retroprop layers, or None for custom Modules."""
    from retroprop.nn import LAYERS, Sequential

    cls_name = type(model).__name__
    if LAYERS.get(cls_name) is not type(model):
        return None
    if isinstance(model, Sequential):
        layers = []
        for name, child in model._modules.items():
            child_config = model_config(child)
            if child_config is None:
                return None
            layers.append({"name": name, **child_config})
        return {"class": "Sequential", "layers": layers}
    try:
        return {"class": cls_name, "config": model.get_config()}
    except NotImplementedError:
        return None


def build_model(config: dict[str, Any]) -> Any:
    """Rebuild a model from ``model_config``'s description."""
    from retroprop.nn import LAYERS, Sequential

    cls_name = config.get("class")
    if cls_name not in LAYERS:
        raise FileFormatError(f"unknown layer class {cls_name!r} in the saved architecture")
    if cls_name == "Sequential":
        return Sequential(OrderedDict((layer["name"], build_model(layer)) for layer in config["layers"]))
    return LAYERS[cls_name](**config.get("config", {}))


def save(model: Any, path: str | Path) -> None:
    """Write ``model``'s weights and architecture to one ``.safetensors`` or ``.npz`` file.

    Models built from retroprop layers (``Sequential`` of built-in layers) are rebuilt by
    ``rp.load`` without their code; other Modules save their ``state_dict`` for
    ``model.load_state_dict(rp.load_state_dict(path))``.
    """
    state = model.state_dict()
    dtype = str(model.dtype)
    write_arrays(path, dict(state), {"kind": "model", "architecture": model_config(model), "dtype": dtype})


def load_state_dict(path: str | Path) -> OrderedDict[str, np.ndarray]:
    """The arrays of a file written by ``rp.save`` (for ``model.load_state_dict``)."""
    arrays, metadata = read_arrays(path)
    if metadata.get("kind") == "checkpoint":
        return _model_arrays(arrays)
    return OrderedDict(arrays)


def _model_arrays(arrays: dict[str, np.ndarray]) -> OrderedDict[str, np.ndarray]:
    """The model's part of a checkpoint's arrays, without the 'model/' prefix."""
    return OrderedDict((k.removeprefix("model/"), v) for k, v in arrays.items() if k.startswith("model/"))


def load(path: str | Path) -> Any:
    """Rebuild the model saved by ``rp.save`` (architecture and weights)."""
    arrays, metadata = read_arrays(path)
    architecture = metadata.get("architecture")
    if metadata.get("kind") == "checkpoint":
        arrays = _model_arrays(arrays)
    if architecture is None:
        raise FileFormatError(
            f"{path}: holds weights without an architecture (a custom Module); build the model in code "
            "and call model.load_state_dict(rp.load_state_dict(path))"
        )
    model = build_model(architecture)
    if metadata.get("dtype"):
        model.to(metadata["dtype"])
    try:
        model.load_state_dict(arrays)
    except (KeyError, ValueError) as err:
        raise FileFormatError(f"{path}: the weights do not fit the saved architecture: {err}") from None
    return model


# ---------------------------------------------------------------------------------------------
# Checkpoints: model, optimizer, scheduler, epoch, history and random state
# ---------------------------------------------------------------------------------------------
def _flatten(value: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON-able copy of ``value`` with every array moved into ``arrays`` under a path key."""
    if isinstance(value, np.ndarray):
        arrays[prefix] = value
        return {"__array__": prefix}
    if isinstance(value, np.generic):
        return {"__scalar__": value.item(), "dtype": str(value.dtype)}
    if isinstance(value, dict):
        if not all(isinstance(k, (str, int)) for k in value):
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


def _unflatten(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, list):
        return [_unflatten(v, arrays) for v in value]
    if isinstance(value, dict):
        if "__array__" in value:
            return arrays[value["__array__"]]
        if "__scalar__" in value:
            return np.dtype(value["dtype"]).type(value["__scalar__"])
        if "__tuple__" in value:
            return tuple(_unflatten(v, arrays) for v in value["__tuple__"])
        if "__dict__" in value:
            return {k: _unflatten(v, arrays) for k, v in value["__dict__"]}
    return value


def save_checkpoint(path: str | Path, model: Any, optimizer: Any = None, *, scheduler: Any = None,
                    epoch: int = 0, history: Any = None) -> None:
    """Save everything needed to resume training exactly: model, optimizer and scheduler state,
    the number of epochs done, the History so far and retroprop's random state."""
    arrays: dict[str, np.ndarray] = OrderedDict(
        (f"model/{name}", value) for name, value in model.state_dict().items())
    state: dict[str, Any] = {
        "kind": "checkpoint",
        "architecture": model_config(model),
        "dtype": str(model.dtype),
        "epoch": int(epoch),
        "rng": default_generator().bit_generator.state,
    }
    if optimizer is not None:
        state["optimizer"] = _flatten(optimizer.state_dict(), "optimizer", arrays)
    if scheduler is not None:
        state["scheduler"] = _flatten(scheduler.state_dict(), "scheduler", arrays)
    if history is not None:
        state["history"] = {"history": history.history, "epoch": history.epoch,
                            "step_loss": list(history._step_loss), "wall_time": history.wall_time}
    write_arrays(path, arrays, state)


def load_checkpoint(path: str | Path, model: Any, optimizer: Any = None, *,
                    scheduler: Any = None) -> dict[str, Any]:
    """Restore a checkpoint into ``model``/``optimizer``/``scheduler`` and retroprop's random state.

    Returns ``{"epoch": epochs done, "history": History}``; continue with
    ``rp.fit(..., initial_epoch=epoch, history=history)``.
    """
    from retroprop.training import History

    arrays, metadata = read_arrays(path)
    if metadata.get("kind") != "checkpoint":
        raise FileFormatError(f"{path}: not a checkpoint (it holds a model only; use rp.load)")
    try:
        model.load_state_dict(_model_arrays(arrays))
    except (KeyError, ValueError) as err:
        raise FileFormatError(f"{path}: the checkpoint does not fit this model: {err}") from None
    if optimizer is not None:
        if "optimizer" not in metadata:
            raise FileFormatError(f"{path}: the checkpoint holds no optimizer state")
        optimizer.load_state_dict(_unflatten(metadata["optimizer"], arrays))
    if scheduler is not None:
        if "scheduler" not in metadata:
            raise FileFormatError(f"{path}: the checkpoint holds no scheduler state")
        scheduler.load_state_dict(_unflatten(metadata["scheduler"], arrays))
    default_generator().bit_generator.state = metadata["rng"]
    history = History()
    saved = metadata.get("history")
    if saved:
        history.history = {k: list(v) for k, v in saved["history"].items()}
        history.epoch = list(saved["epoch"])
        history._step_loss = list(saved["step_loss"])
        history.wall_time = float(saved["wall_time"])
    history.model = model
    return {"epoch": int(metadata["epoch"]), "history": history}

