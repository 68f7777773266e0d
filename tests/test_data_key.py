"""Caches under ``results/`` keyed by their data, not only by the config: theta0 (and each seed's classifier) and the
colour distances are made again when a dataset file's labels, its classes or an image file change in place."""

# ruff: noqa: I001
import paperlib  # noqa: F401  (first: it pins the float kernels before numpy and torch load)
import csv
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from paperlib import config, store
from paperlib.al import runner
from paperlib.data import load_csv
from paperlib.engine import classifier, train
from paperlib.errors import MissingFileError

CFG = {"min_side": 40, "crop": 32, "scale": 1.0, "seg_width": 8, "cl_epochs": 1, "cl_batch": 4, "eval_batch": 8,
       "device": "cpu"}


def _write(folder: Path) -> Path:
    """4 training, 2 validation and 2 test images of two classes (red / blue objects), each with a mask."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = [["image", "mask", "label", "split"]]
    for k, split in enumerate(["train"] * 4 + ["valid"] * 2 + ["test"] * 2):
        label = ("red", "blue")[k % 2]
        img = rng.integers(0, 60, (40, 40, 3), dtype=np.uint8)
        mask = np.zeros((40, 40), np.uint8)
        mask[8:28, 10:30] = 255
        img[mask > 0] = (200, 40, 40) if label == "red" else (40, 40, 200)
        Image.fromarray(img).save(folder / f"img_{k}.png")
        Image.fromarray(mask).save(folder / f"img_{k}_gt.png")
        rows.append([f"img_{k}.png", f"img_{k}_gt.png", label, split])
    return _rows(folder / "dataset.csv", rows)


def _rows(path: Path, rows: list[list[str]] | None = None) -> Path | list[list[str]]:
    if rows is None:
        return list(csv.reader(open(path)))
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _relabel(path: Path, label) -> None:
    """The dataset file rewritten in place (same path): ``label(row_index, old)`` for each row's class."""
    rows = _rows(path)
    _rows(path, [rows[0]] + [[*r[:2], label(i, r[2]), r[3]] for i, r in enumerate(rows[1:])])


@pytest.fixture
def setup(tmp_path: Path):
    path = _write(tmp_path / "d")
    cfg = config.get("smoke", dataset="csv", data_root=str(path), **CFG)
    return cfg, path, tmp_path / "results"


def test_labels_swapped_in_the_dataset_file_retrain_theta0(setup, capsys):
    cfg, path, results = setup
    classifier.classifier_stage(cfg, load_csv(path), results, progress=False)
    with pytest.MonkeyPatch.context() as mp:  # the same data: reused
        mp.setattr(train, "train_classifier", lambda *a, **kw: pytest.fail("trained again on the same data"))
        classifier.classifier_stage(cfg, load_csv(path), results, progress=False)
    capsys.readouterr()
    _relabel(path, lambda i, old: {"red": "blue", "blue": "red"}[old])  # every label swapped, same path
    splits = load_csv(path)
    stage = []
    real = train.train_classifier
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train, "train_classifier", lambda *a, **kw: stage.append(1) or real(*a, **kw))
        classifier.classifier_stage(cfg, splits, results, progress=False)
    assert stage == [1], "theta0 of the old labels was reused"
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"{classifier.classifier_path(results, cfg)}: trained on other data "
                                        "(labels or files changed); training it again"]
    saved = store.load_tensors(classifier.classifier_path(results, cfg))
    assert saved["class_names"] == splits.class_names
    with pytest.MonkeyPatch.context() as mp:  # and now it is the one reused
        mp.setattr(train, "train_classifier", lambda *a, **kw: pytest.fail("trained again"))
        classifier.classifier_stage(cfg, load_csv(path), results, progress=False)
        classifier.load_classifier(cfg, results, splits=load_csv(path))


def test_another_class_count_says_which_file_is_stale(setup, capsys):
    cfg, path, results = setup
    classifier.classifier_stage(cfg, load_csv(path), results, progress=False)
    theta0 = classifier.classifier_path(results, cfg)
    viewed = classifier.classifier_path(results.with_name("viewed"), cfg)  # a copy, for a view that never trains
    viewed.parent.mkdir(parents=True)
    viewed.write_bytes(theta0.read_bytes())
    _relabel(path, lambda i, old: "green" if i in (2, 5) else old)  # a third class (a training and a valid image)
    splits = load_csv(path)
    assert len(splits.class_names) == 3
    capsys.readouterr()
    state = classifier.classifier_stage(cfg, splits, results, progress=False)  # where it can train: it does
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"{theta0}: trained on 2 classes but the data have 3; training it again"]
    train.build_model(cfg, 3, 0).load_state_dict(state)  # no torch size mismatch
    with pytest.raises(MissingFileError) as refused:  # where nothing trains: one line naming the file to delete
        classifier.load_classifier(cfg, viewed.parents[2], splits=splits)
    message = str(refused.value)
    assert "\n" not in message and "size mismatch" not in message
    assert f"{viewed} (theta0 of smoke/csv) is stale: trained on 2 classes but the data have 3; delete it" in message


def test_a_theta0_saved_before_the_data_key_resumes_unless_its_classes_differ(setup, capsys):
    """Existing results folders: a file without a data key is accepted when its settings match (it resumes), but
    one of another class count is trained again, with one line and no torch size mismatch."""
    cfg, path, results = setup
    classifier.classifier_stage(cfg, load_csv(path), results, progress=False)
    theta0 = classifier.classifier_path(results, cfg)
    saved = store.load_tensors(theta0)
    old = {k: v for k, v in saved.items() if k not in ("data_key", "class_names")}  # as an older version wrote it
    store.save_tensors(theta0, old)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train, "train_classifier", lambda *a, **kw: pytest.fail("an existing theta0 was trained again"))
        state = classifier.classifier_stage(cfg, load_csv(path), results, progress=False)
    assert all(torch.equal(state[k], saved["state"][k]) for k in saved["state"])
    capsys.readouterr()
    _relabel(path, lambda i, old: "green" if i in (2, 5) else old)
    state = classifier.classifier_stage(cfg, load_csv(path), results, progress=False)
    assert capsys.readouterr().err.strip().splitlines() == [
        f"{theta0}: trained on 2 classes but the data have 3; training it again"]
    train.build_model(cfg, 3, 0).load_state_dict(state)


def test_a_touched_or_rewritten_image_recomputes_the_distances(setup, monkeypatch):
    cfg, path, results = setup
    calls = []
    real = runner.similarity.histograms
    monkeypatch.setattr(runner.similarity, "histograms", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    first = runner.distances(cfg, load_csv(path), results, progress=False)
    runner.distances(cfg, load_csv(path), results, progress=False)
    assert len(calls) == 1  # unchanged data: the cache
    image = path.parent / "img_1.png"
    st = image.stat()
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # same bytes, another mtime
    assert np.array_equal(runner.distances(cfg, load_csv(path), results, progress=False), first)
    assert len(calls) == 2
    img = np.asarray(Image.open(image)).copy()
    img[:20] = (250, 250, 0)  # another picture at the same path
    Image.fromarray(img).save(image)
    runner.distances(cfg, load_csv(path), results, progress=False)
    assert len(calls) == 3


def test_the_data_folder_spelled_relative_or_absolute_is_one_key(setup, monkeypatch):
    """A notebook reads ``../data``, a grid worker its absolute path: the same files, so the same theta0 and
    distances (before, the grid retrained theta0 the notebooks had just made)."""
    from paperlib.data.key import data_key

    _, path, results = setup
    monkeypatch.chdir(path.parent.parent)
    relative = load_csv(Path(path.parent.name) / path.name)
    absolute = load_csv(path)
    assert str(relative.train.records[0].image) != str(absolute.train.records[0].image)
    assert data_key(relative) == data_key(absolute)
    cache = results / "distances.npz"
    first = runner.cached_distances([r.image for r in relative.train.records], relative.train.ids,
                                    relative.train.labels, cache, progress=False, data_id=data_key(relative))
    monkeypatch.setattr(runner.similarity, "histograms", lambda *a, **k: pytest.fail("recomputed"))
    again = runner.cached_distances([r.image for r in absolute.train.records], absolute.train.ids,
                                    absolute.train.labels, cache, progress=False, data_id=data_key(absolute))
    assert np.array_equal(first, again)


def test_one_dataset_file_spelled_two_ways_is_one_theta0_and_one_run_folder(setup, monkeypatch, capsys):
    """``d/dataset.csv`` relative (from the current folder) and absolute are one setting: theta0 is reused and the
    run folder resumes (on aa796a9's code the second spelling trained theta0 again, "made with other settings")."""
    cfg, path, results = setup
    classifier.classifier_stage(cfg, load_csv(path), results, progress=False)
    monkeypatch.chdir(path.parent.parent)
    relative = config.get("smoke", dataset="csv", data_root=os.path.join("d", "..", "d", path.name), **CFG)
    assert relative.identity() == cfg.identity()
    monkeypatch.setattr(train, "train_classifier", lambda *a, **kw: pytest.fail("trained again: same file"))
    classifier.classifier_stage(relative, load_csv(path), results, progress=False)
    assert capsys.readouterr().err == ""
    folder = store.RunFolder(results / "run")
    folder.prepare({"method": "Random", "seed": 0, "config": cfg.identity()})
    made = store.read_json(folder.root / "config.json")
    made["config"]["data"]["data_root"] = os.path.join("d", path.name)  # a folder written with a relative spelling
    store.write_json(folder.root / "config.json", made)
    folder.prepare({"method": "Random", "seed": 0, "config": relative.identity()})  # resumes: no StoreError


def test_a_setting_that_differs_is_named_with_both_values(setup, capsys):
    """The line saying why theta0 trains again names the field and both values (on aa796a9's code: only "made with
    other settings")."""
    cfg, path, results = setup
    classifier.classifier_stage(cfg, load_csv(path), results, progress=False)
    capsys.readouterr()
    other = config.get("smoke", dataset="csv", data_root=str(path), **{**CFG, "cl_lr": 0.002})
    classifier.classifier_stage(other, load_csv(path), results, progress=False)
    assert capsys.readouterr().err.strip().splitlines() == [
        f"{classifier.classifier_path(results, cfg)}: made with other settings (cl_lr: 0.01 in the file, 0.002 "
        "requested); training it again"]
