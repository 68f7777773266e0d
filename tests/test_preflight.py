"""Preflight (paperlib.al.preflight): every check that needs no training runs before theta0 is trained, for a session
and for a grid; a refused session writes nothing under results/ (no theta0.pt, no run folder)."""

# ruff: noqa: I001
import paperlib  # noqa: F401  (first: it pins the float kernels before numpy and torch load; paperlib.bits)
import csv
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paperlib import al, config, data, grid
from paperlib.cli.al import main as al_main
from paperlib.errors import ConfigError, DataError, PaperlibError

TINY = {"min_side": 40, "crop": 32, "scale": 1.0, "seg_width": 8, "cl_epochs": 1, "seg_epochs": 1, "rounds": 2,
        "k": 3, "init_per_class": 1, "per_class": 1, "device": "cpu", "eval_batch": 16}


def _write(folder: Path, n_train: int = 8) -> Path:
    """A tiny dataset file: two classes, ``n_train`` training images and 2 + 2 validation and test images, every
    image with a mask (the simulated oracle needs them)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows, k = [["image", "mask", "label", "split"]], 0
    for split, n in (("train", n_train), ("valid", 4), ("test", 4)):
        for j in range(n):
            img = rng.integers(0, 255, (44, 52, 3), dtype=np.uint8)
            mask = np.zeros((44, 52), np.uint8)
            mask[4 + k % 9: 24 + k % 9, 6: 30] = 255
            Image.fromarray(img).save(folder / f"img_{k}.png")
            Image.fromarray(mask).save(folder / f"img_{k}_gt.png")
            rows.append([f"img_{k}.png", f"img_{k}_gt.png", ("red", "blue")[j % 2], split])
            k += 1
    with open(folder / "dataset.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return folder / "dataset.csv"


def _cfg(dataset_file: Path, **overrides) -> config.Config:
    return config.get("smoke", dataset="csv", data_root=str(dataset_file), **{**TINY, **overrides})


def _nothing_written(results: Path) -> None:
    """No theta0, no run folder, nothing at all under the results folder."""
    assert not list(results.rglob("theta0.pt"))
    assert not list(results.rglob("seed_*"))
    assert not results.exists()


def _truncate(path: Path) -> None:
    """Cut a file's bytes in half: its header still reads (size, mode), its pixels do not decode."""
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def test_init_per_class_too_large_is_refused_before_theta0(tmp_path: Path, capsys):
    data_file, results = _write(tmp_path / "d"), tmp_path / "results"
    argv = ["--profile", "smoke", "--dataset", "csv", "--method", "Random", "--results", str(results),
            "--data", str(tmp_path / "data"), "-p", "data_root", str(data_file), "-p", "init_per_class", "50",
            *(a for name, value in TINY.items() if name != "init_per_class" for a in ("-p", name, str(value)))]
    assert al_main(argv) == 2
    _nothing_written(results)
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: config field 'init_per_class' = 50 exceeds the 4 training images of class")
    assert len(err.splitlines()) == 1


def test_truncated_test_image_is_refused_before_theta0(tmp_path: Path):
    data_file, results = _write(tmp_path / "d"), tmp_path / "results"
    bad = data_file.parent / "img_14.png"  # a test image (8 train, 4 valid, then test)
    _truncate(bad)
    with Image.open(bad) as img:
        assert img.size == (52, 44)  # the header reads: the loaders' size check passes it
    with pytest.raises(PaperlibError) as refused:
        al.run_session(_cfg(data_file), "Random", 0, results_dir=results, progress=False)
    _nothing_written(results)
    assert isinstance(refused.value, DataError)
    assert re.search(r"img_14\.png \(test image\): cannot be decoded", str(refused.value))


def test_negative_seed_is_refused_before_theta0(tmp_path: Path):
    data_file, results = _write(tmp_path / "d"), tmp_path / "results"
    with pytest.raises(PaperlibError) as refused:
        al.run_session(_cfg(data_file), "Random", -1, results_dir=results, progress=False)
    _nothing_written(results)
    assert isinstance(refused.value, ConfigError)
    assert re.search(r"field 'seed' = -1 \(Random\): a seed must be a non-negative integer", str(refused.value))


def test_tensorboard_without_the_package_is_refused_before_theta0(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # the import fails, as when not installed
    data_file, results = _write(tmp_path / "d"), tmp_path / "results"
    with pytest.raises(PaperlibError) as refused:
        al.run_session(_cfg(data_file, tensorboard=True), "Random", 0, results_dir=results, progress=False)
    _nothing_written(results)
    assert isinstance(refused.value, ConfigError)
    assert re.search(r"config field 'tensorboard' is on, but .*'tensorboard' extra", str(refused.value))


def test_grid_is_refused_before_it_prepares_anything(tmp_path: Path):
    data_file, results = _write(tmp_path / "d"), tmp_path / "results"
    _truncate(data_file.parent / "img_9_gt.png")  # a validation mask
    todo = [grid.Task("csv", "WSL", 0), grid.Task("csv", "Random", 0)]
    with pytest.raises(PaperlibError) as refused:
        grid.run("smoke", todo, results_dir=results, data_dir=tmp_path / "data", workers=1, progress=False,
                 base_overrides={**TINY, "data_root": str(data_file)})
    _nothing_written(results)
    assert isinstance(refused.value, DataError)
    assert re.search(r"img_9_gt\.png \(valid mask\): cannot be decoded", str(refused.value))
    with pytest.raises(PaperlibError) as refused:
        grid.run("smoke", [grid.Task("csv", "Random", 0, {"rounds": 9}, "r9")], results_dir=results,
                 data_dir=tmp_path / "data", workers=1, progress=False,
                 base_overrides={**TINY, "data_root": str(_write(tmp_path / "ok"))})
    _nothing_written(results)
    assert isinstance(refused.value, ConfigError)
    assert re.search(r"config field 'rounds' = 9: every class's training pool is empty", str(refused.value))


def test_decoded_files_are_remembered_by_path_size_and_mtime(tmp_path: Path, monkeypatch):
    from paperlib.al import preflight

    data_file, results = _write(tmp_path / "d"), tmp_path / "results"
    cfg = _cfg(data_file)
    splits = data.from_config(cfg, data_dir=tmp_path / "data")
    preflight.check(cfg, splits, results, [("Random", 0)])
    cache = results / "smoke" / "csv" / preflight.CACHE_NAME
    assert cache.is_file()  # written once every check passed
    monkeypatch.setattr(preflight, "_decoded", {})  # another process: only the file remembers
    opened: list[Path] = []
    real_open = Image.open
    monkeypatch.setattr(preflight.Image, "open", lambda p, *a, **k: opened.append(Path(p)) or real_open(p, *a, **k))
    preflight.check(cfg, splits, results, [("Random", 0)])
    assert opened == []
    _truncate(data_file.parent / "img_3.png")  # another size: decoded again, and refused
    with pytest.raises(DataError, match=r"img_3\.png \(train image\): cannot be decoded"):
        preflight.check(cfg, splits, results, [("Random", 0)])
    assert opened == [data_file.parent / "img_3.png"]


def test_a_label_typo_is_refused_before_theta0_for_any_session(tmp_path: Path):
    """A misspelt label makes a class of one image: refused with one line naming it, before theta0, WSL too."""
    data_file, results = _write(tmp_path / "d"), tmp_path / "results"
    rows = list(csv.reader(open(data_file)))
    rows[3][2] = "blu"  # one training image's label misspelt
    with open(data_file, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    for method in ("WSL", "Random"):
        with pytest.raises(DataError, match=r"class 'blu' has a single image in all the data \(a typo in a label\?\)"):
            al.run_session(_cfg(data_file), method, 0, results_dir=results, progress=False)
        _nothing_written(results)
