"""Joint image+mask transforms: training augmentation and the network input size of whole images.

Images are float ``3xHxW`` in [0, 1] and masks ``1xHxW`` in {0, 1} (torchvision ``transforms.v2`` with
``tv_tensors.Mask``, so a mask moves with its image and stays binary).
"""

from __future__ import annotations

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


class TrainTransform:
    """Training augmentation applied to an image and its mask together.

    Upscale so the shorter side is at least ``min_side``, random ``crop x crop`` crop, random flips, resize by
    ``scale``. Randomness comes only from the generator passed to :meth:`__call__`.
    """

    def __init__(self, min_side: int, crop: int, scale: float, hflip: bool, vflip: bool) -> None:
        self.min_side, self.crop, self.scale, self.hflip, self.vflip = min_side, crop, scale, hflip, vflip
        self.out_size = max(1, round(crop * scale))

    def __call__(self, image: torch.Tensor, mask: torch.Tensor,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``image`` ``3xHxW``, ``mask`` ``1xHxW`` -> both at ``out_size x out_size`` (mask stays in {0, 1})."""
        img, msk = tv_tensors.Image(image), tv_tensors.Mask(mask)
        h, w = img.shape[-2:]
        up = max(1.0, self.min_side / min(h, w))
        if up > 1.0:
            size = [max(self.crop, round(h * up)), max(self.crop, round(w * up))]
            img, msk = TF.resize(img, size, antialias=True), TF.resize(msk, size)
        h, w = img.shape[-2:]
        top = int(torch.randint(0, h - self.crop + 1, (1,), generator=generator))
        left = int(torch.randint(0, w - self.crop + 1, (1,), generator=generator))
        img, msk = TF.crop(img, top, left, self.crop, self.crop), TF.crop(msk, top, left, self.crop, self.crop)
        flips = torch.rand(2, generator=generator)
        if self.hflip and flips[0] < 0.5:
            img, msk = TF.horizontal_flip(img), TF.horizontal_flip(msk)
        if self.vflip and flips[1] < 0.5:
            img, msk = TF.vertical_flip(img), TF.vertical_flip(msk)
        if self.out_size != self.crop:
            size = [self.out_size, self.out_size]
            img, msk = TF.resize(img, size, antialias=True), TF.resize(msk, size)
        return img.as_subclass(torch.Tensor).clamp_(0, 1), msk.as_subclass(torch.Tensor)
