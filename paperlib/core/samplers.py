"""Acquisition scores (Random, Entropy, MC_Dropout) and class-balanced selection of oracle queries."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

SAMPLERS = ("Random", "Entropy", "MC_Dropout")
RANDOM_QUERY_STREAM = 7  # the random queries' stream, apart from the session's other streams (never renumber)
_EPS = 1e-7


def entropy_score(prob: torch.Tensor | np.ndarray) -> float:
    """Mean per-pixel binary entropy (natural log) of a foreground probability map (any shape)."""
    p = np.clip(np.asarray(prob, dtype=np.float64), _EPS, 1 - _EPS)
    return float((-(p * np.log(p) + (1 - p) * np.log(1 - p))).mean())


def mc_dropout_score(samples: torch.Tensor | np.ndarray) -> float:
    """Per-pixel variance (unbiased) over the ``T`` stochastic passes of ``TxHxW`` probabilities, averaged over
    pixels."""
    s = np.asarray(samples, dtype=np.float64)
    if s.shape[0] < 2:
        raise ValueError("mc_dropout_score: needs at least 2 passes")
    return float(s.var(axis=0, ddof=1).mean())


def random_scores(n: int, seed: int, round_index: int) -> np.ndarray:
    """Uniform scores ``(n,)`` that depend only on (seed, round); round ``-1`` is the initial query."""
    return np.random.default_rng([seed, round_index + 1, RANDOM_QUERY_STREAM]).random(n)


def balanced_top(scores: np.ndarray, labels: np.ndarray, candidates: Sequence[int], per_class: int,
                 protected: Sequence[int] = ()) -> np.ndarray:
    """The ``per_class`` highest-scoring candidates of each class (ties: lower index first), sorted.

    ``scores`` and ``labels`` cover all samples ``(N,)``; only ``candidates`` (the unlabeled pool) can be chosen,
    each at most once. Protected samples (pseudo-labeled) are taken only when a class has nothing else left.
    A class with fewer candidates than ``per_class`` gives what it has.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    cand = np.unique(np.asarray(candidates, dtype=np.int64))
    prot = np.zeros(labels.size, dtype=bool)
    prot[np.asarray(protected, dtype=np.int64)] = True
    chosen: list[int] = []
    for c in np.unique(labels[cand]) if cand.size else []:
        pool = cand[labels[cand] == c]
        # rank: unprotected first, then by descending score, then by index
        order = np.lexsort((pool, -scores[pool], prot[pool]))
        chosen.extend(pool[order[:per_class]].tolist())
    return np.array(sorted(chosen), dtype=np.int64)


def initial_query(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """The first round's queries: ``per_class`` random samples of each class, depending only on the seed."""
    labels = np.asarray(labels)
    return balanced_top(random_scores(labels.size, seed, -1), labels, np.arange(labels.size), per_class)
