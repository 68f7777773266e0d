"""Execution on a device: resolving ``device``, placing a model, autocast, inference mode and seeded randomness.

Reads only the config's ``runtime`` section (:class:`paperlib.config.RuntimeConfig`), which is not part of a
session's identity: what is decided here changes how fast a number is computed, not which number.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .config import RuntimeConfig
from .errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"``: CUDA when present, else the CPU; otherwise the named device (an error if CUDA is missing)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available; use device='auto' or 'cpu'")
    return device


def default_workers(rt: RuntimeConfig) -> int:
    """Worker processes of a grid: ``rt.workers`` when set; else one per CPU core (at most 4), or 1 on a GPU."""
    if rt.workers:
        return rt.workers
    if resolve_device(rt.device).type == "cuda":
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def place(model: nn.Module, device: torch.device, rt: RuntimeConfig) -> None:
    """Move ``model`` to ``device`` in channels-last memory format (on the CPU it halves the segmentation head's
    time at evaluation; the same function, float rounding aside)."""
    model.to(device, memory_format=torch.channels_last)


def autocast(device: torch.device, rt: RuntimeConfig) -> torch.autocast:
    """bf16 autocast on CUDA when ``amp`` is set; a no-op on the CPU."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda" and rt.amp)


@contextmanager
def eval_mode(model: nn.Module, device: torch.device, rt: RuntimeConfig) -> Iterator[None]:
    """``model`` on ``device`` in eval and inference mode (with autocast), its training flag restored after."""
    place(model, device, rt)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), autocast(device, rt):
            yield
    finally:
        model.train(was_training)


@contextmanager
def threads(n: int) -> Iterator[None]:
    """torch's CPU thread count set to ``n`` inside, the caller's restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """torch's global RNG (and ``device``'s) seeded with ``seed`` inside, the caller's state restored after."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class Budget:
    """Bytes that several holders (feature caches, decoded images) draw from, first come first served."""

    def __init__(self, mb: float) -> None:
        self.left = int(mb * 2**20)

    def take(self, nbytes: int) -> bool:
        """Reserve ``nbytes`` when they fit in what is left; returns whether they did."""
        if nbytes > self.left:
            return False
        self.left -= nbytes
        return True


def shares(rt: RuntimeConfig) -> dict[str, float]:
    """How ``rt.memory_mb`` is divided (MB): ``images`` (decoded images kept in memory, every split together),
    ``features`` (frozen-backbone features cached, every split together) and ``working`` (what one evaluation or
    MC dropout chunk may allocate at full resolution). The plain path (``fast`` off) keeps nothing."""
    total = rt.memory_mb
    keep = 1.0 if rt.fast else 0.0
    return {"images": keep * total / 8, "features": keep * total * 5 / 8, "working": total / 4}
