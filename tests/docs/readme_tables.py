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
