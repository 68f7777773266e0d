"""Stopping: SIGINT and SIGTERM as one exception, :class:`Interrupted`, in whichever process waits on the work (a
command, the grid, the pipeline).

:func:`stop_on_signals` turns either signal into :class:`Interrupted` in the main thread. Whoever knows what
finished fills in :attr:`Interrupted.what` on the way out (the grid: ``3 of 12 sessions finished``), and the one
command wrapper (:func:`paperlib.cli.command`) prints its line and exits with its code. Called from Python (a
notebook, a script), it is a :class:`KeyboardInterrupt` like any Ctrl-C.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the work (a :class:`KeyboardInterrupt`, so code that handles Ctrl-C handles it).

    ``str()`` is the line a command prints, ``interrupted: <what>; run the same command to resume``; ``code`` is the
    exit code, 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM."""

    def __init__(self, signum: int = signal.SIGINT, what: str = "") -> None:
        super().__init__(signum)
        self.signum, self.what = int(signum), what

    @property
    def code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        return f"interrupted: {self.what + '; ' if self.what else ''}run the same command to resume"


def as_interrupted(exc: KeyboardInterrupt) -> Interrupted:
    """``exc`` as an :class:`Interrupted` (a plain Ctrl-C, raised where no :func:`stop_on_signals` was on, is
    SIGINT's)."""
    return exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)


_active = threading.local()  # whether a stop_on_signals block is running in this thread


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """While the block runs in the main thread, SIGINT and SIGTERM raise :class:`Interrupted` there, once (later
    signals are ignored while the block stops what it started); the previous handlers come back after it. Inside
    another such block, or in another thread (Python delivers signals to the main thread only), it does nothing."""
    if threading.current_thread() is not threading.main_thread() or getattr(_active, "on", False):
        yield
        return
    fired: list[int] = []

    def handler(signum: int, frame: object) -> None:
        if not fired:
            fired.append(signum)
            raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    _active.on = True
    try:
        yield
    finally:
        _active.on = False
        for s, h in previous.items():
            signal.signal(s, h)
