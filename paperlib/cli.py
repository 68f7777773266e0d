"""What every command line shares: ``--profile``, ``--dataset``, ``--seed``, ``--results``, ``--data`` and one
spelling for config overrides, ``-p NAME VALUE`` (any field of any section: ``-p lam 0.01``, ``-p device cpu``,
``-p seeds 0,1``), and the errors a command reports as one line instead of a traceback."""

from __future__ import annotations

import argparse
from typing import Any

from .config import PROFILES, ConfigError
from .data import DataError
from .oracles import OracleError

# bad input a command reports as ``error: <message>`` (exit code 2)
USER_ERRORS = (ConfigError, DataError, OracleError, FileExistsError, FileNotFoundError, ValueError, RuntimeError)


def parser(prog: str, description: str, dataset_help: str, *, seed: bool = True) -> argparse.ArgumentParser:
    """A parser with the shared options (``--seed`` when ``seed``)."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--profile", default="demo", help=f"config profile ({', '.join(PROFILES)})")
    p.add_argument("--dataset", default=None, help=dataset_help)
    if seed:
        p.add_argument("--seed", type=int, default=0)
    p.add_argument("--results", default="results", help="results folder")
    p.add_argument("--data", default="data", help="folder for the synthetic benchmarks")
    p.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="set a config field, e.g. -p lam 0.01 or -p device cpu (repeatable)")
    return p


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``-p`` config overrides, by field name."""
    return dict(args.p)
