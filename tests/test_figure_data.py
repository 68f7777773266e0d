"""The near/far check of notebook 03 trains its head for at least the steps it is given (a converged model)."""

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from paperlib.data import load_glas
from paperlib.engine import train
from paperlib.engine.learner import Learner
from paperlib.notebook import figure_data


@pytest.fixture(scope="module")
def learner_parts(synth_glas: Path, tiny_cfg):
    splits = load_glas(synth_glas, seed=0)
    theta0 = train.snapshot(train.build_model(tiny_cfg, 2, seed=0))
    n = len(splits.train)
    rng = np.random.default_rng(0)
    dist = rng.random((n, n))
    return splits, theta0, (dist + dist.T) / 2


@pytest.mark.parametrize(("cfg_floor", "min_steps", "expected"), [(0, 0, 0), (0, 12, 12), (6, 3, 6)])
def test_pseudo_label_check_trains_at_least_min_steps(learner_parts, tiny_cfg, monkeypatch, cfg_floor, min_steps,
                                                       expected):
    splits, theta0, dist = learner_parts
    cfg = replace(tiny_cfg, train=replace(tiny_cfg.train, seg_min_steps=cfg_floor))
    learner = Learner(cfg, splits, theta0)
    plans: list[train.StagePlan] = []

    def spy(n_items: int, c, stage: str) -> train.StagePlan:
        plan = stage_plan(n_items, c, stage)
        if stage == "seg":
            plans.append(plan)
        return plan

    stage_plan = train.stage_plan
    monkeypatch.setattr(train, "stage_plan", spy)
    df = figure_data.pseudo_label_check(learner, dist, seed=0, min_steps=min_steps)
    assert len(plans) == 1  # one training: the round-0 one
    plan = plans[0]
    per = plan.steps_per_epoch  # whole epochs: at least ``expected`` steps, or the config's epochs when more
    assert plan.steps >= expected and plan.steps == max(cfg.train.seg_epochs, math.ceil(expected / per)) * per
    assert len(learner.take_history()) == plan.epochs  # the history the learner keeps: one row per epoch
    assert learner.cfg.train.seg_min_steps == cfg_floor  # the learner itself is left as it was
    n_labeled = cfg.al.init_per_class * len(splits.class_names)
    assert len(df) == len(splits.train) - n_labeled
    assert (df["rank"] >= 1).all() and df["dice"].between(0, 1).all()
