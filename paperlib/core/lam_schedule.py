"""The weight lambda of the pseudo-labelled loss in Eq. (1), round by round (``al.lam_schedule``).

The paper keeps lambda constant and leaves a dynamic lambda(r) open ("Fig. 6 suggests that a dynamic lambda(r)
that is increased through AL rounds could be more beneficial"). Each schedule starts at the configured lambda
(``al.lam``, the paper's value) in round 0 and never exceeds ``al.lam_max`` (default 1: a pseudo-mask never weighs
more than an oracle mask). With ``R`` rounds (``al.rounds``) and ``v_j`` the validation Dice of round ``j``'s kept
model (the model that made the pseudo-masks trained on in round ``j + 1``), round ``r`` uses:

- ``constant`` (the paper): ``lambda_r = lam``.
- ``rising``: ``lambda_r = lam + (lam_max - lam) * r / (R - 1)``, a straight line from ``lam`` at the first round
  to ``lam_max`` at the last (``lam`` when ``R = 1``).
- ``validation``: ``lambda_0 = lam`` and, for ``r >= 1``,
  ``lambda_r = lam + (lam_max - lam) * clip((v_{r-1} - v_0) / (1 - v_0), 0, 1)``: the weight rises toward
  ``lam_max`` as the pseudo-labeller's validation Dice closes the gap between its first round's and a perfect 1
  (``lam`` when ``v_0 = 1``). It reads only validation masks, never test labels.

The rules were written down before any session ran with them; nothing in them was fitted to test Dice.
"""

from __future__ import annotations

from collections.abc import Sequence

SCHEDULES = ("constant", "rising", "validation")


def lam_at(schedule: str, r: int, *, lam: float, lam_max: float, rounds: int,
           valid_dice: Sequence[float] = ()) -> float:
    """lambda of round ``r`` (0-based) under ``schedule``; ``valid_dice`` holds ``v_0 .. v_{r-1}`` (the
    ``validation`` schedule reads them; at least ``r`` values are needed there)."""
    if schedule == "constant" or r == 0:
        return float(lam)
    if schedule == "rising":
        return float(lam + (lam_max - lam) * min(1.0, r / max(1, rounds - 1)))
    if schedule == "validation":
        if len(valid_dice) < r:
            raise ValueError(f"validation schedule: round {r} needs the validation Dice of rounds 0..{r - 1}, "
                             f"got {len(valid_dice)} value(s)")
        v0, last = float(valid_dice[0]), float(valid_dice[r - 1])
        gain = 0.0 if v0 >= 1.0 else min(1.0, max(0.0, (last - v0) / (1.0 - v0)))
        return float(lam + (lam_max - lam) * gain)
    raise ValueError(f"unknown lam_schedule {schedule!r}; known: {', '.join(SCHEDULES)}")
