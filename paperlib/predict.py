"""Prediction with a (frozen-backbone) JointNet: whole-image batches, the backbone feature cache, per-image
predictions at each image's own resolution, MC dropout samples, evaluation, and the threshold search.

Two execution paths give bit-identical numbers (tested): backbone features computed per call, or taken from a
:class:`FeatureCache` made once under the frozen backbone (the fast path, ``runtime.fast``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .config import Config
from .data import SegDataset
from .metrics import dice
from .model import JointNet
from .runtime import eval_mode, resolve_device
from .transforms import eval_size, resize_image

THRESHOLDS = np.round(np.arange(0.05, 1.0, 0.01), 2)  # the threshold grid searched on validation


@dataclass
class ImagePrediction:
    """One image's outputs at its own resolution."""

    index: int
    label: int
    mask: torch.Tensor  # HxW ground truth in {0, 1}
    scores: torch.Tensor | None  # C class scores
    prob: torch.Tensor | None  # HxW foreground probability of the segmentation head
    cam_mask: torch.Tensor | None  # HxW bool: CAM arg-max equals the predicted class (WSL mask)


@dataclass
class ImageBatch:
    """Whole images of one input size: item indices, labels, masks ``HxW`` (bool), normalised inputs
    ``Bx3xhxw`` and the backbone's features (one tensor per stage)."""

    indices: list[int]
    labels: list[int]
    masks: list[torch.Tensor]
    xn: torch.Tensor
    feats: list[torch.Tensor]

    def rows(self, keep: list[int]) -> ImageBatch:
        """The batch restricted to the rows at positions ``keep``."""
        if len(keep) == len(self.indices):
            return self
        idx = torch.tensor(keep, device=self.xn.device)
        return ImageBatch([self.indices[k] for k in keep], [self.labels[k] for k in keep],
                          [self.masks[k] for k in keep], self.xn[idx], [f[idx] for f in self.feats])


def _computed_batches(model: JointNet, dataset: SegDataset, indices: Sequence[int], cfg: Config,
                      device: torch.device) -> Iterator[ImageBatch]:
    """Every batch of whole images that holds one of ``indices``, features computed (call in eval mode).

    The whole dataset is grouped by input size (upscaled to ``min_side``, resized by ``scale``) into batches of
    ``eval_batch`` at most, so a subset is computed in exactly the batches a :class:`FeatureCache` of the dataset
    uses (callers keep the rows they asked for): both paths give bit-identical features and dropout masks.
    """
    d = cfg.data
    wanted = set(int(i) for i in indices)
    groups: dict[tuple[int, int], list[int]] = {}
    for i in range(len(dataset)):
        groups.setdefault(eval_size(*dataset.image_size(i), d.min_side, d.scale), []).append(i)
    for size, group in groups.items():
        for start in range(0, len(group), cfg.train.eval_batch):
            chunk = group[start:start + cfg.train.eval_batch]
            if not wanted.intersection(chunk):
                continue
            items = [dataset[i] for i in chunk]
            xn = model.normalize(torch.stack([resize_image(img, size) for img, _, _ in items]).to(device))
            yield ImageBatch(chunk, [it[1] for it in items], [it[2][0].bool() for it in items], xn,
                             model.features(xn))


class FeatureCache:
    """Normalised inputs and backbone features of a dataset's whole images, computed once in inference mode.

    Exact for every model that shares the frozen backbone it was made with (theta0): only the segmentation head
    differs between rounds, methods and validation passes. When the features would exceed ``budget_mb``
    (default: ``runtime.cache_mb``, 0 when ``runtime.fast`` is off) the cache stays empty (``enabled`` is False)
    and callers run the backbone as usual.
    """

    def __init__(self, model: JointNet, dataset: SegDataset, cfg: Config, *, device: torch.device | None = None,
                 budget_mb: float | None = None) -> None:
        self.dataset = dataset
        rt = cfg.runtime
        device = device or resolve_device(rt.device)
        budget = (rt.cache_mb if rt.fast else 0) if budget_mb is None else budget_mb
        budget *= 2**20
        self.batches: list[ImageBatch] = []
        self.enabled, used = budget > 0, 0
        if not self.enabled:
            return
        with eval_mode(model, device, rt):
            for b in _computed_batches(model, dataset, range(len(dataset)), cfg, device):
                used += sum(t.numel() * t.element_size() for t in [b.xn, *b.feats])
                if used > budget:
                    self.batches, self.enabled = [], False
                    return
                self.batches.append(b)

    def holds(self, dataset: SegDataset) -> bool:
        """Whether this cache has the features of ``dataset``."""
        return self.enabled and self.dataset is dataset

    def batches_of(self, indices: Sequence[int]) -> Iterator[ImageBatch]:
        """Cached batches restricted to ``indices`` (in cache order)."""
        wanted = set(int(i) for i in indices)
        for b in self.batches:
            keep = [k for k, i in enumerate(b.indices) if i in wanted]
            if keep:
                yield b.rows(keep)


def image_batches(model: JointNet, dataset: SegDataset, indices: Sequence[int], cfg: Config, device: torch.device,
                  cache: FeatureCache | None) -> Iterator[ImageBatch]:
    """Batches of ``indices`` with backbone features, from the cache when it holds ``dataset`` (call in eval
    mode)."""
    if cache is not None and cache.holds(dataset):
        yield from cache.batches_of(indices)
        return
    wanted = set(int(i) for i in indices)
    for b in _computed_batches(model, dataset, indices, cfg, device):
        yield b.rows([k for k, i in enumerate(b.indices) if i in wanted])


def _upsample(t: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """``Cxhxw`` -> ``CxHxW`` (bilinear), as float32 on the CPU."""
    return F.interpolate(t[None].float(), size=hw, mode="bilinear", align_corners=False)[0].cpu()


def iter_predictions(model: JointNet, dataset: SegDataset, cfg: Config, *, indices: Sequence[int] | None = None,
                     device: torch.device | None = None, classification: bool = True, segmentation: bool = True,
                     cache: FeatureCache | None = None) -> Iterator[ImagePrediction]:
    """Whole-image predictions in eval mode, batched; outputs are resized back to each image's own ``HxW``.

    ``cache``: backbone features of ``dataset`` made with this model's (frozen) backbone.
    """
    device = device or resolve_device(cfg.runtime.device)
    indices = range(len(dataset)) if indices is None else indices
    with eval_mode(model, device, cfg.runtime):
        for b in image_batches(model, dataset, indices, cfg, device, cache):
            scores, maps = model.classifier(b.feats[-1]) if classification else (None, None)
            seg = model.seg_head(b.xn, b.feats) if segmentation else None
            for j, (i, label, mask) in enumerate(zip(b.indices, b.labels, b.masks, strict=True)):
                pred = ImagePrediction(i, label, mask.float(), None, None, None)
                if classification:
                    pred.scores = scores[j].float().cpu()
                    pred.cam_mask = _upsample(maps[j], mask.shape).argmax(0) == pred.scores.argmax()
                if segmentation:
                    pred.prob = torch.sigmoid(_upsample(seg[j], mask.shape)[0])
                yield pred


def mc_chunk(passes: int, batch_shape: Sequence[int], width: int, budget_mb: float) -> tuple[int, int]:
    """(images, passes) per chunk of MC dropout so that a chunk's full-resolution working memory stays within
    ``budget_mb``: per image and pass, about 12 ``width``-channel float32 maps at the input size ``HxW`` of
    ``batch_shape`` (``Bx3xHxW``; measured on the CPU at GlaS paper size: 10.8). At least one of each."""
    b, _, h, w = batch_shape
    units = max(1, int(budget_mb * 2**20 // (h * w * width * 12 * 4)))
    if units < passes:
        return 1, units
    return max(1, min(b, units // passes)), passes


def mc_dropout_samples(model: JointNet, dataset: SegDataset, indices: Sequence[int], cfg: Config, *, passes: int,
                       p: float, seed: int, device: torch.device | None = None, cache: FeatureCache | None = None,
                       chunk: tuple[int, int] | None = None) -> Iterator[tuple[int, torch.Tensor]]:
    """MC dropout: ``passes`` stochastic passes of the segmentation head (dropout ``p`` at its sites) over each
    image's backbone features, computed once. Yields (item index, probabilities ``TxHxW`` at the image's own
    resolution): each pass's logits resized back as :func:`iter_predictions` does, so MC_Dropout's variance and
    Entropy's entropy average over the same pixels.

    The head runs on chunks of (images, passes) (``chunk``; default :func:`mc_chunk` of ``runtime.memory_mb``).
    Pass t's mask on image i depends only on (``seed``, site, t, i), so every chunking gives the same masks, and
    the same samples up to float rounding.
    """
    device = device or resolve_device(cfg.runtime.device)
    width = model.seg_head.last.in_channels
    with eval_mode(model, device, cfg.runtime), model.mc_dropout(p, seed=seed):
        for b in image_batches(model, dataset, indices, cfg, device, cache):
            n_img, n_pass = chunk or mc_chunk(passes, b.xn.shape, width, cfg.runtime.memory_mb)
            for lo in range(0, len(b.indices), n_img):
                rows = b.rows(list(range(lo, min(lo + n_img, len(b.indices)))))
                up = model.seg_head.upstream(rows.xn, rows.feats)
                parts: list[list[torch.Tensor]] = [[] for _ in rows.indices]
                for start in range(0, passes, n_pass):
                    t = min(n_pass, passes - start)
                    logits = model.seg_head.passes_from(up, t, start, rows.indices)[:, 0]  # (t*n) x h x w
                    logits = logits.view(t, len(rows.indices), *logits.shape[1:])
                    for j, mask in enumerate(rows.masks):
                        parts[j].append(torch.sigmoid(_upsample(logits[:, j], mask.shape)))
                for i, chunks in zip(rows.indices, parts, strict=True):
                    yield i, torch.cat(chunks)


def evaluate(model: JointNet, dataset: SegDataset, cfg: Config, *, threshold: float = 0.5,
             device: torch.device | None = None, classification: bool = True, segmentation: bool = True,
             cache: FeatureCache | None = None) -> dict[str, float]:
    """Classification accuracy, WSL (CAM) Dice and segmentation Dice at ``threshold``, each the mean over
    images (Dice per image at its own resolution), as fractions in [0, 1]."""
    correct, wsl, seg, n = 0, [], [], 0
    for p in iter_predictions(model, dataset, cfg, device=device, classification=classification,
                              segmentation=segmentation, cache=cache):
        n += 1
        if classification:
            correct += int(p.scores.argmax()) == p.label
            wsl.append(dice(p.cam_mask, p.mask))
        if segmentation:
            seg.append(dice(p.prob >= threshold, p.mask))
    if n == 0:
        raise ValueError("evaluate: empty dataset")
    out: dict[str, float] = {"n": n}
    if classification:
        out.update(accuracy=correct / n, wsl_dice=float(np.mean(wsl)))
    if segmentation:
        out.update(dice=float(np.mean(seg)), threshold=threshold)
    return out


def threshold_dice(prob: torch.Tensor, mask: torch.Tensor, thresholds: np.ndarray = THRESHOLDS) -> np.ndarray:
    """Dice of ``prob >= t`` against ``mask`` for every ``t`` of ``thresholds`` (ascending), ``(T,)``."""
    p = prob.reshape(-1).numpy().astype(np.float64)
    g = mask.reshape(-1).numpy() > 0.5
    # number of thresholds <= each probability: the pixel is predicted foreground for the first that many
    count = np.searchsorted(thresholds, p, side="right")
    n_t = thresholds.size
    pred = np.bincount(count, minlength=n_t + 1)[::-1].cumsum()[::-1][1:]
    inter = np.bincount(count[g], minlength=n_t + 1)[::-1].cumsum()[::-1][1:]
    total = pred + g.sum()
    return np.where(total == 0, 1.0, 2.0 * inter / np.maximum(total, 1))


def estimate_threshold(model: JointNet, valid_set: SegDataset, cfg: Config, *,
                       device: torch.device | None = None, cache: FeatureCache | None = None) -> float:
    """The threshold of ``THRESHOLDS`` (0.05 to 0.99) with the best mean validation Dice (the lowest of ties)."""
    scores = np.zeros(THRESHOLDS.size)
    for p in iter_predictions(model, valid_set, cfg, device=device, classification=False, cache=cache):
        scores += threshold_dice(p.prob, p.mask)
    return float(THRESHOLDS[int(scores.argmax())])


def predict_masks(model: JointNet, dataset: SegDataset, indices: Sequence[int], cfg: Config, *,
                  threshold: float, device: torch.device | None = None,
                  cache: FeatureCache | None = None) -> list[torch.Tensor]:
    """Binary segmentation masks ``HxW`` (uint8, {0, 1}) of the given items, in the given order."""
    out = {p.index: (p.prob >= threshold).to(torch.uint8)
           for p in iter_predictions(model, dataset, cfg, indices=indices, device=device, classification=False,
                                     cache=cache)}
    return [out[int(i)] for i in indices]


def cam_masks(model: JointNet, dataset: SegDataset, indices: Sequence[int], cfg: Config, *,
              device: torch.device | None = None) -> list[torch.Tensor]:
    """WSL masks ``HxW`` (uint8, {0, 1}) of the given items, in the given order: pixels whose CAM arg-max is the
    predicted class."""
    out = {p.index: p.cam_mask.to(torch.uint8)
           for p in iter_predictions(model, dataset, cfg, indices=indices, device=device, segmentation=False)}
    return [out[int(i)] for i in indices]
