"""``python -m paperlib <command> [options]``: every command behind one entry point (``--version``, ``--help``)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from ..version import __version__
from . import command

# command -> (module under paperlib.cli, what it does)
COMMANDS = {
    "al": ("al", "run or resume one active-learning session"),
    "baseline": ("baseline", "the WSL and Full_sup sessions of a seed, and their numbers"),
    "grid": ("grid", "run or resume a grid of sessions (in-process, local workers or Dask)"),
    "pipeline": ("pipeline", "run the notebooks in order with papermill"),
    "predict": ("predict", "a session's final model on new images, or exported as one file"),
    "paper-size": ("paper_size", "write a synthetic benchmark at the paper's image sizes"),
    "bits": ("bits", "the reproducibility setting (pinned float kernels) and this machine's record"),
}


def usage() -> str:
    """The top-level help: the commands, one line each."""
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items()]
    return ("usage: python -m paperlib <command> [options]   (python -m paperlib <command> --help for its options)\n\n"
            "commands:\n" + "\n".join(lines) + "\n\n  --version  print the version\n")


@command
def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``argv`` (default: ``sys.argv[1:]``) to the command it names; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage(), end="")
        return 0 if args else 2
    if args[0] == "--version":
        print(f"paperlib {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}\n\n{usage()}", end="", file=sys.stderr)
        return 2
    module = importlib.import_module(f"{__package__}.{COMMANDS[name][0]}")
    return int(module.main(rest) or 0)
