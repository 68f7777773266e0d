"""The CAM family as WSL baselines (the ``cams`` extra): maps, sessions, skipping without the extra."""

import csv
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from paperlib import al, config, grid, store
from paperlib.cli.al import main as al_main
from paperlib.config import ConfigError
from paperlib.core.metrics import dice
from paperlib.engine import cam_family, classifier, deploy
from paperlib.engine.learner import Learner
from paperlib.notebook import figure_data, plots, tables

from .helpers import TINY

pytest.importorskip("pytorch_grad_cam", reason="the CAM-family tests need the 'cams' extra (make test installs it)")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("cams")
    cfg = config.get("smoke", dataset="glas", **TINY)
    splits, theta0, _ = al.prepare(cfg, results_dir=base / "results", data_dir=base / "data", label_prop=False,
                                   progress=False)
    return {"base": base, "cfg": cfg, "splits": splits, "theta0": theta0}


@pytest.mark.slow
@pytest.mark.parametrize("method", cam_family.METHODS)
def test_each_method_maps_every_test_image_at_its_size_and_makes_a_wsl_row(shared, tmp_path: Path, method: str):
    cfg, splits = shared["cfg"], shared["splits"]
    learner = Learner(cfg, splits, shared["theta0"])
    maps = {p.index: p for p in cam_family.iter_maps(learner.model(), splits.test, method, cfg)}
    assert sorted(maps) == list(range(len(splits.test)))
    for i, p in maps.items():
        image, label, mask = splits.test[i]
        assert p.cam.shape == image.shape[1:] == mask.shape[1:]
        assert p.cam.dtype == torch.float32 and 0.0 <= float(p.cam.min()) and float(p.cam.max()) <= 1.0
        assert p.label == label and 0 <= p.predicted < len(splits.class_names)
    assert any(float(p.cam.max()) > 0.5 for p in maps.values())  # not all empty maps

    run = tmp_path / method
    session = al.Session(cfg, method, 0, splits=splits, theta0=shared["theta0"], run_dir=run, progress=False)
    assert session.run() == "finished"
    with open(run / "rounds.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1 and rows[0]["round"] == "0" and rows[0]["n_labeled"] == "0"
    t = float(rows[0]["threshold"])
    assert 0.05 <= t <= 0.99 and 0.0 <= float(rows[0]["test_dice"]) <= 1.0
    # the row's test Dice is the Dice of the maps at the validation threshold, as the masks are
    masks = cam_family.masks(learner.model(), splits.test, list(range(len(splits.test))), method, cfg, threshold=t)
    expected = np.mean([dice(m, splits.test[i][2][0]) for i, m in enumerate(masks)])
    assert float(rows[0]["test_dice"]) == pytest.approx(expected, abs=1e-6)
    # the same classifier as the seed's WSL row: the same accuracy
    wsl = tmp_path / "WSL"
    al.Session(cfg, "WSL", 0, splits=splits, theta0=shared["theta0"], run_dir=wsl, progress=False).run()
    rec, wsl_rec = store.RunFolder(run).finished()[0], store.RunFolder(wsl).finished()[0]
    assert rec.metrics["test_accuracy"] == wsl_rec.metrics["test_accuracy"]
    assert json.loads((run / "config.json").read_text())["classifier_seed"] == 0


def test_method_names(shared):
    assert al.parse_method("GradCAM++") == al.Method("GradCAM++", "wsl", cam="GradCAM++")
    for name in ("GradCam", "Grad-CAM", "GradCAM+Label_prop", "ScoreCAM"):
        with pytest.raises(ConfigError, match="unknown method") as err:
            al.parse_method(name)
        assert "GradCAM++" in str(err.value) and "AblationCAM" in str(err.value)
    with pytest.raises(ConfigError, match="unknown CAM method"):
        list(cam_family.iter_maps(Learner(shared["cfg"], shared["splits"], shared["theta0"]).model(),
                                  shared["splits"].test, "WSL", shared["cfg"]))


def test_other_seeds_use_their_own_classifier_like_wsl(shared):
    """A CAM-family session of seed 1 explains seed 1's classifier (the WSL row of seed 1's), not theta0."""
    cfg, results = shared["cfg"], shared["base"] / "results"
    status, run = al.run_session(cfg, "XGradCAM", 1, results_dir=results, data_dir=shared["base"] / "data",
                                 progress=False)
    assert status == "finished"
    assert json.loads((run / "config.json").read_text())["classifier_seed"] == 1
    assert classifier.classifier_path(results, cfg, 1).is_file()
    assert not list(classifier.classifier_path(results, cfg, 1).parent.glob("*.tmp"))


def test_without_the_extra_the_methods_are_skipped_with_one_line(shared, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pytorch_grad_cam", None)  # import fails as if not installed
    assert not cam_family.available()
    assert cam_family.usable(["WSL", *cam_family.METHODS, "Full_sup"]) == ["WSL", "Full_sup"]
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "cams" in out[0] and "pip install" in out[0] and "GradCAM" in out[0]
    assert cam_family.usable(["WSL", "Random"]) == ["WSL", "Random"] and not capsys.readouterr().out
    with pytest.raises(ConfigError, match=r"GradCAM needs the 'cams' extra.*pip install"):
        list(cam_family.iter_maps(Learner(shared["cfg"], shared["splits"], shared["theta0"]).model(),
                                  shared["splits"].test, "GradCAM", shared["cfg"]))
    # a command refuses it before anything is trained or written
    fresh = tmp_path / "fresh"
    assert al_main(["--profile", "smoke", "--method", "AblationCAM", "--results", str(fresh),
                    "--data", str(shared["base"] / "data")]) == 2
    assert "AblationCAM needs the 'cams' extra" in capsys.readouterr().err and not fresh.exists()


def test_heat_maps_and_a_cam_run_predicts_new_images(shared, tmp_path: Path):
    cfg, splits = shared["cfg"], shared["splits"]
    learner = Learner(cfg, splits, shared["theta0"])
    idx = [len(splits.test) - 1, 0]
    maps = figure_data.heat_maps(learner, idx, ["WSL", "GradCAM", "Full_sup"])
    assert list(maps) == ["WSL", "GradCAM"]
    for name, per_image in maps.items():
        assert [tuple(m.shape) for m in per_image] == [tuple(splits.test[i][0].shape[1:]) for i in idx], name
    fig = plots.cam_heatmaps([splits.test[i][0] for i in idx], [splits.test[i][2][0] for i in idx], maps)
    assert len(fig.axes) == 2 * 3

    # a GradCAM run folder as a final model: its masks are its maps at its threshold
    results = shared["base"] / "results"
    run = grid.task_folder(results, "smoke", grid.Task("glas", "GradCAM", 0))
    al.Session(cfg, "GradCAM", 0, splits=splits, theta0=shared["theta0"], run_dir=run, progress=False).run()
    images = tmp_path / "images"
    images.mkdir()
    for i in idx:
        shutil.copy(splits.test.records[i].image, images)
    final = deploy.final_model(run)
    deploy.apply(final, images, tmp_path / "out")
    t = store.RunFolder(run).finished()[0].threshold
    expected = cam_family.masks(learner.model(), splits.test, idx, "GradCAM", cfg, threshold=t)
    for i, m in zip(idx, expected, strict=True):
        stem = Path(splits.test.records[i].image).stem
        written = np.asarray(Image.open(tmp_path / "out" / f"{stem}_mask.png")) > 0
        assert np.array_equal(written, m.numpy() > 0)
        assert (tmp_path / "out" / f"{stem}_cam.png").is_file()


def test_paired_table_with_given_pairs():
    rows = [{"method": m, "seed": s, "round": 0, "test_dice": v}
            for m, vals in {"WSL": [0.30, 0.40, 0.50], "GradCAM": [0.35, 0.38, 0.60]}.items()
            for s, v in enumerate(vals)]
    df = pd.DataFrame(rows)
    t = tables.paired_table(df, [("GradCAM", "WSL"), ("XGradCAM", "WSL")])
    assert t["a"].tolist() == ["GradCAM"]  # a pair with a method that did not run is left out
    assert t["a better on"].tolist() == [2] and t["seeds"].tolist() == [3]
    assert t["AUC(a) - AUC(b) (%)"].iloc[0] == "+4.33"  # differences 5, -2, 10 points
    assert tables.paired_table(df).empty  # no AL method: no default pair


def test_fig12_data_skips_cam_runs_without_the_extra(shared, tmp_path: Path, monkeypatch):
    cfg, results, data_dir = shared["cfg"], tmp_path / "results", shared["base"] / "data"
    assert al.run_session(cfg, "GradCAM", 0, results_dir=results, data_dir=data_dir, progress=False)[0] == "finished"
    q = store.load_tensors(figure_data.qualitative(cfg, ["WSL", "GradCAM"], 0, results_dir=results, data_dir=data_dir))
    assert list(q["first"]) == ["GradCAM"] and len(q["first"]["GradCAM"]["masks"]) == 6
    monkeypatch.setitem(sys.modules, "pytorch_grad_cam", None)
    q = store.load_tensors(figure_data.qualitative(cfg, ["WSL", "GradCAM"], 0, results_dir=results, data_dir=data_dir))
    assert q["first"] == {}
