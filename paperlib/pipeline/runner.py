"""``python -m paperlib.pipeline --profile P [--only NN] [-p NAME VALUE] [--methods M] [--scheduler S]``: run
the notebooks in order with papermill (kernel ``python3``, each in its own folder), keep executed copies under
``results/<P>/executed/`` and one row per notebook (seconds, peak memory) in ``results/<P>/runtimes.csv`` (and
beside the figures); stop at the first failure, naming the cell. SIGINT or SIGTERM stops the running notebook and
everything it started, and says how many notebooks finished (:class:`paperlib.signals.Interrupted`).
"""

from __future__ import annotations

import collections
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .. import bits, config, progress, store
from ..errors import ConfigError, NotebookFailed
from ..signals import Interrupted, stop_on_signals
from ..store import atomic_write_text
from ..store.provenance import revision_dirty
from ..values import parse_bool
from .child import EVENT, PEAK_KB

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SHARED_PARAMETERS = ("profile", "seeds", "data_root", "results_dir", "figures_dir", "device", "overrides")


def notebooks(folder: Path = NOTEBOOKS, only: list[str] | None = None) -> list[Path]:
    """``NN_name.ipynb`` in order; ``only`` keeps those named in it by number (``04``), name
    (``04_active_learning``) or file name (``04_active_learning.ipynb``, also as a path). A folder without any (an
    installed package has no ``notebooks/`` beside it), or a name that is none of them (the valid names listed), is
    one clear error."""
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise ConfigError(f"no notebooks (NN_name.ipynb) in {folder}: the notebooks come with a checkout "
                                 "of the project (clone it, then pip install -e . there), or give --notebooks FOLDER")
    if only:
        names = {Path(n).name.removesuffix(".ipynb"): n for n in only}  # a file name or path reads as its name
        keep = [p for p in found if p.name[:2] in names or p.stem in names]
        unknown = [n for key, n in names.items() if not any(key in (p.name[:2], p.stem) for p in keep)]
        if unknown:
            raise ConfigError(f"--only {', '.join(unknown)}: no such notebook in {folder}; the notebooks are "
                              f"{', '.join(p.stem for p in found)} (give the number, e.g. --only 04, or the name)")
        found = keep
    return found


def parameters(nb: Path) -> dict[str, dict]:
    """The names papermill finds in a notebook's ``parameters`` cell (name -> type, default, help)."""
    import papermill

    return papermill.inspect_notebook(str(nb))


def kernel_log(output: Path) -> Path:
    """``<executed notebook>.kernel.log``: what the kernel process printed outside the notebook's output."""
    return output.with_suffix(".kernel.log")


def _execute(nb: Path, output: Path, given: dict, kernel: str, quiet: bool) -> tuple[int, int | None, list[str]]:
    """Run ``nb`` into ``output`` in a child process, relaying a line as each code cell starts and (unless
    ``quiet``) the notebook's output, indented; the kernel's bars are text lines (:mod:`paperlib.progress`). The
    kernel process's own output goes to :func:`kernel_log`. Returns the exit code, the peak memory (kB) and the
    last lines of output."""
    env = {**os.environ, progress.MODE_ENV: "text"}
    # the child (paperlib.pipeline.child) writes the notebook's output, an EVENT line as each code cell starts and
    # the peak memory on its stdout; the kernel process's own output goes to kernel_log(output)
    cmd = [sys.executable, "-m", "paperlib.pipeline.child",
           json.dumps({"input": str(nb), "output": str(output), "parameters": given, "cwd": str(nb.parent),
                       "kernel": kernel, "event": EVENT, "log": str(kernel_log(output))})]
    peak, tail = None, collections.deque(maxlen=3)
    t0 = time.perf_counter()
    # in a session of its own: a Ctrl-C at the terminal reaches this process only, which then ends the child and all
    # it started (_end_child)
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                          start_new_session=True) as proc:
        try:
            for line in proc.stdout:  # text mode: a \r ends a line too
                line = line.rstrip()
                if line.startswith(EVENT):
                    ev = json.loads(line[len(EVENT):])
                    print(f"  [{_clock(time.perf_counter() - t0)}] cell {ev['cell']}/{ev['of']}: {ev['source']}",
                          flush=True)
                elif line.startswith(PEAK_KB + " "):
                    peak = int(line.split()[1])
                elif line.strip():
                    tail.append(line)
                    if not quiet:
                        print(f"      {line}", flush=True)
        except KeyboardInterrupt:  # SIGINT, SIGTERM (Interrupted)
            _end_child(proc.pid)
            raise
    return proc.returncode, peak, list(tail)


def _end_child(pid: int, grace: float = 5.0) -> None:
    """End the notebook's child process ``pid`` and everything it started: the kernel runs in a session of its own
    (jupyter_client), a grid's worker processes in the kernel's process group. Each of those process groups gets
    SIGTERM, then SIGKILL once the processes have ended or after ``grace`` seconds (a session killed at any moment
    resumes from its last finished round). ``psutil`` comes with ipykernel."""
    import psutil

    try:
        procs = [psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
    except psutil.NoSuchProcess:
        return
    groups = set()
    for p in procs:
        try:
            groups.add(os.getpgid(p.pid))
        except ProcessLookupError:
            pass
    groups.discard(os.getpgrp())  # never this process's own group

    def signal_groups(sig: int) -> None:
        for g in groups:
            try:
                os.killpg(g, sig)
            except ProcessLookupError:
                pass

    signal_groups(signal.SIGTERM)
    psutil.wait_procs(procs, timeout=grace)
    signal_groups(signal.SIGKILL)  # what did not end, or started since the list was made
    psutil.wait_procs(procs, timeout=grace)


def _clock(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` past an hour)."""
    m, sec = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{sec:02d}" if m >= 60 else f"{m}:{sec:02d}"


def _failing_cell(output: Path) -> str:
    """The cell papermill marked as failed in an executed notebook, shortened."""
    try:
        nb = json.loads(output.read_text())
    except (OSError, json.JSONDecodeError):
        return "unknown cell"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for n, cell in enumerate(code, start=1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                src = "".join(cell["source"]).strip().splitlines()
                return f"code cell {n} ({src[0][:80] if src else ''}): {out.get('ename')}: {out.get('evalue')}"
    return "unknown cell"


def revision_line(revision: str | None = None) -> str:
    """The line the pipeline starts with: the code's revision (``revision``, default :func:`store.git_revision`)
    and whether it has uncommitted changes, which every figure's ``provenance.json`` entry then records."""
    revision = store.git_revision() if revision is None else revision
    dirty = revision_dirty(revision)
    if dirty is None:
        return "note: the code's git revision is unknown (not a git checkout, or no git); figures will record it"
    if dirty:
        return f"note: the code has uncommitted changes (revision {revision}); figures will record it"
    return f"revision {revision} (clean)"


def check_kernel(name: str) -> None:
    """:class:`~paperlib.ConfigError` unless ``name`` is an installed Jupyter kernel."""
    from jupyter_client.kernelspec import KernelSpecManager

    found = KernelSpecManager().find_kernel_specs()
    if name not in found:
        raise ConfigError(f"unknown Jupyter kernel {name!r}; installed: {', '.join(sorted(found))} (register "
                                 "one from its environment: python -m ipykernel install --user --name NAME)")


def run(profile: str, *, only: list[str] | None = None, overrides: dict[str, str] | None = None,
        params: dict[str, str] | None = None, results_dir: str = "results", figures_dir: str = "figures",
        folder: Path = NOTEBOOKS, kernel: str = "python3", quiet: bool = False) -> list[dict]:
    """Execute the notebooks in order on the Jupyter kernel ``kernel``; returns the runtime rows. Raises
    :class:`~paperlib.errors.NotebookFailed` at the first failure, :class:`~paperlib.errors.ConfigError` on bad input
    (before any notebook runs).

    While it runs it prints one line per notebook (with its last run's time, from ``runtimes.csv``), one per code
    cell as it starts (time since the notebook started), and the kernel's own output indented (progress bars as
    text lines every ``PAPERLIB_PROGRESS_INTERVAL`` seconds, default 15); ``quiet`` leaves out the kernel's output.

    SIGINT or SIGTERM ends the running notebook's child process, its kernel and what the kernel started (a grid's
    worker processes) and raises :class:`~paperlib.signals.Interrupted` (``N of M notebooks finished``); the
    sessions the notebooks run resume from their last finished round when the same command runs again.

    ``overrides``: config fields for every notebook (as ``-p`` on every command line; checked before any notebook
    runs), passed as the notebooks' ``overrides`` parameter. ``params``: other notebook parameters (``methods``,
    ``scheduler``, ``dataset``), each given to the notebooks that declare it."""
    overrides = dict(overrides or {})
    if overrides.get("data_root"):  # the notebooks run in their own folder: a relative path is the caller's
        overrides["data_root"] = os.path.abspath(overrides["data_root"])
    progress.interval_seconds()  # the kernels' bars read it: a bad value is an error now, not in a notebook
    # unknown profile or bad field: an error now, not in a notebook
    config.notebook_configs(profile, dataset=(params or {}).get("dataset", ""), **overrides)
    check_kernel(kernel)
    nbs = notebooks(folder, only)
    declared = {nb: parameters(nb) for nb in nbs}
    params = dict(params or {})
    if overrides:
        params["overrides"] = ";".join(f"{k}={v}" for k, v in overrides.items())
    known = set().union(*declared.values()) if declared else set()
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"unknown notebook parameter(s) {unknown}; known: {', '.join(sorted(known))}")
    if "dataset" in params:  # another notebook would run on the profile's datasets with this data_root
        others = [nb.stem for nb in nbs if "dataset" not in declared[nb]]
        if others:
            takers = ", ".join(nb.stem for nb in nbs if "dataset" in declared[nb]) or "none of them"
            raise ConfigError(f"--dataset is a parameter of {takers} only, not of {', '.join(others)}; "
                             "select notebooks with --only (e.g. --only 04)")
    print(bits.describe(), flush=True)  # the kernels inherit this process's setting (paperlib.bits)
    print(revision_line(), flush=True)
    results = Path(results_dir).resolve()
    executed = results / profile / "executed"
    store.make_folder(executed)
    rows = []
    last = _read_runtimes(results / profile / "runtimes.csv")
    try:
        with stop_on_signals():  # SIGINT, SIGTERM: the running notebook's processes end (_execute)
            for n, nb in enumerate(nbs, start=1):
                given = {"profile": profile, "results_dir": str(results),
                         "figures_dir": str(Path(figures_dir).resolve()),
                         **{k: _value(k, v, declared[nb][k]) for k, v in params.items() if k in declared[nb]}}
                given = {k: v for k, v in given.items() if k in declared[nb]}
                output = executed / nb.name
                before = last.get(nb.name, {}).get("seconds")
                print(f"[{n}/{len(nbs)}] {nb.name}" + (f" (last run: {_clock(float(before))})" if before else ""),
                      flush=True)
                t0 = time.perf_counter()
                code, peak, tail = _execute(nb, output, given, kernel, quiet)
                seconds = time.perf_counter() - t0
                row = {"notebook": nb.name, "seconds": round(seconds, 1),
                       "peak_memory_mb": round(peak / 1024) if peak else ""}
                rows.append(row)
                if code != 0:
                    _write_runtimes(results / profile / "runtimes.csv", rows)
                    raise NotebookFailed(f"{nb.name} failed at {_failing_cell(output)}\n  "
                                     f"executed copy: {output}\n  kernel's own log: {kernel_log(output)}\n  "
                                     + "\n  ".join(tail))
                print(f"  done in {_clock(seconds)}, peak memory {row['peak_memory_mb']} MB", flush=True)
    except Interrupted as exc:
        _write_runtimes(results / profile / "runtimes.csv", rows)
        exc.what = f"{len(rows)} of {len(nbs)} notebooks finished"
        raise
    _write_runtimes(results / profile / "runtimes.csv", rows)
    _write_runtimes(Path(figures_dir).resolve() / profile / "runtimes.csv", rows)
    return rows


def _value(name: str, text: str, spec: dict) -> object:
    """The value ``text`` of the notebook parameter ``name`` in the type the notebook declares."""
    kind = (spec.get("inferred_type_name") or "").lower()
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        return parse_bool(f"notebook parameter {name!r}", text)
    return text


def _read_runtimes(path: Path) -> dict[str, dict]:
    """``runtimes.csv`` by notebook (empty when there is none)."""
    if not path.is_file():
        return {}
    with open(path, newline="") as fh:
        return {r["notebook"]: r for r in csv.DictReader(fh)}


def _write_runtimes(path: Path, rows: list[dict]) -> None:
    """Merge ``rows`` into ``runtimes.csv`` (one row per notebook, the newest run of each)."""
    old = _read_runtimes(path)
    old.update({r["notebook"]: r for r in rows})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["notebook", "seconds", "peak_memory_mb"], lineterminator="\n")
    w.writeheader()
    for name in sorted(old):
        w.writerow(old[name])
    atomic_write_text(path, buf.getvalue())
