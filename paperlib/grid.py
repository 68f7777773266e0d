"""The experiment grid: sessions (dataset x method x seed x config overrides) run as tasks.

Each task writes only its own run folder; a task that runs again resumes from that folder's last finished round.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from . import al, config


@dataclass(frozen=True)
class Task:
    """One session: ``tag`` names the overrides in the run folder (``runs/<method>[__<tag>]/seed_<s>``)."""

    dataset: str
    method: str
    seed: int
    overrides: dict[str, Any] = field(default_factory=dict)
    tag: str = ""

    @property
    def name(self) -> str:
        return f"{self.method}__{self.tag}" if self.tag else self.method


def tasks(datasets: Sequence[str], methods: Sequence[str], seeds: Sequence[int]) -> list[Task]:
    """The plain grid: every dataset x method x seed."""
    return [Task(d, m, s) for d in datasets for m in methods for s in seeds]


def run_dir(results_dir: str | Path, profile: str, task: Task) -> Path:
    """``results/<profile>/<dataset>/runs/<method>[__<tag>]/seed_<s>``."""
    return Path(results_dir) / profile / task.dataset / "runs" / task.name / f"seed_{task.seed}"


def run_task(profile: str, task: Task, *, results_dir: str | Path, data_dir: str | Path,
             base_overrides: dict[str, Any] | None = None, progress: bool = False) -> tuple[str, Path]:
    """Run (or resume) one task; returns its status and run folder."""
    cfg = config.get(profile, dataset=task.dataset, **{**(base_overrides or {}), **task.overrides})
    return al.run_session(cfg, task.method, task.seed, results_dir=results_dir, data_dir=data_dir,
                          run_folder=run_dir(results_dir, profile, task), progress=progress)


def default_workers(device: str = "auto") -> int:
    """Worker processes for a CPU grid: one per core (at most 4); 1 when a GPU is used."""
    import torch

    if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def _single_threaded() -> None:
    import torch

    torch.set_num_threads(1)


def run(profile: str, todo: Sequence[Task], *, results_dir: str | Path = "results", data_dir: str | Path = "data",
        base_overrides: dict[str, Any] | None = None, workers: int = 1, progress: bool = True) -> list[Path]:
    """Run every task, with a progress bar over tasks; returns the run folders in task order.

    ``workers`` > 1 runs tasks in that many local processes, each single-threaded (on 2 CPU cores two
    single-threaded sessions finish sooner than one two-threaded session at a time). What every session of a
    dataset shares (data, theta0, distances) is prepared here first, once.
    """
    for dataset in dict.fromkeys(t.dataset for t in todo):
        cfg = config.get(profile, dataset=dataset, **(base_overrides or {}))
        al.prepare(cfg, results_dir=results_dir, data_dir=data_dir,
                   label_prop=any(al.parse_method(t.method).label_prop for t in todo if t.dataset == dataset),
                   progress=progress)
    kw = {"results_dir": results_dir, "data_dir": data_dir, "base_overrides": base_overrides}
    bar = tqdm(total=len(todo), desc="sessions", disable=not progress)
    out: list[Path | None] = [None] * len(todo)

    def done(i: int, status: str, folder: Path) -> None:
        if status != "finished":
            raise RuntimeError(f"{folder}: session did not finish ({status})")
        out[i] = folder
        bar.set_postfix_str(f"{todo[i].dataset} {todo[i].name} seed {todo[i].seed}")
        bar.update()

    if workers <= 1:
        for i, task in enumerate(todo):
            done(i, *run_task(profile, task, **kw))
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_single_threaded) as pool:
            futures = {pool.submit(run_task, profile, task, **kw): i for i, task in enumerate(todo)}
            for fut in as_completed(futures):
                done(futures[fut], *fut.result())
    bar.close()
    return [p for p in out if p is not None]
