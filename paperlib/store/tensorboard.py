"""TensorBoard mirror of a training history (the ``tensorboard`` extra; runtime setting ``tensorboard``).

``history.csv`` stays the record; the mirror is rewritten whole from the same rows each time the CSV is, into a
folder beside it (``history.csv`` -> ``tensorboard/``, ``theta0.history.csv`` -> ``theta0.tensorboard/``), so a
killed round leaves no events behind either. ``tensorboard --logdir results/<profile>`` shows every session: one
chart per round, cycle and quantity (``round_02/segmentation/loss``), the epoch as the step.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..errors import require_extra


def require() -> None:
    """:class:`ConfigError` naming the extra unless TensorBoard's writer imports."""
    require_extra("tensorboard")


def folder_for(history_csv: Path) -> Path:
    """Where the mirror of ``history_csv`` goes."""
    return history_csv.parent / history_csv.name.replace("history.csv", "tensorboard")


def mirror(history_csv: Path, rounds: list[tuple[int, list[dict]]]) -> Path:
    """Rewrite the mirror of ``history_csv`` from ``(round, rows)`` (rows as in ``history.csv``: ``cycle``,
    ``epoch``, ``loss``, ``valid``, ``lr``); the old folder is replaced only once the new one is written."""
    require()
    from torch.utils.tensorboard import SummaryWriter

    target = folder_for(history_csv)
    fresh = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    with SummaryWriter(log_dir=str(fresh)) as writer:
        for r, rows in rounds:
            for row in rows:
                for key in ("loss", "valid", "lr"):
                    value = float(row[key])
                    if value == value:  # nan: not validated that epoch
                        writer.add_scalar(f"round_{r:02d}/{row['cycle']}/{key}", value, int(row["epoch"]))
    old = target.with_name(fresh.name + ".old")
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target
