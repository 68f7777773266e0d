"""Algorithm 1: one active-learning session.

Each round r: the oracle labels the queried images U'_r (round 0: ``init_per_class`` random images per class, the
same for every method of a seed); the segmentation head is trained from theta0 on L_r (+ lambda x P_{r-1}); for
Label_prop, U''_r (unlabeled images with a labeled same-class neighbour among their k nearest by colour) grows P_r,
which is pseudo-labeled and trained on again from theta0, keeping the better model on validation; the threshold is
estimated on validation; test Dice is recorded; the next queries are chosen class-balanced by the sampler.

The session delegates: computing to :class:`~paperlib.engine.learner.Learner`, the fixed baselines (WSL,
Full_sup) to :mod:`paperlib.al.baselines`, the masks to its :class:`~paperlib.al.oracles.Oracle`, and the round
record and resume to :class:`~paperlib.store.RunFolder`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import data, store
from ..config import Config
from ..core import samplers, similarity
from ..core.lam_schedule import lam_at
from ..core.methods import parse_method
from ..core.metrics import dice
from ..engine.learner import Learner, Stream, stream_seed
from ..engine.train import snapshot, stage_plan
from ..errors import ConfigError, TrainingDiverged
from ..progress import progress_bar, progress_line
from ..store import RoundRecord, RoundRow, tensorboard
from . import baselines
from .oracles import Oracle, OracleError, SimulatedOracle


def check_budget(cfg: Config, labels: np.ndarray, class_names: list[str]) -> None:
    """The first query must fit in every class of the training pool."""
    counts = np.bincount(labels, minlength=len(class_names))
    for c, n in enumerate(counts):
        if cfg.al.init_per_class > n:
            raise ConfigError(f"config field 'init_per_class' = {cfg.al.init_per_class} exceeds the {n} training "
                              f"images of class {class_names[c]!r}")


@dataclass
class State:
    """Where a session stands before round ``round``: L (``labeled``, with the oracle's ``masks``), P (``pseudo``,
    with ``pseudo_masks``), the queries U'_r to label, and the last round's head and threshold."""

    round: int
    labeled: list[int]
    masks: dict[int, torch.Tensor]
    pseudo: list[int]
    pseudo_masks: dict[int, torch.Tensor]
    queries: list[int]
    head: dict[str, torch.Tensor] | None
    threshold: float
    valid_dice: list[float]  # of every finished round (the validation lambda schedule reads them)


class Session:
    """One session of one method and seed, stored in ``run_dir`` and resumable after any interruption.

    ``theta0``: the trained classifier (with the segmentation head's initial weights): theta0 for every method but
    WSL, whose session measures its own seed's classifier
    (:func:`paperlib.engine.classifier.session_classifier`); ``distances``: same-class colour distances of the
    training images (needed by Label_prop only).
    """

    def __init__(self, cfg: Config, method: str, seed: int, *, splits: data.Splits, theta0: dict[str, torch.Tensor],
                 run_dir: str | Path, oracle: Oracle | None = None, distances: np.ndarray | None = None,
                 device: torch.device | None = None, progress: bool = True, learner: Learner | None = None) -> None:
        self.cfg, self.method, self.seed = cfg, parse_method(method), seed
        self.splits, self.progress = splits, progress
        if cfg.runtime.tensorboard:
            tensorboard.require()
        self.store = store.RunFolder(run_dir, tensorboard=cfg.runtime.tensorboard)
        self.oracle = oracle or SimulatedOracle(splits.train)
        self.learner = learner or Learner(cfg, splits, theta0, device=device)
        self.labels, self.ids = splits.train.labels, splits.train.ids
        if self.method.label_prop:
            if distances is None:
                raise ValueError("Label_prop needs the same-class distances of the training images")
            if distances.shape != (len(self.labels),) * 2:
                raise ValueError(f"distances {distances.shape} do not match {len(self.labels)} training images")
        self.distances = distances
        if self.method.kind == "al":
            check_budget(cfg, self.labels, splits.class_names)

    def meta(self) -> dict[str, Any]:
        """What makes this session itself (``config.json``): a folder holding other values is another session.
        The runtime section (device, speed switches) and the grid's settings are not part of it."""
        meta = {"method": self.method.name, "seed": self.seed, "profile": self.cfg.profile,
                "dataset": self.cfg.data.dataset, "config": self.cfg.identity()}
        if self.method.own_classifier or self.cfg.al.theta0 == "per_seed":  # WSL and the CAM family measure their
            meta["classifier_seed"] = self.seed  # seed's classifier; under "per_seed" every method starts from it
        return meta

    def run(self) -> str:
        """Run (or resume) to the last round. Returns ``"finished"``, or ``"waiting"`` when the oracle's
        annotations are pending. Holds the run folder's lock throughout (:meth:`store.RunFolder.lock`)."""
        with self.store.lock():
            self.store.prepare(self.meta(), self.cfg.to_dict()["runtime"])
            done = self.store.finished()
            if done:
                self.store.write_views(done, self.ids)
            if self.method.kind == "al":
                return self._loop(self._resume(done))
            if not done:
                fixed = baselines.wsl_round(self.learner, self.method.cam) if self.method.kind == "wsl" else \
                    baselines.full_sup_round(self.learner, self.seed)
                self._commit(fixed)
            return "finished"

    def _resume(self, done: list[RoundRecord]) -> State:
        """The state after the last finished round, or before round 0 (Algorithm 1, line 1: U'_0 at random)."""
        if not done:
            first = samplers.initial_query(self.labels, self.cfg.al.init_per_class, self.seed).tolist()
            return State(0, [], {}, [], {}, first, None, 0.5, [])
        masks: dict[int, torch.Tensor] = {}
        for rec in done:  # the oracle gives the same masks again (the folder oracle keeps what it imported)
            answer = self.oracle.answer(rec.row.round, rec.queried)
            if answer is None:
                raise OracleError(f"{self.store.root}: the annotations of round {rec.row.round} are missing")
            masks.update(zip(rec.queried, answer, strict=True))
        last = done[-1]
        pseudo_masks = self.learner.masks(self.learner.model(last.head), last.pseudo, last.threshold)
        return State(last.row.round + 1, list(last.labeled), masks, list(last.pseudo), pseudo_masks,
                     list(last.next_queries), last.head, last.threshold, [rec.row.valid_dice for rec in done])

    def _loop(self, s: State) -> str:
        """Algorithm 1 from round ``s.round`` to ``rounds - 1`` (line numbers of the paper's listing)."""
        al, lrn = self.cfg.al, self.learner
        if self.method.label_prop and al.k >= np.bincount(self.labels).min() - 1 and self.progress:
            progress_line(f"note: k={al.k} reaches the size of a class: U'' is every unlabeled image of that class")
        bar = progress_bar(range(s.round, al.rounds), desc=f"{self.method.name} seed {self.seed}",
                           disable=not self.progress, initial=s.round, total=al.rounds)
        for r in bar:  # line 3
            if not s.queries:
                break
            with lrn.clock("oracle"):
                answer = self.oracle.answer(r, s.queries)  # lines 1, 6: the oracle labels U'_r
                if answer is None:
                    self.oracle.ask(r, s.queries, lrn.round_masks("train", s.queries, s.head, s.threshold))
                    answer = self.oracle.answer(r, s.queries)
            if answer is None:
                bar.leave = False  # not a failure: the session waits for a person (the bar would end in red)
                bar.close()
                return "waiting"
            s = self._round(r, s, answer)
        bar.close()
        return "finished"

    def _round(self, r: int, s: State, answer: list[torch.Tensor]) -> State:
        """Round ``r`` given the oracle's masks of U'_r: train, select U'_{r+1}, measure, save. Returns the state
        before round ``r + 1``; the round's time goes to the learner's clock (phase ``round``: the rest)."""
        al, lrn = self.cfg.al, self.learner
        if r == 0 and self.progress:
            plan = stage_plan(len(s.queries), self.cfg, "seg")
            progress_line(f"note: round 0 trains {plan.steps} steps ({plan.epochs} epochs of {plan.steps_per_epoch} "
                          f"on {len(s.queries)} labeled images; seg_min_steps {self.cfg.train.seg_min_steps})")
        start = time.perf_counter()
        with lrn.clock("round"):
            s.masks.update(zip(s.queries, answer, strict=True))
            labeled = sorted(set(s.labeled) | set(s.queries))  # lines 2, 7: L_r = L_{r-1} + U'_r
            lam = self._lam(r, s)
            lrn.take_history()  # this round's trainings only
            try:
                model, pseudo, pseudo_masks, threshold = self._train_round(r, labeled, s, lam)  # lines 4-5, 8-10
            except TrainingDiverged as exc:  # nothing of the round is written
                raise TrainingDiverged(f"{self.method.name} seed {self.seed}, round {r}: {exc}") from None
            lab = set(labeled)
            pool = [i for i in range(len(self.labels)) if i not in lab]
            next_queries: list[int] = []
            if r + 1 < al.rounds and pool:  # line 6 of the next round: select U'_{r+1}
                scores = lrn.scores(model, self.method.sampler, pool, self.seed, r)
                next_queries = samplers.balanced_top(scores, self.labels, pool, al.per_class, protected=pseudo).tolist()
            test, valid = lrn.dice(model, "test", threshold), lrn.dice(model, "valid", threshold)
            with lrn.clock("pseudo-mask Dice"):
                pseudo_dice = self._pseudo_dice(pseudo_masks)
            row = RoundRow(r, len(labeled), len(pseudo), test, valid, pseudo_dice, threshold,
                           round(time.perf_counter() - start, 2), lam)
            head = snapshot(model.seg_head)
            with lrn.clock("saving"):
                self._commit(RoundRecord(row, labeled, s.queries, pseudo, next_queries, threshold, head,
                                         history=lrn.take_history()))
        return State(r + 1, labeled, s.masks, pseudo, pseudo_masks, next_queries, head, threshold,
                     [*s.valid_dice, valid])

    def _lam(self, r: int, s: State) -> float:
        """lambda of round ``r`` under ``al.lam_schedule`` (:mod:`paperlib.core.lam_schedule`); nan without
        pseudo-labels, 0 for the zero-weight control."""
        if not self.method.label_prop:
            return float("nan")
        if self.method.lam_zero:
            return 0.0
        a = self.cfg.al
        return lam_at(a.lam_schedule, r, lam=a.lam, lam_max=a.lam_max, rounds=a.rounds, valid_dice=s.valid_dice)

    def _train_round(self, r: int, labeled: list[int], s: State, lam: float
                     ) -> tuple[torch.nn.Module, list[int], dict[int, torch.Tensor], float]:
        """Train round ``r`` from theta0 (lines 4-5) on L_r and P_{r-1}; for Label_prop select U''_r, grow P_r,
        pseudo-label it and train again (lines 8-10), keeping the better on validation; pseudo-masks weigh
        ``lam``. A method with ``refit`` but no pseudo-labels (the control ``Random_refit``) trains again on the
        same items from the second stream. Returns the kept model, P_r, its final pseudo-masks and the validation
        threshold."""
        lrn, lab = self.learner, set(labeled)
        prev = [i for i in s.pseudo if i not in lab]
        model, best = lrn.fit(lrn.items(labeled, s.masks, prev, s.pseudo_masks, lam),
                              stream_seed(self.seed, r, Stream.FIT))
        pseudo: list[int] = []
        second = None  # the items of the second training, when there is one
        if self.method.label_prop:
            chosen = similarity.select_pseudo(self.distances, self.labels, np.isin(np.arange(len(self.labels)),
                                                                                   labeled), self.cfg.al.k)
            pseudo = sorted((set(prev) | set(np.flatnonzero(chosen).tolist())) - lab)
            if pseudo:
                second = lrn.items(labeled, s.masks, pseudo, lrn.masks(model, pseudo, lrn.threshold(model)), lam)
        elif self.method.refit:
            second = lrn.items(labeled, s.masks)
        if second is not None:
            again, best_again = lrn.fit(second, stream_seed(self.seed, r, Stream.REFIT), cycle="refit")
            if best_again >= best:
                model, best = again, best_again
        threshold = lrn.threshold(model)
        return model, pseudo, lrn.masks(model, pseudo, threshold), threshold

    def _pseudo_dice(self, pseudo_masks: dict[int, torch.Tensor]) -> float:
        """Mean Dice of the pseudo-masks against the hidden true masks (Fig. 6); ``nan`` without pseudo-labels or
        when a pseudo-labelled image has no true mask (an unlabeled pool)."""
        train = self.splits.train
        if not pseudo_masks or not all(train.has_mask(i) for i in pseudo_masks):
            return float("nan")
        return float(np.mean([dice(m, train[i][2][0]) for i, m in pseudo_masks.items()]))

    def _commit(self, record: RoundRecord) -> None:
        """Save a finished round (the commit point) and print its line."""
        self.store.save_round(record, self.ids)
        row = record.row
        if self.progress:
            pd = "" if row.pseudo_dice != row.pseudo_dice else f", pseudo Dice {100 * row.pseudo_dice:.1f}"
            progress_line(f"[{self.method.name} seed {self.seed}] round {row.round}: {row.n_labeled} labeled, "
                          f"{row.n_pseudo} pseudo, test Dice {100 * row.test_dice:.1f}{pd} ({row.seconds:.1f}s)")


# ---------------------------------------------------------------------------------------------------------------
# Running a session from a profile
