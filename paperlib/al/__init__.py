"""Active learning: Algorithm 1's :class:`Session`, the fixed baselines, oracles and annotation files, and
:func:`run_session`."""

from .session import (
           METHODS,
           Method,
           Session,
           State,
           check_budget,
           distances,
           parse_method,
           prepare,
           run_dir,
           run_session,
)

__all__ = ["METHODS", "Method", "Session", "State", "check_budget", "distances", "parse_method", "prepare", "run_dir",
           "run_session"]
