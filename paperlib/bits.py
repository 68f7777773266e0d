"""Pinned float kernels: the same bits on every x86-64 CPU with AVX2 (the reproducibility setting).

torch and numpy pick their float kernels by CPU when they load: oneDNN by ISA, MKL by ISA *and vendor*, numpy's
``log``/``exp`` by ISA, and sums depend on the thread count. Training amplifies the last bits, so two CPUs give
other tables. The setting ``PAPERLIB_BITS`` (environment variable) chooses:

- ``pinned`` (the default): every process that computes gets :data:`PINS` in its environment before torch or numpy
  loads, and computes on :data:`THREADS` thread. Measured (``docs/reproducibility.md``): the same training bits on
  an AMD Zen 5 and emulated Intel Haswell and AMD Rome CPUs; a training step costs about 1.4-1.5x.
- ``native``: the CPU's own kernels and thread count (faster; numbers are this machine's own).

``import paperlib`` applies the setting to its own process (:func:`apply`, before anything imports torch or numpy)
and so to every child it starts: the pipeline's notebook kernels, the grid's worker processes, a local Dask
cluster. A process where torch or numpy was imported first cannot change its kernels any more: it says so once
(:class:`BitsWarning`) and records it (:func:`status`). Workers of a Dask cluster started elsewhere need the
variables in their own environment (``python -m paperlib bits --export``).

This module imports neither torch nor numpy.
"""

from __future__ import annotations

import os
import platform
import sys
import warnings
from collections.abc import MutableMapping
from pathlib import Path

SETTING_ENV = "PAPERLIB_BITS"
PINNED, NATIVE = "pinned", "native"
SETTINGS = (PINNED, NATIVE)
THREADS = 1  # torch/MKL/OpenMP threads of every computing process under ``pinned``; processes give parallelism

# what decides the bits, as measured (docs/reproducibility.md); each is read when its library loads
PINS: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own vectorised kernels
    "DNNL_MAX_CPU_ISA": "AVX2",  # oneDNN (convolutions): its AVX-512 backward passes differ from AVX2's
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # the same, under oneDNN 3's name
    "MKL_CBWR": "COMPATIBLE",  # MKL dispatches by CPU vendor; only COMPATIBLE is honoured on Intel and AMD alike
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",  # superseded by COMPATIBLE; harmless
    "MKL_DYNAMIC": "FALSE",  # MKL's conditions for reproducible results: a fixed thread count
    "OMP_DYNAMIC": "FALSE",
    "OMP_NUM_THREADS": str(THREADS),
    "MKL_NUM_THREADS": str(THREADS),
    "NPY_DISABLE_CPU_FEATURES": "X86_V4",  # numpy's AVX-512 log/exp (Entropy scores, colour distances)
}
_WATCHED = ("torch", "numpy")  # libraries that read the pins when they load

_warned: set[str] = set()  # unknown values of the setting already reported
_state: dict[str, object] = {}  # what apply() found: the setting, the variables in force, the late imports


class BitsWarning(RuntimeWarning):
    """torch or numpy was loaded before the setting could pin its kernels: this process computes natively."""


def setting(environ: MutableMapping[str, str] | None = None) -> str:
    """``pinned`` or ``native``, from ``PAPERLIB_BITS`` (default ``pinned``). Any other value warns once, naming the
    variable, and stays ``pinned``."""
    value = (os.environ if environ is None else environ).get(SETTING_ENV, "").strip().lower() or PINNED
    if value not in SETTINGS:
        if value not in _warned:
            _warned.add(value)
            warnings.warn(f"{SETTING_ENV}={value!r} is neither {' nor '.join(SETTINGS)}: the float kernels stay "
                          "pinned", BitsWarning, stacklevel=2)
        return PINNED
    return value


def has_avx2(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the pins can apply here: an x86-64 CPU with AVX2 (``/proc/cpuinfo`` on Linux; assumed elsewhere)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        flags = next((ln for ln in cpuinfo.read_text().splitlines() if ln.startswith("flags")), "")
    except OSError:
        return True
    return " avx2" in f" {flags.split(':', 1)[-1]} " or not flags


def environment(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) with the setting applied: the :data:`PINS` under ``pinned`` on a CPU
    that has AVX2, nothing added under ``native``. For a process started by hand (``subprocess``, a job script)."""
    env = dict(os.environ if environ is None else environ)
    if setting(env) == PINNED and has_avx2():
        env.update(PINS)
    return env


def apply() -> None:
    """Put the setting into this process's environment (so every child inherits it); called by ``import
    paperlib``. When torch or numpy is already loaded without the pins, warn once: their kernels are chosen."""
    if _state:
        return
    chosen = setting()
    before = {k: os.environ.get(k) for k in PINS}
    late = [m for m in _WATCHED if m in sys.modules]
    wanted = environment()
    missing = sorted(k for k in PINS if wanted.get(k) != before[k])
    os.environ.update({k: wanted[k] for k in missing})
    # what the libraries read: the environment they loaded under
    in_force = {k: (before[k] if late else os.environ.get(k)) for k in PINS}
    _state.update(setting=chosen, variables={k: v for k, v in in_force.items() if v is not None},
                  late=late if missing else [], avx2=has_avx2())
    if chosen == PINNED and missing and late:
        warnings.warn(f"paperlib: {' and '.join(late)} was imported before paperlib could pin the float kernels "
                      f"({len(missing)} of its variables not set), so this process computes with this CPU's own "
                      "kernels and its numbers may differ on another machine. Import paperlib first, start from "
                      "`python -m paperlib ...`, export the variables (`python -m paperlib bits --export`), or "
                      f"set {SETTING_ENV}=native.",
                      BitsWarning, stacklevel=3)


def status() -> dict[str, object]:
    """The setting of this process: ``setting``, ``pinned`` (whether the pins are all in force), the
    ``variables`` in force (those of :data:`PINS` that are set), ``late`` (libraries loaded before the pins),
    ``avx2``."""
    if not _state:
        apply()
    in_force = _state["variables"]
    pinned = all(in_force.get(k) == v for k, v in PINS.items())  # type: ignore[union-attr]
    return {"setting": _state["setting"], "pinned": pinned, "variables": dict(in_force),  # type: ignore[arg-type]
            "late": list(_state["late"]), "avx2": _state["avx2"]}  # type: ignore[arg-type]


def describe(info: dict[str, object] | None = None) -> str:
    """One line for logs: ``pinned float kernels (...)`` or why the numbers are this CPU's own."""
    info = info or status()
    if info["pinned"]:
        return (f"float kernels pinned ({SETTING_ENV}=pinned: AVX2 kernels, {THREADS} thread per process): the same "
                "bits on any x86-64 CPU with AVX2")
    if info["setting"] == NATIVE:
        return f"float kernels native ({SETTING_ENV}=native): numbers are this CPU's own"
    why = "no AVX2 on this CPU" if not info["avx2"] else f"{' and '.join(info['late'])} loaded before paperlib"
    return f"float kernels NOT pinned ({why}): numbers are this CPU's own"


def export_lines() -> str:
    """Shell lines that put the setting into a shell's environment (``eval "$(python -m paperlib bits
    --export)"`` before ``dask worker ...`` or a job's command)."""
    env = environment()
    return "".join(f"export {k}={env[k]}\n" for k in PINS if k in env) + f"export {SETTING_ENV}={setting()}\n"
