"""``python -m paperlib.grid`` (``paperlib-grid``, ``python -m paperlib grid``): run or resume a grid of sessions,
in-process, in local worker processes or on a Dask cluster."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .. import config
from ..al.preflight import require_methods
from ..core.methods import METHODS
from ..errors import ConfigError
from ..grid import SCHEDULER_ENV, run, tasks
from . import command, overrides, parser


def methods_arg(text: str) -> list[str]:
    """The ``--methods`` of ``grid`` and ``pipeline``, checked before any work
    (:func:`paperlib.al.preflight.require_methods`: an unknown name, or CAM-family methods without the ``cams``
    extra, is one :class:`ConfigError` naming them)."""
    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise ConfigError(f"--methods names no method; known: {', '.join(METHODS)}, or <sampler>+Label_prop")
    return require_methods(names)


@command
def main(argv: Sequence[str] | None = None) -> int:
    """Run (or resume) every session of the grid; exit code 0, or 2 on bad input or an unusable scheduler."""
    p = parser("python -m paperlib.grid", "Run (or resume) a grid of AL sessions: every dataset x method x seed "
               "(-p seeds 0,1: the profile's by default), in-process or on a Dask cluster.",
               "comma-separated datasets (default: every dataset of the profile)", seed=False)
    p.add_argument("--methods", default="Random,Entropy,MC_Dropout,Label_prop",
                   help=f"comma-separated methods ({', '.join(METHODS)}, or <sampler>+Label_prop)")
    p.add_argument("--tag", default="", help="name for the -p overrides: run folders runs/<method>__<tag>/")
    p.add_argument("--scheduler", default="",
                   help=f"Dask scheduler address, e.g. tcp://host:8786 (default: ${SCHEDULER_ENV} when set, "
                   "else in-process; local worker processes: -p workers N)")
    args = p.parse_args(argv)
    base = overrides(args)
    cfgs = config.notebook_configs(args.profile, **base)
    datasets = [d.strip() for d in args.dataset.split(",")] if args.dataset else list(cfgs)
    unknown = [d for d in datasets if d not in cfgs]
    if unknown:
        raise ConfigError(f"unknown dataset(s) {unknown} for profile {args.profile!r}; known: {list(cfgs)}")
    methods = methods_arg(args.methods)  # before any work: an unknown or unavailable method is refused
    seeds = list(cfgs[datasets[0]].study.seeds)
    todo = [replace(t, tag=args.tag) for t in tasks(datasets, methods, seeds)]
    runs = run(args.profile, todo, results_dir=args.results, data_dir=args.data, base_overrides=base,
               scheduler=args.scheduler)
    print(f"{len(runs)} session(s) finished under {Path(args.results) / args.profile}")
    return 0
