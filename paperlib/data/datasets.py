"""GlaS and CUB-200-2011 loaders over their published folder layouts, splits, and joint image+mask transforms.

Items are ``(image, label, mask)``: image float32 ``3xHxW`` in [0, 1], label int, mask float32 ``1xHxW`` in {0, 1},
at the file's own resolution, or ``None`` for a training image without a mask (an unlabeled pool: the oracle draws
its masks). Augmentation and resizing belong to :mod:`paperlib.core.transforms`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DataError
from ..runtime import Budget
from .folds import read_splits, stratified_split
from .image_files import MASK_RULES, image_file_size, read_image, read_mask, warn_blank_mask

GLAS_CLASSES = ["benign", "malignant"]


@dataclass(frozen=True)
class Record:
    """One image of a dataset: its id (file stem), image and mask files (``None``: no mask), class index."""

    id: str
    image: Path
    mask: Path | None
    label: int


class SegDataset(Dataset):
    """Images with a class label and a foreground mask, read from disk on access.

    ``mask_rule`` is ``"nonzero"`` (GlaS instance maps), ``"majority"`` (CUB soft masks: value > 127.5) or ``"half"``
    (one's own masks, :func:`mask_foreground`: any bit depth; an empty or full mask is used with a warning line
    naming its image). Decoded images are kept in memory (uint8) while ``memo`` (a
    :class:`~paperlib.runtime.Budget`, possibly shared with other datasets; default 512 MB) has room.
    """

    def __init__(self, records: Sequence[Record], class_names: Sequence[str], mask_rule: str,
                 memo: Budget | None = None) -> None:
        if mask_rule not in MASK_RULES:
            raise ValueError(f"unknown mask_rule {mask_rule!r}")
        self.records = list(records)
        self.class_names = list(class_names)
        self.mask_rule = mask_rule
        self.memo = memo or Budget(512)
        self._memo: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._sizes: dict[int, tuple[int, int]] = {}

    @property
    def ids(self) -> list[str]:
        """File stem of each item."""
        return [r.id for r in self.records]

    @property
    def labels(self) -> np.ndarray:
        """Class index of each item, ``(N,)`` int64."""
        return np.array([r.label for r in self.records], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, torch.Tensor | None]:
        rec = self.records[index]
        if index in self._memo:
            image8, mask8 = self._memo[index]
            return image8.float().div_(255.0), rec.label, None if mask8 is None else mask8.float()
        image = read_image(rec.image)
        mask = None if rec.mask is None else read_mask(rec.mask, self.mask_rule)
        if mask is not None and image.shape[1:] != mask.shape[1:]:
            raise DataError(f"{rec.mask}: mask size {tuple(mask.shape[1:])} differs from image size "
                            f"{tuple(image.shape[1:])} of {rec.image}")
        if mask is not None and self.mask_rule == "half":
            warn_blank_mask(mask, rec.image, rec.mask)
        if self.memo.take(image.numel() + (0 if mask is None else mask.numel())):
            self._memo[index] = ((image * 255).round().to(torch.uint8), None if mask is None else mask.to(torch.uint8))
        return image, rec.label, mask

    def has_mask(self, index: int) -> bool:
        """Whether the item has a mask file."""
        return self.records[index].mask is not None

    def require_masks(self, what: str, hint: str = "") -> None:
        """Raise :class:`DataError` naming the first item without a mask: ``what`` needs every item's mask;
        ``hint`` says what to do instead."""
        missing = next((r for r in self.records if r.mask is None), None)
        if missing is not None:
            n = sum(r.mask is None for r in self.records)
            raise DataError(f"{what} needs the true mask of every training image; {missing.image} has none "
                            f"({n} of {len(self.records)} have no mask){f': {hint}' if hint else ''}")

    def image_size(self, index: int) -> tuple[int, int]:
        """``(H, W)`` of an item, read from the file header (once)."""
        if index not in self._sizes:
            w, h = image_file_size(self.records[index].image)
            self._sizes[index] = (h, w)
        return self._sizes[index]

    def subset(self, indices: Sequence[int]) -> SegDataset:
        """A dataset over the given items, in that order."""
        return SegDataset([self.records[i] for i in indices], self.class_names, self.mask_rule, self.memo)


@dataclass(frozen=True)
class Splits:
    """The train, valid and test datasets of one dataset."""

    train: SegDataset
    valid: SegDataset
    test: SegDataset

    @property
    def class_names(self) -> list[str]:
        return self.train.class_names


def check_records(records: Sequence[Record]) -> None:
    """Every image and mask exists, opens as an image, and has the same size as its partner."""
    for rec in records:
        if rec.mask is None:
            image_file_size(rec.image)
            continue
        isize, msize = image_file_size(rec.image), image_file_size(rec.mask)
        if isize != msize:
            raise DataError(f"{rec.mask}: mask size {msize[::-1]} differs from image size {isize[::-1]} "
                            f"of {rec.image}")


def _split_train(records: list[Record], test: list[Record], class_names: Sequence[str], mask_rule: str,
                 seed: int, valid_fraction: float, check: bool) -> Splits:
    if not records:
        raise DataError("no training images found")
    if check:
        check_records(records)
        check_records(test)
    labels = np.array([r.label for r in records])
    tr, va = stratified_split(labels, valid_fraction, seed)
    full = SegDataset(records, class_names, mask_rule)
    return Splits(full.subset(tr), full.subset(va), SegDataset(test, class_names, mask_rule))


Resolve = Callable[[str, str], tuple[Path, Path]]  # a split row's img and mask fields -> image and mask files


def _from_split(split: str | Path | Mapping[str, str | Path], dataset: str, resolve: Resolve,
                class_names: Sequence[str], mask_rule: str, check: bool) -> Splits:
    """The datasets of a split (``"paper"``, a folder or a mapping of CSVs; see :mod:`paperlib.data.folds`)."""
    parts = read_splits(split, dataset, class_names)
    out = []
    for part in ("train", "valid", "test"):
        records = [Record(Path(row.img).stem, *resolve(row.img, row.mask), row.label) for row in parts[part]]
        if check:
            check_records(records)
        out.append(SegDataset(records, class_names, mask_rule))
    return Splits(*out)


def _glas_grades(grade: Path) -> dict[str, int]:
    """``Grade.csv``: image name -> class index (the ``grade (GlaS)`` column)."""
    if not grade.is_file():
        raise DataError(f"{grade}: file not found (is {grade.parent} a GlaS folder?)")
    with open(grade, newline="") as fh:
        rows = [[c.strip() for c in row] for row in csv.reader(fh) if any(c.strip() for c in row)]
    if not rows:
        raise DataError(f"{grade}: empty file")
    header = [h.lower() for h in rows[0]]
    if "name" not in header:
        raise DataError(f"{grade}: header has no 'name' column (got {rows[0]})")
    col_name = header.index("name")
    col_grade = next((i for i, h in enumerate(header) if h.startswith("grade (glas)")), None)
    if col_grade is None:
        raise DataError(f"{grade}: header has no 'grade (GlaS)' column (got {rows[0]})")
    out = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) <= max(col_name, col_grade):
            raise DataError(f"{grade}, line {lineno}: too few fields")
        name, label = row[col_name], row[col_grade]
        if label not in GLAS_CLASSES:
            raise DataError(f"{grade}, line {lineno}: unknown class {label!r} in field 'grade (GlaS)' "
                            f"(known: {', '.join(GLAS_CLASSES)})")
        if not name.startswith(("train", "test")):
            raise DataError(f"{grade}, line {lineno}: image name {name!r} is neither train_* nor test*_*")
        out[name] = GLAS_CLASSES.index(label)
    return out


def load_glas(root: str | Path, *, seed: int = 0, valid_fraction: float = 0.2,
              split: str | Path | Mapping[str, str | Path] | None = None, check: bool = True) -> Splits:
    """GlaS (Warwick QU) from its published folder: ``Grade.csv``, ``train_N.bmp`` / ``train_N_anno.bmp``,
    ``testA_N``, ``testB_N``. Class = the ``grade (GlaS)`` column; test = testA + testB.

    ``split``: ``"paper"`` (the paper's split 0, fold 0), or a folder (or mapping) of train/valid/test CSVs with
    rows ``id,img,mask,label,tag`` (paths relative to ``root``; a class must agree with ``Grade.csv``); otherwise
    a stratified seeded ``valid_fraction`` split of the training images.
    """
    root = Path(root)
    grades = _glas_grades(root / "Grade.csv")
    if split is not None:
        splits = _from_split(split, "glas", lambda img, mask: (root / img, root / mask), GLAS_CLASSES, "nonzero",
                             check)
        for part in (splits.train, splits.valid, splits.test):
            for r in part.records:
                if r.id in grades and grades[r.id] != r.label:
                    raise DataError(f"{root / 'Grade.csv'}: {r.id} is {GLAS_CLASSES[grades[r.id]]}, but the split "
                                    f"says {GLAS_CLASSES[r.label]} (is this the published GlaS? for other data use "
                                    "the seeded split: split=\"\", -p split \"\")")
        return splits
    train, test = [], []
    for name, label in grades.items():
        rec = Record(name, root / f"{name}.bmp", root / f"{name}_anno.bmp", label)
        (train if name.startswith("train") else test).append(rec)
    return _split_train(train, test, GLAS_CLASSES, "nonzero", seed, valid_fraction, check)


def _read_pairs(path: Path) -> list[tuple[int, str]]:
    """Rows ``<int> <text>`` of a CUB metadata file."""
    if not path.is_file():
        raise DataError(f"{path}: file not found (is {path.parent} a CUB-200-2011 folder?)")
    out = []
    with open(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            if len(parts) != 2 or not parts[0].isdigit():
                raise DataError(f"{path}, line {lineno}: expected '<id> <value>', got {line.strip()!r}")
            out.append((int(parts[0]), parts[1].strip()))
    return out


def cub_mask(root: Path, rel: str | Path, check: bool = True) -> Path:
    """The mask file of image ``<class>/<name>``: in ``root/segmentations/`` or, as the official
    ``segmentations.tgz`` extracts beside ``CUB_200_2011.tgz``, in ``root/../segmentations/``."""
    rel = Path(rel).with_suffix(".png")
    inside, beside = root / "segmentations" / rel, root.parent / "segmentations" / rel
    for path in (inside, beside):
        if path.is_file():
            return path
    if check:
        raise DataError(f"{rel}: mask found neither in {inside.parent.parent} nor in {beside.parent.parent} "
                        "(extract segmentations.tgz inside the CUB_200_2011 folder or beside it)")
    return inside


def _cub_resolve(root: Path, check: bool) -> Resolve:
    """Split-row paths of CUB: ``[CUB_200_2011/]images/<class>/<name>.jpg`` and ``segmentations/<class>/<name>.png``
    (the reference format), found under ``root`` and :func:`cub_mask`; other paths are relative to ``root``."""
    def resolve(img: str, mask: str) -> tuple[Path, Path]:
        ip, mp = Path(img).parts, Path(mask).parts
        image = root.joinpath(*ip[ip.index("images"):]) if "images" in ip else root / img
        if "segmentations" in mp:
            return image, cub_mask(root, Path(*mp[mp.index("segmentations") + 1:]), check)
        return image, root / mask
    return resolve


def load_cub(root: str | Path, *, seed: int = 0, valid_fraction: float = 0.2,
             split: str | Path | Mapping[str, str | Path] | None = None, check: bool = True) -> Splits:
    """CUB-200-2011 from its published folder: ``images.txt``, ``image_class_labels.txt``,
    ``train_test_split.txt``, ``classes.txt``, ``images/<class>/<name>.jpg``, and soft masks
    ``segmentations/<class>/<name>.png`` inside the folder or beside it (:func:`cub_mask`; foreground = value
    > 127.5). Test = the official test images; ``split`` as in :func:`load_glas`.
    """
    root = Path(root)
    classes = _read_pairs(root / "classes.txt")
    class_ids = [cid for cid, _ in classes]
    class_names = [name for _, name in sorted(classes)]
    index_of = {cid: i for i, cid in enumerate(sorted(class_ids))}
    if split is not None:
        return _from_split(split, "cub", _cub_resolve(root, check), class_names, "majority", check)
    images = dict(_read_pairs(root / "images.txt"))
    labels_path, split_path = root / "image_class_labels.txt", root / "train_test_split.txt"
    labels = dict(_read_pairs(labels_path))
    is_train = dict(_read_pairs(split_path))
    train, test = [], []
    for iid, rel in sorted(images.items()):
        if iid not in labels:
            raise DataError(f"{labels_path}: no class for image id {iid}")
        if iid not in is_train or is_train[iid] not in ("0", "1"):
            raise DataError(f"{split_path}: image id {iid} needs a 0/1 entry")
        if not labels[iid].isdigit() or int(labels[iid]) not in index_of:
            raise DataError(f"{labels_path}: image id {iid}: unknown class {labels[iid]!r}")
        rec = Record(Path(rel).stem, root / "images" / rel, cub_mask(root, rel, check), index_of[int(labels[iid])])
        (train if is_train[iid] == "1" else test).append(rec)
    return _split_train(train, test, class_names, "majority", seed, valid_fraction, check)
