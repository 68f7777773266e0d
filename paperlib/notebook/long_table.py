"""The long per-seed table every aggregate table and figure of ``06_figures`` is computed from: one row per finished
round of every session (run folder) of a profile, with what the run folder says made it.

Rounds are numbered once, as the paper does: query ``q`` is the ``q``-th labeled set, so ``q1`` is the first one
(the run folders' 0-based ``round`` r is ``q`` = r + 1), and the x-axis of Fig. 5 is the labeled share of the
training pool in %.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import store

LONG_COLUMNS = ["dataset", "method", "seed", "theta0", "round", "query", "labeled_share", "n_labeled", "n_pseudo",
                "test_dice", "valid_dice", "pseudo_dice", "lam", "machine"]
FILE_NAME = "rounds_long.csv"


def query_name(round_index: int) -> str:
    """The paper's name of a run folder's round: ``q1`` for round 0 (the first labeled set)."""
    return f"q{round_index + 1}"


def digest(value: Any) -> str:
    """A short stable key of a JSON-able value (12 hex digits of the SHA-256 of its sorted JSON)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]


def long_table(results_dir: str | Path, profile: str, pool_sizes: Mapping[str, int]) -> pd.DataFrame:
    """Every finished round of every run folder of ``profile`` for the datasets of ``pool_sizes`` (dataset -> number
    of training images), as :data:`LONG_COLUMNS`: ``theta0`` is the seed of the classifier the session started from,
    ``labeled_share`` is ``n_labeled`` over the pool in %, ``machine`` the key (:func:`digest`) of
    the run folder's machine record, kept in ``attrs["machines"]`` (key -> record; ``provenance.json`` lists them
    under ``session_machines``). Dice values are fractions, as in ``rounds.csv``. Rows sorted by dataset, method,
    seed, round."""
    frames, machines = [], {}
    for dataset, pool in pool_sizes.items():
        rounds = store.read_rounds(results_dir, profile, dataset)
        keys = {}
        for (method, seed), _ in rounds.groupby(["method", "seed"]):
            meta = store.read_json(store.run_path(results_dir, profile, dataset, method, int(seed)) / "config.json")
            key = digest(meta.get("machine", {}))
            machines[key] = meta.get("machine", {})
            keys[(method, seed)] = (int(meta.get("classifier_seed", 0)), key)
        pairs = list(zip(rounds["method"], rounds["seed"], strict=True))
        frames.append(rounds.assign(
            dataset=dataset, theta0=[keys[k][0] for k in pairs], machine=[keys[k][1] for k in pairs],
            query=rounds["round"] + 1, labeled_share=(100.0 * rounds["n_labeled"] / pool).round(2)))
    out = pd.concat(frames, ignore_index=True)[LONG_COLUMNS]
    out = out.sort_values(["dataset", "method", "seed", "round"], kind="stable").reset_index(drop=True)
    out.attrs["machines"] = dict(sorted(machines.items()))
    return out


def write(df: pd.DataFrame, path: str | Path) -> Path:
    """``path`` as CSV (Dice to 6 decimals, as the run folders), byte-deterministic."""
    return store.atomic_write_text(path, df.to_csv(index=False, lineterminator="\n", float_format="%.6g"))


def read(path: str | Path) -> pd.DataFrame:
    """The long table written by :func:`write`; one clear error naming the file and the missing columns."""
    df = pd.read_csv(path)
    missing = [c for c in LONG_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not a long per-seed table, columns {missing} missing")
    return df


def of(df: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """The rows of one dataset."""
    return df[df["dataset"] == dataset].reset_index(drop=True)


def shares(df: pd.DataFrame) -> np.ndarray:
    """The labeled share (%) per round of the AL sessions in ``df`` (their median over sessions: the sessions of a
    dataset share the protocol's budget), indexed by round."""
    al = df[df.groupby(["method", "seed"])["round"].transform("max") > 0]
    return al.groupby("round")["labeled_share"].median().to_numpy()
