"""Training and evaluation: classifier stage (WSL), segmentation stage with Eq. (1), model selection on
validation, threshold estimation, batched prediction, WSL masks from CAMs, Full_sup.

Randomness comes only from the ``seed`` arguments: every function that draws numbers forks the global RNG and
restores it, so calling it never changes the caller's random state.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as TF
from tqdm.auto import tqdm

from .config import Config
from .data import SegDataset, TrainTransform, eval_size, resize_image
from .metrics import dice
from .model import JointNet

THRESHOLDS = np.round(np.arange(0.05, 1.0, 0.01), 2)  # the threshold grid searched on validation


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"``: CUDA when present, else the CPU; otherwise the named device (an error if CUDA is missing)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available; use device='auto' or 'cpu'")
    return device


def build_model(cfg: Config, num_classes: int, seed: int) -> JointNet:
    """A fresh :class:`JointNet` from the config's model section."""
    m = cfg.model
    return JointNet(num_classes, pretrained=m.pretrained, modalities=m.modalities, kmax=m.kmax, kmin=m.kmin,
                    alpha=m.alpha, seg_width=m.seg_width, seg_dropout=m.seg_dropout, seed=seed)


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the model's state dict (e.g. theta0)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


@contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class SegItems(Dataset):
    """Segmentation training items ``(image, label, mask, weight)``.

    ``masks`` replaces the dataset's mask of some items (pseudo-labels, ``HxW`` or ``1xHxW`` in {0, 1});
    ``weight`` is the item's factor in Eq. (1) (1 for oracle masks, lambda for pseudo-masks).
    """

    def __init__(self, dataset: SegDataset, indices: Sequence[int] | None = None,
                 masks: Sequence[torch.Tensor] | None = None, weight: float = 1.0) -> None:
        self.dataset = dataset
        self.indices = list(range(len(dataset))) if indices is None else [int(i) for i in indices]
        if masks is not None and len(masks) != len(self.indices):
            raise ValueError(f"SegItems: {len(masks)} masks for {len(self.indices)} items")
        self.masks = masks
        self.weight = float(weight)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, torch.Tensor, float]:
        image, label, mask = self.dataset[self.indices[i]]
        if self.masks is not None:
            mask = self.masks[i].float().reshape(mask.shape)
        return image, label, mask, self.weight


@dataclass(frozen=True)
class History:
    """Per-epoch record of a training stage, the epoch whose weights were kept, and where the time went
    (``seconds``: making batches, training steps, validation)."""

    epochs: list[dict]
    best_epoch: int
    best_metric: float
    seconds: dict[str, float] = field(default_factory=dict)


def _item_seed(seed: int, epoch: int, item: int) -> int:
    """The augmentation seed of one item at one epoch."""
    return int(np.random.SeedSequence([seed, epoch, item]).generate_state(1)[0])


def _batch(items: Dataset, idxs: Sequence[int], transform: TrainTransform, seed: int, epoch: int
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augmented batch: images ``Bx3xSxS``, labels ``B``, masks ``Bx1xSxS``, weights ``B``.

    Each item's augmentation is seeded by (seed, epoch, item), so it does not depend on batch composition.
    """
    xs, ys, ms, ws = [], [], [], []
    for i in idxs:
        item = items[i]
        gen = torch.Generator().manual_seed(_item_seed(seed, epoch, int(i)))
        x, m = transform(item[0], item[2], gen)
        xs.append(x)
        ms.append(m)
        ys.append(item[1])
        ws.append(item[3] if len(item) > 3 else 1.0)
    return torch.stack(xs), torch.tensor(ys), torch.stack(ms), torch.tensor(ws, dtype=torch.float32)


def _transform(cfg: Config) -> TrainTransform:
    d = cfg.data
    return TrainTransform(d.min_side, d.crop, d.scale, d.hflip, d.vflip)


def _sgd(params: list[torch.nn.Parameter], lr: float, cfg: Config) -> torch.optim.SGD:
    return torch.optim.SGD(params, lr=lr, momentum=cfg.train.momentum, nesterov=True,
                           weight_decay=cfg.train.weight_decay)


def _autocast(device: torch.device, cfg: Config):
    """bf16 autocast on CUDA when ``amp`` is set; a no-op on the CPU."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda" and cfg.train.amp)


def _fit(model: JointNet, n_items: int, cfg: Config, *, stage: str, seed: int, device: torch.device,
         make_batch, step_fn, select_fn, progress: bool) -> History:
    """Shared epoch loop: SGD (Nesterov), step decay per epoch, validation every ``eval_every`` epochs, the best
    (``>=``, so the latest of equals) weights restored at the end.

    ``make_batch(indices, epoch)`` gives the step's tensors, ``step_fn(model, *tensors)`` its loss. Seconds spent
    making batches, in training steps and in validation are recorded in ``History.seconds``.
    """
    t = cfg.train
    lr, epochs, batch = getattr(t, f"{stage}_lr"), getattr(t, f"{stage}_epochs"), getattr(t, f"{stage}_batch")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = _sgd(params, lr, cfg)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=getattr(t, f"{stage}_step"),
                                            gamma=getattr(t, f"{stage}_gamma"))
    if n_items == 0:
        raise ValueError(f"{stage} stage: no training items")
    records: list[dict] = []
    best, best_epoch, best_state = -math.inf, -1, None
    seconds = {"data": 0.0, "steps": 0.0, "eval": 0.0}
    with _seeded(seed, device):
        order_gen = torch.Generator().manual_seed(seed)
        bar = tqdm(range(epochs), desc=f"{stage} stage", disable=not progress, leave=False)
        for epoch in bar:
            model.train()
            perm = torch.randperm(n_items, generator=order_gen).tolist()
            total, count = 0.0, 0
            for start in range(0, len(perm), batch):
                idxs = perm[start:start + batch]
                t0 = time.perf_counter()
                tensors = make_batch(idxs, epoch)
                t1 = time.perf_counter()
                with _autocast(device, cfg):
                    loss = step_fn(model, *tensors)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total, count = total + loss.item() * len(idxs), count + len(idxs)
                seconds["data"] += t1 - t0
                seconds["steps"] += time.perf_counter() - t1
            sched.step()
            rec = {"epoch": epoch, "loss": total / count, "lr": opt.param_groups[0]["lr"]}
            if (epoch + 1) % t.eval_every == 0 or epoch == epochs - 1:
                t0 = time.perf_counter()
                metric = select_fn(model)
                seconds["eval"] += time.perf_counter() - t0
                rec["valid"] = metric
                if metric >= best:
                    best, best_epoch, best_state = metric, epoch, snapshot(model)
            records.append(rec)
            bar.set_postfix(loss=f"{rec['loss']:.4f}", valid=f"{rec.get('valid', float('nan')):.4f}")
    model.load_state_dict(best_state)
    return History(records, best_epoch, best, seconds)


def _augmented(items: Dataset, cfg: Config, seed: int, device: torch.device):
    """``make_batch`` of the exact path: decode (or take from memory) and augment every item at every step."""
    transform = _transform(cfg)

    def make(idxs: list[int], epoch: int) -> tuple[torch.Tensor, ...]:
        return tuple(v.to(device) for v in _batch(items, idxs, transform, seed, epoch))

    return make


def train_classifier(model: JointNet, train_set: SegDataset, valid_set: SegDataset, cfg: Config, *, seed: int,
                     device: torch.device | None = None, progress: bool = True) -> History:
    """Classifier (WSL) stage: cross-entropy on image labels of every training image, whole backbone and
    WILDCAT head trained, the epoch with the best validation accuracy kept. Masks are not used."""
    device = device or resolve_device(cfg.train.device)
    _place(model, device, cfg)
    if model.frozen:
        raise ValueError("train_classifier: the classifier is frozen")
    head = set(model.head_parameters())
    for p in model.parameters():
        p.requires_grad_(p not in head)

    def step(m: JointNet, x: torch.Tensor, y: torch.Tensor, _mask: torch.Tensor, _w: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(m.classify(x)[0], y)

    def select(m: JointNet) -> float:
        return evaluate(m, valid_set, cfg, device=device, segmentation=False)["accuracy"]

    try:
        items = SegItems(train_set)
        return _fit(model, len(items), cfg, stage="cl", seed=seed, device=device,
                    make_batch=_augmented(items, cfg, seed, device), step_fn=step, select_fn=select, progress=progress)
    finally:
        for p in head:
            p.requires_grad_(True)


def seg_loss(logits: torch.Tensor, masks: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Eq. (1): per-image pixel BCE times the item weight (1 oracle, lambda pseudo), summed, divided by the
    batch size. ``logits``/``masks`` ``Bx1xHxW``, ``weights`` ``B``."""
    per_image = F.binary_cross_entropy_with_logits(logits, masks, reduction="none").flatten(1).mean(1)
    return (weights * per_image).sum() / logits.shape[0]


class ViewCache:
    """The approximation behind ``approx_crops`` (off by default): each training item is shown whole, resized to the
    square network input (``crop * scale``), in each flip view the augmentation uses, and its backbone features are
    computed once per view, so a training step runs the segmentation head alone. It differs from the exact path
    (random crops at the image's own aspect ratio); ``python -m paperlib.bench`` measures its effect on Dice.
    """

    def __init__(self, model: JointNet, items: Dataset, cfg: Config, device: torch.device) -> None:
        d = cfg.data
        size = max(1, round(d.crop * d.scale))
        self.hflip, self.vflip = d.hflip, d.vflip
        self.views: dict[tuple[int, bool, bool], tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]] = {}
        self.weights: list[float] = []
        flips = [(h, v) for h in (False, True) for v in (False, True) if (d.hflip or not h) and (d.vflip or not v)]
        was_training = model.training
        model.eval()
        with torch.no_grad():
            for i in range(len(items)):
                image, _, mask, weight = items[i]
                img = resize_image(image, (size, size))
                msk = TF.resize(tv_tensors.Mask(mask), [size, size]).as_subclass(torch.Tensor)
                self.weights.append(float(weight))
                for h, v in flips:
                    x, m = img, msk
                    if h:
                        x, m = x.flip(-1), m.flip(-1)
                    if v:
                        x, m = x.flip(-2), m.flip(-2)
                    xn = model.normalize(x[None].to(device))
                    self.views[(i, h, v)] = (xn[0], [f[0] for f in model.features(xn)], m.to(device))
        model.train(was_training)

    def make_batch(self, seed: int):
        """``make_batch`` for :func:`_fit`: the flip view of each item drawn as the exact path draws its flips."""
        def make(idxs: list[int], epoch: int) -> tuple:
            chosen = []
            for i in idxs:
                gen = torch.Generator().manual_seed(_item_seed(seed, epoch, i))
                gen_flips = torch.rand(2, generator=gen)
                chosen.append(self.views[(i, self.hflip and bool(gen_flips[0] < 0.5),
                                          self.vflip and bool(gen_flips[1] < 0.5))])
            xn = torch.stack([c[0] for c in chosen])
            feats = [torch.stack([c[1][k] for c in chosen]) for k in range(len(chosen[0][1]))]
            masks = torch.stack([c[2] for c in chosen])
            w = torch.tensor([self.weights[i] for i in idxs], dtype=torch.float32, device=xn.device)
            return xn, feats, masks, w

        return make


def train_segmentation(model: JointNet, items: Dataset, valid_set: SegDataset, cfg: Config, *, seed: int,
                       device: torch.device | None = None, progress: bool = True,
                       valid_cache: FeatureCache | None = None) -> History:
    """Segmentation stage: backbone and classifier frozen, only the segmentation head learns with Eq. (1) on
    ``items`` (``(image, label, mask, weight)``); the epoch with the best validation Dice at 0.5 is kept.

    The validation images' backbone features are computed once (``valid_cache``, or a cache made here within
    ``cache_mb``), since the frozen backbone gives the same features at every epoch.
    """
    device = device or resolve_device(cfg.train.device)
    _place(model, device, cfg)
    model.freeze_classifier()
    cache = valid_cache or FeatureCache(model, valid_set, cfg, device=device)

    def step_crops(m: JointNet, x: torch.Tensor, _y: torch.Tensor, mask: torch.Tensor,
                   w: torch.Tensor) -> torch.Tensor:
        return seg_loss(m.segment(x), mask, w)

    def step_views(m: JointNet, xn: torch.Tensor, feats: list[torch.Tensor], mask: torch.Tensor,
                   w: torch.Tensor) -> torch.Tensor:
        return seg_loss(m.seg_head(xn, feats), mask, w)

    def select(m: JointNet) -> float:
        return evaluate(m, valid_set, cfg, device=device, classification=False, cache=cache)["dice"]

    if cfg.train.approx_crops:
        make_batch, step = ViewCache(model, items, cfg, device).make_batch(seed), step_views
    else:
        make_batch, step = _augmented(items, cfg, seed, device), step_crops
    return _fit(model, len(items), cfg, stage="seg", seed=seed, device=device, make_batch=make_batch, step_fn=step,
                select_fn=select, progress=progress)


# ---------------------------------------------------------------------------------------------------------------
# Prediction and evaluation


@dataclass
class ImagePrediction:
    """One image's outputs at its own resolution."""

    index: int
    label: int
    mask: torch.Tensor  # HxW ground truth in {0, 1}
    scores: torch.Tensor | None  # C class scores
    prob: torch.Tensor | None  # HxW foreground probability of the segmentation head
    cam_mask: torch.Tensor | None  # HxW bool: CAM arg-max equals the predicted class (WSL mask)


def _eval_batches(dataset: SegDataset, indices: Sequence[int], cfg: Config, device: torch.device
                  ) -> Iterator[tuple[list[int], list[tuple], torch.Tensor]]:
    """Batches of whole images at network input size: (item indices, loaded items, images ``Bx3xhxw``).

    The whole dataset is grouped by input size (upscaled to ``min_side``, resized by ``scale``) into batches of
    ``eval_batch`` at most, and every batch holding one of ``indices`` is yielded whole: a subset is computed in
    exactly the batches a :class:`FeatureCache` of the dataset uses (callers keep the rows they asked for), so
    both paths give bit-identical features and draw the same dropout masks.
    """
    d = cfg.data
    wanted = set(int(i) for i in indices)
    sizes: dict[tuple[int, int], list[int]] = {}
    for i in range(len(dataset)):
        h, w = dataset.image_size(i)
        sizes.setdefault(eval_size(h, w, d.min_side, d.scale), []).append(i)
    for size, group in sizes.items():
        for start in range(0, len(group), cfg.train.eval_batch):
            chunk = group[start:start + cfg.train.eval_batch]
            if not wanted.intersection(chunk):
                continue
            loaded = [dataset[i] for i in chunk]
            yield chunk, loaded, torch.stack([resize_image(img, size) for img, _, _ in loaded]).to(device)


@dataclass
class _Batch:
    """Whole images of one input size: item indices, labels, masks ``HxW`` (bool), normalised inputs, features."""

    chunk: list[int]
    labels: list[int]
    masks: list[torch.Tensor]
    xn: torch.Tensor
    feats: list[torch.Tensor]

    @classmethod
    def of(cls, chunk: list[int], loaded: list[tuple], xn: torch.Tensor, feats: list[torch.Tensor]) -> _Batch:
        """A batch from :func:`_eval_batches`' items (``(image, label, mask)``) and the model's inputs/features."""
        return cls(chunk, [it[1] for it in loaded], [it[2][0].bool() for it in loaded], xn, feats)

    def select(self, keep: list[int]) -> _Batch:
        """The rows at positions ``keep``."""
        if len(keep) == len(self.chunk):
            return self
        idx = torch.tensor(keep, device=self.xn.device)
        return _Batch([self.chunk[k] for k in keep], [self.labels[k] for k in keep], [self.masks[k] for k in keep],
                      self.xn[idx], [f[idx] for f in self.feats])


class FeatureCache:
    """Normalised inputs and backbone features of a dataset's whole images, computed once in inference mode.

    Exact for every model that shares the frozen backbone it was made with (theta0): only the segmentation head
    differs between rounds, methods and validation passes. When the features would exceed ``budget_mb`` the cache
    stays empty (``enabled`` is False) and callers run the backbone as usual.
    """

    def __init__(self, model: JointNet, dataset: SegDataset, cfg: Config, *, device: torch.device | None = None,
                 budget_mb: float | None = None) -> None:
        self.dataset = dataset
        device = device or resolve_device(cfg.train.device)
        budget = (cfg.train.cache_mb if cfg.train.fast else 0) if budget_mb is None else budget_mb
        budget *= 2**20
        self.batches: list[_Batch] = []
        self.enabled, used = budget > 0, 0
        if not self.enabled:
            return
        with _eval_mode(model, device, cfg):
            for chunk, loaded, x in _eval_batches(dataset, list(range(len(dataset))), cfg, device):
                xn = model.normalize(x)
                feats = model.features(xn)
                used += sum(t.numel() * t.element_size() for t in [xn, *feats])
                if used > budget:
                    self.batches, self.enabled = [], False
                    return
                self.batches.append(_Batch.of(chunk, loaded, xn, feats))

    def select(self, indices: Sequence[int]) -> Iterator[_Batch]:
        """Cached batches restricted to ``indices`` (in cache order)."""
        wanted = set(int(i) for i in indices)
        for b in self.batches:
            keep = [k for k, i in enumerate(b.chunk) if i in wanted]
            if keep:
                yield b.select(keep)


def _batches(model: JointNet, dataset: SegDataset, indices: Sequence[int], cfg: Config, device: torch.device,
             cache: FeatureCache | None) -> Iterator[_Batch]:
    """Eval batches with backbone features, from the cache when it holds this dataset (call in eval mode)."""
    if cache is not None and cache.enabled and cache.dataset is dataset:
        yield from cache.select(indices)
        return
    wanted = set(int(i) for i in indices)
    for chunk, loaded, x in _eval_batches(dataset, indices, cfg, device):
        xn = model.normalize(x)
        b = _Batch.of(chunk, loaded, xn, model.features(xn))
        yield b.select([k for k, i in enumerate(chunk) if i in wanted])


def _place(model: JointNet, device: torch.device, cfg: Config) -> None:
    """Move the model to ``device``; on CUDA with ``amp``, in channels-last memory format."""
    model.to(device)
    if device.type == "cuda" and cfg.train.amp:
        model.to(memory_format=torch.channels_last)


@contextmanager
def _eval_mode(model: JointNet, device: torch.device, cfg: Config) -> Iterator[None]:
    _place(model, device, cfg)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), _autocast(device, cfg):
            yield
    finally:
        model.train(was_training)


def _upsample(t: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """``Cxhxw`` -> ``CxHxW`` (bilinear), as float32 on the CPU."""
    return F.interpolate(t[None].float(), size=hw, mode="bilinear", align_corners=False)[0].cpu()


def iter_predictions(model: JointNet, dataset: SegDataset, cfg: Config, *, indices: Sequence[int] | None = None,
                     device: torch.device | None = None, classification: bool = True, segmentation: bool = True,
                     cache: FeatureCache | None = None) -> Iterator[ImagePrediction]:
    """Whole-image predictions in eval mode, batched; outputs are resized back to each image's own ``HxW``.

    ``cache``: backbone features of ``dataset`` made with this model's (frozen) backbone.
    """
    device = device or resolve_device(cfg.train.device)
    indices = list(range(len(dataset))) if indices is None else [int(i) for i in indices]
    with _eval_mode(model, device, cfg):
        for b in _batches(model, dataset, indices, cfg, device, cache):
            scores, maps = model.classifier(b.feats[-1]) if classification else (None, None)
            seg = model.seg_head(b.xn, b.feats) if segmentation else None
            for j, (i, label, mask) in enumerate(zip(b.chunk, b.labels, b.masks, strict=True)):
                pred = ImagePrediction(i, label, mask.float(), None, None, None)
                if classification:
                    pred.scores = scores[j].float().cpu()
                    pred.cam_mask = _upsample(maps[j], mask.shape).argmax(0) == pred.scores.argmax()
                if segmentation:
                    pred.prob = torch.sigmoid(_upsample(seg[j], mask.shape)[0])
                yield pred


def mc_dropout_samples(model: JointNet, dataset: SegDataset, indices: Sequence[int], cfg: Config, *, passes: int,
                       p: float, seed: int, device: torch.device | None = None, cache: FeatureCache | None = None
                       ) -> Iterator[tuple[int, torch.Tensor]]:
    """MC dropout: ``passes`` stochastic passes of the segmentation head (dropout ``p`` at its sites) over each
    image's backbone features, computed once. Yields (item index, probabilities ``TxHxW`` at network size)."""
    device = device or resolve_device(cfg.train.device)
    with _eval_mode(model, device, cfg), _seeded(seed, device), model.mc_dropout(p):
        for b in _batches(model, dataset, [int(i) for i in indices], cfg, device, cache):
            n = len(b.chunk)
            logits = model.seg_head(b.xn, b.feats, passes=passes)[:, 0]  # (passes*n) x h x w, pass-major
            probs = torch.sigmoid(logits.float()).view(passes, n, *logits.shape[1:]).transpose(0, 1)
            for j, i in enumerate(b.chunk):
                yield i, probs[j].float().cpu()


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


def full_sup(theta0: dict[str, torch.Tensor], splits, cfg: Config, *, seed: int, num_classes: int,
             device: torch.device | None = None, progress: bool = True) -> tuple[JointNet, dict[str, float]]:
    """Full_sup: from theta0, train the segmentation head on every training image with its true mask; return
    the model and its test metrics at the threshold estimated on validation."""
    model = build_model(cfg, num_classes, seed)
    model.load_state_dict(copy.deepcopy(theta0))
    train_segmentation(model, SegItems(splits.train), splits.valid, cfg, seed=seed, device=device,
                       progress=progress)
    t = estimate_threshold(model, splits.valid, cfg, device=device)
    return model, evaluate(model, splits.test, cfg, threshold=t, device=device, classification=False)
