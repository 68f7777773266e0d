"""The classifier stage, made by one path only: ResNet-18 + WILDCAT trained on image labels, once per seed (the
paper's Table 2 and WSL row are mean +- std over seeds). Seed 0's is theta0, which the paper freezes for every AL
method and seed. :func:`classifier_stage` is the only writer of ``results/<profile>/<dataset>/theta0.pt`` (seed 0)
and ``classifier_seed_<s>.pt`` (other seeds); the sessions that use a classifier are in :mod:`paperlib.al`.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from .. import config, data, store
from ..config import Config, TrainConfig
from ..core.methods import THETA0_SEED, parse_method
from ..data.key import data_key
from ..errors import MissingFileError, TrainingDiverged
from ..progress import progress_line
from ..runtime import threads
from . import train


def classifier_path(results_dir: str | Path, cfg: Config, seed: int = THETA0_SEED) -> Path:
    """``results/<profile>/<dataset>/theta0.pt`` for seed 0, ``classifier_seed_<s>.pt`` for another seed."""
    name = "theta0.pt" if seed == THETA0_SEED else f"classifier_seed_{seed}.pt"
    return Path(results_dir) / cfg.profile / cfg.data.dataset / name


SEGMENTATION_ONLY = "seg_"  # TrainConfig fields of the segmentation stage alone: the classifier never reads them


def classifier_fields(t: TrainConfig) -> dict[str, object]:
    """The training fields a classifier depends on: every field of :class:`TrainConfig` but the segmentation
    stage's own (``seg_*``), so that a new field counts until it is known not to."""
    return {k: v for k, v in asdict(t).items() if not k.startswith(SEGMENTATION_ONLY)}


def _settings_of(cfg: Config, seed: int) -> dict:
    """Everything a seed's classifier depends on: the data and model sections, the seed and
    :func:`classifier_fields` (saved as :func:`_fingerprint`)."""
    return json.loads(json.dumps({"data": cfg.identity()["data"], "model": asdict(cfg.model), "seed": seed,
                                  "train": classifier_fields(cfg.train)}))  # as read back from a file


def _fingerprint(cfg: Config, seed: int) -> str:
    return json.dumps(_settings_of(cfg, seed), sort_keys=True)


OTHER_SETTINGS = "made with other settings"


def _settings(fingerprint: object) -> dict:
    """The settings a saved :func:`_fingerprint` holds, its data_root resolved as today's (a file made under
    another spelling of the same path is the same classifier); empty when unreadable."""
    try:
        return config.resolved(json.loads(fingerprint)) if isinstance(fingerprint, str) else {}
    except ValueError:
        return {}


def classifier_stage(cfg: Config, splits: data.Splits, results_dir: str | Path, *, seed: int = THETA0_SEED,
                     device: torch.device | None = None, progress: bool = True) -> dict[str, torch.Tensor]:
    """The classifier of ``seed`` (default: theta0): loaded from :func:`classifier_path` when it was made with the
    same settings and from the same data (:func:`~paperlib.data.key.data_key` of ``splits``), else trained (a
    progress bar over epochs; on one CPU thread, so that it is the same classifier in a notebook, a command or a grid
    worker) and saved there, with one line saying why when a file was there. Its state dict holds every weight of
    the JointNet (the segmentation head at its seeded initial weights)."""
    path = classifier_path(results_dir, cfg, seed)
    store.make_folder(path.parent)
    key = None if splits is None else data_key(splits)
    made, _ = _made(cfg, path, seed, splits, key)  # written atomically: read without the lock
    if made is not None:
        return made["state"]
    # one writer: the sessions of a seed (WSL and the CAM family) may ask for its classifier side by side
    with store.file_lock(path.with_name(f".{path.name}.lock"), f"{path}: being trained by another process; waiting"):
        return _classifier(cfg, splits, path, seed, device, progress, key)


def _classes(cfg: Config, saved: dict) -> int | None:
    """How many classes the saved classifier has: its ``class_names``, else its WILDCAT layer's shape."""
    if saved.get("class_names") is not None:
        return len(saved["class_names"])
    for name, w in (saved.get("state") or {}).items():
        if name.endswith("to_modalities.weight"):
            return int(w.shape[0]) // cfg.model.modalities
    return None


def _made(cfg: Config, path: Path, seed: int, splits: data.Splits | None = None,
          key: str | None = None) -> tuple[dict | None, str]:
    """What is saved at ``path`` (``state``, ``class_names``, ...) when it is the classifier of ``seed`` made with
    ``cfg``'s settings and from the data of ``splits`` (their :func:`~paperlib.data.key.data_key` ``key``;
    ``None``: not checked), else ``None`` and why not (empty: no file)."""
    if not path.is_file():
        return None, ""
    saved = store.load_tensors(path)
    made_with, wanted = _settings(saved.get("fingerprint")), _settings_of(cfg, seed)
    if made_with != wanted:
        return None, f"{OTHER_SETTINGS} ({'; '.join(store.differences(made_with, wanted, 'in the file'))})"
    if splits is not None:
        have, want = _classes(cfg, saved), len(splits.class_names)
        if have is not None and have != want:  # before torch's size mismatch: which file, and why
            return None, f"trained on {have} classes but the data have {want}"
        if key is None:
            key = data_key(splits)
        # A file saved before the data key (no "data_key") is accepted when its settings and class count match, so
        # that existing results folders resume; one trained from now on is checked against its data.
        if saved.get("data_key") is not None and saved["data_key"] != key:
            return None, "trained on other data (labels or files changed)"
    if not store.same_bits(saved.get("machine") or {}, store.machine()) and path not in _noted:
        _noted.add(path)
        progress_line(f"note: {path} was trained under other bits (another CPU, setting or library "
                      "version: paperlib.bits); it is reused, so sessions built on it give that run's "
                      "numbers; delete it to train it again here")
    return saved, ""


_noted: set[Path] = set()  # classifiers already reported as trained under other bits


def _classifier(cfg: Config, splits: data.Splits, path: Path, seed: int, device: torch.device | None,
                progress: bool, data_id: str | None) -> dict[str, torch.Tensor]:
    key = _fingerprint(cfg, seed)
    made, why = _made(cfg, path, seed, splits, data_id)  # another process may have made it while this one waited
    if made is not None:
        return made["state"]
    if why:
        print(f"{path}: {why}; training it again", file=sys.stderr)
    if progress:
        name = "theta0" if seed == THETA0_SEED else "the classifier"
        progress_line(f"[{cfg.profile}/{cfg.data.dataset}] training {name} (seed {seed}, {cfg.train.cl_epochs} "
                      f"epochs) -> {path}")
    model = train.build_model(cfg, len(splits.class_names), seed)
    t0 = time.perf_counter()
    with threads(1):  # on the CPU one thread, as in a grid worker: the same classifier wherever it is trained
        try:
            hist = train.train_classifier(model, splits.train, splits.valid, cfg, seed=seed, device=device,
                                          progress=progress)
        except TrainingDiverged as exc:  # nothing is saved
            raise TrainingDiverged(f"{cfg.profile}/{cfg.data.dataset} seed {seed}: {exc}") from None
        made_under = store.machine()  # the thread count it was trained on
    state = train.snapshot(model)
    history = hist.rows("classifier", "accuracy")
    store.save_tensors(path, {"state": state, "fingerprint": key, "data_key": data_id, "machine": made_under,
                              "class_names": splits.class_names,
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
    family (the paper's spread over seeds, paired seed by seed) and, under ``al.theta0 = "per_seed"``, for every
    method; else theta0 (:func:`classifier_stage`)."""
    return classifier_stage(cfg, splits, results_dir, seed=parse_method(method).classifier_seed(seed, cfg.al.theta0),
                            device=device, progress=progress)


def load_classifier(cfg: Config, results_dir: str | Path, seed: int = THETA0_SEED, *,
                    splits: data.Splits | None = None) -> dict[str, torch.Tensor]:
    """The state dict of :func:`saved_classifier`."""
    return saved_classifier(cfg, results_dir, seed, splits=splits)["state"]


def saved_classifier(cfg: Config, results_dir: str | Path, seed: int = THETA0_SEED, *,
                     splits: data.Splits | None = None) -> dict:
    """What :func:`classifier_stage` saved for ``seed`` (default: theta0) with ``cfg``'s settings (and, given
    ``splits``, from their data): ``state``, ``class_names`` and its record, loaded and never trained (for views and
    the final model, which must not train); a :class:`~paperlib.errors.MissingFileError` naming the file when it is
    missing, was made with other settings or from other data (delete it: the next session trains it again)."""
    path = classifier_path(results_dir, cfg, seed)
    made, why = _made(cfg, path, seed, splits)
    if made is None:
        name = "theta0" if seed == THETA0_SEED else f"the classifier of seed {seed}"
        where = f"{cfg.profile}/{cfg.data.dataset}"
        if why and not why.startswith(OTHER_SETTINGS):
            raise MissingFileError(f"{path} ({name} of {where}) is stale: {why}; delete it, and notebook "
                                   f"03_wsl_baseline (or any session of {where}) trains it again")
        why = f"was {why}" if why else "is missing"
        raise MissingFileError(f"{path} ({name} of {where}) {why}: run notebook 03_wsl_baseline (or any session of "
                               f"{where}) first, which trains it")
    return made
