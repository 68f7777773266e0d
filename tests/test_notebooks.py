"""The notebooks: structure, stripped outputs, and a full nbval run of all seven on the smoke profile."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paperlib import config, pipeline
from paperlib.errors import ConfigError

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# what 06_figures promises for a two-dataset profile
FIGURES_06 = {f"{stem}.{ext}" for ext in ("png", "pdf")
              for stem in ("fig5_dice_glas", "fig5_dice_cub", "fig6_pseudo_dice", "fig12_qualitative_glas",
                           "fig12_qualitative_cub", "fig12_last_round_glas", "fig12_last_round_cub",
                           "lam_schedules_glas", "lam_schedules_cub", "training_curve_glas", "training_curve_cub",
                           *(f"{kind}_{d}" for kind in ("fig5_seeds", "fig5_paper", "paired")
                             for d in ("glas", "cub")))}
FIGURES_06 |= {f"{stem}.{ext}" for ext in ("md", "csv")
               for stem in ("table3_auc", "table3_paired", "table3_wsl_family", "table4_readings",
                            "table5_hyperparameters", "lam_schedules")} | {"rounds_long.csv"}


def test_seven_ordered_notebooks():
    assert [p.stem for p in NOTEBOOKS] == ["01_data", "02_similarity", "03_wsl_baseline", "04_active_learning",
                                           "05_ablations", "06_figures", "07_annotate"]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_structure(nb: Path):
    cells = json.loads(nb.read_text())["cells"]
    assert cells[0]["cell_type"] == "markdown"
    head = "".join(cells[0]["source"])
    assert "Paper artefacts" in head and "Inputs" in head and "Outputs" in head
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    names = pipeline.parameters(nb)
    assert set(pipeline.SHARED_PARAMETERS) <= set(names)
    assert names["profile"]["default"] == '"smoke"'  # the committed default is the cheap profile
    assert all(names[n]["help"] for n in names)  # every parameter is commented


def test_committed_notebooks_are_stripped():
    proc = subprocess.run([sys.executable, "-m", "nbstripout", "--verify", *map(str, NOTEBOOKS)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pipeline_refuses_unknown_parameters_and_profiles(tmp_path: Path):
    with pytest.raises(Exception, match="unknown config field 'bogus'"):  # -p is a config field, as everywhere
        pipeline.run("smoke", overrides={"bogus": "1"}, results_dir=str(tmp_path))
    with pytest.raises(Exception, match="'lam' must be >= 0"):
        pipeline.run("smoke", overrides={"lam": "-1"}, results_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=r"unknown notebook parameter\(s\) \['bogus'\]"):
        pipeline.run("smoke", params={"bogus": "1"}, results_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=r"--dataset is a parameter of 04_active_learning, 07_annotate only, not of "
                                          r"01_data, .*06_figures; select notebooks with --only"):
        pipeline.run("smoke", params={"dataset": "glas"}, results_dir=str(tmp_path))
    with pytest.raises(Exception, match="unknown profile 'huge'"):
        pipeline.run("huge", results_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="no such notebook"):
        pipeline.run("smoke", only=["99"], results_dir=str(tmp_path))
    assert not (tmp_path / "smoke" / "runtimes.csv").exists()


def test_only_takes_a_number_a_name_or_the_file_name_and_lists_the_valid_names():
    """``--only 04``, ``04_active_learning`` and ``04_active_learning.ipynb`` (or its path) pick one notebook; an
    unknown name lists every valid one (on aa796a9's code the file name was refused as "no notebook" and the valid
    names were not shown)."""
    from paperlib.pipeline.runner import notebooks

    folder = ROOT / "notebooks"
    for name in ("04", "04_active_learning", "04_active_learning.ipynb", "notebooks/04_active_learning.ipynb"):
        assert notebooks(folder, [name]) == [folder / "04_active_learning.ipynb"], name
    with pytest.raises(ConfigError) as refused:
        notebooks(folder, ["04", "active_learning"])
    message = str(refused.value)
    assert message.startswith("--only active_learning: no such notebook") and "\n" not in message
    assert all(nb.stem in message for nb in NOTEBOOKS)


def test_all_notebooks_run_with_nbval_on_smoke(tmp_path: Path):
    """Every notebook top to bottom with its committed parameters, in a scratch copy of the project layout, so that
    results, figures and data go to the scratch folder."""
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-q",
                           "-p", "no:cacheprovider", "notebooks"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    made = {p.name for p in (tmp_path / "figures" / "smoke").iterdir()}
    assert FIGURES_06 <= made, sorted(FIGURES_06 - made)
    promised = json.loads((tmp_path / "results" / "smoke" / "figures_06.json").read_text())["files"]
    assert set(promised) == FIGURES_06
    for stem in ("fig4_samples.png", "table1_budget.md", "fig10_knn_glas.png", "fig11_knn_cub.png",
                 "table2_accuracy.csv", "fig7_k_glas.pdf", "fig8_lambda_glas.png", "fig9_lambda_cub.png",
                 "cam_family_glas.png", "cam_family_cub.pdf"):
        assert stem in made
    # the CAM family are WSL rows of Table 3; each lambda schedule is compared with the constant on every seed
    with open(tmp_path / "figures" / "smoke" / "table3_auc.csv") as fh:
        methods = [(r["dataset"], r["method"]) for r in csv.DictReader(fh)]
    assert all((d, m) in methods for d in ("glas", "cub") for m in ("WSL", "GradCAM", "XGradCAM", "Label_prop"))
    with open(tmp_path / "figures" / "smoke" / "lam_schedules.csv") as fh:
        schedules = [(r["dataset"], r["schedule"], r["seeds"]) for r in csv.DictReader(fh)]
    assert schedules == [(d, s, "1") for d in ("glas", "cub") for s in ("rising", "validation")]
    # each ablation sweep ran its caption's share of the rounds (Figs. 7, 8, 9), recorded in ablations.csv
    with open(tmp_path / "figures" / "smoke" / "ablations.csv") as fh:
        for row in csv.DictReader(fh):
            study = config.get("smoke", dataset=row["dataset"]).study
            assert int(row["rounds"]) == (study.k_rounds if row["parameter"] == "k" else study.lam_rounds), row
    with open(tmp_path / "figures" / "smoke" / "table2_accuracy.csv") as fh:
        assert [r["paper, Table 2 (%)"] for r in csv.DictReader(fh)] == ["99.50 ± 0.61", "73.22 ± 0.19"]
    # every table and figure records the profile, the configs and the git revision that made it
    prov = json.loads((tmp_path / "figures" / "smoke" / "provenance.json").read_text())
    assert set(prov["files"]) == made - {"provenance.json"}
    for entry in prov["files"].values():
        assert entry["profile"] == "smoke" and entry["git_revision"]
        assert set(prov["configs"][entry["config"]]) == {"glas", "cub"}
        assert {"cpu", "cpu_capability", "torch"} <= set(prov["machines"][entry["machine"]])  # numbers vary by CPU
