"""A session's final model on new images, and exported as one file (`python -m paperlib predict`)."""

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from paperlib import al, config, data, store
from paperlib.cli import predict
from paperlib.config import ConfigError
from paperlib.engine import classifier, deploy
from paperlib.engine.learner import Learner

TINY = {"min_side": 40, "crop": 32, "scale": 1.0, "seg_width": 8, "cl_epochs": 1, "seg_epochs": 2, "rounds": 2,
        "k": 3, "init_per_class": 1, "per_class": 1, "device": "cpu", "synthetic_scale": 0.2, "eval_batch": 16}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("deploy")
    cfg = config.get("smoke", dataset="glas", **TINY)
    status, run = al.run_session(cfg, "Random", 0, results_dir=base / "results", data_dir=base / "data",
                                 progress=False)
    assert status == "finished"
    splits = data.from_config(cfg, data_dir=base / "data")
    images = base / "new"
    images.mkdir()
    idx = [0, 3, 5]
    for i in idx:
        shutil.copy(splits.test.records[i].image, images / splits.test.records[i].image.name)
    return {"base": base, "cfg": cfg, "run": run, "splits": splits, "images": images, "idx": idx}


@pytest.mark.slow
def test_predict_writes_the_sessions_masks_cams_and_classes(session):
    final = deploy.final_model(session["run"])
    out = session["base"] / "pred"
    table = deploy.apply(final, session["images"], out)
    rows = list(csv.DictReader(open(table)))
    splits, idx = session["splits"], session["idx"]
    names = sorted(splits.test.records[i].image.name for i in idx)
    assert [r["image"] for r in rows] == names and set(rows[0]) == {"image", "predicted", *splits.class_names}
    assert all(abs(sum(float(r[c]) for c in splits.class_names) - 1) < 1e-4 for r in rows)
    last = store.RunFolder(session["run"]).finished()[-1]
    learner = Learner(session["cfg"], splits, classifier.classifier_stage(session["cfg"], splits,
                                                                           session["base"] / "results"))
    expected = learner.round_masks("test", idx, last.head, last.threshold)  # what the session computes
    for i, want in zip(idx, expected, strict=True):
        stem = splits.test.records[i].image.stem
        mask = np.asarray(Image.open(out / f"{stem}_mask.png"))
        cam = np.asarray(Image.open(out / f"{stem}_cam.png"))
        assert mask.shape == cam.shape == tuple(splits.test.image_size(i))
        assert np.array_equal(mask > 0, want.numpy() > 0) and set(np.unique(mask)) <= {0, 255}
        assert cam.max() == 255


def test_exported_model_reloads_and_predicts_the_same(session):
    path = deploy.export(deploy.final_model(session["run"]), session["base"] / "model.pt")
    obj = torch.load(path, weights_only=True)
    assert obj["method"] == "Random" and obj["class_names"] == session["splits"].class_names
    a, b = session["base"] / "a", session["base"] / "b"
    deploy.apply(deploy.final_model(session["run"]), session["images"], a)
    assert predict.main(["--model", str(path), "--images", str(session["images"]), "--out", str(b)]) == 0
    for f in sorted(a.iterdir()):
        assert f.read_bytes() == (b / f.name).read_bytes(), f.name


def test_bad_inputs_are_one_clear_error(session, tmp_path: Path, capsys):
    with pytest.raises(ConfigError, match="not a run folder"):
        deploy.final_model(tmp_path)
    with pytest.raises(ConfigError, match="no image files"):
        deploy.apply(deploy.final_model(session["run"]), tmp_path, tmp_path / "out")
    assert predict.main(["--run", str(tmp_path / "none"), "--images", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_subfolders_are_predicted_and_unreadable_files_listed_at_the_end(session, tmp_path: Path, capsys):
    """A folder with a subfolder of images, a zero-byte file and a truncated one: the readable images (the
    subfolder's too, at their paths under --out) are predicted, then one error lists the unreadable files, exit
    code 2 (on aa796a9's code the subfolder was skipped without a word and the zero-byte file stopped the batch)."""
    images, out = tmp_path / "images", tmp_path / "images" / "predicted"  # --out inside --images: not read back
    (images / "slide_2").mkdir(parents=True)
    first, second, third = (session["splits"].test.records[i].image for i in session["idx"])
    shutil.copy(first, images / first.name)
    shutil.copy(second, images / "slide_2" / second.name)
    (images / "empty.png").write_bytes(b"")
    (images / "slide_2" / "cut.png").write_bytes(third.read_bytes()[:200] if third.suffix == ".png" else
                                                 _png_bytes(third)[:200])
    (images / ".ipynb_checkpoints").mkdir()
    shutil.copy(first, images / ".ipynb_checkpoints" / first.name)  # a hidden folder: left out
    for attempt in (1, 2):  # the second run does not read the first run's outputs
        assert predict.main(["--run", str(session["run"]), "--images", str(images), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: 2 of 4 image file(s) under {images} could not be read"), err
        assert "\n" not in err, err
        assert f"{images / 'empty.png'}: unreadable image" in err and f"{images / 'slide_2' / 'cut.png'}: " in err
        rows = list(csv.DictReader(open(out / "predictions.csv")))
        assert [r["image"] for r in rows] == sorted([first.name, f"slide_2/{second.name}"]), attempt
        assert (out / f"{first.stem}_mask.png").is_file() and (out / "slide_2" / f"{second.stem}_cam.png").is_file()


def test_two_images_that_would_write_one_output_are_refused(tmp_path: Path):
    Image.new("RGB", (40, 40)).save(tmp_path / "a.png")
    Image.new("RGB", (40, 40)).save(tmp_path / "a.tif")
    with pytest.raises(ConfigError, match="would write the same a_mask.png"):
        deploy.image_files(tmp_path)


def _png_bytes(path: Path) -> bytes:
    return store.png_bytes(np.asarray(Image.open(path).convert("RGB")), "RGB")
