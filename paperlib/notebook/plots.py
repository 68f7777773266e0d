"""Every figure and table renderer. Figures are written as PNG and PDF, tables as Markdown and CSV, atomically
and byte-for-byte deterministically (no timestamps in the files)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import pyplot as plt

from ..core.methods import METHODS
from ..core.metrics import mean_std
from ..store import atomic_write_bytes, atomic_write_text

METHOD_ORDER = list(METHODS)
# the paper's colours (the reference code's plotting script: CSS4 named colours); the CAM family apart from them; the
# controls (Random_refit, Label_prop_lam0) take their method's colour, dashed
COLOURS = {"WSL": "#ffa500", "Random": "#0000ff", "Entropy": "#a0522d", "MC_Dropout": "#008000",
           "Label_prop": "#ff0000", "Full_sup": "#000000", "Random_refit": "#0000ff", "Label_prop_lam0": "#ff0000",
           "GradCAM": "#bcbd22", "GradCAM++": "#17becf", "AblationCAM": "#7f7f7f", "XGradCAM": "#e377c2"}
matplotlib.rcParams.update({"svg.hashsalt": "paperlib", "figure.dpi": 100, "font.size": 9})


def order(methods: Sequence[str]) -> list[str]:
    """Methods in the paper's order, others after them alphabetically."""
    known = [m for m in METHOD_ORDER if m in methods]
    return known + sorted(m for m in methods if m not in METHOD_ORDER)


def savefig(fig: plt.Figure, stem: str | Path) -> list[Path]:
    """Write ``stem.png`` (150 dpi) and ``stem.pdf`` without timestamps; returns both paths."""
    stem = Path(stem)
    out = []
    pdf_meta = {"CreationDate": None, "Creator": None, "Producer": None}
    for ext, meta in ((".png", {"Software": None}), (".pdf", pdf_meta)):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext[1:], dpi=150, metadata=meta, bbox_inches="tight")
        out.append(atomic_write_bytes(stem.with_suffix(ext), buf.getvalue()))
    return out


def markdown(df: pd.DataFrame) -> str:
    """A GitHub Markdown table of a DataFrame (values as they print)."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(" --- " for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_table(df: pd.DataFrame, stem: str | Path, caption: str = "") -> list[Path]:
    """Write ``stem.md`` (caption + Markdown table) and ``stem.csv``."""
    stem = Path(stem)
    md = (f"{caption}\n\n" if caption else "") + markdown(df)
    return [atomic_write_text(stem.with_suffix(".md"), md),
            atomic_write_text(stem.with_suffix(".csv"), df.to_csv(index=False, lineterminator="\n"))]


def pm(mean: float, std: float) -> str:
    return f"{mean:.2f} ± {std:.2f}"


# ---------------------------------------------------------------------------------------------------------------
# Data and similarity


def _show(ax: plt.Axes, image, mask=None, title: str = "") -> None:
    ax.imshow(np.asarray(image.permute(1, 2, 0)) if hasattr(image, "permute") else image)
    if mask is not None and np.asarray(mask).any():
        ax.contour(np.asarray(mask, dtype=float), levels=[0.5], colors="yellow", linewidths=0.8)
    ax.set_title(title, fontsize=7)
    ax.axis("off")


def sample_grid(splits_by_dataset: Mapping[str, object], n: int = 6) -> plt.Figure:
    """Fig. 4: a row of training images per dataset, the true mask outlined, class above each."""
    fig, axes = plt.subplots(len(splits_by_dataset), n, figsize=(1.8 * n, 1.7 * len(splits_by_dataset)),
                             squeeze=False)
    for row, (name, splits) in enumerate(splits_by_dataset.items()):
        ds = splits.train
        picks = np.linspace(0, len(ds) - 1, n).round().astype(int)
        for ax, i in zip(axes[row], picks, strict=True):
            image, label, mask = ds[int(i)]
            _show(ax, image, None if mask is None else mask[0], f"{name}: {ds.class_names[label]}"[:28])
    fig.tight_layout()
    return fig


def budget_table(cfgs: Mapping[str, object], splits_by_dataset: Mapping[str, object]) -> pd.DataFrame:
    """Table 1: queries per class at the first and later rounds, rounds, and the resulting labeled counts."""
    rows = []
    for name, cfg in cfgs.items():
        s = splits_by_dataset[name]
        k = len(s.class_names)
        rows.append({"dataset": name, "classes": k, "train / valid / test": f"{len(s.train)} / {len(s.valid)} / "
                     f"{len(s.test)}", "per class (r = 1)": cfg.al.init_per_class,
                     "per class (r > 1)": cfg.al.per_class, "max rounds": cfg.al.rounds,
                     "labeled at the last round": min(len(s.train), k * (cfg.al.init_per_class
                                                                          + cfg.al.per_class * (cfg.al.rounds - 1)))})
    return pd.DataFrame(rows)


def knn_grid(dataset, dist: np.ndarray, queries: Sequence[int], n_neighbours: int = 10) -> plt.Figure:
    """Figs. 10/11: each query image (left) and its nearest same-class images by colour distance, nearest first."""
    cols = n_neighbours + 1
    fig, axes = plt.subplots(len(queries), cols, figsize=(1.3 * cols, 1.3 * len(queries)), squeeze=False)
    for row, q in enumerate(queries):
        d = dist[q].copy()
        d[q] = np.inf
        near = [int(j) for j in np.argsort(d, kind="stable")[:n_neighbours] if np.isfinite(d[j])]
        for c, ax in enumerate(axes[row]):
            if c == 0:
                _show(ax, dataset[q][0], title=f"query {dataset.ids[q]}")
            elif c - 1 < len(near):
                j = near[c - 1]
                _show(ax, dataset[j][0], title=f"{c}: {d[j]:.3f}")
            else:
                ax.axis("off")
    fig.tight_layout()
    return fig


def near_far_plot(df: pd.DataFrame, k: int) -> plt.Figure:
    """Pseudo-mask Dice of unlabeled images against the rank of their nearest labeled same-class image (one panel
    per dataset, seeds pooled); with a ``seed`` column, one more panel: each seed's near-minus-far difference of
    mean Dice (rank <= k minus rank > k, Dice points) per dataset, so several trials show as a distribution."""
    names = list(dict.fromkeys(df["dataset"]))
    by_seed = "seed" in df.columns
    fig, axes = plt.subplots(1, len(names) + by_seed, figsize=(4.2 * len(names) + 3.2 * by_seed, 3), squeeze=False)
    for ax, (name, part) in zip(axes[0], df.groupby("dataset", sort=False), strict=False):
        near = part["rank"] <= k
        ax.scatter(part["rank"], 100 * part["dice"], s=10, c=np.where(near, "#d62728", "#1f77b4"))
        ax.axvline(k + 0.5, color="grey", ls="--", lw=0.8)
        ax.set_xlabel("rank of the nearest labeled image among same-class neighbours", fontsize=8)
        ax.set_ylabel("pseudo-mask Dice (%)")
        ax.set_title(f"{name}: in U'' (k={k}) red, outside blue", fontsize=8)
    if by_seed:
        ax = axes[0, -1]
        for x, name in enumerate(names):
            part = df[df["dataset"] == name]
            seeds = sorted(part["seed"].unique())
            for j, s in enumerate(seeds):
                trial = part[part["seed"] == s]
                near = trial["rank"] <= k
                diff = 100 * (trial.loc[near, "dice"].mean() - trial.loc[~near, "dice"].mean())
                if np.isfinite(diff):
                    dx = 0.25 * (j - (len(seeds) - 1) / 2) / max(len(seeds) - 1, 1)
                    ax.scatter([x + dx], [diff], s=18, color="k")
                    ax.annotate(str(s), (x + dx, diff), xytext=(3, 0), textcoords="offset points", fontsize=6)
        ax.axhline(0, color="grey", ls="--", lw=0.8)
        ax.set_xticks(range(len(names)), names)
        ax.set_xlim(-0.5, len(names) - 0.5)
        ax.set_ylabel("near - far mean Dice (points)")
        ax.set_title(f"each seed (labelled): rank <= {k} minus rank > {k}", fontsize=8)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------------------
# Baselines and active learning


def mask_grid(rows: Mapping[str, Sequence], images: Sequence, truths: Sequence, titles: Sequence[str] = ()
              ) -> plt.Figure:
    """Images (first row, true mask outlined) and one row of predicted masks per method (Figs. 12 and WSL)."""
    n = len(images)
    fig, axes = plt.subplots(len(rows) + 1, n, figsize=(1.6 * n, 1.6 * (len(rows) + 1)), squeeze=False)
    for c in range(n):
        _show(axes[0, c], images[c], truths[c], titles[c] if titles else "")
        for r, (name, masks) in enumerate(rows.items(), start=1):
            ax = axes[r, c]
            ax.imshow(np.asarray(masks[c], dtype=float), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, fontsize=7)
    fig.tight_layout()
    return fig


def cam_heatmaps(images: Sequence, truths: Sequence, maps: Mapping[str, Sequence], titles: Sequence[str] = ()
                 ) -> plt.Figure:
    """One row per image: the image (true mask outlined), then each method's map of the predicted class as a heat
    map over it (each map scaled to [0, 1] per image for display)."""
    n, cols = len(images), 1 + len(maps)
    fig, axes = plt.subplots(n, cols, figsize=(1.7 * cols, 1.6 * n), squeeze=False)
    for r in range(n):
        image = np.asarray(images[r].permute(1, 2, 0)) if hasattr(images[r], "permute") else images[r]
        _show(axes[r, 0], image, truths[r], titles[r] if titles else "")
        for c, (name, per_image) in enumerate(maps.items(), start=1):
            m = np.asarray(per_image[r], dtype=float)
            m = (m - m.min()) / max(m.max() - m.min(), 1e-12)
            ax = axes[r, c]
            ax.imshow(image)
            ax.imshow(m, cmap="jet", alpha=0.5, vmin=0, vmax=1)
            ax.axis("off")
            if r == 0:
                ax.set_title(name, fontsize=7)
    fig.tight_layout()
    return fig


def curves(df: pd.DataFrame, method: str, column: str = "test_dice") -> np.ndarray:
    """Seeds x rounds (%) of one method (rows sorted by seed; rounds truncated to the shortest seed)."""
    part = df[df["method"] == method]
    per_seed = [g.sort_values("round")[column].to_numpy() * 100 for _, g in part.groupby("seed")]
    n = min(len(c) for c in per_seed)
    return np.array([c[:n] for c in per_seed])


def pseudo_dice_plot(frames: Mapping[str, pd.DataFrame], method: str = "Label_prop") -> plt.Figure:
    """Fig. 6: Dice of the pseudo-masks (against the hidden truth) per query, mean +- population std over seeds."""
    fig, axes = plt.subplots(1, len(frames), figsize=(4.2 * len(frames), 3), squeeze=False)
    for ax, (name, df) in zip(axes[0], frames.items(), strict=True):
        c = curves(df, method, "pseudo_dice")
        mu, sd = np.nanmean(c, 0), np.nanstd(c, 0)
        x = np.arange(1, c.shape[1] + 1)
        ax.plot(x, mu, color=COLOURS["Label_prop"], lw=1.3)
        ax.fill_between(x, mu - sd, mu + sd, color=COLOURS["Label_prop"], alpha=0.15, lw=0)
        ax.set_xlabel("query q (q1: the first labeled set); band: ± std over seeds (population)")
        ax.set_ylabel("pseudo-mask Dice (%)")
        ax.set_title(f"{name}: {method} pseudo-labels")
    fig.tight_layout()
    return fig


def training_curve(history: pd.DataFrame, round_index: int, title: str = "") -> plt.Figure:
    """A round's training curves from a run folder's ``history.csv``: loss (left) and the validation metric
    (right) per epoch, one line per training cycle of the round (``fit``, ``refit``, ``classifier``)."""
    part = history[history["round"] == round_index]
    if part.empty:
        raise ValueError(f"history: no training in round {round_index}")
    fig, (left, right) = plt.subplots(1, 2, figsize=(7, 2.8))
    for cycle, rows in part.groupby("cycle", sort=False):
        left.plot(rows["epoch"], rows["loss"], lw=1.2, label=cycle)
        valid = rows.dropna(subset=["valid"])
        right.plot(valid["epoch"], 100 * valid["valid"], "o-", ms=2.5, lw=1.2, label=cycle)
    left.set_xlabel("epoch")
    left.set_ylabel("training loss")
    right.set_xlabel("epoch")
    right.set_ylabel(f"validation {part['metric'].iloc[0]} (%)")
    right.legend(fontsize=7)
    fig.suptitle(title or f"round {round_index}", fontsize=9)
    fig.tight_layout()
    return fig


def ablation_plot(values: Sequence[float], aucs: Sequence[float], param: str, title: str) -> plt.Figure:
    """Figs. 7-9: AUC (%) of one trial per value of a hyper-parameter; the best value as a red dot."""
    fig, ax = plt.subplots(figsize=(4.2, 3))
    x = np.arange(len(values))
    ax.plot(x, aucs, "o-", color=COLOURS["Random"], lw=1)
    best = int(np.argmax(aucs))
    ax.plot([best], [aucs[best]], "o", color="red", ms=8)
    ax.set_xticks(x, [str(v) for v in values])
    ax.set_xlabel(param)
    ax.set_ylabel("AUC of test Dice (%)")
    mu, sd = mean_std(aucs)
    ax.set_title(f"{title}\nmean {mu:.2f} ± {sd:.2f}; best {param} = {values[best]}: {aucs[best]:.2f}",
                 fontsize=8)
    fig.tight_layout()
    return fig


def hyperparameter_table(cfgs: Mapping[str, object]) -> pd.DataFrame:
    """Table 5: the training hyper-parameters of the profile, one column per dataset."""
    def row(cfg) -> dict:
        m, t, d, a = cfg.model, cfg.train, cfg.data, cfg.al
        return {
            "backbone": f"ResNet-18 ({m.pretrained or 'random init'})", "WILDCAT alpha": m.alpha,
            "WILDCAT kmin": m.kmin, "WILDCAT kmax": m.kmax, "modalities": m.modalities, "optimizer": "SGD",
            "Nesterov": True, "momentum": t.momentum, "weight decay": t.weight_decay,
            "LR": f"{t.seg_lr:g} (WSL: {t.cl_lr:g})", "LR decay": f"{t.seg_gamma:g} (WSL: {t.cl_gamma:g})",
            "LR decay every (epochs)": f"{t.seg_step} (WSL: {t.cl_step})",
            "mini-batch": f"{t.seg_batch} (WSL: {t.cl_batch})", "epochs": f"{t.seg_epochs} (WSL: {t.cl_epochs})",
            "steps per round, at least": t.seg_min_steps or "- (epochs alone)",
            "AL and Full_sup start from": "each seed's classifier" if a.theta0 == "per_seed" else "seed 0's classifier",
            "horizontal flip": d.hflip, "vertical flip": d.vflip, "crop": f"{d.crop} x {d.crop}",
            "network input": f"{round(d.crop * d.scale)} x {round(d.crop * d.scale)}", "k": a.k, "lambda": a.lam,
            "segmentation head width": m.seg_width,
        }
    table = {name: row(cfg) for name, cfg in cfgs.items()}
    keys = list(next(iter(table.values())))
    return pd.DataFrame([{"hyper-parameter": k, **{n: table[n][k] for n in table}} for k in keys])
