"""The Dice-curve figures, drawn with seaborn from the long per-seed table (:mod:`.long_table`): Fig. 5 in the
paper's form (x = labeled share of the training pool in %, legend ``method (AUC m ± s)``, the paper's colours, band =
± population std over seeds, said on the figure), each seed's curves side by side, and the per-seed paired AUC
differences with the zero line."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import pyplot as plt

from ..core.methods import CAM_METHODS, CONTROLS
from ..core.metrics import dice_auc, mean_std, paired_interval
from .long_table import shares
from .plots import COLOURS, order

X_LABEL = "labeled share of the training pool (%)"


def _population_band(values: pd.Series) -> tuple[float, float]:
    """seaborn ``errorbar``: mean ± population std (the paper's band)."""
    mu, sd = mean_std(values.to_numpy())
    return mu - sd, mu + sd


def _frame(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]]:
    """``df`` with ``share`` (x, the dataset's labeled share of each round, %) and ``dice`` (%) columns; the methods
    with curves (more than one round) and the fixed baselines (one round), in the paper's order."""
    x = shares(df)
    rounds = df.groupby("method")["round"].max()
    curves = [m for m in order(df["method"].unique()) if rounds[m] > 0]
    fixed = [m for m in order(df["method"].unique()) if rounds[m] == 0]
    share = [x[r] if r < len(x) else np.nan for r in df["round"]]
    return df.assign(dice=100 * df["test_dice"], share=share), curves, fixed


def _t_interval(values: pd.Series) -> tuple[float, float]:
    """seaborn ``errorbar``: the 95% t-interval of the mean (sample std), as the paired tables give it."""
    _, lo, hi, _ = paired_interval(values.to_numpy(), np.zeros(len(values)))
    return lo, hi


def _auc_label(df: pd.DataFrame, method: str) -> str:
    """``method (AUC m ± s)``: the AUC of each seed's curve, mean ± population std over seeds (Table 3's)."""
    part = df[df["method"] == method]
    aucs = [dice_auc(g.sort_values("round")["dice"].to_numpy()) for _, g in part.groupby("seed")]
    mu, sd = mean_std(aucs)
    return f"{method} (AUC {mu:.2f} ± {sd:.2f})"


def fig5(df: pd.DataFrame, title: str) -> plt.Figure:
    """Fig. 5 from long-table rows of one dataset (columns ``method, seed, round, labeled_share, test_dice``): mean
    test Dice (%) against the labeled share with a ± population-std band over seeds; fixed baselines (WSL, the CAM
    family, Full_sup) as horizontal lines; the controls dashed in their method's colour. The legend, below the axes,
    gives each method's AUC (mean ± std over seeds)."""
    data, curves, fixed = _frame(df)
    n_seeds = int(df.groupby("method")["seed"].nunique().max())
    with sns.axes_style("whitegrid"):
        fig, ax = plt.subplots(figsize=(5.6, 4.6))
        for m in curves:
            sns.lineplot(data=data[data["method"] == m], x="share", y="dice", estimator="mean",
                         errorbar=_population_band, color=COLOURS.get(m), linestyle="--" if m in CONTROLS else "-",
                         err_kws={"alpha": 0.1, "linewidth": 0}, lw=1.4, label=_auc_label(data, m), ax=ax)
        for m in fixed:
            mu = data.loc[data["method"] == m, "dice"].mean()
            ax.axhline(mu, color=COLOURS.get(m), ls=":" if m in CAM_METHODS else "--", lw=1,
                       label=_auc_label(data, m))
        ax.set_xlabel(X_LABEL)
        ax.set_ylabel("test Dice (%)")
        ax.set_title(title)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=7, frameon=False,
                  title=f"mean over {n_seeds} seeds; band: ± std (population)", title_fontsize=7)
        fig.tight_layout()
    return fig


def seed_curves(df: pd.DataFrame, title: str) -> plt.Figure:
    """Each seed's test Dice curve (%) against the labeled share, one panel per seed (long-table rows of one
    dataset; the AL methods and controls only): where the seeds split."""
    data, curves, _ = _frame(df)
    data = data[data["method"].isin(curves)]
    with sns.axes_style("whitegrid"):
        grid = sns.relplot(data=data, x="share", y="dice", hue="method", hue_order=curves, style="method",
                           style_order=curves, dashes={m: (4, 2) if m in CONTROLS else "" for m in curves},
                           palette={m: COLOURS.get(m, "#333333") for m in curves}, col="seed",
                           col_wrap=min(5, data["seed"].nunique()), kind="line", height=2.3, aspect=1.0, lw=1.1)
        grid.set_axis_labels("labeled share (%)", "test Dice (%)")
        grid.set_titles("seed {col_name}")
        grid.figure.suptitle(title, y=1.02, fontsize=10)
    return grid.figure


def paired_differences(aucs: pd.DataFrame, pairs: Sequence[tuple[str, str]], title: str) -> plt.Figure:
    """Per-seed paired AUC differences ``AUC(a) - AUC(b)`` (points, one per seed) with their mean and 95%
    t-interval, one row per pair, and the zero line. ``aucs`` has columns ``method, seed, auc`` (%)."""
    wide = aucs.pivot(index="seed", columns="method", values="auc")
    rows = [pd.DataFrame({"pair": f"{a} − {b}", "difference": (wide[a] - wide[b]).dropna()})
            for a, b in pairs if a in wide and b in wide]
    data = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame({"pair": [], "difference": []})
    with sns.axes_style("whitegrid"):
        fig, ax = plt.subplots(figsize=(5.6, 0.45 * max(len(rows), 1) + 1.2))
        sns.stripplot(data=data, x="difference", y="pair", color="#333333", size=4, jitter=False, alpha=0.8, ax=ax)
        sns.pointplot(data=data, x="difference", y="pair", errorbar=_t_interval, estimator="mean", color="#d62728",
                      markers="d", linestyle="none", ax=ax) if len(data) else None
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel("AUC(a) − AUC(b) (points), per seed; red: mean and 95% interval")
        ax.set_ylabel("")
        ax.set_title(title)
        fig.tight_layout()
    return fig
