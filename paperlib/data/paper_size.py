"""Synthetic GlaS and CUB benchmarks at the real datasets' geometry: their image counts, file names, classes, image
sizes and the paper's split (``paperlib/paper_split/``), so that the paper-size profiles run end to end without
the real data.

Drawing at full resolution would be too slow for CUB's 11,788 images, so each image is drawn by the demo recipe of
:mod:`paperlib.data.synthetic` at a small size of the same aspect ratio and upsampled to its paper size: the image
bicubic, the GlaS instance map nearest, the CUB soft mask bilinear (it stays soft at the boundary). The images are
therefore smoother than real ones; their pixels are a benchmark, not a copy of the data.

Size rules (``(H, W)``, deterministic from the seed):

- GlaS: 522x775, except exactly 16 of the 165 images (a seeded choice, about 10%) at 453x589; drawn at 104x154
  and 90x117.
- CUB: width 500, height 375 (70%), 333 (15%), 400 (10%) or 281 (5%), a seeded draw per image; drawn at width 128
  and the height of the same aspect ratio.

Each image is seeded by its position in the full dataset, so a ``fraction < 1`` subset holds the same images as
the full write. Only ``fraction=1`` matches the paper's split files; a subset loads with the seeded split
(``split=""``).

``python -m paperlib.data.paper_size {glas,cub} OUT [--fraction F] [--seed S] [--workers N]``
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..errors import ConfigError
from . import folds, synthetic
from .marked_folder import write_atomic

GLAS_NAMES = ([f"train_{i}" for i in range(1, 86)] + [f"testA_{i}" for i in range(1, 61)]
              + [f"testB_{i}" for i in range(1, 21)])
GLAS_LARGE, GLAS_SMALL = (522, 775), (453, 589)  # (H, W)
GLAS_N_SMALL = 16
_GLAS_DRAW = {GLAS_LARGE: synthetic.GLAS_SIZES[0], GLAS_SMALL: synthetic.GLAS_SIZES[1]}
CUB_WIDTH = 500
CUB_HEIGHTS = (375, 333, 400, 281)
CUB_HEIGHT_P = (0.70, 0.15, 0.10, 0.05)


@dataclass(frozen=True)
class PlannedImage:
    """One image a paper-size writer writes: ``index`` is its position in the full dataset (it seeds the image;
    CUB id = index + 1), ``stem`` the file name without suffix, ``label`` the class name, ``part`` the paper split's
    ``train``, ``valid`` or ``test``, ``size`` ``(H, W)``."""

    index: int
    stem: str
    label: str
    part: str
    size: tuple[int, int]


def _paper_rows(dataset: str) -> dict[str, tuple[str, str, int]]:
    """File stem -> (part, class name, id column) of every row of the paper's split files."""
    out = {}
    for part, path in folds.paper_files(dataset).items():
        with open(path, newline="") as fh:
            for row in csv.reader(fh):
                if row and row[0].strip().isdigit():
                    out[Path(row[1].strip()).stem] = (part, row[3].strip(), int(row[0]))
    return out


def _subset(plan: list[PlannedImage], fraction: float, seed: int, group: Callable[[PlannedImage], tuple]
            ) -> list[PlannedImage]:
    """A seeded subset keeping ``max(1, round(fraction * n))`` images of each group, in plan order."""
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"fraction must be in (0, 1], got {fraction}")
    if fraction == 1.0:
        return plan
    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(plan):
        groups.setdefault(group(p), []).append(i)
    rng = np.random.default_rng([seed, 40])
    keep: list[int] = []
    for key in sorted(groups):
        idx = groups[key]
        keep.extend(rng.choice(idx, size=max(1, round(fraction * len(idx))), replace=False).tolist())
    return [plan[i] for i in sorted(keep)]


def plan_glas(*, seed: int = 0, fraction: float = 1.0) -> list[PlannedImage]:
    """The GlaS images :func:`write_glas_paper` writes, without drawing them: GlaS's 165 names in the order
    train_1..85, testA_1..60, testB_1..20, each with its class and part in the paper's split; a ``fraction < 1``
    keeps at least one image of each class in each part."""
    rows = _paper_rows("glas")
    small = set(np.random.default_rng([seed, 23]).choice(len(GLAS_NAMES), size=GLAS_N_SMALL, replace=False).tolist())
    plan = [PlannedImage(i, name, rows[name][1], rows[name][0], GLAS_SMALL if i in small else GLAS_LARGE)
            for i, name in enumerate(GLAS_NAMES)]
    return _subset(plan, fraction, seed, lambda p: (p.part, p.label))


def plan_cub(*, seed: int = 0, fraction: float = 1.0) -> list[PlannedImage]:
    """The CUB images :func:`write_cub_paper` writes, without drawing them: CUB-200-2011's 11,788 names in CUB id
    order (the split files' 0-based id column + 1; e.g. ``Black_Footed_Albatross_0046_18`` is id 1), each with
    its class folder and part in the paper's split; a ``fraction < 1`` keeps at least one training (train or
    valid) and one test image of each class."""
    rows = sorted((index, stem, label, part) for stem, (part, label, index) in _paper_rows("cub").items())
    if [r[0] for r in rows] != list(range(len(rows))):
        raise folds.DataError("the paper's CUB split files do not number their images 0..N-1")
    heights = np.random.default_rng([seed, 33]).choice(CUB_HEIGHTS, size=len(rows), p=CUB_HEIGHT_P)
    plan = [PlannedImage(i, stem, label, part, (int(heights[i]), CUB_WIDTH)) for i, stem, label, part in rows]
    return _subset(plan, fraction, seed, lambda p: (p.label, p.part == "test"))


def _upsample(img: np.ndarray, mask: np.ndarray, size: tuple[int, int], mask_resample: int
              ) -> tuple[Image.Image, Image.Image]:
    wh = (size[1], size[0])
    return (Image.fromarray(img, "RGB").resize(wh, Image.BICUBIC),
            Image.fromarray(mask, "L").resize(wh, mask_resample))


def _draw_glas(task: tuple[Path, int, PlannedImage, tuple]) -> str:
    """Draw and save one GlaS image and its instance map; its ``Grade.csv`` row."""
    root, seed, p, stain = task
    r = np.random.default_rng([seed, 22, p.index])
    img, inst = synthetic._glas_image(r, p.label == "malignant", stain, _GLAS_DRAW[p.size])
    image, anno = _upsample(img, inst, p.size, Image.NEAREST)
    image.save(root / f"{p.stem}.bmp")
    anno.save(root / f"{p.stem}_anno.bmp")
    return f"{p.stem}, {int(r.integers(1, 17))} , {p.label}, {synthetic.GLAS_SUB_GRADES[p.label][int(r.integers(2))]}"


def _draw_cub(task: tuple[Path, int, PlannedImage, int]) -> None:
    """Draw and save one CUB image and its soft mask."""
    root, seed, p, class_index = task
    species = synthetic._species(np.random.default_rng([seed, 31, class_index]))
    h, w = p.size
    draw_w = synthetic.CUB_WIDTH
    img, soft = synthetic._cub_image(np.random.default_rng([seed, 32, p.index]), species,
                                     (round(h * draw_w / w), draw_w))
    image, mask = _upsample(img, soft, p.size, Image.BILINEAR)
    image.save(root / "images" / p.label / f"{p.stem}.jpg", quality=92)
    mask.save(root / "segmentations" / p.label / f"{p.stem}.png")


def _run(fn: Callable, tasks: Sequence, workers: int | None, desc: str) -> list:
    """``fn`` over ``tasks`` in order, in ``workers`` processes (1: in this process), with a progress bar."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    bar = tqdm(total=len(tasks), desc=desc, unit="img")
    try:
        if workers == 1:
            out = []
            for t in tasks:
                out.append(fn(t))
                bar.update()
            return out
        with ProcessPoolExecutor(workers) as pool:
            out = []
            for res in pool.map(fn, tasks, chunksize=max(1, min(32, len(tasks) // (4 * workers)))):
                out.append(res)
                bar.update()
            return out
    finally:
        bar.close()


def write_glas_paper(root: str | Path, *, seed: int = 0, fraction: float = 1.0, workers: int | None = None
                     ) -> Path:
    """Write a GlaS benchmark at GlaS's geometry: the real names (``train_1..85``, ``testA_1..60``,
    ``testB_1..20``, ``<name>.bmp`` and ``<name>_anno.bmp``), each image's grade from the paper's split,
    ``Grade.csv`` in GlaS's format, sizes 522x775 and 453x589 (see the module docstring).

    At ``fraction=1``, ``load_glas(root, split="paper")`` gives 67 train, 18 valid and 80 test images; a smaller
    ``fraction`` writes a subset stratified by part and class (:func:`plan_glas`) that loads with ``split=""``.
    ``workers`` processes draw (default: one per CPU). Returns ``root``.
    """
    plan = plan_glas(seed=seed, fraction=fraction)
    groups = synthetic._stain_groups(np.random.default_rng([seed, 21]), 4)
    stains = np.random.default_rng([seed, 24]).integers(len(groups), size=len(GLAS_NAMES))

    def write(tmp: Path) -> None:
        tasks = [(tmp, seed, p, groups[int(stains[p.index])]) for p in plan]
        rows = _run(_draw_glas, tasks, workers, "GlaS paper-size")
        (tmp / "Grade.csv").write_text("\n".join([synthetic.GLAS_GRADE_HEADER, *rows]) + "\n")

    params = {"kind": "glas", "seed": seed, "fraction": fraction, "geometry": "paper"}
    return write_atomic(Path(root), params, write)


def write_cub_paper(root: str | Path, *, seed: int = 0, fraction: float = 1.0, workers: int | None = None
                    ) -> Path:
    """Write a CUB benchmark at CUB-200-2011's geometry: its layout, the 200 real class folders, the real image
    names and ids, ``train_test_split.txt`` = 1 for the paper's train and valid images and 0 for its test images
    (5,994 / 5,794, the official split), JPEG images of width 500 and soft PNG masks in ``segmentations/``
    (where ``load_cub(root, split="paper")`` finds them); each species' colours from a per-class seed.

    A ``fraction < 1`` writes a subset stratified by class and train/test (:func:`plan_cub`; at least 400 images)
    that loads with ``split=""``. ``workers`` processes draw (default: one per CPU). Returns ``root``.
    """
    plan = plan_cub(seed=seed, fraction=fraction)
    classes = sorted({label for _, label, _ in _paper_rows("cub").values()})

    def write(tmp: Path) -> None:
        for c in classes:
            (tmp / "images" / c).mkdir(parents=True)
            (tmp / "segmentations" / c).mkdir(parents=True)
        _run(_draw_cub, [(tmp, seed, p, classes.index(p.label)) for p in plan], workers, "CUB paper-size")
        synthetic.write_cub_metadata(
            tmp, classes, [f"{p.index + 1} {p.label}/{p.stem}.jpg" for p in plan],
            [f"{p.index + 1} {classes.index(p.label) + 1}" for p in plan],
            [f"{p.index + 1} {int(p.part != 'test')}" for p in plan])

    params = {"kind": "cub", "seed": seed, "fraction": fraction, "geometry": "paper"}
    return write_atomic(Path(root), params, write)
