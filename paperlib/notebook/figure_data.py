"""What the notebooks compute beyond the sessions, from theta0 and finished runs:

- :func:`qualitative`: Fig. 12's data, first and last round (``04_active_learning``, drawn by ``06_figures``);
- :func:`pseudo_label_check`: the paper's assumption behind Label_prop, measured (``03_wsl_baseline``);
- :func:`heat_maps`: WILDCAT's CAM and the CAM family's maps of the same images, side by side (``03_wsl_baseline``).

The sessions of the ablations are :mod:`paperlib.grid.sweeps`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import data, store
from ..config import Config
from ..core import samplers
from ..core.metrics import dice
from ..engine import cam_family, classifier, predict
from ..engine.learner import Learner, Stream, stream_seed


def qualitative(cfg: Config, methods: list[str], seed: int, *, results_dir: str | Path = "results",
                data_dir: str | Path = "data", n: int = 6, device: torch.device | None = None) -> Path:
    """Fig. 12's data: ``n`` test images, true masks, and each method's masks (seed ``seed``) after its first round
    (``first``: the AL methods share their training set there) and after its last (``last``: where they differ),
    saved to ``results/<profile>/<dataset>/qualitative.pt``. Methods without a finished run (or CAM-family ones
    without the ``cams`` extra) are skipped."""
    splits = data.from_config(cfg, seed=0, data_dir=data_dir)
    idx = np.linspace(0, len(splits.test) - 1, n).round().astype(int).tolist()
    items = [splits.test[i] for i in idx]
    out: dict[str, Any] = {"ids": [splits.test.ids[i] for i in idx], "first": {}, "last": {},
                           "images": [(im * 255).round().to(torch.uint8) for im, _, _ in items],
                           "truths": [m[0].to(torch.uint8) for _, _, m in items]}
    for m in cam_family.usable(methods, say=False):  # CAM-family runs need the extra to draw their masks
        done = store.RunFolder(store.run_path(results_dir, cfg.profile, cfg.data.dataset, m, seed)).finished()
        if not done:
            continue
        weights = classifier.session_classifier(cfg, splits, results_dir, m, seed, device=device, progress=False)
        learner = Learner(cfg, splits, weights, device=device)
        made: dict[int, list[torch.Tensor]] = {}  # by round: a one-round baseline's first is its last
        for key, rec in (("first", done[0]), ("last", done[-1])):
            if rec.row.round not in made:
                made[rec.row.round] = cam_family.masks(learner.model(), splits.test, idx, m, cfg,
                                                       threshold=rec.threshold, device=device) \
                    if m in cam_family.METHODS else learner.round_masks("test", idx, rec.head, rec.threshold)
            out[key][m] = {"masks": made[rec.row.round], "dice": float(rec.row.test_dice), "round": rec.row.round}
    path = Path(results_dir) / cfg.profile / cfg.data.dataset / "qualitative.pt"
    store.save_tensors(path, out)
    return path


def pseudo_label_check(learner: Learner, distances: np.ndarray, *, seed: int = 0, min_steps: int = 0) -> Any:
    """The paper's assumption, measured: train the head on the first query of ``seed`` (its round-0 training, for at
    least ``min_steps`` optimizer steps: ``seg_min_steps`` = max(the config's, ``min_steps``), so the head can reach
    its plateau), pseudo-label every other training image, and return per image the Dice of its pseudo-mask and the
    rank of its nearest labeled same-class image among its same-class neighbours (``pandas.DataFrame``: id, rank,
    dice)."""
    import copy
    from dataclasses import replace

    import pandas as pd

    cfg = learner.cfg
    if min_steps > cfg.train.seg_min_steps:  # the same learner (its feature caches, clock and history shared),
        learner = copy.copy(learner)  # trained under the longer plan: Learner.fit reads the plan from its cfg
        learner.cfg = replace(cfg, train=replace(cfg.train, seg_min_steps=min_steps))
    tr = learner.splits.train
    tr.require_masks("the near/far check")
    labels = tr.labels
    labeled = samplers.initial_query(labels, learner.cfg.al.init_per_class, seed).tolist()
    model, _ = learner.fit(learner.items(labeled, None), stream_seed(seed, 0, Stream.FIT))
    lab = set(labeled)
    others = [i for i in range(len(labels)) if i not in lab]
    masks = learner.masks(model, others, learner.threshold(model))
    rows = []
    for i in others:
        same = [j for j in np.argsort(distances[i], kind="stable") if j != i and labels[j] == labels[i]]
        rank = next(r for r, j in enumerate(same, start=1) if j in lab)
        rows.append({"id": tr.ids[i], "rank": rank, "dice": dice(masks[i], tr[i][2][0])})
    return pd.DataFrame(rows)


def heat_maps(learner: Learner, indices: Sequence[int], methods: Sequence[str]) -> dict[str, list[torch.Tensor]]:
    """Maps ``HxW`` of the predicted class on the test images ``indices`` (in that order), by the learner's
    classifier: ``WSL`` (WILDCAT's own CAM, raw class-map values) and each CAM-family method of ``methods``
    (scaled to [0, 1] per image by the package)."""
    model, test, cfg = learner.model(), learner.splits.test, learner.cfg
    wildcat = {p.index: p.cam for p in predict.iter_predictions(model, test, cfg, indices=indices,
                                                                  device=learner.device, segmentation=False)}
    out = {"WSL": [wildcat[int(i)] for i in indices]}
    for m in methods:
        if m in cam_family.METHODS:
            out[m] = cam_family.maps_of(model, test, indices, m, cfg, device=learner.device)
    return out
