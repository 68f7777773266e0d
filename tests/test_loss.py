"""Eq. (1) (paperlib.core.loss): oracle masks weigh 1, pseudo-masks lambda, and the sum is divided by the batch."""

import pytest
import torch

from paperlib.core.loss import seg_loss


def test_seg_loss_is_eq1():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 1, 4, 4, generator=gen)
    masks = (torch.rand(3, 1, 4, 4, generator=gen) > 0.5).float()
    per = torch.nn.functional.binary_cross_entropy_with_logits(logits, masks, reduction="none").mean((1, 2, 3))
    w = torch.tensor([1.0, 1.0, 0.1])  # two oracle masks, one pseudo-mask with lambda = 0.1
    assert seg_loss(logits, masks, w).item() == pytest.approx(((per[0] + per[1] + 0.1 * per[2]) / 3).item())



def test_a_zero_weight_item_adds_nothing_but_its_place_in_the_batch():
    gen = torch.Generator().manual_seed(1)
    logits, masks = torch.randn(3, 1, 4, 4, generator=gen), torch.ones(3, 1, 4, 4)
    alone = seg_loss(logits[:1], masks[:1], torch.ones(1))
    assert torch.allclose(seg_loss(logits, masks, torch.tensor([1.0, 0.0, 0.0])), alone / 3)
