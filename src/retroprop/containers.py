"""Array files read with every size checked before anything is allocated, and written atomically.

Two containers: ``.safetensors`` (read and written in pure NumPy, compatible with the
``safetensors`` package) and ``.npz`` (a zip of ``.npy`` arrays, never unpickled). ``open_arrays``
checks a file's structure and returns an ``ArrayFile`` that knows every array's name, dtype and
shape before reading any of them. The checks, each failing with ``FileFormatError`` (a
``ValueError``) that names the file and the field:

- only regular files (not a folder, FIFO or device such as ``/dev/zero``), at most
  ``MAX_FILE_BYTES``; no read goes past the size seen when the file was opened;
- safetensors: the header length within the file and at most ``MAX_HEADER_BYTES``; the JSON at most
  ``MAX_JSON_DEPTH`` deep (measured before parsing) without duplicate keys; ``__metadata__`` a
  str -> str object; each tensor a supported dtype, a shape of non-negative ints and two
  ``data_offsets`` that hold exactly its bytes; the tensors tile the data section with no overlap
  or gap;
- npz: only ``.npy`` members, stored or deflated, no duplicates; the sizes declared in the zip
  directory at most ``MAX_NPZ_BYTES`` in all and at most ``MAX_COMPRESSION_RATIO`` times the
  compressed size (each member over 1 MiB, and the whole archive against the file's size); each
  ``.npy`` header a supported dtype and a shape whose size equals the member's payload, checked
  before the payload is inflated.

``read_npy`` reads a single ``.npy`` file with the same checks. ``open_npz`` opens an ``.npz`` whatever
its name, and it and ``read_npy`` take a caller's own limits and may accept text arrays (the data
loaders of ``retroprop.data.files``). ``write_safetensors`` and ``write_npz`` write to an open binary
handle (see ``retroprop.files.atomic_write``).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import math
import os
import stat
import struct
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["MAX_COMPRESSION_RATIO", "MAX_FILE_BYTES", "MAX_HEADER_BYTES", "MAX_JSON_DEPTH", "MAX_NPZ_BYTES",
           "ArrayFile", "FileFormatError", "checked_shape", "json_depth", "json_type", "little_endian",
           "loads_json", "open_arrays", "open_npz", "open_regular", "raw_bytes", "read_npy", "string_map",
           "write_npz", "write_safetensors"]

MAX_FILE_BYTES = 8 * 2**30
MAX_HEADER_BYTES = 100 * 2**20  # the safetensors package's own limit
MAX_JSON_DEPTH = 100
MAX_NPZ_BYTES = 4 * 2**30
MAX_COMPRESSION_RATIO = 1000
_RATIO_FREE_BYTES = 2**20  # small members may compress well (zeros); the ratio limit starts above
_MAX_NPY_HEADER = 65535
_MAX_NDIM = 32
_CHUNK = 2**20
_READ_CHUNK = 2**18  # a zip member's reads go through up to two buffers of this size

SAFETENSORS_DTYPES: dict[str, np.dtype] = {
    name: np.dtype(kind).newbyteorder("<") for name, kind in (
        ("F64", "f8"), ("F32", "f4"), ("F16", "f2"), ("I64", "i8"), ("I32", "i4"), ("I16", "i2"),
        ("I8", "i1"), ("U64", "u8"), ("U32", "u4"), ("U16", "u2"), ("U8", "u1"), ("BOOL", "?"),
    )
}
# dtypes of the safetensors format that NumPy has no type for
_FOREIGN_DTYPES = ("BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64")
_READABLE = ", ".join(SAFETENSORS_DTYPES)
_NUMPY_KINDS = {np.dtype(d).str[1:] for d in SAFETENSORS_DTYPES.values()}  # 'f8', 'b1', ...


class FileFormatError(ValueError):
    """A weights, checkpoint or array file that is truncated, altered, malformed or not supported."""


# ---------------------------------------------------------------------------------------------
# JSON with bounded size and depth, and no duplicate keys
# ---------------------------------------------------------------------------------------------
class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def json_depth(data: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` outside strings, in linear time and bounded memory."""
    # inside strings, a backslash escapes the next character: drop escaped backslashes, then
    # escaped quotes; the quotes left delimit strings
    data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    codes = np.frombuffer(data, dtype=np.uint8)
    depth = deepest = quotes_before = 0
    for start in range(0, codes.size, _CHUNK):
        chunk = codes[start:start + _CHUNK]
        quotes = np.cumsum(chunk == ord('"'), dtype=np.int64) + quotes_before
        opens = (chunk == ord("[")) | (chunk == ord("{"))
        closes = (chunk == ord("]")) | (chunk == ord("}"))
        steps = (opens.astype(np.int64) - closes) * (quotes % 2 == 0)
        levels = np.cumsum(steps) + depth
        deepest = max(deepest, int(levels.max()))
        depth, quotes_before = int(levels[-1]), int(quotes[-1])
    return deepest


def loads_json(data: bytes | str, where: str, *, limit: int | None = None) -> Any:
    """Parse JSON of at most ``limit`` (default ``MAX_HEADER_BYTES``) bytes and ``MAX_JSON_DEPTH``
    levels, refusing duplicate keys.

    Every failure is a ``FileFormatError`` that starts with ``where`` (e.g. "model.npz: metadata
    entry 'history'").
    """
    raw = data.encode() if isinstance(data, str) else bytes(data)
    limit = MAX_HEADER_BYTES if limit is None else limit
    if len(raw) > limit:
        raise FileFormatError(f"{where}: {len(raw)} bytes of JSON, above the limit of {limit}")
    depth = json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise FileFormatError(f"{where}: JSON nested {depth} levels deep, above the limit of "
                              f"{MAX_JSON_DEPTH}")
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except _DuplicateKey as err:
        raise FileFormatError(f"{where}: the key {err.args[0]!r} appears twice") from None
    except UnicodeDecodeError as err:
        raise FileFormatError(f"{where}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except (ValueError, RecursionError) as err:  # JSONDecodeError is a ValueError
        raise FileFormatError(f"{where}: not valid JSON ({err})") from None


def string_map(value: Any, where: str) -> dict[str, str]:
    """``value`` if it is a JSON object of strings to strings, else ``FileFormatError``."""
    if not isinstance(value, dict):
        raise FileFormatError(f"{where} must be an object of strings, got {json_type(value)}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise FileFormatError(f"{where}: entry {key!r} must be a string, got {json_type(item)}")
    return value


def json_type(value: Any) -> str:
    """How a message names the JSON type of ``value``: "an object", "a list", "null" ..."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def checked_shape(value: Any, itemsize: int, where: str) -> tuple[int, ...]:
    """A shape from a file: a list or tuple of non-negative ints whose byte size fits in int64."""
    if not isinstance(value, (list, tuple)):
        raise FileFormatError(f"{where}: shape must be a list of integers, got {json_type(value)}")
    if len(value) > _MAX_NDIM:
        raise FileFormatError(f"{where}: shape has {len(value)} dimensions, above the limit of {_MAX_NDIM}")
    for dim in value:
        if not _is_int(dim) or dim < 0:
            raise FileFormatError(f"{where}: shape {list(value)} must hold non-negative integers, got "
                                  f"{dim!r}")
    if math.prod(d for d in value if d) * itemsize >= 2**63:  # NumPy's sizes are int64
        raise FileFormatError(f"{where}: shape {list(value)} is too large for any array")
    return tuple(value)


# ---------------------------------------------------------------------------------------------
# Regular files only, read within their size
# ---------------------------------------------------------------------------------------------
def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: str | Path, limit: int | None = None, *,
                 limit_name: str | None = None) -> tuple[IO[bytes], int]:
    """Open a regular file of at most ``limit`` (default ``MAX_FILE_BYTES``) bytes for reading;
    returns (handle, size). ``limit_name`` is how a message names a given limit (e.g. "max_bytes").

    Symlinks are followed; the target must be a regular file (never a FIFO, a device or a
    folder). A missing file raises ``FileNotFoundError``, anything else ``FileFormatError``.
    """
    path = Path(path)
    try:
        before = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except OSError as err:
        raise FileFormatError(f"{path}: cannot read the file: {err.strerror or err}") from None
    if not stat.S_ISREG(before.st_mode):
        raise FileFormatError(f"{path}: is {_kind_of(before.st_mode)}, not a regular file")
    try:  # O_NONBLOCK: should the path become a FIFO now, opening it does not wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as err:
        raise FileFormatError(f"{path}: cannot read the file: {err.strerror or err}") from None
    opened = os.fstat(fd)
    if limit is None:
        limit, limit_name = MAX_FILE_BYTES, "retroprop.containers.MAX_FILE_BYTES"
    if not stat.S_ISREG(opened.st_mode):
        os.close(fd)
        raise FileFormatError(f"{path}: is {_kind_of(opened.st_mode)}, not a regular file")
    if opened.st_size > limit:
        os.close(fd)
        raise FileFormatError(f"{path}: the file holds {opened.st_size:,} bytes, above the limit of "
                              f"{limit:,}{_named(limit_name)}")
    return os.fdopen(fd, "rb"), opened.st_size


def _named(limit_name: str | None) -> str:
    return f" ({limit_name})" if limit_name else ""


class _Bounded(io.RawIOBase):
    """A read-only view of the first ``size`` bytes of a file: reads stop there even if the file
    grows (zipfile finds the archive's directory from the end)."""

    def __init__(self, handle: IO[bytes], size: int) -> None:
        self._handle, self._size = handle, size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._handle.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_END:
            return self._handle.seek(self._size + offset)
        return self._handle.seek(offset, whence)

    def read(self, count: int | None = -1) -> bytes:
        left = max(self._size - self._handle.tell(), 0)
        return self._handle.read(left if count is None or count < 0 else min(count, left))

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _read_exact(handle: Any, count: int, where: str) -> bytes:
    data = handle.read(count)
    if len(data) != count:
        raise FileFormatError(f"{where}: the file ends early (expected {count} more bytes, found "
                              f"{len(data)}); it is truncated")
    return data


def _read_into(handle: Any, array: np.ndarray, where: str) -> None:
    """Fill C-contiguous ``array`` from ``handle`` in chunks of at most ``_READ_CHUNK`` bytes."""
    view = memoryview(array.reshape(-1)).cast("B")
    done = 0
    while done < len(view):
        count = handle.readinto(view[done:done + _READ_CHUNK])
        if not count:
            raise FileFormatError(f"{where}: the file ends {len(view) - done} bytes early; it is "
                                  "truncated")
        done += count


# ---------------------------------------------------------------------------------------------
# Opened containers
# ---------------------------------------------------------------------------------------------
class ArrayFile:
    """An opened array file whose structure was checked: ``entries`` maps each name to
    ``(dtype, shape)``; ``read(name)`` reads one array, ``chunks(name)`` streams its bytes."""

    metadata: dict[str, str]
    entries: OrderedDict[str, tuple[np.dtype, tuple[int, ...]]]

    def __init__(self, path: Path, *, limit: int | None = None, limit_name: str | None = None) -> None:
        self.path, self.metadata, self.entries = path, {}, OrderedDict()
        self._handle, size = (open_regular(path, limit) if limit_name is None
                              else open_regular(path, limit, limit_name=limit_name))
        try:
            self._parse(size)
        except BaseException:
            self.close()
            raise

    def _parse(self, size: int) -> None:
        """Check the structure of the file's first ``size`` bytes and fill ``entries``."""
        raise NotImplementedError

    def read(self, name: str, out: np.ndarray | None = None) -> np.ndarray:
        """Array ``name``, read into ``out`` when given (C-contiguous, of the entry's dtype and shape)."""
        raise NotImplementedError

    def _target(self, name: str, out: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
        dtype = self.entries[name][0]
        if out is None:
            return np.empty(shape, dtype=dtype)
        if out.dtype != dtype or out.shape != shape or not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError(f"{self.path}: cannot read {name!r} ({dtype}, {shape}) into an array of "
                             f"{out.dtype}, {out.shape}")
        return out

    def chunks(self, name: str) -> Iterator[bytes]:
        raise NotImplementedError

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> ArrayFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Safetensors(ArrayFile):
    def _parse(self, size: int) -> None:
        path = self.path
        if size < 8:
            raise FileFormatError(f"{path}: too short to be a safetensors file ({size} bytes); it is "
                                  "truncated or not a safetensors file")
        (length,) = struct.unpack("<Q", _read_exact(self._handle, 8, str(path)))
        if length > size - 8:
            raise FileFormatError(f"{path}: header length {length:,} exceeds the file ({size:,} bytes); "
                                  "the file is truncated or not a safetensors file")
        if length > MAX_HEADER_BYTES:
            raise FileFormatError(f"{path}: a safetensors header of {length:,} bytes, above the limit of "
                                  f"{MAX_HEADER_BYTES:,}")
        header = loads_json(_read_exact(self._handle, length, str(path)), f"{path}: safetensors header")
        if not isinstance(header, dict):
            raise FileFormatError(f"{path}: the safetensors header must be a JSON object, got "
                                  f"{json_type(header)}")
        metadata = header.pop("__metadata__", None)
        self.metadata = {} if metadata is None else dict(string_map(metadata, f"{path}: __metadata__"))
        self._base = 8 + length
        data_size = size - self._base
        self._spans: dict[str, tuple[int, int]] = {}
        for name, info in header.items():
            dtype, shape, begin, end = self._entry(name, info, data_size)
            self.entries[name] = (dtype, shape)
            self._spans[name] = (begin, end)
        position, previous = 0, None
        for name, (begin, end) in sorted(self._spans.items(), key=lambda item: item[1]):
            if begin < position:
                raise FileFormatError(f"{path}: the bytes of tensors {previous!r} and {name!r} overlap "
                                      f"(at {begin}..{position}); the file was altered")
            if begin > position:
                raise FileFormatError(f"{path}: bytes {position}..{begin} of the data section belong to no "
                                      "tensor; the file was altered")
            position, previous = end, name
        if position != data_size:
            raise FileFormatError(f"{path}: {data_size - position} bytes of the data section belong to no "
                                  "tensor; the file was altered")

    def _entry(self, name: str, info: Any, data_size: int) -> tuple[np.dtype, tuple[int, ...], int, int]:
        where = f"{self.path}: tensor {name!r}"
        if not isinstance(info, dict):
            raise FileFormatError(f"{where}: its header entry must be an object, got {json_type(info)}")
        fields = {"dtype", "shape", "data_offsets"}
        if set(info) != fields:
            missing, unknown = sorted(fields - set(info)), sorted(set(info) - fields)
            raise FileFormatError(f"{where}: the header entry needs exactly dtype, shape and data_offsets"
                                  f"{f'; missing {missing}' if missing else ''}"
                                  f"{f'; unknown {unknown}' if unknown else ''}")
        dtype_name = info["dtype"]
        if not isinstance(dtype_name, str):
            raise FileFormatError(f"{where}: dtype must be a string, got {json_type(dtype_name)}")
        if dtype_name not in SAFETENSORS_DTYPES:
            adjective = "unsupported" if dtype_name in _FOREIGN_DTYPES else "unknown"
            raise FileFormatError(f"{self.path}: {adjective} dtype {dtype_name} for tensor {name!r} "
                                  f"(retroprop reads {_READABLE}); convert it to F32 first")
        dtype = SAFETENSORS_DTYPES[dtype_name]
        shape = checked_shape(info["shape"], dtype.itemsize, where)
        offsets = info["data_offsets"]
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(_is_int(n) and n >= 0 for n in offsets)):
            raise FileFormatError(f"{where}: data_offsets must be two non-negative integers [begin, end], "
                                  f"got {offsets!r}"[:300])
        begin, end = offsets
        needed = math.prod(shape) * dtype.itemsize
        if begin > end:
            raise FileFormatError(f"{where}: data_offsets [{begin}, {end}] run backwards")
        if end > data_size:
            raise FileFormatError(f"{where}: claims bytes {begin}..{end} of a {data_size}-byte data "
                                  "section; the file is truncated or altered")
        if end - begin != needed:
            raise FileFormatError(f"{where}: shape {list(shape)} of {dtype_name} needs {needed} bytes, its "
                                  f"data_offsets hold {end - begin}; the file is truncated or altered")
        return dtype, shape, begin, end

    def read(self, name: str, out: np.ndarray | None = None) -> np.ndarray:
        array = self._target(name, out, self.entries[name][1])
        self._handle.seek(self._base + self._spans[name][0])
        _read_into(self._handle, array, f"{self.path}: tensor {name!r}")
        return array

    def chunks(self, name: str) -> Iterator[bytes]:
        begin, end = self._spans[name]
        self._handle.seek(self._base + begin)
        while begin < end:
            data = _read_exact(self._handle, min(_READ_CHUNK, end - begin), f"{self.path}: tensor {name!r}")
            begin += len(data)
            yield data

_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
               struct.error, NotImplementedError, RuntimeError, OverflowError, KeyError, IndexError)


def _npy_header(stream: Any, where: str, text: bool = False) -> tuple[np.dtype, tuple[int, ...], bool, int]:
    """Parse a ``.npy`` header: (dtype, shape, fortran_order, header bytes). Reads only the header.
    ``text`` also accepts text (unicode) arrays."""
    magic = stream.read(8)
    if len(magic) != 8 or magic[:6] != b"\x93NUMPY":
        raise FileFormatError(f"{where}: not a .npy array (no NUMPY magic)")
    version = (magic[6], magic[7])
    if version == (1, 0):
        (length,), prefix, encoding = struct.unpack("<H", _read_exact(stream, 2, where)), 10, "latin1"
    elif version in ((2, 0), (3, 0)):
        (length,), prefix = struct.unpack("<I", _read_exact(stream, 4, where)), 12
        encoding = "latin1" if version == (2, 0) else "utf8"
    else:
        raise FileFormatError(f"{where}: .npy format version {version[0]}.{version[1]} is not supported")
    if length > _MAX_NPY_HEADER:
        raise FileFormatError(f"{where}: a .npy header of {length} bytes, above the limit of "
                              f"{_MAX_NPY_HEADER}")
    try:
        header = ast.literal_eval(_read_exact(stream, length, where).decode(encoding))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, UnicodeDecodeError):
        raise FileFormatError(f"{where}: unreadable .npy header") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise FileFormatError(f"{where}: the .npy header must be a dict of descr, fortran_order and shape")
    descr, fortran = header["descr"], header["fortran_order"]
    try:
        dtype = np.dtype(descr) if isinstance(descr, str) else None
    except (TypeError, ValueError):
        dtype = None
    supported = dtype is not None and (dtype.str[1:] in _NUMPY_KINDS or (text and dtype.kind == "U"))
    if not supported or dtype.str[0] not in "<>|":
        kinds = "booleans, integers, floats and text" if text else "booleans, integers and floats"
        raise FileFormatError(f"{where}: unsupported .npy dtype {str(descr)[:40]!r} (retroprop reads "
                              f"{kinds}; never objects)")
    if not isinstance(fortran, bool):
        raise FileFormatError(f"{where}: fortran_order must be True or False, got {fortran!r}"[:200])
    shape = checked_shape(header["shape"], dtype.itemsize, where)
    return dtype, shape, fortran, prefix + length


class _Npz(ArrayFile):
    _zip: zipfile.ZipFile | None = None

    def __init__(self, path: Path, *, limit: int | None = None, limit_name: str | None = None,
                 max_ratio: int | None = None, ratio_free_bytes: int | None = None,
                 text: bool = False) -> None:
        self._limit, self._limit_name, self._text = limit, limit_name, text
        self._ratio, self._ratio_free = max_ratio, ratio_free_bytes
        super().__init__(path, limit=limit, limit_name=limit_name)

    def _parse(self, size: int) -> None:
        path = self.path
        if self._limit is None:  # the module's limits, read now (tests change them)
            total_limit, total_name = MAX_NPZ_BYTES, "retroprop.containers.MAX_NPZ_BYTES"
        else:
            total_limit, total_name = self._limit, self._limit_name
        ratio = MAX_COMPRESSION_RATIO if self._ratio is None else self._ratio
        ratio_free = _RATIO_FREE_BYTES if self._ratio_free is None else self._ratio_free
        try:
            self._zip = zipfile.ZipFile(_Bounded(self._handle, size))
        except _ZIP_ERRORS as err:
            raise FileFormatError(f"{path}: not a readable .npz archive (a zip of .npy arrays); it is "
                                  f"truncated, altered or another kind of file: {err}") from None
        self._members: dict[str, tuple[zipfile.ZipInfo, bool, int]] = {}
        total = 0
        for info in self._zip.infolist():
            member = info.filename
            where = f"{path}: member {member!r}"
            if not member.endswith(".npy"):
                raise FileFormatError(f"{where} is not a .npy array (an .npz archive holds only .npy files)")
            name = member[:-4]
            if name in self._members:
                raise FileFormatError(f"{where} appears twice in the archive")
            if info.flag_bits & 0x1:
                raise FileFormatError(f"{where} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise FileFormatError(f"{where} uses zip compression method {info.compress_type}; "
                                      "retroprop reads stored or deflated members")
            if info.compress_size > size:
                raise FileFormatError(f"{where} claims {info.compress_size:,} compressed bytes in a file of "
                                      f"{size:,}; the file is truncated or altered")
            if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
                raise FileFormatError(f"{where}: a stored member must be as large as its data "
                                      f"({info.compress_size} != {info.file_size}); the file was altered")
            if info.file_size > ratio_free and info.file_size > ratio * max(info.compress_size, 1):
                raise FileFormatError(f"{where} inflates {info.compress_size:,} bytes to {info.file_size:,}, "
                                      f"a ratio above {ratio}:1; refused as a possible zip bomb")
            total += info.file_size
            if total > total_limit:
                raise FileFormatError(f"{path}: the members hold more than {total_limit:,} bytes "
                                      f"uncompressed{_named(total_name)}")
            # the whole archive too: members of up to ratio_free bytes each, or members sharing their
            # compressed bytes (overlapping entries), escape the ratio of each member
            if total > ratio_free + ratio * size:
                raise FileFormatError(f"{path}: the members inflate to more than {total:,} bytes from a "
                                      f"{size:,}-byte file, a ratio above {ratio}:1; refused as a possible "
                                      "zip bomb")
            try:
                with self._zip.open(info) as stream:
                    dtype, shape, fortran, header_size = _npy_header(stream, where, self._text)
            except FileFormatError:
                raise
            except _ZIP_ERRORS as err:
                raise FileFormatError(f"{where}: unreadable ({err}); the file is truncated or altered") \
                    from None
            payload = info.file_size - header_size
            needed = math.prod(shape) * dtype.itemsize
            if payload != needed:
                raise FileFormatError(f"{where} declares shape {list(shape)} of {dtype} ({needed:,} bytes) "
                                      f"but holds {payload:,} bytes of data; the file is truncated or "
                                      "altered")
            self.entries[name] = (dtype, shape)
            self._members[name] = (info, fortran, header_size)

    @contextlib.contextmanager
    def _payload(self, name: str) -> Iterator[Any]:
        info, _, header_size = self._members[name]
        where = f"{self.path}: member {info.filename!r}"
        try:
            with self._zip.open(info) as stream:
                stream.read(header_size)
                yield stream
                if stream.read(1):  # also makes zipfile check the CRC at the end
                    raise FileFormatError(f"{where}: holds more data than its header declares")
        except FileFormatError:
            raise
        except _ZIP_ERRORS as err:
            raise FileFormatError(f"{where}: unreadable ({err}); the file is truncated or altered") from None

    def read(self, name: str, out: np.ndarray | None = None) -> np.ndarray:
        shape = self.entries[name][1]
        fortran = self._members[name][1] and len(shape) > 1
        if fortran and out is not None:  # the member holds the transpose's C order: no direct read
            self._target(name, out, shape)[...] = self.read(name)
            return out
        array = self._target(name, None if fortran else out, shape[::-1] if fortran else shape)
        with self._payload(name) as stream:
            _read_into(stream, array, f"{self.path}: member {name + '.npy'!r}")
        return array.T if fortran else array

    def chunks(self, name: str) -> Iterator[bytes]:
        dtype, shape = self.entries[name]
        left = math.prod(shape) * dtype.itemsize
        if self._members[name][1] and len(shape) > 1:  # the checksum hashes C order
            yield self.read(name).tobytes()
            return
        with self._payload(name) as stream:
            while left:
                data = _read_exact(stream, min(_READ_CHUNK, left), f"{self.path}: member {name + '.npy'!r}")
                left -= len(data)
                yield data

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        super().close()


def open_arrays(path: str | Path) -> ArrayFile:
    """Open and check a ``.safetensors`` or ``.npz`` file (see the module's docstring); ``.pt`` and
    ``.pth`` are safetensors files under torch's names (torch's own pickles are refused)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".pt", ".pth"):  # torch's names, for files retroprop writes: safetensors inside
        with open(path, "rb") as handle:
            head = handle.read(4)
        if head[:2] == b"PK" or head[:1] == b"\x80":  # a zip or a pickle: torch's own format
            raise FileFormatError(f"{path}: a file written by torch.save (a pickle); retroprop never "
                                  "unpickles: load it in torch and hand the arrays over, e.g. "
                                  "model.load_state_dict({k: v.numpy() for k, v in torch_state.items()})")
        return _Safetensors(path)
    if suffix == ".safetensors":
        return _Safetensors(path)
    if suffix == ".npz":
        return _Npz(path)
    raise ValueError(f"{path}: unknown file type {suffix or '(none)'}; use .safetensors, .npz, .pt or .pth")


def open_npz(path: str | Path, *, limit: int | None = None, limit_name: str | None = None,
             max_ratio: int | None = None, ratio_free_bytes: int | None = None,
             text: bool = False) -> ArrayFile:
    """Open and check an ``.npz`` archive, whatever its name, as ``open_arrays`` does.

    A caller with its own limits passes them: ``limit`` caps the file and its members inflated in
    all (default ``MAX_FILE_BYTES`` and ``MAX_NPZ_BYTES``), named ``limit_name`` in messages; members
    over ``ratio_free_bytes`` (default 1 MiB) may inflate at most ``max_ratio`` (default
    ``MAX_COMPRESSION_RATIO``) times. ``text`` also accepts text (unicode) arrays.
    """
    return _Npz(Path(path), limit=limit, limit_name=limit_name, max_ratio=max_ratio,
                ratio_free_bytes=ratio_free_bytes, text=text)


def read_npy(path: str | Path, *, limit: int | None = None, limit_name: str | None = None,
             text: bool = False) -> np.ndarray:
    """Read one ``.npy`` array with the checks of ``open_arrays`` (no pickle, sizes before memory);
    ``limit``, ``limit_name`` and ``text`` as for ``open_npz``."""
    handle, size = open_regular(path, limit, limit_name=limit_name)
    with handle:
        dtype, shape, fortran, header_size = _npy_header(handle, str(path), text)
        needed = math.prod(shape) * dtype.itemsize
        if size - header_size != needed:
            raise FileFormatError(f"{path}: declares shape {list(shape)} of {dtype} ({needed:,} bytes) but "
                                  f"holds {size - header_size:,} bytes of data; the file is truncated or "
                                  "altered")
        array = np.empty(shape[::-1] if fortran else shape, dtype=dtype)
        _read_into(handle, array, str(path))
    return array.T if fortran else array


# ---------------------------------------------------------------------------------------------
# Writers (to an open binary handle)
# ---------------------------------------------------------------------------------------------
def little_endian(array: Any) -> np.ndarray:
    """``array`` as a C-contiguous little-endian array, copied only when it is not one already."""
    array = np.asarray(array, order="C")  # keeps 0-d arrays 0-d (ascontiguousarray would not)
    return array.astype(array.dtype.newbyteorder("<"), copy=False) if array.dtype.byteorder == ">" else array


def raw_bytes(array: np.ndarray) -> memoryview:
    """The bytes of ``array`` in C order, without a copy when it is C-contiguous."""
    return memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8))


def write_safetensors(handle: IO[bytes], arrays: Mapping[str, Any], metadata: Mapping[str, str]) -> None:
    """Write ``arrays`` and string ``metadata`` in the safetensors format."""
    names = {dtype: name for name, dtype in SAFETENSORS_DTYPES.items()}
    header: dict[str, Any] = {"__metadata__": dict(metadata)}
    prepared = []
    offset = 0
    for name, value in arrays.items():
        array = little_endian(value)
        dtype = array.dtype.newbyteorder("<")
        if dtype not in names:
            raise TypeError(f"save: cannot store array {name!r} of dtype {array.dtype} in safetensors")
        header[name] = {"dtype": names[dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
        prepared.append(array)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    handle.write(struct.pack("<Q", len(encoded)))
    handle.write(encoded)
    for array in prepared:
        handle.write(raw_bytes(array))


def write_npz(handle: IO[bytes], arrays: Mapping[str, Any]) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` (as ``np.savez``, any names allowed)."""
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, value in arrays.items():
            array = np.asanyarray(value)
            if array.dtype.str[1:] not in _NUMPY_KINDS:
                raise TypeError(f"save: cannot store array {name!r} of dtype {array.dtype} in .npz")
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
