"""The papermill pipeline: the notebooks in order, each in a child process, outside the kernel."""

from .runner import EVENT, NOTEBOOKS, SHARED_PARAMETERS, check_kernel, kernel_log, notebooks, parameters, run

__all__ = ["EVENT", "NOTEBOOKS", "SHARED_PARAMETERS", "check_kernel", "kernel_log", "notebooks", "parameters", "run"]
