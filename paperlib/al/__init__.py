"""Active learning: Algorithm 1's :class:`Session`, the fixed baselines, oracles and annotation files, and
:func:`run_session`."""

from ..core.methods import METHODS, Method, parse_method
from .baselines import full_sup_round, wsl_round
from .runner import distances, prepare, run_session
from .session import Session, State, check_budget

__all__ = ["METHODS", "Method", "Session", "State", "check_budget", "distances", "full_sup_round", "parse_method",
           "prepare", "run_session", "wsl_round"]
