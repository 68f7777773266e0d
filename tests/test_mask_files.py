"""Annotators' masks in the forms they come in (16-bit, anti-aliased, empty, a format that is not read), read by
one rule (paperlib.data.image_files) in a dataset file and through the folder oracle."""

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from paperlib.al.oracles import FolderOracle, OracleError
from paperlib.data import load_csv
from paperlib.data.datasets import Record, SegDataset

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
