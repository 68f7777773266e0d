"""``python -m paperlib bits``: the reproducibility setting in force here, and the variables that carry it to a
process this package does not start (a Dask worker on another machine, a job script)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from .. import bits, store
from . import command

DESCRIPTION = (f"Show the reproducibility setting ({bits.SETTING_ENV}=pinned, the default, or native) and what "
               "this machine computes under it; --export prints shell lines that put it into another process's "
               "environment.")


@command
def main(argv: Sequence[str] | None = None) -> int:
    """Print the setting and the machine (or, with ``--export``, the shell lines)."""
    p = argparse.ArgumentParser(prog="python -m paperlib bits", description=DESCRIPTION)
    p.add_argument("--export", action="store_true", help='shell lines: eval "$(python -m paperlib bits --export)" '
                   "before `dask worker ...`")
    p.add_argument("--json", action="store_true", help="the machine record as JSON (as provenance.json holds it)")
    a = p.parse_args(argv)
    if a.export:
        print(bits.export_lines(), end="")
        return 0
    m = store.machine()
    if a.json:
        print(json.dumps(m, indent=1))
        return 0
    print(bits.describe(m["bits"]))
    print(f"cpu: {m['cpu']} ({m['cpu_vendor']}), torch kernels {m['cpu_capability']}, {m['threads']} thread(s)")
    print(f"torch {m['torch']}, MKL {m['mkl']}, oneDNN {m['onednn']}, numpy {m['numpy']}, Python {m['python']}")
    for k, v in m["bits"]["variables"].items():
        print(f"  {k}={v}")
    return 0
