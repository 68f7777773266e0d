"""Annotating a session's pending round in JupyterLab: the files of the round (:class:`PendingRound`) and a
mask-drawing widget over them (:class:`Annotator`, ipycanvas: the ``annotate`` extra).

The folder oracle (:class:`paperlib.al.oracles.FolderOracle`) asks a round by writing ``<run>/queries/round_RR/``:
``<id>.png``, ``<id>_suggested.png`` and ``suggestions.csv``. The widget shows each queried image with the model's
suggestion, lets a person draw its mask, and saves ``<id>_mask.png`` (0/255, the image's size) beside it, the
layout the folder oracle reads; the session then continues with those masks (``train``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .. import store
from ..al.annotation_files import SUGGESTIONS, mapping_images
from ..errors import require_extra
from ..store import atomic_write_bytes, png_bytes
from .mask_editor import MaskEditor, Point

SHORTCUTS = {"b": "brush", "e": "eraser", "p": "polygon", "Enter": "close the polygon", "z": "undo",
             "a": "accept the suggestion", "n": "next image", "N (shift+n)": "previous image", "s": "save"}


def require() -> None:
    """:class:`~paperlib.errors.ConfigError` naming the extra unless ipycanvas imports."""
    require_extra("annotate")


def _grey_mask(path: Path) -> np.ndarray | None:
    """A 0/255 mask file this module or the folder oracle wrote, as ``HxW`` {0, 1}; ``None`` when it is absent."""
    if not path.is_file():
        return None
    with Image.open(path) as img:
        return (np.asarray(img.convert("L")) > 0).astype(np.uint8)


class PendingRound:
    """The round a session waits on: its number, folder and queried ids (in query order)."""

    def __init__(self, run_folder: str | Path, round_index: int, ids: list[str]) -> None:
        self.run_folder, self.round_index, self.ids = Path(run_folder), round_index, ids
        self.folder = self.run_folder / "queries" / f"round_{round_index:02d}"

    @classmethod
    def of(cls, run_folder: str | Path) -> PendingRound | None:
        """The run folder's pending round: the first round without a checkpoint whose queries were written;
        ``None`` when there is none (the session finished, or has not asked yet)."""
        run = Path(run_folder)
        r = store.RunFolder(run).n_finished()
        listing = run / "queries" / f"round_{r:02d}" / SUGGESTIONS
        if not listing.is_file():
            return None
        return cls(run, r, mapping_images(listing))

    def image(self, sid: str) -> np.ndarray:
        """The queried image ``HxWx3`` uint8."""
        with Image.open(self.folder / f"{sid}.png") as img:
            return np.asarray(img.convert("RGB"))

    def suggestion(self, sid: str) -> np.ndarray | None:
        """The model's suggested mask ``HxW`` {0, 1}, ``None`` if its file is gone."""
        return _grey_mask(self.folder / f"{sid}_suggested.png")

    def mask_path(self, sid: str) -> Path:
        return self.folder / f"{sid}_mask.png"

    def saved(self, sid: str) -> np.ndarray | None:
        """A mask saved before (``HxW`` {0, 1}), to go on editing; ``None`` when there is none."""
        return _grey_mask(self.mask_path(sid))

    def editor(self, sid: str) -> MaskEditor:
        return MaskEditor(self.image(sid), self.suggestion(sid), self.saved(sid))

    def save(self, sid: str, mask: np.ndarray) -> Path:
        """Write ``<id>_mask.png`` (0/255 grey, the image's size) atomically."""
        return atomic_write_bytes(self.mask_path(sid), png_bytes((mask != 0).astype(np.uint8) * 255, "L"))

    def left(self) -> list[str]:
        """The ids without a saved mask."""
        return [sid for sid in self.ids if not self.mask_path(sid).is_file()]


class Annotator:
    """The widget over a :class:`PendingRound`: an ipycanvas canvas at the image's own resolution (shown at most
    ``display_width`` pixels wide), the tools beside it, the shortcuts under it.

    ``train`` (optional) is called by the "train this round" button once every mask is saved; it returns the next
    pending round (or ``None``), which the widget then shows.
    """

    def __init__(self, pending: PendingRound, train: Callable[[], PendingRound | None] | None = None,
                 display_width: int = 720) -> None:
        import ipywidgets as w

        require()
        from ipycanvas import Canvas

        self.pending, self.train = pending, train
        self.editors: dict[str, MaskEditor] = {}
        self.index = 0
        self.stroke: list[Point] = []
        self.polygon: list[Point] = []
        self.canvas = Canvas(width=1, height=1, layout=w.Layout(width="100%", max_width=f"{display_width}px",
                                                                height="auto"))
        self.tool = w.ToggleButtons(options=["brush", "eraser", "polygon"], value="brush",
                                    style={"button_width": "88px"})
        self.size = w.IntSlider(value=8, min=1, max=80, description="size", continuous_update=False)
        self.opacity = w.FloatSlider(value=0.45, min=0.0, max=1.0, step=0.05, description="opacity",
                                     continuous_update=False)
        names = ("undo", "clear", "accept suggestion", "previous", "next", "save", "train this round")
        self.buttons = {n: w.Button(description=n, layout=w.Layout(width="150px")) for n in names}
        self.buttons["save"].button_style = "success"
        self.buttons["train this round"].button_style = "warning"
        self.status = w.HTML()
        self.log = w.Output()
        actions = {"undo": self.undo, "clear": self.clear, "accept suggestion": self.accept, "previous": self.previous,
                   "next": self.next, "save": self.save, "train this round": self.train_round}
        for name, fn in actions.items():
            self.buttons[name].on_click(lambda _b, fn=fn: fn())
        self.opacity.observe(lambda _c: self.draw(), "value")
        self.canvas.on_mouse_down(self.mouse_down)
        self.canvas.on_mouse_move(self.mouse_move)
        self.canvas.on_mouse_up(self.mouse_up)
        self.canvas.on_mouse_out(self.mouse_up)
        self.canvas.on_key_down(self.key_down)
        keys = " · ".join(f"<kbd>{k}</kbd> {v}" for k, v in SHORTCUTS.items())
        tools = w.VBox([self.status, self.tool, self.size, self.opacity, *self.buttons.values()],
                       layout=w.Layout(width="320px", min_width="320px"))
        self.widget = w.VBox([w.HBox([w.Box([self.canvas], layout=w.Layout(flex="1 1 auto", min_width="0")), tools]),
                              w.HTML(f"<small>Keys, with the image focused (Tab to it): {keys}. Polygon: click its "
                                     "corners, then <kbd>Enter</kbd> (or another tool) fills it.</small>"), self.log],
                             layout=w.Layout(max_width="100%"))
        self.show(0)

    # -- which image ---------------------------------------------------------------------------------------------
    @property
    def sid(self) -> str:
        return self.pending.ids[self.index]

    @property
    def editor(self) -> MaskEditor:
        if self.sid not in self.editors:
            self.editors[self.sid] = self.pending.editor(self.sid)
        return self.editors[self.sid]

    def show(self, index: int) -> None:
        """Show image ``index`` of the round (the canvas takes its size)."""
        self.close_polygon()
        self.index = index % len(self.pending.ids)
        h, w = self.editor.size
        if (self.canvas.width, self.canvas.height) != (w, h):
            self.canvas.width, self.canvas.height = w, h
        self.draw()

    def draw(self) -> None:
        """Redraw the image with the mask over it, and the status line."""
        self.canvas.put_image_data(self.editor.overlay(self.opacity.value), 0, 0)
        left = self.pending.left()
        unsaved = "" if not self.editor.touched else " (edited)"
        self.status.value = (f"<b>round {self.pending.round_index}</b>: image {self.index + 1} of "
                             f"{len(self.pending.ids)}, <code>{self.sid}</code>{unsaved}<br>"
                             f"{len(self.pending.ids) - len(left)} saved, {len(left)} left")
        self.buttons["train this round"].disabled = self.train is None or bool(left)

    # -- pointer -------------------------------------------------------------------------------------------------
    def mouse_down(self, x: float, y: float) -> None:
        if self.tool.value == "polygon":
            self.polygon.append((x, y))
            self.canvas.fill_style = "#ffd400"
            self.canvas.fill_circle(x, y, max(2, self.size.value / 4))
            return
        self.stroke = [(x, y)]
        self._dab(x, y)

    def mouse_move(self, x: float, y: float) -> None:
        if self.stroke:
            self.stroke.append((x, y))
            self._dab(x, y)

    def mouse_up(self, x: float | None = None, y: float | None = None) -> None:
        if not self.stroke:
            return
        self.editor.brush(self.stroke, self.size.value, erase=self.tool.value == "eraser")
        self.stroke = []
        self.draw()

    def _dab(self, x: float, y: float) -> None:
        """Immediate feedback while a stroke is drawn (the mask itself changes on mouse up)."""
        self.canvas.fill_style = "rgba(0, 0, 0, 0.5)" if self.tool.value == "eraser" else "rgba(255, 40, 80, 0.6)"
        self.canvas.fill_circle(x, y, self.size.value)

    def close_polygon(self) -> None:
        """Fill the polygon clicked so far (3 corners or more; fewer are dropped)."""
        points, self.polygon = self.polygon, []
        if len(points) >= 3:
            self.editor.fill_polygon(points)
            self.draw()

    def key_down(self, key: str, shift: bool = False, ctrl: bool = False, meta: bool = False) -> None:
        keys: dict[str, Callable[[], Any]] = {
            "b": lambda: self._set_tool("brush"), "e": lambda: self._set_tool("eraser"),
            "p": lambda: self._set_tool("polygon"), "Enter": self.close_polygon, "z": self.undo,
            "a": self.accept, "n": self.next, "N": self.previous, "s": self.save}
        if key in keys and not (ctrl or meta):
            keys[key]()

    def _set_tool(self, name: str) -> None:
        self.close_polygon()
        self.tool.value = name

    # -- buttons -------------------------------------------------------------------------------------------------
    def undo(self) -> None:
        self.polygon = []
        self.editor.undo()
        self.draw()

    def clear(self) -> None:
        self.polygon = []
        self.editor.clear()
        self.draw()

    def accept(self) -> None:
        self.polygon = []
        self.editor.accept_suggestion()
        self.draw()

    def next(self) -> None:
        self.show(self.index + 1)

    def previous(self) -> None:
        self.show(self.index - 1)

    def save(self) -> list[Path]:
        """Write the mask of every image the person touched (drawn, erased, filled, cleared or accepted), and
        nothing for the others; returns the files written."""
        self.close_polygon()
        written = [self.pending.save(sid, ed.mask) for sid, ed in self.editors.items() if ed.touched]
        with self.log:
            print(f"saved {len(written)} mask(s) in {self.pending.folder}" if written else
                  "nothing to save: draw a mask, or accept the suggestion, first")
        self.draw()
        return written

    def train_round(self) -> None:
        """Continue the session with the saved masks, then show its next pending round (if any)."""
        if self.train is None or self.pending.left():
            return
        for b in self.buttons.values():
            b.disabled = True
        with self.log:
            nxt = self.train()
        if nxt is None:
            with self.log:
                print("no pending round: the session finished")
            return
        self.pending, self.editors = nxt, {}
        for b in self.buttons.values():
            b.disabled = False
        self.show(0)


# -- the session around the widget ----------------------------------------------------------------------------------
def run_folder(results_dir: str | Path, cfg: Any, method: str, seed: int) -> Path:
    """Where a session annotated in the notebook lives: ``runs/<method>__annotated/seed_<s>`` (apart from the
    simulated oracle's sessions of ``04``)."""
    return store.run_path(results_dir, cfg.profile, cfg.data.dataset, f"{method}__annotated", seed)


def continue_session(cfg: Any, method: str, seed: int, *, results_dir: str | Path, data_dir: str | Path,
                     folder: str | Path, progress: bool = True) -> PendingRound | None:
    """Start or continue the session in ``folder`` with the folder oracle, through every round whose masks are
    there, until it waits for a round's masks (returned) or finishes (``None``)."""
    from .. import al

    status, run = al.run_session(cfg, method, seed, results_dir=results_dir, data_dir=data_dir, oracle="folder",
                                 run_folder=folder, progress=progress)
    return PendingRound.of(run) if status == "waiting" else None


def describe(pending: PendingRound | None, folder: str | Path) -> str:
    """One line on where the session stands."""
    if pending is None:
        return f"no pending round: the session in {folder} finished every round"
    left = pending.left()
    return (f"round {pending.round_index} waits for the masks of {len(pending.ids)} image(s) "
            f"({len(pending.ids) - len(left)} saved, {len(left)} left) in {pending.folder}")
