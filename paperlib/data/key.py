"""What a cache under ``results/`` was computed from, on the data's side: :func:`data_key`, one key for theta0 and
each seed's classifier (``paperlib.engine.classifier``) and the colour distances (``paperlib.al.runner``)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .datasets import SegDataset, Splits


def file_stamp(path: str | Path) -> list[int] | None:
    """A file's size and modification time (ns): cheap, and changed by any rewrite; ``None`` when it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _rows(ds: SegDataset) -> list[list[object]]:
    return [[r.id, int(r.label), os.path.realpath(r.image), file_stamp(r.image)] for r in ds.records]


def data_key(splits: Splits) -> str:
    """A hex digest of the training and validation records: the class names, each image's id, class, split and
    real path (so ``../data`` and its absolute spelling are one key), and its file's size and modification time
    (the image bytes are not read). Masks are left out: neither the classifier (image labels only) nor the colour
    distances read them. Labels rewritten in a dataset file, another class, an image moved between splits,
    replaced or touched: another key."""
    parts = {"classes": list(splits.class_names), "train": _rows(splits.train), "valid": _rows(splits.valid)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
