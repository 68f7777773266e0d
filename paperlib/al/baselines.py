"""The fixed baselines, each one round made by one path only: WSL (a seed's classifier's CAM masks, and the CAM
family's) and Full_sup (the segmentation head trained from theta0 on every training image's true mask)."""

from __future__ import annotations

import math
import time

from ..engine import cam_family, predict, train
from ..engine.learner import Learner, Stream, stream_seed
from ..store import RoundRecord, RoundRow


def wsl_round(learner: Learner, cam: str = "") -> RoundRecord:
    """WSL: the CAM masks of the learner's classifier (its seed's) on test and validation (no threshold, no pixel
    label); ``metrics`` holds the classifier's test and validation accuracy (Table 2). ``cam``: a CAM-family
    method instead of WILDCAT's own CAMs (:func:`paperlib.engine.cam_family.cam_round`)."""
    if cam:
        return cam_family.cam_round(learner, cam)
    t0 = time.perf_counter()
    model, splits, cfg = learner.model(), learner.splits, learner.cfg
    with learner.clock("CAMs"):
        test = predict.evaluate(model, splits.test, cfg, device=learner.device, segmentation=False)
        valid = predict.evaluate(model, splits.valid, cfg, device=learner.device, segmentation=False)
    row = RoundRow(0, 0, 0, test["wsl_dice"], valid["wsl_dice"], math.nan, math.nan,
                   round(time.perf_counter() - t0, 2))
    return RoundRecord(row, [], [], [], [], math.nan, None,
                       metrics={"test_accuracy": test["accuracy"], "valid_accuracy": valid["accuracy"]})


def full_sup_round(learner: Learner, seed: int) -> RoundRecord:
    """Full_sup: the head trained from theta0 on every training image with its true mask (the ceiling)."""
    learner.splits.train.require_masks("Full_sup")
    t0 = time.perf_counter()
    labeled = list(range(len(learner.splits.train)))
    learner.take_history()
    model, _ = learner.fit(learner.items(labeled, None), stream_seed(seed, 0, Stream.REFIT))
    threshold = learner.threshold(model)
    row = RoundRow(0, len(labeled), 0, learner.dice(model, "test", threshold), learner.dice(model, "valid", threshold),
                   math.nan, threshold, round(time.perf_counter() - t0, 2))
    return RoundRecord(row, labeled, labeled, [], [], threshold, train.snapshot(model.seg_head),
                       history=learner.take_history())
