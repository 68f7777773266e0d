"""The state of one mask being drawn: brush and eraser strokes, polygon fills, the model's suggestion as a starting
point, undo. Pure numpy at the image's own resolution; the widget (:mod:`paperlib.notebook.annotate`) only turns pointer
events into these calls, so everything a person can do is tested here without a browser."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

Point = tuple[float, float]  # (x, y) in image pixels, x to the right, y down
UNDO_DEPTH = 50


class MaskEditor:
    """A binary mask ``HxW`` (uint8 {0, 1}) for an image ``HxWx3``.

    ``suggestion`` (``HxW`` {0, 1}, the model's mask) is what :meth:`accept_suggestion` takes; ``mask`` a mask to go
    on editing (one saved before), else the editor starts empty. ``touched`` says whether the person has done
    anything (drawn, erased, filled, cleared or accepted): only a touched mask is saved.
    """

    def __init__(self, image: np.ndarray, suggestion: np.ndarray | None = None, mask: np.ndarray | None = None) -> None:
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be HxWx3, got {image.shape}")
        self.image = image
        self.size = image.shape[:2]
        self.suggestion = None if suggestion is None else self._checked(suggestion, "suggestion")
        self.mask = np.zeros(self.size, np.uint8) if mask is None else self._checked(mask, "mask").copy()
        self.touched = mask is not None
        self._undo: list[tuple[np.ndarray, bool]] = []

    def _checked(self, mask: np.ndarray, name: str) -> np.ndarray:
        if mask.shape != self.size:
            raise ValueError(f"{name} is {mask.shape[1]}x{mask.shape[0]}, the image {self.size[1]}x{self.size[0]}")
        return (mask != 0).astype(np.uint8)

    def _push(self) -> None:
        self._undo.append((self.mask.copy(), self.touched))
        del self._undo[:-UNDO_DEPTH]
        self.touched = True

    def brush(self, points: Sequence[Point], radius: float, erase: bool = False) -> None:
        """Paint (or, with ``erase``, clear) every pixel within ``radius`` of the stroke through ``points``."""
        if not points:
            return
        self._push()
        pts = np.asarray(points, np.float64).reshape(-1, 2)
        segments = np.concatenate([pts[:1], pts]) if len(pts) == 1 else pts
        h, w = self.size
        value = 0 if erase else 1
        for (x0, y0), (x1, y1) in zip(segments[:-1], segments[1:], strict=True):
            xa, xb = int(max(0, np.floor(min(x0, x1) - radius))), int(min(w, np.ceil(max(x0, x1) + radius) + 1))
            ya, yb = int(max(0, np.floor(min(y0, y1) - radius))), int(min(h, np.ceil(max(y0, y1) + radius) + 1))
            if xa >= xb or ya >= yb:
                continue
            yy, xx = np.mgrid[ya:yb, xa:xb]
            dx, dy = x1 - x0, y1 - y0
            t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / max(dx * dx + dy * dy, 1e-12), 0.0, 1.0)
            near = (xx - (x0 + t * dx)) ** 2 + (yy - (y0 + t * dy)) ** 2 <= radius * radius
            self.mask[ya:yb, xa:xb][near] = value

    def fill_polygon(self, points: Sequence[Point], erase: bool = False) -> None:
        """Fill (or clear) the polygon through ``points`` (3 or more), its outline included."""
        if len(points) < 3:
            raise ValueError("a polygon needs 3 points or more")
        self._push()
        canvas = Image.new("L", (self.size[1], self.size[0]), 0)
        ImageDraw.Draw(canvas).polygon([(float(x), float(y)) for x, y in points], fill=1, outline=1)
        self.mask[np.asarray(canvas, bool)] = 0 if erase else 1

    def accept_suggestion(self) -> None:
        """Take the model's suggested mask as it is (an empty one when there is none)."""
        self._push()
        self.mask = np.zeros(self.size, np.uint8) if self.suggestion is None else self.suggestion.copy()

    def clear(self) -> None:
        """Every pixel background."""
        self._push()
        self.mask = np.zeros(self.size, np.uint8)

    def undo(self) -> bool:
        """Go back one step; ``False`` when there is nothing to undo."""
        if not self._undo:
            return False
        self.mask, self.touched = self._undo.pop()
        return True

    def overlay(self, opacity: float, colour: tuple[int, int, int] = (255, 40, 80)) -> np.ndarray:
        """The image ``HxWx3`` uint8 with the mask laid over it at ``opacity`` (0: the image, 1: opaque mask)."""
        out = self.image.astype(np.float32)
        fg = self.mask.astype(bool)
        out[fg] = (1 - opacity) * out[fg] + opacity * np.asarray(colour, np.float32)
        return out.round().astype(np.uint8)
