"""The classifier stage and the two fixed baselines: theta0 (ResNet-18 + WILDCAT trained on image labels),
its test accuracy and WSL (CAM) Dice, and Full_sup (segmentation head trained on every true mask).

``python -m paperlib.baseline --profile demo`` writes ``results/<profile>/<dataset>/theta0.pt`` and
``baseline.json`` for each dataset of the profile and prints one line per dataset.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from . import config, data, store, train
from .config import Config


def _fingerprint(cfg: Config, seed: int) -> str:
    """Everything theta0 depends on."""
    t = cfg.train
    parts = {"data": asdict(cfg.data), "model": asdict(cfg.model), "seed": seed,
             "train": {k: getattr(t, k) for k in ("momentum", "weight_decay", "cl_lr", "cl_epochs", "cl_batch",
                                                  "cl_step", "cl_gamma", "eval_every", "eval_batch")}}
    return json.dumps(parts, sort_keys=True)


def classifier_stage(cfg: Config, splits: data.Splits, path: str | Path, *, seed: int = 0,
                     device: torch.device | None = None, progress: bool = True) -> dict[str, torch.Tensor]:
    """theta0: loaded from ``path`` when it was made with the same settings, else trained and saved there."""
    path = Path(path)
    key = _fingerprint(cfg, seed)
    if path.is_file():
        saved = store.load_tensors(path)
        if saved.get("fingerprint") == key:
            return saved["state"]
        print(f"{path}: made with other settings; training the classifier again", file=sys.stderr)
    model = train.build_model(cfg, len(splits.class_names), seed)
    hist = train.train_classifier(model, splits.train, splits.valid, cfg, seed=seed, device=device,
                                  progress=progress)
    state = train.snapshot(model)
    store.save_tensors(path, {"state": state, "fingerprint": key, "class_names": splits.class_names,
                              "best_epoch": hist.best_epoch, "valid_accuracy": hist.best_metric})
    return state


def run(cfg: Config, *, seed: int = 0, results_dir: str | Path = "results", data_dir: str | Path = "data",
        device: torch.device | None = None, progress: bool = True) -> dict[str, Any]:
    """Classifier stage, WSL and Full_sup on one dataset; writes ``theta0.pt`` and ``baseline.json``.

    Returns test accuracy, WSL Dice and Full_sup Dice (fractions) with the validation threshold and timings.
    """
    device = device or train.resolve_device(cfg.train.device)
    out = Path(results_dir) / cfg.profile / cfg.data.dataset
    splits = data.from_config(cfg, seed=seed, data_dir=data_dir)
    t0 = time.perf_counter()
    theta0 = classifier_stage(cfg, splits, out / "theta0.pt", seed=seed, device=device, progress=progress)
    t_cl = time.perf_counter() - t0
    model = train.build_model(cfg, len(splits.class_names), seed)
    model.load_state_dict(theta0)
    wsl = train.evaluate(model, splits.test, cfg, device=device, segmentation=False)
    t0 = time.perf_counter()
    _, sup = train.full_sup(theta0, splits, cfg, seed=seed, num_classes=len(splits.class_names), device=device,
                            progress=progress)
    result = {
        "dataset": cfg.data.dataset, "seed": seed, "n_train": len(splits.train), "n_valid": len(splits.valid),
        "n_test": len(splits.test), "test_accuracy": wsl["accuracy"], "wsl_dice": wsl["wsl_dice"],
        "full_sup_dice": sup["dice"], "full_sup_threshold": sup["threshold"],
        "seconds_classifier": round(t_cl, 1), "seconds_full_sup": round(time.perf_counter() - t0, 1),
    }
    store.write_json(out / "baseline.json", {**store.provenance(cfg), "metrics": result})
    return result


def main(argv: list[str] | None = None) -> int:
    parser = config.cli_parser("python -m paperlib.baseline", __doc__.split("\n\n")[0],
                               "one dataset of the profile (default: all of them)")
    args = parser.parse_args(argv)
    try:
        names = [args.dataset] if args.dataset else list(config.datasets(args.profile))
        cfgs = [config.get(args.profile, dataset=n, **dict(args.p)) for n in names]
    except config.ConfigError as exc:
        parser.error(str(exc))
    for cfg in cfgs:
        try:
            r = run(cfg, seed=args.seed, results_dir=args.results, data_dir=args.data)
        except (data.DataError, FileExistsError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{cfg.profile}/{r['dataset']}: test accuracy {100 * r['test_accuracy']:.1f}%, "
              f"WSL Dice {100 * r['wsl_dice']:.1f}%, Full_sup Dice {100 * r['full_sup_dice']:.1f}% "
              f"({r['seconds_classifier']:.0f}s + {r['seconds_full_sup']:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
