"""provenance.json and the pipeline tell the truth about what made the files: dirty trees, package versions."""

import json
from pathlib import Path

import pytest

from paperlib import config, store
from paperlib.notebook import record_provenance
from paperlib.pipeline import runner

PACKAGES = {"paperlib", "pandas", "matplotlib", "seaborn", "scipy", "papermill"}


@pytest.fixture
def cfgs() -> dict:
    return {"glas": config.get("smoke", dataset="glas")}


def _record(monkeypatch, manifest: Path, names: list[str], revision: str, cfgs: dict) -> dict:
    monkeypatch.setattr(store, "git_revision", lambda: revision)
    record_provenance(manifest, [manifest.parent / n for n in names], "smoke", cfgs)
    return json.loads(manifest.read_text())


def test_each_file_says_whether_its_revision_was_dirty(tmp_path: Path, monkeypatch, cfgs):
    manifest = tmp_path / "provenance.json"
    _record(monkeypatch, manifest, ["a.png", "a.pdf"], "abc123", cfgs)
    _record(monkeypatch, manifest, ["b.csv"], "abc123+dirty", cfgs)
    doc = _record(monkeypatch, manifest, ["c.md"], "unknown", cfgs)
    files = doc["files"]
    assert files["a.png"]["dirty"] is False and files["a.pdf"]["dirty"] is False
    assert files["b.csv"]["dirty"] is True and files["b.csv"]["git_revision"] == "abc123+dirty"
    assert files["c.md"]["dirty"] is None


def test_the_revisions_summary_counts_the_files_per_revision(tmp_path: Path, monkeypatch, cfgs):
    manifest = tmp_path / "provenance.json"
    doc = _record(monkeypatch, manifest, ["a.png", "a.pdf", "t.csv"], "abc123", cfgs)
    assert doc["revisions"] == {"abc123": 3}  # one clean revision made every file
    doc = _record(monkeypatch, manifest, ["t.csv", "u.md"], "def456+dirty", cfgs)  # t.csv rewritten
    assert doc["revisions"] == {"abc123": 2, "def456+dirty": 2}


def test_an_older_manifest_gains_dirty_and_revisions(tmp_path: Path, monkeypatch, cfgs):
    manifest = tmp_path / "provenance.json"
    old = {"files": {"old.png": {"profile": "smoke", "config": "x", "machine": "y", "git_revision": "0ld+dirty"}},
           "configs": {}, "machines": {}}
    manifest.write_text(json.dumps(old))
    doc = _record(monkeypatch, manifest, ["new.png"], "abc123", cfgs)
    assert doc["files"]["old.png"]["dirty"] is True and doc["files"]["new.png"]["dirty"] is False
    assert doc["revisions"] == {"0ld+dirty": 1, "abc123": 1}


def test_the_machine_records_the_package_versions(tmp_path: Path, monkeypatch, cfgs):
    versions = store.machine()["packages"]
    assert set(versions) == PACKAGES
    assert versions["paperlib"] and versions["pandas"] and versions["scipy"] and versions["papermill"]
    doc = _record(monkeypatch, tmp_path / "provenance.json", ["a.png"], "abc123", cfgs)
    recorded = doc["machines"][doc["files"]["a.png"]["machine"]]
    assert recorded["packages"] == versions
    assert {"cpu", "cpu_capability", "torch", "numpy", "mkl", "onednn", "bits"} <= set(recorded)  # kept as they were


def test_the_pipeline_says_whether_the_code_is_dirty(monkeypatch):
    monkeypatch.setattr(store, "git_revision", lambda: "abc123+dirty")
    assert runner.revision_line() == ("note: the code has uncommitted changes (revision abc123+dirty); "
                                      "figures will record it")
    monkeypatch.setattr(store, "git_revision", lambda: "abc123")
    assert runner.revision_line() == "revision abc123 (clean)"
    monkeypatch.setattr(store, "git_revision", lambda: "unknown")
    assert "unknown" in runner.revision_line()


def test_the_pipeline_prints_the_revision_line_at_its_start(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setattr(store, "git_revision", lambda: "abc123+dirty")
    monkeypatch.setattr(runner, "check_kernel", lambda name: None)
    monkeypatch.setattr(runner, "notebooks", lambda folder, only: [])  # the start, without running a notebook
    assert runner.run("smoke", results_dir=str(tmp_path / "results"), figures_dir=str(tmp_path / "figures")) == []
    out = capsys.readouterr().out.splitlines()
    assert "note: the code has uncommitted changes (revision abc123+dirty); figures will record it" in out[:3]
