"""The frozen classifier theta0 and everything a session computes with it: Eq. (1) training items, fitting the
segmentation head from theta0, thresholds, Dice, masks and acquisition scores, over features cached once.

Named random streams: every random draw of a session comes from its seed, the round and a :class:`Stream`, so
adding a draw never shifts another.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from enum import IntEnum

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset

from ..config import Config
from ..core import samplers
from ..core.model import JointNet
from ..core.seeds import hashed_seed
from ..data import Splits
from ..runtime import Budget, resolve_device, shares
from ..timing import Phases
from . import predict, train
from .views import ViewFeatures


class Stream(IntEnum):
    """The random streams of a session (the values are part of the recorded numbers: never renumber)."""

    FIT = 0  # round r's first training of the head (on L_r and the previous pseudo-masks)
    REFIT = 1  # Label_prop's second training with fresh pseudo-masks; Full_sup's one training (round 0)
    MC_DROPOUT = 3  # the dropout masks of MC_Dropout's scoring passes after round r


def stream_seed(seed: int, round_index: int, stream: Stream) -> int:
    """The seed of one stream of a session's round: (session seed, round, stream) hashed by numpy's SeedSequence."""
    return hashed_seed(seed, round_index, int(stream)) % (2**31)


def theta0_model(cfg: Config, theta0: dict[str, torch.Tensor], num_classes: int,
                 head: dict[str, torch.Tensor] | None = None) -> JointNet:
    """A frozen JointNet with theta0's weights, and a round's segmentation head when given. theta0 holds every
    weight, so the ImageNet backbone is not loaded again (nor needed on a machine that only has theta0)."""
    model = train.build_model(cfg, num_classes, seed=0, pretrained=False)
    model.load_state_dict(copy.deepcopy(theta0))
    if head is not None:
        model.seg_head.load_state_dict(head)
    model.freeze_classifier()
    return model


class Learner:
    """theta0 on one dataset's splits, and the computations of a round (backbone features of ``valid``, ``test`` and
    ``train`` cached once, as far as the ``features`` share of ``runtime.memory_mb`` allows, when ``runtime.fast``)."""

    def __init__(self, cfg: Config, splits: Splits, theta0: dict[str, torch.Tensor], *,
                 device: torch.device | None = None) -> None:
        self.cfg, self.splits, self.theta0 = cfg, splits, theta0
        self.device = device or resolve_device(cfg.runtime.device)
        self.num_classes = len(splits.class_names)
        self._caches: dict[str, predict.FeatureCache] = {}
        self._budget = Budget(shares(cfg.runtime)["features"])  # one budget for the three caches
        self._template: JointNet | None = None
        self.clock = Phases()  # seconds of every phase of every round, summed (:mod:`paperlib.timing`)
        self._history: list[dict] = []  # per-epoch rows of the trainings since the last take_history()
        # training views' backbone features (data.crop_grid), from the same budget; none kept on the plain path
        self.views = ViewFeatures(self._budget if cfg.runtime.fast else None)

    def model(self, head: dict[str, torch.Tensor] | None = None) -> JointNet:
        """theta0 on the device, with the given segmentation-head weights when given (a copy of a frozen theta0
        model built once: building a JointNet costs more than copying one)."""
        if self._template is None:
            self._template = theta0_model(self.cfg, self.theta0, self.num_classes).to(self.device)
        model = copy.deepcopy(self._template)
        if head is not None:
            model.seg_head.load_state_dict(head)
        return model

    def cache(self, part: str) -> predict.FeatureCache:
        """Backbone features of the ``train``, ``valid`` or ``test`` images under theta0, computed once."""
        if part not in self._caches:
            with self.clock("features"):
                self._caches[part] = predict.FeatureCache(self.model(), getattr(self.splits, part), self.cfg,
                                                          device=self.device, budget=self._budget)
        return self._caches[part]

    def items(self, labeled: Sequence[int], masks: Mapping[int, torch.Tensor] | None,
              pseudo: Sequence[int] = (), pseudo_masks: Mapping[int, torch.Tensor] | None = None,
              lam: float | None = None) -> Dataset:
        """Eq. (1) training items: ``labeled`` with the oracle's ``masks`` (``None``: the dataset's own), weight 1;
        ``pseudo`` with their pseudo-masks, weight ``lam`` (default: ``al.lam``)."""
        tr = self.splits.train
        parts = [train.SegItems(tr, labeled, masks=None if masks is None else [masks[i] for i in labeled])]
        if pseudo:
            weight = self.cfg.al.lam if lam is None else lam
            parts.append(train.SegItems(tr, pseudo, masks=[pseudo_masks[i] for i in pseudo], weight=weight))
        return ConcatDataset(parts)

    def fit(self, items: Dataset, seed: int, cycle: str = "fit") -> tuple[JointNet, float]:
        """The segmentation head trained from theta0 on ``items``; returns the model and its validation Dice. Its
        per-epoch history is kept, named ``cycle``, until :meth:`take_history`."""
        with self.clock("training"):
            model = self.model()
            hist = train.train_segmentation(model, items, self.splits.valid, self.cfg, seed=seed,
                                            device=self.device, progress=False, valid_cache=self.cache("valid"),
                                            clock=self.clock, views=self.views)
        self._history += hist.rows(cycle, "dice")
        return model, hist.best_metric

    def take_history(self) -> list[dict]:
        """The per-epoch rows of every training since the last call (``cycle``, ``epoch``, ``loss``, ``metric``,
        ``valid``, ``lr``, ``seconds``), in training order; the learner forgets them."""
        out, self._history = self._history, []
        return out

    def threshold(self, model: JointNet) -> float:
        """The threshold with the best mean validation Dice."""
        with self.clock("threshold"):
            return predict.estimate_threshold(model, self.splits.valid, self.cfg, device=self.device,
                                              cache=self.cache("valid"))

    def dice(self, model: JointNet, part: str, threshold: float) -> float:
        """Mean Dice on the ``valid`` or ``test`` images at ``threshold``."""
        with self.clock(f"{part} Dice"):
            return predict.evaluate(model, getattr(self.splits, part), self.cfg, threshold=threshold,
                                    device=self.device, classification=False, cache=self.cache(part))["dice"]

    def masks(self, model: JointNet, indices: Sequence[int], threshold: float) -> dict[int, torch.Tensor]:
        """Masks ``HxW`` (uint8) of training images at ``threshold``, by index."""
        if not indices:
            return {}
        with self.clock("pseudo-labels"):
            out = predict.predict_masks(model, self.splits.train, indices, self.cfg, threshold=threshold,
                                        device=self.device, cache=self.cache("train"))
        return dict(zip(indices, out, strict=True))

    def scores(self, model: JointNet, sampler: str, pool: Sequence[int], seed: int, round_index: int) -> np.ndarray:
        """Acquisition scores ``(N,)`` of the training images (only ``pool`` is scored; the rest stays 0)."""
        with self.clock("scoring"):
            return self._scores(model, sampler, pool, seed, round_index)

    def _scores(self, model: JointNet, sampler: str, pool: Sequence[int], seed: int, round_index: int) -> np.ndarray:
        n = len(self.splits.train)
        if sampler == "Random":
            return samplers.random_scores(n, seed, round_index)
        scores = np.zeros(n)
        train_cache = self.cache("train")
        if sampler == "Entropy":
            for p in predict.iter_predictions(model, self.splits.train, self.cfg, indices=pool, device=self.device,
                                              classification=False, cache=train_cache):
                scores[p.index] = samplers.entropy_score(p.prob)
            return scores
        al = self.cfg.al
        for i, s in predict.mc_dropout_samples(model, self.splits.train, pool, self.cfg, passes=al.mc_passes,
                                               p=al.mc_p, seed=stream_seed(seed, round_index, Stream.MC_DROPOUT),
                                               device=self.device, cache=train_cache):
            scores[i] = samplers.mc_dropout_score(s)
        return scores

    def round_masks(self, part: str, indices: Sequence[int], head: dict[str, torch.Tensor] | None = None,
                    threshold: float = 0.5) -> list[torch.Tensor]:
        """Masks ``HxW`` (uint8) of ``getattr(splits, part)[indices]`` by a round's ``head`` at its ``threshold``,
        or by theta0's CAMs (WSL) without a head: what the model would suggest to an annotator, or show in Fig. 12."""
        dataset = getattr(self.splits, part)
        with self.clock("suggestions"):
            if head is None:
                return predict.cam_masks(self.model(), dataset, indices, self.cfg, device=self.device)
            return predict.predict_masks(self.model(head), dataset, indices, self.cfg, threshold=threshold,
                                         device=self.device)
