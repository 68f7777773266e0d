"""Where a run's time and memory go: named phases whose seconds add up to the wall time, and peak memory.

A :class:`Phases` clock times nested phases exclusively (a phase's seconds exclude the phases opened inside it),
so the seconds of every phase of a run add up to the time spent inside the outermost ones.
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def rss_mb() -> float:
    """This process's resident memory now (MB)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    except (OSError, IndexError, ValueError):
        return peak_rss_mb()


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (MB; ``VmHWM``, which unlike ``ru_maxrss`` is not inherited
    across ``exec``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Phases:
    """Exclusive seconds per phase name, summed over every time the phase is entered.

    ``with clock("fit"): ... with clock("steps"): ...`` charges the inner block to ``steps`` and the rest to
    ``fit``. With ``sample_mb=True`` a background thread also records the peak resident memory (MB) seen while
    each phase was the innermost one (every 20 ms; call :meth:`close` to stop it).
    """

    def __init__(self, *, sample_mb: bool = False) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}
        self._stack: list[str] = []
        self._since = time.perf_counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if sample_mb:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

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

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            mb = rss_mb()
            with self._lock:
                name = self._stack[-1] if self._stack else "(outside)"
                self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), mb)

    def close(self) -> None:
        """Stop the memory sampler (if any)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def total(self) -> float:
        """Seconds charged to every phase."""
        return sum(self.seconds.values())
