"""The child process that runs one notebook for the pipeline (:mod:`paperlib.pipeline.runner`).

``python -m paperlib.pipeline.child ARGS``, where ``ARGS`` is one JSON object: ``input`` and ``output`` (the
notebook and its executed copy), ``parameters`` (given to papermill), ``cwd`` (the folder the kernel runs in),
``kernel`` (the Jupyter kernel's name), ``event`` (the prefix of an event line, :data:`EVENT`) and ``log`` (the
file for the kernel process's own output). The notebook runs in a child process so that papermill keeps its
kernel's state there and the peak memory measured is the child's.

What the child writes on its stdout, line by line, is what the parent reads:

- the notebook's output streams, as the kernel sends them;
- ``"\\n" + EVENT + JSON`` as each code cell starts: ``{"cell": n, "of": count, "source": first line}`` (numbered
  among the code cells from 1; the first line of the cell that is not a comment, at most 90 characters);
- a traceback, when papermill fails (the exit code is then 1);
- last, :data:`PEAK_KB` and the peak resident memory in kB of the child or the kernel, whichever is larger.

Everything else goes to ``log``: the child's file descriptors 1 and 2 point there (the kernel process inherits them,
so its own stdout and stderr go there too), and so does papermill's logging. ipykernel copies output written to
its file descriptors (worker processes, C extensions) both to the notebook and to its own stderr, so relaying both
would print those lines twice. papermill is imported before the redirection, so an error importing it reaches the
user through the parent.

This module imports only the standard library at the top (the parent imports :data:`EVENT` from here) and
papermill in :func:`main`; nothing else of paperlib.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from types import ModuleType
from typing import Any, TextIO

EVENT = "@@paperlib "
"""Prefix of the line written as each code cell starts; a JSON object follows it."""

PEAK_KB = "PEAK_KB"
"""First word of the last line: the peak memory in kB follows it, after a space."""


class Relay:
    """A file for papermill's ``stdout_file`` and ``stderr_file``: each write goes to ``out`` at once."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, text: str) -> None:
        """Write ``text`` to ``out`` and flush it."""
        self.out.write(text)
        self.out.flush()

    def flush(self) -> None:
        """Flush ``out``."""
        self.out.flush()


def redirect_stdio(log: str) -> TextIO:
    """Point file descriptors 1 and 2 at the file ``log`` (created or truncated) and return a line-buffered text
    file on a duplicate of the original stdout, for the lines the parent reads."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    return out


def announce_cells(nb_man: Any, out: TextIO, event: str) -> None:
    """Wrap ``nb_man.cell_start`` (papermill's notebook manager) so that it writes an ``event`` line to ``out``
    before each code cell starts."""
    code = [i for i, c in enumerate(nb_man.nb.cells) if c.cell_type == "code"]
    start = nb_man.cell_start

    def cell_start(cell: Any, cell_index: int | None = None, **kw: Any) -> Any:
        if cell_index in code:
            lines = [ln for ln in cell.source.strip().splitlines() if not ln.startswith("#")] or [""]
            info = {"cell": code.index(cell_index) + 1, "of": len(code), "source": lines[0][:90]}
            out.write("\n" + event + json.dumps(info) + "\n")
            out.flush()
        return start(cell, cell_index, **kw)

    nb_man.cell_start = cell_start


def engine(base: type[Any], out: TextIO, event: str) -> type[Any]:
    """A subclass of papermill's engine ``base`` (``NBClientEngine``) that announces each code cell on ``out``
    (:func:`announce_cells`)."""

    class Engine(base):
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
            announce_cells(nb_man, out, event)
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    return Engine


def peak_kb(resource: ModuleType) -> int:
    """The peak resident memory (kB) of this process or of its largest child (the kernel), whichever is larger;
    ``resource`` is the standard library's module (Unix only, so :func:`main` imports it)."""
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def main(argv: list[str] | None = None) -> int:
    """Run the notebook that ``argv[0]`` (JSON, see the module's docstring; default ``sys.argv[1:]``) describes,
    writing the lines of the protocol on stdout. Returns the exit code: 0, or 1 when papermill failed."""
    # before the redirection: an error importing these is on stdout, which the parent relays to the user
    import resource

    import papermill
    from papermill.engines import NBClientEngine, papermill_engines

    args = json.loads((sys.argv[1:] if argv is None else argv)[0])
    out = redirect_stdio(args["log"])
    papermill_engines.register("paperlib", engine(NBClientEngine, out, args["event"]))
    code = 0
    try:
        papermill.execute_notebook(args["input"], args["output"], parameters=args["parameters"], engine_name="paperlib",
                                   kernel_name=args["kernel"], cwd=args["cwd"], progress_bar=False, log_output=False,
                                   stdout_file=Relay(out), stderr_file=Relay(out))
    except BaseException:
        traceback.print_exc(file=out)
        code = 1
    print(PEAK_KB, peak_kb(resource), file=out, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
