"""The papermill pipeline: the notebooks in order, each in a child process, outside the kernel.

The names below import on first use: the child process (``python -m paperlib.pipeline.child``) imports this package
first and must stay light (no torch, which :mod:`.runner` brings through :mod:`paperlib.store`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and editors; at run time __getattr__ imports them
    from .child import EVENT
    from .runner import NOTEBOOKS, SHARED_PARAMETERS, check_kernel, kernel_log, notebooks, parameters, run

# name -> module of this package that defines it
_API = {"EVENT": "child", "NOTEBOOKS": "runner", "SHARED_PARAMETERS": "runner", "check_kernel": "runner",
        "kernel_log": "runner", "notebooks": "runner", "parameters": "runner", "run": "runner"}

__all__ = ["EVENT", "NOTEBOOKS", "SHARED_PARAMETERS", "check_kernel", "kernel_log", "notebooks", "parameters", "run"]


def __getattr__(name: str) -> Any:
    """A name of :data:`__all__`, imported from its module on first use."""
    if name in _API:
        value = getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names and those of :data:`__all__`, imported or not."""
    return sorted({*globals(), *__all__})
