"""Image and mask files as tensors: an RGB image, a mask by a dataset's rule (an instance map, a soft mask, or one's
own masks at any bit depth, :func:`mask_foreground`), and the notes and warnings a mask gets once per file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..core.images import rgb8
from ..errors import DataError
from ..progress import progress_line


def _open(path: Path) -> Image.Image:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        img = Image.open(path)
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"{path}: unreadable image ({exc})") from exc
    return img


def read_image(path: Path) -> torch.Tensor:
    """An image file as float32 ``3xHxW`` in [0, 1], at any bit depth (:mod:`paperlib.core.images`)."""
    arr = np.asarray(rgb8(_open(path), path), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


MASK_RULES = ("nonzero", "majority", "half")
_GREY_MODES = ("1", "L", "I", "I;16", "I;16L", "I;16B", "I;16N")


def read_mask(path: Path, rule: str) -> torch.Tensor:
    """A mask file as float32 ``1xHxW`` in {0, 1}: nonzero (``"nonzero"``, instance map), > 127.5 (``"majority"``,
    soft mask) or the rule of one's own masks (``"half"``, :func:`mask_foreground`)."""
    img = _open(path)
    if rule == "half":
        fg = mask_foreground(img, path)
    else:
        arr = np.asarray(img if img.mode in ("L", "I", "I;16", "P", "1") else img.convert("L"))
        if arr.ndim == 3:
            arr = arr[..., 0]
        fg = arr != 0 if rule == "nonzero" else arr.astype(np.float64) > 127.5
    return torch.from_numpy(fg.astype(np.float32))[None]


def mask_foreground(img: Image.Image, path: Path) -> np.ndarray:
    """``HxW`` bool: the object's pixels of one's own mask (a dataset file's, an annotator's), whatever its bit depth.

    A grey mask (8 or 16 bits, or RGB with equal channels) is read by :func:`grey_foreground`: the object is the
    values above half the file's range (> 127 for 8 bits, > 32767 for 16 bits), or every nonzero pixel when no
    value is above half (a 0/1 mask, a label map). A colour or palette mask: every pixel that is not black (or
    palette index 0), alpha ignored, as always."""
    grey = grey_values(img)
    if grey is not None:
        return grey_foreground(grey, path)
    arr = np.asarray(img if img.mode == "P" else img.convert("L"))
    return arr != 0


def grey_values(img: Image.Image) -> np.ndarray | None:
    """The values of a grey mask (modes ``1``, ``L``, ``I``, ``I;16``; RGB, RGBA or LA whose colour channels are
    equal and which is opaque), at the file's bit depth; ``None`` for a colour or palette mask."""
    if img.mode in _GREY_MODES:
        return np.asarray(img)
    if img.mode in ("RGB", "RGBA", "LA"):
        arr = np.asarray(img.convert("RGBA"))
        if (arr[..., :3] == arr[..., :1]).all() and (arr[..., 3] == 255).all():
            return arr[..., 0]
    return None


def grey_foreground(arr: np.ndarray, path: Path) -> np.ndarray:
    """``HxW`` bool of a grey mask's values: above half the value range of its type (> 127 for 8 bits, > 32767 for
    16 bits, 32-bit values up to 65535 taken as 16-bit), or nonzero when no value is above half (0/1 masks, label
    maps 1, 2, ...). Values other than the lowest and the highest (an anti-aliased export's grey edges) are read
    so too, with a note naming the file (once)."""
    if arr.dtype == bool:
        return arr
    hi, lo = int(arr.max()), int(arr.min())
    top = 255 if arr.dtype == np.uint8 else 65535 if arr.dtype == np.uint16 or hi <= 65535 else 2**31 - 1
    half = top // 2
    if hi <= half:
        return arr != 0
    mid = (arr != hi) & (arr != lo)
    if mid.any() and path not in _noted:
        _noted.add(path)
        progress_line(f"note: {path}: not a binary mask ({int(mid.sum())} pixel(s) of values between {lo} and {hi}, "
                      f"e.g. {int(arr[mid].flat[0])}); the object is read as the values above {half} (half of "
                      f"0-{top})")
    return arr > half


def warn_blank_mask(mask: torch.Tensor, image: Path | str, path: Path | str) -> None:
    """A warning line naming ``image`` when its mask (``path``) is empty or full (e.g. an inverted export), once
    per mask file; the mask is used as it is."""
    if path in _warned:
        return
    n = int(mask.count_nonzero())
    if 0 < n < mask.numel():
        return
    _warned.add(path)
    what = "empty (no object pixel)" if n == 0 else "full (every pixel is the object)"
    progress_line(f"warning: {image}: its mask {path} is {what}; used as it is (an inverted or blank export?)")


_noted: set[Path] = set()  # mask files already noted as not binary
_warned: set[Path | str] = set()  # mask files already warned of as empty or full


def image_file_size(path: Path, where: str = "") -> tuple[int, int]:
    """``(W, H)`` from an image file's header; a missing or unreadable file is a :class:`DataError` naming it
    (after ``where``, e.g. a dataset file's line)."""
    at = f"{where}: " if where else ""
    if not path.is_file():
        raise DataError(f"{at}{path}: file not found")
    try:
        with Image.open(path) as img:
            return img.size
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"{at}{path}: unreadable image ({exc})") from exc
