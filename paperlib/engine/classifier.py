"""The classifier stage and the two fixed baselines, each made by one path only.

- The classifier: ResNet-18 + WILDCAT trained on image labels, once per seed (the paper's Table 2 and WSL row are
  mean +- std over seeds). Seed 0's is theta0, which the paper freezes for every AL method and seed.
  :func:`classifier_stage` is the only writer of ``results/<profile>/<dataset>/theta0.pt`` (seed 0) and
  ``classifier_seed_<s>.pt`` (other seeds).
- WSL: a seed's classifier's CAM masks (its test accuracy is Table 2), as the round-0 record of that seed's ``WSL``
  session; the CAM family (:mod:`paperlib.cam_family`: ``GradCAM``, ``GradCAM++``, ``AblationCAM``, ``XGradCAM``)
  likewise, from the same classifier, at a threshold chosen on validation.
- Full_sup: the segmentation head trained from theta0 on every training image's true mask, as the round-0 record of
  a ``Full_sup`` session.

``python -m paperlib.baseline --profile demo [--seed S]`` runs the ``WSL`` and ``Full_sup`` sessions of a seed (the
same run folders the grid and the notebooks use, training theta0 and the seed's classifier first when missing) and
prints their numbers.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from .. import config, data, store
from ..config import Config
from ..progress import progress_line
from ..runtime import threads
from ..store import RoundRecord, RoundRow
from . import cam_family, predict, train
from .learner import Learner, Stream, stream_seed

THETA0_SEED = 0  # the classifier every AL and Full_sup session starts from is seed 0's, as in the paper
WSL_METHODS = ("WSL", *cam_family.METHODS)  # fixed baselines of their seed's own classifier


def classifier_path(results_dir: str | Path, cfg: Config, seed: int = THETA0_SEED) -> Path:
    """``results/<profile>/<dataset>/theta0.pt`` for seed 0, ``classifier_seed_<s>.pt`` for another seed."""
    name = "theta0.pt" if seed == THETA0_SEED else f"classifier_seed_{seed}.pt"
    return Path(results_dir) / cfg.profile / cfg.data.dataset / name


def _fingerprint(cfg: Config, seed: int) -> str:
    """Everything a seed's classifier depends on."""
    t = cfg.train
    parts = {"data": asdict(cfg.data), "model": asdict(cfg.model), "seed": seed,
             "train": {k: getattr(t, k) for k in ("momentum", "weight_decay", "cl_lr", "cl_epochs", "cl_batch",
                                                  "cl_step", "cl_gamma", "eval_every", "eval_batch")}}
    return json.dumps(parts, sort_keys=True)


def classifier_stage(cfg: Config, splits: data.Splits, results_dir: str | Path, *, seed: int = THETA0_SEED,
                     device: torch.device | None = None, progress: bool = True) -> dict[str, torch.Tensor]:
    """The classifier of ``seed`` (default: theta0): loaded from :func:`classifier_path` when it was made with the
    same settings, else trained (a progress bar over epochs; on one CPU thread, so that it is the same classifier in
    a notebook, a command or a grid worker) and saved there. Its state dict holds every weight of the JointNet (the
    segmentation head at its seeded initial weights)."""
    path = classifier_path(results_dir, cfg, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    made = _made(cfg, path, seed)  # written atomically: read without the lock
    if made is not None:
        return made
    # one writer: the sessions of a seed (WSL and the CAM family) may ask for its classifier side by side
    with store.file_lock(path.with_name(f".{path.name}.lock"), f"{path}: being trained by another process; waiting"):
        return _classifier(cfg, splits, path, seed, device, progress)


def _made(cfg: Config, path: Path, seed: int) -> dict[str, torch.Tensor] | None:
    """The state saved at ``path`` when it is the classifier of ``seed`` made with ``cfg``'s settings."""
    if path.is_file():
        saved = store.load_tensors(path)
        if saved.get("fingerprint") == _fingerprint(cfg, seed):
            return saved["state"]
    return None


def _classifier(cfg: Config, splits: data.Splits, path: Path, seed: int, device: torch.device | None,
                progress: bool) -> dict[str, torch.Tensor]:
    key = _fingerprint(cfg, seed)
    made = _made(cfg, path, seed)  # another process may have made it while this one waited for the lock
    if made is not None:
        return made
    if path.is_file():
        print(f"{path}: made with other settings; training the classifier again", file=sys.stderr)
    if progress:
        name = "theta0" if seed == THETA0_SEED else "the classifier"
        progress_line(f"[{cfg.profile}/{cfg.data.dataset}] training {name} (seed {seed}, {cfg.train.cl_epochs} "
                      f"epochs) -> {path}")
    model = train.build_model(cfg, len(splits.class_names), seed)
    t0 = time.perf_counter()
    with threads(1):  # on the CPU one thread, as in a grid worker: the same classifier wherever it is trained
        hist = train.train_classifier(model, splits.train, splits.valid, cfg, seed=seed, device=device,
                                      progress=progress)
    state = train.snapshot(model)
    history = hist.rows("classifier", "accuracy")
    store.save_tensors(path, {"state": state, "fingerprint": key, "class_names": splits.class_names,
                              "best_epoch": hist.best_epoch, "valid_accuracy": hist.best_metric,
                              "seconds": round(time.perf_counter() - t0, 1), "history": history})
    store.write_history(history_path(path), [(0, history)], cfg.runtime.tensorboard)
    return state


def history_path(classifier: Path) -> Path:
    """``theta0.history.csv`` (``classifier_seed_<s>.history.csv``): the classifier stage's per-epoch history,
    beside its weights."""
    return classifier.with_suffix(".history.csv")


def session_classifier(cfg: Config, splits: data.Splits, results_dir: str | Path, method: str, seed: int, *,
                       device: torch.device | None = None, progress: bool = True) -> dict[str, torch.Tensor]:
    """The classifier a session of ``method`` and ``seed`` computes with: its own seed's for ``WSL`` and the CAM
    family (the paper's spread over seeds, paired seed by seed), theta0 for every other method
    (:func:`classifier_stage`)."""
    return classifier_stage(cfg, splits, results_dir, seed=seed if method in WSL_METHODS else THETA0_SEED,
                            device=device, progress=progress)


def wsl_round(learner: Learner, cam: str = "") -> RoundRecord:
    """WSL: the CAM masks of the learner's classifier (its seed's) on test and validation (no threshold, no pixel
    label); ``metrics`` holds the classifier's test and validation accuracy (Table 2). ``cam``: a CAM-family
    method instead of WILDCAT's own CAMs (:func:`paperlib.cam_family.cam_round`)."""
    if cam:
        return cam_family.cam_round(learner, cam)
    t0 = time.perf_counter()
    model, splits, cfg = learner.model(), learner.splits, learner.cfg
    with learner.clock("CAMs"):
        test = predict.evaluate(model, splits.test, cfg, device=learner.device, segmentation=False)
        valid = predict.evaluate(model, splits.valid, cfg, device=learner.device, segmentation=False)
    row = RoundRow(0, 0, 0, test["wsl_dice"], valid["wsl_dice"], math.nan, math.nan,
                   round(time.perf_counter() - t0, 2))
    return RoundRecord(row, [], [], [], [], math.nan, None,
                       metrics={"test_accuracy": test["accuracy"], "valid_accuracy": valid["accuracy"]})


def full_sup_round(learner: Learner, seed: int) -> RoundRecord:
    """Full_sup: the head trained from theta0 on every training image with its true mask (the ceiling)."""
    learner.splits.train.require_masks("Full_sup")
    t0 = time.perf_counter()
    labeled = list(range(len(learner.splits.train)))
    learner.take_history()
    model, _ = learner.fit(learner.items(labeled, None), stream_seed(seed, 0, Stream.REFIT))
    threshold = learner.threshold(model)
    row = RoundRow(0, len(labeled), 0, learner.dice(model, "test", threshold), learner.dice(model, "valid", threshold),
                   math.nan, threshold, round(time.perf_counter() - t0, 2))
    return RoundRecord(row, labeled, labeled, [], [], threshold, train.snapshot(model.seg_head),
                       history=learner.take_history())


def main(argv: list[str] | None = None) -> int:
    from .. import cli, grid

    parser = cli.parser("python -m paperlib.baseline", __doc__.split("\n\n")[0],
                        "one dataset of the profile (default: all of them)")
    args = parser.parse_args(argv)
    try:
        cfgs = config.notebook_configs(args.profile, **cli.overrides(args))
        names = [args.dataset] if args.dataset else list(cfgs)
        todo = grid.tasks(names, ["WSL", "Full_sup"], [args.seed])
        runs = grid.run(args.profile, todo, results_dir=args.results, data_dir=args.data,
                        base_overrides=cli.overrides(args), workers=1)
    except cli.USER_ERRORS as exc:
        return cli.fail(exc, args)
    for d in names:
        wsl, sup = (store.RunFolder(r).finished()[0] for t, r in zip(todo, runs, strict=True) if t.dataset == d)
        print(f"{args.profile}/{d} seed {args.seed}: test accuracy {100 * wsl.metrics['test_accuracy']:.1f}%, "
              f"WSL Dice {100 * wsl.row.test_dice:.1f}%, Full_sup Dice {100 * sup.row.test_dice:.1f}% "
              f"({wsl.row.seconds:.0f}s + {sup.row.seconds:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
