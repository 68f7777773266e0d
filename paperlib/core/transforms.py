"""Joint image+mask transforms: training augmentation and the network input size of whole images.

Images are float ``3xHxW`` in [0, 1] and masks ``1xHxW`` in {0, 1} (torchvision ``transforms.v2`` with
``tv_tensors.Mask``, so a mask moves with its image and stays binary).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as TF


def eval_size(height: int, width: int, min_side: int, scale: float) -> tuple[int, int]:
    """Network input size of a whole ``height x width`` image: upscale to ``min_side`` then resize by ``scale``."""
    up = max(1.0, min_side / min(height, width))
    return max(1, round(height * up * scale)), max(1, round(width * up * scale))


def resize_image(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear (antialiased) resize of ``...x3xHxW`` to ``size``."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return TF.resize(tv_tensors.Image(image), list(size), antialias=True).as_subclass(torch.Tensor)


class View(NamedTuple):
    """One augmentation of an image: the crop's ``top``/``left`` offsets after the upscale, and the flips."""

    top: int
    left: int
    hflip: bool
    vflip: bool


class TrainTransform:
    """Training augmentation applied to an image and its mask together.

    Upscale so the shorter side is at least ``min_side``, random ``crop x crop`` crop, random flips, resize by
    ``scale``. Randomness comes only from the generator passed to :meth:`__call__` (or :meth:`draw`). With ``grid``
    = n >= 1 the crop offsets are drawn from n evenly spaced values per axis instead of every position, so an image has
    a finite set of views (at most n x n x 4) whose frozen-backbone features can be computed once.
    """

    def __init__(self, min_side: int, crop: int, scale: float, hflip: bool, vflip: bool, grid: int = 0) -> None:
        self.min_side, self.crop, self.scale, self.hflip, self.vflip = min_side, crop, scale, hflip, vflip
        self.out_size = max(1, round(crop * scale))
        self.grid = grid

    def upscaled(self, h: int, w: int) -> tuple[int, int]:
        """The size ``(H, W)`` an ``h x w`` image is upscaled to before the crop."""
        up = max(1.0, self.min_side / min(h, w))
        if up > 1.0:
            return max(self.crop, round(h * up)), max(self.crop, round(w * up))
        return h, w

    def _offset(self, span: int, generator: torch.Generator) -> int:
        """A crop offset in ``[0, span]``: any (grid 0) or one of ``grid`` evenly spaced values."""
        if self.grid <= 0:
            return int(torch.randint(0, span + 1, (1,), generator=generator))
        k = int(torch.randint(0, self.grid, (1,), generator=generator))
        return 0 if self.grid == 1 else round(k * span / (self.grid - 1))

    def draw(self, h: int, w: int, generator: torch.Generator) -> View:
        """The view of an ``h x w`` image drawn from ``generator``."""
        hh, ww = self.upscaled(h, w)
        top, left = self._offset(hh - self.crop, generator), self._offset(ww - self.crop, generator)
        flips = torch.rand(2, generator=generator)
        return View(top, left, bool(self.hflip and flips[0] < 0.5), bool(self.vflip and flips[1] < 0.5))

    def apply(self, image: torch.Tensor, view: View) -> torch.Tensor:
        """``image`` ``3xHxW`` (or a mask ``1xHxW``, kept in {0, 1}) in ``view`` -> ``out_size x out_size``."""
        is_mask = image.shape[0] == 1
        t = tv_tensors.Mask(image) if is_mask else tv_tensors.Image(image)
        size = list(self.upscaled(*t.shape[-2:]))
        if size != list(t.shape[-2:]):
            t = TF.resize(t, size, antialias=True)
        t = TF.crop(t, view.top, view.left, self.crop, self.crop)
        if view.hflip:
            t = TF.horizontal_flip(t)
        if view.vflip:
            t = TF.vertical_flip(t)
        if self.out_size != self.crop:
            t = TF.resize(t, [self.out_size, self.out_size], antialias=True)
        t = t.as_subclass(torch.Tensor)
        return t if is_mask else t.clamp_(0, 1)

    def __call__(self, image: torch.Tensor, mask: torch.Tensor,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``image`` ``3xHxW``, ``mask`` ``1xHxW`` -> both at ``out_size x out_size`` (mask stays in {0, 1})."""
        view = self.draw(*image.shape[-2:], generator)
        return self.apply(image, view), self.apply(mask, view)
