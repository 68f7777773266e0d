"""Files under results/ on shared and read-only folders, damaged checkpoints, and annotators' masks in the forms
they come in (16-bit, anti-aliased, empty, a format that is not read)."""

import csv
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from paperlib import store
from paperlib.al.oracles import FolderOracle, OracleError
from paperlib.data import load_csv
from paperlib.data.datasets import Record, SegDataset
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


# --- masks -----------------------------------------------------------------------------------------------------

H, W = 20, 24


def _truth() -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[5:15, 6:18] = True
    return m


def _dataset_csv(folder: Path, masks: dict[str, np.ndarray]) -> Path:
    """A dataset file of one training image per class and one validation and test image each, whose valid image's
    mask is each of ``masks`` in turn (file name -> array, saved as it is)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [["image", "mask", "label", "split"]]
    truth = (_truth() * 255).astype(np.uint8)
    for k, (split, label) in enumerate([("train", "a"), ("train", "b"), ("test", "a")]):
        Image.fromarray(np.full((H, W, 3), 40 * k, np.uint8)).save(folder / f"img_{k}.png")
        Image.fromarray(truth).save(folder / f"img_{k}_gt.png")
        rows.append([f"img_{k}.png", f"img_{k}_gt.png", label, split])
    for name, arr in masks.items():
        stem = name.split(".")[0]
        Image.fromarray(np.full((H, W, 3), 90, np.uint8)).save(folder / f"{stem}_image.png")
        Image.fromarray(arr).save(folder / name)
        rows.append([f"{stem}_image.png", name, "a", "valid"])
    with open(folder / "dataset.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return folder / "dataset.csv"


def _oracle(tmp_path: Path) -> tuple[FolderOracle, Path]:
    folder = tmp_path / "pool"
    folder.mkdir()
    records = []
    for k in range(2):
        Image.fromarray(np.full((H, W, 3), 60 * k, np.uint8)).save(folder / f"img_{k}.png")
        records.append(Record(f"img_{k}", folder / f"img_{k}.png", None, k))
    oracle = FolderOracle(SegDataset(records, ["a", "b"], "nonzero"), tmp_path / "run" / "queries")
    round_dir = oracle.round_dir(0)
    round_dir.mkdir(parents=True)
    return oracle, round_dir


def _anti_aliased() -> np.ndarray:
    """0 outside, 255 inside, a one-pixel edge of 100 outside and 160 inside the object (an anti-aliased export)."""
    arr = (_truth() * 255).astype(np.uint8)
    arr[4, 6:18] = arr[15, 6:18] = 100
    arr[5, 6:18] = arr[14, 6:18] = 160
    return arr


def test_a_16_bit_mask_is_read_as_binary(tmp_path: Path, capsys):
    sixteen = (_truth() * 65535).astype(np.uint16)
    splits = load_csv(_dataset_csv(tmp_path / "d", {"m16.png": sixteen}))
    assert Image.open(tmp_path / "d" / "m16.png").mode.startswith("I")  # written as 16 bits
    assert torch.equal(splits.valid[0][2][0].bool(), torch.from_numpy(_truth()))
    oracle, round_dir = _oracle(tmp_path)
    Image.fromarray(sixteen).save(round_dir / "img_0_mask.png")
    Image.fromarray(((~_truth()) * 65535).astype(np.uint16)).save(round_dir / "img_1_mask.png")
    masks = oracle.answer(0, [0, 1])
    assert masks is not None
    assert torch.equal(masks[0].bool(), torch.from_numpy(_truth()))
    assert torch.equal(masks[1].bool(), torch.from_numpy(~_truth()))
    out = capsys.readouterr()
    assert "note:" not in out.out + out.err  # binary: nothing to say


def test_an_anti_aliased_mask_is_read_by_the_half_rule_with_a_note(tmp_path: Path, capsys):
    arr = _anti_aliased()
    expected = torch.from_numpy(arr > 127)
    splits = load_csv(_dataset_csv(tmp_path / "d", {"soft.png": arr}))
    assert torch.equal(splits.valid[0][2][0].bool(), expected)
    _ = splits.valid[0]  # read again: the note is not repeated
    oracle, round_dir = _oracle(tmp_path)
    Image.fromarray(arr).save(round_dir / "img_0_mask.png")
    Image.fromarray(np.stack([arr] * 3, -1)).save(round_dir / "img_1_mask.png")  # grey saved as RGB
    masks = oracle.answer(0, [0, 1])
    assert masks is not None and all(torch.equal(m.bool(), expected) for m in masks)
    out = capsys.readouterr()
    notes = [ln for ln in (out.out + out.err).splitlines() if ln.startswith("note:")]
    assert len(notes) == 3, notes
    assert str(tmp_path / "d" / "soft.png") in notes[0] and "above 127" in notes[0]
    assert str(round_dir / "img_0_mask.png") in notes[1] and str(round_dir / "img_1_mask.png") in notes[2]


def test_an_empty_or_full_mask_warns_naming_the_image(tmp_path: Path, capsys):
    empty, full = np.zeros((H, W), np.uint8), np.full((H, W), 255, np.uint8)
    splits = load_csv(_dataset_csv(tmp_path / "d", {"empty.png": empty, "full.png": full}))
    assert splits.valid[0][2].sum() == 0 and splits.valid[1][2].sum() == H * W  # used as they are
    _ = splits.valid[0]
    oracle, round_dir = _oracle(tmp_path)
    Image.fromarray(empty).save(round_dir / "img_0_mask.png")
    Image.fromarray((_truth() * 255).astype(np.uint8)).save(round_dir / "img_1_mask.png")
    assert oracle.answer(0, [0, 1]) is not None
    out = capsys.readouterr()
    warnings = [ln for ln in (out.out + out.err).splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 3, warnings
    assert str(tmp_path / "d" / "empty_image.png") in warnings[0] and "empty" in warnings[0]
    assert str(tmp_path / "d" / "full_image.png") in warnings[1] and "full" in warnings[1]
    assert str(tmp_path / "pool" / "img_0.png") in warnings[2] and "empty" in warnings[2]


@pytest.mark.parametrize("name", ["img_1_mask.jpg", "img_1_mask.PNG", "img_1_mask.tif"])
def test_a_mask_in_a_format_that_is_not_read_is_named(tmp_path: Path, name: str):
    oracle, round_dir = _oracle(tmp_path)
    Image.fromarray((_truth() * 255).astype(np.uint8)).save(round_dir / "img_0_mask.png")
    Image.fromarray((_truth() * 255).astype(np.uint8)).save(round_dir / name, format="JPEG")
    with pytest.raises(OracleError) as err:
        oracle.answer(0, [0, 1])
    msg = str(err.value)
    assert msg.startswith(f"{round_dir / name}: ") and "\n" not in msg and "img_1_mask.png" in msg
    (round_dir / "img_0_mask.png").unlink()  # the only mask of the round: not "waiting", either
    with pytest.raises(OracleError, match=name.replace(".", r"\.")):
        oracle.answer(0, [0, 1])


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
