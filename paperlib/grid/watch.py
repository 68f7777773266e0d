"""Progress of sessions as their run folders show it, whoever runs them (this process, local worker processes, a
Dask worker on another machine that shares the run store).

Each session rewrites ``rounds.csv`` atomically when it commits a round (:class:`paperlib.store.RunFolder`), so
reading it in the process that waits is enough: one line per newly finished round, and one bar over every
expected round of every session, whose rate gives the time left. Only the waiting process prints, so lines of
sessions running side by side never interleave.

Stopping is :mod:`paperlib.signals`: the waiting process stops what it started and says what finished.
"""

from __future__ import annotations

import threading
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
