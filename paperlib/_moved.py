"""Module paths of the flat layout (0.1), kept working for one release.

``import paperlib.train`` and ``from paperlib.learner import Learner`` still work: each old name is an alias of the
module that holds its code now (a name whose code was split takes its public names from each part), and warns once
(:class:`FutureWarning`) with the new path. ``paperlib.metrics`` and ``paperlib.similarity`` are part of the public
contract and stay without a warning. ``python -m paperlib.baseline``, ``.predict`` and ``.paper_size`` run the
command of that name (``python -m paperlib <command>``) after the same warning.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from collections.abc import Sequence

# old module (under paperlib) -> the module(s) that hold its code now
MOVED: dict[str, tuple[str, ...]] = {
    "model": ("core.model",), "transforms": ("core.transforms",), "samplers": ("core.samplers",),
    "lam_schedule": ("core.lam_schedule",), "metrics": ("core.metrics",), "similarity": ("core.similarity",),
    "tensorboard_log": ("store.tensorboard",),
    "dataset_csv": ("data.csv_file",), "folds": ("data.folds",), "synthetic": ("data.synthetic",),
    "paper_size": ("data.paper_size",),
    "train": ("engine.train",), "predict": ("engine.predict",), "learner": ("engine.learner",),
    "cam_family": ("engine.cam_family",), "deploy": ("engine.deploy",),
    "baseline": ("engine.classifier", "al.baselines"),
    "oracles": ("al.oracles",), "annotation_files": ("al.annotation_files",),
    "watch": ("grid.watch",), "experiments": ("grid.sweeps", "notebook.figure_data"),
    "plots": ("notebook.plots",), "reference": ("notebook.reference",), "browser": ("notebook.round_browser",),
    "annotate": ("notebook.annotate",), "mask_editor": ("notebook.mask_editor",),
}
CONTRACT = ("metrics", "similarity")  # the public contract's names: no warning
COMMANDS = {"baseline": "baseline", "predict": "predict", "paper_size": "paper-size"}  # old -m path -> command
GONE = {"bench": "python benchmarks/bench.py (in a checkout)",
        "bench_paper": "python benchmarks/bench.py --scale paper (in a checkout)",
        "lab_harness": "python -m tests.browser.lab_harness (in a checkout)",
        "readme_tables": "tests/docs/readme_tables.py (in a checkout)"}


def _warn(old: str, new: Sequence[str]) -> None:
    if old not in CONTRACT:
        where = " and ".join(f"paperlib.{n}" for n in new)
        warnings.warn(f"paperlib.{old} moved to {where}; the old path goes in the next release",
                      FutureWarning, stacklevel=3)


class _Loader(importlib.abc.Loader):
    def __init__(self, old: str) -> None:
        self.old = old

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if self.old in GONE:
            raise ImportError(f"paperlib.{self.old} is not part of the library any more: use {GONE[self.old]}")
        new = MOVED[self.old]
        _warn(self.old, new)
        mods = [importlib.import_module(f"paperlib.{n}") for n in new]
        if len(mods) == 1:
            return mods[0]  # the very module: one object, one state
        merged = types.ModuleType(spec.name, f"paperlib.{self.old}: moved to {', '.join(new)}")
        for mod in mods:
            merged.__dict__.update({k: v for k, v in vars(mod).items() if not k.startswith("__")})
        return merged

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: :meth:`create_module` returned the module that holds the code."""

    def get_code(self, fullname: str) -> types.CodeType:
        """What ``python -m paperlib.<old>`` runs: the command of that name, after the warning."""
        if self.old in COMMANDS:
            src = (f"import warnings\nwarnings.warn('python -m paperlib.{self.old} is now python -m paperlib "
                   f"{COMMANDS[self.old]}', FutureWarning, stacklevel=1)\nfrom paperlib.cli.main import main\n"
                   f"raise SystemExit(main([{COMMANDS[self.old]!r}, *__import__('sys').argv[1:]]))\n")
        elif self.old in GONE:
            src = f"raise SystemExit('error: paperlib.{self.old} left the library: use {GONE[self.old]}')\n"
        else:
            src = f"raise SystemExit('error: paperlib.{self.old} is not a command; see python -m paperlib --help')\n"
        return compile(src, f"<paperlib.{self.old}>", "exec")

    def is_package(self, fullname: str) -> bool:
        return False


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object, target: object = None) -> importlib.machinery.ModuleSpec | None:
        head, _, old = fullname.partition(".")
        if head != "paperlib" or "." in old or (old not in MOVED and old not in GONE):
            return None
        return importlib.machinery.ModuleSpec(fullname, _Loader(old))


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once); the real files are always found first."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
