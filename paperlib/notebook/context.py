"""The notebooks' one setup call: their shared parameters turned into configs, folders and seeds, and writers
that record what made every table and figure (profile, config, git revision, machine) in
``figures/<profile>/provenance.json``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib import pyplot as plt

from .. import config, store
from ..config import Config
from ..store.provenance import revision_dirty
from . import long_table, plots


@dataclass(frozen=True)
class Context:
    """What every notebook cell after the parameters uses."""

    profile: str
    cfgs: dict[str, Config]  # one config per dataset of the profile
    overrides: dict[str, Any]  # the config overrides every session of the notebook gets (grid's base_overrides)
    results: Path  # results_dir (runs under results/<profile>/<dataset>/)
    data: Path  # where the synthetic benchmarks are written
    figures: Path  # figures_dir/<profile>/
    seeds: list[int]

    def save_figure(self, fig: plt.Figure, name: str) -> list[Path]:
        """``figures/<profile>/<name>.{png,pdf}``, its provenance recorded."""
        return self._record(plots.savefig(fig, self.figures / name))

    def save_table(self, df: pd.DataFrame, name: str, caption: str = "") -> list[Path]:
        """``figures/<profile>/<name>.{md,csv}``, its provenance recorded."""
        return self._record(plots.write_table(df, self.figures / name, caption))

    def save_long_table(self, df: pd.DataFrame) -> list[Path]:
        """``figures/<profile>/rounds_long.csv`` (:mod:`.long_table`), its provenance recorded."""
        paths = self._record([long_table.write(df, self.figures / long_table.FILE_NAME)])
        manifest = self.figures / "provenance.json"
        store.write_json(manifest, {**store.read_json(manifest), "session_machines": df.attrs.get("machines", {})})
        return paths

    def _record(self, paths: list[Path]) -> list[Path]:
        record_provenance(self.figures / "provenance.json", paths, self.profile, self.cfgs)
        return paths


def record_provenance(manifest: Path, paths: list[Path], profile: str, cfgs: Mapping[str, Config]) -> None:
    """Add ``paths`` to ``manifest``: per file the profile, the git revision and whether it had uncommitted code
    changes (``dirty``: true, false, or null when the revision is unknown), a key into ``configs``, which holds each
    distinct set of configs (dataset -> config) once, and a key into ``machines`` (:func:`store.machine`, with the
    package versions); ``revisions`` counts the files per revision (one clean revision: one key without ``+dirty``)."""
    doc = store.read_json(manifest) if manifest.is_file() else {"files": {}, "configs": {}}
    doc.setdefault("machines", {})
    made = {"config": {d: c.to_dict() for d, c in cfgs.items()}, "machine": store.machine()}
    keys = {}
    for kind, value in made.items():
        keys[kind] = long_table.digest(value)
        doc[f"{kind}s"][keys[kind]] = value
    revision = store.git_revision()
    for p in paths:
        doc["files"][Path(p).name] = {"profile": profile, **keys, "git_revision": revision,
                                      "dirty": revision_dirty(revision)}
    for entry in doc["files"].values():  # files an older manifest recorded without it
        entry.setdefault("dirty", revision_dirty(entry.get("git_revision", "unknown")))
    for kind in made:
        used = {f.get(kind) for f in doc["files"].values()}
        doc[f"{kind}s"] = {k: v for k, v in doc[f"{kind}s"].items() if k in used}
    doc["revisions"] = dict(sorted(Counter(f.get("git_revision", "unknown") for f in doc["files"].values()).items()))
    store.write_json(manifest, doc)


def device_line(name: str) -> str:
    """Which device this kernel computes on for the device setting ``name``, and its torch build, e.g.
    ``computes on cpu, torch 2.14.1, CUDA not available`` or ``computes on cuda:0 (NVIDIA A100), torch 2.14.1,
    CUDA 13.0``."""
    import torch

    from ..runtime import resolve_device

    try:
        device = resolve_device(name)
    except RuntimeError as exc:
        return str(exc)
    where = str(device) if device.type != "cuda" else f"{device} ({torch.cuda.get_device_name(device)})"
    cuda = f"CUDA {torch.version.cuda}" if torch.cuda.is_available() else "CUDA not available"
    return f"computes on {where}, torch {torch.__version__}, {cuda}"


def setup(profile: str, *, seeds: str = "", data_root: str = "", results_dir: str = "../results",
          figures_dir: str = "../figures", device: str = "auto", overrides: str = "",
          data_dir: str = "../data", dataset: str = "") -> Context:
    """The notebooks' shared parameters (see any notebook's ``parameters`` cell) as a :class:`Context`; prints the
    profile, datasets and seeds. ``overrides`` is ``"name=value;name=value"`` (``name:value`` works too);
    ``dataset`` (empty: every dataset of the profile) names one, e.g. ``csv`` with a dataset file as ``data_root``."""
    base = config.notebook_overrides(data_root=data_root, device=device, overrides=overrides)
    if seeds:
        base["seeds"] = seeds
    cfgs = config.notebook_configs(profile, dataset=dataset, **base)
    figures = Path(figures_dir) / profile
    store.make_folder(figures)
    first = next(iter(cfgs.values()))
    ctx = Context(profile, cfgs, base, Path(results_dir), Path(data_dir), figures, list(first.study.seeds))
    print(f"profile {profile}: datasets {list(cfgs)}, seeds {ctx.seeds}, device {first.runtime.device} "
          f"({device_line(first.runtime.device)})")
    return ctx
