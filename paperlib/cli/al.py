"""``python -m paperlib.al`` (``paperlib-al``, ``python -m paperlib al``): run or resume one active-learning
session."""

from __future__ import annotations

from collections.abc import Sequence

from .. import config, store
from ..al import run_session
from ..core.methods import METHODS, parse_method
from ..signals import as_interrupted
from . import command, overrides, parser


@command
def main(argv: Sequence[str] | None = None) -> int:
    """Run or resume the session; exit code 0 finished, 2 bad input, 3 waiting for annotations, 130 (SIGINT) or 143
    (SIGTERM) interrupted (one line; the same command resumes from the last finished round)."""
    p = parser("python -m paperlib.al", "Run or resume one AL session.", "dataset of the profile (default: its first)")
    p.add_argument("--method", default="Label_prop",
                   help=f"{', '.join(METHODS)}, or <sampler>+Label_prop (e.g. Entropy+Label_prop)")
    p.add_argument("--oracle", default="simulated", choices=("simulated", "folder"),
                   help="simulated: reveal true masks; folder: a person annotates <run>/queries/round_RR/")
    args = p.parse_args(argv)
    cfg = config.get(args.profile, dataset=args.dataset, **overrides(args))
    parse_method(args.method)
    try:
        status, folder = run_session(cfg, args.method, args.seed, results_dir=args.results, data_dir=args.data,
                                     oracle=args.oracle)
    except KeyboardInterrupt as exc:  # SIGINT, SIGTERM (Interrupted), or a plain Ctrl-C
        stop = as_interrupted(exc)
        folder = store.run_path(args.results, cfg.profile, cfg.data.dataset, args.method, args.seed)
        stop.what = f"{len(store.round_rows(folder))} round(s) finished in {folder}"
        raise stop from None
    if status == "waiting":
        print(f"waiting for annotations: see {folder / 'queries'} (README.txt in the newest round folder), "
              "then run the same command again")
        return 3
    print(f"finished: {len(store.round_rows(folder))} round(s) in {folder / 'rounds.csv'}")
    return 0
