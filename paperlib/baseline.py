"""The classifier stage and the two fixed baselines, each made by one path only.

- theta0: ResNet-18 + WILDCAT trained on image labels with seed 0 (the paper freezes one classifier for every AL
  method and seed); :func:`classifier_stage` is the only writer of ``results/<profile>/<dataset>/theta0.pt``.
- WSL: the frozen classifier's CAM masks (its test accuracy is Table 2), as the round-0 record of a ``WSL`` session.
- Full_sup: the segmentation head trained from theta0 on every training image's true mask, as the round-0 record of
  a ``Full_sup`` session.

``python -m paperlib.baseline --profile demo [--seed S]`` runs the ``WSL`` and ``Full_sup`` sessions of a seed (the
same run folders the grid and the notebooks use, training theta0 first when it is missing) and prints their numbers.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import config, data, predict, store, train
from .config import Config
from .learner import Learner, Stream, stream_seed
from .store import RoundRecord, RoundRow

THETA0_SEED = 0  # the classifier every session starts from is seed 0's, as in the paper


def theta0_path(results_dir: str | Path, cfg: Config) -> Path:
    """``results/<profile>/<dataset>/theta0.pt``."""
    return Path(results_dir) / cfg.profile / cfg.data.dataset / "theta0.pt"


def _fingerprint(cfg: Config) -> str:
    """Everything theta0 depends on."""
    t = cfg.train
    parts = {"data": asdict(cfg.data), "model": asdict(cfg.model), "seed": THETA0_SEED,
             "train": {k: getattr(t, k) for k in ("momentum", "weight_decay", "cl_lr", "cl_epochs", "cl_batch",
                                                  "cl_step", "cl_gamma", "eval_every", "eval_batch")}}
    return json.dumps(parts, sort_keys=True)


def classifier_stage(cfg: Config, splits: data.Splits, results_dir: str | Path, *, device: torch.device | None = None,
                     progress: bool = True) -> dict[str, torch.Tensor]:
    """theta0: loaded from :func:`theta0_path` when it was made with the same settings, else trained (seed 0, a
    progress bar over epochs) and saved there."""
    path = theta0_path(results_dir, cfg)
    key = _fingerprint(cfg)
    if path.is_file():
        saved = store.load_tensors(path)
        if saved.get("fingerprint") == key:
            return saved["state"]
        print(f"{path}: made with other settings; training the classifier again", file=sys.stderr)
    if progress:
        tqdm.write(f"[{cfg.profile}/{cfg.data.dataset}] training the classifier theta0 (seed {THETA0_SEED}, "
                   f"{cfg.train.cl_epochs} epochs) -> {path}")
    model = train.build_model(cfg, len(splits.class_names), THETA0_SEED)
    t0 = time.perf_counter()
    hist = train.train_classifier(model, splits.train, splits.valid, cfg, seed=THETA0_SEED, device=device,
                                  progress=progress)
    state = train.snapshot(model)
    store.save_tensors(path, {"state": state, "fingerprint": key, "class_names": splits.class_names,
                              "best_epoch": hist.best_epoch, "valid_accuracy": hist.best_metric,
                              "seconds": round(time.perf_counter() - t0, 1)})
    return state


def wsl_round(learner: Learner) -> RoundRecord:
    """WSL: theta0's CAM masks on test and validation (no threshold, no pixel label); ``metrics`` holds the
    test and validation accuracy of the frozen classifier (Table 2)."""
    t0 = time.perf_counter()
    model, splits, cfg = learner.model(), learner.splits, learner.cfg
    test = predict.evaluate(model, splits.test, cfg, device=learner.device, segmentation=False)
    valid = predict.evaluate(model, splits.valid, cfg, device=learner.device, segmentation=False)
    row = RoundRow(0, 0, 0, test["wsl_dice"], valid["wsl_dice"], math.nan, math.nan,
                   round(time.perf_counter() - t0, 2))
    return RoundRecord(row, [], [], [], [], math.nan, None,
                       metrics={"test_accuracy": test["accuracy"], "valid_accuracy": valid["accuracy"]})


def full_sup_round(learner: Learner, seed: int) -> RoundRecord:
    """Full_sup: the head trained from theta0 on every training image with its true mask (the ceiling)."""
    t0 = time.perf_counter()
    labeled = list(range(len(learner.splits.train)))
    model, _ = learner.fit(learner.items(labeled, None), stream_seed(seed, 0, Stream.REFIT))
    threshold = learner.threshold(model)
    row = RoundRow(0, len(labeled), 0, learner.dice(model, "test", threshold), learner.dice(model, "valid", threshold),
                   math.nan, threshold, round(time.perf_counter() - t0, 2))
    return RoundRecord(row, labeled, labeled, [], [], threshold, train.snapshot(model.seg_head))


def main(argv: list[str] | None = None) -> int:
    from . import cli, grid

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
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for d in names:
        wsl, sup = (store.RunFolder(r).finished()[0] for t, r in zip(todo, runs, strict=True) if t.dataset == d)
        print(f"{args.profile}/{d} seed {args.seed}: test accuracy {100 * wsl.metrics['test_accuracy']:.1f}%, "
              f"WSL Dice {100 * wsl.row.test_dice:.1f}%, Full_sup Dice {100 * sup.row.test_dice:.1f}% "
              f"({wsl.row.seconds:.0f}s + {sup.row.seconds:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
