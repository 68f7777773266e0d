"""The experiment grid: sessions (dataset x method x seed x config overrides) run as tasks.

In-process by default (sequentially, or in local worker processes); on a Dask cluster when given a scheduler
address (or ``DASK_SCHEDULER_ADDRESS``). Each task writes only its own run folder of the shared run store, under the
folder's lock; a task that runs again (a lost worker's task rescheduled, a re-submitted grid) resumes from that
folder's last finished round.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import al, config, store
from ..core.methods import THETA0_SEED, parse_method
from ..errors import ConfigError, PaperlibError, SchedulerError, require_extra
from ..progress import beside_others, progress_line
from ..runtime import default_workers
from ..signals import Interrupted, stop_on_signals
from .watch import RoundWatch, Watched

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


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


def task_folder(results_dir: str | Path, profile: str, task: Task) -> Path:
    """The task's run folder (:func:`paperlib.store.run_path` of its name, ``<method>[__<tag>]``)."""
    return store.run_path(results_dir, profile, task.dataset, task.name, task.seed)


def run_task(profile: str, task: Task, *, results_dir: str | Path, data_dir: str | Path,
             base_overrides: dict[str, Any] | None = None, progress: bool = False) -> tuple[str, Path]:
    """Run (or resume) one task; returns its status and run folder."""
    cfg = config.get(profile, dataset=task.dataset, **{**(base_overrides or {}), **task.overrides})
    return al.run_session(cfg, task.method, task.seed, results_dir=results_dir, data_dir=data_dir,
                          run_folder=task_folder(results_dir, profile, task), progress=progress)


def scheduler_address(scheduler: str | None = "") -> str | None:
    """The Dask scheduler to run on: ``scheduler``, else ``$DASK_SCHEDULER_ADDRESS``, else ``None`` (in-process)."""
    return (scheduler or "").strip() or os.environ.get(SCHEDULER_ENV, "").strip() or None


def connect(address: str, timeout: float = 5.0) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address``; :class:`SchedulerError` within ``timeout`` seconds
    when it does not answer."""
    require_extra("dask", error=SchedulerError)
    import distributed
    from distributed.comm import get_address_host_port

    try:
        get_address_host_port(address)
    except ValueError as exc:
        raise SchedulerError(f"{address!r} is not a Dask scheduler address like tcp://host:8786 ({exc})") from None
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SchedulerError(f"Dask scheduler {address!r} did not answer within {timeout:g} s ({exc}); start one "
                             "(`dask scheduler`), check the address, or leave the scheduler empty to run "
                             "in-process") from None


def _single_threaded() -> None:
    import torch

    torch.set_num_threads(1)


PARENT_POLL = 1.0  # seconds between a local worker's checks that the grid process is still there


def _local_worker() -> None:
    """A local worker process: single-threaded; SIGINT ignored and SIGTERM ends it at once (the grid process
    decides: a Ctrl-C to the terminal's process group reaches the workers too, and the grid then ends them); gone
    within :data:`PARENT_POLL` seconds of the grid process (killed, say), never left idle holding its memory."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _single_threaded()
    parent = os.getppid()

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        os._exit(1)  # a session's files are written atomically: it resumes from its last finished round

    threading.Thread(target=watch_parent, name="paperlib-parent-watch", daemon=True).start()


@dataclass(frozen=True)
class Where:
    """Where a grid's sessions read and write (absolute paths, the same on every worker) and the overrides every
    task starts from."""

    results_dir: Path
    data_dir: Path
    base_overrides: dict[str, Any]

    def run(self, profile: str, task: Task) -> tuple[str, Path]:
        """:func:`run_task` of ``task`` here."""
        return run_task(profile, task, results_dir=self.results_dir, data_dir=self.data_dir,
                        base_overrides=self.base_overrides)


def _prepare(profile: str, dataset: str, label_prop: bool, where: Where, progress: bool = False,
             beside: bool = False) -> None:
    """What every session of a dataset shares (data, theta0, distances), made once before its sessions.
    ``beside``: it runs beside other preparations (worker processes): its progress is text lines naming the
    dataset."""
    cfg = config.get(profile, dataset=dataset, **where.base_overrides)
    with beside_others(dataset) if beside and progress else nullcontext():
        al.prepare(cfg, results_dir=where.results_dir, data_dir=where.data_dir, label_prop=label_prop,
                   progress=progress)


def _failed(exc: BaseException) -> type[Exception]:
    """The class of the error that reports a task's failure: an expected failure stays one
    (:class:`~paperlib.errors.PaperlibError`, a one-line error on the command line), anything else is a bug."""
    return PaperlibError if isinstance(exc, PaperlibError) else RuntimeError


def _wait_prepared(futures: dict[str, Any]) -> None:
    """Wait for each dataset's preparation (local or Dask futures); a failure names its dataset."""
    for d, fut in futures.items():
        try:
            fut.result()
        except Exception as exc:
            raise _failed(exc)(f"preparing {d} (data, theta0, distances) failed: {exc}") from exc


def _on_worker(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in a Dask worker, torch single-threaded as in a local worker process."""
    _single_threaded()
    return fn(*args, **kwargs)


def run(profile: str, todo: Sequence[Task], *, results_dir: str | Path = "results", data_dir: str | Path = "data",
        base_overrides: dict[str, Any] | None = None, workers: int | None = None, scheduler: str | None = "",
        progress: bool = True) -> list[Path]:
    """Run every task; returns the run folders in task order. With ``progress``, the preparations' own progress
    (bars here, text lines naming the dataset in worker processes), then a bar over every session's rounds and one
    line per finished round (:class:`paperlib.grid.watch.RoundWatch`: read from the run folders, whichever process or
    machine runs the session).

    Tasks naming the same run folder are one session (run once; their configs must agree). Sessions start in
    :func:`order_planned` (the longest first, so no worker idles at the end while another runs a long session).

    ``scheduler`` (``tcp://host:8786``; empty: ``$DASK_SCHEDULER_ADDRESS`` when set) runs the tasks on that Dask
    cluster, one task per session, after one task per dataset that prepares what its sessions share; the results
    and data folders must then be on a file system the workers share. Otherwise ``workers`` > 1 runs the tasks in
    that many local processes (default: :func:`paperlib.runtime.default_workers` of the ``workers`` runtime
    setting), the datasets' preparations (theta0, distances) side by side first. Every task that runs beside others
    is single-threaded (numbers depend on torch's thread count, so a session gives the same numbers on any worker;
    on 2 CPU cores two single-threaded sessions finish sooner than one two-threaded session at a time).

    SIGINT or SIGTERM (in the main thread; :func:`paperlib.signals.stop_on_signals`) stops the grid: no session
    starts after it, the local worker processes end at once (their sessions resume from their last finished round),
    and :class:`~paperlib.signals.Interrupted` says how many sessions finished (a Ctrl-C in a notebook too).
    """
    where = Where(Path(results_dir).resolve(), Path(data_dir).resolve(), dict(base_overrides or {}))
    plan = _plan(profile, todo, where.results_dir, base_overrides)
    if workers is None:
        workers = default_workers(plan[0].cfg.runtime) if plan else 1
    address = scheduler_address(scheduler)
    client = connect(address) if address else None
    label_prop = {d: any(parse_method(t.method).label_prop for t in todo if t.dataset == d)
                  for d in dict.fromkeys(t.dataset for t in todo)}
    sessions = order_planned(plan)
    on = f" on {address}" if address else ""
    watch = RoundWatch([Watched(f"{p.task.dataset} {p.task.name} seed {p.task.seed}", p.folder,
                                expected_rounds(p.task, p.cfg)) for p in sessions],
                       desc=f"{len(sessions)} sessions{on}", progress=progress)
    try:
        al.preflight.check_grid(plan, where.results_dir, where.data_dir, progress=progress)  # before any training
        with stop_on_signals():
            if progress:
                progress_line(f"preparing {', '.join(label_prop)}{on} (data, theta0, distances)")
            if client is not None:
                _run_on_cluster(client, profile, sessions, where, label_prop, watch, progress)
            else:
                _run_here(profile, sessions, where, label_prop, workers, watch, progress)
    except Interrupted as exc:
        exc.what = watch.summary()
        raise
    finally:
        if client is not None:
            client.close()
    return [task_folder(where.results_dir, profile, t) for t in todo]


@dataclass(frozen=True)
class Planned:
    """One session of a grid: its first task, that task's config and its run folder."""

    task: Task
    cfg: config.Config
    folder: Path


def _finished(p: Planned, result: Callable[[], tuple[str, Path]], watch: RoundWatch) -> None:
    """Check a session's outcome (``result()`` re-raises its failure, named after the session) and tell the
    ``watch``."""
    try:
        status, folder = result()
    except Exception as exc:
        raise _failed(exc)(f"session {p.task.dataset} {p.task.name} seed {p.task.seed} failed: {exc}") from exc
    if status != "finished":
        raise PaperlibError(f"{folder}: session did not finish ({status})")
    watch.done(p.folder)


def _plan(profile: str, todo: Sequence[Task], results_dir: Path,
          base_overrides: dict[str, Any] | None) -> list[Planned]:
    """One :class:`Planned` session per run folder, in the order of their first tasks (every task's config is
    valid before any runs; tasks naming one folder must have one config)."""
    plan: dict[Path, Planned] = {}
    for task in todo:
        parse_method(task.method)
        cfg = config.get(profile, dataset=task.dataset, **{**(base_overrides or {}), **task.overrides})
        folder = task_folder(results_dir, profile, task)
        if folder not in plan:
            plan[folder] = Planned(task, cfg, folder)
        elif plan[folder].cfg.identity() != cfg.identity():
            raise ConfigError(f"{folder}: two tasks name this run folder with different settings; give one a tag")
    return list(plan.values())


def expected_rounds(task: Task, cfg: config.Config) -> int:
    """How many rounds the session will have: the profile's AL rounds, one for a fixed baseline."""
    return cfg.al.rounds if parse_method(task.method).kind == "al" else 1


def _rank(task: Task, cfg: config.Config) -> tuple[int, int]:
    """How costly a session is, roughly (see :func:`order_planned`)."""
    m = parse_method(task.method)
    if m.kind == "al":
        return (3 if m.label_prop else 2 if m.sampler == "MC_Dropout" else 1), cfg.al.rounds
    heavy = m.kind == "full_sup" or task.seed != THETA0_SEED
    return (0 if heavy else -1), 0


def order_planned(plan: Sequence[Planned]) -> list[Planned]:
    """The planned sessions in the order they start, the costliest first by a rough rank (numbers do not depend on
    it): Label_prop (two trainings per round on its pseudo-labels too), then MC_Dropout (T passes per pool image),
    then other AL samplers, then Full_sup and a WSL-like baseline that trains its seed's classifier, then the rest;
    more rounds first within a rank."""
    return sorted(plan, key=lambda p: _rank(p.task, p.cfg), reverse=True)


def _run_here(profile: str, todo: Sequence[Planned], where: Where, label_prop: dict[str, bool], workers: int,
              watch: RoundWatch, progress: bool) -> None:
    """Prepare each dataset, then run the tasks in this process (``workers`` <= 1) or in that many
    single-threaded local processes (the preparations too, side by side, their progress as text lines), the
    ``watch`` showing the sessions' rounds."""
    if workers <= 1:
        for d, lp in label_prop.items():
            _prepare(profile, d, lp, where, progress=progress)
        with watch:
            for p in todo:
                _finished(p, lambda p=p: where.run(profile, p.task), watch)
        return
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_local_worker)
    try:
        _wait_prepared({d: pool.submit(_prepare, profile, d, lp, where, progress, True)
                        for d, lp in label_prop.items()})
        with watch:
            waiting, running = list(todo), {}
            while waiting or running:
                # a session goes to a worker only when one is free: none waits in a worker's queue, so none
                # starts after the grid is stopped
                while waiting and len(running) < workers:
                    p = waiting.pop(0)
                    running[pool.submit(where.run, profile, p.task)] = p
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    _finished(running.pop(fut), fut.result, watch)
    except KeyboardInterrupt:  # SIGINT, SIGTERM (Interrupted), a notebook's interrupt
        _end_workers(pool)
        raise
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # the running ones finish, no new one starts
        raise
    pool.shutdown()


def _end_workers(pool: ProcessPoolExecutor, grace: float = 10.0) -> None:
    """End a local pool now: no task starts, each worker process gets SIGTERM (SIGKILL after ``grace`` seconds)
    and is waited for, so none is left behind."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # public only from Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        proc.terminate()
    deadline = time.monotonic() + grace
    for proc in processes:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join()


def _run_on_cluster(client: Any, profile: str, todo: Sequence[Planned], where: Where,
                    label_prop: dict[str, bool], watch: RoundWatch, progress: bool) -> None:
    """Run one prepare task per dataset (its progress as text lines in the worker's log), then submit one task
    per session (named after it) and collect them as they finish, the ``watch`` showing their rounds.

    A worker lost mid-task is the scheduler's to handle: it runs the task again elsewhere, and the session resumes
    from its run folder's last finished round.
    """
    import distributed
    from dask.base import tokenize

    token = tokenize(profile, str(where.results_dir), str(where.data_dir), sorted(where.base_overrides.items()))[:10]
    prepared = {d: client.submit(_on_worker, _prepare, profile, d, lp, where, progress, True,
                                 key=f"paperlib-prepare-{d}-{token}")
                for d, lp in label_prop.items()}
    _wait_prepared(prepared)  # results are None: nothing stays on a worker to be lost with it
    client.cancel(list(prepared.values()))
    with watch:
        futures = {client.submit(_on_worker, where.run, profile, p.task,
                                 key=f"paperlib-session-{p.task.dataset}-{p.task.name}-seed{p.task.seed}-"
                                     f"{tokenize(p.task)[:6]}-{token}"):
                   p for p in todo}
        for fut in distributed.as_completed(futures, loop=client.loop):
            _finished(futures[fut], fut.result, watch)
