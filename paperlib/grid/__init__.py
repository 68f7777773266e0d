"""The grid: sessions as tasks, run in-process, in local worker processes or on a Dask cluster."""

from .runner import (
    SCHEDULER_ENV,
    SchedulerError,
    Task,
    connect,
    expected_rounds,
    order_planned,
    run,
    run_task,
    scheduler_address,
    task_folder,
    tasks,
)
from .watch import RoundWatch, Watched

__all__ = ["SCHEDULER_ENV", "RoundWatch", "SchedulerError", "Task", "Watched", "connect", "expected_rounds",
           "order_planned", "run", "run_task", "scheduler_address", "task_folder", "tasks"]
