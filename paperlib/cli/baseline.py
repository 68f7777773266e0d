"""``python -m paperlib baseline`` (``paperlib-baseline``): the ``WSL`` and ``Full_sup`` sessions of a seed, in the
run folders the grid and the notebooks use (training theta0 and the seed's classifier first when missing), and
their numbers."""

from __future__ import annotations

from collections.abc import Sequence

from .. import config, grid, store
from . import command, overrides, parser

DESCRIPTION = "Run the WSL and Full_sup sessions of a seed and print their numbers."


@command
def main(argv: Sequence[str] | None = None) -> int:
    """Run (or read) the two sessions per dataset and print one line each; exit code 0, or 2 on bad input."""
    p = parser("python -m paperlib baseline", DESCRIPTION, "one dataset of the profile (default: all of them)")
    args = p.parse_args(argv)
    cfgs = config.notebook_configs(args.profile, **overrides(args))
    names = [args.dataset] if args.dataset else list(cfgs)
    todo = grid.tasks(names, ["WSL", "Full_sup"], [args.seed])
    runs = grid.run(args.profile, todo, results_dir=args.results, data_dir=args.data, base_overrides=overrides(args),
                    workers=1)
    for d in names:
        wsl, sup = (store.RunFolder(r).finished()[0] for t, r in zip(todo, runs, strict=True) if t.dataset == d)
        print(f"{args.profile}/{d} seed {args.seed}: test accuracy {100 * wsl.metrics['test_accuracy']:.1f}%, "
              f"WSL Dice {100 * wsl.row.test_dice:.1f}%, Full_sup Dice {100 * sup.row.test_dice:.1f}% "
              f"({wsl.row.seconds:.0f}s + {sup.row.seconds:.0f}s)")
    return 0
