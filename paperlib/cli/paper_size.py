"""``python -m paperlib paper-size`` (``paperlib-paper-size``): write a synthetic benchmark at the paper's image
sizes and counts, in the real dataset's layout."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ..data.paper_size import plan_cub, plan_glas, write_cub_paper, write_glas_paper
from . import add_debug, command

DESCRIPTION = "Write a synthetic GlaS-like or CUB-like benchmark at the paper's image sizes and counts."


@command
def main(argv: Sequence[str] | None = None) -> int:
    """The command line: write one paper-size benchmark and print its counts and folder."""
    p = argparse.ArgumentParser(prog="python -m paperlib paper-size", description=DESCRIPTION)
    p.add_argument("dataset", choices=("glas", "cub"))
    p.add_argument("out", type=Path, help="folder to write (reused when it already holds the same benchmark)")
    p.add_argument("--fraction", type=float, default=1.0, help="fraction of the images, in (0, 1]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None, help="drawing processes (default: one per CPU)")
    add_debug(p)
    a = p.parse_args(argv)
    writer, planner = (write_glas_paper, plan_glas) if a.dataset == "glas" else (write_cub_paper, plan_cub)
    root = writer(a.out, seed=a.seed, fraction=a.fraction, workers=a.workers)
    plan = planner(seed=a.seed, fraction=a.fraction)
    n_test = sum(q.part == "test" for q in plan)
    print(f"{a.dataset}: {len(plan)} images ({len(plan) - n_test} train+valid, {n_test} test) of "
          f"{len({q.label for q in plan})} classes in {root}")
    return 0
