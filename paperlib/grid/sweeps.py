"""The ablation grids as tasks: the k and lambda sweeps (Figs. 7-9) and Label_prop under each lambda schedule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..config import Config
from .runner import Task

SCHEDULE_PREFIX = "Label_prop__lam_"  # run folders of Label_prop under a lambda schedule: Label_prop__lam_<schedule>


def schedule_tasks(cfgs: Mapping[str, Config], seeds: Sequence[int]) -> list[Task]:
    """Label_prop with every seed under the constant lambda (``04``'s session, the same folder) and under each
    schedule of ``study.lam_schedules`` (run folders ``Label_prop__lam_<schedule>``), on every dataset."""
    out = []
    for d, cfg in cfgs.items():
        for seed in seeds:
            out.append(Task(d, "Label_prop", seed))
            out += [Task(d, "Label_prop", seed, {"lam_schedule": s}, f"lam_{s}")
                    for s in cfg.study.lam_schedules if s != "constant"]
    return out


@dataclass(frozen=True)
class SweepPoint:
    """One point of a sweep: ``parameter`` (``k`` or ``lambda``) at ``value``, read from the first ``rounds``
    rounds of ``task``'s session."""

    dataset: str
    parameter: str
    value: float
    rounds: int
    task: Task


def sweep_points(cfgs: Mapping[str, Config], seed: int) -> list[SweepPoint]:
    """Label_prop's sweeps with one ``seed``: k on GlaS (``study.k_grid``, ``study.k_rounds`` rounds each) and
    lambda on every dataset of ``cfgs`` (``study.lam_grid``, ``study.lam_rounds``).

    A point at the profile's own value, with no more rounds than the profile runs, is the main Label_prop session
    of ``04_active_learning`` (the same folder): a session's rounds do not depend on how many rounds follow them
    (tested), so its first ``rounds`` rounds are exactly that point's session, and it runs once."""
    points = []
    for d, cfg in cfgs.items():
        st, a = cfg.study, cfg.al
        sweeps = [("k", "k", v, st.k_rounds, a.k) for v in st.k_grid] if d == "glas" else []
        sweeps += [("lambda", "lam", v, st.lam_rounds, a.lam) for v in st.lam_grid]
        for parameter, field, value, rounds, own in sweeps:
            if value == own and rounds <= a.rounds:
                task = Task(d, "Label_prop", seed)
            else:
                task = Task(d, "Label_prop", seed, {field: value, "rounds": rounds}, f"{field}{value:g}")
            points.append(SweepPoint(d, parameter, value, rounds, task))
    return points
