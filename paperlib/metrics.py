"""The public contract's ``paperlib.metrics``: Dice, its area under the curve, accuracy and paired statistics
(defined in :mod:`paperlib.core.metrics`)."""

from .core.metrics import accuracy, dice, dice_auc, holm, mean_dice, mean_std, paired_interval, rank_tests  # noqa: F401
