"""``python benchmarks/controls.py --dataset cub --steps N``: does Label_prop's gain survive its controls when
rounds are trained to a plateau and each seed starts from its own classifier?

Runs the grid of the demo profile on one synthetic benchmark (the evaluated generator seed 0) with
``seg_min_steps`` = N (from ``benchmarks/round_convergence.md``), ``theta0 = per_seed``, ``crop_grid = 3`` and
seeds 0-4 (one grid per seed, in order), for WSL, Full_sup, Random, Random_refit, Label_prop and Label_prop_lam0;
then writes, under ``benchmarks/controls/``:

- ``<dataset>_rounds.csv``: the long per-seed table (method, seed, round, labeled, pseudo-labeled, test Dice,
  validation Dice, pseudo-mask Dice, lambda);
- ``<dataset>_paired.csv``: for each contrast of AL methods (``PAIRS``) the mean paired AUC difference, its 95%
  t-interval (sample sd), the paired t-test p, Holm-adjusted over the contrasts, and the win count;
- ``<dataset>_convergence.csv``: per training (session, round, cycle) whether its best validation epoch fell in the
  last quarter of its budget;
- ``<dataset>_seconds.csv``: per method, the seconds a session took (the sum of its rounds') and each seed's
  classifier training (from its history), mean and range over the seeds: the measured cost of each part;
- ``<dataset>_machine.json``: the revision and machine the sessions ran on.

``--summary`` only recomputes the tables from the run folders. The script decides nothing: it reports.
"""

# ruff: noqa: I001  (paperlib first: it pins the float kernels before numpy loads)
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from paperlib import store
from paperlib.core.metrics import mean_std
from paperlib.notebook.tables import paired_numbers, seed_aucs

import pandas as pd

HERE = Path(__file__).parent
OUT = HERE / "controls"
AL = ("Random", "Random_refit", "Label_prop", "Label_prop_lam0")
METHODS = ("WSL", "Full_sup", *AL)
# the contrasts, the method that adds something first: the claim (Label_prop against Random), what the pseudo-masks
# add against each control, and what the controls add against Random
PAIRS = (("Label_prop", "Random"), ("Label_prop", "Random_refit"), ("Label_prop", "Label_prop_lam0"),
         ("Random_refit", "Random"), ("Label_prop_lam0", "Random"), ("Label_prop_lam0", "Random_refit"))


SEEDS = (0, 1, 2, 3, 4)
CSV_COLUMNS = ["a", "b", "seeds", "mean", "lo", "hi", "p", "a_better_on", "p_holm"]  # <dataset>_paired.csv


def overrides(steps: int, seed: int) -> list[str]:
    return ["-p", "seeds", str(seed), "-p", "theta0", "per_seed", "-p", "seg_min_steps", str(steps),
            "-p", "crop_grid", "3"]


def late_best(folder: Path) -> list[dict]:
    """Per training of a run folder: its budget in epochs, the best validated epoch (ties: the latest, as training
    keeps) and whether it is in the last quarter; the same for the first epoch within 1 Dice point of the best (a
    curve still rising at the end, rather than a noisy plateau whose best falls anywhere)."""
    h = store.history_frame(folder)
    rows = []
    if h is None:
        return rows
    for (r, cycle), g in h.groupby(["round", "cycle"]):
        v = g.dropna(subset=["valid"])
        best = int(v.loc[v["valid"] == v["valid"].max(), "epoch"].max())
        near = int(v.loc[v["valid"] >= v["valid"].max() - 0.01, "epoch"].min())  # first within 1 Dice point
        epochs = int(g["epoch"].max()) + 1
        rows.append({"round": int(r), "cycle": cycle, "epochs": epochs, "best_epoch": best,
                     "late": best >= 0.75 * epochs, "first_within_1_point": near,
                     "late_within_1_point": near >= 0.75 * epochs})
    return rows


def summarise(results: Path, dataset: str) -> str:
    df = store.read_rounds(results, "demo", dataset)
    rounds = df[df.method.isin(AL)]["round"].max() + 1
    want = {m: rounds if m in AL else 1 for m in METHODS}
    complete = [s for s, g in df.groupby("seed")  # seeds whose every session finished every round
                if all((g.method == m).sum() == n for m, n in want.items())]
    df = df[df.seed.isin(complete)]
    OUT.mkdir(exist_ok=True)
    keep = ["method", "seed", "round", "n_labeled", "n_pseudo", "test_dice", "valid_dice", "pseudo_dice", "lam"]
    df[keep].sort_values(["method", "seed", "round"]).to_csv(OUT / f"{dataset}_rounds.csv", index=False)
    per_seed = seed_aucs(df)
    auc = {m: dict(zip(g["seed"], g["auc"], strict=True)) for m in METHODS
           for g in [per_seed[per_seed.method == m]] if len(g)}
    lines = [f"### {dataset}-like: AUC (%) over the {len(complete)} seeds whose sessions all finished "
             f"({', '.join(map(str, complete))})", "",
             "| method | AUC mean ± sd (population) | per seed |", "|---|---|---|"]
    for m, per in auc.items():
        mu, sd = mean_std(list(per.values()))
        lines.append(f"| {m} | {mu:.2f} ± {sd:.2f} | {', '.join(f'{v:.1f}' for v in per.values())} |")
    paired = paired_numbers(df, PAIRS)  # the notebooks' own computation
    paired[CSV_COLUMNS].to_csv(OUT / f"{dataset}_paired.csv", index=False, float_format="%.4f")
    lines += ["", "| a | b | AUC(a) − AUC(b), mean [95% t-interval] | p (Holm) | a better on |",
              "|---|---|---|---|---|"]
    for r in paired.to_dict("records"):
        lines.append(f"| {r['a']} | {r['b']} | {r['mean']:+.2f} [{r['lo']:+.2f}, {r['hi']:+.2f}] | "
                     f"{r['p']:.3f} ({r['p_holm']:.3f}) | {r['a_better_on']} of {r['seeds']} |")
    conv = []
    for folder in sorted(f for f in store.runs_dir(results, "demo", dataset).glob("*/seed_*")
                         if int(f.name.removeprefix("seed_")) in complete):
        conv += [{"method": folder.parent.name, "seed": int(folder.name.removeprefix("seed_")), **row}
                 for row in late_best(folder)]
    conv_df = pd.DataFrame(conv)
    conv_df.to_csv(OUT / f"{dataset}_convergence.csv", index=False)
    if len(conv_df):
        lines += ["", f"Trainings whose best validation epoch is in the last quarter of the budget: "
                      f"{int(conv_df.late.sum())} of {len(conv_df)} ({conv_df.late.mean():.1%}); whose first epoch "
                      f"within 1 Dice point of the best is: {int(conv_df.late_within_1_point.sum())} "
                      f"({conv_df.late_within_1_point.mean():.1%})."]
    lines += ["", seconds(results, dataset, df, complete)]
    return "\n".join(lines) + "\n"


def seconds(results: Path, dataset: str, df: pd.DataFrame, complete: list[int]) -> str:
    """Writes ``<dataset>_seconds.csv`` (seconds per session of each method, and per classifier) and returns it
    as a Markdown table."""
    per = {m: g.groupby("seed")["seconds"].sum() for m, g in df.groupby("method")}
    root = store.runs_dir(results, "demo", dataset).parent
    fits = {s: root / ("theta0.history.csv" if s == 0 else f"classifier_seed_{s}.history.csv") for s in complete}
    per["classifier (theta0)"] = pd.Series({s: pd.read_csv(f)["seconds"].sum() for s, f in fits.items()
                                            if f.is_file()}, dtype=float)
    table = pd.DataFrame([{"part": m, "seeds": len(v), "mean": v.mean(), "min": v.min(), "max": v.max()}
                          for m, v in per.items() if len(v)])
    table.to_csv(OUT / f"{dataset}_seconds.csv", index=False, float_format="%.1f")
    rows = [f"| {r.part} | {r.mean:.0f} | {r.min:.0f}-{r.max:.0f} |" for r in table.itertuples()]
    total = table["mean"].sum()
    return "\n".join(["Seconds per session (one process, one thread; the sum of its rounds' `seconds`) and per "
                      "classifier training, over the seeds:", "", "| part | mean | range |", "|---|---|---|", *rows,
                      "", f"One seed of every part above: {total:.0f} s."])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--results", default="results_controls")
    p.add_argument("--data", default="data")
    p.add_argument("--summary", action="store_true")
    a = p.parse_args()
    results = Path(a.results)
    for seed in () if a.summary else SEEDS:  # seed by seed: an interrupted run leaves whole seeds
        cmd = [sys.executable, "-m", "paperlib", "grid", "--profile", "demo", "--dataset", a.dataset,
               "--methods", ",".join(METHODS), "--results", str(results), "--data", a.data, "-p", "workers", "1",
               *overrides(a.steps, seed)]
        subprocess.run(cmd, check=True)
    text = summarise(results, a.dataset)
    (OUT / f"{a.dataset}.md").write_text(text)
    machine = OUT / f"{a.dataset}_machine.json"  # where and from which code the sessions ran (kept once written)
    if not machine.is_file():
        store.write_json(machine, {"revision": store.git_revision(), **store.machine()})
    print(text)


if __name__ == "__main__":
    main()
