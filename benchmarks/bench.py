"""``python benchmarks/bench.py``: side-by-side speed measurements, printed and written to ``benchmarks/results.md``
(``--scale paper``: :mod:`bench_paper`'s phase-by-phase round of every method at the paper's image sizes).

Every figure is a ratio measured in one run on the same data, model and seed, repeated, with medians:

1. one AL session (demo GlaS-like config): the plain path (the reference protocol: every image decoded and
   augmented at every step, the frozen backbone run at every step and at every validation pass) against the exact
   fast path, and both against the floor: the segmentation head's own training steps on cached features;
2. MC_Dropout scoring of the whole pool (T=50): ours (head-only passes over features computed once) against
   baal's ``MCDropoutModule`` + ``ModelWrapper.predict_on_dataset`` around the same JointNet and dropout sites;
3. colour-histogram distances for a CUB-sized set (6,000 images, 200 classes): time and peak memory;
4. wall time and peak memory of the demo pipeline (``figures/demo/runtimes.csv``, written by ``make reproduce``).
"""

from __future__ import annotations

import argparse
import copy
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import stats
from torch import nn
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as TF

from paperlib import al, config, data, store
from paperlib.core import samplers, similarity
from paperlib.core.loss import seg_loss
from paperlib.core.metrics import dice_auc
from paperlib.core.model import JointNet, SiteDropout
from paperlib.core.transforms import eval_size, resize_image
from paperlib.engine import predict, train
from paperlib.engine.learner import Learner, theta0_model

if __package__:  # imported: benchmarks.bench (the tests)
    from . import bench_paper
    from .fresh_process import in_fresh_process
    from .memory import peak_rss_mb
else:  # run as a script, python benchmarks/bench.py: its siblings from its folder (also under python -P)
    if str(Path(__file__).resolve().parent) not in sys.path:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_paper
    from fresh_process import in_fresh_process
    from memory import peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs))


# ---------------------------------------------------------------------------------------------------------------
# 1. One AL session


class ViewCache:
    """The approximation behind the floor (not in the library: it changes the numbers): each training item is shown
    whole, resized to the square network input (``crop * scale``), in each flip view the augmentation uses, and its
    backbone features are computed once per view, so a training step runs the segmentation head alone. It differs
    from the exact path (random crops at the image's own aspect ratio); :func:`bench_session` measures its effect.
    """

    def __init__(self, model: JointNet, items: Dataset, cfg: config.Config, device: torch.device) -> None:
        d = cfg.data
        size = max(1, round(d.crop * d.scale))
        self.hflip, self.vflip = d.hflip, d.vflip
        self.views: dict[tuple[int, bool, bool], tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]] = {}
        self.weights = [float(items[i][3]) for i in range(len(items))]
        flips = [(h, v) for h in (False, True) for v in (False, True) if (d.hflip or not h) and (d.vflip or not v)]
        model.eval()
        with torch.no_grad():
            for i in range(len(items)):
                image, _, mask, _ = items[i]
                img = resize_image(image, (size, size))
                msk = TF.resize(tv_tensors.Mask(mask), [size, size]).as_subclass(torch.Tensor)
                for h, v in flips:
                    x, m = img, msk
                    if h:
                        x, m = x.flip(-1), m.flip(-1)
                    if v:
                        x, m = x.flip(-2), m.flip(-2)
                    xn = model.normalize(x[None].to(device))
                    self.views[(i, h, v)] = (xn[0], [f[0] for f in model.features(xn)], m.to(device))

    def batch_fn(self, seed: int) -> train.BatchFn:
        """Each item's flip view drawn as the exact path draws its flips: inputs, features, masks, weights."""
        def batch(idxs: list[int], epoch: int) -> tuple:
            chosen = []
            for i in idxs:
                flips = torch.rand(2, generator=torch.Generator().manual_seed(train.item_seed(seed, epoch, i)))
                chosen.append(self.views[(i, self.hflip and bool(flips[0] < 0.5), self.vflip and bool(flips[1] < 0.5))])
            xn = torch.stack([c[0] for c in chosen])
            feats = [torch.stack([c[1][k] for c in chosen]) for k in range(len(chosen[0][1]))]
            w = torch.tensor([self.weights[i] for i in idxs], dtype=torch.float32, device=xn.device)
            return xn, feats, torch.stack([c[2] for c in chosen]), w

        return batch


class ViewLearner(Learner):
    """A :class:`Learner` whose head trains on :class:`ViewCache` views (the approximation), all else the same."""

    def fit(self, items: Dataset, seed: int, cycle: str = "fit") -> tuple[JointNet, float]:
        """As :meth:`Learner.fit` (the history kept under ``cycle``), the head trained on cached views."""
        model = self.model()
        views = ViewCache(model, items, self.cfg, self.device)

        def step(m: JointNet, xn: torch.Tensor, feats: list[torch.Tensor], mask: torch.Tensor,
                 w: torch.Tensor) -> torch.Tensor:
            return seg_loss(m.seg_head(xn, feats), mask, w)

        def valid_dice(m: JointNet) -> float:
            return self.dice(m, "valid", 0.5)

        with self.clock("training"):
            hist = train.run_epochs(model, len(items), self.cfg, stage="seg", seed=seed, device=self.device,
                                    batch_fn=views.batch_fn(seed), step_fn=step, metric_fn=valid_dice,
                                    progress=False, clock=self.clock)
        self._history += hist.rows(cycle, "dice")
        return model, hist.best_metric


def bench_session(repeats: int, rounds: int, work: Path) -> dict:
    """Wall time and AUC of one Random session per path; the floor from the approximate path's step time."""
    base = config.get("demo", dataset="glas", rounds=rounds)
    variants = {"plain (reference protocol)": (replace(base, runtime=replace(base.runtime, fast=False)), Learner),
                "fast (exact)": (base, Learner), "approx. crops (cached views)": (base, ViewLearner)}
    _, theta0, _ = al.prepare(base, results_dir=work / "results", data_dir=ROOT / "data", label_prop=False,
                              progress=False)
    out: dict[str, dict] = {name: {"wall": [], "auc": [], "steps": [], "data": [], "eval": []} for name in variants}
    for rep in range(repeats):
        for name, (cfg, kind) in variants.items():
            splits = data.from_config(cfg, seed=0, data_dir=ROOT / "data")
            run = work / f"session_{rep}_{name.split()[0]}"
            shutil.rmtree(run, ignore_errors=True)
            learner = kind(cfg, splits, theta0)
            session = al.Session(cfg, "Random", 0, splits=splits, theta0=theta0, run_dir=run, progress=False,
                                 learner=learner)
            t0 = time.perf_counter()
            session.run()
            out[name]["wall"].append(time.perf_counter() - t0)
            curve = store.rounds_frame(run)["test_dice"].to_numpy()
            out[name]["auc"].append(100 * dice_auc(curve))
            for k, phase in (("steps", "steps"), ("data", "batches"), ("eval", "validation")):
                out[name][k].append(learner.clock.seconds.get(phase, 0.0))
    return {name: {k: _median(v) for k, v in d.items()} for name, d in out.items()}


# ---------------------------------------------------------------------------------------------------------------
# 2. MC dropout: ours against baal


class _ProbsNet(nn.Module):
    """JointNet's foreground probabilities ``Bx(H*W)`` with plain ``nn.Dropout(p)`` at the head's dropout sites,
    the form baal's ``MCDropoutModule`` patches (it runs the whole network at every pass)."""

    def __init__(self, model: nn.Module, p: float) -> None:
        super().__init__()
        self.model = copy.deepcopy(model)
        for i, site in enumerate(self.model.seg_head.sites):
            assert isinstance(site, SiteDropout)
            self.model.seg_head.sites[i] = nn.Dropout(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model.segment(x)).flatten(1)


class _PoolImages(Dataset):
    """Pool images at network input size, ``(image 3xhxw, 0)``."""

    def __init__(self, dataset: data.SegDataset, indices: list[int], cfg: config.Config) -> None:
        self.dataset, self.indices, self.cfg = dataset, indices, cfg

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = self.dataset[self.indices[i]][0]
        size = eval_size(*image.shape[1:], self.cfg.data.min_side, self.cfg.data.scale)
        return resize_image(image, size), 0


def bench_mc(repeats: int, work: Path) -> dict:
    """Time of MC_Dropout scoring of the training pool, ours and baal's, and the rank correlation of the scores."""
    from baal.bayesian.dropout import MCDropoutModule
    from baal.modelwrapper import ModelWrapper, TrainingArgs

    cfg = config.get("demo", dataset="glas")
    splits, theta0, _ = al.prepare(cfg, results_dir=work / "results", data_dir=ROOT / "data", label_prop=False,
                                   progress=False)
    model = theta0_model(cfg, theta0, len(splits.class_names))
    labeled = samplers.initial_query(splits.train.labels, 4, 0).tolist()
    train.train_segmentation(model, train.SegItems(splits.train, labeled), splits.valid, cfg, seed=0,
                             progress=False)
    pool = [i for i in range(len(splits.train)) if i not in set(labeled)]
    passes, p = 50, cfg.al.mc_p
    ours_t, baal_t, ours, theirs = [], [], None, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        cache = predict.FeatureCache(model, splits.train, cfg)
        ours = {i: samplers.mc_dropout_score(s) for i, s in
                predict.mc_dropout_samples(model, splits.train, pool, cfg, passes=passes, p=p, seed=1, cache=cache)}
        ours_t.append(time.perf_counter() - t0)
        wrapped = MCDropoutModule(_ProbsNet(model, p).eval())
        wrapper = ModelWrapper(wrapped, TrainingArgs(batch_size=1, use_cuda=False, workers=0))
        t0 = time.perf_counter()
        torch.manual_seed(1)
        preds = wrapper.predict_on_dataset_generator(_PoolImages(splits.train, pool, cfg), iterations=passes,
                                                     verbose=False)  # images differ in size: one batch each
        theirs = [samplers.mc_dropout_score(np.moveaxis(np.asarray(pr), -1, 0)) for pr in preds]
        baal_t.append(time.perf_counter() - t0)
    rho = stats.spearmanr([ours[i] for i in pool], theirs).statistic
    return {"ours": _median(ours_t), "baal": _median(baal_t), "spearman": float(rho), "pool": len(pool),
            "passes": passes}


# ---------------------------------------------------------------------------------------------------------------
# 3. Histogram distances, CUB-sized


def _write_images(folder: Path, n_classes: int, per_class: int) -> tuple[list[Path], np.ndarray]:
    """CUB-sized JPEGs (500 x 375, smooth colour fields) in class folders."""
    rng = np.random.default_rng(0)
    paths, labels = [], []
    for c in range(n_classes):
        base = rng.uniform(0, 255, 3)
        for j in range(per_class):
            small = np.clip(base + rng.normal(0, 40, (12, 16, 3)), 0, 255).astype(np.uint8)
            img = Image.fromarray(small).resize((500, 375), Image.BILINEAR)
            path = folder / f"{c:03d}" / f"{j:03d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            img.save(path, quality=90)
            paths.append(path)
            labels.append(c)
    return paths, np.array(labels)


def _hist_job(args: tuple) -> tuple[float, float]:
    paths, labels, workers = args
    t0 = time.perf_counter()
    similarity.class_distances(similarity.histograms(paths, progress=False, workers=workers), labels)
    seconds = time.perf_counter() - t0
    return seconds, peak_rss_mb()


def bench_histograms(work: Path, n_classes: int = 200, per_class: int = 30) -> dict:
    """Seconds and peak memory of histograms + same-class distances in a fresh process, reading the images in 1 or
    2 processes (the peak is the main process's: it holds every histogram and the distance matrix)."""
    paths, labels = _write_images(work / "cub_sized", n_classes, per_class)
    out = {"images": len(paths), "classes": n_classes}
    for workers in (1, 2):  # each in a fresh process, so its peak memory is this job's
        seconds, peak_mb = in_fresh_process(_hist_job, (paths, labels, workers))
        out[f"seconds_{workers}"] = seconds
        out[f"peak_mb_{workers}"] = peak_mb
    return out


# ---------------------------------------------------------------------------------------------------------------


def _demo_pipeline() -> dict | None:
    path = ROOT / "figures" / "demo" / "runtimes.csv"
    if not path.is_file():
        return None
    import pandas as pd

    t = pd.read_csv(path)
    return {"seconds": float(t["seconds"].sum()), "peak_mb": float(t["peak_memory_mb"].max())}


def report(session: dict, mc: dict, hist: dict, demo: dict | None, repeats: int, rounds: int,
           phases: dict | None = None) -> str:
    """``benchmarks/results.md``."""
    plain, fast, approx = (session[k] for k in session)
    floor = approx["steps"]
    lines = [
        "# Benchmarks", "",
        "Written by `python benchmarks/bench.py` on 2 CPU cores (shared, noisy machine; medians of "
        f"{repeats} repeats; ratios measured side by side in one run).", "",
        f"## 1. One AL session (demo GlaS-like config, Random, {rounds} rounds, seed 0)", "",
        "| path | wall (s) | x floor | training steps (s) | making batches (s) | validation (s) | AUC of Dice (%) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in session.items():
        lines.append(f"| {name} | {r['wall']:.1f} | {r['wall'] / floor:.1f} | {r['steps']:.1f} | {r['data']:.1f} | "
                     f"{r['eval']:.1f} | {r['auc']:.2f} |")
    met_floor = fast["wall"] <= 1.3 * floor
    lines += [
        "", f"Floor: the segmentation head's own training steps on cached features (the approximate path's step time, "
        f"same steps and batches): {floor:.1f} s.", "",
        f"- Fast path against the reference protocol: **{plain['wall'] / fast['wall']:.2f}x** faster, same test "
        f"Dice (AUC {fast['auc']:.2f} against {plain['auc']:.2f}; the fast path is exact, tested equal to the plain "
        "one).",
        f"- Fast path against its floor: {fast['wall'] / floor:.1f}x; target 1.3x: "
        f"**{'met' if met_floor else 'not met'}**. What bounds it: with random crops at each step the backbone must "
        "run on every crop (features of a crop are not a crop of features), so the exact path pays a backbone "
        "forward and the augmentation per step; validation every epoch and the end-of-round test, threshold and "
        "scoring passes (head only, on cached features) come on top.",
        f"- The approximation (whole views resized to the crop size, features cached per flip view) runs at "
        f"{approx['wall'] / floor:.1f}x the floor and changes the AUC by {approx['auc'] - fast['auc']:+.2f} points; it "
        "is off by default.", "",
        f"## 2. MC_Dropout scoring of the pool (T = {mc['passes']}, p = 0.2, {mc['pool']} images)", "",
        "| implementation | seconds |", "| --- | --- |",
        f"| ours: backbone features once, T head passes | {mc['ours']:.1f} |",
        f"| baal `MCDropoutModule` + `ModelWrapper.predict_on_dataset` (whole network per pass) | {mc['baal']:.1f} |",
        "", f"Ours is **{mc['baal'] / mc['ours']:.1f}x** faster (target: faster than baal at the same dropout "
        f"sites: **{'met' if mc['ours'] < mc['baal'] else 'not met'}**). Spearman rank correlation of the two score "
        f"vectors on a trained model: {mc['spearman']:.3f} (different random draws, same estimator).", "",
        f"## 3. Colour-histogram distances, CUB-sized ({hist['images']} images of 500 x 375, "
        f"{hist['classes']} classes)",
        "", "| processes | seconds | peak memory of the main process (MB, torch import included) |",
        "| --- | --- | --- |",
        f"| 1 | {hist['seconds_1']:.1f} | {hist['peak_mb_1']:.0f} |",
        f"| 2 | {hist['seconds_2']:.1f} | {hist['peak_mb_2']:.0f} |", "",
        f"Target under 60 s on 2 cores: **{'met' if hist['seconds_2'] < 60 else 'not met'}** "
        f"({hist['seconds_2']:.1f} s with 2 processes).", "",
        "## 4. Demo pipeline (`make reproduce`)", "",
    ]
    if demo:
        lines += [f"Wall time {demo['seconds'] / 60:.1f} min, peak memory {demo['peak_mb']:.0f} MB (largest process; "
                  "from `figures/demo/runtimes.csv`). Target under 4 GB: "
                  f"**{'met' if demo['peak_mb'] < 4096 else 'not met'}**."]
    else:
        lines += ["`figures/demo/runtimes.csv` is missing: run `make reproduce` first."]
    if phases:
        lines += ["", *bench_paper.phases_section(phases)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4, help="rounds of the benchmarked AL session")
    parser.add_argument("--scale", choices=("demo", "paper"), default="demo",
                        help="demo: the ratios above on the demo benchmark; paper: one round of every method at the "
                             "paper's image sizes, phase by phase (bench_paper.py; an hour or more on a CPU)")
    parser.add_argument("--only", choices=("glas", "cub"), help="paper scale: measure one dataset (the report "
                        "is written once both were measured)")
    parser.add_argument("--out", help="default: benchmarks/results.md (demo) or benchmarks/paper_scale.md (paper)")
    args = parser.parse_args(argv)
    if args.scale == "paper":
        with tempfile.TemporaryDirectory() as tmp:
            print(bench_paper.main(Path(args.out or ROOT / "benchmarks" / "paper_scale.md"), Path(tmp),
                                   ROOT / "data", (args.only,) if args.only else ("glas", "cub")))
        return 0
    try:
        import baal  # noqa: F401
    except ImportError:
        print("error: baal is needed for the MC dropout comparison: pip install -e '.[bench]'")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("1/4 AL session ...", flush=True)
        session = bench_session(args.repeats, args.rounds, work)
        print("2/4 MC dropout ...", flush=True)
        mc = bench_mc(args.repeats, work)
        print("3/4 histogram distances ...", flush=True)
        hist = bench_histograms(work)
        print("4/4 phases of demo sessions ...", flush=True)
        phases = bench_paper.bench_phases(work, ROOT / "data")
    text = report(session, mc, hist, _demo_pipeline(), args.repeats, args.rounds, phases)
    out = Path(args.out or ROOT / "benchmarks" / "results.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
