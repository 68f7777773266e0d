"""What made a file: the profile, the full config, the code's git revision and the machine."""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy
import torch

from .. import bits

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the checkout (or site-packages) holding paperlib/


CODE_PATHS = ("paperlib", "notebooks", "pyproject.toml")  # what makes the numbers (not README, not figures/)


def git_revision() -> str:
    """The package checkout's git revision (``+dirty`` when its code, :data:`CODE_PATHS`, has uncommitted changes;
    regenerated figures or an edited README do not count), or ``unknown``."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=PACKAGE_ROOT, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS],
                               cwd=PACKAGE_ROOT, capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def revision_dirty(revision: str) -> bool | None:
    """Whether a :func:`git_revision` had uncommitted code changes (``None`` when it is ``unknown``)."""
    return None if revision == "unknown" else revision.endswith("+dirty")


def _cpuinfo(field: str) -> str:
    """The first ``field`` of ``/proc/cpuinfo`` (empty when there is none)."""
    with contextlib.suppress(OSError):
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.split(":", 1)[0].strip() == field:
                return ln.split(":", 1)[1].strip()
    return ""


def _library_versions() -> dict[str, str]:
    """MKL's and oneDNN's versions as torch reports them (``torch.__config__.show()``)."""
    shown = torch.__config__.show()
    mkl = re.search(r"Math Kernel Library Version ([\w.]+)", shown)
    onednn = re.search(r"MKL-DNN v([\w.]+)", shown)
    return {"mkl": mkl.group(1) if mkl else "none", "onednn": onednn.group(1) if onednn else "none"}


PACKAGES = ("paperlib", "pandas", "matplotlib", "seaborn", "scipy", "papermill")  # beside machine()'s torch, numpy


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str | None]:
    """The installed versions of :data:`PACKAGES` (``None`` for one that is not installed, e.g. seaborn)."""
    from ..version import __version__

    found: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            found[name] = __version__ if name == "paperlib" else importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def machine() -> dict[str, Any]:
    """What computed the numbers besides the code: the CPU (model, vendor, the kernels torch picked), the
    reproducibility setting in force (:func:`paperlib.bits.status`), torch's threads, torch, MKL, oneDNN, numpy and
    Python versions, OS, and under ``packages`` the other packages' versions (:func:`package_versions`). Under pinned
    kernels any x86-64 CPU with AVX2 computes the same bits; otherwise another CPU gives other numbers (float kernels
    differ in their last bits and training amplifies that)."""
    return {"cpu": _cpuinfo("model name") or platform.processor() or platform.machine(),
            "cpu_vendor": _cpuinfo("vendor_id") or "unknown", "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "cores": str(os.cpu_count()), "bits": bits.status(), "threads": torch.get_num_threads(),
            "torch": str(torch.__version__), **_library_versions(), "numpy": numpy.__version__,
            "python": platform.python_version(), "os": platform.platform(),
            "packages": dict(package_versions())}


def same_bits(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two :func:`machine` records compute the same bits: the same libraries, setting, variables and
    threads, and, unless both were pinned, the same CPU and kernels."""
    keys = ["torch", "mkl", "onednn", "numpy", "threads"]
    if not (a.get("bits", {}).get("pinned") and b.get("bits", {}).get("pinned")):
        keys += ["cpu", "cpu_vendor", "cpu_capability"]
    return all(a.get(k) == b.get(k) for k in keys) and \
        a.get("bits", {}).get("variables") == b.get("bits", {}).get("variables")


def provenance(cfg: Any) -> dict[str, Any]:
    """What made a file: profile, full config and git revision."""
    return {"profile": cfg.profile, "config": cfg.to_dict(), "git_revision": git_revision()}
