"""Notebooks in JupyterLab in headless Chromium (:mod:`tests.browser.lab_harness`), used as a person uses them: 04's
round browser after Run All on the smoke profile, and 07's mask-drawing widget."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paperlib.notebook import round_browser
from tests.browser import lab_harness, lab_server

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "notebooks/04_active_learning.ipynb"
IMAGES = ".widget-output img"


@pytest.fixture
def chromium():
    """Headless Chromium, or a skip saying what is missing (Playwright, or a Chromium to drive)."""
    try:
        lab_harness.check_available()
    except lab_harness.BrowserUnavailable as exc:
        pytest.skip(f"no real browser: {exc}")
    with lab_harness.chromium() as b:
        yield b


def _copy_notebook(root: Path) -> Path:
    """04 in a scratch project (data goes to ../data beside it), results and figures in the scratch folder, glas
    only and two methods so that Run All stays short."""
    return lab_harness.parameterized_copy(ROOT / NOTEBOOK, {"results_dir": str(root / "results"),
                                                            "figures_dir": str(root / "figures"), "dataset": "glas",
                                                            "methods": "Random,Label_prop"}, root / NOTEBOOK)


def _images(page) -> list[str]:
    """The round browser's pictures (their data URLs), in order."""
    return page.locator(IMAGES).evaluate_all("els => els.map(e => e.src)")


def _wait_images_change(page, before: list[str]) -> list[str]:
    page.wait_for_function("([sel, before]) => { const s = [...document.querySelectorAll(sel)].map(e => e.src);"
                           " return s.length >= 2 && s.join() !== before; }", arg=[IMAGES, ",".join(before)])
    return _images(page)


def test_round_browser_after_run_all(chromium, tmp_path: Path):
    start = time.monotonic()
    notebook = _copy_notebook(tmp_path)
    runs = tmp_path / "results" / "smoke" / "glas" / "runs"
    with lab_server.jupyter_lab(tmp_path) as lab:
        page = lab_harness.open_notebook(chromium, lab, notebook)
        lab_harness.run_all(page, lab, notebook, timeout=170)
        assert all(p.strip("[]:").isdigit() for p in lab_harness.prompts(page)), lab_harness.prompts(page)

        # on opening it shows a finished session's round: the first run with one, its images and training curves
        run = lab_harness.dropdown(page, "run")
        run.scroll_into_view_if_needed()
        assert run.input_value() == "Label_prop / seed_0"  # the option's label: method / seed
        assert (runs / "Label_prop" / "seed_0" / "checkpoints" / "round_00.pt").is_file()
        page.wait_for_function("sel => document.querySelectorAll(sel).length >= 2", arg=IMAGES)
        shown = page.locator(".widget-output").first.inner_text()
        assert "q1:" in shown and round_browser.NO_ROUND not in shown
        first = _images(page)

        # another session, then another round: the images change
        run.select_option(label="Random / seed_0")
        second = _wait_images_change(page, first)
        handle = lab_harness.slider(page, "query q")
        handle.focus()
        handle.press("ArrowRight")
        _wait_images_change(page, second)
        assert "q2:" in page.locator(".widget-output").first.inner_text()

        assert lab_harness.error_outputs(page) == []
        lab_harness.hide_sidebar(page)
        shot = lab_harness.shoot(page, tmp_path / "round_browser.png", -1)
        lab_harness.save(page)
        assert lab_harness.notebook_errors(notebook) == []
    assert shot.stat().st_size > 10_000
    print(f"browser test: {time.monotonic() - start:.0f} s")


def test_annotate_a_round_in_jupyterlab(chromium, tmp_path: Path):
    """07: a stroke drawn with the mouse on the canvas is saved as the folder oracle's mask, under the stroke; the
    session's next round trains on it. At a 1366x768 laptop screen, without horizontal scrolling."""
    notebook = lab_harness.parameterized_copy(ROOT / "notebooks" / "07_annotate.ipynb", {
        "results_dir": str(tmp_path / "results"), "figures_dir": str(tmp_path / "figures"), "dataset": "glas",
        "overrides": "rounds:2"}, tmp_path / "notebooks" / "07_annotate.ipynb")
    run = tmp_path / "results" / "smoke" / "glas" / "runs" / "Label_prop__annotated" / "seed_0"
    round0 = run / "queries" / "round_00"
    with lab_server.jupyter_lab(tmp_path) as lab:
        page = lab_harness.open_notebook(chromium, lab, notebook, width=1366, height=768)
        lab_harness.run_all(page, lab, notebook, timeout=150)
        with open(round0 / "suggestions.csv", newline="") as fh:
            ids = [Path(r["image"]).stem for r in csv.DictReader(fh)]
        canvas = page.locator(".jp-OutputArea canvas").first
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        width, height = Image.open(round0 / f"{ids[0]}.png").size
        # a stroke with the mouse from 20% to 70% across the image, 40% down
        path = [(box["x"] + box["width"] * f, box["y"] + box["height"] * 0.4) for f in np.linspace(0.2, 0.7, 12)]
        page.mouse.move(*path[0])
        page.mouse.down()
        for x, y in path[1:]:
            page.mouse.move(x, y)
        page.mouse.up()
        widget = page.locator(".jp-OutputArea .widget-vbox").first
        widget.locator("button", has_text="save").click()
        page.wait_for_function("() => document.body.innerText.includes('saved 1 mask(s)')")
        lab_harness.shoot(page, tmp_path / "annotate.png")
        mask_file = round0 / f"{ids[0]}_mask.png"
        assert mask_file.is_file() and not (round0 / f"{ids[1]}_mask.png").exists()  # untouched: nothing written
        mask = np.asarray(Image.open(mask_file)) > 0
        assert mask.shape == (height, width)  # the image's own resolution, whatever size it is shown at
        ys, xs = np.nonzero(mask)
        to_image, radius = width / box["width"], 8  # the canvas shows the image scaled; the brush's default size
        x0, x1 = ((p[0] - box["x"]) * to_image for p in (path[0], path[-1]))
        y = (path[0][1] - box["y"]) * to_image
        assert len(xs) and xs.min() >= x0 - radius - 2 and xs.max() <= x1 + radius + 2  # under the stroke only
        assert np.abs(ys - y).max() <= radius + 2 and xs.max() - xs.min() >= 0.8 * (x1 - x0)
        # the keys work on the focused canvas: n is the next image; the other images: accept the model's
        # suggestion (a), save, then train the round on the masks
        canvas.focus()
        page.keyboard.press("n")
        page.wait_for_function("() => document.body.innerText.includes('image 2 of')")
        widget.locator("button", has_text="accept suggestion").click()
        for _ in ids[2:]:
            widget.locator("button", has_text="next").click()
            widget.locator("button", has_text="accept suggestion").click()
        widget.locator("button", has_text="save").click()
        train = widget.locator("button", has_text="train this round")
        page.wait_for_function("b => !b.disabled", arg=train.element_handle())
        train.click()
        page.wait_for_function("() => document.body.innerText.includes('round 1')", timeout=120_000)
        sideways = page.evaluate("() => [...document.querySelectorAll('.jp-Notebook, .jp-WindowedPanel-outer')]"
                                 ".some(e => e.scrollWidth > e.clientWidth + 1)")
        assert not sideways  # no horizontal scrolling at 1366x768, the file browser open
        lab_harness.save(page)
        assert lab_harness.notebook_errors(notebook) == []
    assert (run / "checkpoints" / "round_00.pt").is_file()  # the next round trained on the drawn mask
    trained_on = np.asarray(Image.open(run / "oracle_masks" / f"{ids[0]}.png")) > 0
    assert np.array_equal(trained_on, mask)
