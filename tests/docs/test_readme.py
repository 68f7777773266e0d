"""The documentation's numbers are the ones the committed runs wrote (``figures/demo/``, ``benchmarks/``); README.md
stays short and links to pages that exist."""

import json
import re
from pathlib import Path

import pytest

from paperlib import bits
from tests.docs import readme_tables

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "figures" / "demo"
DOCS = ROOT / "docs"
README_MAX_LINES = 200


def _page(name: str) -> str:
    """The text of README.md (``name`` "README") or of the page ``docs/<name>.md``."""
    return (ROOT / "README.md" if name == "README" else DOCS / f"{name}.md").read_text()


def test_readme_results_table_is_the_demo_table3():
    assert readme_tables.results_block(DEMO / "table3_auc.csv") in _page("README")


def test_readme_runtimes_are_the_demo_runtimes():
    for runtimes in (DEMO / "runtimes.csv", ROOT / "benchmarks" / "reproduce_35f0ba3_runtimes.csv"):
        assert readme_tables.runtime_block(runtimes) in _page("performance"), runtimes


def test_readme_shows_the_two_commands():
    readme = _page("README")
    assert "make reproduce" in readme and "make test" in readme


def test_readme_before_after_runtimes():
    bench = ROOT / "benchmarks"  # both runs of one revision, side by side
    block = readme_tables.before_after_block(bench / "reproduce_plain_runtimes.csv",
                                             bench / "reproduce_fast_runtimes.csv")
    assert block in _page("performance")


def _table(md: Path) -> str:
    """The Markdown table of a table file written by ``plots.write_table`` (without its caption)."""
    return md.read_text().split("\n\n", 1)[1]


def test_readme_table2_and_ablations_are_the_demo_tables():
    results = _page("results")
    for stem in ("table2_accuracy", "ablations", "table3_wsl_family", "lam_schedules"):
        assert _table(DEMO / f"{stem}.md") in results, stem


def test_readme_names_the_departures_from_paper_and_reference_code():
    section = _page("reference-differences")
    assert section.startswith("# Differences from the reference code\n")
    for item in ("`/2`", "dropout p 0.1 on the sorted activations", "1% reflect pad, random 416 crop",
                 "averaged over the image's own pixels", "early stopping", "U'' at k = 40", "one for each plane",
                 "one classifier per seed", "split 0, fold 0", "53.37", "66.56"):
        assert item in section, item


def test_readme_speed_before_and_after_the_paper_scale_work():
    block = readme_tables.before_after_block(ROOT / "benchmarks" / "reproduce_before_paper_scale_runtimes.csv",
                                             ROOT / "benchmarks" / "reproduce_after_paper_scale_runtimes.csv",
                                             ("before", "after"))
    assert block in _page("performance")


def test_readme_paper_scale_tables_are_the_benchmark_run():
    """The per-method GlaS rows and the protocol's cost in docs/real-data.md are those of benchmarks/paper_scale.md."""
    page = _page("real-data")
    text = (ROOT / "benchmarks" / "paper_scale.md").read_text()
    protocol = text.split("## What one round and the paper's protocol cost on this CPU\n\n", 1)[1].split("\n\n")[0]
    assert protocol in page
    glas = text.split("## GlaS at paper size", 1)[1].split("\n## ", 1)[0]
    for row in ("| **wall time** |", "| **peak RSS (MB)** |", "A lower budget lowers the peak"):
        line = next(ln for ln in glas.splitlines() if ln.startswith(row))
        assert line in page, row


def _block(page: str, marker: str) -> str:
    """The fenced code block right after the HTML comment ``<!-- marker ...-->``."""
    after = page.split(f"<!-- {marker}", 1)[1].split("-->\n", 1)[1]
    assert after.startswith("```"), marker
    return after.split("\n", 1)[1].split("\n```\n", 1)[0] + "\n"


@pytest.mark.slow
def test_own_data_page_runs_end_to_end_as_written(tmp_path: Path):
    """Every block of docs/own-data.md, in the page's order, in one empty folder: the worked example (a dataset file
    with an unlabeled pool, two rounds with a scripted annotator, prediction), its Python snippet, notebook 04 on the
    labeled file, and the commands for a pool without masks. The example names ``my_lab/dataset.csv``, the pool's
    commands ``$PWD/my_lab/dataset.csv``: one theta0, trained once (on aa796a9's code the absolute spelling trained
    it again). Notebook 04 on the unlabeled file is refused before any notebook runs, naming what runs instead."""
    import csv
    import os
    import subprocess
    import sys

    import numpy as np
    import torch
    from PIL import Image

    page = _page("own-data")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}

    def block(marker: str) -> subprocess.CompletedProcess:
        (tmp_path / "block.sh").write_text(_block(page, marker))
        done = subprocess.run(["bash", "-e", "block.sh"], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{marker}: {done.stderr[-3000:]}"
        return done

    done = block("own-data example")
    printed = page.split("It prints, besides progress bars:\n\n```\n", 1)[1].split("```", 1)[0]
    # a round's seconds vary; its test Dice is the page's on any CPU under the pinned kernels (docs/reproducibility.md)
    dice = re.compile(r"test Dice (\d+\.\d) \(\d+\.\ds\)$", flags=re.M)
    assert dice.sub("test Dice", done.stdout) == dice.sub("test Dice", printed)
    assert len(dice.findall(done.stdout)) == 2 and all(0 <= float(v) <= 100 for v in dice.findall(done.stdout))
    if bits.setting() == bits.PINNED and bits.has_avx2():
        assert dice.findall(done.stdout) == dice.findall(printed)
    lab = tmp_path / "my_lab"
    run = lab / "results" / "smoke" / "csv" / "runs" / "Label_prop" / "seed_0"
    rows = list(csv.DictReader(open(run / "rounds.csv")))
    assert [int(r["n_labeled"]) for r in rows] == [4, 6] and all(int(r["n_pseudo"]) > 0 for r in rows)
    for saved in (run / "oracle_masks").glob("*.png"):  # trained on what the scripted annotator drew
        truth = np.asarray(Image.open(lab / "source" / f"{saved.stem}_anno.bmp")) > 0
        assert np.array_equal(np.asarray(Image.open(saved)) > 0, truth), saved.name
    assert len(list((run / "oracle_masks").glob("*.png"))) == 6
    new = sorted(p.stem for p in (lab / "new").glob("*.bmp"))
    assert sorted(p.name[:-len("_mask.png")] for p in (lab / "predicted").glob("*_mask.png")) == new
    assert len(list(csv.DictReader(open(lab / "predicted" / "predictions.csv")))) == len(new)
    assert set(torch.load(lab / "model.pt", weights_only=True)) >= {"state", "threshold"}

    theta0 = lab / "results" / "smoke" / "csv" / "theta0.pt"
    made = theta0.stat().st_mtime_ns
    (tmp_path / "snippet.py").write_text(_block(page, "own-data python"))
    done = subprocess.run([sys.executable, "snippet.py"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "waiting"
    assert theta0.stat().st_mtime_ns == made  # reused, not retrained
    asked = sorted(p.name for p in (lab / "api_run" / "queries" / "round_00").glob("*_suggested.png"))
    assert asked == sorted(p.name for p in (run / "queries" / "round_00").glob("*_suggested.png"))

    block("own-data notebook 04")
    labeled = list(csv.DictReader(open(lab / "labeled.csv")))
    assert labeled and all(r["mask"] for r in labeled)
    assert (lab / "results_labeled" / "smoke" / "executed" / "04_active_learning.ipynb").is_file()
    assert list((lab / "results_labeled" / "smoke" / "csv" / "runs").glob("*/seed_0/rounds.csv"))

    done = block("own-data without masks")  # "$PWD/my_lab/dataset.csv": step 3's theta0, not trained again
    assert theta0.stat().st_mtime_ns == made
    assert "training theta0" not in done.stdout + done.stderr
    rows = list(csv.DictReader(open(lab / "dataset.csv")))
    assert rows and not any(r["mask"] for r in rows if r["split"] == "train")  # the pool has no masks
    wsl = lab / "results" / "smoke" / "csv" / "runs" / "WSL" / "seed_0"
    assert [r["round"] for r in csv.DictReader(open(wsl / "rounds.csv"))] == ["0"]
    assert new and sorted(p.name[:-len("_cam.png")] for p in (lab / "wsl_new").glob("*_cam.png")) == new
    assert sorted(p.name[:-len("_mask.png")] for p in (lab / "wsl_new").glob("*_mask.png")) == new
    assert (lab / "results" / "smoke" / "executed" / "07_annotate.ipynb").is_file()
    asked = lab / "results" / "smoke" / "csv" / "runs" / "Label_prop__annotated" / "seed_0" / "queries" / "round_00"
    assert list(asked.glob("*_suggested.png")) and "mask(s) still to draw in round 0" in done.stdout

    command = _block(page, "own-data notebook 04").split("EOF\n")[-1]
    assert command.startswith("python -m paperlib.pipeline ") and "--only 04" in command
    command = command.replace("labeled.csv", "dataset.csv").replace("results_labeled", "results_unlabeled")
    refused = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert refused.returncode == 2, refused.stderr[-3000:]
    line = refused.stderr.strip()
    assert "\n" not in line, line
    assert "the simulated oracle needs the true mask of every training image" in line
    assert "04_active_learning runs its sessions with it" in line
    assert "07_annotate" in line and "docs/own-data.md#a-pool-without-masks" in line
    assert not (lab / "results_unlabeled").exists()  # no notebook ran, no folder made


def test_results_compare_the_native_demos_of_two_machines_with_the_pinned_one():
    bench = ROOT / "benchmarks"
    runs = {"Zen 5 native": bench / "demo_first_cpu" / "table3_auc.csv",
            "Xeon native": bench / "demo_second_cpu" / "table3_auc.csv", "pinned": DEMO / "table3_auc.csv"}
    assert readme_tables.machines_block(runs) in _page("results")
    for folder in ("demo_first_cpu", "demo_second_cpu"):
        assert {"cpu", "cpu_capability", "torch"} <= set(json.loads((bench / folder / "machine.json").read_text()))


def test_readme_is_short_and_its_docs_pages_exist():
    """README.md has at most 200 lines, every docs/ page it links to exists, and its index links every page of
    docs/."""
    readme = _page("README")
    n_lines = len(readme.splitlines())
    assert n_lines <= README_MAX_LINES, n_lines
    linked = sorted(set(re.findall(r"\]\(docs/([^)#\s]+\.md)(?:#[^)\s]*)?\)", readme)))
    assert linked, "README links to no docs/ page"
    unlinked = sorted(p.name for p in DOCS.glob("*.md") if p.name not in linked)
    assert not unlinked, f"docs/ pages missing from README's index: {unlinked}"
    missing = [name for name in linked if not (DOCS / name).is_file()]
    assert not missing, missing


@pytest.mark.slow
def test_python_api_example_runs(tmp_path: Path):
    """docs/python-api.md's example, on the smoke profile instead of the demo (the same names and calls), prints its
    line."""
    import subprocess
    import sys

    code = _page("python-api").split("```python\n", 1)[1].split("\n```\n", 1)[0]
    assert 'config.get("demo", dataset="glas")' in code
    (tmp_path / "example.py").write_text(code.replace('config.get("demo"', 'config.get("smoke"'))
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    line = r"test accuracy \d\.\d{3}, WSL Dice \d\.\d{3}, Full_sup Dice \d\.\d{3}\n"
    assert re.fullmatch(line, done.stdout), done.stdout
    assert (tmp_path / "results" / "smoke" / "glas" / "theta0.pt").is_file()


def test_training_curve_snippet_runs(tmp_path: Path):
    """docs/sessions.md's training-curve snippet, on a run folder whose history.csv has a round 5."""
    import subprocess
    import sys

    from paperlib import store

    run = store.run_path(tmp_path / "results", "demo", "glas", "Label_prop", 0)
    rows = [{"cycle": c, "epoch": e, "loss": 1.0 / e, "metric": "dice", "valid": 0.1 * e, "lr": 0.1, "seconds": 0.1}
            for c in ("fit", "refit") for e in (1, 2, 3)]
    store.write_history(run / "history.csv", [(5, rows)])
    (tmp_path / "snippet.py").write_text(_block(_page("sessions"), "training-curve snippet"))
    done = subprocess.run([sys.executable, "snippet.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "curve.png").stat().st_size > 1000


@pytest.mark.parametrize("dataset", ["glas", "cub"])
def test_controls_tables_are_the_benchmark_run(dataset: str):
    """The controlled experiment's tables (converged rounds, per-seed theta0, 5 seeds, the two controls) are shown as
    ``benchmarks/controls.py`` wrote them: its paired differences in the README, everything in results."""
    md = ROOT / "benchmarks" / "controls" / f"{dataset}.md"
    auc, paired, _ = readme_tables.controls_tables(md)  # the third: the seconds, in performance (below)
    assert paired in _page("README")
    assert auc in _page("results") and paired in _page("results")
    convergence = next(line for line in md.read_text().splitlines() if line.startswith("Trainings whose best"))
    assert convergence in _page("results")


def test_performance_states_the_controls_seconds():
    """The cost per part of a demo with trained rounds, in performance.md, is the controlled experiment's
    ``<dataset>_seconds.csv`` (mean seconds, rounded)."""
    import pandas as pd

    page = _page("performance")
    means = {d: pd.read_csv(ROOT / "benchmarks" / "controls" / f"{d}_seconds.csv").set_index("part")["mean"]
             for d in ("glas", "cub")}
    for part, row in (("Full_sup", "Full_sup session"), ("Random", "Random session"),
                      ("Label_prop", "Label_prop session"), ("classifier (theta0)", "classifier of one seed")):
        line = next(ln for ln in page.splitlines() if ln.startswith(f"| {row}"))
        cells = [c.strip() for c in line.strip("|").split("|")][1:3]
        assert cells == [f"{means[d][part]:.0f}" for d in ("glas", "cub")], line
    summary = {d: (ROOT / "benchmarks" / "controls" / f"{d}.md").read_text() for d in means}
    total = {d: int(re.search(r"One seed of every part above: (\d+) s", text)[1]) for d, text in summary.items()}
    assert f"| {total['glas']:,} | {total['cub']:,} |" in page


def test_readme_claim_cites_the_papers_table4_exception():
    """"Not at every budget": the README's q2 numbers are the reference curves' (Table 4's GlaS q2 cells)."""
    from paperlib.notebook import reference

    q2 = {m: reference.table4("glas")[m][0][0] for m in ("Entropy", "Label_prop")}
    assert q2["Entropy"] > q2["Label_prop"]
    assert f"({q2['Entropy']:.2f} against {q2['Label_prop']:.2f}" in _page("README")


def _between(page: str, marker: str) -> str:
    """The text between ``<!-- marker -->`` and ``<!-- /marker -->`` of a page."""
    return page.split(f"<!-- {marker} -->\n", 1)[1].split(f"<!-- /{marker} -->", 1)[0]


@pytest.mark.parametrize("page", ["README", "results"])
def test_readme_claims_are_the_demo_paired_table(page: str):
    """Every number and win count of the reading of the demo comes from ``table3_paired.csv``."""
    assert _between(_page(page), "readme-claims") == readme_tables.claims_block(DEMO / "table3_paired.csv")


def test_the_claims_check_fails_when_a_number_or_a_win_count_changes(tmp_path: Path):
    import pandas as pd

    readme = _between(_page("README"), "readme-claims")
    for column, change in (("AUC(a) - AUC(b) (%)", lambda v: v + 0.01), ("a better on", lambda v: v - 1)):
        t = pd.read_csv(DEMO / "table3_paired.csv")
        row = t.index[(t["a"] == "Label_prop") & (t["b"] == "Random")][0]
        t.loc[row, column] = change(t.loc[row, column])
        t.to_csv(tmp_path / "paired.csv", index=False)
        assert readme_tables.claims_block(tmp_path / "paired.csv") != readme


@pytest.mark.parametrize("page", ["README", "results"])
def test_readme_near_far_is_the_demo_summary(page: str):
    expected = readme_tables.near_far_block(DEMO / "near_far_summary.csv")
    assert _between(_page(page), "readme-near-far") == expected


def test_results_say_the_best_lambda_of_each_run():
    """The ablations' best lambda per set, here and in the second machine's native run, as results.md says."""
    import pandas as pd

    def best(csv: Path) -> dict[str, str]:
        t = pd.read_csv(csv)
        t = t[t["parameter"] == "lambda"]
        return {d: f"{g.loc[g['AUC (%)'].idxmax(), 'value']:g}" for d, g in t.groupby("dataset")}

    here, there = best(DEMO / "ablations.csv"), best(ROOT / "benchmarks" / "demo_second_cpu" / "ablations.csv")
    text = " ".join(_page("results").split())
    assert (f"the best lambda is {here['glas']} on the GlaS-like set and {here['cub']} on the CUB-like one here, but "
            f"was {there['glas']} and {there['cub']} in the second machine's native run") in text


def test_every_decimal_number_of_the_readme_results_is_in_a_committed_table():
    """The README's results sections (from "Results" to "What you will see") quote numbers only from the committed
    tables (`figures/demo/`, `benchmarks/controls/`, the convergence and calibration reports); the generated blocks
    are checked above. A number typed by hand that no table holds fails here."""
    readme = _page("README")
    section = readme[readme.index("## Results"):readme.index("## What you will see")]
    for marker in ("readme-claims", "readme-near-far"):
        section = section.replace(_between(section, marker), "")
    tables = [*DEMO.glob("*.md"), *(ROOT / "benchmarks" / "controls").glob("*.md"),
              ROOT / "benchmarks" / "round_convergence.md", ROOT / "benchmarks" / "calibration.md"]
    sources = " ".join(p.read_text() for p in tables).replace("−", "-").replace("+", "")
    numbers = set(re.findall(r"(?<![\w.])[-+]?\d+\.\d+", section.replace("−", "-")))
    assert numbers, "no number found: the section markers moved?"
    missing = sorted(n for n in numbers if n.lstrip("+") not in sources)
    assert not missing, missing
