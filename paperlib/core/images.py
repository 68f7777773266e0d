"""How an image file's pixels become the 8-bit RGB the method computes with: one rule for every bit depth, used by
the datasets and by the colour histograms alike.

- 8-bit files (grey, palette, RGB, RGBA, ...): converted to RGB as Pillow does, unchanged.
- Integer grey files deeper than 8 bits (16-bit PNG or TIFF, a 12-bit camera's TIFF, 32-bit integers): divided by
  ``2**b - 1`` for the smallest ``b`` of 8, 10, 12, 14 and 16 bits that holds the file's largest value (a 12-bit
  image stored in 16 bits is read as 12-bit), or by that largest value when it needs more than 16 bits.
- Float grey files (32-bit TIFF): taken as they are when every value is in [0, 1], else scaled by the file's own
  range (its minimum to 0, its maximum to 1); a value that is not finite is an error naming the file.

A deeper file is then stored at 8 bits per channel (rounded), grey repeated on the three channels, and a note
names the file once, saying how it was read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError
from ..progress import progress_line

_INTEGER_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")
_DEPTHS = (8, 10, 12, 14, 16)


def rgb8(img: Image.Image, path: Path | str) -> Image.Image:
    """``img`` (opened from ``path``) as an 8-bit RGB image by the rule of this module."""
    if img.mode not in _INTEGER_MODES and img.mode != "F":
        return img.convert("RGB")
    unit, how = unit_grey(np.asarray(img), path)
    _note(path, f"a {_kind(img)} image ({how})")
    grey = np.round(unit * 255.0).astype(np.uint8)
    return Image.fromarray(np.repeat(grey[..., None], 3, axis=2), "RGB")


def unit_grey(arr: np.ndarray, path: Path | str) -> tuple[np.ndarray, str]:
    """An integer or float grey image ``HxW`` as float64 in [0, 1] by this module's rule, and how it was read."""
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise DataError(f"{path}: the image holds values that are not finite (NaN or infinite)")
        lo, hi = float(arr.min()), float(arr.max())
        if lo >= 0.0 and hi <= 1.0:
            return arr.astype(np.float64), f"values {lo:g}-{hi:g}, taken as they are"
        span = hi - lo
        scaled = (arr.astype(np.float64) - lo) / span if span > 0 else np.zeros(arr.shape)
        return scaled, f"values {lo:g}-{hi:g}, scaled by its own range to 0-1"
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0:
        scaled = (arr.astype(np.float64) - lo) / max(hi - lo, 1)
        return scaled, f"values {lo}-{hi}, scaled by its own range to 0-1"
    bits = next((b for b in _DEPTHS if hi <= 2**b - 1), None)
    top = 2**bits - 1 if bits is not None else hi
    what = f"read as {bits}-bit" if bits is not None else "scaled by its largest value"
    return arr.astype(np.float64) / top, f"values {lo}-{hi}, {what} (divided by {top})"


def _kind(img: Image.Image) -> str:
    if img.mode == "F":
        return "32-bit float"
    return "32-bit integer" if img.mode == "I" else "16-bit"


def _note(path: Path | str, what: str) -> None:
    key = str(path)
    if key not in _noted:
        _noted.add(key)
        progress_line(f"note: {path}: {what}, stored at 8 bits per channel (docs/own-data.md#image-files)")


_noted: set[str] = set()  # image files already noted as not 8-bit
