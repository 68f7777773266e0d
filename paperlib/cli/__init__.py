"""The command line: one ``main`` per command in this package (:mod:`paperlib.cli.main` dispatches
``python -m paperlib <command>``), and what they share: ``--profile``, ``--dataset``, ``--seed``, ``--results``,
``--data`` and one spelling for config overrides, ``-p NAME VALUE`` (any field of any section: ``-p lam 0.01``,
``-p device cpu``, ``-p seeds 0,1``), and the errors a command reports as one line instead of a traceback
(``--debug``, or the environment variable ``PAPERLIB_DEBUG=1``, shows the traceback instead).

Exit codes of every command, all set by the one wrapper :func:`command` that every ``main`` goes through (console
scripts, ``python -m paperlib <command>`` and ``python -m paperlib.al``, ``.grid``, ``.pipeline`` alike): 0 done;
1 a notebook failed (``pipeline``); 2 bad input or an expected failure (a config value, a data file, missing weights,
an unavailable device); 3 a session waits for annotations (``al``); 130 interrupted by SIGINT and 143 stopped by
SIGTERM (what finished is kept; the same command resumes).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ..config import PROFILES
from ..errors import PaperlibError
from ..signals import as_interrupted, stop_on_signals

DEBUG_ENV = "PAPERLIB_DEBUG"  # set to 1: commands show the traceback of an expected failure too
DEBUG_FLAG = "--debug"

Main = Callable[[Sequence[str] | None], int]


def add_debug(p: argparse.ArgumentParser) -> None:
    """The ``--debug`` option (a traceback instead of the one-line error)."""
    p.add_argument(DEBUG_FLAG, action="store_true", help=f"show the traceback of an error (or set {DEBUG_ENV}=1)")


def _debug(argv: Sequence[str] | None) -> bool:
    """Whether ``--debug`` is among the arguments, or ``PAPERLIB_DEBUG`` is set."""
    args = sys.argv[1:] if argv is None else argv
    return DEBUG_FLAG in args or os.environ.get(DEBUG_ENV, "").strip() not in ("", "0")


def command(main: Main) -> Main:
    """The one wrapper of every command's ``main(argv) -> exit code``: SIGINT and SIGTERM stop it
    (:func:`~paperlib.signals.stop_on_signals`) with the one line of :class:`~paperlib.signals.Interrupted` and
    exit code 130 or 143 (a plain Ctrl-C: 130); a :class:`~paperlib.errors.PaperlibError` is ``error: <message>``
    on stderr and its ``exit_code`` (2 bad input, 1 a notebook failed), its traceback under ``--debug`` or
    ``PAPERLIB_DEBUG=1``; anything else is a bug and keeps its traceback."""

    @functools.wraps(main)
    def wrapped(argv: Sequence[str] | None = None) -> int:
        try:
            with stop_on_signals():
                return int(main(argv) or 0)
        except KeyboardInterrupt as exc:
            stop = as_interrupted(exc)
            print(stop, file=sys.stderr, flush=True)
            return stop.code
        except PaperlibError as exc:
            if _debug(argv):
                raise
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code

    return wrapped


def launch(main: Main) -> NoReturn:
    """What ``python -m`` runs: ``main`` on the command line's arguments, its exit code the process's."""
    raise SystemExit(main(None))


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
