"""The synthetic benchmarks' appearance knobs: the original sets (the defaults) and the calibrated ones, and how a
writer merges and records them."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from ..errors import ConfigError

# Appearance knobs, read by the writers (``knobs=`` overrides some of them; the marker records those that differ from
# these defaults). Ranges ``(lo, hi)`` are drawn per image from a stream of their own, so that they never shift the
# base drawing recipe's draws. The defaults are the original benchmarks' (byte-identical to them); the calibrated
# sets (benchmarks/calibrate.py, benchmarks/calibration.md) move the levels toward the paper's, tuned on generator
# seeds that are never evaluated. ``data.synthetic_knobs`` picks a set (``KNOB_SETS``).
GLAS_KNOBS: Mapping = MappingProxyType({
    "stain_groups": 4,  # number of H&E stain groups
    "stain_by_patient": False,  # each patient's images share a stain group, else each image draws one
    "stain_spread": 0.08,  # std of the per-group perturbation of the H and E optical-density vectors
    "stain_strength": (0.7, 1.5),  # per-group stain strength range
    "epi_eosin": (0.75, 0.75),  # eosin of the gland epithelium, per image
    "epi_haem": (0.18, 0.18),  # haematoxylin of the gland epithelium, per image
    "stroma_eosin": (0.55, 0.55),  # eosin of the stroma, per image
    "stroma_nuclei": (0.01, 0.025),  # fraction of stroma pixels that are nuclei
    "radius_scale": (1.0, 1.0),  # gland radius factor, per image
    "distractors": (0, 0),  # gland-like stroma structures (nuclei ring, pale centre, no gland) per image
    "distractor_eosin": 0.0,  # extra eosin of a distractor's ring (epithelium-like when near epi - stroma)
    "distractor_size": (6.0, 14.0),  # a distractor's radius range (pixels, times the image's radius_scale)
    "distractor_irregular": 0.5,  # probability that a distractor has a malignant-like irregular outline
    "blur": 0.0,  # Gaussian blur sigma (pixels) of the image
    "noise": 0.02,  # pixel noise std
})
CUB_KNOBS: Mapping = MappingProxyType({
    "camouflage": 0.0,  # bird colours pulled toward the background where it sits (0: none, 1: equal)
    "size": (0.2, 0.34),  # bird length as a fraction of the image's short side
    "angle": 0.5,  # largest bird rotation in radians
    "branches": (2, 6),  # number of branches, upper bound excluded
    "leaves": (10, 30),  # number of leaves, upper bound excluded
    "occlusion": 0.3,  # probability of an occluding twig
})
CALIBRATED_GLAS_KNOBS: Mapping = MappingProxyType({
    **GLAS_KNOBS, "stain_groups": 16, "stain_by_patient": True, "stain_spread": 0.15, "stain_strength": (0.5, 1.7),
    "epi_eosin": (0.45, 0.85), "epi_haem": (0.05, 0.3), "stroma_eosin": (0.45, 0.7), "radius_scale": (0.7, 1.6),
    "distractors": (1, 5), "distractor_eosin": 0.15,
})
CALIBRATED_CUB_KNOBS: Mapping = MappingProxyType({
    **CUB_KNOBS, "camouflage": 0.2, "size": (0.26, 0.42), "angle": 0.8, "branches": (3, 8), "leaves": (20, 45),
    "occlusion": 0.5,
})
KNOB_SETS: Mapping[str, Mapping[str, Mapping]] = MappingProxyType({
    "original": MappingProxyType({"glas": GLAS_KNOBS, "cub": CUB_KNOBS}),
    "calibrated": MappingProxyType({"glas": CALIBRATED_GLAS_KNOBS, "cub": CALIBRATED_CUB_KNOBS}),
})


def merged(defaults: Mapping, knobs: Mapping | None) -> dict:
    """``defaults`` updated with ``knobs``; unknown names are an error."""
    unknown = set(knobs or {}) - set(defaults)
    if unknown:
        raise ConfigError(f"unknown synthetic knobs: {', '.join(sorted(unknown))}")
    return {**defaults, **(knobs or {})}


def changed(defaults: Mapping, knobs: dict) -> dict:
    """The knobs that differ from ``defaults`` (JSON-friendly), for the benchmark's marker."""
    norm = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731
    return {k: norm(v) for k, v in sorted(knobs.items()) if norm(v) != norm(defaults[k])}


def side_rng(rng: np.random.Generator) -> np.random.Generator:
    """A generator derived from ``rng``'s state without drawing from it."""
    return np.random.default_rng(int(rng.bit_generator.state["state"]["state"]))
