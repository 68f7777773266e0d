"""Shared fixtures: tiny GlaS and CUB folders written in the real layouts, and a small synthetic benchmark."""

from __future__ import annotations

# ruff: noqa: I001
import paperlib  # noqa: F401  (first: it pins the float kernels before numpy and torch load; paperlib.bits)
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paperlib import config, grid
from paperlib.data import synthetic


@pytest.fixture(scope="session", autouse=True)
def _no_outside_scheduler():
    """Tests run in-process unless they start their own loopback cluster: a DASK_SCHEDULER_ADDRESS in the
    developer's environment must not send them (or the notebooks they run) to a real cluster."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(grid.SCHEDULER_ENV, raising=False)
        yield


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


@pytest.fixture
def glas_root(tmp_path: Path) -> Path:
    return write_glas(tmp_path / "glas")


@pytest.fixture
def cub_root(tmp_path: Path) -> Path:
    return write_cub(tmp_path / "cub")


@pytest.fixture(scope="session")
def synth_glas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small GlaS-like benchmark (17 training, 8 test images)."""
    return synthetic.write_glas_like(tmp_path_factory.mktemp("synth") / "glas", seed=0, scale=0.2)


@pytest.fixture(scope="session")
def tiny_cfg() -> config.Config:
    """CPU-cheap settings: 32-px crops, width-8 head, a few epochs."""
    return config.get("smoke", dataset="glas", min_side=40, crop=32, scale=1.0, seg_width=8, cl_epochs=2,
                      seg_epochs=2, cl_batch=8, seg_batch=8, eval_batch=8, device="cpu")
