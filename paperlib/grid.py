"""The experiment grid: sessions (dataset x method x seed x config overrides) run as tasks.

Each task writes only its own run folder; a task that runs again resumes from that folder's last finished round.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def run(profile: str, todo: Sequence[Task], *, results_dir: str | Path = "results", data_dir: str | Path = "data",
        base_overrides: dict[str, Any] | None = None, progress: bool = True) -> list[Path]:
    """Run every task in this process, in order, with a progress bar over tasks. Returns the run folders."""
    out = []
    bar = tqdm(todo, desc="sessions", disable=not progress)
    for task in bar:
        bar.set_postfix_str(f"{task.dataset} {task.name} seed {task.seed}")
        status, folder = run_task(profile, task, results_dir=results_dir, data_dir=data_dir,
                                  base_overrides=base_overrides)
        if status != "finished":
            raise RuntimeError(f"{folder}: session did not finish ({status})")
        out.append(folder)
    return out
