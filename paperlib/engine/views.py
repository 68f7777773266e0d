"""Frozen-backbone features of training views, computed once.

With a finite set of augmentation views (``data.crop_grid``: crop offsets from a grid, and flips), the features the
frozen backbone gives one view of one image are the same at every step, round, method and seed that share theta0,
so a segmentation step is the head's own forward and backward. Each view is computed alone (a batch of one) on the
memoised and on the plain path alike, so the two give the same bits.
"""

from __future__ import annotations

from bisect import bisect_right

import torch
from torch.utils.data import ConcatDataset, Dataset

from ..core.model import JointNet
from ..core.transforms import TrainTransform, View
from ..data import SegDataset
from ..runtime import Budget


def origin(items: Dataset, i: int) -> tuple[SegDataset, int]:
    """The dataset and index that training item ``i`` shows (``items``: SegItems, or a ConcatDataset of them)."""
    while isinstance(items, ConcatDataset):
        part = bisect_right(items.cumulative_sizes, i)
        i -= items.cumulative_sizes[part - 1] if part else 0
        items = items.datasets[part]
    dataset, indices = getattr(items, "dataset", None), getattr(items, "indices", None)
    if not isinstance(dataset, SegDataset) or indices is None:
        raise TypeError(f"origin: {type(items).__name__} does not name its images (SegItems expected)")
    return dataset, indices[i]


class ViewFeatures:
    """The normalised input ``1x3xSxS`` and the five stage features of (image, view) pairs under a frozen backbone,
    kept while ``budget`` lasts (``None``: nothing kept, the plain path). Exact for every model sharing the frozen
    backbone they were computed with (theta0)."""

    def __init__(self, budget: Budget | None) -> None:
        self.budget = budget
        self.memo: dict[tuple[SegDataset, int, View], list[torch.Tensor]] = {}

    def get(self, model: JointNet, dataset: SegDataset, index: int, image: torch.Tensor, view: View,
            transform: TrainTransform, device: torch.device) -> list[torch.Tensor]:
        """``[xn, f1, ..., f5]`` of ``image`` (``dataset[index]``'s, ``3xHxW``) in ``view``."""
        key = (dataset, int(index), view)
        out = self.memo.get(key)
        if out is None:
            with torch.no_grad():
                xn = model.normalize(transform.apply(image, view)[None].to(device))
                out = [xn, *model.features(xn)]
            if self.budget is not None and self.budget.take(sum(t.numel() * t.element_size() for t in out)):
                self.memo[key] = out
        return out
