"""The grid: in-process and on a Dask cluster on loopback that loses a worker mid-task; the run folder's lock."""

import csv
import os
import re
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import torch
from distributed import Client, LocalCluster

from paperlib import config, grid, progress, store
from paperlib.cli import grid as grid_cmd
from paperlib.config import ConfigError
from paperlib.grid import sweeps
from paperlib.grid.runner import Planned

# the smoke profile made smaller; rounds long enough (about a second each) to be caught mid-session
SMOKE = {"cl_epochs": 1, "seg_epochs": 3, "rounds": 6, "k": 3, "mc_passes": 3, "init_per_class": 1, "device": "cpu",
         "synthetic_scale": 0.2}
TASKS = grid.tasks(["glas"], ["Random", "Entropy", "MC_Dropout", "Label_prop"], [0])
LAST = SMOKE["rounds"] - 1


def _rows(folder: Path) -> list[dict]:
    """rounds.csv without the wall-clock column."""
    with open(folder / "rounds.csv") as fh:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]


@pytest.fixture(scope="module")
def sequential(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The reference: the same grid run sequentially in this process, single-threaded as every grid worker is."""
    base = tmp_path_factory.mktemp("sequential")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = grid.run("smoke", TASKS, results_dir=base / "results", data_dir=base / "data", base_overrides=SMOKE,
                        workers=1, progress=False)
    finally:
        torch.set_num_threads(threads)
    return {t.name: _rows(r) for t, r in zip(TASKS, runs, strict=True)}


def _kill_mid_session(watcher: Client, folders: dict, running) -> tuple:
    """SIGKILL the worker process running a session that has finished round 0 but not its last round.

    Returns (the session's method, killed pid, round 0's checkpoint mtime at the kill)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not running.done():
        for name, folder in folders.items():
            first, final = folder / "checkpoints" / "round_00.pt", folder / "checkpoints" / f"round_{LAST:02d}.pt"
            if not first.exists() or final.exists():
                continue
            where = [a for a, keys in watcher.processing().items()
                     if any(f"-{name}-seed0-" in str(k) for k in keys)]
            if not where:
                continue
            pid = watcher.run(os.getpid, workers=where)[where[0]]
            stamp = first.stat().st_mtime_ns
            os.kill(pid, signal.SIGKILL)
            if not final.exists():  # killed mid-session, not just after it
                return name, pid, stamp
        time.sleep(0.05)
    pytest.fail("no session was caught between its first and last round")


def _assert_one_line_per_round(err: str, tasks: list) -> None:
    """The grid's progress (plain text): each round of each session exactly once, every line whole."""
    seen = re.findall(r"^glas (\S+) seed 0: round (\d+)/(\d+), \d+ labeled, test Dice \d+\.\d%$", err, re.M)
    assert sorted((n, int(r), int(of)) for n, r, of in seen) == \
        sorted((t.name, r, LAST + 1) for t in tasks for r in range(1, LAST + 2))
    assert len([ln for ln in err.splitlines() if ": round " in ln]) == len(seen)  # no line cut or interleaved
    assert re.search(rf"{len(tasks)} sessions.*{len(tasks) * (LAST + 1)}/{len(tasks) * (LAST + 1)} ", err)


@pytest.mark.slow
def test_local_workers_report_every_round_once(tmp_path: Path, sequential: dict, monkeypatch, capfd):
    """Two sessions side by side in two worker processes: the preparation's progress (theta0 trained in a worker)
    comes first, as whole lines naming the dataset, then the bar over the rounds and one line per round."""
    monkeypatch.setenv(progress.MODE_ENV, "text")
    monkeypatch.setenv(progress.INTERVAL_ENV, "0")
    two = [TASKS[0], TASKS[-1]]  # Random and Label_prop
    runs = grid.run("smoke", two, results_dir=tmp_path / "results", data_dir=tmp_path / "data",
                    base_overrides=SMOKE, workers=2)
    assert {t.name: _rows(r) for t, r in zip(two, runs, strict=True)} == {t.name: sequential[t.name] for t in two}
    err = capfd.readouterr().err
    _assert_one_line_per_round(err, two)
    lines = err.splitlines()
    prep = [i for i, ln in enumerate(lines) if re.match(r"glas (cl stage|colour histograms): +\d+%\|", ln)]
    assert prep and any(ln.startswith("[smoke/glas] training theta0") for ln in lines[:prep[0]])
    assert prep[-1] < min(i for i, ln in enumerate(lines) if ln.startswith("2 sessions"))


@pytest.mark.slow
def test_cluster_loses_a_worker_and_every_session_finishes_once(tmp_path: Path, sequential: dict, monkeypatch,
                                                                 capsys):
    monkeypatch.setenv(progress.MODE_ENV, "text")
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    results = tmp_path / "results"
    folders = {t.name: grid.task_folder(results, "smoke", t) for t in TASKS}
    t0 = time.monotonic()
    with (LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", protocol="tcp",
                       dashboard_address=None, local_directory=tmp_path / "dask") as cluster,
          Client(cluster) as watcher):
        addresses = [cluster.scheduler_address, *watcher.scheduler_info()["workers"]]
        assert len(addresses) == 3 and all(a.startswith("tcp://127.0.0.1:") for a in addresses)  # loopback only
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(grid.run, "smoke", TASKS, results_dir=results, data_dir=tmp_path / "data",
                                  base_overrides=SMOKE, scheduler=cluster.scheduler_address)
            killed, pid, stamp = _kill_mid_session(watcher, folders, running)
            runs = running.result(timeout=150)
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert time.monotonic() - t0 < 150

    assert [r.resolve() for r in runs] == [folders[t.name].resolve() for t in TASKS]
    store_runs = sorted(p.relative_to(results) for p in (results / "smoke" / "glas" / "runs").glob("*/seed_*"))
    assert store_runs == sorted(f.relative_to(results) for f in folders.values())  # each session exactly once
    for name, folder in folders.items():
        assert [p.name for p in sorted((folder / "checkpoints").iterdir())] == \
            [f"round_{r:02d}.pt" for r in range(LAST + 1)], name
        assert not list(folder.rglob(".*.tmp"))
        assert _rows(folder) == sequential[name], name  # identical to the sequential in-process run
    # the killed session resumed from its finished rounds rather than starting again
    assert (folders[killed] / "checkpoints" / "round_00.pt").stat().st_mtime_ns == stamp
    _assert_one_line_per_round(capsys.readouterr().err, TASKS)  # the worker's death cost no line, nor doubled one

    # multiprocessing's resource tracker is the one child that stays: the standard library's helper for this
    # process (no sockets), started once by the first spawned process and ended when this process ends
    started = [p for p in me.children(recursive=True)
               if p.pid not in before and "multiprocessing.resource_tracker" not in " ".join(p.cmdline())]
    _, alive = psutil.wait_procs(started, timeout=15)
    assert not alive, f"processes left running: {[p.cmdline() for p in alive]}"


@pytest.mark.slow
def test_unreachable_scheduler_is_a_clear_error_within_seconds(tmp_path: Path, monkeypatch, capsys):
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    t0 = time.monotonic()
    with pytest.raises(grid.SchedulerError, match=f"Dask scheduler '{address}' did not answer"):
        grid.run("smoke", TASKS[:1], results_dir=tmp_path / "results", data_dir=tmp_path / "data",
                 base_overrides=SMOKE, scheduler=address, progress=False)
    assert time.monotonic() - t0 < 15
    assert not (tmp_path / "results").exists() and not (tmp_path / "data").exists()  # nothing written

    monkeypatch.setenv(grid.SCHEDULER_ENV, address)  # the environment's scheduler, when none is given
    assert grid.scheduler_address("") == address and grid.scheduler_address("tcp://other:1") == "tcp://other:1"
    code = grid_cmd.main(["--profile", "smoke", "--dataset", "glas", "--methods", "Random", "--results",
                      str(tmp_path / "results"), "--data", str(tmp_path / "data"), "-p", "device", "cpu"])
    assert code == 2 and f"Dask scheduler '{address}' did not answer" in capsys.readouterr().err
    monkeypatch.delenv(grid.SCHEDULER_ENV)
    assert grid.scheduler_address("") is None
    with pytest.raises(grid.SchedulerError, match="'localhost' is not a Dask scheduler address"):
        grid.connect("localhost")


def test_bad_task_is_refused_before_anything_runs(tmp_path: Path):
    with pytest.raises(Exception, match="unknown method 'Coreset'"):
        grid.run("smoke", [grid.Task("glas", "Coreset", 0)], results_dir=tmp_path / "r", data_dir=tmp_path / "d",
                 progress=False)
    with pytest.raises(Exception, match="'k' must be >= 1"):
        grid.run("smoke", [*TASKS, grid.Task("glas", "Label_prop", 0, {"k": 0}, "k0")], results_dir=tmp_path / "r",
                 data_dir=tmp_path / "d", progress=False)
    assert not (tmp_path / "r").exists() and not (tmp_path / "d").exists()


def test_run_folder_lock_admits_one_writer_at_a_time(tmp_path: Path):
    folder = store.RunFolder(tmp_path / "run")
    entered = threading.Event()

    def second_copy() -> None:
        with folder.lock():
            entered.set()

    with folder.lock():
        other = threading.Thread(target=second_copy)
        other.start()
        assert not entered.wait(0.5)  # waits while the first copy holds the folder
    assert entered.wait(10)
    other.join()


@pytest.mark.slow
def test_a_session_is_the_first_rounds_of_a_longer_one(tmp_path: Path, sequential: dict):
    """What lets a sweep point at the profile's own value read the main session: rounds do not depend on how many
    follow (``sweeps.sweep_points``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        short, = grid.run("smoke", [grid.Task("glas", "Label_prop", 0, {"rounds": 2}, "r2")],
                          results_dir=tmp_path / "results", data_dir=tmp_path / "data", base_overrides=SMOKE,
                          workers=1, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert _rows(short) == sequential["Label_prop"][:2]


def test_tasks_naming_one_folder_run_once_and_must_agree(tmp_path: Path):
    wsl = grid.Task("glas", "WSL", 0)
    kw = {"results_dir": tmp_path / "r", "data_dir": tmp_path / "d", "base_overrides": SMOKE, "progress": False}
    with pytest.raises(ConfigError, match="two tasks name this run folder with different settings"):
        grid.run("smoke", [wsl, grid.Task("glas", "WSL", 0, {"cl_epochs": 2})], workers=1, **kw)
    assert not (tmp_path / "r").exists()
    first, again = grid.run("smoke", [wsl, grid.Task("glas", "WSL", 0)], workers=1, **kw)
    assert first == again and (first / "rounds.csv").is_file()


def test_sessions_start_costliest_first():
    todo = [grid.Task("glas", m, s) for m in ("WSL", "Random", "Full_sup", "MC_Dropout", "Label_prop") for s in (0, 1)]
    todo.append(grid.Task("glas", "Label_prop", 0, {"rounds": 3}, "r3"))
    plan = [Planned(t, config.get("demo", dataset="glas", **t.overrides), Path(t.name)) for t in todo]
    started = [p.task for p in grid.order_planned(plan)]
    assert [t.name for t in started] == ["Label_prop", "Label_prop", "Label_prop__r3", "MC_Dropout", "MC_Dropout",
                                         "Random", "Random", "WSL", "Full_sup", "Full_sup", "WSL"]
    assert [t.seed for t in started][:2] == [0, 1] and started[7].seed == 1  # stable; WSL of seed 1 trains


def test_sweep_points_at_the_profiles_own_value_read_the_main_session():
    cfgs = {d: config.get("demo", dataset=d) for d in ("glas", "cub")}
    points = sweeps.sweep_points(cfgs, seed=0)
    got = [(p.dataset, p.parameter, p.value, p.rounds, p.task.name, p.task.overrides) for p in points]
    g, c = cfgs["glas"], cfgs["cub"]
    assert g.al.k == 10 and g.al.lam == 0.1 and c.al.lam == 0.001  # the demo's own values, inside its grids
    k_rounds, lam_rounds, cub_rounds = g.study.k_rounds, g.study.lam_rounds, c.study.lam_rounds
    assert got == [
        ("glas", "k", 2, k_rounds, "Label_prop__k2", {"k": 2, "rounds": k_rounds}),
        ("glas", "k", 5, k_rounds, "Label_prop__k5", {"k": 5, "rounds": k_rounds}),
        ("glas", "k", 10, k_rounds, "Label_prop", {}),
        ("glas", "lambda", 0.01, lam_rounds, "Label_prop__lam0.01", {"lam": 0.01, "rounds": lam_rounds}),
        ("glas", "lambda", 0.1, lam_rounds, "Label_prop", {}),
        ("glas", "lambda", 1.0, lam_rounds, "Label_prop__lam1", {"lam": 1.0, "rounds": lam_rounds}),
        ("cub", "lambda", 0.001, cub_rounds, "Label_prop", {}),
        ("cub", "lambda", 0.01, cub_rounds, "Label_prop__lam0.01", {"lam": 0.01, "rounds": cub_rounds}),
        ("cub", "lambda", 0.1, cub_rounds, "Label_prop__lam0.1", {"lam": 0.1, "rounds": cub_rounds}),
    ]
    assert k_rounds <= g.al.rounds and lam_rounds <= g.al.rounds and cub_rounds <= c.al.rounds
    # more rounds than the main session runs: a session of its own
    longer = sweeps.sweep_points({"cub": config.get("demo", dataset="cub", lam_rounds=c.al.rounds + 1)}, 0)
    assert longer[0].task.name == "Label_prop__lam0.001" and longer[0].rounds == c.al.rounds + 1
