"""Algorithm 1: one active-learning session, the method registry, and ``python -m paperlib.al``.

Each round r: the oracle labels the queried images (round 0: ``init_per_class`` random images per class, the same
for every method of a seed); Label_prop selects U'' (unlabeled images with a labeled same-class neighbour among
their k nearest by colour) and grows P; the segmentation head is trained from theta0 on L (+ lambda x P: first with
the previous pseudo-masks, then again with fresh ones, keeping the better on validation); the threshold is
estimated on validation; test Dice is recorded; the next queries are chosen class-balanced by the sampler.
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from . import baseline, config, data, samplers, similarity, store, train
from .config import Config, ConfigError
from .metrics import dice
from .oracles import FolderOracle, Oracle, OracleError, SimulatedOracle, png_bytes

# config fields that do not change a session's numbers, left out of its identity: the grid's list of seeds (a
# session has its own ``seed``) and the feature cache's memory budget (the uncached path computes the same)
NOT_IDENTITY = (("al", "seeds"), ("train", "cache_mb"))
METHODS = ("WSL", "Random", "Entropy", "MC_Dropout", "Label_prop", "Full_sup")


@dataclass(frozen=True)
class Method:
    """A method name parsed: ``kind`` is ``wsl``, ``full_sup`` or ``al``; AL methods have a sampler and may add
    Label_prop (``Label_prop`` alone means random queries, as in the paper; ``Entropy+Label_prop`` etc.)."""

    name: str
    kind: str
    sampler: str | None = None
    label_prop: bool = False


def parse_method(name: str) -> Method:
    """``WSL``, ``Full_sup``, a sampler (``Random``, ``Entropy``, ``MC_Dropout``), ``Label_prop`` or
    ``<sampler>+Label_prop``; anything else raises :class:`ConfigError`."""
    if name == "WSL":
        return Method(name, "wsl")
    if name == "Full_sup":
        return Method(name, "full_sup")
    if name == "Label_prop":
        return Method(name, "al", "Random", True)
    if name in samplers.SAMPLERS:
        return Method(name, "al", name, False)
    head, _, tail = name.partition("+")
    if tail == "Label_prop" and head in samplers.SAMPLERS:
        return Method(name, "al", head, True)
    raise ConfigError(f"unknown method {name!r}; known: {', '.join(METHODS)}, or <sampler>+Label_prop with a "
                      f"sampler of {', '.join(samplers.SAMPLERS)}")


def sub_seed(seed: int, *key: int) -> int:
    """A seed derived from the session seed and a key (round, cycle, ...)."""
    return int(np.random.SeedSequence([seed, *key]).generate_state(1)[0] % (2**31))


def check_budget(cfg: Config, labels: np.ndarray, class_names: list[str]) -> None:
    """The first query must fit in every class of the training pool."""
    counts = np.bincount(labels, minlength=len(class_names))
    for c, n in enumerate(counts):
        if cfg.al.init_per_class > n:
            raise ConfigError(f"config field 'init_per_class' = {cfg.al.init_per_class} exceeds the {n} training "
                              f"images of class {class_names[c]!r}")


class Session:
    """One session of one method and seed, stored in ``run_dir`` and resumable after any interruption.

    ``theta0``: the trained classifier (with the segmentation head's initial weights); ``distances``:
    same-class colour distances of the training images (needed by Label_prop only).
    """

    def __init__(self, cfg: Config, method: str, seed: int, *, splits: data.Splits, theta0: dict[str, torch.Tensor],
                 run_dir: str | Path, oracle: Oracle | None = None, distances: np.ndarray | None = None,
                 device: torch.device | None = None, progress: bool = True) -> None:
        self.cfg, self.method, self.seed = cfg, parse_method(method), seed
        self.splits, self.theta0 = splits, theta0
        self.store = store.RunFolder(run_dir)
        self.oracle = oracle or SimulatedOracle(splits.train)
        self.device = device or train.resolve_device(cfg.train.device)
        self.progress = progress
        self.labels = splits.train.labels
        self.ids = splits.train.ids
        self.num_classes = len(splits.class_names)
        if self.method.label_prop:
            if distances is None:
                raise ValueError("Label_prop needs the same-class distances of the training images")
            if distances.shape != (len(self.labels),) * 2:
                raise ValueError(f"distances {distances.shape} do not match {len(self.labels)} training images")
        self.distances = distances
        if self.method.kind == "al":
            check_budget(cfg, self.labels, splits.class_names)
        self.human = isinstance(self.oracle, FolderOracle)
        self._caches: dict[str, train.FeatureCache] = {}
        self.train_seconds = {"data": 0.0, "steps": 0.0, "eval": 0.0}  # summed over every training of this run
        self.oracle_masks: dict[int, torch.Tensor] = {}  # imported annotations (folder oracle only)

    # -- helpers -------------------------------------------------------------------------------------------------
    def _model(self, head: dict[str, torch.Tensor] | None = None) -> torch.nn.Module:
        """theta0, with the given segmentation-head weights when given."""
        return theta0_model(self.cfg, self.theta0, self.num_classes, head).to(self.device)

    def _cache(self, part: str) -> train.FeatureCache:
        """Backbone features of the ``train``, ``valid`` or ``test`` images under theta0, computed once."""
        if part not in self._caches:
            self._caches[part] = train.FeatureCache(self._model(), getattr(self.splits, part), self.cfg,
                                                    device=self.device)
        return self._caches[part]

    def _items(self, labeled: list[int], pseudo: list[int], pseudo_masks: dict[int, torch.Tensor]) -> Any:
        """Eq. (1) training items: labeled with their oracle masks (weight 1), pseudo-labeled (weight lambda)."""
        masks = [self.oracle_masks[i] for i in labeled] if self.human else None
        parts = [train.SegItems(self.splits.train, labeled, masks=masks)]
        if pseudo:
            parts.append(train.SegItems(self.splits.train, pseudo, masks=[pseudo_masks[i] for i in pseudo],
                                        weight=self.cfg.al.lam))
        return torch.utils.data.ConcatDataset(parts)

    def _fit(self, items: Any, seed: int) -> tuple[torch.nn.Module, float]:
        model = self._model()
        hist = train.train_segmentation(model, items, self.splits.valid, self.cfg, seed=seed, device=self.device,
                                        progress=False, valid_cache=self._cache("valid"))
        for k, v in hist.seconds.items():
            self.train_seconds[k] += v
        return model, hist.best_metric

    def _masks(self, model: torch.nn.Module, indices: list[int], threshold: float) -> dict[int, torch.Tensor]:
        if not indices:
            return {}
        out = train.predict_masks(model, self.splits.train, indices, self.cfg, threshold=threshold,
                                  device=self.device, cache=self._cache("train"))
        return dict(zip(indices, out, strict=True))

    def _scores(self, model: torch.nn.Module, pool: list[int], r: int) -> np.ndarray:
        scores = np.zeros(len(self.labels))
        sampler = self.method.sampler
        if sampler == "Random":
            return samplers.random_scores(len(self.labels), self.seed, r)
        if sampler == "Entropy":
            for p in train.iter_predictions(model, self.splits.train, self.cfg, indices=pool, device=self.device,
                                            classification=False, cache=self._cache("train")):
                scores[p.index] = samplers.entropy_score(p.prob)
        else:
            for i, s in train.mc_dropout_samples(model, self.splits.train, pool, self.cfg,
                                                 passes=self.cfg.al.mc_passes, p=self.cfg.al.mc_p,
                                                 seed=sub_seed(self.seed, r, 3), device=self.device,
                                                 cache=self._cache("train")):
                scores[i] = samplers.mc_dropout_score(s)
        return scores

    def _suggestions(self, indices: list[int], head: dict | None, threshold: float) -> list[torch.Tensor]:
        """The model's current masks for the annotator: the last round's head, or the CAMs before any round."""
        ckpt = {"head": head, "threshold": threshold} if head is not None else None
        return round_masks(self.cfg, self.splits, self.theta0, ckpt, "train", indices, device=self.device)

    def _saved_mask_path(self, i: int) -> Path:
        return self.store.root / "oracle_masks" / f"{self.ids[i]}.png"

    def _load_saved_masks(self, indices: list[int]) -> bool:
        """Imported annotations of ``indices`` from the run folder; False unless all are there."""
        if not all(self._saved_mask_path(i).is_file() for i in indices):
            return False
        for i in indices:
            self.oracle_masks[i] = data.read_mask(self._saved_mask_path(i), "nonzero")[0].to(torch.uint8)
        return True

    def _obtain(self, r: int, queries: list[int], head: dict | None, threshold: float) -> bool:
        """Masks of round ``r``'s queries from the oracle; False while an annotator has not answered."""
        if self.human:
            if self._load_saved_masks(queries):
                return True
            if not (self.oracle.round_dir(r) / "README.txt").is_file():
                self.oracle.ask(r, queries, self._suggestions(queries, head, threshold))
        masks = self.oracle.answer(r, queries)
        if masks is None:
            return False
        if self.human:  # every mask was checked before any is kept
            for i, m in zip(queries, masks, strict=True):
                store.atomic_write_bytes(self._saved_mask_path(i), png_bytes(m.numpy() * 255, "L"))
                self.oracle_masks[i] = m
        return True

    # -- the session ---------------------------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        """What makes this session itself (``config.json``): a folder holding other values is another session."""
        cfg = self.cfg.to_dict()
        for part, name in NOT_IDENTITY:
            del cfg[part][name]
        return {"method": self.method.name, "seed": self.seed, "profile": self.cfg.profile,
                "dataset": self.cfg.data.dataset, "config": cfg}

    def run(self) -> str:
        """Run (or resume) to the last round. Returns ``"finished"``, or ``"waiting"`` when a folder oracle's
        annotations are pending. Holds the run folder's lock throughout (:meth:`store.RunFolder.lock`)."""
        with self.store.lock():
            self.store.prepare(self.meta())
            done = self.store.finished()
            if self.method.kind != "al":
                if not done:
                    self._fixed_baseline()
                else:
                    self.store.write_views(done, self.ids)
                return "finished"
            return self._active_learning(done)

    def _fixed_baseline(self) -> None:
        t0 = time.perf_counter()
        n = len(self.labels)
        if self.method.kind == "wsl":
            model = self._model()
            test = train.evaluate(model, self.splits.test, self.cfg, device=self.device, segmentation=False)
            valid = train.evaluate(model, self.splits.valid, self.cfg, device=self.device, segmentation=False)
            row_dice, row_valid, thr, labeled, head = test["wsl_dice"], valid["wsl_dice"], float("nan"), [], None
        else:
            labeled = list(range(n))
            model, _ = self._fit(self._items(labeled, [], {}), sub_seed(self.seed, 0, 1))
            thr = self._threshold(model)
            row_dice = self._dice(model, "test", thr)
            row_valid = self._dice(model, "valid", thr)
            head = train.snapshot(model.seg_head)
        row = {"round": 0, "n_labeled": len(labeled), "n_pseudo": 0, "test_dice": row_dice, "valid_dice": row_valid,
               "pseudo_dice": float("nan"), "threshold": thr, "seconds": round(time.perf_counter() - t0, 2)}
        self.store.save_round(0, {"row": row, "labeled": labeled, "queried": labeled, "pseudo": [],
                                  "next_queries": [], "threshold": thr, "head": head}, self.ids)
        self._log(row)

    def _dice(self, model: torch.nn.Module, part: str, threshold: float) -> float:
        """Mean Dice on the ``valid`` or ``test`` images at ``threshold``."""
        return train.evaluate(model, getattr(self.splits, part), self.cfg, threshold=threshold, device=self.device,
                              classification=False, cache=self._cache(part))["dice"]

    def _threshold(self, model: torch.nn.Module) -> float:
        return train.estimate_threshold(model, self.splits.valid, self.cfg, device=self.device,
                                        cache=self._cache("valid"))

    def _log(self, row: dict[str, Any]) -> None:
        if self.progress:
            pd = "" if row["pseudo_dice"] != row["pseudo_dice"] else f", pseudo Dice {100 * row['pseudo_dice']:.1f}"
            tqdm.write(f"[{self.method.name} seed {self.seed}] round {row['round']}: {row['n_labeled']} labeled, "
                       f"{row['n_pseudo']} pseudo, test Dice {100 * row['test_dice']:.1f}{pd} ({row['seconds']:.1f}s)")

    def _active_learning(self, done: list[dict[str, Any]]) -> str:
        al = self.cfg.al
        if done:
            last = done[-1]
            r0, labeled, queries = last["row"]["round"] + 1, list(last["labeled"]), list(last["next_queries"])
            head, threshold = last["head"], last["threshold"]
            pseudo = list(last["pseudo"])
            pseudo_masks = self._masks(self._model(head), pseudo, threshold)
            self.store.write_views(done, self.ids)
            if self.human and not self._load_saved_masks(labeled):
                raise OracleError(f"{self.store.root / 'oracle_masks'}: imported annotations are missing")
        else:
            r0, labeled, pseudo, pseudo_masks = 0, [], [], {}
            queries = samplers.initial_query(self.labels, al.init_per_class, self.seed).tolist()
            head, threshold = None, 0.5
        if self.method.label_prop and al.k >= np.bincount(self.labels).min() - 1 and self.progress:
            tqdm.write(f"note: k={al.k} reaches the size of a class: U'' is every unlabeled image of that class")
        bar = tqdm(range(r0, al.rounds), desc=f"{self.method.name} seed {self.seed}", disable=not self.progress,
                   initial=r0, total=al.rounds)
        for r in bar:
            if not queries:
                break
            if not self._obtain(r, queries, head, threshold):
                bar.close()
                return "waiting"
            t0 = time.perf_counter()
            labeled = sorted(set(labeled) | set(queries))
            model, pseudo, pseudo_masks, threshold = self._train_round(r, labeled, pseudo, pseudo_masks)
            test_dice = self._dice(model, "test", threshold)
            valid_dice = self._dice(model, "valid", threshold)
            truth = [self.splits.train[i][2][0] for i in pseudo]
            pseudo_dice = float(np.mean([dice(pseudo_masks[i], t) for i, t in zip(pseudo, truth, strict=True)])
                                ) if pseudo else float("nan")
            lab = set(labeled)
            pool = [i for i in range(len(self.labels)) if i not in lab]
            next_queries: list[int] = []
            if r + 1 < al.rounds and pool:
                next_queries = samplers.balanced_top(self._scores(model, pool, r), self.labels, pool, al.per_class,
                                                     protected=pseudo).tolist()
            head = train.snapshot(model.seg_head)
            row = {"round": r, "n_labeled": len(labeled), "n_pseudo": len(pseudo), "test_dice": test_dice,
                   "valid_dice": valid_dice, "pseudo_dice": pseudo_dice, "threshold": threshold,
                   "seconds": round(time.perf_counter() - t0, 2)}
            self.store.save_round(r, {"row": row, "labeled": labeled, "queried": queries, "pseudo": pseudo,
                                      "next_queries": next_queries, "threshold": threshold, "head": head}, self.ids)
            self._log(row)
            queries = next_queries
        bar.close()
        return "finished"

    def _train_round(self, r: int, labeled: list[int], pseudo: list[int], pseudo_masks: dict[int, torch.Tensor]
                     ) -> tuple[torch.nn.Module, list[int], dict[int, torch.Tensor], float]:
        """Train round ``r``; returns the kept model, P_r, its final pseudo-masks and the validation threshold."""
        lab = set(labeled)
        prev = [i for i in pseudo if i not in lab]
        model, best = self._fit(self._items(labeled, prev, pseudo_masks), sub_seed(self.seed, r, 0))
        new_pseudo: list[int] = []
        if self.method.label_prop:
            mask = np.zeros(len(self.labels), dtype=bool)
            mask[labeled] = True
            chosen = similarity.select_pseudo(self.distances, self.labels, mask, self.cfg.al.k)
            new_pseudo = sorted((set(prev) | set(np.flatnonzero(chosen).tolist())) - lab)
            if new_pseudo:
                t0 = self._threshold(model)
                fresh = self._masks(model, new_pseudo, t0)
                model1, best1 = self._fit(self._items(labeled, new_pseudo, fresh), sub_seed(self.seed, r, 1))
                if best1 >= best:
                    model, best = model1, best1
        threshold = self._threshold(model)
        return model, new_pseudo, self._masks(model, new_pseudo, threshold), threshold


# ---------------------------------------------------------------------------------------------------------------
# Running a session from a profile


def run_dir(results_dir: str | Path, cfg: Config, method: str, seed: int) -> Path:
    """``results/<profile>/<dataset>/runs/<method>/seed_<s>``."""
    return store.run_path(results_dir, cfg.profile, cfg.data.dataset, method, seed)


def prepare(cfg: Config, *, results_dir: str | Path = "results", data_dir: str | Path = "data",
            label_prop: bool = True, device: torch.device | None = None, progress: bool = True
            ) -> tuple[data.Splits, dict[str, torch.Tensor], np.ndarray | None]:
    """What every session of a profile and dataset shares: the splits (seed 0), theta0 (trained once with seed
    0, as in the paper) and, for Label_prop, the cached same-class colour distances of the training images."""
    splits = data.from_config(cfg, seed=0, data_dir=data_dir)
    out = Path(results_dir) / cfg.profile / cfg.data.dataset
    theta0 = baseline.classifier_stage(cfg, splits, out / "theta0.pt", seed=0, device=device, progress=progress)
    distances = None
    if label_prop:
        tr = splits.train
        distances = similarity.cached_distances([r.image for r in tr.records], tr.ids, tr.labels,
                                                out / "distances.npz", progress=progress)
    return splits, theta0, distances


def run_session(cfg: Config, method: str, seed: int, *, results_dir: str | Path = "results",
                data_dir: str | Path = "data", oracle: str = "simulated", device: torch.device | None = None,
                run_folder: str | Path | None = None, progress: bool = True) -> tuple[str, Path]:
    """Prepare what is shared, then run (or resume) one session in ``run_folder`` (default: :func:`run_dir`).
    Returns its status and run folder."""
    m = parse_method(method)
    if oracle not in ("simulated", "folder"):
        raise ConfigError(f"unknown oracle {oracle!r}; use 'simulated' or 'folder'")
    device = device or train.resolve_device(cfg.train.device)
    splits, theta0, distances = prepare(cfg, results_dir=results_dir, data_dir=data_dir, label_prop=m.label_prop,
                                        device=device, progress=progress)
    folder = Path(run_folder) if run_folder else run_dir(results_dir, cfg, method, seed)
    orc = FolderOracle(splits.train, folder / "queries") if oracle == "folder" else SimulatedOracle(splits.train)
    session = Session(cfg, method, seed, splits=splits, theta0=theta0, run_dir=folder, oracle=orc,
                      distances=distances, device=device, progress=progress)
    return session.run(), folder


def theta0_model(cfg: Config, theta0: dict[str, torch.Tensor], num_classes: int,
                 head: dict[str, torch.Tensor] | None = None) -> torch.nn.Module:
    """A frozen JointNet with theta0's weights, and a round's segmentation head when given."""
    model = train.build_model(cfg, num_classes, seed=0)
    model.load_state_dict(copy.deepcopy(theta0))
    if head is not None:
        model.seg_head.load_state_dict(head)
    model.freeze_classifier()
    return model


def round_masks(cfg: Config, splits: data.Splits, theta0: dict[str, torch.Tensor], ckpt: dict[str, Any] | None,
                part: str, indices: list[int], *, device: torch.device | None = None) -> list[torch.Tensor]:
    """Masks ``HxW`` of ``getattr(splits, part)[indices]`` by a finished round (``ckpt``) at its threshold, or by
    theta0's CAMs (WSL) when ``ckpt`` has no head."""
    dataset = getattr(splits, part)
    model = theta0_model(cfg, theta0, len(splits.class_names), ckpt.get("head") if ckpt else None)
    if not ckpt or ckpt.get("head") is None:
        preds = train.iter_predictions(model, dataset, cfg, indices=indices, device=device, segmentation=False)
        by_index = {p.index: p.cam_mask.to(torch.uint8) for p in preds}
        return [by_index[i] for i in indices]
    return train.predict_masks(model, dataset, indices, cfg, threshold=ckpt["threshold"], device=device)


def qualitative(cfg: Config, methods: list[str], seed: int, *, results_dir: str | Path = "results",
                data_dir: str | Path = "data", n: int = 6, device: torch.device | None = None) -> Path:
    """Fig. 12's data: test images, true masks and each method's masks after its first round (seed ``seed``),
    saved to ``results/<profile>/<dataset>/qualitative.pt``. Methods without a finished run are skipped."""
    splits, theta0, _ = prepare(cfg, results_dir=results_dir, data_dir=data_dir, label_prop=False, device=device,
                                progress=False)
    idx = np.linspace(0, len(splits.test) - 1, n).round().astype(int).tolist()
    items = [splits.test[i] for i in idx]
    out: dict[str, Any] = {"ids": [splits.test.ids[i] for i in idx], "masks": {}, "dice": {},
                           "images": [(im * 255).round().to(torch.uint8) for im, _, _ in items],
                           "truths": [m[0].to(torch.uint8) for _, _, m in items]}
    for m in methods:
        done = store.RunFolder(run_dir(results_dir, cfg, m, seed)).finished()
        if done:
            out["masks"][m] = round_masks(cfg, splits, theta0, done[0], "test", idx, device=device)
            out["dice"][m] = float(done[0]["row"]["test_dice"])
    path = Path(results_dir) / cfg.profile / cfg.data.dataset / "qualitative.pt"
    store.save_tensors(path, out)
    return path


def pseudo_label_check(cfg: Config, splits: data.Splits, theta0: dict[str, torch.Tensor], distances: np.ndarray,
                       *, seed: int = 0, device: torch.device | None = None) -> Any:
    """The paper's assumption, measured: train the head on the first query of ``seed``, pseudo-label every other
    training image, and return per image the Dice of its pseudo-mask and the rank of its nearest labeled
    same-class image among its same-class neighbours (``pandas.DataFrame``: id, rank, dice)."""
    import pandas as pd

    labels = splits.train.labels
    labeled = samplers.initial_query(labels, cfg.al.init_per_class, seed).tolist()
    model = theta0_model(cfg, theta0, len(splits.class_names))
    train.train_segmentation(model, train.SegItems(splits.train, labeled), splits.valid, cfg,
                             seed=sub_seed(seed, 0, 0), device=device, progress=False)
    t = train.estimate_threshold(model, splits.valid, cfg, device=device)
    lab = set(labeled)
    others = [i for i in range(len(labels)) if i not in lab]
    masks = train.predict_masks(model, splits.train, others, cfg, threshold=t, device=device)
    rows = []
    for i, m in zip(others, masks, strict=True):
        same = [j for j in np.argsort(distances[i], kind="stable") if j != i and labels[j] == labels[i]]
        rank = next(r for r, j in enumerate(same, start=1) if j in lab)
        rows.append({"id": splits.train.ids[i], "rank": rank, "dice": dice(m, splits.train[i][2][0])})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = config.cli_parser("python -m paperlib.al", "Run or resume one AL session.",
                               "dataset of the profile (default: its first)")
    parser.add_argument("--method", default="Label_prop",
                        help=f"{', '.join(METHODS)}, or <sampler>+Label_prop (e.g. Entropy+Label_prop)")
    parser.add_argument("--oracle", default="simulated", choices=("simulated", "folder"),
                        help="simulated: reveal true masks; folder: a person annotates <run>/queries/round_RR/")
    args = parser.parse_args(argv)
    try:
        cfg = config.get(args.profile, dataset=args.dataset, **dict(args.p))
        parse_method(args.method)
        status, folder = run_session(cfg, args.method, args.seed, results_dir=args.results, data_dir=args.data,
                                     oracle=args.oracle)
    except (ConfigError, data.DataError, OracleError, FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if status == "waiting":
        print(f"waiting for annotations: see {folder / 'queries'} (README.txt in the newest round folder), "
              "then run the same command again")
        return 3
    rows = (folder / "rounds.csv").read_text().strip().splitlines()
    print(f"finished: {len(rows) - 1} round(s) in {folder / 'rounds.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
