"""One's own data: a generic dataset file whose training images may have no mask, and a session on it in which a
test annotator draws the masks."""

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paperlib import al, config
from paperlib.al.oracles import FolderOracle
from paperlib.data import load_csv
from paperlib.engine import classifier
from paperlib.errors import DataError

CFG = {"min_side": 40, "crop": 32, "scale": 1.0, "seg_width": 8, "cl_epochs": 1, "seg_epochs": 2, "rounds": 2,
       "k": 3, "init_per_class": 1, "per_class": 1, "device": "cpu", "eval_batch": 16}


def _truth(k: int) -> np.ndarray:
    """The known mask of image ``k``: a rectangle whose place depends on ``k``."""
    m = np.zeros((44, 52), np.uint8)
    m[4 + k % 9: 24 + k % 9, 6 + k % 11: 30 + k % 11] = 255
    return m


def _write(folder: Path, n_train: int = 8, masked_train: int = 0) -> Path:
    """A small dataset: two classes (a reddish and a bluish object), ``n_train`` training images of which the
    first ``masked_train`` have masks, 2 valid and 2 test images per class with masks."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows, k = [["image", "mask", "label", "split"]], 0
    for split, n in (("train", n_train), ("valid", 4), ("test", 4)):
        for j in range(n):
            label = ("red", "blue")[j % 2]
            img = rng.integers(0, 60, (44, 52, 3), dtype=np.uint8)
            img[_truth(k) > 0] = (200, 40, 40) if label == "red" else (40, 40, 200)
            Image.fromarray(img).save(folder / f"img_{k}.png")
            Image.fromarray(_truth(k)).save(folder / f"img_{k}_gt.png")
            has = split != "train" or j < masked_train
            rows.append([f"img_{k}.png", f"img_{k}_gt.png" if has else "", label, split])
            k += 1
    with open(folder / "dataset.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return folder / "dataset.csv"


def test_load_csv_gives_splits_with_an_unlabeled_pool(tmp_path: Path):
    splits = load_csv(_write(tmp_path / "d", masked_train=2))
    assert [len(splits.train), len(splits.valid), len(splits.test)] == [8, 4, 4]
    assert splits.class_names == ["blue", "red"]
    assert [splits.train.has_mask(i) for i in range(8)] == [True, True] + [False] * 6
    image, label, mask = splits.train[5]
    assert image.shape == (3, 44, 52) and mask is None and splits.class_names[label] == "blue"
    assert splits.valid[0][2].shape == (1, 44, 52)
    with pytest.raises(DataError, match=r"the simulated oracle needs the true mask of every training image; "
                                        r".*img_2\.png has none \(6 of 8 have no mask\)"):
        splits.train.require_masks("the simulated oracle")


@pytest.mark.parametrize("edit, message", [
    (lambda r: r.__setitem__(3, [r[3][0], r[3][1], r[3][2], "holdout"]), r"line 4: field 'split' must be train"),
    (lambda r: r.__setitem__(3, ["missing.png", *r[3][1:]]), r"line 4: .*missing\.png: file not found"),
    (lambda r: r.__setitem__(12, [r[12][0], "", *r[12][2:]]), r"line 13: a valid image needs a mask"),
    (lambda r: r.__setitem__(3, [r[3][0], "img_0_gt.png", *r[3][2:]]), None),  # another mask of the same size
    (lambda r: r.__setitem__(3, r[3][:3]), r"line 4: expected 4 fields"),
    (lambda r: r.__setitem__(3, [r[2][0], *r[3][1:]]), r"line 4: image name 'img_1' is also on line 3"),
    (lambda r: r.__setitem__(0, ["img", "mask", "label", "split"]), r"line 1: expected the header"),
    (lambda r: r.__setitem__(15, [*r[15][:2], "green", "test"]), r"line 16: class 'green' has no training"),
])
def test_bad_rows_name_the_file_and_line(tmp_path: Path, edit, message):
    path = _write(tmp_path / "d", masked_train=8)
    rows = list(csv.reader(open(path)))
    edit(rows)
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    if message is None:
        load_csv(path)
        return
    with pytest.raises(DataError, match=rf"dataset\.csv, {message}"):
        load_csv(path)


def test_size_mismatch_names_the_line(tmp_path: Path):
    path = _write(tmp_path / "d")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "d" / "img_9_gt.png")
    with pytest.raises(DataError, match=r"dataset\.csv, line 11: mask .*img_9_gt\.png is 10x10 but image"):
        load_csv(path)


def test_unlabeled_pool_session_with_a_test_annotator(tmp_path: Path):
    splits = load_csv(_write(tmp_path / "d"))
    cfg = config.get("smoke", dataset="glas", **CFG)
    results = tmp_path / "results"
    theta0 = classifier.classifier_stage(cfg, splits, results, progress=False)
    dist = al.distances(cfg, splits, results, progress=False)
    with pytest.raises(DataError, match="the simulated oracle needs the true mask"):
        al.Session(cfg, "Label_prop", 0, splits=splits, theta0=theta0, run_dir=tmp_path / "sim", distances=dist,
                   progress=False)
    with pytest.raises(DataError, match="Full_sup needs the true mask"):
        al.Session(cfg, "Full_sup", 0, splits=splits, theta0=theta0, run_dir=tmp_path / "fs",
                   oracle=FolderOracle(splits.train, tmp_path / "fs" / "queries"), progress=False).run()
    run = tmp_path / "run"

    def session() -> al.Session:
        return al.Session(cfg, "Label_prop", 0, splits=splits, theta0=theta0, run_dir=run, distances=dist,
                          oracle=FolderOracle(splits.train, run / "queries"), progress=False)

    for r in range(cfg.al.rounds):
        assert session().run() == "waiting"
        folder = run / "queries" / f"round_{r:02d}"
        for sid in sorted(p.name[:-len("_suggested.png")] for p in folder.glob("*_suggested.png")):
            Image.fromarray(_truth(int(sid.split("_")[1]))).save(folder / f"{sid}_mask.png")  # the annotator
    assert session().run() == "finished"
    rows = list(csv.DictReader(open(run / "rounds.csv")))
    assert [int(r["n_labeled"]) for r in rows] == [2, 4] and all(int(r["n_pseudo"]) > 0 for r in rows)
    assert all(math.isnan(float(r["pseudo_dice"])) for r in rows)  # no true masks to measure pseudo-masks with
    assert all(0.0 <= float(r["test_dice"]) <= 1.0 for r in rows)
    imported = sorted(p.stem for p in (run / "oracle_masks").glob("*.png"))
    assert len(imported) == 4
    for sid in imported:  # trained on what the annotator drew
        assert np.array_equal(np.asarray(Image.open(run / "oracle_masks" / f"{sid}.png")) > 0,
                              _truth(int(sid.split("_")[1])) > 0)


@pytest.mark.slow
def test_notebook_04_runs_on_a_dataset_file(tmp_path: Path):
    """`dataset`/`data_root` parameters: notebook 04 on one's own data (every mask given, so the simulated
    oracle can answer), through papermill as the pipeline runs it."""
    import papermill

    path = _write(tmp_path / "d", masked_train=8)
    out = tmp_path / "04.ipynb"
    papermill.execute_notebook(str(Path(__file__).parents[1] / "notebooks" / "04_active_learning.ipynb"), str(out),
                               parameters={"profile": "smoke", "dataset": "csv", "data_root": str(path),
                                           "seeds": "0", "methods": "Random,Label_prop",
                                           "results_dir": str(tmp_path / "results"),
                                           "figures_dir": str(tmp_path / "figures"),
                                           "overrides": "cl_epochs=1;seg_epochs=2;rounds=2;device=cpu;workers=1"},
                               kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    for method in ("Random", "Label_prop"):
        rows = list(csv.DictReader(open(tmp_path / "results" / "smoke" / "csv" / "runs" / method / "seed_0" /
                                        "rounds.csv")))
        assert len(rows) == 2 and all(0.0 <= float(r["test_dice"]) <= 1.0 for r in rows)


def test_a_dataset_file_from_excel_latin_1_or_with_an_extra_column(tmp_path: Path):
    """Excel's UTF-8 (a byte-order mark) is read; a Latin-1 file is one line naming the file, the line and what to
    do; an extra column is named. On aa796a9's code the BOM failed as a bad header and Latin-1 as a traceback (or,
    under a Latin-1 locale, misread names)."""
    path = _write(tmp_path / "d")
    text = path.read_text()
    bom = path.with_name("excel.csv")
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert len(load_csv(bom).train) == len(load_csv(path).train)
    latin = path.with_name("latin.csv")
    latin.write_bytes(text.replace(",red,", ",rosé,", 1).encode("latin-1"))
    with pytest.raises(DataError, match=r"latin\.csv, line 2: not UTF-8 text \(byte 0xe9; .*save it as UTF-8"):
        load_csv(latin)
    extra = path.with_name("extra.csv")
    extra.write_text(text.replace("image,mask,label,split", "image,mask,label,split,notes", 1))
    with pytest.raises(DataError, match=r"extra\.csv, line 1: unknown column\(s\) 'notes'"):
        load_csv(extra)


def test_a_class_missing_from_valid_or_test_and_images_smaller_than_the_crop_are_said_once(tmp_path: Path, capsys):
    """A dataset file whose validation images are all of one class and test images all of the other, with images
    (44x52) smaller than the crop (48): one line for each, printed once per process (on aa796a9's code: nothing)."""
    path = _write(tmp_path / "d")
    rows = list(csv.reader(open(path)))
    rows = [rows[0]] + [[*r[:2], {"valid": "red", "test": "blue"}.get(r[3], r[2]), r[3]] for r in rows[1:]]
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    cfg = config.get("smoke", dataset="csv", data_root=str(path), **{**CFG, "min_side": 48, "crop": 48})
    from paperlib import data

    capsys.readouterr()
    data.from_config(cfg)
    data.from_config(cfg)  # the same lines are not said again
    said = capsys.readouterr()
    assert (said.out + said.err).strip().splitlines() == [
        f"warning: {path}: class(es) blue have no valid image: model selection (the best epoch, the threshold) sees "
        "only the other classes",
        f"warning: {path}: class(es) red have no test image: the test Dice and accuracy cover only the other classes",
        f"note: {path}: 8 of 8 training images are smaller than the 48 px crop (smallest: {path.parent / 'img_0.png'}"
        ", 52x44); each is upscaled to min_side before cropping, so its detail is interpolated"]
    assert data.coverage_notes(load_csv(_write(tmp_path / "e")), 32, "e") == []  # a dataset without gaps: silent
