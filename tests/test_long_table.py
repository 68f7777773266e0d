"""The long per-seed table: what it holds for each finished round, and that the committed demo's aggregate tables are
recomputed from it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from paperlib import store
from paperlib.notebook import long_table, reference, tables

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "figures" / "demo"


def _session(results: Path, method: str, seed: int, rows: list[tuple[int, int, float]], meta: dict) -> None:
    folder = store.run_path(results, "demo", "glas", method, seed)
    folder.mkdir(parents=True)
    frame = pd.DataFrame([{"round": r, "n_labeled": n, "n_pseudo": 0, "test_dice": d, "valid_dice": d,
                           "pseudo_dice": float("nan"), "threshold": 0.5, "seconds": 1.0, "lam": float("nan")}
                          for r, n, d in rows])
    frame.to_csv(folder / "rounds.csv", index=False)
    store.write_json(folder / "config.json", {"method": method, "seed": seed, **meta})


def test_long_table_rows_from_run_folders(tmp_path: Path):
    machine = {"cpu": "x", "bits": {"setting": "pinned"}}
    _session(tmp_path, "Random", 1, [(0, 4, 0.5), (1, 6, 0.6)], {"machine": machine})
    _session(tmp_path, "WSL", 1, [(0, 0, 0.3)], {"machine": machine, "classifier_seed": 1})
    df = long_table.long_table(tmp_path, "demo", {"glas": 40})
    assert list(df.columns) == long_table.LONG_COLUMNS
    random = df[df["method"] == "Random"]
    assert random["query"].tolist() == [1, 2] and random["labeled_share"].tolist() == [10.0, 15.0]
    assert random["theta0"].tolist() == [0, 0]  # a shared-theta0 session starts from seed 0's classifier
    assert df.loc[df["method"] == "WSL", "theta0"].tolist() == [1]  # its own seed's, as the run folder records
    key = long_table.digest(machine)
    assert set(df["machine"]) == {key} and df.attrs["machines"] == {key: machine}
    written = long_table.write(df, tmp_path / "long.csv")
    back = long_table.read(written)
    assert back["test_dice"].tolist() == df["test_dice"].tolist()
    assert long_table.query_name(0) == "q1"
    with pytest.raises(ValueError, match="columns .*machine"):
        long_table.read(long_table.write(df.drop(columns="machine"), tmp_path / "bad.csv"))


def test_committed_tables_are_recomputed_from_the_long_table():
    """Table 3 and Table 4 of ``figures/demo/`` are what :mod:`paperlib.notebook.tables` computes from the committed
    long table (as ``06_figures`` does), the paper's columns included."""
    long = long_table.read(DEMO / long_table.FILE_NAME)
    t3, t4 = [], []
    for d in dict.fromkeys(pd.read_csv(DEMO / "table3_auc.csv")["dataset"]):  # the notebook's (profile's) order
        df = long_table.of(long, d)
        df = df[~df["method"].str.contains("__")]
        t3.append(tables.auc_table(df, reference.table3(d)).assign(dataset=d))
        t4.append(tables.readings_table(df, reference=reference.table4(d)).assign(dataset=d))
    for ours, name in ((pd.concat(t3), "table3_auc.csv"), (pd.concat(t4), "table4_readings.csv")):
        committed = pd.read_csv(DEMO / name, dtype=str, keep_default_na=False)
        ours = ours[committed.columns].astype(str).reset_index(drop=True)
        pd.testing.assert_frame_equal(ours, committed)


@pytest.mark.parametrize("dataset", ["glas", "cub"])
def test_the_controls_paired_table_is_the_notebooks_computation(dataset: str):
    """``benchmarks/controls/<dataset>_paired.csv`` as committed is what the notebooks' one paired computation
    (:func:`paperlib.notebook.tables.paired_numbers`) gives on the committed per-round rows."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import controls
    finally:
        sys.path.pop(0)
    out = ROOT / "benchmarks" / "controls"
    rounds = pd.read_csv(out / f"{dataset}_rounds.csv")
    got = tables.paired_numbers(rounds, controls.PAIRS)[controls.CSV_COLUMNS]
    committed = pd.read_csv(out / f"{dataset}_paired.csv")
    assert list(committed.columns) == controls.CSV_COLUMNS and len(got) == len(committed) == len(controls.PAIRS)
    assert (got[["a", "b", "seeds", "a_better_on"]].to_numpy() == committed[["a", "b", "seeds", "a_better_on"]]
            .to_numpy()).all()
    for c in ("mean", "lo", "hi", "p", "p_holm"):
        assert got[c].round(4).tolist() == pytest.approx(committed[c].tolist(), abs=1e-4), c
