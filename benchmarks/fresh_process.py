"""Running a benchmark job in a fresh process, so that the peak memory it reports is its own."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor


def _exit_with(parent: int) -> None:
    """In a worker: exit as soon as ``parent`` is gone (a stopped benchmark leaves no worker running)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def in_fresh_process(fn: Callable, args: tuple):
    """``fn(args)`` in a fresh (spawned) process, so the peak memory it reports is its own; the process ends with
    this one. ``fn`` must be importable by the child: a module-level function."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx, initializer=_exit_with, initargs=(os.getpid(),)) as pool:
        return pool.submit(fn, args).result()
