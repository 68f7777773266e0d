"""The round browser on real finished smoke sessions: it opens on a finished round, and follows the dataset."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from paperlib import al, config, store
from paperlib.notebook import round_browser as browser
from tests.test_al import TINY, _session, shared  # noqa: F401  (the module's data and theta0, made once)


@pytest.fixture(scope="module")
def finished(shared):  # noqa: F811
    """Finished Label_prop and WSL sessions, and an interrupted Entropy one (no round yet) sorted before them."""
    results = shared["base"] / "results"
    for method in ("Label_prop", "WSL"):
        assert _session(shared, method, al.run_dir(results, shared["cfg"], method, 0)).run() == "finished"
    store.RunFolder(al.run_dir(results, shared["cfg"], "Entropy", 0)).checkpoints.mkdir(parents=True)
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


def test_opens_on_a_finished_round_and_follows_the_dataset(finished):
    base, cfg = finished["base"], finished["cfg"]
    cub = config.get("smoke", dataset="cub", **TINY)  # no session of it: the browser must open on glas
    box = browser.round_browser({"cub": cub, "glas": cfg}, base / "results", base / "data")
    dataset, run, rnd = box.children[0].children
    assert dataset.value == "glas"
    assert Path(run.value) == al.run_dir(base / "results", cfg, "Label_prop", 0)  # the first with a finished round
    assert run.options[0][0] == "Entropy / seed_0 (no finished round)"
    assert rnd.max == cfg.al.rounds - 1
    shown = _kinds(box)
    assert shown[0].startswith("text: round 0: 2 labeled") and shown[1:] == ["image", "image"]  # masks, training
    assert browser.NO_ROUND not in " ".join(shown)

    rnd.value = 2
    last = _kinds(box)
    assert last[0].startswith("text: round 2: 6 labeled") and last[1:] == ["image", "image"]
    run.value = str(al.run_dir(base / "results", cfg, "Entropy", 0))
    assert _kinds(box) == [f"text: {browser.NO_ROUND}"]
    assert rnd.max == rnd.value == 0
    run.value = str(al.run_dir(base / "results", cfg, "WSL", 0))  # a fixed baseline: one round, no training
    wsl = _kinds(box)
    assert wsl[0].startswith("text: round 0: 0 labeled, 0 pseudo-labeled")
    assert wsl[1:] == ["text: this run has no queried or pseudo-labeled images (fixed baseline)"]

    dataset.value = "cub"
    assert run.value == "" and _kinds(box)[0].startswith("text: no session of cub")
    dataset.value = "glas"  # back: a finished run is selected again
    assert Path(run.value) == al.run_dir(base / "results", cfg, "Label_prop", 0)
    assert not any(k.startswith("error") for k in _kinds(box))
