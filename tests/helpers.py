"""Helpers the tests share (plain functions; the fixtures are in conftest.py): tiny GlaS and CUB folders in the
real layouts, the tiny session settings, and a run folder's rows without their wall-clock column."""

from __future__ import annotations

# ruff: noqa: I001
import paperlib  # noqa: F401  (first: it pins the float kernels before numpy and torch load; paperlib.bits)
import csv
from pathlib import Path

import numpy as np
from PIL import Image

from paperlib import al
from paperlib.data import synthetic

TINY = {"min_side": 40, "crop": 32, "scale": 1.0, "seg_width": 8, "cl_epochs": 1, "seg_epochs": 2, "rounds": 3,
        "k": 3, "mc_passes": 3, "init_per_class": 1, "per_class": 1, "device": "cpu", "synthetic_scale": 0.2,
        "eval_batch": 16}


def session_of(shared, method: str, run_dir: Path, seed: int = 0, oracle=None) -> al.Session:
    return al.Session(shared["cfg"], method, seed, splits=shared["splits"], theta0=shared["theta0"], run_dir=run_dir,
                      oracle=oracle, distances=shared["dist"], progress=False)


def run_rows(run_dir: Path) -> list[dict]:
    """rounds.csv without the wall-clock column."""
    with open(run_dir / "rounds.csv") as fh:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]


def history_rows(run_dir: Path) -> list[dict]:
    """history.csv without the wall-clock column; every training's epochs once each, in order."""
    with open(run_dir / "history.csv") as fh:
        rows = [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]
    epochs = [(r["round"], r["cycle"], int(r["epoch"])) for r in rows]
    assert len(epochs) == len(set(epochs))
    for r, cycle, e in epochs:
        assert e == 0 or (r, cycle, e - 1) in epochs
    return rows


def write_glas(root: Path, n_train: int = 10, n_test: int = 4, seed: int = 0,
               grades: dict[str, str] | None = None) -> Path:
    """A tiny GlaS folder: Grade.csv with stray spaces, BMP images and instance-map masks (``grades``: name ->
    class of every image, else ``n_train`` + ``n_test`` images of alternating classes)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = ["name,Patient ID,grade (GlaS),grade (Sirinukunwattana et al. 2015)"]
    names = [f"train_{i + 1}" for i in range(n_train)] + [f"testA_{i + 1}" for i in range(n_test // 2)]
    names += [f"testB_{i + 1}" for i in range(n_test - n_test // 2)]
    names = list(grades) if grades else names
    for i, name in enumerate(names):
        h, w = 20 + i % 3, 24 + i % 5
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB").save(root / f"{name}.bmp")
        inst = np.zeros((h, w), np.uint8)
        inst[2:8, 3:9] = 1
        inst[10:15, 12:20] = 2 + i % 3
        Image.fromarray(inst, "L").save(root / f"{name}_anno.bmp")
        grade = grades[name] if grades else "benign" if i % 2 == 0 else "malignant"
        rows.append(f"{name}, {i} , {grade} , adenomatous")
    (root / "Grade.csv").write_text("\n".join(rows) + "\n")
    return root


def write_cub(root: Path, n_classes: int = 3, per_class: int = 6, n_test: int = 2, seed: int = 0) -> Path:
    """A tiny CUB folder: metadata text files, JPEG images and soft PNG masks in class folders."""
    rng = np.random.default_rng(seed)
    classes = [f"{c + 1:03d}.Bird_{c}" for c in range(n_classes)]
    images, labels, split = [], [], []
    iid = 0
    for c, cname in enumerate(classes):
        (root / "images" / cname).mkdir(parents=True, exist_ok=True)
        (root / "segmentations" / cname).mkdir(parents=True, exist_ok=True)
        for j in range(per_class + n_test):
            iid += 1
            h, w = 18 + j % 4, 22 + j % 3
            stem = f"Bird_{c}_{j:04d}_{iid}"
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB").save(
                root / "images" / cname / f"{stem}.jpg")
            soft = np.zeros((h, w), np.uint8)
            soft[4:12, 5:15] = 255
            soft[3, 5:15] = 102  # a minority of annotators: background
            soft[12, 5:15] = 153  # a majority: foreground
            Image.fromarray(soft, "L").save(root / "segmentations" / cname / f"{stem}.png")
            images.append(f"{iid} {cname}/{stem}.jpg")
            labels.append(f"{iid} {c + 1}")
            split.append(f"{iid} {int(j < per_class)}")
    synthetic.write_cub_metadata(root, classes, images, labels, split)
    return root
