"""Running a session from a profile: what every session of a profile and dataset shares (the splits, theta0,
the same-class colour distances), then one :class:`~paperlib.al.session.Session` in its run folder."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .. import data, store
from ..config import Config
from ..core import similarity
from ..core.methods import parse_method
from ..data.key import data_key
from ..engine import classifier
from ..errors import ConfigError, StoreError
from ..store import atomic_write_bytes
from . import preflight
from .oracles import FolderOracle, Oracle, SimulatedOracle
from .session import Session


def cached_distances(paths: Sequence[str | Path], ids: Sequence[str], labels: np.ndarray, cache: str | Path,
                     progress: bool = True, workers: int = 1, *, data_id: str = "") -> np.ndarray:
    """``class_distances`` of the images, computed once and kept in ``cache`` (``.npz``) keyed by ids, labels, the
    images' real paths (however the data folder is spelled; another generator seed or knob set of a synthetic
    benchmark is another folder) and ``data_id``: the :func:`~paperlib.data.key.data_key` of the splits they come
    from (files rewritten or touched in place)."""
    cache = Path(cache)
    text = "\n".join(ids) + "|" + ",".join(map(str, labels)) + "|" + "\n".join(map(os.path.realpath, paths))
    text += f"|{data_id}" if data_id else ""
    key = hashlib.sha256(text.encode()).hexdigest()
    if cache.is_file():
        try:
            with np.load(cache) as z:
                if str(z["key"]) == key:
                    return z["dist"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise StoreError(f"{cache}: cannot be loaded (truncated or corrupt: {type(exc).__name__}); delete it and "
                             "run the same command again (the distances are computed again)") from None
    dist = similarity.class_distances(similarity.histograms(paths, progress=progress, workers=workers), labels)
    buf = io.BytesIO()
    np.savez(buf, key=np.array(key), dist=dist)
    atomic_write_bytes(cache, buf.getvalue())
    return dist


def distances(cfg: Config, splits: data.Splits, results_dir: str | Path, *, progress: bool = True) -> np.ndarray:
    """Same-class colour distances of the training images, cached in ``results/<profile>/<dataset>/`` and computed
    again when the data change (:func:`~paperlib.data.key.data_key`, as theta0)."""
    tr = splits.train
    path = Path(results_dir) / cfg.profile / cfg.data.dataset / "distances.npz"
    return cached_distances([r.image for r in tr.records], tr.ids, tr.labels, path, progress=progress,
                            data_id=data_key(splits))


def prepare(cfg: Config, *, results_dir: str | Path = "results", data_dir: str | Path = "data",
            label_prop: bool = True, device: torch.device | None = None, progress: bool = True,
            sessions: Sequence[tuple[str, int]] = (), oracle: str | Oracle = "simulated"
            ) -> tuple[data.Splits, dict[str, torch.Tensor], np.ndarray | None]:
    """What every session of a profile and dataset shares: the splits, theta0
    (:func:`paperlib.engine.classifier.classifier_stage`: loaded, or trained once and saved) and, for Label_prop,
    the same-class colour distances. ``sessions``: the ``(method, seed)`` of the sessions to prepare for (empty: not
    known), asking ``oracle``; what they need (masks, extras) is checked before anything is trained, with every
    other check that needs no training (:mod:`paperlib.al.preflight`)."""
    splits = data.from_config(cfg, seed=0, data_dir=data_dir)
    preflight.check(cfg, splits, results_dir, sessions, oracle=oracle, progress=progress)  # before any training
    theta0 = classifier.classifier_stage(cfg, splits, results_dir, device=device, progress=progress)
    dist = distances(cfg, splits, results_dir, progress=progress) if label_prop else None
    return splits, theta0, dist


def run_session(cfg: Config, method: str, seed: int, *, results_dir: str | Path = "results",
                data_dir: str | Path = "data", oracle: str | Oracle = "simulated",
                device: torch.device | None = None, run_folder: str | Path | None = None,
                progress: bool = True) -> tuple[str, Path]:
    """Prepare what is shared, then run (or resume) one session in ``run_folder`` (default:
    :func:`paperlib.store.run_path`). ``oracle``: ``"simulated"``, ``"folder"`` (:class:`FolderOracle` in
    ``<run>/queries``) or any :class:`~paperlib.al.oracles.Oracle`, asked the same way. Returns the session's
    status and run folder."""
    m = parse_method(method)
    if isinstance(oracle, str) and oracle not in ("simulated", "folder"):
        raise ConfigError(f"unknown oracle {oracle!r}; use 'simulated' or 'folder'")
    splits, _, dist = prepare(cfg, results_dir=results_dir, data_dir=data_dir, label_prop=m.label_prop,
                              device=device, progress=progress, sessions=[(method, seed)], oracle=oracle)
    weights = classifier.session_classifier(cfg, splits, results_dir, m.name, seed, device=device, progress=progress)
    folder = Path(run_folder or store.run_path(results_dir, cfg.profile, cfg.data.dataset, method, seed))
    if oracle == "folder":
        orc: Oracle = FolderOracle(splits.train, folder / "queries")
    elif oracle == "simulated":
        orc = SimulatedOracle(splits.train)
    else:
        orc = oracle
    session = Session(cfg, method, seed, splits=splits, theta0=weights, run_dir=folder, oracle=orc, distances=dist,
                      device=device, progress=progress)
    return session.run(), folder
