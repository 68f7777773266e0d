"""Fitting: the classifier stage (WSL), the segmentation stage with Eq. (1), and model selection on validation.

Prediction (features, evaluation, MC dropout, thresholds) is :mod:`paperlib.engine.predict`. Randomness comes only from
the ``seed`` arguments: every function that draws numbers forks the global RNG and restores it, so calling it
never changes the caller's random state.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..config import Config
from ..core.loss import ORACLE_WEIGHT, seg_loss
from ..core.model import JointNet
from ..core.seeds import hashed_seed
from ..core.transforms import TrainTransform
from ..data import SegDataset
from ..errors import DataError, TrainingDiverged
from ..progress import progress_bar
from ..runtime import Budget, autocast, place, resolve_device, seeded, shares
from ..timing import Phases
from . import predict
from .views import ViewFeatures
from .views import origin as views_origin

# what one training step consumes: images Bx3xSxS, labels B, masks Bx1xSxS, Eq. (1) weights B
Tensors = tuple[torch.Tensor, ...]
BatchFn = Callable[[list[int], int], Tensors]  # (item indices, epoch) -> one step's tensors
StepFn = Callable[..., torch.Tensor]  # (model, *tensors) -> loss
MetricFn = Callable[[JointNet], float]  # model -> validation metric (higher is better)


def build_model(cfg: Config, num_classes: int, seed: int, *, pretrained: bool = True) -> JointNet:
    """A fresh :class:`JointNet` from the config's model section; ``pretrained=False`` skips loading the
    backbone's initial weights (for a model whose every weight is loaded next, e.g. from theta0)."""
    m = cfg.model
    return JointNet(num_classes, pretrained=m.pretrained if pretrained else "", modalities=m.modalities,
                    kmax=m.kmax, kmin=m.kmin, alpha=m.alpha, seg_width=m.seg_width, seg_dropout=m.seg_dropout,
                    seed=seed)


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the model's state dict (e.g. theta0)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


class SegItems(Dataset):
    """Segmentation training items ``(image, label, mask, weight)``.

    ``masks`` replaces the dataset's mask of the items (oracle or pseudo-masks, ``HxW`` or ``1xHxW`` in {0, 1});
    ``weight`` is the item's factor in Eq. (1) (:mod:`paperlib.core.loss`: 1 for oracle masks, lambda for
    pseudo-masks). Without ``masks``,
    an image without a mask is an error, unless ``need_masks`` is off (the classifier stage: an empty mask).
    """

    def __init__(self, dataset: SegDataset, indices: Sequence[int] | None = None,
                 masks: Sequence[torch.Tensor] | None = None, weight: float = ORACLE_WEIGHT,
                 need_masks: bool = True) -> None:
        self.dataset = dataset
        self.indices = list(range(len(dataset))) if indices is None else [int(i) for i in indices]
        if masks is not None and len(masks) != len(self.indices):
            raise ValueError(f"SegItems: {len(masks)} masks for {len(self.indices)} items")
        self.masks, self.need_masks = masks, need_masks
        self.weight = float(weight)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, torch.Tensor, float]:
        image, label, mask = self.dataset[self.indices[i]]
        if self.masks is not None:
            mask = self.masks[i].float().reshape(1, *image.shape[1:])
        elif mask is None:
            if self.need_masks:
                raise DataError(f"{self.dataset.records[self.indices[i]].image}: no mask to train the segmentation "
                                "head on (a training image without a mask needs the oracle's)")
            mask = torch.zeros(1, *image.shape[1:])
        return image, label, mask, self.weight


@dataclass(frozen=True)
class History:
    """Per-epoch record of a training stage (``epoch``, mean ``loss``, learning rate ``lr`` after the epoch's decay
    step, ``valid`` when validated, wall ``seconds``), the epoch whose weights were kept, and where the time went
    (``seconds``: making batches, training steps, validation)."""

    epochs: list[dict]
    best_epoch: int
    best_metric: float
    seconds: dict[str, float] = field(default_factory=dict)

    def rows(self, cycle: str, metric: str) -> list[dict]:
        """The epochs as rows of ``history.csv``: ``cycle`` names the training (``classifier``, ``fit``,
        ``refit``), ``metric`` what ``valid`` measures (``dice``, ``accuracy``; ``nan`` on epochs not validated)."""
        nan = float("nan")
        return [{"cycle": cycle, "epoch": int(e["epoch"]), "loss": float(e["loss"]), "metric": metric,
                 "valid": float(e.get("valid", nan)), "lr": float(e["lr"]), "seconds": float(e.get("seconds", nan))}
                for e in self.epochs]


def item_seed(seed: int, epoch: int, item: int) -> int:
    """The augmentation seed of one item at one epoch (independent of batch composition)."""
    return hashed_seed(seed, epoch, item)


def train_transform(cfg: Config) -> TrainTransform:
    """The training augmentation the data section names."""
    d = cfg.data
    return TrainTransform(d.min_side, d.crop, d.scale, d.hflip, d.vflip, grid=d.crop_grid)


def view_batches(items: Dataset, cfg: Config, seed: int, device: torch.device, model: JointNet,
                 views: ViewFeatures) -> BatchFn:
    """The :data:`BatchFn` of the segmentation stage over finitely many views (``data.crop_grid`` > 0): the same
    views as :func:`augmented_batches` (same seeds), but each image's view as its frozen-backbone features
    (:class:`ViewFeatures`): ``xn`` ``Bx3xSxS``, the five stage features, labels ``B``, masks ``Bx1xSxS``, weights
    ``B``."""
    transform = train_transform(cfg)

    def batch(idxs: list[int], epoch: int) -> Tensors:
        parts, ys, ms, ws = [], [], [], []
        for i in idxs:
            image, label, mask, weight = items[i]
            view = transform.draw(*image.shape[-2:], torch.Generator().manual_seed(item_seed(seed, epoch, int(i))))
            dataset, index = views_origin(items, int(i))
            parts.append(views.get(model, dataset, index, image, view, transform, device))
            ms.append(transform.apply(mask, view))
            ys.append(label)
            ws.append(weight)
        stacked = [torch.cat(t) for t in zip(*parts, strict=True)]
        extra = torch.tensor(ys), torch.stack(ms), torch.tensor(ws, dtype=torch.float32)
        return (*stacked, *(v.to(device) for v in extra))

    return batch


def augmented_batches(items: Dataset, cfg: Config, seed: int, device: torch.device) -> BatchFn:
    """The :data:`BatchFn` of training: each item decoded (or taken from memory) and augmented with its own seed
    (:func:`item_seed`), stacked as images ``Bx3xSxS``, labels ``B``, masks ``Bx1xSxS``, weights ``B``."""
    transform = train_transform(cfg)

    def batch(idxs: list[int], epoch: int) -> Tensors:
        xs, ys, ms, ws = [], [], [], []
        for i in idxs:
            item = items[i]
            gen = torch.Generator().manual_seed(item_seed(seed, epoch, int(i)))
            x, m = transform(item[0], item[2], gen)
            xs.append(x)
            ms.append(m)
            ys.append(item[1])
            ws.append(item[3] if len(item) > 3 else 1.0)
        out = torch.stack(xs), torch.tensor(ys), torch.stack(ms), torch.tensor(ws, dtype=torch.float32)
        return tuple(v.to(device) for v in out)

    return batch


@dataclass(frozen=True)
class StagePlan:
    """How long a training stage runs on ``n_items`` items: ``epochs`` of ``steps_per_epoch`` optimizer steps, the
    learning rate decayed every ``lr_step`` epochs, validation every ``eval_every`` epochs (and after the last)."""

    epochs: int
    steps_per_epoch: int
    lr_step: int
    eval_every: int

    @property
    def steps(self) -> int:
        return self.epochs * self.steps_per_epoch


def stage_plan(n_items: int, cfg: Config, stage: str) -> StagePlan:
    """The budget rule of a stage (``cl`` or ``seg``; its settings :meth:`~paperlib.config.TrainConfig.stage`):
    ``epochs`` epochs of ceil(n / batch) steps; when that is fewer than the stage's ``min_steps`` (the segmentation
    stage's ``seg_min_steps``), as many whole epochs as reach them, with the decay period and the validation period
    stretched by the same factor (the same schedule over more steps)."""
    st = cfg.train.stage(stage)
    epochs = st.epochs
    per_epoch = math.ceil(n_items / st.batch)
    lr_step, every, floor = st.step, cfg.train.eval_every, st.min_steps
    if epochs * per_epoch < floor:
        stretched = math.ceil(floor / per_epoch)
        factor = stretched / epochs
        epochs, lr_step, every = stretched, max(1, round(lr_step * factor)), max(1, round(every * factor))
    return StagePlan(epochs, per_epoch, lr_step, every)


STAGE_NAMES = {"cl": "classifier", "seg": "segmentation"}
_PHASES = {"batches": "data", "steps": "steps", "validation": "eval"}  # clock phase -> History.seconds key


def run_epochs(model: JointNet, n_items: int, cfg: Config, *, stage: str, seed: int, device: torch.device,
               batch_fn: BatchFn, step_fn: StepFn, metric_fn: MetricFn, progress: bool,
               clock: Phases | None = None, learns: torch.nn.Module | None = None) -> History:
    """The epoch loop both stages share (``stage``: ``cl`` or ``seg``, naming its config fields; its length from
    :func:`stage_plan`): SGD (Nesterov), step decay per epoch, the validation metric every plan's ``eval_every``
    epochs, the best (``>=``: the latest of equals) weights of ``learns`` (default: the whole model; the part that
    changes) restored at the end. Time goes to ``clock``'s phases ``batches`` (making them), ``steps`` (forward,
    backward, update), ``validation`` and ``training`` (the rest); the history has the first three."""
    t, st = cfg.train, cfg.train.stage(stage)
    if n_items == 0:
        raise ValueError(f"{stage} stage: no training items")
    plan = stage_plan(n_items, cfg, stage)
    epochs, size = plan.epochs, st.batch
    clock, learns = clock or Phases(), learns or model
    before = {k: clock.seconds.get(k, 0.0) for k in _PHASES}
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=st.lr, momentum=t.momentum, nesterov=True, weight_decay=t.weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=plan.lr_step, gamma=st.gamma)
    records: list[dict] = []
    best, best_epoch, best_state = -math.inf, -1, None
    with seeded(seed, device), clock("training"):
        order_gen = torch.Generator().manual_seed(seed)
        bar = progress_bar(range(epochs), desc=f"{stage} stage", disable=not progress, leave=False)
        for epoch in bar:
            t_epoch = time.perf_counter()
            model.train()
            perm = torch.randperm(n_items, generator=order_gen).tolist()
            total = 0.0
            for start in range(0, n_items, size):
                idxs = perm[start:start + size]
                with clock("batches"):
                    tensors = batch_fn(idxs, epoch)
                with clock("steps"):
                    with autocast(device, cfg.runtime):
                        loss = step_fn(model, *tensors)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    value = loss.item()
                    total += value * len(idxs)
                if not math.isfinite(value):  # the loss of a diverged training: stop, keep nothing of it
                    raise TrainingDiverged(f"the {STAGE_NAMES[stage]} stage's training loss is {value} at epoch "
                                           f"{epoch + 1} of {epochs}: the settings make it diverge (a learning "
                                           f"rate or lambda too large?); nothing of this training is kept")
            sched.step()
            rec = {"epoch": epoch, "loss": total / n_items, "lr": opt.param_groups[0]["lr"]}
            if (epoch + 1) % plan.eval_every == 0 or epoch == epochs - 1:
                with clock("validation"):
                    rec["valid"] = metric_fn(model)
                if rec["valid"] >= best:
                    best, best_epoch, best_state = rec["valid"], epoch, snapshot(learns)
            rec["seconds"] = round(time.perf_counter() - t_epoch, 3)
            records.append(rec)
            # drawn at the next redraw, beside this epoch's count (drawn now, it would sit beside the last one's)
            bar.set_postfix(loss=f"{rec['loss']:.4f}", valid=f"{rec.get('valid', float('nan')):.4f}", refresh=False)
        learns.load_state_dict(best_state)
    seconds = {key: clock.seconds.get(k, 0.0) - before[k] for k, key in _PHASES.items()}
    return History(records, best_epoch, best, seconds)


def train_classifier(model: JointNet, train_set: SegDataset, valid_set: SegDataset, cfg: Config, *, seed: int,
                     device: torch.device | None = None, progress: bool = True) -> History:
    """Classifier (WSL) stage: cross-entropy on image labels of every training image, whole backbone and
    WILDCAT head trained, the epoch with the best validation accuracy kept. Masks are not used."""
    device = device or resolve_device(cfg.runtime.device)
    place(model, device, cfg.runtime)
    if model.frozen:
        raise ValueError("train_classifier: the classifier is frozen")
    head = set(model.head_parameters())
    for p in model.parameters():
        p.requires_grad_(p not in head)

    def step(m: JointNet, x: torch.Tensor, y: torch.Tensor, _mask: torch.Tensor, _w: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(m.classify(x)[0], y)

    def accuracy(m: JointNet) -> float:
        return predict.evaluate(m, valid_set, cfg, device=device, segmentation=False)["accuracy"]

    try:
        items = SegItems(train_set, need_masks=False)  # image labels only
        return run_epochs(model, len(items), cfg, stage="cl", seed=seed, device=device,
                          batch_fn=augmented_batches(items, cfg, seed, device), step_fn=step, metric_fn=accuracy,
                          progress=progress)
    finally:
        for p in head:
            p.requires_grad_(True)


def recompute_rows(cfg: Config, width: int) -> int:
    """Images per chunk of the segmentation head's full-resolution layers in a training step, so that a chunk's
    activations and gradients (about 10 ``width``-channel float32 maps per crop pixel) fit in the ``working`` share
    of ``runtime.memory_mb``; 0 (no chunking, no recomputation) when the whole batch fits."""
    side = max(1, round(cfg.data.crop * cfg.data.scale))
    rows = max(1, int(shares(cfg.runtime)["working"] * 2**20 // (side * side * width * 10 * 4)))
    return 0 if rows >= cfg.train.seg_batch else rows


def train_segmentation(model: JointNet, items: Dataset, valid_set: SegDataset, cfg: Config, *, seed: int,
                       device: torch.device | None = None, progress: bool = True,
                       valid_cache: predict.FeatureCache | None = None, clock: Phases | None = None,
                       views: ViewFeatures | None = None) -> History:
    """Segmentation stage: backbone and classifier frozen, only the segmentation head learns with Eq. (1) on
    ``items`` (``(image, label, mask, weight)``); the epoch with the best validation Dice at 0.5 is kept.

    The validation images' backbone features are computed once (``valid_cache``, or a cache made here within
    the budget), since the frozen backbone gives the same features at every epoch. With finitely many views
    (``data.crop_grid``) the training images' features come from ``views`` (kept across trainings that share the
    frozen backbone; default: kept for this training only, within the budget) and a step runs the head alone. Large
    crops run the head's full-resolution layers in chunks (:func:`recompute_rows`).
    """
    device = device or resolve_device(cfg.runtime.device)
    place(model, device, cfg.runtime)
    model.freeze_classifier()
    model.seg_head.recompute_rows = recompute_rows(cfg, model.seg_head.last.in_channels)
    cache = valid_cache or predict.FeatureCache(model, valid_set, cfg, device=device)

    def step(m: JointNet, x: torch.Tensor, _y: torch.Tensor, mask: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return seg_loss(m.segment(x), mask, w)

    def head_step(m: JointNet, *t: torch.Tensor) -> torch.Tensor:  # xn, five stage features, labels, masks, weights
        return seg_loss(m.seg_head(t[0], list(t[1:6])), t[7], t[8])

    def valid_dice(m: JointNet) -> float:
        return predict.evaluate(m, valid_set, cfg, device=device, classification=False, cache=cache)["dice"]

    if cfg.data.crop_grid:
        views = views or ViewFeatures(Budget(shares(cfg.runtime)["features"]) if cfg.runtime.fast else None)
        batch_fn, step_fn = view_batches(items, cfg, seed, device, model, views), head_step
    else:
        batch_fn, step_fn = augmented_batches(items, cfg, seed, device), step
    return run_epochs(model, len(items), cfg, stage="seg", seed=seed, device=device, batch_fn=batch_fn,
                      step_fn=step_fn, metric_fn=valid_dice, progress=progress, clock=clock, learns=model.seg_head)
