"""The run store's one path function and its inverse, the one reader of each view, and a run folder that refuses
another session naming each differing field."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperlib import config, store
from paperlib.errors import MissingFileError, StoreError
from paperlib.store import RunFolder


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


def test_a_refused_run_folder_names_each_field_with_both_values(tmp_path: Path):
    def meta(**fields) -> dict:
        cfg = config.get("smoke", dataset="glas", **fields)
        return {"method": "Random", "seed": 0, "profile": "smoke", "dataset": "glas", "config": cfg.identity()}

    RunFolder(tmp_path).prepare(meta(seg_epochs=10, lam=0.5))
    RunFolder(tmp_path).prepare(meta(seg_epochs=10, lam=0.5))  # the same session resumes
    with pytest.raises(StoreError) as refused:
        RunFolder(tmp_path).prepare(meta(seg_epochs=20, lam=0.25))
    message = str(refused.value)
    assert "seg_epochs: 10 in the run folder, 20 requested" in message
    assert "lam: 0.5 in the run folder, 0.25 requested" in message
    assert "'train'" not in message and "{" not in message  # flattened to field names, not the config's sections
    assert message.endswith("use another results folder or remove this one") and "\n" not in message
