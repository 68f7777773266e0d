"""Stopping a command: SIGINT or SIGTERM to the grid (with local workers), to ``al`` and to the pipeline stops it
cleanly: one line saying what finished and that the same command resumes, no traceback, exit code 130 (SIGINT) or
143 (SIGTERM), no process of its group left, no session started after the signal; the same command then finishes."""

# ruff: noqa: I001
import paperlib  # noqa: F401  (first: it pins the float kernels before numpy and torch load; paperlib.bits)
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paperlib import progress

# the smoke profile made smaller; a session of several rounds of about a second each
SMOKE = {"cl_epochs": 1, "seg_epochs": 3, "rounds": 3, "k": 3, "init_per_class": 1, "device": "cpu",
         "synthetic_scale": 0.2}
SEEDS = (0, 1, 2, 3, 4)
METHODS = ("Random",)
N_SESSIONS = len(SEEDS) * len(METHODS)
CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _env() -> dict:
    return {**os.environ, progress.MODE_ENV: "text", "PYTHONUNBUFFERED": "1"}


def _args(tmp_path: Path) -> list[str]:
    args = ["--profile", "smoke", "--results", str(tmp_path / "results"), "--data", str(tmp_path / "data")]
    for name, value in SMOKE.items():
        args += ["-p", name, str(value)]
    return args


def _grid(tmp_path: Path) -> list[str]:
    return [sys.executable, "-m", "paperlib", "grid", "--dataset", "glas", "--methods", ",".join(METHODS),
            "-p", "seeds", ",".join(map(str, SEEDS)), "-p", "workers", "2", *_args(tmp_path)]


def _runs(tmp_path: Path) -> set[Path]:
    return set((tmp_path / "results" / "smoke" / "glas" / "runs").glob("*/seed_*"))


def _start(cmd: list[str], tmp_path: Path) -> tuple[subprocess.Popen, Path, Path]:
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    proc = subprocess.Popen(cmd, stdout=open(out, "w"), stderr=open(err, "w"), env=_env(), start_new_session=True,
                            cwd=tmp_path)
    return proc, out, err


def _wait_for(what, proc: subprocess.Popen, timeout: float = 240):
    """Poll ``what()`` until it is true; fail if ``proc`` ends first or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        assert proc.poll() is None, f"the command ended early (exit code {proc.returncode})"
        time.sleep(0.05)
    proc.kill()
    pytest.fail("timed out waiting")


def _group_gone(pgid: int, timeout: float = 15) -> bool:
    """Whether every process of the group ``pgid`` has ended within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def _stopped(proc: subprocess.Popen, sig: int, out: Path, err: Path, expected: str) -> str:
    """Wait for ``proc`` after ``sig``: its exit code, one line matching ``expected``, no traceback, nothing of its
    process group left (killed if there is, so no test leaves processes behind). Returns that line."""
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"still running 60 s after {sig.name}")
    gone = _group_gone(proc.pid)
    if not gone:
        os.killpg(proc.pid, signal.SIGKILL)
    text = out.read_text() + err.read_text()
    assert "Traceback" not in text, text[-3000:]
    lines = [ln for ln in text.splitlines() if ln.startswith("interrupted")]
    assert len(lines) == 1, text[-3000:]
    assert re.fullmatch(expected, lines[0]), lines[0]
    assert proc.returncode == CODES[sig], (proc.returncode, text[-3000:])
    assert gone, "a process of the command's group was left behind"
    return lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_grid_with_local_workers_stops_on_a_signal_and_resumes(tmp_path: Path, sig: signal.Signals):
    """A grid of 5 sessions on 2 local workers, signalled (the grid process only) while its first sessions run: it
    ends within seconds with one line and exit code 128 + the signal, its workers end with it, no queued session
    starts, and the same command then finishes every session."""
    cmd = _grid(tmp_path)
    proc, out, err = _start(cmd, tmp_path)
    first = _wait_for(lambda: [p for p in _runs(tmp_path) if (p / "checkpoints" / "round_00.pt").exists()], proc)
    started = _runs(tmp_path)
    assert len(started) < N_SESSIONS
    os.kill(proc.pid, sig)
    line = _stopped(proc, sig, out, err,
                    rf"interrupted: \d+ of {N_SESSIONS} sessions finished; run the same command to resume")
    assert int(line.split()[1]) < N_SESSIONS
    assert _runs(tmp_path) == started, "a session started after the signal"
    assert first
    again = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"{N_SESSIONS} session(s) finished" in again.stdout
    assert len(_runs(tmp_path)) == N_SESSIONS
    for run in _runs(tmp_path):
        rounds = (run / "rounds.csv").read_text().splitlines()[1:]
        assert [int(r.split(",")[0]) for r in rounds] == list(range(SMOKE["rounds"])), run


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_al_stops_on_a_signal_with_one_line(tmp_path: Path, sig: signal.Signals):
    """``al`` signalled mid-session: one line naming the rounds finished and its run folder, no traceback, exit
    code 128 + the signal; the same command then finishes the session."""
    cmd = [sys.executable, "-m", "paperlib", "al", "--dataset", "glas", "--method", "Random", *_args(tmp_path)]
    proc, out, err = _start(cmd, tmp_path)
    run = tmp_path / "results" / "smoke" / "glas" / "runs" / "Random" / "seed_0"
    _wait_for(lambda: (run / "checkpoints" / "round_00.pt").exists(), proc)
    os.kill(proc.pid, sig)
    _stopped(proc, sig, out, err,
             r"interrupted: \d+ round\(s\) finished in \S+seed_0; run the same command to resume")
    again = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"finished: {SMOKE['rounds']} round(s)" in again.stdout


def _notebook(path: Path, source: str) -> None:
    """A one-cell notebook."""
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
                     "source": source}],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_pipeline_stops_its_notebook_kernel_and_what_it_started(tmp_path: Path, sig: signal.Signals):
    """The pipeline signalled while a notebook runs a process of its own (as a grid's worker is): one line, no
    traceback, exit code 128 + the signal; the notebook's child process, its kernel (a session of its own) and the
    kernel's process are gone, and the next notebook never started."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    pid_file = tmp_path / "sleeper.pid"
    _notebook(folder / "01_sleep.ipynb", "import subprocess, time\n"
              f"p = subprocess.Popen(['sleep', '600'])\nopen({str(pid_file)!r}, 'w').write(str(p.pid))\n"
              "time.sleep(600)\n")
    _notebook(folder / "02_never.ipynb", f"open({str(tmp_path / 'never')!r}, 'w').write('ran')\n")
    cmd = [sys.executable, "-m", "paperlib.pipeline", "--profile", "smoke", "--notebooks", str(folder),
           "--results", str(tmp_path / "results"), "--figures", str(tmp_path / "figures")]
    proc, out, err = _start(cmd, tmp_path)
    sleeper = int(_wait_for(lambda: pid_file.exists() and pid_file.read_text(), proc, timeout=120))
    os.kill(proc.pid, sig)
    _stopped(proc, sig, out, err, r"interrupted: 0 of 2 notebooks finished; run the same command to resume")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(sleeper, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(sleeper, signal.SIGKILL)
        pytest.fail("the notebook's own process was left running")
    assert not (tmp_path / "never").exists()
