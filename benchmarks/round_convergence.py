"""``python benchmarks/round_convergence.py``: how many optimizer steps a demo round needs, measured before any
active-learning result is looked at.

Random's round 0 (the fewest labeled images, so the fewest steps per epoch) is trained for a long budget
(``--steps``) on the demo benchmarks written with a generator seed that is never evaluated (``--generator``), for
several session seeds, each from its own seed's classifier. From each round's ``history.csv`` it reports the step
at which validation Dice first comes within ``--tol`` points of the run's best, and writes the per-validation
curves to ``benchmarks/round_convergence.csv`` and a summary to ``benchmarks/round_convergence.md``.

The rule that turns it into a dataset's ``seg_min_steps`` (fixed before the measurement): the largest plateau step
over that dataset's seeds, times 4/3 (so that a plateau reached there falls before the last quarter of the budget),
rounded up to a multiple of 50. Nothing here looks at any AL method's curve.
"""

from __future__ import annotations

import argparse
import csv
import math
import tempfile
from pathlib import Path

from paperlib import config, store
from paperlib.al.runner import run_session
from paperlib.engine.train import stage_plan

HERE = Path(__file__).parent


def measure(dataset: str, generator: int, steps: int, seeds: list[int], work: Path) -> list[dict]:
    """Rows ``dataset, seed, step, valid`` of Random's round 0 trained for ``steps`` steps."""
    # 100 epochs stretched to ``steps``: a validation every 1% of the budget, one decay at its end (the demo's shape)
    cfg = config.get("demo", dataset=dataset, synthetic_seed=generator, seg_min_steps=steps, rounds=1,
                     theta0="per_seed", seg_epochs=100, seg_step=100, eval_every=1)
    rows = []
    for seed in seeds:
        _, folder = run_session(cfg, "Random", seed, results_dir=work / "results", data_dir=work / "data",
                                progress=False)
        rec = store.RunFolder(folder).finished()[0]
        per_epoch = stage_plan(rec.row.n_labeled, cfg, "seg").steps_per_epoch
        for h in rec.history:
            if not math.isnan(h["valid"]):
                rows.append({"dataset": dataset, "seed": seed, "step": (int(h["epoch"]) + 1) * per_epoch,
                             "valid": round(100 * h["valid"], 2)})
        print(f"{dataset} seed {seed}: best valid {100 * rec.row.valid_dice:.1f} after {steps} steps", flush=True)
    return rows


def plateau(rows: list[dict], tol: float) -> dict[tuple[str, int], int]:
    """Per (dataset, seed): the first step whose validation Dice is within ``tol`` points of that run's best."""
    out = {}
    for key in sorted({(r["dataset"], r["seed"]) for r in rows}):
        run = [r for r in rows if (r["dataset"], r["seed"]) == key]
        best = max(r["valid"] for r in run)
        out[key] = min(r["step"] for r in run if r["valid"] >= best - tol)
    return out


def rule(steps: list[int]) -> int:
    """``seg_min_steps`` from the plateau steps: the largest times 4/3, rounded up to a multiple of 50."""
    return 50 * math.ceil(max(steps) * 4 / 3 / 50)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--generator", type=int, default=1, help="synthetic generator seed (never the evaluated 0)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--tol", type=float, default=1.0)
    p.add_argument("--datasets", default="glas,cub")
    p.add_argument("--summary", action="store_true", help="only summarise the committed round_convergence.csv")
    a = p.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    rows: list[dict] = []
    if a.summary:
        with open(HERE / "round_convergence.csv") as f:
            rows = [{"dataset": r["dataset"], "seed": int(r["seed"]), "step": int(r["step"]),
                     "valid": float(r["valid"])} for r in csv.DictReader(f)]
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for d in a.datasets.split(","):
                rows += measure(d, a.generator, a.steps, seeds, Path(tmp))
        with open(HERE / "round_convergence.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["dataset", "seed", "step", "valid"])
            w.writeheader()
            w.writerows(rows)
    lines = [f"Random, round 0, {a.steps} steps, generator seed {a.generator}, tolerance {a.tol} Dice points", "",
             "| dataset | seed | best valid Dice | first step within tolerance |", "|---|---|---|---|"]
    for (d, s), step in plateau(rows, a.tol).items():
        best = max(r["valid"] for r in rows if (r["dataset"], r["seed"]) == (d, s))
        lines.append(f"| {d} | {s} | {best:.1f} | {step} |")
    steps = plateau(rows, a.tol)
    lines += ["", "Rule (a dataset's largest plateau step x 4/3, up to a multiple of 50): "
              + ", ".join(f"{d}: seg_min_steps = {rule([v for (dd, _), v in steps.items() if dd == d])}"
                          for d in sorted({d for d, _ in steps}))]
    (HERE / "round_convergence.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
