"""What made a file: the profile, the full config, the code's git revision and the machine."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy
import torch

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


def machine() -> dict[str, str]:
    """What computed the numbers besides the code: CPU model, the CPU kernels torch picked, torch, numpy and Python
    versions, OS. The same code and seeds give other numbers on another CPU (float kernels differ in their last bits
    and training amplifies that); one machine repeats its own numbers exactly."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        names = [ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                 if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    return {"cpu": cpu, "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cores": str(os.cpu_count()),
            "torch": torch.__version__, "numpy": numpy.__version__, "python": platform.python_version(),
            "os": platform.platform()}


def provenance(cfg: Any) -> dict[str, Any]:
    """What made a file: profile, full config and git revision."""
    return {"profile": cfg.profile, "config": cfg.to_dict(), "git_revision": git_revision()}
