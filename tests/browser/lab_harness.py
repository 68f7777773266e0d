r"""Notebooks in JupyterLab in a real browser: headless Chromium driven by Playwright (the ``browser`` extra) over a
throwaway JupyterLab server (:mod:`tests.browser.lab_server`), used as a person uses it: open a notebook, Run All, pick
widget options, screenshots. Used by ``tests/test_jupyterlab.py`` and for screenshots::

    python -m tests.browser.lab_harness screenshot notebooks/04_active_learning.ipynb 04.png \
        --run --cell -1 -p profile=demo
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .lab_server import Lab, jupyter_lab

CHROMIUM_ENV = "PAPERLIB_CHROMIUM"  # a Chromium or Chrome executable to use instead of the ones searched for
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")
# JupyterLab 4's and ipywidgets 8's markup: the part that a new JupyterLab may break
NOTEBOOK = ".jp-NotebookPanel"
CELL = ".jp-Notebook .jp-Cell"
PROMPT = ".jp-Notebook .jp-CodeCell .jp-InputPrompt"
ERROR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
TAB = ".lm-DockPanel-tabBar .lm-TabBar-tab"
DIRTY_TAB = ".lm-TabBar-tab.jp-mod-current.jp-mod-dirty"
MENUBAR_ITEM = ".lm-MenuBar-item"
MENU_ITEM = ".lm-Menu:visible .lm-Menu-itemLabel"
LEFT_PANEL = "#jp-left-stack:visible"
LEFT_TAB_CURRENT = ".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current"


class BrowserUnavailable(RuntimeError):
    """Chromium or Playwright is missing: a browser test skips with this message."""


def find_chromium() -> str:
    """The Chromium to drive: ``$PAPERLIB_CHROMIUM``, else Debian's ``/usr/bin/chromium``, else one on the PATH."""
    if os.environ.get(CHROMIUM_ENV):
        path = shutil.which(os.environ[CHROMIUM_ENV])
        if not path:  # a wrong setting is an error, not a missing browser
            raise FileNotFoundError(f"${CHROMIUM_ENV}={os.environ[CHROMIUM_ENV]!r} is not an executable")
        return path
    for name in CHROMIUM_CANDIDATES:
        if path := shutil.which(name):
            return path
    raise BrowserUnavailable("Chromium not found (looked for " + ", ".join(CHROMIUM_CANDIDATES) + "): install it "
                             f"(Debian: apt-get install -y chromium) or set ${CHROMIUM_ENV} to a Chromium executable")


def _sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BrowserUnavailable("playwright is not importable: pip install -e '.[browser]' (its own browser "
                                 "download is not needed: the system Chromium is used)") from exc
    return sync_playwright


@contextlib.contextmanager
def chromium(executable: str | None = None) -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``) for the ``with`` block; :class:`BrowserUnavailable` when
    Playwright or Chromium is missing. Playwright's own browser downloads are never used."""
    sync_playwright = _sync_playwright()
    path = executable or find_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def prompts(page) -> list[str]:
    """The code cells' input prompts: ``[3]:`` ran, ``[*]:`` running or queued, ``[ ]:`` not run."""
    return [t.strip() for t in page.locator(PROMPT).all_inner_texts()]


def wait_idle(page, lab: Lab, notebook: str | Path, timeout: float = 600.0, settle: float = 1.0) -> None:
    """Wait until the notebook's kernel is idle and no cell waits to run (no ``[*]`` prompt), ``settle`` seconds in a
    row (a Run All passes through idle between cells)."""
    deadline, since = time.monotonic() + timeout, None
    while True:
        quiet = lab.kernel_state(notebook) == "idle" and not any("*" in p for p in prompts(page))
        now = time.monotonic()
        since = (since or now) if quiet else None
        if since is not None and now - since >= settle:
            return
        if now > deadline:
            raise TimeoutError(f"{notebook}: the kernel is still busy after {timeout:.0f} s (prompts "
                               f"{prompts(page)})")
        page.wait_for_timeout(250)


def open_notebook(browser, lab: Lab, notebook: str | Path, *, width: int = 1280, height: int = 900,
                  timeout: float = 120.0):
    """A new page with ``notebook`` open in JupyterLab and its kernel started and idle; returns the page."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(timeout * 1000)
    page.goto(lab.notebook_url(notebook))
    page.locator(NOTEBOOK).wait_for(state="visible")
    page.locator(CELL).first.wait_for(state="visible")
    wait_idle(page, lab, notebook, timeout)
    return page


def _exactly(text: str) -> re.Pattern:
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


def menu(page, *path: str) -> None:
    """Click through the menu bar by labels, e.g. ``menu(page, "Run", "Run All Cells")``."""
    page.locator(MENUBAR_ITEM).filter(has_text=_exactly(path[0])).first.click()
    for label in path[1:]:
        page.locator(MENU_ITEM).filter(has_text=_exactly(label)).first.click()


def hide_sidebar(page) -> None:
    """Close the left sidebar (the file browser a fresh workspace opens with), for a screenshot of the notebook
    only."""
    if page.locator(LEFT_PANEL).count():
        page.locator(LEFT_TAB_CURRENT).first.click()
        page.locator(LEFT_PANEL).wait_for(state="hidden")


def run_all(page, lab: Lab, notebook: str | Path, timeout: float = 600.0) -> None:
    """Run > Run All Cells, then wait until the kernel is done (:func:`wait_idle`)."""
    page.locator(TAB, has_text=Path(notebook).name).first.click()  # the notebook is the current widget
    menu(page, "Run", "Run All Cells")
    wait_idle(page, lab, notebook, timeout)


def error_outputs(page) -> list[str]:
    """The text of every error and stderr output shown in the notebook, widget outputs included (JupyterLab shows
    both with the stderr mime type)."""
    return page.locator(ERROR).all_inner_texts()


def notebook_errors(path: str | Path) -> list[str]:
    """The error outputs (``ename: evalue``) of a notebook file, e.g. after :func:`save`."""
    nb = json.loads(Path(path).read_text())
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in nb["cells"] for o in c.get("outputs", [])
            if o.get("output_type") == "error"]


def parameterized_copy(notebook: str | Path, parameters: dict[str, Any], dest: str | Path) -> Path:
    """Write ``notebook`` to ``dest`` with papermill's injected-parameters cell after its ``parameters`` cell, not
    executed (put ``dest`` beside the original when the notebook uses relative paths such as ``../results``)."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = parameterize_notebook(load_notebook_node(str(notebook)), parameters)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return dest


def check_available() -> str:
    """The Chromium to drive, once Playwright imports; :class:`BrowserUnavailable` says what is missing."""
    _sync_playwright()
    return find_chromium()


def save(page, timeout: float = 30.0) -> None:
    """File > Save Notebook, and wait until the tab is no longer marked unsaved."""
    menu(page, "File", "Save Notebook")
    page.locator(DIRTY_TAB).wait_for(state="detached", timeout=timeout * 1000)


def dropdown(page, description: str):
    """The ``<select>`` of the ipywidgets Dropdown labelled ``description`` (``.select_option(label=...)``)."""
    return page.locator(f".widget-dropdown:has(> label:text-is('{description}')) select")


def slider(page, description: str):
    """The handle of the ipywidgets slider labelled ``description`` (focus it, then press ArrowRight / ArrowLeft)."""
    return page.locator(f".widget-slider:has(> label:text-is('{description}')) .noUi-handle")


def cell(page, index: int):
    """The notebook's cell ``index`` (from the end when negative)."""
    cells = page.locator(CELL)
    return cells.nth(index if index >= 0 else cells.count() + index)


def shoot(page, out: str | Path, index: int | None = None) -> Path:
    """A PNG of the page, or of one cell (:func:`cell`) scrolled into view."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if index is None:
        page.screenshot(path=str(out))
    else:
        target = cell(page, index)
        target.scroll_into_view_if_needed()
        target.screenshot(path=str(out))
    return out


def screenshot(notebook: str | Path, out: str | Path, *, root_dir: str | Path | None = None, run: bool = False,
               index: int | None = None, parameters: dict[str, Any] | None = None, width: int = 1280,
               height: int = 900, sidebar: bool = False, timeout: float = 1800.0,
               select: dict[str, str] | None = None, slide: dict[str, int] | None = None) -> Path:
    """Open ``notebook`` in a throwaway JupyterLab (serving ``root_dir``, default the notebook's folder), with
    ``parameters`` injected as papermill does, run all its cells when ``run`` (widgets only show in a live kernel),
    then pick options of dropdowns (``select``: description -> option label) and move sliders (``slide``:
    description -> steps to the right) as a person would, and write a PNG of the page or of cell ``index``
    (without the left sidebar unless ``sidebar``)."""
    notebook = Path(notebook).resolve()
    root = Path(root_dir).resolve() if root_dir else notebook.parent
    opened = notebook
    if parameters:  # a copy beside the notebook, so that its relative paths hold, removed afterwards
        opened = parameterized_copy(notebook, parameters, notebook.with_name(f".{notebook.stem}.screenshot.ipynb"))
    try:
        with jupyter_lab(root) as lab, chromium() as browser:
            page = open_notebook(browser, lab, opened, width=width, height=height)
            if not sidebar:
                hide_sidebar(page)
            if run:
                run_all(page, lab, opened, timeout)
            for description, option in (select or {}).items():
                dropdown(page, description).select_option(label=option)
                wait_idle(page, lab, opened, timeout)
            for description, steps in (slide or {}).items():
                handle = slider(page, description)
                handle.focus()
                for _ in range(steps):
                    handle.press("ArrowRight")
                wait_idle(page, lab, opened, timeout)
            return shoot(page, out, index)
    finally:
        if opened != notebook:
            opened.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.browser.lab_harness", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    sp = sub.add_parser("screenshot", help="a PNG of a notebook open in JupyterLab (headless Chromium)")
    sp.add_argument("notebook")
    sp.add_argument("out", help="the PNG to write")
    sp.add_argument("--root", help="the folder JupyterLab serves (default: the notebook's folder)")
    sp.add_argument("--run", action="store_true", help="run all cells first (Run > Run All Cells)")
    sp.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                    help="a notebook parameter (a string), e.g. -p profile=demo; repeatable")
    sp.add_argument("--select", action="append", default=[], metavar="DROPDOWN=OPTION",
                    help="after running, pick an option of a widget dropdown by its label, e.g. --select "
                    "'run=Label_prop / seed_0'; repeatable")
    sp.add_argument("--slide", action="append", default=[], metavar="SLIDER=STEPS",
                    help="after running, move a widget slider that many steps right, e.g. --slide round=9")
    sp.add_argument("--cell", type=int, help="only this cell (0 = first, -1 = last)")
    sp.add_argument("--sidebar", action="store_true", help="keep the left sidebar (file browser) open")
    sp.add_argument("--width", type=int, default=1280)
    sp.add_argument("--height", type=int, default=900)
    sp.add_argument("--timeout", type=float, default=1800.0, help="seconds the run may take")
    args = ap.parse_args(argv)
    bad = [p for p in args.parameter + args.select + args.slide if "=" not in p]
    if bad:
        ap.error(f"-p, --select and --slide take NAME=VALUE, not {bad}")
    try:
        path = screenshot(args.notebook, args.out, root_dir=args.root, run=args.run, index=args.cell,
                          parameters=dict(p.split("=", 1) for p in args.parameter), width=args.width,
                          height=args.height, sidebar=args.sidebar, timeout=args.timeout,
                          select=dict(p.split("=", 1) for p in args.select),
                          slide={k: int(v) for k, v in (p.split("=", 1) for p in args.slide)})
    except BrowserUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
