"""Progress of sessions as their run folders show it, whoever runs them (this process, local worker processes, a
Dask worker on another machine that shares the run store).

Each session rewrites ``rounds.csv`` atomically when it commits a round (:class:`paperlib.store.RunFolder`), so
reading it in the process that waits is enough: one line per newly finished round, and one bar over every
expected round of every session, whose rate gives the time left. Only the waiting process prints, so lines of
sessions running side by side never interleave.

Stopping: :func:`stop_on_signals` turns SIGINT and SIGTERM into :class:`Interrupted` in the waiting process (the
grid, the pipeline, ``al``), which stops what it started and reports one line: what finished, and that the same
command resumes.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..progress import progress_bar, progress_line
from ..store import round_rows


@dataclass
class Watched:
    """A session to watch: its label in progress lines, its run folder and how many rounds it will have."""

    label: str
    folder: Path
    rounds: int
    seen: int = 0


def _line(w: Watched, row: dict[str, str]) -> str:
    """``glas Label_prop seed 0: round 3/5, 12 labeled, test Dice 61.2%``."""
    dice = row.get("test_dice", "")
    try:
        dice = f", test Dice {100 * float(dice):.1f}%"
    except ValueError:
        dice = ""
    labeled = f", {row['n_labeled']} labeled" if row.get("n_labeled") else ""
    return f"{w.label}: round {int(row['round']) + 1}/{w.rounds}{labeled}{dice}"


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a command (a :class:`KeyboardInterrupt`, so code that handles Ctrl-C handles it).

    ``str()`` is the line a command prints, ``interrupted: <what>; run the same command to resume``; ``what`` (what
    finished, e.g. ``3 of 12 sessions finished``) is filled in by whoever knows it on the way out. ``code`` is the
    exit code, 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM."""

    def __init__(self, signum: int, what: str = "") -> None:
        super().__init__(signum)
        self.signum, self.what = signum, what

    @property
    def code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        return f"interrupted: {self.what + '; ' if self.what else ''}run the same command to resume"


def interruption_code(exc: BaseException) -> int:
    """The exit code of an interruption: :attr:`Interrupted.code`, 130 for a plain Ctrl-C."""
    return getattr(exc, "code", 128 + signal.SIGINT)


def _exit_quietly(previous: object) -> object:
    """A ``sys.excepthook`` for an :class:`Interrupted` that no caller caught (a command's ``main`` run as a console
    script or ``python -m``): its one line on stderr and its exit code, no traceback; anything else goes to
    ``previous``."""

    def hook(kind: type[BaseException], value: BaseException, tb: object) -> None:
        if not isinstance(value, Interrupted):
            previous(kind, value, tb)  # type: ignore[operator]
            return
        print(value, file=sys.stderr)
        atexit._run_exitfuncs()  # what a normal exit runs, then the exit code that says which signal
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(value.code)

    hook.paperlib_interrupted = True  # type: ignore[attr-defined]
    return hook


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """While the block runs in the main thread, SIGINT and SIGTERM raise :class:`Interrupted` there, once (later
    signals are ignored while the block stops what it started); the previous handlers come back after it. In another
    thread it does nothing (Python delivers signals to the main thread only). An :class:`Interrupted` that leaves
    the block and is caught by no caller is reported by ``sys.excepthook`` as its one line and exit code."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []

    def handler(signum: int, frame: object) -> None:
        if not fired:
            fired.append(signum)
            raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    except Interrupted:
        if not getattr(sys.excepthook, "paperlib_interrupted", False):
            sys.excepthook = _exit_quietly(sys.excepthook)
        raise
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class RoundWatch:
    """A thread that polls the sessions' run folders every ``interval`` seconds while the ``with`` block runs.

    ``progress=False`` watches nothing and prints nothing. Call :meth:`done` when a session ends: its rounds are
    counted at once, and a session that stopped early (its pool ran out) no longer counts rounds it will not run.
    """

    def __init__(self, sessions: list[Watched], *, desc: str, progress: bool = True, interval: float = 2.0) -> None:
        self.sessions = {str(w.folder): w for w in sessions}
        self.interval, self.progress = interval, progress
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.desc = desc
        self.finished: set[str] = set()  # sessions that have ended (this run, or before it)
        self._thread = threading.Thread(target=self._run, name="paperlib-round-watch", daemon=True)

    def __enter__(self) -> RoundWatch:
        """Show the bar (from here on: not over what runs before, such as the grid's preparations) and start."""
        sessions = list(self.sessions.values())
        for w in sessions:  # a resumed session: what it had already is not this run's progress
            w.seen = len(round_rows(w.folder))
            if w.seen >= w.rounds:
                self.finished.add(str(w.folder))
        self.bar = progress_bar(total=sum(w.rounds for w in sessions), initial=sum(w.seen for w in sessions),
                                desc=self.desc, unit="round", disable=not self.progress)
        if self.progress:
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.poll()
        self.bar.close()

    def summary(self) -> str:
        """``3 of 12 sessions finished``."""
        return f"{len(self.finished)} of {len(self.sessions)} sessions finished"

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def poll(self, folders: list[str] | None = None) -> None:
        """Read the run folders (all, or ``folders``); print and count the rounds finished since the last poll."""
        if not self.progress:
            return
        with self._lock:
            for key in folders or list(self.sessions):
                w = self.sessions[key]
                rows = round_rows(w.folder)
                for row in rows[w.seen:]:
                    progress_line(_line(w, row))
                if len(rows) > w.seen:
                    self.bar.set_postfix_str(w.label, refresh=False)
                    self.bar.update(len(rows) - w.seen)
                    w.seen = len(rows)

    def done(self, folder: Path) -> None:
        """Session ``folder`` has ended: count its last rounds, and drop the rounds it did not run from the total."""
        self.poll([str(folder)])
        self.finished.add(str(folder))
        w = self.sessions[str(folder)]
        if self.progress and w.seen < w.rounds:
            with self._lock:
                self.bar.total -= w.rounds - w.seen
                w.rounds = w.seen
                self.bar.refresh()
