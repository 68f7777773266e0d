"""Files under results/ on shared and read-only folders, damaged checkpoints, and a run folder that cannot be
made (the annotators' masks: tests/test_mask_files.py)."""

import os
import stat
from pathlib import Path

import pytest
import torch

from paperlib import store
from paperlib.errors import StoreError
from paperlib.store import RoundRecord, RoundRow, RunFolder


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path: Path, umask: int, mode: int):
    old = os.umask(umask)
    try:
        text = store.atomic_write_text(tmp_path / "rounds.csv", "round\n0\n")
        js = store.write_json(tmp_path / "config.json", {"a": 1})
        pt = store.save_tensors(tmp_path / "checkpoints" / "round_00.pt", {"w": torch.zeros(2)})
        again = store.atomic_write_text(tmp_path / "rounds.csv", "round\n0\n1\n")  # a rewrite, too
    finally:
        os.umask(old)
    assert [_mode(p) for p in (text, js, pt, again)] == [mode] * 4
    assert not list(tmp_path.rglob("*.tmp"))


def _record(r: int) -> RoundRecord:
    row = RoundRow(r, 4 + r, 2, 0.5, 0.6, float("nan"), 0.5, 1.0)
    return RoundRecord(row, list(range(4 + r)), [r], [5], [6], 0.5, {"w": torch.ones(3)})


def _read_only(folder: Path) -> None:
    for p in [folder, *folder.rglob("*")]:
        p.chmod(_mode(p) & ~0o222)


def _writable(folder: Path) -> None:
    for p in [folder, *folder.rglob("*")]:
        p.chmod(_mode(p) | 0o200)


def _finished_session(tmp_path: Path) -> tuple[Path, str, list[str]]:
    ids = [f"img_{i}" for i in range(8)]
    run = tmp_path / "results" / "smoke" / "csv" / "runs" / "Random" / "seed_0"
    with RunFolder(run).lock():
        RunFolder(run).prepare({"method": "Random", "seed": 0})
        for r in range(2):
            RunFolder(run).save_round(_record(r), ids)
    return run, (run / "rounds.csv").read_text(), ids


def _read_and_refuse(tmp_path: Path, run: Path, rounds: str, ids: list[str]) -> None:
    """What a session does on a finished folder (lock, check, read, rewrite the views) works; a new write is one
    line naming the folder."""
    folder = RunFolder(run)
    with folder.lock():
        folder.prepare({"method": "Random", "seed": 0})
        done = folder.finished()
        folder.write_views(done, ids)
    assert [rec.row.round for rec in done] == [0, 1]
    assert (run / "rounds.csv").read_text() == rounds
    assert list(store.read_rounds(tmp_path / "results", "smoke", "csv")["round"]) == [0, 1]
    with pytest.raises(StoreError) as err:
        folder.save_round(_record(2), ids)
    msg = str(err.value)
    assert "\n" not in msg and str(run / "checkpoints") in msg and "not writable" in msg
    with pytest.raises(StoreError, match="not writable"):
        store.write_json(run / "figures" / "new.json", {})  # a folder that cannot be made there


def test_a_read_only_results_folder_is_read_and_refuses_writes(tmp_path: Path):
    if os.geteuid() == 0:
        pytest.skip("root ignores file permissions: a read-only folder cannot be made for it (the simulated test "
                    "below runs instead)")
    run, rounds, ids = _finished_session(tmp_path)
    _read_only(tmp_path / "results")
    try:
        _read_and_refuse(tmp_path, run, rounds, ids)
    finally:
        _writable(tmp_path / "results")


def test_a_read_only_results_folder_simulated_for_any_user(tmp_path: Path, monkeypatch):
    """The same, whoever runs it: every creation or write under ``results/`` fails as a read-only folder does."""
    run, rounds, ids = _finished_session(tmp_path)
    results = tmp_path / "results"

    def inside(path) -> bool:
        path = Path(path).absolute()
        return path == results or results in path.parents

    def denied(path) -> PermissionError:
        return PermissionError(13, "Permission denied", str(path))

    real_open, real_os_open, real_mkdir = open, os.open, Path.mkdir

    def fake_open(file, mode="r", *args, **kwargs):
        if inside(file) and any(c in mode for c in "wax+"):
            raise denied(file)
        return real_open(file, mode, *args, **kwargs)

    def fake_os_open(path, flags, *args, **kwargs):
        if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise denied(path)
        return real_os_open(path, flags, *args, **kwargs)

    def fake_mkdir(self, *args, **kwargs):
        if inside(self) and not self.is_dir():
            raise denied(self)
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    monkeypatch.setattr(Path, "mkdir", fake_mkdir)
    _read_and_refuse(tmp_path, run, rounds, ids)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_checkpoint_is_one_line_naming_it(tmp_path: Path, damage: str):
    path = store.save_tensors(tmp_path / "theta0.pt", {"state": {"w": torch.zeros(100)}})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not a checkpoint at all" * 10)
    with pytest.raises(StoreError) as err:
        store.load_tensors(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg
    assert "delete it and run the same command again" in msg
    assert "weights_only" not in msg and "PytorchStreamReader" not in msg and "pickle" not in msg.lower()
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_a_new_session_in_a_folder_it_cannot_create_is_one_line(tmp_path: Path, monkeypatch):
    """Whoever runs it (root ignores permissions, so the refusal is simulated): a run folder that cannot be made is
    refused with one line naming the nearest existing folder, not a PermissionError traceback."""
    made = Path.mkdir

    def refuse(self: Path, *args, **kwargs):
        if tmp_path / "results" in self.parents or self == tmp_path / "results":
            raise PermissionError(13, "Permission denied", str(self))
        return made(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    run = tmp_path / "results" / "smoke" / "csv" / "runs" / "Random" / "seed_1"
    with pytest.raises(StoreError) as err:
        with RunFolder(run).lock():
            pass
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path}: folder not writable") and "\n" not in msg
