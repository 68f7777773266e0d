"""Eq. (1) of the paper: the segmentation head's loss over a batch of oracle-labelled images (the set L, weight 1)
and pseudo-labelled ones (the set P, weight lambda),

    loss = (1 / B) * sum_i w_i * mean_pixels BCE(logits_i, mask_i),   w_i = 1 for i in L, lambda for i in P.

The division is by the whole batch B, so a pseudo-labelled item with lambda = 0 adds nothing to the sum but still
takes a place in the batch (the ``Label_prop_lam0`` control).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ORACLE_WEIGHT = 1.0  # w_i of an image in L (its mask from the oracle)


def seg_loss(logits: torch.Tensor, masks: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Eq. (1): per-image mean pixel BCE (with logits) times the item's weight, summed, divided by the batch size.
    ``logits``, ``masks`` ``Bx1xHxW`` (masks in {0, 1}), ``weights`` ``B``; returns a scalar."""
    per_image = F.binary_cross_entropy_with_logits(logits, masks, reduction="none").flatten(1).mean(1)
    return (weights * per_image).sum() / logits.shape[0]
