"""The approximation the benchmark measures its floor with: the head alone learns, on cached whole views."""

from pathlib import Path

import numpy as np
import torch

from paperlib import bench, train
from paperlib.data import load_glas
from paperlib.learner import Learner


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
