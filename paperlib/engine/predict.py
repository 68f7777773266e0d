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

from ..config import Config
from ..core.metrics import dice
from ..core.model import JointNet
from ..core.transforms import eval_size, resize_image
from ..data import SegDataset
from ..errors import DataError
from ..runtime import Budget, eval_mode, resolve_device, shares

THRESHOLDS = np.round(np.arange(0.05, 1.0, 0.01), 2)  # the threshold grid searched on validation


@dataclass
class ImagePrediction:
    """One image's outputs at its own resolution."""

    index: int
    label: int
    mask: torch.Tensor | None  # HxW ground truth in {0, 1} (None: a training image without a mask)
    scores: torch.Tensor | None  # C class scores
    prob: torch.Tensor | None  # HxW foreground probability of the segmentation head
    cam_mask: torch.Tensor | None  # HxW bool: CAM arg-max equals the predicted class (WSL mask)
    cam: torch.Tensor | None = None  # HxW class activation map of the predicted class


@dataclass
class ImageBatch:
    """Whole images of one input size: item indices, labels, masks ``HxW`` (bool, or ``None`` without one), the
    images' own sizes ``(H, W)``, normalised inputs ``Bx3xhxw`` and the backbone's features (one tensor per stage)."""

    indices: list[int]
    labels: list[int]
    masks: list[torch.Tensor | None]
    sizes: list[tuple[int, int]]
    xn: torch.Tensor
    feats: list[torch.Tensor]

    def rows(self, keep: list[int]) -> ImageBatch:
        """The batch restricted to the rows at positions ``keep``."""
        if len(keep) == len(self.indices):
            return self
        idx = torch.tensor(keep, device=self.xn.device)
        return ImageBatch([self.indices[k] for k in keep], [self.labels[k] for k in keep],
                          [self.masks[k] for k in keep], [self.sizes[k] for k in keep], self.xn[idx],
                          [f[idx] for f in self.feats])


def batch_plan(dataset: SegDataset, cfg: Config) -> list[tuple[tuple[int, int], list[int]]]:
    """How whole images are batched: the dataset grouped by network input size (upscaled to ``min_side``, resized
    by ``scale``), each group cut into batches of ``eval_batch`` at most, as (input ``(h, w)``, item indices).

    Every prediction of a dataset computes its features in exactly these batches (callers keep the rows they asked
    for), so cached and computed features are bit-identical, whatever subset is asked."""
    d = cfg.data
    groups: dict[tuple[int, int], list[int]] = {}
    for i in range(len(dataset)):
        groups.setdefault(eval_size(*dataset.image_size(i), d.min_side, d.scale), []).append(i)
    return [(size, group[start:start + cfg.train.eval_batch]) for size, group in groups.items()
            for start in range(0, len(group), cfg.train.eval_batch)]


def _compute(model: JointNet, dataset: SegDataset, size: tuple[int, int], chunk: list[int],
             device: torch.device) -> ImageBatch:
    """One batch of whole images resized to ``size``, with its backbone features (call in eval mode)."""
    items = [dataset[i] for i in chunk]
    xn = model.normalize(torch.stack([resize_image(img, size) for img, _, _ in items]).to(device))
    return ImageBatch(chunk, [it[1] for it in items], [None if it[2] is None else it[2][0].bool() for it in items],
                      [tuple(it[0].shape[1:]) for it in items], xn, model.features(xn))


class FeatureCache:
    """Normalised inputs and backbone features of a dataset's whole images, computed once in inference mode.

    Exact for every model that shares the frozen backbone it was made with (theta0): only the segmentation head
    differs between rounds, methods and validation passes. It keeps the batches of :func:`batch_plan` that fit in
    ``budget`` (default: a budget of ``runtime.shares(...)["features"]``; shared by the caches of one learner);
    the others are computed again when asked for, in the same batches.
    """

    def __init__(self, model: JointNet, dataset: SegDataset, cfg: Config, *, device: torch.device | None = None,
                 budget: Budget | None = None) -> None:
        self.dataset = dataset
        self.plan = batch_plan(dataset, cfg)
        self.batches: dict[int, ImageBatch] = {}
        rt = cfg.runtime
        budget = budget or Budget(shares(rt)["features"])
        device = device or resolve_device(rt.device)
        with eval_mode(model, device, rt):
            for k, (size, chunk) in enumerate(self.plan):
                if budget.left <= 0:
                    break
                b = _compute(model, dataset, size, chunk, device)
                if not budget.take(sum(t.numel() * t.element_size() for t in [b.xn, *b.feats])):
                    break
                self.batches[k] = b

    @property
    def enabled(self) -> bool:
        """Whether any batch is cached."""
        return bool(self.batches)

    def holds(self, dataset: SegDataset) -> bool:
        """Whether this cache has (some of) the features of ``dataset``."""
        return self.enabled and self.dataset is dataset


def image_batches(model: JointNet, dataset: SegDataset, indices: Sequence[int], cfg: Config, device: torch.device,
                  cache: FeatureCache | None) -> Iterator[ImageBatch]:
    """The batches of :func:`batch_plan` that hold one of ``indices``, restricted to them, with backbone features:
    from the cache when it holds them, else computed (call in eval mode)."""
    wanted = set(int(i) for i in indices)
    held = cache is not None and cache.holds(dataset)
    for k, (size, chunk) in enumerate(cache.plan if held else batch_plan(dataset, cfg)):
        keep = [j for j, i in enumerate(chunk) if i in wanted]
        if keep:
            b = cache.batches.get(k) if held else None
            yield (b or _compute(model, dataset, size, chunk, device)).rows(keep)


def upsample(t: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """``Cxhxw`` -> ``CxHxW`` (bilinear), as float32 on the CPU."""
    return F.interpolate(t[None].float(), size=hw, mode="bilinear", align_corners=False)[0].cpu()


def iter_predictions(model: JointNet, dataset: SegDataset, cfg: Config, *, indices: Sequence[int] | None = None,
                     device: torch.device | None = None, classification: bool = True, segmentation: bool = True,
                     cache: FeatureCache | None = None) -> Iterator[ImagePrediction]:
    """Whole-image predictions in eval mode, batched; outputs are resized back to each image's own ``HxW``.

    ``cache``: backbone features of ``dataset`` made with this model's (frozen) backbone. The heads run on as many
    images of a batch at a time as the ``working`` share of ``runtime.memory_mb`` allows (:func:`mc_chunk`).
    """
    device = device or resolve_device(cfg.runtime.device)
    indices = range(len(dataset)) if indices is None else indices
    width = model.seg_head.last.in_channels
    with eval_mode(model, device, cfg.runtime):
        for batch in image_batches(model, dataset, indices, cfg, device, cache):
            rows, _ = mc_chunk(1, batch.xn.shape, width, shares(cfg.runtime)["working"])
            for lo in range(0, len(batch.indices), rows):
                b = batch.rows(list(range(lo, min(lo + rows, len(batch.indices)))))
                scores, maps = model.classifier(b.feats[-1]) if classification else (None, None)
                seg = model.seg_head(b.xn, b.feats) if segmentation else None
                for j, (i, label, mask, hw) in enumerate(zip(b.indices, b.labels, b.masks, b.sizes, strict=True)):
                    pred = ImagePrediction(i, label, None if mask is None else mask.float(), None, None, None)
                    if classification:
                        pred.scores = scores[j].float().cpu()
                        up = upsample(maps[j], hw)
                        pred.cam_mask = up.argmax(0) == pred.scores.argmax()
                        pred.cam = up[int(pred.scores.argmax())]
                    if segmentation:
                        pred.prob = torch.sigmoid(upsample(seg[j], hw)[0])
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

    The head runs on chunks of (images, passes) (``chunk``; default :func:`mc_chunk` of the ``working`` share of
    ``runtime.memory_mb``). Pass t's mask on image i depends only on (``seed``, site, t, i), so every chunking
    gives the same masks, and the same samples up to float rounding.
    """
    device = device or resolve_device(cfg.runtime.device)
    width = model.seg_head.last.in_channels
    with eval_mode(model, device, cfg.runtime), model.mc_dropout(p, seed=seed):
        for b in image_batches(model, dataset, indices, cfg, device, cache):
            n_img, n_pass = chunk or mc_chunk(passes, b.xn.shape, width, shares(cfg.runtime)["working"])
            for lo in range(0, len(b.indices), n_img):
                rows = b.rows(list(range(lo, min(lo + n_img, len(b.indices)))))
                up = model.seg_head.upstream(rows.xn, rows.feats)
                parts: list[list[torch.Tensor]] = [[] for _ in rows.indices]
                for start in range(0, passes, n_pass):
                    t = min(n_pass, passes - start)
                    logits = model.seg_head.passes_from(up, t, start, rows.indices)[:, 0]  # (t*n) x h x w
                    logits = logits.view(t, len(rows.indices), *logits.shape[1:])
                    for j, hw in enumerate(rows.sizes):
                        parts[j].append(torch.sigmoid(upsample(logits[:, j], hw)))
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
        if p.mask is None:
            raise DataError(f"{dataset.records[p.index].image}: an evaluated image needs a mask")
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
        if p.mask is None:
            raise DataError(f"{valid_set.records[p.index].image}: a validation image needs a mask")
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

