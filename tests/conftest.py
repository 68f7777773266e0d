"""Shared fixtures: tiny GlaS and CUB folders written in the real layouts, a small synthetic benchmark, and a tiny
session's data, theta0 and distances (``shared``). Plain helpers are in ``tests/helpers.py``."""

from __future__ import annotations

# ruff: noqa: I001
import paperlib  # noqa: F401  (first: it pins the float kernels before numpy and torch load; paperlib.bits)
from pathlib import Path

import pytest

from paperlib import al, config, grid
from paperlib.data import synthetic

from .helpers import TINY, write_cub, write_glas


@pytest.fixture(scope="session", autouse=True)
def _no_outside_scheduler():
    """Tests run in-process unless they start their own loopback cluster: a DASK_SCHEDULER_ADDRESS in the
    developer's environment must not send them (or the notebooks they run) to a real cluster."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(grid.SCHEDULER_ENV, raising=False)
        yield


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory):
    """Data, theta0 and distances prepared once per test module, as `python -m paperlib.al` does (settings
    :data:`tests.helpers.TINY`)."""
    base = tmp_path_factory.mktemp("al")
    cfg = config.get("smoke", dataset="glas", **TINY)
    splits, theta0, dist = al.prepare(cfg, results_dir=base / "results", data_dir=base / "data", progress=False)
    return {"base": base, "cfg": cfg, "splits": splits, "theta0": theta0, "dist": dist}


@pytest.fixture
def glas_root(tmp_path: Path) -> Path:
    return write_glas(tmp_path / "glas")


@pytest.fixture
def cub_root(tmp_path: Path) -> Path:
    return write_cub(tmp_path / "cub")


@pytest.fixture(scope="session")
def synth_glas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small GlaS-like benchmark (17 training, 8 test images)."""
    return synthetic.write_glas_like(tmp_path_factory.mktemp("synth") / "glas", seed=0, scale=0.2)


@pytest.fixture(scope="session")
def tiny_cfg() -> config.Config:
    """CPU-cheap settings: 32-px crops, width-8 head, a few epochs."""
    return config.get("smoke", dataset="glas", min_side=40, crop=32, scale=1.0, seg_width=8, cl_epochs=2,
                      seg_epochs=2, cl_batch=8, seg_batch=8, eval_batch=8, device="cpu")
