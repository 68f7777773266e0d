"""Where a run's time goes: named phases whose seconds add up to the wall time.

A :class:`Phases` clock times nested phases exclusively (a phase's seconds exclude the phases opened inside it),
so the seconds of every phase of a run add up to the time spent inside the outermost ones.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Phases:
    """Exclusive seconds per phase name, summed over every time the phase is entered.

    ``with clock("fit"): ... with clock("steps"): ...`` charges the inner block to ``steps`` and the rest to
    ``fit``. ``current()`` names the innermost phase (for a sampler that watches from another thread).
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._stack: list[str] = []
        self._since = time.perf_counter()
        self._lock = threading.Lock()

    def _charge(self) -> None:
        now = time.perf_counter()
        if self._stack:
            name = self._stack[-1]
            self.seconds[name] = self.seconds.get(name, 0.0) + now - self._since
        self._since = now

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        with self._lock:
            self._charge()
            self._stack.append(name)
        try:
            yield
        finally:
            with self._lock:
                self._charge()
                self._stack.pop()

    def current(self) -> str:
        """The innermost phase open now, ``(outside)`` when none is."""
        with self._lock:
            return self._stack[-1] if self._stack else "(outside)"

    def total(self) -> float:
        """Seconds charged to every phase."""
        return sum(self.seconds.values())
