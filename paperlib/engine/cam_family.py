"""The CAM family as weak (WSL) baselines: Grad-CAM, Grad-CAM++, Ablation-CAM and XGrad-CAM of a frozen classifier.

The methods come from the ``grad-cam`` package (the optional extra ``cams``; nothing here re-implements them). Each
explains the class score of the WILDCAT head from the last backbone stage (``layer4``, the features WILDCAT's own
CAMs are made of): the package is given the head alone, with the backbone features as its input, so Ablation-CAM's
hundreds of ablated passes run the head only (the backbone features are the cached ones of the fast path). The map
of the predicted class, scaled to [0, 1] per image by the package, is upsampled bilinearly to the image's own size
(as WILDCAT's CAMs are); a baseline's mask is that map at the threshold with the best mean validation Dice.

Like ``WSL`` these are fixed baselines of a seed's own classifier (seed 0's is theta0): one round, no pixel label
in training, and the same classifier as the seed's WSL row, so the comparison is paired seed by seed.
"""

from __future__ import annotations

import contextlib
import io
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import Config
from ..core.methods import CAM_METHODS as METHODS
from ..core.model import JointNet
from ..data import SegDataset
from ..errors import ConfigError, DataError, has_extra, missing_extra, require_extra
from ..runtime import eval_mode, resolve_device
from ..store import RoundRecord, RoundRow
from .learner import Learner
from .predict import THRESHOLDS, FeatureCache, image_batches, threshold_dice, upsample

_CLASSES = {"GradCAM": "GradCAM", "GradCAM++": "GradCAMPlusPlus", "AblationCAM": "AblationCAM",
            "XGradCAM": "XGradCAM"}
# Ablated copies of one image's features per head pass (Ablation-CAM). The package's ablation layer loops over the
# batch on the whole batch tensor, so that cost grows with the square of this: 16 was 3.9x faster than 128 at the
# paper's GlaS size, with identical maps.
ABLATION_BATCH = 16


def available() -> bool:
    """Whether the ``grad-cam`` package (the ``cams`` extra) can be imported."""
    return has_extra("cams")


def usable(methods: Sequence[str], *, say: bool = True) -> list[str]:
    """``methods`` without the CAM-family ones when the extra is not installed (one line printed saying so)."""
    family = [m for m in methods if m in METHODS]
    if not family or available():
        return list(methods)
    if say:
        print(f"skipped: {missing_extra('cams', family)}")
    return [m for m in methods if m not in METHODS]


def require(method: str) -> None:
    """:class:`ConfigError` for a name outside :data:`METHODS`, or when the extra is not installed."""
    if method not in METHODS:
        raise ConfigError(f"unknown CAM method {method!r}; known: {', '.join(METHODS)}")
    require_extra("cams", [method])


def _cam_class(method: str) -> Any:
    """The ``pytorch_grad_cam`` class of ``method`` (:func:`require` first)."""
    require(method)
    import pytorch_grad_cam

    return getattr(pytorch_grad_cam, _CLASSES[method])


class _ScoreHead(nn.Module):
    """The WILDCAT head as the package expects a model: features ``BxDxhxw`` -> class scores ``BxC``; ``target``
    (an identity) is the layer whose activations and gradients the methods read."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.target = nn.Identity()
        self.head = head

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.head(self.target(feat))[0]


@dataclass
class CamPrediction:
    """One image's CAM-family map at its own resolution."""

    index: int
    label: int
    predicted: int
    mask: torch.Tensor | None  # HxW ground truth (bool), None without one
    cam: torch.Tensor  # HxW float32 in [0, 1]: the predicted class's map


def _explainer(method: str, wrapper: _ScoreHead) -> Any:
    cls = _cam_class(method)
    if method == "AblationCAM":
        from pytorch_grad_cam.ablation_layer import AblationLayer

        return cls(model=wrapper, target_layers=[wrapper.target], ablation_layer=AblationLayer(),
                   batch_size=ABLATION_BATCH)
    return cls(model=wrapper, target_layers=[wrapper.target])


def iter_maps(model: JointNet, dataset: SegDataset, method: str, cfg: Config, *,
              indices: Sequence[int] | None = None, device: torch.device | None = None,
              cache: FeatureCache | None = None) -> Iterator[CamPrediction]:
    """``method``'s map of the predicted class for each image (``indices``: all by default), batched as every
    prediction is (:func:`paperlib.engine.predict.image_batches`); ``cache``: backbone features of ``dataset`` made with
    this model's backbone. Gradients are taken in float32 without autocast, whatever ``runtime.amp`` says."""
    device = device or resolve_device(cfg.runtime.device)
    indices = range(len(dataset)) if indices is None else indices
    wrapper = _ScoreHead(model.classifier)
    with eval_mode(model, device, cfg.runtime):
        for batch in image_batches(model, dataset, indices, cfg, device, cache):
            with torch.inference_mode(False), torch.enable_grad(), \
                    torch.autocast(device.type, enabled=False), _quiet():
                feat = batch.feats[-1].detach().clone().float().requires_grad_(True)
                explainer = _explainer(method, wrapper)
                try:  # not `with`: the package's __exit__ would swallow an IndexError
                    maps = explainer(feat, targets=None)  # B x h x w, each scaled to [0, 1]
                    predicted = explainer.outputs.detach().argmax(1).tolist()
                finally:
                    explainer.activations_and_grads.release()
            maps = torch.nan_to_num(torch.from_numpy(np.ascontiguousarray(maps)).float(), nan=0.0)
            for j, (i, label, mask, hw) in enumerate(zip(batch.indices, batch.labels, batch.masks, batch.sizes,
                                                         strict=True)):
                yield CamPrediction(i, label, int(predicted[j]), mask, upsample(maps[j][None], hw)[0].clamp(0, 1))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The package's own per-image progress bars (Ablation-CAM) kept off the terminal."""
    with contextlib.redirect_stderr(io.StringIO()):
        yield


def scan(model: JointNet, dataset: SegDataset, method: str, cfg: Config, *,
         thresholds: np.ndarray = THRESHOLDS, device: torch.device | None = None,
         cache: FeatureCache | None = None) -> tuple[np.ndarray, float]:
    """Mean Dice over ``dataset`` of ``method``'s masks at each of ``thresholds`` ``(T,)`` (fractions), and the
    classification accuracy: one pass of the explainer gives both."""
    total, correct, n = np.zeros(len(thresholds)), 0, 0
    for p in iter_maps(model, dataset, method, cfg, device=device, cache=cache):
        if p.mask is None:
            raise DataError(f"{dataset.records[p.index].image}: an evaluated image needs a mask")
        total += threshold_dice(p.cam, p.mask, thresholds)
        correct += p.predicted == p.label
        n += 1
    if n == 0:
        raise ValueError("scan: empty dataset")
    return total / n, correct / n


def maps_of(model: JointNet, dataset: SegDataset, indices: Sequence[int], method: str, cfg: Config, *,
            device: torch.device | None = None) -> list[torch.Tensor]:
    """``method``'s maps ``HxW`` (float32 in [0, 1]) of the given items, in the given order."""
    out = {p.index: p.cam for p in iter_maps(model, dataset, method, cfg, indices=indices, device=device)}
    return [out[int(i)] for i in indices]


def masks(model: JointNet, dataset: SegDataset, indices: Sequence[int], method: str, cfg: Config, *,
          threshold: float, device: torch.device | None = None) -> list[torch.Tensor]:
    """``method``'s masks ``HxW`` (uint8, {0, 1}) of the given items at ``threshold``, in the given order."""
    return [(m >= threshold).to(torch.uint8) for m in maps_of(model, dataset, indices, method, cfg, device=device)]


def cam_round(learner: Learner, method: str) -> RoundRecord:
    """The round-0 record of a CAM-family session: ``learner``'s classifier (its seed's), the threshold of
    ``THRESHOLDS`` with the best mean validation Dice (the lowest of ties), test and validation Dice at it;
    ``metrics`` holds the test and validation accuracy."""
    t0 = time.perf_counter()
    model, splits, cfg, dev = learner.model(), learner.splits, learner.cfg, learner.device
    with learner.clock(method):
        valid, valid_acc = scan(model, splits.valid, method, cfg, device=dev, cache=learner.cache("valid"))
        best = int(valid.argmax())
        t = float(THRESHOLDS[best])
        test, test_acc = scan(model, splits.test, method, cfg, thresholds=THRESHOLDS[best:best + 1], device=dev,
                              cache=learner.cache("test"))
    row = RoundRow(0, 0, 0, float(test[0]), float(valid[best]), math.nan, t, round(time.perf_counter() - t0, 2))
    return RoundRecord(row, [], [], [], [], t, None, metrics={"test_accuracy": test_acc, "valid_accuracy": valid_acc})
