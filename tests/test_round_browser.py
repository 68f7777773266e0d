"""The round browser on real finished smoke sessions: it opens on a finished round, follows the dataset, and never
trains theta0."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

from paperlib import config, store
from paperlib.engine.classifier import classifier_path, load_classifier
from paperlib.errors import MissingFileError
from paperlib.notebook import round_browser as browser

from .helpers import TINY, session_of


def _run(results: Path, cfg: config.Config, method: str) -> Path:
    """The run folder of ``method``'s seed-0 session."""
    return store.run_path(results, cfg.profile, cfg.data.dataset, method, 0)


@pytest.fixture(scope="module")
def finished(shared):  # noqa: F811
    """Finished Label_prop and WSL sessions, and an interrupted Entropy one (no round yet) sorted before them."""
    results = shared["base"] / "results"
    for method in ("Label_prop", "WSL"):
        assert session_of(shared, method, _run(results, shared["cfg"], method)).run() == "finished"
    store.RunFolder(_run(results, shared["cfg"], "Entropy")).checkpoints.mkdir(parents=True)
    return shared


def _kinds(box) -> list[str]:
    """What the browser's output shows: 'text: ...', 'image', or 'error: ...' per output."""
    out = []
    for o in box.children[1].outputs:
        if o["output_type"] == "stream":
            out.append("text: " + o["text"].strip())
        elif o["output_type"] == "error":
            out.append(f"error: {o['ename']}: {o['evalue']}")
        else:
            assert base64.b64decode(o["data"]["image/png"]).startswith(b"\x89PNG")
            out.append("image")
    return out


@pytest.mark.slow
def test_opens_on_a_finished_round_and_follows_the_dataset(finished):
    base, cfg = finished["base"], finished["cfg"]
    cub = config.get("smoke", dataset="cub", **TINY)  # no session of it: the browser must open on glas
    box = browser.round_browser({"cub": cub, "glas": cfg}, base / "results", base / "data")
    dataset, run, rnd = box.children[0].children
    assert dataset.value == "glas"
    assert Path(run.value) == _run(base / "results", cfg, "Label_prop")  # the first with a finished round
    assert run.options[0][0] == "Entropy / seed_0 (no finished round)"
    assert rnd.max == cfg.al.rounds  # the paper's q1..qR
    shown = _kinds(box)
    assert shown[0].startswith("text: q1: 2 labeled") and shown[1:] == ["image", "image"]  # masks, training
    assert browser.NO_ROUND not in " ".join(shown)

    rnd.value = 3
    last = _kinds(box)
    assert last[0].startswith("text: q3: 6 labeled") and last[1:] == ["image", "image"]
    run.value = str(_run(base / "results", cfg, "Entropy"))
    assert _kinds(box) == [f"text: {browser.NO_ROUND}"]
    assert rnd.max == rnd.value == 1
    run.value = str(_run(base / "results", cfg, "WSL"))  # a fixed baseline: one round, no training
    wsl = _kinds(box)
    assert wsl[0].startswith("text: q1: 0 labeled, 0 pseudo-labeled")
    assert wsl[1:] == ["text: this run has no queried or pseudo-labeled images (fixed baseline)"]

    dataset.value = "cub"
    assert run.value == "" and _kinds(box)[0].startswith("text: no session of cub")
    dataset.value = "glas"  # back: a finished run is selected again
    assert Path(run.value) == _run(base / "results", cfg, "Label_prop")
    assert not any(k.startswith("error") for k in _kinds(box))


def test_never_trains_theta0(finished, tmp_path: Path):
    """A results folder with a finished session but no theta0 (or one made with other settings): the browser says
    which step makes it, and writes nothing."""
    base, cfg = finished["base"], finished["cfg"]
    results = tmp_path / "results"
    run = _run(results, cfg, "Label_prop")
    shutil.copytree(_run(base / "results", cfg, "Label_prop"), run)
    theta0 = classifier_path(results, cfg)
    box = browser.round_browser({"glas": cfg}, results, base / "data")
    _, run_widget, rnd = box.children[0].children
    assert Path(run_widget.value) == run
    missing = f"text: {theta0} (theta0 of smoke/glas) is missing: run notebook 03_wsl_baseline"
    assert len(_kinds(box)) == 1 and _kinds(box)[0].startswith(missing)
    rnd.value = 2  # another round: the same message, still nothing trained
    assert len(_kinds(box)) == 1 and _kinds(box)[0].startswith(missing)
    assert sorted(p.name for p in theta0.parent.iterdir()) == ["runs"]  # no theta0.pt, no lock file
    with pytest.raises(MissingFileError, match="is missing"):
        load_classifier(cfg, results)

    shutil.copyfile(classifier_path(base / "results", cfg), theta0)  # theta0 there now: the same widget shows it
    rnd.value = 1
    shown = _kinds(box)
    assert shown[0].startswith("text: q1: 2 labeled") and shown[1:] == ["image", "image"]

    other = config.get("smoke", dataset="glas", **{**TINY, "cl_epochs": 2})  # theta0 made with other settings
    saved = theta0.read_bytes()
    other_box = browser.round_browser({"glas": other}, results, base / "data")
    assert _kinds(other_box) == [
        f"text: {theta0} (theta0 of smoke/glas) was made with other settings (cl_epochs: 1 in the "
        "file, 2 requested): run notebook "
        "03_wsl_baseline (or any session of smoke/glas) first, which trains it"
    ]
    assert theta0.read_bytes() == saved and sorted(p.name for p in theta0.parent.iterdir()) == ["runs", "theta0.pt"]
