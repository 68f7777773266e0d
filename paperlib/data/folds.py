"""Train/valid/test splits: split files in the reference code's CSV format, the paper's own split (split 0,
fold 0, shipped in ``paperlib/paper_split/``), and the seeded stratified split used for any other data.

A split file has one row per image, ``id,img,mask,label,tag`` (an optional header row is skipped): ``img`` and
``mask`` are paths, ``label`` a class name, ``tag`` 0, 1 or 2 (the reference code's labeled/unlabeled/pseudo tags;
read and checked, not used).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError

PARTS = ("train", "valid", "test")
PAPER = "paper"  # the ``split`` value that names the paper's split of the dataset
# paperlib/paper_split/<dataset>/{train,valid,test}_s_0_f_0.csv
PAPER_DIR = Path(__file__).resolve().parents[1] / "paper_split"


@dataclass(frozen=True)
class SplitRow:
    """One row of a split file: image and mask paths as written, class index, and where it was read."""

    img: str
    mask: str
    label: int
    where: str  # "<file>, line <n>"


def paper_files(dataset: str) -> dict[str, Path]:
    """The paper's split 0, fold 0 of ``glas`` or ``cub`` (the authors' file lists): part -> CSV file."""
    folder = PAPER_DIR / dataset
    if not folder.is_dir():
        raise DataError(f"no paper split for dataset {dataset!r} (known: {', '.join(_paper_datasets())})")
    return {part: folder / f"{part}_s_0_f_0.csv" for part in PARTS}


def _paper_datasets() -> list[str]:
    return sorted(p.name for p in PAPER_DIR.iterdir() if p.is_dir())


def split_files(split: str | Path | Mapping[str, str | Path], dataset: str) -> dict[str, Path]:
    """Part -> CSV file, from ``"paper"`` (:func:`paper_files`), a mapping, or a folder holding one ``train*.csv``,
    ``valid*.csv`` and ``test*.csv``."""
    if isinstance(split, str) and split == PAPER:
        return paper_files(dataset)
    if isinstance(split, Mapping):
        missing = set(PARTS) - set(split)
        if missing:
            raise DataError(f"split: missing entries {sorted(missing)}")
        return {k: Path(split[k]) for k in PARTS}
    folder = Path(split)
    if not folder.is_dir():
        raise DataError(f"{folder}: split folder not found (or use split={PAPER!r} for the paper's split)")
    out = {}
    for part in PARTS:
        found = sorted(folder.glob(f"{part}*.csv"))
        if len(found) != 1:
            raise DataError(f"{folder}: expected one {part}*.csv split file, found {len(found)}")
        out[part] = found[0]
    return out


def read_split(path: Path, class_names: Sequence[str]) -> list[SplitRow]:
    """The rows of one split file, every field checked."""
    if not path.is_file():
        raise DataError(f"{path}: split file not found")
    rows: list[SplitRow] = []
    with open(path, newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            row = [c.strip() for c in row]
            if not row or all(not c for c in row):
                continue
            if lineno == 1 and row[0].lower() == "id":
                continue
            where = f"{path}, line {lineno}"
            if len(row) != 5:
                raise DataError(f"{where}: expected 5 fields id,img,mask,label,tag, got {len(row)}")
            _, img, mask, label, tag = row
            if label not in class_names:
                raise DataError(f"{where}: unknown class {label!r} in field 'label'")
            if tag not in ("0", "1", "2"):
                raise DataError(f"{where}: field 'tag' must be 0, 1 or 2, got {tag!r}")
            rows.append(SplitRow(img, mask, class_names.index(label), where))
    if not rows:
        raise DataError(f"{path}: split file holds no rows")
    return rows


def read_splits(split: str | Path | Mapping[str, str | Path], dataset: str,
                class_names: Sequence[str]) -> dict[str, list[SplitRow]]:
    """Part -> rows of every part of a split; an image (file stem) in two parts is an error."""
    files = split_files(split, dataset)
    parts = {k: read_split(p, class_names) for k, p in files.items()}
    seen: dict[str, str] = {}
    for part, rows in parts.items():
        for r in rows:
            stem = Path(r.img).stem
            if stem in seen:
                raise DataError(f"{files[part]}: image {stem!r} is also in the {seen[stem]} split")
            seen[stem] = part
    return parts


def stratified_split(labels: np.ndarray, valid_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded per-class split of indices ``(N,)`` into train and valid (``ceil(fraction * n_c)`` per class).

    A class keeps at least one training image.
    """
    if not 0.0 < valid_fraction < 1.0:
        raise ConfigError(f"valid_fraction must be in (0, 1), got {valid_fraction}")
    rng = np.random.default_rng(seed)
    train, valid = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(idx.size)]
        n_valid = min(math.ceil(valid_fraction * idx.size - 1e-9), idx.size - 1)
        valid.extend(idx[:n_valid].tolist())
        train.extend(idx[n_valid:].tolist())
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(valid, dtype=np.int64))
