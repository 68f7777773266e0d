"""A generic dataset file: one CSV row per image, for one's own data (``paperlib.data.load_csv``).

The header is ``image,mask,label,split``; paths are relative to the CSV file's folder; ``label`` is a class name;
``split`` is ``train``, ``valid`` or ``test``; ``mask`` may be empty on ``train`` rows (an unlabeled pool, whose
masks an oracle draws). Validation and test images need masks (model selection, the threshold and Dice).
"""

from __future__ import annotations

import csv
from pathlib import Path

from .data import Record, SegDataset, Splits, image_file_size
from .folds import DataError

HEADER = ["image", "mask", "label", "split"]
PARTS = ("train", "valid", "test")


def read_dataset_csv(path: str | Path) -> Splits:
    """The splits a dataset file lists, every row checked; a bad row stops with one error naming the file and
    line. Classes are the labels in sorted order; every class needs a training image."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: dataset file not found")
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or [c.strip().lower() for c in rows[0]] != HEADER:
        raise DataError(f"{path}, line 1: expected the header {','.join(HEADER)}")
    parts: dict[str, list[tuple[Record, str]]] = {p: [] for p in PARTS}
    ids: dict[str, str] = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        where = f"{path}, line {lineno}"
        record, split = _row(path.parent, row, where)
        if record.id in ids:
            raise DataError(f"{where}: image name {record.id!r} is also on {ids[record.id]} (names must differ)")
        ids[record.id] = f"line {lineno}"
        parts[split].append((record, where))
    labels = sorted({str(r.label) for p in PARTS for r, _ in parts[p]})
    trained = {str(r.label) for r, _ in parts["train"]}
    for p in PARTS:
        if not parts[p]:
            raise DataError(f"{path}: no {p} rows")
        for r, where in parts[p]:
            if str(r.label) not in trained:
                raise DataError(f"{where}: class {r.label!r} has no training image")
    return Splits(*(SegDataset([Record(r.id, r.image, r.mask, labels.index(str(r.label))) for r, _ in parts[p]],
                               labels, "nonzero") for p in PARTS))


def _row(folder: Path, row: list[str], where: str) -> tuple[Record, str]:
    """One row checked: the files exist and open, a mask (where one is needed) has the image's size. The record's
    label is still the class name."""
    if len(row) != len(HEADER):
        raise DataError(f"{where}: expected {len(HEADER)} fields {','.join(HEADER)}, got {len(row)}")
    image_name, mask_name, label, split = (c.strip() for c in row)
    if split not in PARTS:
        raise DataError(f"{where}: field 'split' must be train, valid or test, got {split!r}")
    if not label:
        raise DataError(f"{where}: empty field 'label'")
    if not image_name:
        raise DataError(f"{where}: empty field 'image'")
    image = folder / image_name
    size = image_file_size(image, where)
    mask = None
    if mask_name:
        mask = folder / mask_name
        msize = image_file_size(mask, where)
        if msize != size:
            raise DataError(f"{where}: mask {mask} is {msize[0]}x{msize[1]} but image {image} is {size[0]}x{size[1]}")
    elif split != "train":
        raise DataError(f"{where}: a {split} image needs a mask (model selection, threshold and Dice)")
    return Record(image.stem, image, mask, label), split  # type: ignore[arg-type]
