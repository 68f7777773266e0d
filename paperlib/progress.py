"""Progress bars and progress lines, one choice for the whole package.

Where a person watches (a terminal, a notebook in JupyterLab) a bar is ``tqdm.auto``'s: a widget in a notebook, a
redrawn line in a terminal. Where the output is streamed to someone else (the pipeline runs the notebooks on a
kernel whose output it relays, a log file of a cluster job), widgets show nothing: with the environment variable
``PAPERLIB_PROGRESS=text`` every bar is plain text on stderr, one line at most every
``PAPERLIB_PROGRESS_INTERVAL`` seconds (default 15). Work that shares its stderr with other processes (a grid's
preparations in worker processes) runs in :func:`beside_others`: text lines whose bars name the work.
"""

from __future__ import annotations

import contextvars
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import ConfigError

MODE_ENV = "PAPERLIB_PROGRESS"
INTERVAL_ENV = "PAPERLIB_PROGRESS_INTERVAL"


def interval_seconds() -> float:
    """Seconds between text-mode bar lines: ``$PAPERLIB_PROGRESS_INTERVAL`` (default 15; 0: a line per update); a
    value that is not a finite number >= 0 is a :class:`~paperlib.errors.ConfigError` naming the variable."""
    text = os.environ.get(INTERVAL_ENV, "").strip()
    try:
        value = float(text or 15)
    except ValueError:
        value = float("nan")
    if not (value >= 0 and value < float("inf")):
        raise ConfigError(f"environment variable {INTERVAL_ENV}={text!r}: a number of seconds, 0 or more (e.g. "
                          f"{INTERVAL_ENV}=15; 0: a line per update), or unset it")
    return value


class _Lines:
    """A file for text-mode bars: each redraw of a bar (``\\r`` + text) becomes one whole line on the current
    ``sys.stderr``, and the blank redraws that clear a bar vanish, so a relayed log reads line by line."""

    def __init__(self) -> None:
        self._buf = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            *whole, self._buf = re.split(r"[\r\n]", self._buf + text)
            self._emit(whole)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self._emit([self._buf])
            self._buf = ""

    @staticmethod
    def _emit(lines: list[str]) -> None:
        out = "".join(ln.rstrip() + "\n" for ln in lines if ln.strip())
        if out:
            sys.stderr.write(out)
            sys.stderr.flush()


_LINES = _Lines()
_SCOPE: contextvars.ContextVar[str | None] = contextvars.ContextVar("paperlib_progress_scope", default=None)


@contextmanager
def beside_others(name: str) -> Iterator[None]:
    """Within the block, bars are text lines (as under ``PAPERLIB_PROGRESS=text``) whose descriptions start with
    ``name``: for work whose stderr other processes write too, where redrawn bars would garble one another."""
    token = _SCOPE.set(name)
    try:
        yield
    finally:
        _SCOPE.reset(token)


def text_mode() -> bool:
    """Whether bars are plain text lines (``PAPERLIB_PROGRESS=text``, or inside :func:`beside_others`)."""
    return _SCOPE.get() is not None or os.environ.get(MODE_ENV, "").strip().lower() == "text"


def progress_bar(iterable: Any = None, **kwargs: Any) -> Any:
    """A ``tqdm`` bar over ``iterable`` (``tqdm``'s keyword arguments: ``total``, ``desc``, ``disable`` ...)."""
    if text_mode():
        from tqdm import tqdm

        scope = _SCOPE.get()
        if scope:
            kwargs["desc"] = f"{scope} {kwargs.get('desc') or ''}".rstrip()
        interval = interval_seconds()
        kwargs = {"file": _LINES, "mininterval": interval, "maxinterval": max(interval, 10.0), "ascii": True,
                  "ncols": 100, **kwargs}
        return tqdm(iterable, **kwargs)
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


def progress_line(message: str) -> None:
    """Print a line without breaking a running bar."""
    if text_mode():
        _LINES.write(message + "\n")
        return
    from tqdm.auto import tqdm

    tqdm.write(message)
