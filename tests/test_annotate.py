"""Annotating in the notebook: the mask editor's operations at the image's resolution, and the widget's Python side
over a real pending round of a folder-oracle session (strokes, fills, undo, save, train)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paperlib import config
from paperlib.al.annotation_files import read_annotation
from paperlib.notebook import annotate
from paperlib.notebook.mask_editor import MaskEditor

TINY = {"min_side": 40, "crop": 32, "scale": 1.0, "seg_width": 8, "cl_epochs": 1, "seg_epochs": 1, "rounds": 2,
        "k": 3, "init_per_class": 1, "per_class": 1, "device": "cpu", "synthetic_scale": 0.2, "eval_batch": 16}


def _segment_disc(shape: tuple[int, int], a: tuple[float, float], b: tuple[float, float], r: float) -> np.ndarray:
    """Pixels within ``r`` of the segment a-b, computed point by point (the reference for a stroke)."""
    out = np.zeros(shape, np.uint8)
    (x0, y0), (x1, y1) = a, b
    for y in range(shape[0]):
        for x in range(shape[1]):
            d2 = (x1 - x0) ** 2 + (y1 - y0) ** 2
            t = 0.0 if d2 == 0 else min(1.0, max(0.0, ((x - x0) * (x1 - x0) + (y - y0) * (y1 - y0)) / d2))
            out[y, x] = (x - x0 - t * (x1 - x0)) ** 2 + (y - y0 - t * (y1 - y0)) ** 2 <= r * r
    return out


def test_strokes_fills_undo_at_the_images_resolution():
    image = np.zeros((37, 53, 3), np.uint8)
    suggestion = np.zeros((37, 53), np.uint8)
    suggestion[5:9, 40:50] = 1
    ed = MaskEditor(image, suggestion)
    assert not ed.touched and ed.mask.shape == (37, 53) and ed.mask.sum() == 0
    ed.brush([(10, 10), (30, 12)], radius=3)
    expected = _segment_disc((37, 53), (10, 10), (30, 12), 3)
    assert np.array_equal(ed.mask, expected) and ed.touched
    ed.brush([(20, 11)], radius=2, erase=True)  # a single dab of the eraser
    expected[_segment_disc((37, 53), (20, 11), (20, 11), 2).astype(bool)] = 0
    assert np.array_equal(ed.mask, expected)
    ed.brush([(50, 35), (60, 45)], radius=4)  # off the edge: clipped, no error
    assert ed.mask[33:, 47:].any()
    ed.undo()
    assert np.array_equal(ed.mask, expected)
    ed.fill_polygon([(2, 20), (12, 20), (12, 30), (2, 30)])
    assert ed.mask[20:31, 2:13].all() and ed.mask[20:31, 13].sum() == 0
    ed.accept_suggestion()
    assert np.array_equal(ed.mask, suggestion)
    ed.clear()
    assert ed.mask.sum() == 0
    for _ in range(3):
        assert ed.undo()
    assert np.array_equal(ed.mask, expected)
    assert ed.undo() and ed.undo() and not ed.undo()  # back to the start: untouched again
    assert not ed.touched and ed.mask.sum() == 0
    with pytest.raises(ValueError, match="3 points"):
        ed.fill_polygon([(0, 0), (1, 1)])
    with pytest.raises(ValueError, match="suggestion is 5x4, the image 53x37"):
        MaskEditor(image, np.zeros((4, 5), np.uint8))
    over = MaskEditor(np.full((4, 4, 3), 100, np.uint8), mask=np.eye(4, dtype=np.uint8)).overlay(1.0)
    assert (over[0, 0] == (255, 40, 80)).all() and (over[0, 1] == 100).all()


@pytest.fixture(scope="module")
def waiting(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A folder-oracle Label_prop session that waits for round 0's masks."""
    base = tmp_path_factory.mktemp("annotate")
    cfg = config.get("smoke", dataset="glas", **TINY)
    kw = {"results_dir": base / "results", "data_dir": base / "data", "progress": False}
    folder = annotate.run_folder(kw["results_dir"], cfg, "Label_prop", 0)
    pending = annotate.continue_session(cfg, "Label_prop", 0, folder=folder, **kw)
    return {"cfg": cfg, "kw": kw, "folder": folder, "pending": pending}


def test_pending_round_of_a_waiting_session(waiting):
    pending = waiting["pending"]
    assert pending is not None and pending.round_index == 0 and len(pending.ids) == 2
    assert pending.folder == waiting["folder"] / "queries" / "round_00"
    assert pending.left() == pending.ids
    assert annotate.PendingRound.of(waiting["folder"]).ids == pending.ids
    assert "round 0 waits for the masks of 2 image(s) (0 saved, 2 left)" in annotate.describe(pending, "x")
    assert annotate.PendingRound.of(waiting["folder"] / "nothing") is None


def test_widget_draws_saves_what_the_folder_oracle_reads_and_trains(waiting, tmp_path: Path):
    pending = waiting["pending"]
    trained = []

    def train():
        trained.append(1)
        return annotate.continue_session(waiting["cfg"], "Label_prop", 0, folder=waiting["folder"], **waiting["kw"])

    ui = annotate.Annotator(pending, train=train)
    first, second = pending.ids
    h, w = ui.editor.size
    assert (ui.canvas.width, ui.canvas.height) == (w, h)  # the canvas is at the image's own resolution
    assert ui.buttons["train this round"].disabled  # no mask saved yet
    ui.buttons["save"].click()
    assert pending.left() == [first, second]  # nothing written for an untouched image
    # a stroke of the brush with the mouse, in image pixels
    ui.mouse_down(2, 3)
    ui.mouse_move(8, 3)
    ui.mouse_move(8, 9)
    ui.mouse_up(8, 9)
    drawn = ui.editor.mask.copy()
    ref = MaskEditor(pending.image(first))
    ref.brush([(2, 3), (8, 3), (8, 9)], ui.size.value)
    assert np.array_equal(drawn, ref.mask) and drawn.any()
    ui.key_down("n")  # next image, untouched
    assert ui.sid == second
    ui.key_down("s")
    assert pending.left() == [second]
    saved = read_annotation(pending.mask_path(first), (h, w))  # what the folder oracle's checks accept
    assert np.array_equal(saved.numpy(), drawn)
    assert np.asarray(Image.open(pending.mask_path(first))).max() == 255
    # the polygon tool and undo on the second image
    ui.tool.value = "polygon"
    for x, y in ((1, 1), (10, 1), (10, 10), (1, 10)):
        ui.mouse_down(x, y)
    ui.key_down("Enter")
    assert ui.editor.mask[1:11, 1:11].all()
    ui.buttons["undo"].click()
    assert not ui.editor.mask.any()
    ui.buttons["accept suggestion"].click()
    assert np.array_equal(ui.editor.mask, pending.suggestion(second))
    ui.buttons["save"].click()
    assert pending.left() == [] and not ui.buttons["train this round"].disabled
    ui.buttons["train this round"].click()
    assert trained == [1] and ui.pending.round_index == 1  # round 0 trained on the drawn masks, round 1 shown
    oracle_mask = waiting["folder"] / "oracle_masks" / f"{first}.png"
    assert np.array_equal(np.asarray(Image.open(oracle_mask)) > 0, drawn.astype(bool))
    assert (waiting["folder"] / "checkpoints" / "round_00.pt").is_file()
    ui.previous()  # wraps around
    assert ui.index == len(ui.pending.ids) - 1
