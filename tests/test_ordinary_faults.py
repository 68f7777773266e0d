"""Ordinary faults are one line naming the file or variable and what to do (exit code 2), never a traceback, and
leave a run folder as it was: a full disk, a results folder that is a file, a damaged distances cache, a bad
PAPERLIB_PROGRESS_INTERVAL, a --model file that is not a model. Each was a traceback (exit code 1) on aa796a9."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from paperlib import pipeline, progress, store
from paperlib.al.runner import cached_distances
from paperlib.cli import main as main_cli
from paperlib.engine import deploy
from paperlib.errors import ConfigError, StoreError
from paperlib.store import files

from .helpers import run_rows, session_of


def _full_disk(monkeypatch, after: int = 0) -> None:
    """Every fsync after the first ``after`` fails as a full disk does."""
    calls = [0]
    real = os.fsync

    def fsync(fd: int) -> None:
        calls[0] += 1
        if calls[0] > after:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)


def test_a_full_disk_is_one_line_and_keeps_the_old_file(tmp_path: Path, monkeypatch):
    path = store.atomic_write_text(tmp_path / "rounds.csv", "old\n")
    _full_disk(monkeypatch)
    with pytest.raises(StoreError) as err:
        store.atomic_write_text(path, "new\n")
    msg = str(err.value)
    assert msg.startswith(f"{path}: no space left on the device") and "run the same command again" in msg
    assert "\n" not in msg and err.value.__cause__ is None
    assert path.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["rounds.csv"]


def test_a_session_stopped_by_a_full_disk_resumes_to_the_same_rounds(shared, tmp_path: Path, monkeypatch):
    ref = tmp_path / "ref"
    session_of(shared, "Random", ref).run()
    run = tmp_path / "run"
    _full_disk(monkeypatch, after=12)  # the disk fills up in the middle of the session
    with pytest.raises(StoreError, match="no space left on the device"):
        session_of(shared, "Random", run).run()
    assert len(run_rows(run)) < len(run_rows(ref))
    monkeypatch.undo()
    assert session_of(shared, "Random", run).run() == "finished"
    assert run_rows(run) == run_rows(ref)


def test_a_results_folder_that_is_a_file_is_one_line(tmp_path: Path, capsys):
    taken = tmp_path / "results"
    taken.write_text("a file, not a folder\n")
    code = main_cli.main(["al", "--profile", "smoke", "--dataset", "glas", "--results", str(taken), "--data",
                          str(tmp_path / "data"), "-p", "synthetic_scale", "0.2"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith(f"error: {taken} is a file, not a folder") and "\n" not in err
    assert taken.read_text() == "a file, not a folder\n"
    with pytest.raises(StoreError, match=r"out is a file, not a folder"):  # predict --out naming a file, likewise
        (tmp_path / "out").write_text("x")
        store.atomic_write_bytes(tmp_path / "out" / "img_mask.png", b"png")


def test_a_damaged_distances_cache_is_one_line_saying_delete_it(tmp_path: Path):
    cache = tmp_path / "distances.npz"
    for junk in (b"garbage" * 10, b"PK\x03\x04 half a zip"):
        cache.write_bytes(junk)
        with pytest.raises(StoreError) as err:
            cached_distances([], [], np.array([]), cache, progress=False)
        assert str(err.value).startswith(f"{cache}: cannot be loaded") and "delete it" in str(err.value)


@pytest.mark.parametrize("value", ["abc", "-3", "inf", "nan"])
def test_a_bad_progress_interval_names_the_variable(tmp_path: Path, monkeypatch, value: str):
    monkeypatch.setenv(progress.INTERVAL_ENV, value)
    with pytest.raises(ConfigError, match=rf"environment variable PAPERLIB_PROGRESS_INTERVAL={value!r}: a number"):
        progress.interval_seconds()
    with pytest.raises(ConfigError, match="PAPERLIB_PROGRESS_INTERVAL"):  # before any notebook runs
        pipeline.run("smoke", results_dir=str(tmp_path / "r"), figures_dir=str(tmp_path / "f"))
    assert not (tmp_path / "r").exists()
    monkeypatch.setenv(progress.INTERVAL_ENV, "2.5")
    assert progress.interval_seconds() == 2.5
    monkeypatch.setenv(progress.INTERVAL_ENV, "0")  # a line per update
    assert progress.interval_seconds() == 0


def test_a_model_file_that_is_not_one_never_suggests_unsafe_loading(tmp_path: Path):
    for name, data in (("notes.txt", b"not weights"), ("other.pt", None)):
        path = tmp_path / name
        if data is None:
            store.save_tensors(path, {"w": np.zeros(1).tolist()})  # a tensor file, but not an exported model
        else:
            path.write_bytes(data)
        with pytest.raises(StoreError) as err:
            deploy.load(path)
        msg = str(err.value)
        assert msg.startswith(f"{path}: not a model file written by") and "--export" in msg
        assert "weights_only" not in msg and "pickle" not in msg.lower()
