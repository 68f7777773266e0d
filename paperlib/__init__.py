"""paperlib: deep active learning for joint classification & segmentation with a weak annotator.

A reproducible implementation of Belharbi et al. The layers are drawn in ``docs/architecture.md``: ``core`` (the
method as tensors) < ``config``, ``runtime`` < ``store`` < ``data`` < ``engine`` < ``al`` < ``grid`` <
``notebook``, ``pipeline``, ``cli``. The names below are the documented Python API; they import on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import bits
from .version import __version__

bits.apply()  # before anything below imports torch or numpy: the float kernels they pick (paperlib.bits)

# name -> module that defines it (imported on first use: `import paperlib` stays light)
_API = {
    "Config": "config", "get_config": "config",
    "Splits": "data", "load_glas": "data", "load_cub": "data", "load_csv": "data", "from_config": "data",
    "JointNet": "core.model", "dice_auc": "core.metrics", "jsd": "core.similarity", "select_pseudo": "core.similarity",
    "parse_method": "core.methods", "METHODS": "core.methods",
    "Learner": "engine.learner", "classifier_stage": "engine.classifier",
    "wsl_round": "al.baselines", "full_sup_round": "al.baselines",
    "Session": "al", "run_session": "al", "SimulatedOracle": "al.oracles", "FolderOracle": "al.oracles",
    "PaperlibError": "errors",
}
_RENAMED = {"get_config": "get"}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module(f"{__name__}.{_API[name]}"), _RENAMED.get(name, name))
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

