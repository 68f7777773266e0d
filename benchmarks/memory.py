"""Memory readings of a benchmark (Linux ``/proc``, else ``getrusage``), and a phase clock that also records the
peak resident memory seen in each phase."""

from __future__ import annotations

import resource
import threading
from pathlib import Path

from paperlib.timing import Phases


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


class MemoryPhases(Phases):
    """A :class:`~paperlib.timing.Phases` clock whose background thread records, every 20 ms, the peak resident
    memory (MB) seen while each phase was the innermost one (``peak_mb``); :meth:`close` stops it."""

    def __init__(self) -> None:
        super().__init__()
        self.peak_mb: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            mb, name = rss_mb(), self.current()
            self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), mb)

    def close(self) -> None:
        """Stop the sampler."""
        self._stop.set()
        self._thread.join()
