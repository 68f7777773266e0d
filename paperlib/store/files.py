"""Writing and reading files under ``results/`` safely: atomic writes (temp file + rename), deterministic JSON,
weights-only tensor files, PNG bytes, and an OS file lock.

Files are created as any program creates them: mode ``0o666`` less the user's umask (and a shared folder's default
ACL), so colleagues on a shared results or figures folder can read them. A folder the user cannot write (a
colleague's, or a read-only copy) can still be read: rewriting a file with the bytes it already holds is not a
write, the lock of a folder that cannot be locked is skipped, and a real write there is a :class:`StoreError`
naming the folder.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy
import torch
from PIL import Image

from ..errors import MissingFileError, StoreError

try:
    import fcntl
except ImportError:  # Windows: no advisory file locks; a session then trusts its caller to run it once at a time
    fcntl = None  # type: ignore[assignment]


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part.

    The file gets the mode a program's new file gets (``0o666`` less the umask). In a folder that cannot be
    written, a file that already holds ``data`` is left as it is; any other write there is a :class:`StoreError`
    naming the folder."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _temp_file(path)
    except OSError as exc:
        fault = _fault(path, exc)
        if fault is not None:
            raise fault from None
        if not _not_writable(exc):
            raise
        if _holds(path, data):  # e.g. a finished session's views, rewritten as they are: nothing to write
            return path
        raise _refused(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        fault = _fault(path, exc) if isinstance(exc, OSError) else None
        if fault is not None:
            raise fault from None
        raise
    return path


FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def _fault(path: Path, exc: OSError) -> StoreError | None:
    """The one line of an ordinary fault of writing ``path``: a full disk (or quota), or a file where a folder of
    its path should be; ``None`` for anything else."""
    if exc.errno in FULL:
        return StoreError(f"{path}: no space left on the device ({exc.strerror}); nothing half-written was kept, "
                          "and a run folder keeps its last finished round: free some space and run the same "
                          "command again")
    if isinstance(exc, NotADirectoryError | FileExistsError) or exc.errno in (errno.ENOTDIR, errno.EEXIST):
        blocker = next((p for p in [path, *path.parents] if p.is_file()), None)
        if blocker is not None:
            return StoreError(f"{blocker} is a file, not a folder, so {path} cannot be written under it: name a "
                              "folder (a new one, or one that holds results)")
    return None


def _temp_file(path: Path) -> tuple[int, Path]:
    """A new temp file beside ``path`` (``.<name>.<random>.tmp``, a name :meth:`RunFolder.prepare` sweeps), open for
    writing. Created with mode ``0o666`` so that the kernel applies the umask (and a default ACL) as to any new file:
    ``tempfile.mkstemp`` would make it ``0o600``, unreadable to the colleagues of a shared folder."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(path.parent))


def _not_writable(exc: OSError) -> bool:
    """Whether ``exc`` says a folder cannot be written (permissions, a read-only file system)."""
    return isinstance(exc, PermissionError) or exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)


def _holds(path: Path, data: bytes) -> bool:
    """Whether the file ``path`` holds exactly ``data``."""
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _refused(path: Path, exc: OSError) -> StoreError:
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return StoreError(f"{folder}: folder not writable ({exc.strerror or exc}), so {path.name} cannot be written "
                      "there; a read-only results folder can be read (a finished session, figures, predict), "
                      "not added to")


def make_folder(folder: str | Path) -> Path:
    """``folder`` and its parents, created when missing; in a read-only place one :class:`StoreError` line naming
    the nearest existing folder instead of a traceback."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fault = _fault(folder / ".", exc)
        if fault is not None:
            raise fault from None
        if _not_writable(exc):
            raise _refused(folder / ".", exc) from None
        raise
    return folder


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Atomic text write (UTF-8)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> Path:
    """Atomic, deterministic JSON (sorted keys, indented)."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")


def read_json(path: str | Path) -> Any:
    """Parse a JSON file, naming it in any error."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise MissingFileError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise StoreError(f"{path}: not valid JSON ({exc})") from exc


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def save_tensors(path: str | Path, obj: dict[str, Any]) -> Path:
    """Atomic ``torch.save`` of a dict of tensors and plain values."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_tensors(path: str | Path) -> dict[str, Any]:
    """``torch.load(..., weights_only=True)`` onto the CPU, naming the file in any error."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError as exc:
        raise StoreError(f"{path}: cannot be read ({exc.strerror})") from None
    except Exception:  # torch's own text (and its weights_only=False advice) would mislead: the file is damaged
        raise StoreError(f"{path}: cannot be loaded (truncated or corrupt, e.g. a copy cut short); delete it and run "
                         "the same command again, which computes it again") from None


def png_bytes(array: numpy.ndarray, mode: str) -> bytes:
    """PNG file bytes of a ``HxW`` (mode ``L``) or ``HxWx3`` (mode ``RGB``) uint8 array."""
    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, format="PNG")
    return buf.getvalue()


@contextlib.contextmanager
def file_lock(path: Path, waiting: str) -> Iterator[None]:
    """Hold an OS file lock on ``path`` (released by the kernel when its process dies); print ``waiting`` to stderr
    when another process holds it, then wait for it.

    In a folder this process cannot write (a read-only results folder, read to check a finished session), the lock
    file is opened for reading and locked when it is there, so that a writer elsewhere is waited for; when it is
    not there, or cannot be locked so, the block runs unlocked: this process cannot write there either."""
    read_only = False
    try:
        fh = open(path, "a")
    except OSError as exc:
        if not _not_writable(exc):
            raise
        try:
            fh, read_only = open(path, "rb"), True
        except OSError:
            yield
            return
    with fh:
        if fcntl is None:
            yield
            return
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(waiting, file=sys.stderr)
            fcntl.flock(fh, fcntl.LOCK_EX)
        except OSError:
            if not read_only:
                raise
            yield  # a read-only handle that this file system does not lock (NFS): nothing to hold
            return
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
