"""A session's final model applied to new images, and exported as one file (``python -m paperlib predict``).

The final model is theta0 (or, for WSL and the CAM family, the seed's classifier) with the last finished round's
segmentation head and validation threshold (a CAM-family baseline: its CAM threshold). An exported file holds plain
types and tensors only (it loads with ``torch.load(weights_only=True)``): the weights, the threshold, the class
names, the method and the config's identity sections.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from pathlib import Path

import numpy as np
import torch

from .. import config, store
from ..config import Config, ConfigError
from ..core.methods import CAM_METHODS, parse_method
from ..core.model import JointNet
from ..data import Record, SegDataset
from ..data.image_files import read_image
from ..errors import DataError, StoreError
from ..store import png_bytes
from . import cam_family, predict
from .classifier import saved_classifier
from .learner import theta0_model

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclasses.dataclass
class Final:
    """A session's final model: the network, its threshold (``nan`` for WSL: CAM masks), classes, method, config."""

    model: JointNet
    threshold: float
    class_names: list[str]
    method: str
    cfg: Config


def final_model(run: str | Path) -> Final:
    """The final model of the session in ``run`` (a run folder with at least one finished round)."""
    run = Path(run)
    if not (run / "config.json").is_file():
        raise ConfigError(f"{run}: not a run folder (no config.json)")
    meta = store.read_json(run / "config.json")
    cfg = config.from_identity(meta["profile"], meta["config"])
    done = store.RunFolder(run).finished()
    if not done:
        raise ConfigError(f"{run}: no finished round yet")
    seed = parse_method(meta["method"]).classifier_seed(meta["seed"], cfg.al.theta0)
    saved = saved_classifier(cfg, store.results_of(run)[0], seed)  # checked as every reader checks it
    last = done[-1]
    model = theta0_model(cfg, saved["state"], len(saved["class_names"]), head=last.head)
    return Final(model, float(last.threshold), list(saved["class_names"]), meta["method"], cfg)


def export(final: Final, path: str | Path) -> Path:
    """Write ``final`` as one file that loads with ``torch.load(weights_only=True)``."""
    obj = {"state": {k: v.detach().cpu() for k, v in final.model.state_dict().items()},
           "threshold": final.threshold, "class_names": final.class_names, "method": final.method,
           "profile": final.cfg.profile, "config": final.cfg.identity()}
    return store.save_tensors(path, obj)


def load(path: str | Path) -> Final:
    """An exported model (:func:`export`); a file that is not one is a :class:`~paperlib.errors.StoreError` naming
    it."""
    what = (f"{path}: not a model file written by `python -m paperlib predict --export`, or a damaged one: export "
            "the session's model again (predict --run RUN --export FILE)")
    try:
        obj = store.load_tensors(path)
    except StoreError:
        raise StoreError(what) from None
    keys = ("state", "threshold", "class_names", "method", "profile", "config")
    if not isinstance(obj, dict) or any(k not in obj for k in keys):
        raise StoreError(what)
    cfg = config.from_identity(obj["profile"], obj["config"])
    model = theta0_model(cfg, obj["state"], len(obj["class_names"]))
    return Final(model, float(obj["threshold"]), list(obj["class_names"]), obj["method"], cfg)


def image_files(folder: str | Path, skip: str | Path | None = None) -> list[Path]:
    """The image files (:data:`IMAGE_SUFFIXES`) of a folder and its subfolders, sorted by their path in it; hidden
    folders and ``skip`` (the output folder, when it lies inside) are left out. Two files that would write one
    output (``a.png`` and ``a.tif`` side by side) are a :class:`ConfigError` naming both."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: image folder not found")
    left_out = Path(skip).resolve() if skip is not None else None
    files = []
    for path in sorted(folder.rglob("*")):
        inside = path.relative_to(folder)
        if any(part.startswith(".") for part in inside.parts) or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if not path.is_file() or (left_out is not None and left_out in path.resolve().parents):
            continue
        files.append(path)
    if not files:
        raise ConfigError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)}) in it or its subfolders")
    seen: dict[Path, Path] = {}
    for path in files:
        other = seen.setdefault(_stem(folder, path), path)
        if other != path:
            raise ConfigError(f"{other} and {path} would write the same {_stem(folder, path).name}_mask.png: rename "
                              "one of them")
    return files


def _stem(folder: Path, path: Path) -> Path:
    """Where an image's outputs go under the output folder: its path in ``folder`` without the suffix."""
    return path.relative_to(folder).with_suffix("")


def _readable(files: list[Path]) -> tuple[list[Path], list[str]]:
    """The files that decode as images, and one reason per file that does not (its error's text)."""
    good, bad = [], []
    for path in files:
        try:
            read_image(path)
        except DataError as exc:
            bad.append(str(exc))
        else:
            good.append(path)
    return good, bad


def _predicted(final: Final, folder: Path, files: list[Path], out: Path, device: torch.device | None) -> list[list]:
    """Write the mask and CAM of each of ``files`` (under ``folder``) to ``out``; their ``predictions.csv`` rows."""
    dataset = SegDataset([Record(p.stem, p, None, 0) for p in files], final.class_names, "nonzero")
    family = final.method in CAM_METHODS
    maps = {m.index: m.cam for m in cam_family.iter_maps(final.model, dataset, final.method, final.cfg,
                                                         device=device)} if family else {}
    wsl = family or math.isnan(final.threshold)
    rows = []
    for p in predict.iter_predictions(final.model, dataset, final.cfg, device=device, segmentation=not wsl):
        stem = _stem(folder, files[p.index])
        if family:
            p.cam = maps[p.index]
            mask = p.cam >= final.threshold
        else:
            mask = p.cam_mask if wsl else p.prob >= final.threshold
        store.atomic_write_bytes(out / f"{stem}_mask.png", png_bytes(mask.numpy().astype(np.uint8) * 255, "L"))
        cam = p.cam - p.cam.min()
        cam8 = (255 * cam / max(float(cam.max()), 1e-12)).round().numpy().astype(np.uint8)
        store.atomic_write_bytes(out / f"{stem}_cam.png", png_bytes(cam8, "L"))
        probs = torch.softmax(p.scores, 0).tolist()
        rows.append([files[p.index].relative_to(folder).as_posix(), final.class_names[int(p.scores.argmax())],
                     *(f"{v:.6f}" for v in probs)])
    return rows


MAX_LISTED = 10  # unreadable files named in apply's error


def apply(final: Final, images: str | Path, out: str | Path, device: torch.device | None = None) -> Path:
    """For every image of the folder ``images`` and its subfolders (:func:`image_files`), under ``out`` at its path
    in ``images``: ``<stem>_mask.png`` (0/255: the segmentation at the threshold, the CAM mask for WSL, a CAM-family
    map at its threshold), ``<stem>_cam.png`` (the predicted class's CAM, or the family member's map, scaled to
    0-255), and one row of ``predictions.csv`` (image path, predicted class, a softmax score per class). Returns the
    CSV's path. Files that cannot be read are left out; after the others are written, a :class:`DataError` lists
    them."""
    folder, out = Path(images), Path(out)
    found = image_files(folder, skip=out)
    files, unreadable = _readable(found)
    rows = _predicted(final, folder, files, out, device) if files else []
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([["image", "predicted", *final.class_names], *rows])
    table = store.atomic_write_text(out / "predictions.csv", text.getvalue())
    if unreadable:
        shown = "; ".join(unreadable[:MAX_LISTED]) + (f"; and {len(unreadable) - MAX_LISTED} more"
                                                      if len(unreadable) > MAX_LISTED else "")
        raise DataError(f"{len(unreadable)} of {len(found)} image file(s) under {folder} could not be read and were "
                        f"not predicted ({len(files)} were: {table}): {shown}")
    return table
