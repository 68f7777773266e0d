"""The one way the package derives a seed from several integers (a session seed, a round, a stream, an item...):
numpy's ``SeedSequence`` hash, so that nearby inputs give unrelated seeds and no seed depends on the order work is
done in."""

from __future__ import annotations

import numpy as np


def hashed_seed(*parts: int) -> int:
    """A 32-bit seed from ``parts`` (numpy ``SeedSequence(parts)``, first word of its state)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])
