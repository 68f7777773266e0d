"""The README's tables, rendered from the committed results (``figures/demo/``, ``benchmarks/``), so that the tests
can check that README shows what the runs wrote."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from paperlib.notebook.plots import order

NAMES = {"glas": "GlaS", "cub": "CUB"}  # the README's dataset names (the demo's sets are "GlaS-like", "CUB-like")


def results_block(table3_csv: str | Path) -> str:
    """README's results table: AUC per method and dataset from ``table3_auc.csv``, the paper's beside."""
    t = pd.read_csv(table3_csv)
    datasets = list(dict.fromkeys(t["dataset"]))
    header = "| method | " + " | ".join(f"{NAMES.get(d, d)}-like (ours) | {NAMES.get(d, d)} (paper)"
                                      for d in datasets) + " |"
    lines = [header, "|" + " --- |" * (1 + 2 * len(datasets))]
    for m in order(t["method"].unique().tolist()):
        cells = []
        for d in datasets:
            row = t[(t["dataset"] == d) & (t["method"] == m)]
            cells += [row["AUC (%)"].iloc[0], row["paper AUC (%)"].fillna("").iloc[0]] if len(row) else ["", ""]
        lines.append(f"| {m} | " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def runtime_block(runtimes_csv: str | Path) -> str:
    """README's runtime table from a pipeline's ``runtimes.csv``."""
    t = pd.read_csv(runtimes_csv)
    lines = ["| notebook | seconds | peak memory (MB) |", "| --- | --- | --- |"]
    lines += [f"| {r.notebook} | {r.seconds:.0f} | {r.peak_memory_mb} |" for r in t.itertuples()]
    lines.append(f"| total | {t['seconds'].sum():.0f} | {t['peak_memory_mb'].max()} |")
    return "\n".join(lines) + "\n"


def before_after_block(before_csv: str | Path, after_csv: str | Path,
                       names: tuple[str, str] = ("plain path", "fast path")) -> str:
    """README's table of ``make reproduce`` seconds per notebook, before and after (``names``: their columns)."""
    b = pd.read_csv(before_csv).set_index("notebook")["seconds"]
    a = pd.read_csv(after_csv).set_index("notebook")["seconds"]
    lines = [f"| notebook | {names[0]} (s) | {names[1]} (s) | speed-up |", "| --- | --- | --- | --- |"]
    for nb in a.index:
        if nb in b.index:
            lines.append(f"| {nb} | {b[nb]:.0f} | {a[nb]:.0f} | {b[nb] / a[nb]:.2f}x |")
    tb, ta = b[b.index.isin(a.index)].sum(), a[a.index.isin(b.index)].sum()
    lines.append(f"| total | {tb:.0f} | {ta:.0f} | {tb / ta:.2f}x |")
    return "\n".join(lines) + "\n"


def machines_block(runs: dict[str, str | Path]) -> str:
    """README's table of the demo's AUC per method in several runs (name -> ``table3_auc.csv``), side by side."""
    aucs = {name: pd.read_csv(p).set_index(["dataset", "method"])["AUC (%)"] for name, p in runs.items()}
    first = next(iter(aucs.values()))
    datasets = list(dict.fromkeys(first.index.get_level_values(0)))
    lines = ["| method | " + " | ".join(f"{NAMES.get(d, d)}-like, {name}" for d in datasets for name in aucs)
             + " |", "|" + " --- |" * (1 + len(aucs) * len(datasets))]
    for m in order(list(dict.fromkeys(first.index.get_level_values(1)))):
        cells = [a.get((d, m), "") for d in datasets for a in aucs.values()]
        lines.append(f"| {m} | " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def controls_tables(md: str | Path) -> list[str]:
    """The tables of a ``benchmarks/controls/<dataset>.md`` (written by ``benchmarks/controls.py``), each as one
    block of lines ending in a newline: [AUC per method, paired differences]."""
    blocks = Path(md).read_text().split("\n\n")
    return [b.strip("\n") + "\n" for b in blocks if b.lstrip().startswith("|")]


SAMPLERS = ("Random", "Entropy", "MC_Dropout")


def _contrast(t: pd.DataFrame, dataset: str, a: str, b: str) -> str:
    """One paired contrast as the README says it: ``+7.98 [-1.37, +17.34], Holm p 0.267, a better on 3 of 3``."""
    row = t[(t["dataset"] == dataset) & (t["a"] == a) & (t["b"] == b)].iloc[0]
    return (f"{row['AUC(a) - AUC(b) (%)']:+.2f} {row['95% t-interval']}, Holm p {row['p (Holm)']:.3f}, "
            f"better on {row['a better on']} of {row['seeds']}")


def _gain(t: pd.DataFrame, dataset: str, method: str) -> float:
    """The mean paired AUC difference ``method`` − Random of a dataset."""
    row = t[(t["dataset"] == dataset) & (t["a"] == method) & (t["b"] == "Random")].iloc[0]
    return float(row["AUC(a) - AUC(b) (%)"])


def _excludes_zero(interval: str) -> bool:
    """Whether a ``[lo, hi]`` interval as the paired table prints it lies on one side of 0."""
    lo, hi = (float(v) for v in interval.strip("[]").split(","))
    return lo > 0 or hi < 0


def claims_block(paired_csv: str | Path) -> str:
    """README's reading of the demo, every number from ``table3_paired.csv`` (per-seed paired AUC differences):
    Label_prop against each sampler, the samplers among themselves, how many contrasts clear a Holm-adjusted 5%, and
    what a win on every seed is worth on this many seeds."""
    t = pd.read_csv(paired_csv)
    datasets = list(dict.fromkeys(t["dataset"]))
    seeds = int(t["seeds"].max())
    lines = [f"Paired by seed over the demo's {seeds} seeds (`figures/demo/table3_paired.md`): the mean AUC "
             "difference in points, its 95% t-interval, the paired t-test's p Holm-adjusted over a dataset's "
             f"{len(t) // len(datasets)} contrasts, and on how many seeds the first method is better.", ""]
    for b in SAMPLERS:
        cells = "; ".join(f"{NAMES.get(d, d)}-like {_contrast(t, d, 'Label_prop', b)}" for d in datasets)
        lines.append(f"- Label_prop − {b}: {cells}.")
    controls = [("Label_prop", c) for c in ("Label_prop_lam0", "Random_refit") if (t["b"] == c).any()]
    for a, b in (*controls, ("Entropy", "Random"), ("MC_Dropout", "Random"), ("MC_Dropout", "Entropy")):
        cells = "; ".join(f"{NAMES.get(d, d)}-like {_contrast(t, d, a, b)}" for d in datasets)
        lines.append(f"- {a} − {b}: {cells}.")
    among = t[t["a"].isin(SAMPLERS) & t["b"].isin(SAMPLERS)]
    apart = among[[_excludes_zero(v) for v in among["95% t-interval"]]]
    clear = t[t["p (Holm)"] < 0.05]
    every = t[t["a better on"].isin([0, t["seeds"].max()])]
    sign_p = min(1.0, 2 * 0.5 ** seeds)
    which = ", ".join(f"{r.a} − {r.b} on the {NAMES.get(r.dataset, r.dataset)}-like set" for r in clear.itertuples())
    lines += ["", f"{len(clear)} of the {len(t)} contrasts have a Holm-adjusted p below 0.05"
              + (f" ({which})" if len(clear) else "")
              + f". One method better on all {seeds} seeds ({len(every)} of the {len(t)} contrasts, either way) "
              f"is a two-sided sign-test p of {sign_p:.2f} on its own. Among the query-only samplers, "
              f"{len(apart)} of {len(among)} contrasts have a 95% interval that excludes 0"
              + (": the demo does not order them." if len(apart) == 0 else ".")]
    if ((t["a"] == "Label_prop_lam0") & (t["b"] == "Random")).any():
        kept = "; ".join(f"{_gain(t, d, 'Label_prop_lam0') / _gain(t, d, 'Label_prop'):.0%} on the "
                         f"{NAMES.get(d, d)}-like set" for d in datasets)
        lines += ["", "Label_prop_lam0 (the same training with the pseudo-masks weighted 0) keeps of Label_prop's AUC "
                      f"gain over Random: {kept}."]
    return "\n".join(lines) + "\n"


def near_far_block(summary_csv: str | Path) -> str:
    """README's reading of the near/far check (``near_far_summary.csv``): per dataset the mean pseudo-mask Dice of
    the images near a labeled one (in U'') and of the others, each seed's difference, and what their signs say."""
    t = pd.read_csv(summary_csv)
    parts, verdicts = [], []
    for d, g in t.groupby("dataset", sort=False):
        near = g[g["group"].str.startswith("in U''")].iloc[0]
        far = g[g["group"].str.startswith("outside")].iloc[0]
        by_seed = str(near["near - far by seed"])
        better = [float(v.split(":")[1]) > 0 for v in by_seed.split(";") if "n/a" not in v]
        name = f"the {NAMES.get(d, d)}-like set"
        parts.append(f"{near['mean']:.2f}% against {far['mean']:.2f}% on {name} (spreads {near['std']:.0f} and "
                     f"{far['std']:.0f} points; each seed's near minus far: {by_seed})")
        verdicts.append(f"on {name} near images get the better pseudo-masks on "
                        + ("every seed" if all(better) else f"{sum(better)} of {len(better)} seeds"))
    return ("The paper's stated reason, checked (`figures/demo/near_far_summary.md`: the head trained to a plateau on "
            "q1, seeds pooled): pseudo-masks of images near a labeled same-class image score "
            + "; and ".join(parts) + ". So " + "; ".join(verdicts) + ".\n")
