"""The tables of the paper and beside it, from per-round rows (run folders' ``rounds.csv`` or the long per-seed
table): Table 2 (accuracy), Table 3 (AUC), the paired comparisons with intervals, Table 4 (readings at queries) and
the lambda-schedule table. Values as they print (``mean ± std``), population std where the paper's tables have it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from ..core.methods import CONTROLS
from ..core.metrics import dice_auc, holm, mean_std, paired_interval, rank_tests
from .plots import curves, order, pm


def accuracy_table(per_seed: Mapping[str, Sequence[tuple[float, float]]], paper: Mapping[str, tuple[float, float]],
                   reference_code: Mapping[str, float], seeds: Sequence[int] | None = None) -> pd.DataFrame:
    """Table 2: per dataset, the (test accuracy, WSL test Dice) fractions of each seed's classifier as mean +-
    population std over seeds (%), the paper's Table 2, and seed 0's accuracy (theta0, where every shared-theta0
    session starts) beside the reference code's seed-0 accuracy. ``seeds`` names the seeds of ``per_seed``'s values
    (default 0, 1, ...)."""
    rows = []
    for d, values in per_seed.items():
        acc, wsl = (100 * np.array([v[k] for v in values]) for k in (0, 1))
        names = list(seeds) if seeds is not None else list(range(len(values)))
        seed0 = f"{acc[names.index(0)]:.2f}" if 0 in names else ""
        rows.append({"dataset": d, "seeds": len(values), "test accuracy (%)": pm(*mean_std(acc)),
                     "WSL test Dice (%)": pm(*mean_std(wsl)), "paper, Table 2 (%)": pm(*paper[d]) if d in paper else "",
                     "ours, seed 0 (theta0) (%)": seed0,
                     "reference code, seed 0 (%)": f"{reference_code[d]:.2f}" if d in reference_code else ""})
    return pd.DataFrame(rows)


def auc_table(df: pd.DataFrame, reference: Mapping[str, tuple[float, float]] | None = None) -> pd.DataFrame:
    """Table 3: AUC of the test Dice curve per method, mean +- population std over seeds (%), and the paper's."""
    rows = []
    for m in order(df["method"].unique()):
        aucs = [dice_auc(c) for c in curves(df, m)]
        mu, sd = mean_std(aucs)
        row = {"method": m, "AUC (%)": pm(mu, sd), "seeds": len(aucs), "rounds": int(curves(df, m).shape[1])}
        if reference is not None:
            row["paper AUC (%)"] = pm(*reference[m]) if m in reference else ""
        rows.append(row)
    return pd.DataFrame(rows)


PAIRED_COLUMNS = ["a", "b", "seeds", "AUC(a) - AUC(b) (%)", "95% t-interval", "p", "p (Holm)", "a better on",
                  "sign test p", "Wilcoxon p"]


def seed_aucs(df: pd.DataFrame) -> pd.DataFrame:
    """The AUC (%) of each session's test Dice curve: columns ``method, seed, auc``."""
    rows = [{"method": m, "seed": int(s), "auc": dice_auc(g.sort_values("round")["test_dice"].to_numpy() * 100)}
            for (m, s), g in df.groupby(["method", "seed"])]
    return pd.DataFrame(rows, columns=["method", "seed", "auc"])


def al_pairs(df: pd.DataFrame) -> list[tuple[str, str]]:
    """Every pair of the methods of ``df`` that run rounds (AL methods and controls), each as (a, b) with a the
    method that adds something: the later in the paper's order, except Label_prop before its controls."""
    present = [m for m in order(df["method"].unique()) if curves(df, m).shape[1] > 1]
    return [(a, b) if a == "Label_prop" and b in CONTROLS else (b, a) for a, b in combinations(present, 2)]


PAIRED_NUMBERS = ["a", "b", "seeds", "mean", "lo", "hi", "p", "a_better_on", "p_holm", "sign_p", "wilcoxon_p"]


def paired_numbers(df: pd.DataFrame, pairs: Sequence[tuple[str, str]] | None = None) -> pd.DataFrame:
    """The one computation of paired AUC comparisons (the notebooks' tables and ``benchmarks/controls.py`` alike):
    for each pair (a, b) of methods (default: :func:`al_pairs`), over the seeds both ran, the mean of AUC(a) -
    AUC(b) (%) with its 95% t-interval ``lo``, ``hi`` (sample std), the paired t-test's ``p``, ``p_holm`` adjusted
    over the pairs given (one dataset's contrasts), on how many seeds a is better, and the sign and Wilcoxon
    signed-rank tests' p (only from 6 seeds on: below, they cannot reach 0.05; else ``nan``). Columns
    :data:`PAIRED_NUMBERS`; pairs with a method that has no finished session are left out."""
    present = set(df["method"].unique())
    pairs = al_pairs(df) if pairs is None else [(a, b) for a, b in pairs if a in present and b in present]
    aucs = seed_aucs(df).pivot(index="seed", columns="method", values="auc")
    rows = []
    for a, b in pairs:
        both = aucs[[a, b]].dropna()
        if both.empty:
            continue
        x, y = both[a].to_numpy(), both[b].to_numpy()
        mean, lo, hi, p = paired_interval(x, y)
        sign, wilcoxon = rank_tests(x, y)
        rows.append({"a": a, "b": b, "seeds": len(both), "mean": mean, "lo": lo, "hi": hi, "p": p,
                     "a_better_on": int((x > y).sum()), "sign_p": sign, "wilcoxon_p": wilcoxon})
    for row, adjusted in zip(rows, holm([r["p"] for r in rows]), strict=True):
        row["p_holm"] = adjusted
    return pd.DataFrame(rows, columns=PAIRED_NUMBERS)


def paired_table(df: pd.DataFrame, pairs: Sequence[tuple[str, str]] | None = None) -> pd.DataFrame:
    """:func:`paired_numbers` as the tables print them (columns :data:`PAIRED_COLUMNS`)."""
    n = paired_numbers(df, pairs)

    def p3(values: pd.Series) -> list[str]:
        return [f"{v:.3f}" if v == v else "" for v in values]

    return pd.DataFrame({
        "a": n["a"], "b": n["b"], "seeds": n["seeds"], "AUC(a) - AUC(b) (%)": [f"{v:+.2f}" for v in n["mean"]],
        "95% t-interval": [f"[{lo:+.2f}, {hi:+.2f}]" if lo == lo else "" for lo, hi in zip(n["lo"], n["hi"],
                                                                                          strict=True)],
        "p": p3(n["p"]), "p (Holm)": p3(n["p_holm"]), "a better on": n["a_better_on"],
        "sign test p": p3(n["sign_p"]), "Wilcoxon p": p3(n["wilcoxon_p"])}, columns=PAIRED_COLUMNS)


def schedule_table(df: pd.DataFrame, prefix: str, base: str = "Label_prop") -> pd.DataFrame:
    """Each lambda schedule (run folders ``<prefix><schedule>``) against the constant lambda (``base``): its lambda
    per round (mean over seeds), AUC (%, mean +- population std over seeds), the constant's AUC, and the per-seed
    paired difference (mean and 95% t-interval) with on how many seeds the schedule is better."""
    columns = ["schedule", "lambda by round", "AUC (%)", f"{base} AUC (%)", "AUC - constant (%)", "95% t-interval",
               "seeds", "schedule better on"]
    names = sorted(m for m in df["method"].unique() if m.startswith(prefix))
    if base not in set(df["method"]) or not names:
        return pd.DataFrame([], columns=columns)
    aucs = auc_table(df[df["method"].isin([base, *names])]).set_index("method")["AUC (%)"]
    paired = paired_table(df, [(m, base) for m in names]).set_index("a")
    rows = []
    for m in names:
        lam = df[df["method"] == m].groupby("round")["lam"].mean()
        rows.append([m.removeprefix(prefix), ", ".join(f"{v:.3g}" for v in lam), aucs[m], aucs[base],
                     paired.loc[m, "AUC(a) - AUC(b) (%)"], paired.loc[m, "95% t-interval"], paired.loc[m, "seeds"],
                     paired.loc[m, "a better on"]])
    return pd.DataFrame(rows, columns=columns)


def readings_table(df: pd.DataFrame, n: int = 5,
                   reference: Mapping[str, Sequence[tuple[float, float]]] | None = None) -> pd.DataFrame:
    """Table 4: test Dice (mean +- population std over seeds, %) at queries q2..q(n+1) (rounds 1..n); fixed
    baselines once. With ``reference`` (method -> (mean, std) at q2.., the paper's Table 4), a paper column beside
    each query's."""
    rows = []
    for m in order(df["method"].unique()):
        c = curves(df, m)
        row = {"method": m}
        for r in range(1, n + 1):
            if c.shape[1] == 1:
                row[f"q{r + 1}"] = pm(c[:, 0].mean(), c[:, 0].std()) if r == 1 else ""
            else:
                row[f"q{r + 1}"] = pm(c[:, r].mean(), c[:, r].std()) if r < c.shape[1] else ""
            if reference is not None:
                paper = reference.get(m, [])
                row[f"q{r + 1} paper"] = pm(*paper[r - 1]) if r <= len(paper) else ""
        rows.append(row)
    return pd.DataFrame(rows)
