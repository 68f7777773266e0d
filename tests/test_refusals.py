"""Refusals a user can act on: an unknown or unavailable method is refused before any work (grid, pipeline); a
refused run folder names each field that differs, with both values; a mask-free pool is refused up front by the
notebook that needs its masks; every exit code of docs/commands.md's table, once."""

# ruff: noqa: I001
import paperlib  # noqa: F401  (first: it pins the float kernels before numpy and torch load)
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paperlib import config
from paperlib.cli import al as al_cli
from paperlib.cli import grid as grid_cli
from paperlib.cli import main as main_cli
from paperlib.cli import pipeline as pipeline_cli
from paperlib.errors import StoreError
from paperlib.store import RunFolder

ROOT = Path(__file__).resolve().parents[1]
CAMS_LINE = "pip install 'paperlib[cams]'"


@pytest.fixture
def no_work(monkeypatch):
    """The grid's and the pipeline's runners fail the test if called: a refusal comes before any work."""

    def started(*args, **kwargs):
        raise AssertionError("work started before the refusal")

    monkeypatch.setattr(grid_cli, "run", started)
    monkeypatch.setattr(pipeline_cli, "run", started)
    monkeypatch.delenv("PAPERLIB_DEBUG", raising=False)


@pytest.fixture
def without_cams(monkeypatch):
    """As if the 'cams' extra (the grad-cam package) were not installed."""
    monkeypatch.setitem(sys.modules, "pytorch_grad_cam", None)  # import raises ImportError


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_grid_refuses_an_unavailable_cam_method_before_any_work(tmp_path: Path, capsys, no_work, without_cams):
    code = grid_cli.main(["--profile", "smoke", "--methods", "WSL,GradCAM", "--results", str(tmp_path)])
    line = _one_line(capsys.readouterr().err)
    assert code == 2, line
    assert line.startswith("error: GradCAM needs the 'cams' extra") and CAMS_LINE in line
    assert not any(tmp_path.iterdir())


def test_pipeline_refuses_unknown_and_unavailable_methods_before_any_notebook(tmp_path: Path, capsys, no_work,
                                                                              without_cams):
    args = ["--profile", "smoke", "--only", "04", "--results", str(tmp_path), "--figures", str(tmp_path)]
    assert pipeline_cli.main([*args, "--methods", "Random,Foo"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("error: unknown method 'Foo'; known: WSL, ")
    assert pipeline_cli.main([*args, "--methods", "Random, XGradCAM,GradCAM++"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("error: XGradCAM, GradCAM++ need the 'cams' extra") and CAMS_LINE in line
    assert not any(tmp_path.iterdir())


def test_a_refused_run_folder_names_each_field_with_both_values(tmp_path: Path):
    def meta(**fields) -> dict:
        cfg = config.get("smoke", dataset="glas", **fields)
        return {"method": "Random", "seed": 0, "profile": "smoke", "dataset": "glas", "config": cfg.identity()}

    RunFolder(tmp_path).prepare(meta(seg_epochs=10, lam=0.5))
    RunFolder(tmp_path).prepare(meta(seg_epochs=10, lam=0.5))  # the same session resumes
    with pytest.raises(StoreError) as refused:
        RunFolder(tmp_path).prepare(meta(seg_epochs=20, lam=0.25))
    message = str(refused.value)
    assert "seg_epochs: 10 in the run folder, 20 requested" in message
    assert "lam: 0.5 in the run folder, 0.25 requested" in message
    assert "'train'" not in message and "{" not in message  # flattened to field names, not the config's sections
    assert message.endswith("use another results folder or remove this one") and "\n" not in message


def _mask_free_pool(folder: Path) -> Path:
    """A tiny dataset file: two classes, training images without masks, validation and test images with them."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    rows = ["image,mask,label,split"]
    for split, n in (("train", 3), ("valid", 1), ("test", 1)):
        for label in ("a", "b"):
            for i in range(n):
                name = f"{split}_{label}{i}"
                Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(folder / f"{name}.png")
                mask = ""
                if split != "train":
                    Image.fromarray(np.uint8(rng.random((24, 24)) > 0.5) * 255).save(folder / f"{name}_mask.png")
                    mask = f"{name}_mask.png"
                rows.append(f"{name}.png,{mask},{label},{split}")
    (folder / "dataset.csv").write_text("\n".join(rows) + "\n")
    return folder / "dataset.csv"


def test_pipeline_refuses_notebook_04_on_a_mask_free_pool_and_names_what_runs(tmp_path: Path, capsys, no_work):
    """04's sessions use the simulated oracle: on a dataset file whose training images have no masks the pipeline
    stops before any notebook runs (it used to fail inside the kernel, exit code 1) and names what runs instead."""
    pool = _mask_free_pool(tmp_path / "my_lab")
    code = pipeline_cli.main(["--profile", "smoke", "--only", "04", "--dataset", "csv", "-p", "data_root", str(pool),
                              "--results", str(tmp_path / "results"), "--figures", str(tmp_path / "figures")])
    line = _one_line(capsys.readouterr().err)
    assert code == 2, line
    assert "the simulated oracle needs the true mask of every training image" in line and "6 of 6 have no" in line
    assert "04_active_learning runs its sessions with it" in line
    assert "07_annotate" in line and "docs/own-data.md" in line
    assert not (tmp_path / "results").exists()


def _documented_codes() -> dict[int, str]:
    page = (ROOT / "docs" / "commands.md").read_text()
    table = page.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(m[1]): m[2] for m in re.finditer(r"^\| (\d+) \| (.+?) \|$", table, flags=re.M)}


def test_every_documented_exit_code_once(tmp_path: Path, capsys, monkeypatch):
    """Each code of docs/commands.md's table from a command that should give it (cheap cases: no training)."""
    import nbformat

    documented = _documented_codes()
    assert {0, 1, 2, 3} <= set(documented), documented
    monkeypatch.delenv("PAPERLIB_DEBUG", raising=False)
    results = ["--results", str(tmp_path / "results"), "--figures", str(tmp_path / "figures")]

    assert main_cli.main(["--version"]) == 0  # 0: done

    # 1: a notebook failed (pipeline)
    folder = tmp_path / "notebooks"
    folder.mkdir()
    params = nbformat.v4.new_code_cell('profile = "smoke"')
    params.metadata["tags"] = ["parameters"]
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    failing = nbformat.v4.new_code_cell("raise ValueError('no such slide')")
    nbformat.write(nbformat.v4.new_notebook(cells=[params, failing], metadata=kernel), folder / "01_fails.ipynb")
    assert main_cli.main(["pipeline", "--profile", "smoke", "--notebooks", str(folder), *results]) == 1
    assert "01_fails.ipynb failed at" in capsys.readouterr().err

    # 2: bad input, from every command that reads it (the pipeline's own checks answered 1 before)
    results = ["--results", str(tmp_path / "bad"), "--figures", str(tmp_path / "bad")]
    bad = {"pipeline --only 99": ["pipeline", "--profile", "smoke", "--only", "99", *results],
           "pipeline --dataset without --only": ["pipeline", "--profile", "smoke", "--dataset", "csv", *results],
           "pipeline unknown profile": ["pipeline", "--profile", "nope", *results],
           "grid unknown method": ["grid", "--profile", "smoke", "--methods", "Foo", "--results", str(tmp_path)],
           "al bad value": ["al", "--profile", "smoke", "-p", "lam", "-1", "--results", str(tmp_path)],
           "unknown command": ["nope"]}
    for case, argv in bad.items():
        assert main_cli.main(argv) == 2, case
        err = capsys.readouterr().err
        assert err.startswith("error: "), (case, err)
    assert not (tmp_path / "bad").exists()  # refused before any notebook ran

    # 3: a session waits for annotations (al): the status a folder-oracle session returns while masks are missing
    monkeypatch.setattr(al_cli, "run_session", lambda *a, **k: ("waiting", tmp_path / "run"))
    assert main_cli.main(["al", "--profile", "smoke", "--oracle", "folder", "--results", str(tmp_path)]) == 3
    assert "waiting for annotations" in capsys.readouterr().out
