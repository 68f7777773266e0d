"""README's numbers are the ones the committed demo run wrote to figures/demo/."""

import json
import re
from pathlib import Path

from tests.docs import readme_tables

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "figures" / "demo"


def test_readme_results_table_is_the_demo_table3():
    readme = (ROOT / "README.md").read_text()
    assert readme_tables.results_block(DEMO / "table3_auc.csv") in readme


def test_readme_runtimes_are_the_demo_runtimes():
    readme = (ROOT / "README.md").read_text()
    assert readme_tables.runtime_block(DEMO / "runtimes.csv") in readme


def test_readme_shows_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make reproduce" in readme and "make test" in readme


def test_readme_before_after_runtimes():
    readme = (ROOT / "README.md").read_text()
    bench = ROOT / "benchmarks"  # both runs of one revision, side by side
    block = readme_tables.before_after_block(bench / "reproduce_plain_runtimes.csv",
                                             bench / "reproduce_fast_runtimes.csv")
    assert block in readme


def test_readme_module_map_matches_the_package():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Package layout", 1)[1].split("\n## ", 1)[0]
    mapped = set(re.findall(r"^\| `(\w+)\.py` \|", section, flags=re.M))
    modules = {p.stem for p in (ROOT / "paperlib").glob("*.py") if p.stem != "__init__"}
    assert mapped == modules, (sorted(modules - mapped), sorted(mapped - modules))


def _table(md: Path) -> str:
    """The Markdown table of a table file written by ``plots.write_table`` (without its caption)."""
    return md.read_text().split("\n\n", 1)[1]


def test_readme_table2_and_ablations_are_the_demo_tables():
    readme = (ROOT / "README.md").read_text()
    for stem in ("table2_accuracy", "ablations", "table3_wsl_family", "lam_schedules"):
        assert _table(DEMO / f"{stem}.md") in readme, stem


def test_readme_names_the_departures_from_paper_and_reference_code():
    section = (ROOT / "README.md").read_text().split("## Differences from the reference code", 1)[1].split("\n## ")[0]
    for item in ("`/2`", "dropout p 0.1 on the sorted activations", "1% reflect pad, random 416 crop",
                 "averaged over the image's own pixels", "early stopping", "U'' at k = 40", "one for each plane",
                 "one classifier per seed", "split 0, fold 0", "53.37", "66.56"):
        assert item in section, item


def test_readme_speed_before_and_after_the_paper_scale_work():
    readme = (ROOT / "README.md").read_text()
    block = readme_tables.before_after_block(ROOT / "benchmarks" / "reproduce_before_paper_scale_runtimes.csv",
                                     ROOT / "benchmarks" / "reproduce_after_paper_scale_runtimes.csv",
                                     ("before", "after"))
    assert block in readme


def test_readme_paper_scale_tables_are_the_benchmark_run():
    """The per-method GlaS rows and the protocol's cost in README are those of benchmarks/paper_scale.md."""
    readme = (ROOT / "README.md").read_text()
    text = (ROOT / "benchmarks" / "paper_scale.md").read_text()
    protocol = text.split("## What one round and the paper's protocol cost on this CPU\n\n", 1)[1].split("\n\n")[0]
    assert protocol in readme
    glas = text.split("## GlaS at paper size", 1)[1].split("\n## ", 1)[0]
    for row in ("| **wall time** |", "| **peak RSS (MB)** |", "A lower budget lowers the peak"):
        line = next(ln for ln in glas.splitlines() if ln.startswith(row))
        assert line in readme, row


def _block(readme: str, marker: str) -> str:
    """The fenced code block right after the HTML comment ``<!-- marker ...-->``."""
    after = readme.split(f"<!-- {marker}", 1)[1].split("-->\n", 1)[1]
    assert after.startswith("```"), marker
    return after.split("\n", 1)[1].split("\n```\n", 1)[0] + "\n"


def test_readme_own_data_example_runs_as_written(tmp_path: Path):
    """The worked example of "Your own data" (dataset file with an unlabeled pool, two rounds with a scripted
    annotator, prediction), then its Python snippet, in an empty folder."""
    import csv
    import os
    import subprocess
    import sys

    import numpy as np
    import torch
    from PIL import Image

    readme = (ROOT / "README.md").read_text()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    (tmp_path / "own_data.sh").write_text(_block(readme, "own-data example"))
    done = subprocess.run(["bash", "-e", "own_data.sh"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = readme.split("It prints, besides progress bars:\n\n```\n", 1)[1].split("```", 1)[0]
    # a round's seconds vary, and so does its test Dice from one CPU to another (see the README)
    dice = re.compile(r"test Dice (\d+\.\d) \(\d+\.\ds\)$", flags=re.M)
    assert dice.sub("test Dice", done.stdout) == dice.sub("test Dice", printed)
    assert len(dice.findall(done.stdout)) == 2 and all(0 <= float(v) <= 100 for v in dice.findall(done.stdout))
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

    theta0 = (lab / "results" / "smoke" / "csv" / "theta0.pt").stat().st_mtime_ns
    (tmp_path / "snippet.py").write_text(_block(readme, "own-data python"))
    done = subprocess.run([sys.executable, "snippet.py"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "waiting"
    assert (lab / "results" / "smoke" / "csv" / "theta0.pt").stat().st_mtime_ns == theta0  # reused, not retrained
    asked = sorted(p.name for p in (lab / "api_run" / "queries" / "round_00").glob("*_suggested.png"))
    assert asked == sorted(p.name for p in (run / "queries" / "round_00").glob("*_suggested.png"))


def test_readme_compares_the_demo_on_two_machines():
    readme = (ROOT / "README.md").read_text()
    second = ROOT / "benchmarks" / "demo_second_cpu"
    assert readme_tables.machines_block(DEMO / "table3_auc.csv", second / "table3_auc.csv") in readme
    assert {"cpu", "cpu_capability", "torch"} <= set(json.loads((second / "machine.json").read_text()))
