"""Files that are written whole or not at all, and output paths checked before any work is done.

Every file retroprop writes goes through ``atomic_write``: the bytes go to a temporary file in the
same folder, are flushed and fsynced, and only then replace the target with ``os.replace`` (atomic
on POSIX and Windows). A full disk, a crash or ``kill -9`` in the middle leaves the old file as it
was; the temporary file is removed when Python can still run.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = ["OutputPathError", "atomic_write", "check_output_path", "fallback_path", "write_bytes",
           "write_text"]


class OutputPathError(ValueError):
    """An output path that cannot be written: a folder, a missing parent, a wrong suffix, no permission."""


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb", *, encoding: str | None = None,
                 newline: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path`` for writing; on success it replaces ``path``.

    ``mode`` is ``"wb"`` or ``"w"``. On any error (``OSError`` such as a full disk, or an exception
    raised by the caller inside the ``with``) the temporary file is removed, ``path`` is untouched
    and the error propagates. The parent folder must exist. When ``path`` is a symbolic link, the file
    it points to is replaced and the link is kept.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    target = Path(path)
    if target.is_symlink():  # write through the link, as open(path, "w") would: the link stays a link
        target = Path(os.path.realpath(target))
    if target.is_dir():
        raise IsADirectoryError(f"{target}: is a folder, not a file")
    folder = target.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):  # keep the permissions of the file being replaced
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        if not target.exists():
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_folder(folder)


def _read_umask() -> int:
    """The process's umask without changing it (Linux's /proc), else the one seen at import."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _UMASK_AT_IMPORT


def _umask_at_import() -> int:
    # os.umask can only be read by setting it: done once, while the module is imported
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK_AT_IMPORT = _umask_at_import()
_umask = _read_umask


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_write(path, "w", encoding=encoding, newline="") as handle:
        handle.write(text)


def check_output_path(path: str | Path, *, what: str = "output", suffixes: Sequence[str] = (),
                      create_folder: bool = False) -> Path:
    """Check, before any work, that ``path`` can be written as a file; return it as a ``Path``.

    Refuses, with ``OutputPathError`` naming the path and what was expected: a suffix not in
    ``suffixes`` (when given), a path that is a folder, a parent folder that is missing (unless
    ``create_folder``, which makes it) or not a folder, and a folder or file without write
    permission. Nothing is written to ``path`` itself.
    """
    target = Path(path)
    if suffixes and target.suffix.lower() not in suffixes:
        raise OutputPathError(f"{target}: the {what} must be a {' or '.join(suffixes)} file, got "
                              f"{target.suffix or 'no extension'}")
    if target.is_dir():
        raise OutputPathError(f"{target}: is a folder; the {what} needs a file name")
    folder = target.parent
    if not folder.exists():
        if not create_folder:
            raise OutputPathError(f"{target}: the folder {folder} does not exist; create it first")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OutputPathError(f"{target}: cannot create the folder {folder}: {err.strerror or err}") \
                from None
    if not folder.is_dir():
        raise OutputPathError(f"{target}: {folder} is not a folder")
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputPathError(f"{target}: the file exists and is not writable")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(f"{target}: cannot write in the folder {folder} (permission denied)")
    return target


def fallback_path(path: str | Path) -> Path:
    """A free path next to ``path`` (``model.recovered.safetensors``, then ``.recovered-1`` ...),
    or in the current folder or the temporary folder when ``path``'s own folder cannot be written."""
    target = Path(path)
    suffix = "".join(target.suffixes[-1:])
    stem = target.name[: len(target.name) - len(suffix)] if suffix else target.name
    for folder in (target.parent, Path.cwd(), Path(tempfile.gettempdir())):
        if not (folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)):
            continue
        for i in range(1000):
            candidate = folder / f"{stem}.recovered{'' if i == 0 else f'-{i}'}{suffix}"
            if not candidate.exists():
                return candidate
    raise OutputPathError(f"{target}: no writable folder for a fallback copy")
