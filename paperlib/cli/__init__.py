"""The command line: one ``main`` per command in this package (:mod:`paperlib.cli.main` dispatches
``python -m paperlib <command>``), and what they share: ``--profile``, ``--dataset``, ``--seed``, ``--results``,
``--data`` and one spelling for config overrides, ``-p NAME VALUE`` (any field of any section: ``-p lam 0.01``,
``-p device cpu``, ``-p seeds 0,1``), and the errors a command reports as one line instead of a traceback
(``--debug``, or the environment variable ``PAPERLIB_DEBUG=1``, shows the traceback instead).

Exit codes of every command: 0 done; 1 a notebook failed (``pipeline``); 2 bad input or an expected failure (a
config value, a data file, missing weights, an unavailable device); 3 a session waits for annotations (``al``); 130
interrupted by SIGINT and 143 stopped by SIGTERM (what finished is kept; the same command resumes).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..config import PROFILES
from ..errors import PaperlibError

# the expected failures a command reports as ``error: <message>`` (exit code 2); anything else is a bug and shows
# its traceback
USER_ERRORS = (PaperlibError,)
DEBUG_ENV = "PAPERLIB_DEBUG"  # set to 1: commands show the traceback of an expected failure too
BAD_INPUT = 2  # the exit code of an expected failure


def add_debug(p: argparse.ArgumentParser) -> None:
    """The ``--debug`` option (a traceback instead of the one-line error)."""
    p.add_argument("--debug", action="store_true", help=f"show the traceback of an error (or set {DEBUG_ENV}=1)")


def fail(exc: BaseException, args: argparse.Namespace) -> int:
    """Report an expected failure as one line on stderr and return :data:`BAD_INPUT`; under ``--debug`` or
    ``PAPERLIB_DEBUG=1`` raise it again, traceback and all."""
    if getattr(args, "debug", False) or os.environ.get(DEBUG_ENV, "").strip() not in ("", "0"):
        raise exc
    print(f"error: {exc}", file=sys.stderr)
    return BAD_INPUT


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
    add_debug(p)
    return p


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``-p`` config overrides, by field name."""
    return dict(args.p)
