"""The dynamic lambda(r) schedules: their stated values, their config fields, and sessions that record and resume
them."""

import csv
import math
from pathlib import Path

import pandas as pd
import pytest

from paperlib import al, config
from paperlib.config import ConfigError
from paperlib.core.lam_schedule import SCHEDULES, lam_at
from paperlib.grid import sweeps
from paperlib.notebook import tables

from .helpers import TINY


def test_constant_is_the_paper():
    assert [lam_at("constant", r, lam=0.1, lam_max=1.0, rounds=5) for r in range(5)] == [0.1] * 5


def test_rising_is_a_straight_line_from_lam_to_lam_max():
    values = [lam_at("rising", r, lam=0.1, lam_max=1.0, rounds=5) for r in range(5)]
    assert values == pytest.approx([0.1, 0.325, 0.55, 0.775, 1.0])
    assert lam_at("rising", 0, lam=0.2, lam_max=0.5, rounds=1) == 0.2  # one round: lam
    assert lam_at("rising", 9, lam=0.2, lam_max=0.5, rounds=5) == pytest.approx(0.5)  # never above the cap


def test_validation_follows_the_gain_in_validation_dice():
    v = [0.5, 0.6, 0.4, 1.0]  # validation Dice of rounds 0..3 (hand-built)
    values = [lam_at("validation", r, lam=0.1, lam_max=1.0, rounds=5, valid_dice=v[:r]) for r in range(5)]
    # r=1: v0 - v0 = 0; r=2: (0.6 - 0.5) / 0.5 = 0.2; r=3: a loss is clipped to 0; r=4: the full gap closed
    assert values == pytest.approx([0.1, 0.1, 0.1 + 0.9 * 0.2, 0.1, 1.0])
    assert lam_at("validation", 2, lam=0.1, lam_max=1.0, rounds=5, valid_dice=[1.0, 1.0]) == 0.1  # nothing to close
    with pytest.raises(ValueError, match="round 2 needs the validation Dice of rounds 0..1"):
        lam_at("validation", 2, lam=0.1, lam_max=1.0, rounds=5, valid_dice=[0.5])
    with pytest.raises(ValueError, match="unknown lam_schedule"):
        lam_at("cosine", 1, lam=0.1, lam_max=1.0, rounds=5)


def test_config_fields():
    with pytest.raises(ConfigError, match="'lam_schedule' must be one of constant, rising, validation"):
        config.get("smoke", lam_schedule="cosine")
    with pytest.raises(ConfigError, match="'lam_max' must be >= lam"):
        config.get("smoke", lam_schedule="rising", lam=0.5, lam_max=0.1)
    with pytest.raises(ConfigError, match="'lam_schedules'"):
        config.get("smoke", lam_schedules="rising,cosine")
    constant = config.get("smoke")
    assert "lam_schedule" not in constant.identity()["al"]  # sessions made before the schedules still resume
    assert config.get("smoke", lam_max=0.5).identity() == constant.identity()  # no effect under constant
    assert config.get("smoke", lam_schedule="rising").identity() != constant.identity()


def test_schedule_tasks_pair_every_seed_with_the_constant_session():
    cfgs = config.notebook_configs("smoke")
    todo = sweeps.schedule_tasks(cfgs, [0, 1])
    names = {(t.dataset, t.name, t.seed) for t in todo}
    assert len(todo) == len(names) == 2 * 2 * 3
    assert ("glas", "Label_prop", 1) in names and ("cub", "Label_prop__lam_validation", 0) in names
    assert all(t.name.startswith(sweeps.SCHEDULE_PREFIX) == bool(t.overrides) for t in todo)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("lam")
    cfg = config.get("smoke", dataset="glas", **TINY)
    splits, theta0, dist = al.prepare(cfg, results_dir=base / "results", data_dir=base / "data", progress=False)
    return {"splits": splits, "theta0": theta0, "dist": dist}


def _rows(run: Path) -> list[dict]:
    with open(run / "rounds.csv") as fh:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]


@pytest.mark.slow
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_a_session_records_its_lambdas_and_resumes_exactly(shared, tmp_path: Path, schedule: str):
    cfg = config.get("smoke", dataset="glas", **TINY, lam_schedule=schedule, lam=0.1, lam_max=0.9)

    def session(run: Path) -> al.Session:
        return al.Session(cfg, "Label_prop", 0, splits=shared["splits"], theta0=shared["theta0"], run_dir=run,
                          distances=shared["dist"], progress=False)

    ref = tmp_path / "ref"
    assert session(ref).run() == "finished"
    rows = _rows(ref)
    valid = [float(r["valid_dice"]) for r in rows]
    lams = [float(r["lam"]) for r in rows]
    expected = [lam_at(schedule, r, lam=0.1, lam_max=0.9, rounds=3, valid_dice=valid[:r]) for r in range(3)]
    assert lams == pytest.approx(expected, abs=1e-6)
    if schedule == "rising":
        assert lams == pytest.approx([0.1, 0.5, 0.9])
    # killed after round 0 (its later checkpoints gone), resumed: the same rounds, lambdas included
    run = tmp_path / "run"
    session(run).run()
    for r in (1, 2):
        (run / "checkpoints" / f"round_{r:02d}.pt").unlink()
    assert session(run).run() == "finished"
    assert _rows(run) == rows


def test_methods_without_pseudo_labels_record_no_lambda(shared, tmp_path: Path):
    cfg = config.get("smoke", dataset="glas", **TINY, lam_schedule="rising")
    run = tmp_path / "random"
    al.Session(cfg, "Random", 0, splits=shared["splits"], theta0=shared["theta0"], run_dir=run,
               progress=False).run()
    assert all(math.isnan(float(r["lam"])) for r in _rows(run))


def test_schedule_table_pairs_each_schedule_with_the_constant():
    rows = []
    for m, curves in {"Label_prop": [[0.5, 0.6], [0.4, 0.6]],
                      "Label_prop__lam_rising": [[0.5, 0.7], [0.4, 0.5]]}.items():
        for seed, curve in enumerate(curves):
            rows += [{"method": m, "seed": seed, "round": r, "test_dice": v, "lam": 0.1 + 0.9 * r} for r, v in
                     enumerate(curve)]
    t = tables.schedule_table(pd.DataFrame(rows), sweeps.SCHEDULE_PREFIX)
    assert t["schedule"].tolist() == ["rising"] and t["lambda by round"].tolist() == ["0.1, 1"]
    # AUCs: constant 55 and 50, rising 60 and 45: differences +5 and -5
    assert t["AUC - constant (%)"].tolist() == ["+0.00"] and t["schedule better on"].tolist() == [1]
    assert t["95% t-interval"].tolist() == ["[-63.53, +63.53]"]  # 0 -+ t(0.975, 1) 12.706 * (7.071 / sqrt(2) = 5)
    assert t["seeds"].tolist() == [2]
    assert tables.schedule_table(pd.DataFrame(rows[:4]), sweeps.SCHEDULE_PREFIX).empty
