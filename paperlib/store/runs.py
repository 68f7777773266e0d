"""Run folders under ``results/``: the one run-path function and its inverse, a finished round's record, the
folder that commits rounds and rewrites their views (``rounds.csv``, ``history.csv``, ``queries.json``,
``pseudo.json``), and the one reader of each view."""

from __future__ import annotations

import contextlib
import csv
import json
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from ..config import resolved
from ..errors import MissingFileError, StoreError
from ..progress import progress_line
from .files import (
    _jsonable,
    atomic_write_text,
    file_lock,
    load_tensors,
    make_folder,
    read_json,
    save_tensors,
    write_json,
)
from .provenance import git_revision, machine, same_bits


def runs_dir(results_dir: str | Path, profile: str, dataset: str) -> Path:
    """``results/<profile>/<dataset>/runs``: the run folders of every session of a profile and dataset."""
    return Path(results_dir) / profile / dataset / "runs"


def run_path(results_dir: str | Path, profile: str, dataset: str, name: str, seed: int) -> Path:
    """One session's run folder, ``runs/<name>/seed_<s>`` (``name``: the method, ``<method>__<tag>`` with a tag)."""
    return runs_dir(results_dir, profile, dataset) / name / f"seed_{seed}"


def results_of(run: str | Path) -> tuple[Path, str, str, str, int]:
    """The inverse of :func:`run_path`: ``(results_dir, profile, dataset, name, seed)`` of a run folder; a folder
    outside that layout is a :class:`~paperlib.errors.StoreError`."""
    run = Path(run).resolve()
    seed_dir, name_dir, runs, dataset, profile = run, run.parent, run.parent.parent, run.parents[2], run.parents[3]
    if runs.name != "runs" or not seed_dir.name.startswith("seed_") or not seed_dir.name[5:].isdigit():
        raise StoreError(f"{run}: not a run folder (results/<profile>/<dataset>/runs/<method>/seed_<s>)")
    return profile.parent, profile.name, dataset.name, name_dir.name, int(seed_dir.name[5:])


@dataclass(frozen=True)
class RoundRow:
    """One line of ``rounds.csv``: a finished round's numbers (Dice as fractions; ``nan`` where not applicable)."""

    round: int
    n_labeled: int
    n_pseudo: int
    test_dice: float
    valid_dice: float
    pseudo_dice: float
    threshold: float
    seconds: float
    lam: float = float("nan")  # lambda of the round's pseudo-labelled loss (nan: no pseudo-labels by this method)


ROUND_COLUMNS = tuple(f.name for f in fields(RoundRow))


@dataclass(frozen=True)
class RoundRecord:
    """A finished round as its checkpoint holds it: the row, L_r (``labeled``), the round's queries U'_r
    (``queried``), P_r (``pseudo``), the next round's queries, the validation threshold and the segmentation head's
    weights (``None`` for WSL, which has no head of its own)."""

    row: RoundRow
    labeled: list[int]
    queried: list[int]
    pseudo: list[int]
    next_queries: list[int]
    threshold: float
    head: dict[str, torch.Tensor] | None
    metrics: dict[str, float] = field(default_factory=dict)  # what a fixed baseline adds (WSL: accuracy)
    history: list[dict] = field(default_factory=list)  # per-epoch rows of the round's trainings (history.csv)

    def to_checkpoint(self) -> dict[str, Any]:
        """Plain types and tensors only, loadable with ``weights_only=True``."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["row"] = asdict(self.row)
        return out

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any]) -> RoundRecord:
        return cls(**{**ckpt, "row": RoundRow(**ckpt["row"])})


def differences(found: dict[str, Any], wanted: dict[str, Any], where: str = "in the run folder") -> list[str]:
    """``seg_epochs: 10 in the run folder, 20 requested``, one per field that differs (``where``: what ``found``
    was read from); nested dicts (the config's sections) are flattened to their field names (``section.field`` where
    two sections' fields share a name)."""

    def flat(d: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
        if not isinstance(d, dict):
            return {path: d}
        return {k: v for key, sub in d.items() for k, v in flat(sub, (*path, str(key))).items()}

    theirs, mine = flat(found), flat(wanted)
    paths = [k for k in dict.fromkeys([*mine, *theirs]) if theirs.get(k, _ABSENT) != mine.get(k, _ABSENT)]
    leaves = [k[-1] for k in paths]

    def shown(v: Any) -> str:
        return "none" if v is _ABSENT else repr(v)

    return [f"{k[-1] if leaves.count(k[-1]) == 1 else '.'.join(k[1:] if k[0] == 'config' else k)}: "
            f"{shown(theirs.get(k, _ABSENT))} {where}, {shown(mine.get(k, _ABSENT))} requested"
            for k in paths]


_ABSENT = object()  # a field one side of a comparison does not have


class RunFolder:
    """One session's folder, ``results/<profile>/<dataset>/runs/<method>/seed_<s>/``.

    ``checkpoints/round_RR.pt`` is the record of a finished round (:class:`RoundRecord`) and the only commit point;
    ``rounds.csv``, ``queries.json`` and ``pseudo.json`` are views rewritten from the checkpoints. Every write is
    atomic, so a session killed at any moment restarts from its last finished round.
    """

    def __init__(self, root: str | Path, tensorboard: bool = False) -> None:
        self.root = Path(root)
        self.checkpoints = self.root / "checkpoints"
        self.tensorboard = tensorboard  # mirror history.csv as TensorBoard logs (:mod:`paperlib.store.tensorboard`)

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Hold the folder's writer lock (``.lock``, :func:`file_lock`).

        A second copy of the same session (a retried or re-submitted task, on any machine that shares the folder)
        waits here until the first is done, then resumes from what it left.
        """
        make_folder(self.root)
        return file_lock(self.root / ".lock", f"{self.root}: another copy of this session is running; waiting for it")

    def prepare(self, meta: dict[str, Any], runtime: dict[str, Any] | None = None) -> None:
        """Create the folder, or check that it was made for the same session (``meta``: method, seed, config).

        ``runtime`` (device, speed switches) and the machine (:func:`~paperlib.store.provenance.machine`: CPU,
        reproducibility setting, library versions) are recorded when the folder is made but never block a resume:
        a session resumes under other execution settings, and a resume under other bits says so in ``log.txt``.
        """
        make_folder(self.checkpoints)
        for stale in self.root.rglob(".*.tmp"):  # a write (or a TensorBoard mirror) cut short
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)
        path = self.root / "config.json"
        if path.is_file():
            found = read_json(path)
            mine = json.loads(json.dumps(meta, sort_keys=True, default=_jsonable))
            theirs = {k: found.get(k) for k in mine}
            if isinstance(theirs.get("config"), dict):  # a folder made with another spelling of data_root
                theirs["config"] = resolved(theirs["config"])
            if theirs != mine:
                diff = sorted(k for k in mine if theirs[k] != mine[k])
                raise StoreError(f"{path}: this run folder was made for another session (differs in {diff}): "
                                 f"{'; '.join(differences(theirs, mine))}; use another results folder or remove "
                                 "this one")
            made, now = found.get("machine") or {}, machine()
            if not same_bits(made, now):
                self.log(f"resumed under other bits than the folder was made with (made: {_bits_line(made)}; now: "
                         f"{_bits_line(now)}): rounds finished from here on may differ from a run made in one go")
        else:
            write_json(path, {**meta, "runtime": runtime or {}, "git_revision": git_revision(), "machine": machine()})

    def log(self, message: str) -> None:
        """Append ``message`` to the folder's ``log.txt`` (what is worth knowing about how it was made) and show it."""
        with open(self.root / "log.txt", "a") as fh:
            fh.write(message + "\n")
        progress_line(f"{self.root}: {message}")

    def round_path(self, r: int) -> Path:
        return self.checkpoints / f"round_{r:02d}.pt"

    def n_finished(self) -> int:
        """How many rounds are finished (checkpoints 0..R without a gap), without loading them."""
        n = 0
        while self.round_path(n).is_file():
            n += 1
        return n

    def finished(self) -> list[RoundRecord]:
        """The finished rounds 0..R, in order (a gap ends the list)."""
        out = []
        r = 0
        while self.round_path(r).is_file():
            out.append(RoundRecord.from_checkpoint(load_tensors(self.round_path(r))))
            r += 1
        return out

    def save_round(self, record: RoundRecord, ids: list[str]) -> None:
        """Commit a finished round and rewrite the views from every checkpoint."""
        save_tensors(self.round_path(record.row.round), record.to_checkpoint())
        self.write_views(self.finished(), ids)

    def write_views(self, records: list[RoundRecord], ids: list[str]) -> None:
        """``rounds.csv`` (one row per finished round), ``history.csv`` (every epoch of the finished rounds'
        trainings), ``queries.json`` and ``pseudo.json`` (ids per round)."""
        lines = [",".join(ROUND_COLUMNS)]
        for rec in records:
            lines.append(",".join(_fmt(getattr(rec.row, k)) for k in ROUND_COLUMNS))
        atomic_write_text(self.root / "rounds.csv", "\n".join(lines) + "\n")
        write_history(self.root / "history.csv", [(rec.row.round, rec.history) for rec in records], self.tensorboard)
        write_json(self.root / "queries.json", {f"{r.row.round}": [ids[i] for i in r.queried] for r in records})
        write_json(self.root / "pseudo.json", {f"{r.row.round}": [ids[i] for i in r.pseudo] for r in records})


HISTORY_COLUMNS = ("round", "cycle", "epoch", "loss", "metric", "valid", "lr", "seconds")


def _bits_line(m: dict[str, Any]) -> str:
    """What decides the bits of a :func:`~paperlib.store.provenance.machine` record, in one phrase."""
    if not m:
        return "not recorded"
    pinned = "pinned" if m.get("bits", {}).get("pinned") else "native"
    return (f"{pinned} kernels, {m.get('cpu')} ({m.get('cpu_capability')}), {m.get('threads')} thread(s), "
            f"torch {m.get('torch')}, numpy {m.get('numpy')}")


def write_history(path: Path, rounds: list[tuple[int, list[dict]]], tensorboard: bool = False) -> Path:
    """``history.csv``: one row per epoch of every training, ``(round, rows)`` in order (columns
    :data:`HISTORY_COLUMNS`; ``valid`` is the validation ``metric``, ``nan`` on epochs not validated). A view
    rewritten whole from the committed records, so a killed round leaves none of its epochs behind; with
    ``tensorboard``, so is its TensorBoard mirror (:func:`paperlib.store.tensorboard.mirror`)."""
    lines = [",".join(HISTORY_COLUMNS)]
    for r, rows in rounds:
        lines += [",".join(_short(v) for v in (r, *(row[k] for k in HISTORY_COLUMNS[1:]))) for row in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")
    if tensorboard:
        from .tensorboard import mirror

        mirror(path, rounds)
    return path


def _short(v: Any) -> str:
    """Six significant digits (a decayed learning rate keeps its digits), ``nan`` as such."""
    if isinstance(v, float):
        return "nan" if v != v else f"{v:.6g}"
    return str(v)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if v != v else f"{v:.6f}"
    return str(v)


def read_rounds(results_dir: str | Path, profile: str, dataset: str) -> Any:
    """Every finished ``rounds.csv`` of a profile and dataset as one pandas DataFrame with ``method`` (the run
    folder's name, ``<method>[__<tag>]``) and ``seed`` columns added."""
    import pandas as pd

    runs = runs_dir(results_dir, profile, dataset)
    frames = []
    for path in sorted(runs.glob("*/seed_*/rounds.csv")):
        df = rounds_frame(path.parent)
        df.insert(0, "seed", int(path.parent.name.removeprefix("seed_")))
        df.insert(0, "method", path.parent.parent.name)
        frames.append(df)
    if not frames:
        raise MissingFileError(f"{runs}: no finished sessions (run notebook 04_active_learning first)")
    return pd.concat(frames, ignore_index=True)


def round_rows(folder: str | Path) -> list[dict[str, str]]:
    """The rows of ``<folder>/rounds.csv`` as text (empty when it is not written yet): for a reader that must not
    fail while a session writes."""
    try:
        with open(Path(folder) / "rounds.csv", newline="") as fh:
            return list(csv.DictReader(fh))
    except (OSError, csv.Error):
        return []


def rounds_frame(folder: str | Path) -> Any:
    """``<folder>/rounds.csv`` as a pandas DataFrame, one row per finished round (:data:`ROUND_COLUMNS`)."""
    import pandas as pd

    path = Path(folder) / "rounds.csv"
    if not path.is_file():
        raise MissingFileError(f"{path}: file not found (the session has no finished round)")
    return pd.read_csv(path)


def history_frame(folder: str | Path) -> Any:
    """``<folder>/history.csv`` as a pandas DataFrame (:data:`HISTORY_COLUMNS`), ``None`` without one."""
    import pandas as pd

    path = Path(folder) / "history.csv"
    return pd.read_csv(path) if path.is_file() else None
