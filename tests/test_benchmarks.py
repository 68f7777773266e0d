"""The approximation the benchmark measures its floor with: the head alone learns, on cached whole views."""

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import bench, bench_paper
from paperlib import al, config
from paperlib.data import load_glas
from paperlib.engine import train
from paperlib.engine.learner import Learner


def test_view_learner_trains_only_the_head_on_cached_views(synth_glas: Path, tiny_cfg):
    splits = load_glas(synth_glas, seed=0)
    theta0 = train.snapshot(train.build_model(tiny_cfg, 2, seed=0))
    learner = bench.ViewLearner(tiny_cfg, splits, theta0)
    model, best = learner.fit(learner.items([0, 1, 2], None), seed=0)
    after = train.snapshot(model)
    assert all(torch.equal(after[k], theta0[k]) for k in after if not k.startswith("seg_head."))
    assert not torch.equal(after["seg_head.last.weight"], theta0["seg_head.last.weight"])
    assert 0.0 <= best <= 1.0 and learner.clock.seconds["steps"] > 0
    exact, _ = Learner(tiny_cfg, splits, theta0).fit(learner.items([0, 1, 2], None), seed=0)
    assert not np.allclose(exact.seg_head.last.weight.detach(), model.seg_head.last.weight.detach())  # approximate
    learner.take_history()
    learner.fit(learner.items([0, 1], None), seed=0, cycle="refit")  # Learner.fit's signature, cycle kept
    assert {h["cycle"] for h in learner.take_history()} == {"refit"}


def test_a_label_prop_session_runs_on_the_view_learner(tmp_path: Path):
    """Label_prop trains twice a round, the second time as ``fit(..., cycle="refit")``: the override takes it."""
    cfg = config.get("smoke", dataset="glas", min_side=40, crop=32, scale=1.0, seg_width=8, cl_epochs=1,
                     seg_epochs=1, rounds=1, k=3, init_per_class=1, per_class=1, device="cpu", synthetic_scale=0.2,
                     eval_batch=16)
    splits, theta0, dist = al.prepare(cfg, results_dir=tmp_path / "results", data_dir=tmp_path / "data",
                                      progress=False)
    learner = bench.ViewLearner(cfg, splits, theta0)
    session = al.Session(cfg, "Label_prop", 0, splits=splits, theta0=theta0, run_dir=tmp_path / "run",
                         distances=dist, progress=False, learner=learner)
    assert session.run() == "finished"
    with open(tmp_path / "run" / "history.csv") as fh:
        assert {row["cycle"] for row in csv.DictReader(fh)} == {"fit", "refit"}


def test_paper_scale_extrapolation_and_protocol_cost():
    """The paper-size report's arithmetic: a sample's phases scaled by the images they touch (the wall time the sum
    again), and the protocol's cost from one-epoch rounds by Table 5's epochs, rounds and seeds."""
    r = {"wall": 10.5, "phases": {"steps": 4.0, "batches": 1.0, "validation": 2.0, "test Dice": 3.0}}
    big = bench_paper.extrapolate(r, bench_paper.sample_factors([10, 5, 20], [100, 50, 400]))
    assert big["phases"] == {"steps": 4.0, "batches": 1.0, "validation": 20.0, "test Dice": 60.0}
    assert big["wall"] == 85.5 and big["extrapolated"]
    # training scales with the items trained on: Full_sup every training image, Label_prop labeled + all of them
    assert bench_paper.sample_factors([10, 5, 20], [100, 50, 400], "Full_sup")["steps"] == 10.0
    lp = bench_paper.sample_factors([10, 5, 20], [100, 50, 400], "MC_Dropout+Label_prop", labeled=4)
    assert lp["steps"] == lp["batches"] == (4 + 100) / (4 + 10)
    cfg = config.get("glas")  # 1000 epochs, 25 rounds, 5 seeds, 4 then 1 image per class
    measured = {"prep": {"classifier epoch": 2.0, "sizes": [67, 18, 80]},
                "rounds": {"WSL": {"wall": 1.0, "phases": {}}, "Random": r}}
    cost = bench_paper.protocol_seconds(cfg, measured)
    growth = sum((4 + k) / 4 for k in range(25))
    assert cost["classifier training"] == 5 * 1000 * 2.0
    assert cost["training steps"] == 5 * 1000 * 5.0 * growth
    assert cost["validation every epoch"] == 5 * 1000 * 2.0 * 25
    assert cost[bench_paper.ONCE] == 5 * 1.0 + 5 * 3.5 * 25
    # Label_prop: round 0 trains on 8 labeled images, then on all 67; later rounds twice on all 67
    lp = bench_paper.protocol_seconds(cfg, {**measured, "rounds": {"Label_prop": r}})
    assert lp["training steps"] == pytest.approx(5 * 1000 * 5.0 * (75 + 24 * 134) / 75)


def test_demo_phases_section_reports_wall_over_steps():
    phases = {"Random": {"wall": 6.0, "phases": {"steps": 3.0, "validation": 2.0, "test Dice": 1.0}, "peak_mb": 900}}
    text = "\n".join(bench_paper.phases_section(phases))
    assert "| steps | 3.0 |" in text and "| **wall time** | 6.0 |" in text and "Random 2.0x" in text
