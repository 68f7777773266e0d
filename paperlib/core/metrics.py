"""Dice, area under the Dice curve, accuracy and summaries over seeds (the paper's evaluation)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor


def _as_bool(mask: ArrayLike) -> np.ndarray:
    if isinstance(mask, torch.Tensor):
        mask = mask.detach().cpu().numpy()
    return np.asarray(mask).astype(bool)


def dice(pred: ArrayLike, target: ArrayLike) -> float:
    """Dice of two binary masks of the same shape (any shape, e.g. ``HxW`` or ``1xHxW``), in [0, 1].

    ``2|P and G| / (|P| + |G|)``; when both masks are empty the prediction is perfect and Dice is 1.
    """
    p, g = _as_bool(pred), _as_bool(target)
    if p.shape != g.shape:
        raise ValueError(f"dice: prediction shape {p.shape} differs from target shape {g.shape}")
    total = int(p.sum()) + int(g.sum())
    if total == 0:
        return 1.0
    return 2.0 * float(np.logical_and(p, g).sum()) / total


def mean_dice(preds: Iterable[ArrayLike], targets: Iterable[ArrayLike]) -> float:
    """Per-image Dice averaged over images (each pair at its own resolution), in [0, 1]."""
    scores = [dice(p, t) for p, t in zip(preds, targets, strict=True)]
    if not scores:
        raise ValueError("mean_dice: no images")
    return float(np.mean(scores))


def dice_auc(curve: Sequence[float] | np.ndarray) -> float:
    """Normalised area under a per-round Dice curve, in the curve's unit.

    Trapezoid rule with unit spacing divided by ``rounds - 1``: a flat curve at ``c`` gives ``c``; a single
    point gives that point.
    """
    y = np.asarray(curve, dtype=float).reshape(-1)
    if y.size == 0:
        raise ValueError("dice_auc: empty curve")
    if not np.all(np.isfinite(y)):
        raise ValueError("dice_auc: curve holds non-finite values")
    if y.size == 1:
        return float(y[0])
    return float(((y[1:] + y[:-1]) / 2.0).sum() / (y.size - 1))


def accuracy(pred: ArrayLike, target: ArrayLike) -> float:
    """Share of equal entries of two label vectors ``(N,)``, in [0, 1]."""
    p, t = np.asarray(_to_numpy(pred)).reshape(-1), np.asarray(_to_numpy(target)).reshape(-1)
    if p.shape != t.shape:
        raise ValueError(f"accuracy: {p.size} predictions for {t.size} labels")
    if p.size == 0:
        raise ValueError("accuracy: no labels")
    return float((p == t).mean())


def _to_numpy(x: ArrayLike) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def mean_std(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """Mean and population standard deviation (ddof=0) over seeds."""
    v = np.asarray(values, dtype=float).reshape(-1)
    if v.size == 0:
        raise ValueError("mean_std: no values")
    return float(v.mean()), float(v.std(ddof=0))


def paired_interval(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> tuple[float, float, float, float]:
    """Paired comparison of two methods on the same seeds: the mean of ``a - b``, its two-sided ``level``
    t-interval (sample std, n - 1 degrees of freedom) and the paired t-test's p-value; the interval and p are
    ``nan`` with fewer than 2 seeds or no spread."""
    from scipy import stats

    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    mean = float(d.mean())
    if d.size < 2 or not d.std(ddof=1) > 0:
        return mean, float("nan"), float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size))
    return mean, mean - half, mean + half, float(stats.ttest_1samp(d, 0.0).pvalue)


def holm(p: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of the p-values of a family of contrasts (``nan`` kept and not counted)."""
    order = sorted(range(len(p)), key=lambda i: (np.isnan(p[i]), p[i]))
    out, running, m = [float("nan")] * len(p), 0.0, sum(not np.isnan(v) for v in p)
    for rank, i in enumerate(order):
        if np.isnan(p[i]):
            continue
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


RANK_TESTS_MIN_N = 6  # below it the two-sided sign test cannot reach p < 0.05 (n = 5 gives at best 0.0625)


def rank_tests(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sided p-values of the sign test and of Wilcoxon's signed-rank test on ``a - b`` over the same seeds;
    ``nan`` for fewer than :data:`RANK_TESTS_MIN_N` seeds (the tests cannot say anything there) or no difference."""
    from scipy import stats

    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    d = d[d != 0]
    if d.size < RANK_TESTS_MIN_N:
        return float("nan"), float("nan")
    sign = float(stats.binomtest(int((d > 0).sum()), d.size, 0.5).pvalue)
    return sign, float(stats.wilcoxon(d).pvalue)
