"""Preflight: every check that needs no training, made before any training (theta0, a seed's classifier, a round).

A session (:func:`paperlib.al.runner.prepare`, called by :func:`~paperlib.al.runner.run_session`) and a grid
(:func:`paperlib.grid.run`, before it prepares a dataset or starts a session) are refused here, each refusal one
line naming the field or file (a :class:`~paperlib.errors.PaperlibError`: exit code 2 on the command line), and a
refused session writes nothing under ``results/`` (no run folder, no ``theta0.pt``):

- seeds: non-negative integers;
- methods: known names, and the extras they need (``cams`` for a CAM-family method: :func:`require_methods`, the one
  place that decides it), and ``tensorboard`` for the runtime setting ``tensorboard``;
- masks: every training image's, for the sessions that need them (:func:`masks_needed`: Full_sup, and an AL session
  whose oracle is the simulated one);
- classes: at least two, each with a training image, and a validation and a test image (a classifier saved from
  other classes is trained again: :mod:`paperlib.engine.classifier`);
- budgets of an AL session against each class's training pool: ``init_per_class`` (every class: a label typo in a
  dataset file makes a class of one image), ``per_class`` and ``rounds`` (the session must reach its last round
  before every class's pool runs out);
- files: every image and mask the session reads (train, valid, test) opens and decodes in full
  (``PIL.Image.open(...).load()``). A decoded file is remembered by (path, size, mtime) in memory, per process, and in
  ``results/<profile>/<dataset>/decoded.json`` (written only once every check has passed), so that a second run,
  or a grid's worker process, reads only the files' sizes and times.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .. import data, store
from ..config import Config
from ..core.methods import parse_method
from ..data.key import file_stamp
from ..errors import ConfigError, DataError, StoreError, require_extra
from ..progress import progress_bar
from ..store import tensorboard
from .session import check_budget

CACHE_NAME = "decoded.json"  # results/<profile>/<dataset>/decoded.json: files known to decode, by (size, mtime)
_CACHE_VERSION = 1
_decoded: dict[str, tuple[int, int]] = {}  # this process's decoded files: resolved path -> (size, mtime_ns)

Sessions = Sequence[tuple[str, int]]  # (method, seed) of the sessions a check is for


def masks_needed(method: str, oracle: object = "simulated") -> str:
    """What in a session of ``method`` with ``oracle`` (``"simulated"``, ``"folder"`` or an oracle object) needs
    the true mask of every training image: ``Full_sup`` (it trains on them all), ``the simulated oracle`` (an AL
    session's, which reveals them); empty when nothing does (WSL, the CAM family, an AL session whose masks a
    person or another oracle draws)."""
    m = parse_method(method)
    if m.kind == "full_sup":
        return "Full_sup"
    return "the simulated oracle" if m.kind == "al" and oracle == "simulated" else ""


def require_methods(names: Sequence[str]) -> list[str]:
    """The methods ``names`` parsed (an unknown name is a :class:`ConfigError` listing the known ones), each one a
    session can run here: one :class:`ConfigError` naming every CAM-family method when the ``cams`` extra is not
    installed."""
    methods = [parse_method(n) for n in names]
    require_extra("cams", [m.name for m in methods if m.cam])
    return [m.name for m in methods]


def check(cfg: Config, splits: data.Splits, results_dir: str | Path, sessions: Sessions = (), *,
          oracle: object = "simulated", progress: bool = False) -> None:
    """Every check of the sessions ``sessions`` (``(method, seed)``; empty: none known, only what every session of
    ``cfg`` needs) of ``cfg`` on ``splits``, their AL sessions asking ``oracle``; raises the first refusal. The
    decoded files are remembered once every check has passed."""
    check_options(cfg, sessions)
    for method, _ in sessions:
        check_masks(splits, method, oracle)
    _save(_check_data(cfg, splits, results_dir, sessions, progress))


def check_masks(splits: data.Splits, method: str, oracle: object = "simulated", hint: str = "") -> None:
    """:class:`DataError` when a session of ``method`` with ``oracle`` needs every training mask
    (:func:`masks_needed`) and some are missing; ``hint`` says what to do instead."""
    needs = masks_needed(method, oracle)
    if needs:
        splits.train.require_masks(needs, hint)


def check_grid(plan: Sequence[Any], results_dir: str | Path, data_dir: str | Path, *, progress: bool = False) -> None:
    """:func:`check` of every session of a grid before any is prepared or started. ``plan``: the grid's planned
    sessions (:class:`paperlib.grid.runner.Planned`: ``cfg``, ``task.method``, ``task.seed``); each runs with the
    simulated oracle, so AL and Full_sup sessions need every training image's mask. Options first (no data is read
    for a bad seed or a missing extra), then each dataset's splits once."""
    for p in plan:
        check_options(p.cfg, [(p.task.method, p.task.seed)])
    by_data: dict[tuple[str, Any], list[Any]] = {}
    for p in plan:
        by_data.setdefault((p.cfg.profile, p.cfg.data), []).append(p)
    pending: list[tuple[Path, dict[str, tuple[int, int]]]] = []
    for group in by_data.values():
        splits = data.from_config(group[0].cfg, seed=0, data_dir=data_dir)
        for p in group:
            check_masks(splits, p.task.method)
            pending += _check_data(p.cfg, splits, results_dir, [(p.task.method, p.task.seed)], progress)
    _save(pending)


def check_options(cfg: Config, sessions: Sessions) -> None:
    """Seeds and methods of ``sessions``, and the extras the options name (no data read)."""
    for method, seed in sessions:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ConfigError(f"field 'seed' = {seed!r} ({method}): a seed must be a non-negative integer")
    require_methods([method for method, _ in sessions])
    if cfg.runtime.tensorboard:
        try:
            tensorboard.require()
        except ConfigError as exc:
            raise ConfigError(f"config field 'tensorboard' is on, but {exc}") from None


def check_classes(splits: data.Splits) -> None:
    """At least two classes (the classifier's), each with a training image and more than one image in all the data
    (a class of one image is a label typo, most likely), and a validation and a test image."""
    names = list(splits.class_names)
    if len(names) < 2:
        raise DataError(f"the classifier needs at least two classes; the data has {len(names)} ({', '.join(names)})")
    counts = np.bincount(splits.train.labels, minlength=len(names))
    if counts.min() == 0:
        raise DataError(f"class {names[int(counts.argmin())]!r} has no training image")
    total = counts + sum(np.bincount(getattr(splits, part).labels, minlength=len(names)) for part in ("valid", "test"))
    if total.min() == 1:  # one image in all the data cannot be both learned and evaluated: a typo, most likely
        raise DataError(f"class {names[int(total.argmin())]!r} has a single image in all the data (a typo in a "
                        f"label?); the classes: {', '.join(names)}")
    for part in ("valid", "test"):
        if not len(getattr(splits, part)):
            raise DataError(f"the data has no {part} image (model selection, the threshold and Dice need some)")


def check_budgets(cfg: Config, splits: data.Splits) -> None:
    """An AL session's queries against each class's training pool: ``init_per_class`` images of every class at
    round 0; ``per_class`` more of some class at round 1; and something left to query at every round up to the
    last (``rounds``): a class gives what it has, and the session stops once every class's pool is empty."""
    a, labels, names = cfg.al, splits.train.labels, list(splits.class_names)
    check_budget(cfg, labels, names)
    counts = np.bincount(labels, minlength=len(names))
    left = int((counts - a.init_per_class).max())  # the largest class's pool after round 0
    if a.rounds > 1 and a.per_class > left:
        raise ConfigError(f"config field 'per_class' = {a.per_class} exceeds what any class has left after round 0 "
                          f"(at most {left} images, with init_per_class = {a.init_per_class})")
    reachable = 1 + math.ceil(left / a.per_class)
    if a.rounds > reachable:
        raise ConfigError(f"config field 'rounds' = {a.rounds}: every class's training pool is empty after round "
                          f"{reachable - 1} (init_per_class = {a.init_per_class}, per_class = {a.per_class}, the "
                          f"largest class has {int(counts.max())} images); at most {reachable} rounds")


def _check_data(cfg: Config, splits: data.Splits, results_dir: str | Path, sessions: Sessions,
                progress: bool) -> list[tuple[Path, dict[str, tuple[int, int]]]]:
    """Classes, budgets (when an AL session is among ``sessions``) and files; returns the cache entries to save."""
    check_classes(splits)
    if any(parse_method(m).kind == "al" for m, _ in sessions):
        check_budgets(cfg, splits)
    cache = Path(results_dir) / cfg.profile / cfg.data.dataset / CACHE_NAME
    return [(cache, check_files(_files(splits), cache, progress=progress))]


def _files(splits: data.Splits) -> list[tuple[Path, str]]:
    """Every image and mask file of the splits, with what it is (``test image``)."""
    out: dict[Path, str] = {}
    for part in ("train", "valid", "test"):
        for rec in getattr(splits, part).records:
            out.setdefault(Path(rec.image), f"{part} image")
            if rec.mask is not None:
                out.setdefault(Path(rec.mask), f"{part} mask")
    return list(out.items())


def check_files(files: Iterable[tuple[Path, str]], cache: Path | None = None, *,
                progress: bool = False) -> dict[str, tuple[int, int]]:
    """Open and decode in full every file not known to decode (by path, size and mtime: in this process, or in
    ``cache``); a :class:`DataError` names the first that does not. Returns every file's entry (to save)."""
    known = dict(_read(cache)) if cache is not None else {}
    known.update(_decoded)
    entries: dict[str, tuple[int, int]] = {}
    todo: list[tuple[Path, str, str, tuple[int, int]]] = []
    for path, what in files:
        found = file_stamp(path)
        if found is None:
            raise DataError(f"{path} ({what}): file not found")
        key, stamp = str(path.resolve()), (found[0], found[1])
        entries[key] = stamp
        if known.get(key) != stamp:
            todo.append((path, what, key, stamp))
    bar = progress_bar(todo, desc=f"decoding {len(todo)} files", disable=not progress or len(todo) < 100)
    for path, what, key, stamp in bar:
        try:
            with Image.open(path) as img:
                img.load()
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
            raise DataError(f"{path} ({what}): cannot be decoded ({exc})") from None
        _decoded[key] = stamp
    return entries


def _read(cache: Path) -> dict[str, tuple[int, int]]:
    """The entries of a cache file (none when it is missing or unreadable)."""
    try:
        obj = json.loads(cache.read_text())
        if obj.get("version") != _CACHE_VERSION:
            return {}
        return {str(k): (int(v[0]), int(v[1])) for k, v in obj["files"].items()}
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return {}


def _save(pending: Sequence[tuple[Path, dict[str, tuple[int, int]]]]) -> None:
    """Add the entries to their cache files (a folder that cannot be written keeps none: the cache is only a
    shortcut)."""
    merged: dict[Path, dict[str, tuple[int, int]]] = {}
    for cache, entries in pending:
        merged.setdefault(cache, {}).update(entries)
    for cache, entries in merged.items():
        old = _read(cache)
        if all(old.get(k) == v for k, v in entries.items()):
            continue
        files = {**old, **entries}
        try:
            store.atomic_write_text(cache, json.dumps({"version": _CACHE_VERSION,
                                                       "files": {k: list(v) for k, v in sorted(files.items())}}))
        except (OSError, StoreError):
            pass
