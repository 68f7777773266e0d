"""Algorithm 1's sessions (paperlib.al): every method, the folder oracle, resume after SIGKILL and under other
runtime settings, the baseline command, history.csv and its TensorBoard mirror."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from paperlib import al, config, store
from paperlib.al.oracles import FolderOracle, OracleError
from paperlib.cli import baseline as baseline_cmd
from paperlib.cli.al import main as al_main
from paperlib.config import ConfigError
from paperlib.engine import classifier
from paperlib.errors import TrainingDiverged

from .helpers import TINY, history_rows, run_rows, session_of


@pytest.mark.parametrize("method", ["WSL", "Full_sup", "Random", "Entropy", "MC_Dropout", "Label_prop",
                                    "Entropy+Label_prop", "MC_Dropout+Label_prop", "Random_refit",
                                    "Label_prop_lam0"])
@pytest.mark.slow
def test_every_method_runs(shared, tmp_path: Path, method: str):
    run = tmp_path / method
    assert session_of(shared, method, run).run() == "finished"
    rows = run_rows(run)
    queries = json.loads((run / "queries.json").read_text())
    pseudo = json.loads((run / "pseudo.json").read_text())
    n_train = len(shared["splits"].train)
    history, epochs = history_rows(run), shared["cfg"].train.seg_epochs  # every training's epochs, per round
    cycles = {(int(h["round"]), h["cycle"]) for h in history}
    assert len(history) == epochs * len(cycles)
    assert all(h["metric"] == "dice" and float(h["lr"]) > 0 and float(h["loss"]) >= 0 for h in history)
    if method == "WSL":
        assert history == []  # no training in the session (its classifier's history is beside theta0)
    elif method == "Full_sup":
        assert cycles == {(0, "fit")}
    else:
        assert {c for c in cycles if c[1] == "fit"} == {(0, "fit"), (1, "fit"), (2, "fit")}
        assert any(c[1] == "refit" for c in cycles) == al.parse_method(method).refit
    if method in ("WSL", "Full_sup"):
        assert len(rows) == 1 and rows[0]["n_labeled"] == ("0" if method == "WSL" else str(n_train))
        return
    assert [int(r["round"]) for r in rows] == [0, 1, 2]
    assert [int(r["n_labeled"]) for r in rows] == [2, 4, 6]  # 2 classes: 1 per class per round
    asked = [i for r in sorted(queries, key=int) for i in queries[r]]
    assert len(asked) == len(set(asked)) == 6  # never the same image twice
    seen: set[str] = set()
    for r in sorted(queries, key=int):
        seen |= set(queries[r])
        assert not seen & set(pseudo[r])  # P never holds a labeled image
    # the first query depends only on the seed: every method shares it
    ref = tmp_path / "ref"
    session_of(shared, "Random", ref).run() if method != "Random" else None
    ref_q = json.loads(((ref if method != "Random" else run) / "queries.json").read_text())["0"]
    assert queries["0"] == ref_q
    for r in rows:
        assert 0.0 <= float(r["test_dice"]) <= 1.0 and 0.05 <= float(r["threshold"]) <= 0.99
    if "Label_prop" in method:
        assert all(int(r["n_pseudo"]) > 0 for r in rows)
        assert all(0.0 <= float(r["pseudo_dice"]) <= 1.0 for r in rows)
    else:
        assert all(r["n_pseudo"] == "0" and r["pseudo_dice"] == "nan" for r in rows)


def test_the_classifier_stage_writes_its_history_beside_its_weights(shared):
    path = classifier.history_path(classifier.classifier_path(shared["base"] / "results", shared["cfg"]))
    assert path.name == "theta0.history.csv"
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == list(range(shared["cfg"].train.cl_epochs))
    assert all(r["cycle"] == "classifier" and r["metric"] == "accuracy" and 0 <= float(r["valid"]) <= 1
               for r in rows)


def test_a_made_classifier_is_read_while_another_process_holds_its_lock(shared, tmp_path: Path, capsys):
    """Sessions of one seed read its finished classifier side by side: the lock is for the one that trains it, so
    a reader neither waits for it nor says that the classifier is being trained."""
    import fcntl

    results = _results_copy(shared, tmp_path / "results")
    path = classifier.classifier_path(results, shared["cfg"])
    pool = ThreadPoolExecutor(1)
    try:
        with open(path.with_name(f".{path.name}.lock"), "a") as held:
            fcntl.flock(held, fcntl.LOCK_EX)  # a training in another process (closing the file releases it)
            state = pool.submit(classifier.classifier_stage, shared["cfg"], shared["splits"], results,
                                progress=False).result(timeout=60)
    finally:
        pool.shutdown()
    assert all(torch.equal(state[k], shared["theta0"][k]) for k in shared["theta0"])
    assert "being trained" not in capsys.readouterr().err


@pytest.mark.slow
def test_finished_session_is_not_rerun_and_other_config_is_refused(shared, tmp_path: Path):
    run = tmp_path / "r"
    session_of(shared, "Random", run).run()
    stamp = (run / "checkpoints" / "round_02.pt").stat().st_mtime_ns
    assert session_of(shared, "Random", run).run() == "finished"
    assert (run / "checkpoints" / "round_02.pt").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="made for another session"):
        session_of(shared, "Random", run, seed=1).run()
    # a grid with more seeds, or another cache budget, still finds its finished session
    wider = config.get("smoke", dataset="glas", **{**TINY, "seeds": "0,1,2", "memory_mb": 1})
    again = al.Session(wider, "Random", 0, splits=shared["splits"], theta0=shared["theta0"], run_dir=run)
    assert again.run() == "finished"
    assert (run / "checkpoints" / "round_02.pt").stat().st_mtime_ns == stamp
    other = config.get("smoke", dataset="glas", **{**TINY, "seg_epochs": 3})
    with pytest.raises(ValueError, match=r"made for another session \(differs in \['config'\]\)"):
        al.Session(other, "Random", 0, splits=shared["splits"], theta0=shared["theta0"], run_dir=run).run()


def test_bad_config_fails_at_start(shared, tmp_path: Path):
    with pytest.raises(ConfigError, match="'init_per_class' = 50 exceeds"):
        cfg = config.get("smoke", dataset="glas", **{**TINY, "init_per_class": 50})
        al.Session(cfg, "Random", 0, splits=shared["splits"], theta0=shared["theta0"], run_dir=tmp_path / "x")
    assert not (tmp_path / "x").exists()
    with pytest.raises(ConfigError, match="'k' must be >= 1"):
        config.get("smoke", k=0)
    with pytest.raises(ConfigError, match="'lam' must be >= 0"):
        config.get("smoke", lam=-1)
    with pytest.raises(ConfigError, match="unknown method 'Coreset'"):
        session_of(shared, "Coreset", tmp_path / "y")
    with pytest.raises(ConfigError, match="unknown method"):
        al.parse_method("Label_prop+Entropy")
    assert al.parse_method("Label_prop") == al.Method("Label_prop", "al", "Random", True, refit=True)
    assert al.parse_method("MC_Dropout+Label_prop").sampler == "MC_Dropout"
    assert al.parse_method("Random_refit") == al.Method("Random_refit", "al", "Random", False, refit=True)
    assert al.parse_method("Label_prop_lam0") == al.Method("Label_prop_lam0", "al", "Random", True, refit=True,
                                                           lam_zero=True)


def test_cli_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture):
    assert al_main(["--profile", "smoke", "--method", "Nope", "--results", str(tmp_path)]) == 2
    assert "unknown method 'Nope'" in capsys.readouterr().err
    assert al_main(["--profile", "smoke", "-p", "lam", "-2", "--results", str(tmp_path)]) == 2
    assert "'lam' must be >= 0" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# Folder oracle: a person annotates queries/round_RR/


def _answer(shared, folder: Path, ids: list[str], *, bad: dict[str, np.ndarray] | None = None) -> None:
    """Save the true masks as an annotator would (0/255 PNG), with some replaced by ``bad``."""
    train = shared["splits"].train
    for sid in ids:
        arr = (train[train.ids.index(sid)][2][0].numpy() * 255).astype(np.uint8)
        arr = (bad or {}).get(sid, arr)
        Image.fromarray(arr).save(folder / f"{sid}_mask.png")


def _asked(folder: Path) -> list[str]:
    return sorted(p.name[:-len("_suggested.png")] for p in folder.glob("*_suggested.png"))


@pytest.mark.slow
def test_folder_oracle(shared, tmp_path: Path):
    run = tmp_path / "human"

    def session():
        return session_of(shared, "Label_prop", run, oracle=FolderOracle(shared["splits"].train, run / "queries"))

    assert session().run() == "waiting"
    r0 = run / "queries" / "round_00"
    ids = _asked(r0)
    assert len(ids) == 2 and all((r0 / f"{i}.png").is_file() for i in ids) and (r0 / "README.txt").is_file()
    assert not (run / "rounds.csv").exists()
    # a wrong-size mask is refused, naming the file, and nothing is trained
    _answer(shared, r0, ids, bad={ids[0]: np.zeros((5, 7), np.uint8)})
    with pytest.raises(OracleError, match=rf"{ids[0]}_mask\.png: mask size 7x5 differs"):
        session().run()
    assert not (run / "checkpoints" / "round_00.pt").exists()
    # grey-level masks are read by the half-range rule (tests/test_mask_files.py)
    # a partial set is refused
    (r0 / f"{ids[1]}_mask.png").unlink()
    _answer(shared, r0, [ids[0]])
    with pytest.raises(OracleError, match=f"masks missing for {ids[1]}"):
        session().run()
    _answer(shared, r0, ids)
    assert session().run() == "waiting"  # round 0 trained, round 1 asked
    assert len(run_rows(run)) == 1
    before = (run / "rounds.csv").read_text(), (run / "checkpoints" / "round_00.pt").read_bytes()
    r1 = run / "queries" / "round_01"
    ids1 = _asked(r1)
    _answer(shared, r1, ids1, bad={ids1[1]: np.zeros((3, 3), np.uint8)})
    with pytest.raises(OracleError, match=rf"{ids1[1]}_mask\.png"):
        session().run()
    assert before == ((run / "rounds.csv").read_text(), (run / "checkpoints" / "round_00.pt").read_bytes())
    _answer(shared, r1, ids1)
    assert session().run() == "waiting"
    _answer(shared, run / "queries" / "round_02", _asked(run / "queries" / "round_02"))
    assert session().run() == "finished"
    # an annotator who draws the true masks gives exactly the simulated oracle's session
    sim = tmp_path / "sim"
    session_of(shared, "Label_prop", sim).run()
    assert run_rows(run) == run_rows(sim)


# ---------------------------------------------------------------------------------------------------------------
# Resume after SIGKILL

CHILD = r'''
import json, os, sys, time
from paperlib import al, config
from paperlib.store import files

args = json.loads(sys.argv[1])
kind, n = args["stop"] or (None, 0)
calls = {"replace": 0, "open": 0}

def pause():
    print("PAUSED", flush=True)
    time.sleep(600)

real_replace, real_fdopen = os.replace, os.fdopen

def replace(src, dst):
    calls["replace"] += 1
    if kind == "before_rename" and calls["replace"] == n:
        pause()
    real_replace(src, dst)
    if kind == "after_rename" and calls["replace"] == n:
        pause()

class HalfWriter:
    def __init__(self, fh):
        self.fh = fh
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return self.fh.__exit__(*exc)
    def write(self, data):
        self.fh.write(data[: len(data) // 2])
        self.fh.flush()
        pause()

def fdopen(fd, *a, **k):
    fh = real_fdopen(fd, *a, **k)
    calls["open"] += 1
    return HalfWriter(fh) if kind == "mid_write" and calls["open"] == n else fh

files.os.replace, files.os.fdopen = replace, fdopen
cfg = config.get("smoke", dataset="glas", **args["overrides"])
status, _ = al.run_session(cfg, args["method"], 0, results_dir=args["results"], data_dir=args["data"], progress=False)
print(status, flush=True)
'''


def _child(shared, script: Path, results: Path, stop: tuple[str, int] | None, log: Path) -> subprocess.Popen:
    """Start CHILD (written once to ``script`` before any child starts: rewriting it while another child reads it
    would give that child an empty program); its stderr goes to ``log``, for the failure message."""
    args = {"overrides": TINY, "method": "Label_prop", "results": str(results), "data": str(shared["base"] / "data"),
            "stop": stop}
    with open(log, "w") as err:
        return subprocess.Popen([sys.executable, str(script), json.dumps(args)], stdout=subprocess.PIPE,
                                stderr=err, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def _results_copy(shared, dest: Path) -> Path:
    src = shared["base"] / "results" / "smoke" / "glas"
    (dest / "smoke" / "glas").mkdir(parents=True)
    for name in ("theta0.pt", "distances.npz"):
        shutil.copy(src / name, dest / "smoke" / "glas" / name)
    return dest


@pytest.mark.slow
def test_resume_after_sigkill_gives_the_uninterrupted_result(shared, tmp_path: Path):
    """The uninterrupted run and five runs killed at different writes start side by side (independent folders);
    each killed run is resumed, again side by side, and must end with the uninterrupted run's files."""
    # replace calls: 1 config.json; per round: checkpoint, rounds.csv, history.csv, queries.json, pseudo.json
    stops = [("before_rename", 2), ("after_rename", 6), ("mid_write", 7), ("before_rename", 9),
             ("before_rename", 10)]
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    names = {stop: f"{stop[0]}_{stop[1]}" for stop in stops}

    def err(name: str) -> Path:
        return tmp_path / f"{name}.err"

    ref = _results_copy(shared, tmp_path / "ref")
    folders = {stop: _results_copy(shared, tmp_path / names[stop]) for stop in stops}
    ref_proc = _child(shared, script, ref, None, err("ref"))
    killed = {stop: _child(shared, script, res, stop, err(names[stop])) for stop, res in folders.items()}
    for stop, proc in killed.items():
        line = proc.stdout.readline()
        assert line.strip() == "PAUSED", (stop, line, err(names[stop]).read_text())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    resumed = {stop: _child(shared, script, res, None, err(f"{names[stop]}.resumed")) for stop, res in folders.items()}
    out, _ = ref_proc.communicate(timeout=300)
    assert ref_proc.returncode == 0 and "finished" in out, err("ref").read_text()
    run_rel = Path("smoke/glas/runs/Label_prop/seed_0")
    expected = run_rows(ref / run_rel)
    assert len(expected) == 3
    expected_history = history_rows(ref / run_rel)
    for stop, proc in resumed.items():
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "finished" in out, (stop, err(f"{names[stop]}.resumed").read_text())
        run = folders[stop] / run_rel
        assert run_rows(run) == expected, stop
        assert history_rows(run) == expected_history, stop  # no epoch missing or twice
        assert not list(run.rglob(".*.tmp")), stop  # no temp file left behind
        assert (run / "queries.json").read_text() == (ref / run_rel / "queries.json").read_text()
        assert (run / "pseudo.json").read_text() == (ref / run_rel / "pseudo.json").read_text()


# ---------------------------------------------------------------------------------------------------------------
# Execution settings are not part of a session's identity


@pytest.mark.slow
def test_resume_under_other_runtime_settings_continues_the_same_session(shared, tmp_path: Path):
    """Interrupted after round 0 (later checkpoints removed), resumed with another device name, the plain path, no
    feature cache and no amp: the same session continues, to the same rounds.csv as an uninterrupted run."""
    ref = tmp_path / "ref"
    session_of(shared, "Label_prop", ref).run()
    run = tmp_path / "run"
    session_of(shared, "Label_prop", run).run()
    for r in (1, 2):
        (run / "checkpoints" / f"round_{r:02d}.pt").unlink()
    other = config.get("smoke", dataset="glas", **{**TINY, "device": "auto", "fast": "false", "memory_mb": 1,
                                                   "amp": "false", "workers": 2})
    assert other.identity() == shared["cfg"].identity() and other.runtime != shared["cfg"].runtime
    again = al.Session(other, "Label_prop", 0, splits=shared["splits"], theta0=shared["theta0"], run_dir=run,
                       distances=shared["dist"], progress=False)
    assert again.run() == "finished"
    assert run_rows(run) == run_rows(ref)
    assert json.loads((run / "config.json").read_text())["runtime"]["device"] == "cpu"  # recorded, not compared


@pytest.mark.slow
def test_one_path_for_theta0_wsl_and_full_sup(shared, tmp_path: Path, capsys: pytest.CaptureFixture):
    """`python -m paperlib baseline` runs the WSL and Full_sup sessions (the grid's run folders) and prints their
    numbers; another seed never rewrites theta0 or another seed's files."""
    results, data_dir = _results_copy(shared, tmp_path / "results"), shared["base"] / "data"
    theta0 = results / "smoke" / "glas" / "theta0.pt"
    stamp = theta0.stat().st_mtime_ns
    args = ["--profile", "smoke", "--dataset", "glas", "--results", str(results), "--data", str(data_dir)]
    args += [a for k, v in TINY.items() for a in ("-p", k, str(v))]
    assert baseline_cmd.main([*args, "--seed", "0"]) == 0
    line = capsys.readouterr().out
    runs = results / "smoke" / "glas" / "runs"
    sup = run_rows(runs / "Full_sup" / "seed_0")[0]
    assert f"Full_sup Dice {100 * float(sup['test_dice']):.1f}%" in line
    assert f"WSL Dice {100 * float(run_rows(runs / 'WSL' / 'seed_0')[0]['test_dice']):.1f}%" in line
    # the same session run directly (as the grid and notebook 03 do) gives the same record
    alone = tmp_path / "alone"
    session_of(shared, "Full_sup", alone).run()
    assert run_rows(alone) == [sup]
    seed0 = (runs / "Full_sup" / "seed_0" / "rounds.csv").read_bytes()
    assert baseline_cmd.main([*args, "--seed", "1"]) == 0
    assert theta0.stat().st_mtime_ns == stamp  # only the classifier stage writes theta0, once
    assert (runs / "Full_sup" / "seed_0" / "rounds.csv").read_bytes() == seed0
    assert (runs / "Full_sup" / "seed_1" / "rounds.csv").is_file()


@pytest.mark.slow
def test_wsl_is_trained_per_seed_and_theta0_stays_seed_0s(shared, tmp_path: Path):
    """The paper's Table 2 and WSL row have a spread over seeds: each WSL session measures its own seed's
    classifier; every other session starts from seed 0's (theta0)."""
    results, data_dir = tmp_path / "results", shared["base"] / "data"
    args = ["--profile", "smoke", "--dataset", "glas", "--results", str(results), "--data", str(data_dir)]
    args += [a for k, v in {**TINY, "cl_epochs": 3}.items() for a in ("-p", k, str(v))]
    for seed in (0, 1):
        assert baseline_cmd.main([*args, "--seed", str(seed)]) == 0
    folder = results / "smoke" / "glas"
    wsl = {s: store.RunFolder(folder / "runs" / "WSL" / f"seed_{s}").finished()[0] for s in (0, 1)}
    assert wsl[0].row.test_dice != wsl[1].row.test_dice
    assert json.loads((folder / "runs" / "WSL" / "seed_1" / "config.json").read_text())["classifier_seed"] == 1
    theta0 = store.load_tensors(folder / "theta0.pt")["state"]
    mine = store.load_tensors(folder / "classifier_seed_1.pt")["state"]
    assert not all(torch.equal(mine[k], v) for k, v in theta0.items())
    cfg = config.get("smoke", dataset="glas", **{**TINY, "cl_epochs": 3})
    _, shared_theta0, _ = al.prepare(cfg, results_dir=results, data_dir=data_dir, label_prop=False, progress=False)
    assert all(torch.equal(shared_theta0[k], v) for k, v in theta0.items())  # AL and Full_sup start from seed 0's


def test_every_second_of_a_session_goes_to_a_phase(shared, tmp_path: Path):
    """The learner's clock charges each second of a session to one named phase; they add up to the wall time."""
    import time

    session = session_of(shared, "MC_Dropout+Label_prop", tmp_path / "run")
    t0 = time.perf_counter()
    session.run()
    wall = time.perf_counter() - t0
    seconds = session.learner.clock.seconds
    assert {"steps", "batches", "validation", "threshold", "test Dice", "scoring", "pseudo-labels",
            "saving"} <= set(seconds)
    assert min(seconds.values()) >= 0 and 0.95 * wall <= session.learner.clock.total() <= wall


class _Quadrant:
    """A user-written oracle: the top-left quarter of every queried image is the object."""

    def __init__(self, dataset) -> None:
        self.dataset, self.asked = dataset, []

    def ask(self, round_index, indices, suggestions) -> None:
        self.asked.append(round_index)

    def answer(self, round_index, indices):
        out = []
        for i in indices:
            h, w = self.dataset[int(i)][0].shape[1:]
            m = torch.zeros(h, w, dtype=torch.uint8)
            m[: h // 2, : w // 2] = 1
            out.append(m)
        return out


def test_any_oracle_is_asked_and_its_masks_are_trained_on(shared, tmp_path: Path, monkeypatch):
    from paperlib.engine.learner import Learner

    seen: dict[int, torch.Tensor] = {}
    items = Learner.items

    def spy(self, labeled, masks, *rest, **kw):
        seen.update({i: masks[i] for i in labeled})
        return items(self, labeled, masks, *rest, **kw)

    monkeypatch.setattr(Learner, "items", spy)
    oracle = _Quadrant(shared["splits"].train)
    assert session_of(shared, "Random", tmp_path / "custom", oracle=oracle).run() == "finished"
    queries = json.loads((tmp_path / "custom" / "queries.json").read_text())
    asked = [i for r in sorted(queries, key=int) for i in queries[r]]
    ids = shared["splits"].train.ids
    assert sorted(ids[i] for i in seen) == sorted(asked)
    for m in seen.values():
        h, w = m.shape
        assert m[: h // 2, : w // 2].all() and m.sum() == (h // 2) * (w // 2)  # the oracle's, not the dataset's


def test_folder_oracle_reads_annotation_tool_exports(shared, tmp_path: Path):
    run = tmp_path / "tools"
    train = shared["splits"].train

    def session():
        return session_of(shared, "Random", run, oracle=FolderOracle(train, run / "queries"))

    def drawn(sid: str) -> np.ndarray:
        h, w = Image.open(run / "queries" / f"round_{rnd:02d}" / f"{sid}.png").size[::-1]
        m = np.zeros((h, w), bool)
        m[h // 4: h // 2, w // 3:] = True
        return m

    assert session().run() == "waiting"
    rnd, r0 = 0, run / "queries" / "round_00"
    ids0 = _asked(r0)
    pre = r0 / "preannotations_cvat"  # the suggestions as a CVAT export, to import as pre-annotations
    assert sorted(p.stem for p in (pre / "SegmentationClass").glob("*.png")) == ids0
    assert sorted((r0 / "suggestions.csv").read_text().splitlines()[1:]) == [f"{i}.png,{i}_suggested.png" for i in ids0]
    assert session().run() == "waiting"  # and not an answer
    export = r0 / "cvat_export"  # a CVAT "Segmentation mask 1.1" export, background label green
    (export / "SegmentationClass").mkdir(parents=True)
    (export / "labelmap.txt").write_text("# label:color_rgb:parts:actions\nbackground:0,128,0::\ngland:250,50,83::\n")
    for sid in ids0:
        arr = np.zeros((*drawn(sid).shape, 3), np.uint8)
        arr[:] = (0, 128, 0)
        arr[drawn(sid)] = (250, 50, 83)
        Image.fromarray(arr, "RGB").save(export / "SegmentationClass" / f"{sid}.png")
    assert session().run() == "waiting"
    for sid in ids0:  # imported as drawn
        assert np.array_equal(np.asarray(Image.open(run / "oracle_masks" / f"{sid}.png")) > 0, drawn(sid))
    rnd, r1 = 1, run / "queries" / "round_01"
    ids1 = _asked(r1)
    (r1 / "export").mkdir()
    rows = ["image,mask"]
    for k, sid in enumerate(ids1):  # files named by the tool, a palette PNG each, listed in masks.csv
        img = Image.fromarray(drawn(sid).astype(np.uint8), "P")
        img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
        img.save(r1 / "export" / f"task-{k}-annotation-1.png")
        rows.append(f"{sid}.png,export/task-{k}-annotation-1.png")
    (r1 / "masks.csv").write_text("\n".join(rows) + "\n")
    assert session().run() == "waiting"
    assert len(run_rows(run)) == 2
    for sid in ids1:
        assert np.array_equal(np.asarray(Image.open(run / "oracle_masks" / f"{sid}.png")) > 0, drawn(sid))


def test_a_classifier_is_the_same_whatever_the_callers_thread_count(shared, tmp_path: Path):
    """theta0 trained in a notebook (several threads) equals theta0 trained in a single-threaded grid worker."""
    cfg, splits = shared["cfg"], shared["splits"]
    threads = torch.get_num_threads()
    states = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            states.append(classifier.classifier_stage(cfg, splits, tmp_path / f"t{n}", progress=False))
    finally:
        torch.set_num_threads(threads)
    assert torch.get_num_threads() == threads
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


@pytest.mark.slow
def test_tensorboard_mirrors_history_csv(shared, tmp_path: Path):
    pytest.importorskip("tensorboard", reason="the 'tensorboard' extra (in dev) is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = config.get("smoke", dataset="glas", **TINY, tensorboard=True)
    run = tmp_path / "run"
    al.Session(cfg, "Label_prop", 0, splits=shared["splits"], theta0=shared["theta0"], run_dir=run,
               distances=shared["dist"], progress=False).run()
    (run / "tensorboard" / ".left.tmp").mkdir()  # a mirror cut short: cleared when the session opens again
    al.Session(cfg, "Label_prop", 0, splits=shared["splits"], theta0=shared["theta0"], run_dir=run,
               distances=shared["dist"], progress=False).run()
    assert not list(run.rglob(".*.tmp"))
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    logged = {(tag, e.step): e.value for tag in events.Tags()["scalars"] for e in events.Scalars(tag)}
    expected = {(f"round_{int(h['round']):02d}/{h['cycle']}/{k}", int(h["epoch"])): float(h[k])
                for h in history_rows(run) for k in ("loss", "valid", "lr") if h[k] != "nan"}
    assert logged.keys() == expected.keys()
    assert all(abs(logged[k] - v) <= 1e-5 * max(1.0, abs(v)) for k, v in expected.items())


def test_a_diverged_training_stops_the_session_writing_no_round(shared, tmp_path: Path):
    """A NaN or infinite training loss (a learning rate far too large) stops the session with one line naming the
    round and the stage; the run folder keeps no round. On aa796a9's code the session said ``finished`` with nan
    losses in history.csv and Dice 0."""
    cfg = config.get("smoke", dataset="glas", **{**TINY, "seg_lr": 1e30})
    run = tmp_path / "r"
    session = al.Session(cfg, "Random", 0, splits=shared["splits"], theta0=shared["theta0"], run_dir=run,
                         progress=False)
    with pytest.raises(TrainingDiverged) as stop:
        session.run()
    msg = str(stop.value)
    assert msg.startswith("Random seed 0, round 0: the segmentation stage's training loss is ") and "\n" not in msg
    assert not (run / "rounds.csv").exists() or run_rows(run) == []
    assert not list(run.rglob("round_*.pt"))  # no checkpoint of a round
