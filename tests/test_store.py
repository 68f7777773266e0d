"""The run store's one path function and its inverse, and the one reader of each view."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperlib import store
from paperlib.errors import MissingFileError, StoreError


def test_results_of_reads_back_what_run_path_builds(tmp_path: Path):
    run = store.run_path(tmp_path / "results", "smoke", "glas", "Label_prop__lam_rising", 3)
    assert store.results_of(run) == ((tmp_path / "results").resolve(), "smoke", "glas", "Label_prop__lam_rising", 3)
    for bad in (tmp_path / "results" / "smoke" / "glas", run.parent / "seed_x", tmp_path / "a" / "b" / "c" / "seed_0"):
        with pytest.raises(StoreError, match="not a run folder"):
            store.results_of(bad)


def test_the_readers_of_rounds_and_history(tmp_path: Path):
    run = store.run_path(tmp_path, "smoke", "glas", "Random", 0)
    assert store.round_rows(run) == [] and store.history_frame(run) is None
    with pytest.raises(MissingFileError, match="rounds.csv"):
        store.rounds_frame(run)
    folder = store.RunFolder(run)
    folder.prepare({"method": "Random", "seed": 0})
    row = store.RoundRow(0, 4, 0, 0.5, 0.6, float("nan"), 0.5, 1.0)
    history = [{"cycle": "fit", "epoch": 1, "loss": 0.7, "metric": "dice", "valid": 0.6, "lr": 0.1, "seconds": 0.2}]
    folder.save_round(store.RoundRecord(row, [0, 1], [0, 1], [], [2], 0.5, None, history=history), ["a", "b", "c"])
    assert [r["n_labeled"] for r in store.round_rows(run)] == ["4"]
    assert store.rounds_frame(run)["test_dice"].tolist() == [0.5]
    assert store.history_frame(run)["cycle"].tolist() == ["fit"]
    every = store.read_rounds(tmp_path, "smoke", "glas")
    assert every[["method", "seed", "round"]].values.tolist() == [["Random", 0, 0]]
