"""``python -m paperlib.pipeline`` (``paperlib-pipeline``, ``python -m paperlib pipeline``): run the notebooks in
order with papermill."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .. import config, data
from ..al.preflight import check_masks
from ..pipeline import NOTEBOOKS, notebooks, run
from . import add_debug, command

DESCRIPTION = ("Run the notebooks in order with papermill (each in its own folder), keep executed copies under "
               "results/<profile>/executed/, and stop at the first failure, naming the cell.")
# the notebooks whose sessions use the simulated oracle: every training image of a dataset file needs its mask
SIMULATED_ORACLE = ("04_active_learning",)


def check_pool(args: argparse.Namespace) -> None:
    """:class:`~paperlib.errors.DataError` before any notebook runs when ``--dataset csv`` selects a notebook whose
    sessions use the simulated oracle and the dataset file has training images without a mask, saying what runs
    instead."""
    if args.dataset != "csv" or not args.only:  # without --only the runner refuses --dataset itself
        return
    chosen = [nb.stem for nb in notebooks(Path(args.notebooks), args.only) if nb.stem in SIMULATED_ORACLE]
    if not chosen:
        return
    cfg = config.get(args.profile, dataset="csv", **dict(args.p))
    check_masks(data.from_config(cfg), "Label_prop", "simulated",
                hint=f"{', '.join(chosen)} runs its sessions with it; run 07_annotate instead (--only 07: a "
                     "Label_prop session whose masks you draw), or the commands of "
                     "docs/own-data.md#a-pool-without-masks (WSL and its predictions; sessions with --oracle folder)")


@command
def main(argv: Sequence[str] | None = None) -> int:
    """Run the notebooks; exit code 0 all ran, 1 a notebook failed (:class:`~paperlib.errors.NotebookFailed`), 2 bad
    input (checked before any notebook runs)."""
    parser = argparse.ArgumentParser(prog="python -m paperlib.pipeline", description=DESCRIPTION)
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
    parser.add_argument("--quiet", action="store_true", help="only a line per notebook and per cell, not the "
                        "kernel's own output")
    add_debug(parser)
    args = parser.parse_args(argv)
    params = {k: v for k, v in (("methods", args.methods), ("scheduler", args.scheduler),
                                ("dataset", args.dataset)) if v is not None}
    if args.methods is not None:  # an unknown or unavailable method: refused before any notebook runs
        from .grid import methods_arg

        methods_arg(args.methods)
    check_pool(args)
    rows = run(args.profile, only=args.only, overrides=dict(args.p), params=params, results_dir=args.results,
               figures_dir=args.figures, folder=Path(args.notebooks), kernel=args.kernel, quiet=args.quiet)
    total = sum(r["seconds"] for r in rows)
    print(f"all {len(rows)} notebook(s) ran in {total:.0f} s; runtimes in {Path(args.results) / args.profile}")
    return 0
