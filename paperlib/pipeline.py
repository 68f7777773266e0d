"""``python -m paperlib.pipeline --profile P [--only NN] [-p NAME VALUE] [--methods M] [--scheduler S]``: run
the notebooks in order with papermill (kernel ``python3``, each in its own folder), keep executed copies under
``results/<P>/executed/`` and one row per notebook (seconds, peak memory) in ``results/<P>/runtimes.csv`` (and
beside the figures); stop at the first failure, naming the cell.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from . import config
from .store import atomic_write_text

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SHARED_PARAMETERS = ("profile", "seeds", "data_root", "results_dir", "figures_dir", "device", "overrides")


def notebooks(folder: Path = NOTEBOOKS, only: list[str] | None = None) -> list[Path]:
    """``NN_name.ipynb`` in order; ``only`` keeps those whose number or name is listed. A folder without any
    (an installed package has no ``notebooks/`` beside it) is one clear error saying where they are."""
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise config.ConfigError(f"no notebooks (NN_name.ipynb) in {folder}: the notebooks come with a checkout "
                                 "of the project (clone it, then pip install -e . there), or give --notebooks FOLDER")
    if only:
        keep = [p for p in found if p.name[:2] in only or p.stem in only]
        unknown = set(only) - {p.name[:2] for p in keep} - {p.stem for p in keep}
        if unknown:
            raise SystemExit(f"error: no notebook {sorted(unknown)} in {folder}")
        found = keep
    return found


def parameters(nb: Path) -> dict[str, dict]:
    """The names papermill finds in a notebook's ``parameters`` cell (name -> type, default, help)."""
    import papermill

    return papermill.inspect_notebook(str(nb))


_RUNNER = r"""
import json, resource, sys, papermill
args = json.loads(sys.argv[1])
try:
    papermill.execute_notebook(args["input"], args["output"], parameters=args["parameters"],
                               kernel_name=args["kernel"], cwd=args["cwd"], progress_bar=False, log_output=False)
finally:
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print("PEAK_KB", max(peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss), flush=True)
"""


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


def check_kernel(name: str) -> None:
    """:class:`~paperlib.config.ConfigError` unless ``name`` is an installed Jupyter kernel."""
    from jupyter_client.kernelspec import KernelSpecManager

    found = KernelSpecManager().find_kernel_specs()
    if name not in found:
        raise config.ConfigError(f"unknown Jupyter kernel {name!r}; installed: {', '.join(sorted(found))} (register "
                                 "one from its environment: python -m ipykernel install --user --name NAME)")


def run(profile: str, *, only: list[str] | None = None, overrides: dict[str, str] | None = None,
        params: dict[str, str] | None = None, results_dir: str = "results", figures_dir: str = "figures",
        folder: Path = NOTEBOOKS, kernel: str = "python3") -> list[dict]:
    """Execute the notebooks in order on the Jupyter kernel ``kernel``; returns the runtime rows. Raises SystemExit
    on the first failure.

    ``overrides``: config fields for every notebook (as ``-p`` on every command line; checked before any notebook
    runs), passed as the notebooks' ``overrides`` parameter. ``params``: other notebook parameters (``methods``,
    ``scheduler``, ``dataset``), each given to the notebooks that declare it."""
    overrides = dict(overrides or {})
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
        raise SystemExit(f"error: unknown notebook parameter(s) {unknown}; known: {', '.join(sorted(known))}")
    if "dataset" in params:  # another notebook would run on the profile's datasets with this data_root
        others = [nb.stem for nb in nbs if "dataset" not in declared[nb]]
        if others:
            takers = ", ".join(nb.stem for nb in nbs if "dataset" in declared[nb]) or "none of them"
            raise SystemExit(f"error: --dataset is a parameter of {takers} only, not of {', '.join(others)}; "
                             "select notebooks with --only (e.g. --only 04)")
    results = Path(results_dir).resolve()
    executed = results / profile / "executed"
    executed.mkdir(parents=True, exist_ok=True)
    rows = []
    for nb in nbs:
        given = {"profile": profile, "results_dir": str(results), "figures_dir": str(Path(figures_dir).resolve()),
                 **{k: _value(v, declared[nb][k]) for k, v in params.items() if k in declared[nb]}}
        given = {k: v for k, v in given.items() if k in declared[nb]}
        output = executed / nb.name
        print(f"running {nb.name} ...", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps({"input": str(nb), "output": str(output),
                               "parameters": given, "cwd": str(nb.parent), "kernel": kernel})],
                              capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        peak = re.findall(r"PEAK_KB (\d+)", proc.stdout)
        row = {"notebook": nb.name, "seconds": round(seconds, 1),
               "peak_memory_mb": round(int(peak[-1]) / 1024) if peak else ""}
        rows.append(row)
        if proc.returncode != 0:
            _write_runtimes(results / profile / "runtimes.csv", rows)
            tail = proc.stderr.strip().splitlines()[-3:]
            raise SystemExit(f"error: {nb.name} failed at {_failing_cell(output)}\n  executed copy: {output}\n  "
                             + "\n  ".join(tail))
        print(f"  done in {seconds:.0f} s, peak memory {row['peak_memory_mb']} MB", flush=True)
    _write_runtimes(results / profile / "runtimes.csv", rows)
    _write_runtimes(Path(figures_dir).resolve() / profile / "runtimes.csv", rows)
    return rows


def _value(text: str, spec: dict) -> object:
    """A ``-p`` value in the type the notebook declares."""
    kind = (spec.get("inferred_type_name") or "").lower()
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        return text.lower() in ("1", "true", "yes")
    return text


def _write_runtimes(path: Path, rows: list[dict]) -> None:
    """Merge ``rows`` into ``runtimes.csv`` (one row per notebook, the newest run of each)."""
    old = {}
    if path.is_file():
        with open(path, newline="") as fh:
            old = {r["notebook"]: r for r in csv.DictReader(fh)}
    old.update({r["notebook"]: r for r in rows})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["notebook", "seconds", "peak_memory_mb"], lineterminator="\n")
    w.writeheader()
    for name in sorted(old):
        w.writerow(old[name])
    atomic_write_text(path, buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    from . import cli

    parser = argparse.ArgumentParser(prog="python -m paperlib.pipeline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="demo", help="config profile (smoke, demo, glas, cub)")
    parser.add_argument("--only", action="append", help="run only this notebook (number or name; repeatable)")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="set a config field in every notebook, e.g. -p data_root /data/GlaS (repeatable)")
    parser.add_argument("--methods", default=None, help="AL methods of 04_active_learning (comma-separated)")
    parser.add_argument("--scheduler", default=None, help="Dask scheduler address for 03-05 (tcp://host:8786)")
    parser.add_argument("--dataset", default=None, help="one dataset for 04_active_learning: glas, cub, or csv "
                        "(your own data, with -p data_root <dataset file>)")
    parser.add_argument("--results", default="results", help="results folder")
    parser.add_argument("--figures", default="figures", help="figures folder (figures/<profile>/)")
    parser.add_argument("--notebooks", default=str(NOTEBOOKS), help="folder of the NN_name.ipynb notebooks "
                        "(default: the checkout's notebooks/)")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel that runs the notebooks, e.g. one "
                        "registered from a CUDA environment (python -m ipykernel install --user --name paperlib-gpu)")
    cli.add_debug(parser)
    args = parser.parse_args(argv)
    try:
        params = {k: v for k, v in (("methods", args.methods), ("scheduler", args.scheduler),
                                    ("dataset", args.dataset)) if v is not None}
        rows = run(args.profile, only=args.only, overrides=dict(args.p), params=params, results_dir=args.results,
                   figures_dir=args.figures, folder=Path(args.notebooks), kernel=args.kernel)
    except config.ConfigError as exc:
        return cli.fail(exc, args)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 1
    total = sum(r["seconds"] for r in rows)
    print(f"all {len(rows)} notebook(s) ran in {total:.0f} s; runtimes in {Path(args.results) / args.profile}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
