"""A generic dataset file: one CSV row per image, for one's own data (``paperlib.data.load_csv``).

The header is ``image,mask,label,split``; paths are relative to the CSV file's folder; ``label`` is a class name;
``split`` is ``train``, ``valid`` or ``test``; ``mask`` may be empty on ``train`` rows (an unlabeled pool, whose
masks an oracle draws). Validation and test images need masks (model selection, the threshold and Dice). Masks are
read by :func:`~paperlib.data.image_files.mask_foreground` (any bit depth; grey edges above half the value range are
the object, with a note), and an empty or full one is used with a warning naming its image.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import NamedTuple

from ..errors import DataError
from .datasets import Record, SegDataset, Splits, image_file_size

HEADER = ["image", "mask", "label", "split"]
PARTS = ("train", "valid", "test")


class Row(NamedTuple):
    """One checked row: image and mask files (``None``: no mask), class name, split."""

    image: Path
    mask: Path | None
    label: str
    split: str


def read_dataset_csv(path: str | Path) -> Splits:
    """The splits a dataset file lists, every row checked; a bad row stops with one error naming the file and
    line. Classes are the labels in sorted order; every class needs a training image."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: dataset file not found")
    try:  # UTF-8, with or without the byte-order mark Excel writes
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}, line {line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}; a Latin-1 or "
                        "Windows-1252 file?): save it as UTF-8 (Excel: CSV UTF-8)") from None
    header = [c.strip().lower() for c in rows[0]] if rows else []
    extra = [c for c in header if c and c not in HEADER]
    if extra and [c for c in header if c in HEADER] == HEADER:
        raise DataError(f"{path}, line 1: unknown column(s) {', '.join(map(repr, extra))}; the header is exactly "
                        f"{','.join(HEADER)}")
    if header != HEADER:
        raise DataError(f"{path}, line 1: expected the header {','.join(HEADER)}")
    parts: dict[str, list[tuple[Row, str]]] = {p: [] for p in PARTS}
    lines: dict[str, int] = {}
    for lineno, fields in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in fields):
            continue
        where = f"{path}, line {lineno}"
        row = _row(path.parent, fields, where)
        if row.image.stem in lines:
            raise DataError(f"{where}: image name {row.image.stem!r} is also on line {lines[row.image.stem]} "
                            "(names must differ)")
        lines[row.image.stem] = lineno
        parts[row.split].append((row, where))
    trained = {row.label for row, _ in parts["train"]}
    for p in PARTS:
        if not parts[p]:
            raise DataError(f"{path}: no {p} rows")
        for row, where in parts[p]:
            if row.label not in trained:
                raise DataError(f"{where}: class {row.label!r} has no training image")
    labels = sorted(trained)
    return Splits(*(SegDataset([Record(r.image.stem, r.image, r.mask, labels.index(r.label)) for r, _ in parts[p]],
                               labels, "half") for p in PARTS))


def _row(folder: Path, fields: list[str], where: str) -> Row:
    """One row checked: the files exist and open, a mask (where one is needed) has the image's size."""
    if len(fields) != len(HEADER):
        raise DataError(f"{where}: expected {len(HEADER)} fields {','.join(HEADER)}, got {len(fields)}")
    image_name, mask_name, label, split = (c.strip() for c in fields)
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
    return Row(image, mask, label, split)
