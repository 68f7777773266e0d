"""Masks as annotation tools write them, read into binary masks, and where a round's masks are found.

Forms (:func:`read_annotation`): a grey mask with values 0/255 or 0/1 (modes ``1``, ``L``, ``I``, or RGB with equal
channels); a palette PNG (foreground: every pixel whose palette colour is not the background colour); an RGB or
RGBA colour mask (foreground: not the background colour, and not transparent). The background colour is black
unless a tool's label map says otherwise.

Layouts of a round folder (:func:`find_masks`), so that a person can annotate in a tool and hand the export back
without renaming files:

- ``<id>_mask.png`` (or ``.bmp``) beside each queried image;
- a CVAT "Segmentation mask 1.1" export unpacked in the folder (``labelmap.txt``, ``SegmentationClass/<id>.png``;
  the ``background`` label's colour is the background);
- a mapping file ``masks.csv`` with a header ``image,mask``: the queried image's id (or file name) and the mask's
  path relative to the round folder (e.g. Label Studio's PNG export, whose files are named by task).

The folder oracle also writes the model's suggested masks (``<id>_suggested.png``, 0/255) in the other layouts, as
pre-annotations: a CVAT export (:func:`write_cvat`, in ``preannotations_cvat/``) and a mapping file
``suggestions.csv`` (:func:`write_mapping`); neither is read as an answer (copying ``suggestions.csv`` to
``masks.csv`` accepts every suggestion as it is).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..errors import AnnotationError
from ..store import atomic_write_bytes, atomic_write_text

Colour = tuple[int, int, int]
BLACK: Colour = (0, 0, 0)
MAPPING = "masks.csv"  # the mapping file of a round folder
CVAT_LABELMAP = "labelmap.txt"
PREANNOTATIONS = "preannotations_cvat"  # the model's suggestions of a round, as a CVAT export to import
SUGGESTIONS = "suggestions.csv"  # the model's suggestions of a round, as a mapping file
OBJECT: Colour = (250, 50, 83)  # the object's colour in written colour masks


def read_annotation(path: Path, size: tuple[int, int], background: Colour = BLACK) -> torch.Tensor:
    """The binary mask ``HxW`` (uint8 {0, 1}) of an annotation file, checked against the image's ``size``
    ``(H, W)``."""
    try:
        with Image.open(path) as img:
            img.load()
            fg = _foreground(img, path, background)
    except (UnidentifiedImageError, OSError) as exc:
        raise AnnotationError(f"{path}: unreadable image ({exc})") from exc
    if fg.shape != tuple(size):
        raise AnnotationError(f"{path}: mask size {fg.shape[1]}x{fg.shape[0]} differs from the image's "
                              f"{size[1]}x{size[0]}")
    return torch.from_numpy(fg.astype(np.uint8))


def _foreground(img: Image.Image, path: Path, background: Colour) -> np.ndarray:
    """``HxW`` bool: the pixels of ``img`` that are the object."""
    if img.mode in ("P", "PA"):  # a palette mask: by each index's colour
        return _not_background(np.asarray(img.convert("RGBA")), background)
    if img.mode in ("RGB", "RGBA", "LA"):
        arr = np.asarray(img.convert("RGBA"))
        if (arr[..., :3] == arr[..., :1]).all() and (arr[..., 3] == 255).all():
            return _binary(arr[..., 0], path)  # a grey mask saved as RGB
        return _not_background(arr, background)
    arr = np.asarray(img)
    if arr.dtype == bool:
        return arr
    return _binary(arr, path)


def _not_background(rgba: np.ndarray, background: Colour) -> np.ndarray:
    return (rgba[..., :3] != np.asarray(background, dtype=rgba.dtype)).any(-1) & (rgba[..., 3] > 0)


def _binary(arr: np.ndarray, path: Path) -> np.ndarray:
    values = set(np.unique(arr).tolist())
    if not (values <= {0, 255} or values <= {0, 1}):
        bad = sorted(values - {0, 1, 255})[:5]
        raise AnnotationError(f"{path}: grey mask is not binary (values {bad}...); use 0 for background and 255 "
                              "(or 1) for the object, or a colour mask on a black background")
    return arr > 0


def cvat_background(labelmap: Path) -> Colour:
    """The colour of the ``background`` label of a CVAT ``labelmap.txt`` (``label:r,g,b:parts:actions`` lines);
    black when it names none."""
    for lineno, line in enumerate(labelmap.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, rest = line.partition(":")
        if name.strip().lower() != "background":
            continue
        try:
            r, g, b = (int(v) for v in rest.split(":")[0].split(","))
        except ValueError:
            raise AnnotationError(f"{labelmap}, line {lineno}: expected background:R,G,B::, got {line!r}") from None
        return r, g, b
    return BLACK


def write_cvat(folder: Path, masks: dict[str, np.ndarray], label: str = "object") -> Path:
    """``masks`` (id -> ``HxW`` {0, 1}) as a CVAT "Segmentation mask 1.1" export in ``folder`` (``labelmap.txt``,
    ``ImageSets/Segmentation/default.txt``, ``SegmentationClass/<id>.png``): pre-annotations to import into CVAT,
    and a layout :func:`find_masks` reads back. Each file is written atomically."""
    for sid, mask in masks.items():
        rgb = np.zeros((*mask.shape, 3), np.uint8)
        rgb[np.asarray(mask) > 0] = OBJECT
        buf = io.BytesIO()
        Image.fromarray(rgb, "RGB").save(buf, format="PNG")
        atomic_write_bytes(folder / "SegmentationClass" / f"{sid}.png", buf.getvalue())
    atomic_write_text(folder / "ImageSets" / "Segmentation" / "default.txt", "".join(f"{i}\n" for i in masks))
    atomic_write_text(folder / CVAT_LABELMAP, "# label:color_rgb:parts:actions\nbackground:0,0,0::\n"
                      f"{label}:{','.join(map(str, OBJECT))}::\n")
    return folder


def write_mapping(path: Path, masks: dict[str, str]) -> Path:
    """A mapping file (header ``image,mask``) at ``path``: image file name -> mask path relative to its folder."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([("image", "mask"), *masks.items()])
    atomic_write_text(path, buf.getvalue())
    return path


def mapping_images(path: Path) -> list[str]:
    """The image ids (file stems) a mapping file lists, in order (the round's queries, in ``suggestions.csv``)."""
    with open(path, newline="") as fh:
        return [Path(row["image"]).stem for row in csv.DictReader(fh)]


def find_masks(folder: Path, ids: Sequence[str]) -> dict[str, tuple[Path, Colour]]:
    """Where the masks of ``ids`` are in a round ``folder`` (every layout of the module docstring), with the
    background colour of each; ids without a mask are left out. Two masks for one id is an error."""
    found: dict[str, list[tuple[Path, Colour]]] = {i: [] for i in ids}
    for i in ids:
        found[i] += [(p, BLACK) for p in (folder / f"{i}_mask.png", folder / f"{i}_mask.bmp") if p.is_file()]
    for labelmap in sorted({*folder.glob(CVAT_LABELMAP), *folder.glob(f"*/{CVAT_LABELMAP}")}):
        if labelmap.parent.name == PREANNOTATIONS:  # the model's suggestions, not an answer
            continue
        background = cvat_background(labelmap)
        for i in ids:
            p = labelmap.parent / "SegmentationClass" / f"{i}.png"
            if p.is_file():
                found[i].append((p, background))
    if (folder / MAPPING).is_file():
        for i, p in _mapping(folder / MAPPING, ids).items():
            found[i].append((p, BLACK))
    for i, paths in found.items():
        if len(paths) > 1:
            raise AnnotationError(f"{folder}: two masks for {i}: {paths[0][0]} and {paths[1][0]}; keep one")
    return {i: paths[0] for i, paths in found.items() if paths}


def _mapping(path: Path, ids: Sequence[str]) -> dict[str, Path]:
    """The rows of a mapping file: queried id -> mask file (checked to exist)."""
    known = set(ids)
    out: dict[str, Path] = {}
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or [c.strip().lower() for c in rows[0]] != ["image", "mask"]:
        raise AnnotationError(f"{path}, line 1: expected the header image,mask")
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != 2:
            raise AnnotationError(f"{path}, line {lineno}: expected 2 fields image,mask, got {len(row)}")
        image, mask = (c.strip() for c in row)
        key = Path(image).stem if Path(image).stem in known else image
        if key not in known:
            raise AnnotationError(f"{path}, line {lineno}: {image!r} is not an image of this round")
        file = path.parent / mask
        if not file.is_file():
            raise AnnotationError(f"{path}, line {lineno}: mask file {file} not found")
        if key in out:
            raise AnnotationError(f"{path}, line {lineno}: a second mask for {key}")
        out[key] = file
    return out
