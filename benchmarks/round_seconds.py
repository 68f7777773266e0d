"""``python benchmarks/round_seconds.py``: where a demo training's seconds go, with the crop grid's view features
kept (``crop_grid`` > 0, the head's own steps) and without (``crop_grid`` 0: the backbone at every step), measured
side by side in one process on the same data, theta0 and seeds. Writes ``benchmarks/round_seconds.md``.

A training is one :meth:`Learner.fit` of ``--steps`` steps on ``n`` labeled images (4: a first round; 40: a
Label_prop refit); a Learner's first fit computes the views it draws, the second reuses them (as every later
round, method and seed sharing theta0 does), so both are timed.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from paperlib import config, data
from paperlib.engine import train
from paperlib.engine.learner import Learner

HERE = Path(__file__).parent


def timed_fits(cfg: config.Config, splits: data.Splits, theta0: dict, n: int) -> list[dict]:
    lrn = Learner(cfg, splits, theta0)
    lrn.cache("valid")
    items = lrn.items(list(range(n)), None)
    rows = []
    for attempt in ("first", "again"):
        before = dict(lrn.clock.seconds)
        t0 = time.perf_counter()
        lrn.fit(items, seed=1)
        wall = time.perf_counter() - t0
        spent = {k: lrn.clock.seconds.get(k, 0.0) - before.get(k, 0.0) for k in ("batches", "steps", "validation")}
        rows.append({"crop_grid": cfg.data.crop_grid, "n": n, "fit": attempt, "wall": wall, **spent})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--dataset", default="glas")
    a = p.parse_args()
    base = config.get("demo", dataset=a.dataset, seg_min_steps=a.steps)
    splits = data.from_config(base)
    theta0 = train.snapshot(train.build_model(base, len(splits.class_names), seed=0))
    rows = []
    for grid in (0, 3):
        cfg = replace(base, data=replace(base.data, crop_grid=grid))
        for n in (4, 40):
            rows += timed_fits(cfg, splits, theta0, n)
            print(rows[-2], rows[-1], flush=True)
    lines = [f"One `Learner.fit` of at least {a.steps} steps, demo {a.dataset}-like config, one thread "
             f"(`benchmarks/round_seconds.py`). Seconds.", "",
             "| crop_grid | labeled images | fit | wall | making batches | steps | validation | steps share |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['crop_grid']} | {r['n']} | {r['fit']} | {r['wall']:.1f} | {r['batches']:.1f} | "
                     f"{r['steps']:.1f} | {r['validation']:.1f} | {r['steps'] / r['wall']:.0%} |")
    (HERE / "round_seconds.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
