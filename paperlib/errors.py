"""The expected failures: every error a user can cause or mend is a :class:`PaperlibError`.

A command prints such an error as one line and exits with its :attr:`~PaperlibError.exit_code` (2, bad input; 1
for a notebook that failed); anything else is a bug or an environment failure (a torch shape error, out of memory)
and shows its traceback. Library code raises these and never ends the interpreter: a Python caller gets an
exception it can catch. Each subclass also derives from the built-in error it used to be, so ``except ValueError``
in older code still catches it.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence


class PaperlibError(Exception):
    """An expected failure: bad input, a missing file or extra, a scheduler that does not answer; the message says
    what and where. ``exit_code``: what a command exits with."""

    exit_code = 2


class ConfigError(PaperlibError, ValueError):
    """A profile, field name or field value that cannot be used, or an optional extra that is not installed."""


class DataError(PaperlibError, ValueError):
    """A dataset file, image or mask that cannot be used; the message names the file."""


class AnnotationError(PaperlibError, ValueError):
    """A mask that cannot be used, or a round folder whose masks cannot be told apart; the message names the
    file."""


class MissingFileError(PaperlibError, FileNotFoundError):
    """A file the user was to give, or an earlier step was to write, is not there; the message names it."""


class FolderTakenError(PaperlibError, FileExistsError):
    """A folder to write into holds something else; the message names it."""


class StoreError(PaperlibError, ValueError):
    """A file under ``results/`` that cannot be used (another session's run folder, an unreadable checkpoint)."""


class NotebookFailed(PaperlibError, RuntimeError):
    """A notebook of the pipeline failed; the message names the notebook, its failing cell and its logs."""

    exit_code = 1


class TrainingDiverged(PaperlibError, FloatingPointError):
    """A training's loss became NaN or infinite; the message names the stage (and the round, in a session)."""


class WeightsError(PaperlibError, RuntimeError):
    """Pretrained backbone weights that cannot be had."""


class SchedulerError(PaperlibError, RuntimeError):
    """The Dask scheduler cannot be used (not installed, not answering, or a bad address)."""


EXTRAS = {  # optional extra -> (module that proves it is installed, the package it brings, what needs it)
    "cams": ("pytorch_grad_cam", "grad-cam", "the CAM-family baselines need"),
    "tensorboard": ("torch.utils.tensorboard", "tensorboard", "TensorBoard logs need"),
    "annotate": ("ipycanvas", "ipycanvas", "the mask-drawing widget needs"),
    "dask": ("distributed", "distributed", "running on a Dask scheduler needs"),
}


def has_extra(extra: str) -> bool:
    """Whether the optional extra ``extra`` (a key of :data:`EXTRAS`) can be imported."""
    try:
        importlib.import_module(EXTRAS[extra][0])
    except ImportError:
        return False
    return True


def missing_extra(extra: str, needs: Sequence[str] = ()) -> str:
    """The one message of a missing optional extra: what needs it (``needs``, e.g. the methods; default: what the
    extra is for), the extra and its package, and how to install it."""
    _, package, default = EXTRAS[extra]
    who = f"{', '.join(needs)} need{'s' if len(needs) == 1 else ''}" if needs else default
    return (f"{who} the {extra!r} extra (the {package} package): pip install 'paperlib[{extra}]' (from a checkout: "
            f"pip install -e '.[{extra}]')")


def require_extra(extra: str, needs: Sequence[str] = (), error: type[PaperlibError] = ConfigError) -> None:
    """``error`` (:class:`ConfigError`) with :func:`missing_extra`'s message unless the extra can be imported;
    ``needs`` names what needs it (``["GradCAM"]``)."""
    if not has_extra(extra):
        raise error(missing_extra(extra, needs))
