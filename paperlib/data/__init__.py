"""Images on disk -> :class:`Splits`: the GlaS and CUB layouts, the dataset file, the paper's folds and the synthetic
benchmarks. The dispatchers from a name or a config to a loader or a writer live here, above the modules they
choose between."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, DataError
from ..runtime import Budget, shares
from . import paper_size, synthetic
from .coverage import coverage_notes, say_coverage
from .csv_file import read_dataset_csv
from .datasets import (
    GLAS_CLASSES,
    Record,
    SegDataset,
    Splits,
    check_records,
    cub_mask,
    load_cub,
    load_glas,
)
from .image_files import image_file_size, read_image, read_mask

__all__ = ["GLAS_CLASSES", "DataError", "Record", "SegDataset", "Splits", "check_records", "coverage_notes", "cub_mask",
           "ensure_synthetic", "from_config", "image_file_size", "load", "load_csv", "load_cub", "load_glas",
           "read_image", "read_mask"]


def load_csv(path: str | Path) -> Splits:
    """A generic dataset file (``image,mask,label,split``; see :mod:`paperlib.data.csv_file`): the same splits as
    the GlaS and CUB loaders, training images possibly without masks."""
    return read_dataset_csv(path)


def load(dataset: str, root: str | Path, *, seed: int = 0, valid_fraction: float = 0.2,
         split: str | Path | None = None) -> Splits:
    """``load_glas`` or ``load_cub`` by name; ``split`` ``"paper"``, a folder of CSVs, or empty for the seeded
    stratified split."""
    loaders = {"glas": load_glas, "cub": load_cub}
    if dataset not in loaders:
        raise DataError(f"unknown dataset {dataset!r}; known: {', '.join(loaders)}")
    return loaders[dataset](root, seed=seed, valid_fraction=valid_fraction, split=split or None)


def _root(cfg, data_dir: str | Path) -> Path:
    """The GlaS or CUB folder a config names (``data_root``, or the synthetic benchmark, written when missing)."""
    d = cfg.data
    if d.data_root:
        root = Path(d.data_root)
        if not root.exists():
            raise DataError(f"{root}: data_root not found (set data_root to a {d.dataset.upper()} folder)")
        return root
    if not d.synthetic:
        raise DataError(f"profile {cfg.profile!r} needs real data: set data_root to a {d.dataset.upper()} folder")
    geometry = "paper" if cfg.profile in ("glas", "cub") else "demo"
    tag = f"_g{d.synthetic_seed}" if d.synthetic_seed else ""  # another generator seed: another folder
    tag += "" if d.synthetic_knobs == "original" else f"_{d.synthetic_knobs}"  # other knobs too
    root = Path(data_dir) / "synthetic" / f"{d.dataset}_{geometry}_x{d.synthetic_scale:g}{tag}"
    ensure_synthetic(d.dataset, root, seed=d.synthetic_seed, scale=d.synthetic_scale, geometry=geometry,
                     knobs=d.synthetic_knobs)
    return root


def from_config(cfg, *, seed: int = 0, data_dir: str | Path = "data") -> Splits:
    """The splits a config names: for dataset ``csv`` the dataset file ``data_root`` (its own split); else
    ``data_root`` when set, or the synthetic benchmark of the dataset, written under ``data_dir/synthetic/`` when
    missing: at the real dataset's geometry for the ``glas`` and ``cub`` profiles (``synthetic_scale`` < 1 is a
    fraction of it, for the seeded split only), else the small one. ``seed`` drives the train/valid split."""
    d = cfg.data
    if d.dataset == "csv":
        if not d.data_root:
            raise DataError("dataset csv: set data_root to the dataset file (a CSV with image,mask,label,split)")
        source, splits = d.data_root, load_csv(d.data_root)
    else:
        source = _root(cfg, data_dir)
        splits = load(d.dataset, source, seed=seed, valid_fraction=d.valid_fraction, split=d.split or None)
    say_coverage(splits, d.crop, str(source))
    memo = Budget(shares(cfg.runtime)["images"])  # one budget for the three splits (none on the plain path)
    for part in (splits.train, splits.valid, splits.test):
        part.memo = memo
    return splits


def ensure_synthetic(dataset: str, root: str | Path, *, seed: int = 0, scale: float = 1.0,
                     geometry: str = "demo", knobs: str = "original") -> Path:
    """The synthetic benchmark of ``dataset`` (``"glas"`` or ``"cub"``) at ``root``, written when missing.

    ``geometry``: ``"demo"`` (the small benchmarks of this module, ``scale`` times their image count) or
    ``"paper"`` (:mod:`paperlib.data.paper_size`: the real datasets' names, sizes and split; ``scale`` is the fraction
    of the images, in (0, 1]). ``knobs``: the appearance, a name of ``synthetic.KNOB_SETS`` (``original``: the
    module's defaults).
    """
    writers = {"demo": {"glas": synthetic.write_glas_like, "cub": synthetic.write_cub_like},
               "paper": {"glas": paper_size.write_glas_paper, "cub": paper_size.write_cub_paper}}
    if geometry not in writers:
        raise ConfigError(f"unknown geometry {geometry!r}; known: {', '.join(writers)}")
    if dataset not in writers[geometry]:
        raise ConfigError(f"unknown dataset {dataset!r}; known: {', '.join(writers[geometry])}")
    if knobs not in synthetic.KNOB_SETS:
        raise ConfigError(f"unknown synthetic knobs {knobs!r}; known: {', '.join(synthetic.KNOB_SETS)}")
    chosen = None if knobs == "original" else synthetic.KNOB_SETS[knobs][dataset]
    if geometry == "paper":
        if chosen is not None:
            raise ConfigError(f"synthetic_knobs {knobs!r}: the paper-size benchmarks have the original appearance")
        return writers[geometry][dataset](root, seed=seed, fraction=scale)
    return writers[geometry][dataset](root, seed=seed, scale=scale, knobs=chosen)
