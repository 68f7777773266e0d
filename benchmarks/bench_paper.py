"""Benchmarks phase by phase: where a demo session's time goes, and (``python benchmarks/bench.py --scale paper``,
its only entry point) one round of every method at the paper's image sizes.

GlaS at paper size (85 / 60 / 20 images of 775x522 and 589x453, the paper split) is measured whole; CUB at paper
size (11,788 images of about 500x375, 200 classes) on a sample of its pool, each phase then scaled by the number of
images it touches (marked as extrapolated). Every method runs in a fresh process, so its peak resident memory is
its own. One epoch per training stage; the paper protocol's cost is then estimated from the measured per-epoch
seconds with Table 5's epochs, rounds and seeds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from paperlib import al, config, data
from paperlib.al.oracles import SimulatedOracle
from paperlib.data import folds, paper_size
from paperlib.engine import classifier as baseline
from paperlib.engine.learner import Learner

if __package__:  # imported: benchmarks.bench_paper
    from .fresh_process import in_fresh_process
    from .memory import MemoryPhases, peak_rss_mb, rss_mb
else:  # imported by bench.py run as a script (which put this folder on sys.path)
    from fresh_process import in_fresh_process
    from memory import MemoryPhases, peak_rss_mb, rss_mb

METHODS = ("WSL", "Random", "Entropy", "MC_Dropout", "Label_prop", "MC_Dropout+Label_prop", "Full_sup")
# phases of one training, repeated every epoch (the rest of a round happens once)
EPOCH_PHASES = ("batches", "steps", "validation")


class _Stop(Exception):
    """Raised by :class:`_OneRound` when the session reaches its second round."""


class _OneRound(SimulatedOracle):
    """The simulated oracle for round 0 only: a session stops when it asks for round 1's masks (after round 0 has
    selected them, so the round's scoring is measured)."""

    def answer(self, round_index: int, indices):  # type: ignore[override]
        if round_index >= 1:
            raise _Stop
        return super().answer(round_index, indices)


def bench_config(dataset: str, fraction: float = 1.0, **overrides) -> config.Config:
    """The paper profile of ``dataset`` on its synthetic benchmark at paper size (``fraction`` of it; give a
    ``split`` such as :func:`sample_split`'s below 1), one epoch per stage, two rounds (the second never runs), no
    ImageNet download."""
    overrides.setdefault("split", "paper" if fraction == 1 else "")
    return config.get(dataset, dataset=dataset, synthetic=True, synthetic_scale=fraction, pretrained="",
                      cl_epochs=1, seg_epochs=1, rounds=2, **overrides)


def sample_split(dataset: str, fraction: float, folder: Path) -> Path:
    """The paper's split restricted to the images of the paper-size sample ``fraction`` (as
    :mod:`paperlib.data.paper_size` draws it): ``train.csv``, ``valid.csv`` and ``test.csv`` in ``folder``, the paper
    files' lines of the sampled images. The sample keeps the paper's train / valid assignment (a seeded split of a
    few images per class would hold most of them out), except that a class whose sampled training images are all
    validation images gives its first one to ``train``."""
    plan = paper_size.plan_glas if dataset == "glas" else paper_size.plan_cub
    keep = {p.stem for p in plan(fraction=fraction)}
    parts: dict[str, list[str]] = {}
    for part, path in folds.paper_files(dataset).items():
        parts[part] = [line for line in path.read_text().splitlines()
                       if line.count(",") == 4 and Path(line.split(",")[1]).stem in keep]
    trained = {line.split(",")[3] for line in parts["train"]}
    for line in list(parts["valid"]):
        if line.split(",")[3] not in trained:
            trained.add(line.split(",")[3])
            parts["valid"].remove(line)
            parts["train"].append(line)
    folder.mkdir(parents=True, exist_ok=True)
    for part, rows in parts.items():
        (folder / f"{part}.csv").write_text("\n".join(rows) + "\n")
    return folder


def _prepare_job(args: tuple) -> dict:
    """theta0 (one epoch) and the colour distances, each timed, in a fresh process."""
    cfg, results, data_dir = args
    t0 = time.perf_counter()
    splits = data.from_config(cfg, data_dir=data_dir)
    t1 = time.perf_counter()
    baseline.classifier_stage(cfg, splits, results, progress=False)
    t2 = time.perf_counter()
    al.distances(cfg, splits, results, progress=False)
    t3 = time.perf_counter()
    return {"loading": t1 - t0, "classifier epoch": t2 - t1, "distances": t3 - t2, "peak_mb": peak_rss_mb(),
            "sizes": [len(splits.train), len(splits.valid), len(splits.test)]}


def _method_job(args: tuple) -> dict:
    """One round of ``method`` in this (fresh) process: wall seconds of the session, its phases, peak memory."""
    cfg, method, results, work, data_dir = args
    start_mb = rss_mb()
    splits, _, dist = al.prepare(cfg, results_dir=results, data_dir=data_dir, label_prop="Label_prop" in method,
                                 progress=False)
    weights = baseline.session_classifier(cfg, splits, results, method, 0, progress=False)
    learner = Learner(cfg, splits, weights)
    learner.clock = MemoryPhases()
    session = al.Session(cfg, method, 0, splits=splits, theta0=weights, run_dir=Path(work) / method.replace("+", "_"),
                         oracle=_OneRound(splits.train), distances=dist, progress=False, learner=learner)
    t0 = time.perf_counter()
    try:
        session.run()
    except _Stop:
        pass
    wall = time.perf_counter() - t0
    learner.clock.close()
    return {"method": method, "wall": wall, "phases": dict(learner.clock.seconds), "peak_mb": peak_rss_mb(),
            "phase_peak_mb": dict(learner.clock.peak_mb), "start_mb": start_mb}


def measure(cfg: config.Config, work: Path, data_dir: Path, methods: tuple[str, ...] = METHODS,
            echo=print) -> dict:
    """The preparation (data written when missing, theta0, distances) and one round of each method of ``cfg``,
    each in a fresh process."""
    results = work / "results"
    prep = in_fresh_process(_prepare_job, (cfg, results, data_dir))
    echo(f"  prepared {prep['sizes']} train/valid/test: classifier epoch {prep['classifier epoch']:.0f} s, "
         f"peak {prep['peak_mb']:.0f} MB")
    rounds = {}
    for method in methods:
        r = in_fresh_process(_method_job, (cfg, method, results, work / "runs", data_dir))
        rounds[method] = r
        echo(f"  {method}: {r['wall']:.0f} s, peak {r['peak_mb']:.0f} MB")
    return {"prep": prep, "rounds": rounds}


# ---------------------------------------------------------------------------------------------------------------
# A demo session


def bench_phases(work: Path, data_dir: Path, methods: tuple[str, ...] = ("Random", "MC_Dropout", "Label_prop")) -> dict:
    """Where one demo GlaS-like session's time goes (every round, single-threaded as in a grid worker): the
    learner's phases, the wall time, and the ratio of the wall time to the training steps."""
    cfg = config.get("demo", dataset="glas")
    splits, theta0, dist = al.prepare(cfg, results_dir=work / "results", data_dir=data_dir, progress=False)
    out = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for method in methods:
            learner = Learner(cfg, splits, theta0)
            session = al.Session(cfg, method, 0, splits=splits, theta0=theta0, run_dir=work / f"phases_{method}",
                                 progress=False, learner=learner, distances=dist)
            t0 = time.perf_counter()
            session.run()
            out[method] = {"wall": time.perf_counter() - t0, "phases": dict(learner.clock.seconds),
                           "peak_mb": peak_rss_mb()}
    finally:
        torch.set_num_threads(threads)
    return out


def phases_section(phases: dict) -> list[str]:
    """Markdown: the phases of one demo session per method, and each session's wall time over its steps."""
    ratios = ", ".join(f"{m} {r['wall'] / r['phases']['steps']:.1f}x" for m, r in phases.items())
    return ["## 5. Where a demo session's time goes (GlaS-like, 6 rounds, seed 0, one thread)", "",
            *phase_table(phases), "", f"Wall time over training steps: {ratios} (target 1.5x for a round)."]


# ---------------------------------------------------------------------------------------------------------------
# Extrapolation and the protocol's cost

ONCE = "once per round"  # the phases of a round that are not repeated per epoch


def epoch_split(r: dict) -> dict[str, float]:
    """A measured one-epoch round as ``items`` (making batches + steps: grows with the training items),
    ``validation`` (per epoch) and :data:`ONCE` (the rest of the wall time)."""
    p = r["phases"]
    items = p.get("batches", 0.0) + p.get("steps", 0.0)
    validation = p.get("validation", 0.0)
    return {"items": items, "validation": validation, ONCE: r["wall"] - items - validation}


def protocol_seconds(cfg: config.Config, measured: dict) -> dict[str, float]:
    """The paper protocol on this machine, estimated from one-epoch rounds, by kind of work: Table 5's epochs
    (``cfg``: the ``glas`` or ``cub`` profile), ``rounds`` rounds and every seed of ``study.seeds`` for each
    measured method, plus one classifier per seed. A round's training steps scale from round 0's with the items
    it trains on (:func:`round_items`), the rest of a round as measured. Ablation sweeps are not included."""
    t, a, seeds = cfg.train, cfg.al, len(cfg.study.seeds)
    n_train = measured["prep"]["sizes"][0]
    out = {"classifier training": seeds * t.cl_epochs * measured["prep"]["classifier epoch"], "training steps": 0.0,
           "validation every epoch": 0.0, ONCE: 0.0}
    for method, r in measured["rounds"].items():
        s = epoch_split(r)
        if method == "WSL":
            out[ONCE] += seeds * r["wall"]
            continue
        rounds = 1 if method == "Full_sup" else a.rounds
        items = [round_items(method, cfg, n_train, k) for k in range(rounds)]
        out["training steps"] += seeds * t.seg_epochs * s["items"] * sum(items) / items[0]
        out["validation every epoch"] += seeds * t.seg_epochs * s["validation"] * rounds
        out[ONCE] += seeds * s[ONCE] * rounds
    return out


def round_items(method: str, cfg: config.Config, n_train: int, r: int) -> float:
    """Training items of round ``r``: the labeled images (``init_per_class + r * per_class`` per class); for
    Label_prop, its two trainings: first on the labeled images (round 0) or on every training image (later rounds:
    the labeled ones and the previous pseudo-labels), then on every training image (the paper's k reaches the size
    of a class's pool on GlaS and CUB, so every unlabeled image is pseudo-labelled); Full_sup: every training
    image."""
    a = cfg.al
    if method == "Full_sup":
        return float(n_train)
    labeled = CLASSES[cfg.data.dataset] * (a.init_per_class + r * a.per_class)
    if "Label_prop" not in method:
        return float(labeled)
    return float((labeled if r == 0 else n_train) + n_train)


def extrapolate(r: dict, factors: dict[str, float]) -> dict:
    """A round measured on a sample, each phase times the factor of the images it touches (``factors``: phase ->
    full count / sample count; phases not named keep their seconds); the wall time is the sum."""
    phases = {k: v * factors.get(k, 1.0) for k, v in r["phases"].items()}
    other = r["wall"] - sum(r["phases"].values())
    return {**r, "phases": phases, "wall": sum(phases.values()) + other, "extrapolated": True}


def sample_factors(sample: list[int], full: list[int], method: str = "Random", labeled: int = 0) -> dict[str, float]:
    """Phase -> full / sample image count, from (train, valid, test) sizes: validation-set phases by ``valid``,
    the test Dice by ``test``, the pool's phases (scoring, pseudo-labels, suggestions, CAMs) by ``train``, feature
    caching by all images. Training (steps and making batches) by the items ``method`` trains on: an AL sampler
    on the ``labeled`` images of round 0 (the same per class in both: kept), Full_sup on every training image,
    Label_prop on them and then on them with the pool pseudo-labelled (every pool image when ``k`` reaches the
    size of a class's pool, as in the sample and in CUB with k = 40)."""
    tr, va, te = (f / s for f, s in zip(full, sample, strict=True))
    items = 1.0
    if method == "Full_sup":
        items = tr
    elif "Label_prop" in method:
        items = (labeled + full[0]) / (labeled + sample[0])
    return {"validation": va, "valid Dice": va, "threshold": va, "test Dice": te, "scoring": tr,
            "pseudo-labels": tr, "suggestions": tr, "CAMs": (full[1] + full[2]) / (sample[1] + sample[2]),
            "features": sum(full) / sum(sample), "pseudo-mask Dice": tr, "steps": items, "batches": items}


# ---------------------------------------------------------------------------------------------------------------
# Report


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:,.0f} h" if seconds >= 36000 else f"{seconds / 3600:.1f} h"


def phase_table(rounds: dict) -> list[str]:
    """Markdown: one row per phase, one column per method (seconds), then the sum, the wall time and the peak."""
    methods = list(rounds)
    phases = sorted({k for r in rounds.values() for k in r["phases"]},
                    key=lambda k: -max(r["phases"].get(k, 0.0) for r in rounds.values()))
    lines = ["| phase | " + " | ".join(methods) + " |", "| --- |" + " --- |" * len(methods)]
    for k in phases:
        lines.append(f"| {k} | " + " | ".join(f"{rounds[m]['phases'].get(k, 0.0):.1f}" for m in methods) + " |")
    lines.append("| **sum of phases** | " + " | ".join(f"{sum(rounds[m]['phases'].values()):.1f}"
                                                       for m in methods) + " |")
    lines.append("| **wall time** | " + " | ".join(f"{rounds[m]['wall']:.1f}" for m in methods) + " |")
    lines.append("| **peak RSS (MB)** | " + " | ".join(f"{rounds[m]['peak_mb']:.0f}" for m in methods) + " |")
    return lines


def protocol_table(rows: list[tuple[str, config.Config, dict]]) -> list[str]:
    """Markdown: per dataset, one round (one epoch per stage) and the whole protocol on this machine (``cfg``: the
    paper profile)."""
    lines = ["| dataset | one round, 1 epoch per stage (s, min-max over methods) | peak RSS (MB, max) | "
             "paper protocol (Table 5 epochs, rounds, seeds) | dominated by |", "| --- | --- | --- | --- | --- |"]
    for name, cfg, measured in rows:
        walls = [r["wall"] for r in measured["rounds"].values()]
        total = protocol_seconds(cfg, measured)
        top = max(total, key=total.get)
        lines.append(f"| {name} | {min(walls):.0f}-{max(walls):.0f} | "
                     f"{max(r['peak_mb'] for r in measured['rounds'].values()):.0f} | "
                     f"{_hours(sum(total.values()))} ({sum(total.values()) / 86400:,.0f} days) | "
                     f"{top} ({100 * total[top] / sum(total.values()):.0f}%) |")
    return lines


CUB_FULL = [4794, 1200, 5794]  # train, valid, test images of the paper split (split 0, fold 0)
CLASSES = {"glas": 2, "cub": 200}


def _low_budget(gm: dict) -> list[str]:
    low = gm.get("low_budget")
    if not low:
        return []
    heavy = gm["rounds"]["MC_Dropout+Label_prop"]
    return [f"A lower budget lowers the peak: MC_Dropout+Label_prop peaked at {heavy['peak_mb']:.0f} MB with the "
            f"default budget and at {low['peak_mb']:.0f} MB with `memory_mb` {low['memory_mb']} "
            f"({heavy['wall']:.0f} s against {low['wall']:.0f} s)."]


def _full_prep(prep: dict) -> dict:
    """The sample's preparation at CUB's full size: the classifier epoch scaled by the training images."""
    return {**prep, "sizes": CUB_FULL, "classifier epoch": prep["classifier epoch"] * CUB_FULL[0] / prep["sizes"][0]}


def _cub_lines(cub: tuple[config.Config | None, dict, float] | None) -> tuple[list[str], list]:
    """The CUB section and its protocol row (none when CUB was not measured)."""
    if cub is None:
        return ["## CUB at paper size", "", "Not measured in this run (`python benchmarks/bench.py --scale paper "
                "--only cub` adds it)."], []
    _, cm, fraction = cub
    labeled = CLASSES["cub"] * config.get("cub").al.init_per_class
    rounds = {m: extrapolate(r, sample_factors(cm["prep"]["sizes"], CUB_FULL, m, labeled))
              for m, r in cm["rounds"].items()}
    return [
        f"## CUB at paper size: **extrapolated** from a sample (`fraction` {fraction:g} of each class's training "
        "and test images, at least one training image per class, in the paper's train / valid assignment: "
        f"{'/'.join(map(str, cm['prep']['sizes']))} train/valid/test images of about 500x375, 200 classes)", "",
        "Each phase's seconds are the sample's times the ratio of the images it touches (full: "
        f"{'/'.join(map(str, CUB_FULL))}). Training (steps, batches) scales with the items trained on: round 0 of "
        f"an AL sampler trains on its {labeled} labeled images in both (not scaled), Full_sup on every training "
        "image, Label_prop on the labeled images and then on every training image (the pool pseudo-labelled). "
        "The sample runs with `fast` off (nothing kept in memory): at full size the budget holds a small part of "
        "CUB's features, so the full run recomputes them as the sample does. Peak memory is the sample's. The "
        "protocol's classifier epoch below is the sample's scaled by the training images "
        f"({cm['prep']['classifier epoch']:.0f} s for {cm['prep']['sizes'][0]}).",
        "", *phase_table(rounds)], [("CUB (extrapolated)", config.get("cub"),
                                     {"prep": _full_prep(cm["prep"]), "rounds": rounds})]


def report(glas: tuple[config.Config, dict], cub: tuple[config.Config | None, dict, float] | None) -> str:
    """``benchmarks/paper_scale.md`` (``cub``: ``None`` when not measured)."""
    gcfg, gm = glas
    rt = gcfg.runtime
    cub_section, cub_row = _cub_lines(cub)
    lines = [
        "# Paper-size benchmark", "",
        "Written by `python benchmarks/bench.py --scale paper` on this machine's CPU (2 cores), `memory_mb` "
        f"{rt.memory_mb}. One round of each method (round 0, including the selection of round 1's queries), one "
        "epoch per training stage, no ImageNet weights; each method in a fresh process (its peak resident memory "
        "is its own, the interpreter and torch included). Seconds per phase add up to the wall time of the session "
        "(`wall - sum` is what no phase covers).", "",
        f"## GlaS at paper size (synthetic, {'/'.join(map(str, gm['prep']['sizes']))} train/valid/test images of "
        "775x522 and 589x453, the paper split)", "",
        f"theta0, one epoch: {gm['prep']['classifier epoch']:.0f} s (peak {gm['prep']['peak_mb']:.0f} MB); "
        f"colour distances {gm['prep']['distances']:.0f} s.", "", *phase_table(gm["rounds"]), "",
        *_low_budget(gm), "",
        *cub_section, "",
        "## What one round and the paper's protocol cost on this CPU", "",
        *protocol_table([("GlaS", config.get("glas"), gm), *cub_row]), "",
        "The protocol: Table 5's epochs (GlaS 1000 / 1000, CUB 90 / 30), rounds (GlaS 25, CUB 20) and 5 seeds for "
        "every method above, plus one classifier per seed; round r's training items grow as the labeled set does "
        "(Label_prop: the labeled images then every training image in round 0, every training image twice after, "
        "since the paper's k reaches the size of a class's pool); the ablation sweeps come on top. The CUDA path "
        "(bf16 autocast, channels-last) is unmeasured: no GPU was at hand.",
    ]
    return "\n".join(lines) + "\n"


def main(out: Path, work: Path, data_dir: Path, parts: tuple[str, ...] = ("glas", "cub"),
         cub_fraction: float = 0.07) -> str:
    """Measure the named ``parts`` (``glas``, ``cub``; each kept beside ``out`` as JSON, so they can run apart),
    the synthetic benchmarks written under ``data_dir/synthetic/`` when missing, and write the report from both.

    ``cub_fraction``: CUB's sample, in the paper's train / valid assignment (:func:`sample_split`). Round 0 labels
    one training image per class, so the sample needs more for a pool to score: 0.07 gives 322 / 78 / 390
    train / valid / test images, a pool of 122 after round 0."""
    for part in parts:
        print(f"{part} at paper size{'' if part == 'glas' else f', a {100 * cub_fraction:g}% sample'} ...", flush=True)
        cfg = bench_config("glas") if part == "glas" else bench_config(
            "cub", cub_fraction, fast=False, split=str(sample_split("cub", cub_fraction, work / "cub_split")))
        measured = measure(cfg, work / part, data_dir)
        if part == "glas":  # a lower budget, for the heaviest method
            low = measure(bench_config("glas", memory_mb=512), work / "low", data_dir, ("MC_Dropout+Label_prop",))
            measured["low_budget"] = {"memory_mb": 512, **low["rounds"]["MC_Dropout+Label_prop"]}
        measured["fraction"] = 1.0 if part == "glas" else cub_fraction
        out.with_name(f"{out.stem}_{part}.json").write_text(json.dumps(measured, indent=1))
    saved = {k: json.loads(out.with_name(f"{out.stem}_{k}.json").read_text()) for k in ("glas", "cub")
             if out.with_name(f"{out.stem}_{k}.json").is_file()}
    if "glas" not in saved:
        return f"measured {', '.join(parts)}; the report needs glas"
    cub = (None, saved["cub"], saved["cub"]["fraction"]) if "cub" in saved else None
    text = report((bench_config("glas"), saved["glas"]), cub)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return text
