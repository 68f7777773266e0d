"""Frozen configuration dataclasses and the named profiles (smoke, demo, glas, cub).

A profile names one frozen :class:`Config` per dataset. ``get(profile, dataset=..., **overrides)`` returns it,
with any field replaced by name (``seg_epochs=3``) and every value validated.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .core.lam_schedule import SCHEDULES
from .errors import ConfigError
from .values import FLOAT_MAX, coerce

DATASETS = ("glas", "cub")
CSV = "csv"  # one's own data: a dataset file (paperlib.data.csv_file) named by data_root, with any profile's settings


@dataclass(frozen=True)
class DataConfig:
    """Where the images are and how they are shown to the network."""

    dataset: str = "glas"  # "glas" or "cub" (the folder layout the loader reads), or "csv" (a dataset file)
    data_root: str = ""  # folder in that layout (or the dataset file); empty: the synthetic benchmark under data/
    synthetic: bool = True  # write the synthetic benchmark to data_root when it is missing
    synthetic_scale: float = 1.0  # fraction of the synthetic benchmark's default image count
    synthetic_seed: int = 0  # the synthetic benchmark's generator seed (others: tuning that is never evaluated)
    synthetic_knobs: str = "original"  # the synthetic benchmark's appearance: "original" or "calibrated" (toward the
    #                                    paper's levels: benchmarks/calibration.md)
    valid_fraction: float = 0.2  # per-class share of the training images held out for validation
    split: str = ""  # "paper" (the paper's split 0, fold 0), a folder of train/valid/test CSVs, or "": seeded split
    min_side: int = 432  # images are upscaled so that their shorter side is at least this
    crop: int = 416  # training crop size (square)
    scale: float = 0.9  # crops (and evaluation images) are resized by this factor before the network
    crop_grid: int = 0  # 0: crops at any offset (the paper); n: offsets from n evenly spaced values per axis, so an
    #                     image has finitely many views and their frozen-backbone features are computed once
    hflip: bool = True  # random horizontal flips in training (image and mask together)
    vflip: bool = True  # random vertical flips in training (image and mask together)


@dataclass(frozen=True)
class ModelConfig:
    """JointNet: ResNet-18 + WILDCAT + U-Net-style segmentation head."""

    pretrained: str = ""  # "" random init, "imagenet" torchvision weights, or a path to a state-dict file
    modalities: int = 5  # WILDCAT modalities per class
    kmax: float = 0.1  # WILDCAT top fraction (or count when >= 1)
    kmin: float = 0.1  # WILDCAT bottom fraction (or count when >= 1)
    alpha: float = 0.6  # WILDCAT weight of the min term
    seg_width: int = 32  # base channel width of the segmentation head
    seg_dropout: float = 0.0  # dropout at the head's dropout sites while training


@dataclass(frozen=True)
class Stage:
    """One training stage's settings as the training loop reads them (:meth:`TrainConfig.stage`): the fields
    ``<name>_lr``, ``_epochs``, ``_batch``, ``_step`` (epochs between learning-rate decays), ``_gamma`` and, for the
    segmentation stage, ``seg_min_steps`` (0 for the classifier's). A view: never stored, never part of an
    identity."""

    name: str  # "cl" (classifier, WSL) or "seg" (segmentation head)
    lr: float
    epochs: int
    batch: int
    step: int
    gamma: float
    min_steps: int = 0


STAGES = ("cl", "seg")


@dataclass(frozen=True)
class TrainConfig:
    """Both training stages (Table 5): SGD with Nesterov momentum and a step learning-rate decay."""

    momentum: float = 0.9
    weight_decay: float = 1e-4
    cl_lr: float = 1e-4  # classifier (WSL) stage
    cl_epochs: int = 1000
    cl_batch: int = 20
    cl_step: int = 100  # epochs between learning-rate decays
    cl_gamma: float = 0.9
    seg_lr: float = 0.1  # segmentation stage
    seg_epochs: int = 1000
    seg_batch: int = 20
    seg_step: int = 100
    seg_gamma: float = 0.9
    seg_min_steps: int = 0  # a round trains at least this many optimizer steps, as whole epochs of its set (0: off)
    eval_every: int = 1  # validate every this many epochs (and after the last)
    eval_batch: int = 8  # images per batch at evaluation (same-size images only)

    def stage(self, name: str) -> Stage:
        """The settings of stage ``name`` (``cl`` or ``seg``) as one :class:`Stage`."""
        if name == "cl":
            return Stage("cl", self.cl_lr, self.cl_epochs, self.cl_batch, self.cl_step, self.cl_gamma)
        if name == "seg":
            return Stage("seg", self.seg_lr, self.seg_epochs, self.seg_batch, self.seg_step, self.seg_gamma,
                         self.seg_min_steps)
        raise ConfigError(f"unknown training stage {name!r}; known: {', '.join(STAGES)}")


@dataclass(frozen=True)
class ALConfig:
    """Active-learning protocol (Table 1, Algorithm 1)."""

    init_per_class: int = 4  # oracle queries per class at the first round
    per_class: int = 1  # oracle queries per class at every later round
    rounds: int = 25  # max_r
    k: int = 40  # neighbours for Label_prop's U''
    lam: float = 0.1  # lambda, weight of the pseudo-labeled loss (Eq. 1)
    lam_schedule: str = "constant"  # lambda by round: constant (the paper), rising, validation (core/lam_schedule.py)
    lam_max: float = 1.0  # the cap of a rising lambda schedule (1: the weight of an oracle mask)
    mc_passes: int = 50  # MC dropout passes
    mc_p: float = 0.2  # MC dropout probability
    theta0: str = "shared"  # AL and Full_sup sessions start from seed 0's classifier ("shared", the paper) or from
    #                         their own seed's ("per_seed": the spread over seeds then samples the classifier too)


@dataclass(frozen=True)
class StudyConfig:
    """The grid of sessions a profile runs (seeds, ablation sweeps); a single session's numbers do not depend on it."""

    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    k_grid: tuple[int, ...] = (5, 10, 20, 30, 40)  # ablation values of k (Fig. 7)
    lam_grid: tuple[float, ...] = (0.001, 0.01, 0.1, 0.5, 1.0)  # ablation values of lambda (Figs. 8, 9)
    k_rounds: int = 25  # rounds of each session of the k sweep (Fig. 7: AUC of 25 queries, one trial)
    lam_rounds: int = 15  # rounds of each session of the lambda sweep (Fig. 8, GlaS: 15; Fig. 9, CUB: 5)
    lam_schedules: tuple[str, ...] = ("rising", "validation")  # dynamic lambda(r) compared with constant (05)


@dataclass(frozen=True)
class RuntimeConfig:
    """How a session executes: not part of its identity, so a session resumes under other values.

    ``fast`` and ``memory_mb`` give the same numbers (tested); ``device`` and ``amp`` change float rounding only.
    """

    device: str = "auto"  # "auto" (CUDA when present), "cpu", "cuda", "cuda:1", ...
    fast: bool = True  # exact fast path: decoded images kept in memory, frozen-backbone features reused
    memory_mb: int = 2048  # one budget: decoded images + cached features + one evaluation chunk (runtime.shares)
    amp: bool = True  # bf16 autocast on CUDA (no effect on the CPU)
    workers: int = 0  # grid worker processes on the CPU (0: one per core, at most 4; a GPU runs one at a time)
    tensorboard: bool = False  # mirror every history.csv as TensorBoard logs (the 'tensorboard' extra)


@dataclass(frozen=True)
class Config:
    """One profile on one dataset: the experiment (data, model, train, al), the grid it belongs to (study) and how
    it executes (runtime)."""

    profile: str = "glas"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    al: ALConfig = field(default_factory=ALConfig)
    study: StudyConfig = field(default_factory=StudyConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON-ready)."""
        return dataclasses.asdict(self)

    def identity(self) -> dict[str, Any]:
        """The sections a session's numbers depend on (``data``, ``model``, ``train``, ``al``) as a plain dict.
        Under the constant lambda schedule ``lam_max`` changes nothing, and both are left out; fields added later
        (:data:`_LATER_FIELDS`) are left out at their defaults (so sessions made before them resume)."""
        out = {s: dataclasses.asdict(getattr(self, s)) for s in IDENTITY}
        if self.al.lam_schedule == "constant":
            del out["al"]["lam_schedule"], out["al"]["lam_max"]
        for section, name in _LATER_FIELDS:  # at their defaults they change nothing: older sessions resume
            if out[section][name] == getattr(type(getattr(self, section))(), name):
                del out[section][name]
        return resolved(out)


def resolved(identity: dict[str, Any]) -> dict[str, Any]:
    """``identity`` (:meth:`Config.identity`, or one read from a file) with ``data.data_root`` as its real path, so
    that ``my_lab/dataset.csv``, ``./my_lab/dataset.csv`` and its absolute spelling are one setting (relative paths
    from the current folder). The one place a data_root's spelling is made comparable."""
    root = (identity.get("data") or {}).get("data_root")
    if not isinstance(root, str) or not root:
        return identity
    return {**identity, "data": {**identity["data"], "data_root": os.path.realpath(root)}}


IDENTITY = ("data", "model", "train", "al")  # what makes a session itself
_LATER_FIELDS = (("data", "synthetic_seed"), ("data", "synthetic_knobs"), ("data", "crop_grid"),
                 ("train", "seg_min_steps"), ("al", "theta0"))
THETA0_MODES = ("shared", "per_seed")
KNOB_SET_NAMES = ("original", "calibrated")  # paperlib.data.synthetic.KNOB_SETS (config sits below data)
_SECTIONS = (*IDENTITY, "study", "runtime")


def from_identity(profile: str, identity: dict[str, dict[str, Any]]) -> Config:
    """The config of a session from its identity sections (:meth:`Config.identity`, as a run folder's
    ``config.json`` or an exported model holds them); study and runtime at their defaults."""
    kinds = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "al": ALConfig}
    return Config(profile=profile, **{s: kinds[s](**identity[s]) for s in IDENTITY})


def _paper(dataset: str) -> Config:
    """Table 5 settings of the paper on the real data (meant for a GPU)."""
    if dataset == "glas":
        return Config(
            profile="glas",
            data=DataConfig(dataset="glas", synthetic=False, split="paper", vflip=True),
            model=ModelConfig(pretrained="imagenet", seg_width=32),
            train=TrainConfig(cl_lr=1e-4, cl_epochs=1000, cl_batch=20, cl_step=100, cl_gamma=0.9,
                              seg_lr=0.1, seg_epochs=1000, seg_batch=20, seg_step=100, seg_gamma=0.9),
            al=ALConfig(init_per_class=4, per_class=1, rounds=25, k=40, lam=0.1),
            study=StudyConfig(k_rounds=25, lam_rounds=15),  # the captions of Figs. 7 and 8
        )
    return Config(
        profile="cub",
        data=DataConfig(dataset="cub", synthetic=False, split="paper", vflip=False),
        model=ModelConfig(pretrained="imagenet", seg_width=16),
        train=TrainConfig(cl_lr=1e-2, cl_epochs=90, cl_batch=8, cl_step=10, cl_gamma=0.9,
                          seg_lr=0.1, seg_epochs=30, seg_batch=8, seg_step=10, seg_gamma=0.95),
        al=ALConfig(init_per_class=1, per_class=1, rounds=20, k=40, lam=0.001),
        study=StudyConfig(k_rounds=20, lam_rounds=5),  # Fig. 9's caption (the paper sweeps k on GlaS only)
    )


def _scaled(sweep_rounds: int, paper_rounds: int, rounds: int) -> int:
    """An ablation sweep's rounds at the paper's ratio to the AL rounds, for a profile with ``rounds`` rounds
    (half up, at least 1)."""
    return max(1, math.floor(sweep_rounds * rounds / paper_rounds + 0.5))


def _synthetic(profile: str, dataset: str) -> Config:
    """Small CPU settings on the synthetic benchmarks: the same protocol with fewer rounds, epochs and pixels
    (network input 48 px for smoke, 64 px for demo)."""
    smoke = profile == "smoke"
    base = _paper(dataset)
    side = 64 if smoke else 80
    data = replace(base.data, synthetic=True, split="", min_side=side, crop=side, scale=0.75 if smoke else 0.8,
                   synthetic_scale=0.35 if smoke else (1.0 if dataset == "glas" else 0.6))
    model = replace(base.model, pretrained="", seg_width=8 if smoke else 16)
    train = replace(base.train, cl_lr=0.01, cl_epochs=3 if smoke else 30, cl_batch=16, cl_step=10, cl_gamma=0.9,
                    seg_lr=0.05, seg_epochs=3 if smoke else 10, seg_batch=8, seg_step=10, seg_gamma=0.9,
                    eval_every=1)
    al = replace(base.al, rounds=3 if smoke else 6, k=5 if smoke else 10, mc_passes=4 if smoke else 20,
                 init_per_class=2 if dataset == "glas" else 1)
    study = StudyConfig(seeds=(0,) if smoke else (0, 1, 2), k_grid=(2, 5) if smoke else (2, 5, 10),
                        lam_grid=(0.1, 1.0) if smoke else (0.01, 0.1, 1.0) if dataset == "glas" else
                        (0.001, 0.01, 0.1), k_rounds=_scaled(base.study.k_rounds, base.al.rounds, al.rounds),
                        lam_rounds=_scaled(base.study.lam_rounds, base.al.rounds, al.rounds))
    return Config(profile=profile, data=data, model=model, train=train, al=al, study=study)


PROFILES: dict[str, tuple[str, ...]] = {
    "smoke": DATASETS,  # committed notebook default: nbval and CI, a few CPU minutes
    "demo": DATASETS,  # `make reproduce`: both synthetic benchmarks, minutes on 2 CPU cores
    "glas": ("glas",),  # the paper's Table 5 settings on real GlaS under data_root (GPU)
    "cub": ("cub",),  # the paper's Table 5 settings on real CUB-200-2011 under data_root (GPU)
}


def datasets(profile: str) -> tuple[str, ...]:
    """The datasets a profile covers."""
    _check_profile(profile)
    return PROFILES[profile]


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; known profiles: {', '.join(PROFILES)}")


def field_names() -> dict[str, str]:
    """Every overridable field name mapped to its section (``data``, ``model``, ``train`` or ``al``)."""
    out: dict[str, str] = {}
    for section in _SECTIONS:
        for f in fields(Config.__dataclass_fields__[section].default_factory()):  # type: ignore[misc]
            out[f.name] = section
    return out


def get(profile: str, dataset: str | None = None, **overrides: Any) -> Config:
    """The frozen config of ``profile`` on ``dataset`` (default: the profile's first), with fields overridden.

    Overrides are given by field name, e.g. ``get("demo", dataset="cub", seg_epochs=2, lam=0.01)``.
    Unknown names and invalid values raise :class:`ConfigError` naming the field.
    """
    _check_profile(profile)
    dataset = dataset or PROFILES[profile][0]
    if dataset not in (*DATASETS, CSV):
        raise ConfigError(f"unknown dataset {dataset!r}; known datasets: {', '.join((*DATASETS, CSV))}")
    if profile in ("glas", "cub") and dataset not in (profile, CSV):
        raise ConfigError(f"profile {profile!r} covers only dataset {profile!r}, not {dataset!r}")
    base = PROFILES[profile][0] if dataset == CSV else dataset  # a dataset file takes the profile's settings
    cfg = _paper(base) if profile in ("glas", "cub") else _synthetic(profile, base)
    if dataset == CSV:
        cfg = replace(cfg, data=replace(cfg.data, dataset=CSV, synthetic=False, split=""))
    names = field_names()
    by_section: dict[str, dict[str, Any]] = {s: {} for s in _SECTIONS}
    for name, value in overrides.items():
        if name not in names or name == "dataset":
            known = ", ".join(sorted(set(names) - {"dataset"}))
            raise ConfigError(f"unknown config field {name!r}; known fields: {known}")
        section = names[name]
        current = getattr(getattr(cfg, section), name)
        by_section[section][name] = coerce(name, value, current)
    cfg = replace(cfg, **{s: replace(getattr(cfg, s), **kw) for s, kw in by_section.items() if kw})
    validate(cfg)
    return cfg


def notebook_overrides(*, data_root: str = "", device: str = "auto", overrides: str = "") -> dict[str, Any]:
    """Config overrides from the notebooks' shared parameters; ``overrides`` is ``"name=value;name=value"``
    (``name:value`` works too)."""
    out: dict[str, Any] = {"device": device}
    if data_root:
        out["data_root"] = data_root
    for item in filter(None, (part.strip() for part in overrides.split(";"))):
        name, sep, value = item.partition("=" if "=" in item else ":")
        if not sep:
            raise ConfigError(f"overrides: expected name=value, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def notebook_configs(profile: str, *, seeds: str = "", dataset: str = "", **base: Any) -> dict[str, Config]:
    """One config per dataset of the profile (or only ``dataset``, e.g. ``csv`` with a dataset file as
    ``data_root``), with ``seeds`` (empty: the profile's) and ``base`` overrides."""
    names = (dataset,) if dataset else datasets(profile)
    if base.get("data_root") and len(names) > 1:
        raise ConfigError(f"data_root names one dataset's folder, but profile {profile!r} covers {names}")
    extra = {**base, **({"seeds": seeds} if seeds else {})}
    return {d: get(profile, dataset=d, **extra) for d in names}


def validate(cfg: Config) -> None:
    """Raise :class:`ConfigError` naming the first field whose value cannot work."""
    d, m, t, a, s, rt = cfg.data, cfg.model, cfg.train, cfg.al, cfg.study, cfg.runtime
    checks = [
        ("valid_fraction", 0.0 < d.valid_fraction < 1.0, "must be in (0, 1)"),
        ("synthetic_scale", 0.0 < d.synthetic_scale <= 10.0, "must be in (0, 10]"),
        ("min_side", d.min_side >= 32, "must be >= 32"),
        ("crop", 32 <= d.crop <= d.min_side, "must be in [32, min_side]"),
        ("scale", 0.1 <= d.scale <= 1.0, "must be in [0.1, 1]"),
        ("modalities", m.modalities >= 1, "must be >= 1"),
        ("kmax", m.kmax > 0, "must be > 0"),
        ("kmin", m.kmin >= 0, "must be >= 0"),
        ("alpha", m.alpha >= 0, "must be >= 0"),
        ("seg_width", m.seg_width >= 4, "must be >= 4"),
        ("seg_dropout", 0.0 <= m.seg_dropout < 1.0, "must be in [0, 1)"),
        ("device", rt.device == "auto" or rt.device == "cpu" or rt.device.startswith("cuda"),
         "must be 'auto', 'cpu' or 'cuda[:N]'"),
        ("memory_mb", rt.memory_mb >= 1, "must be >= 1"),
        ("workers", rt.workers >= 0, "must be >= 0 (0: one per core)"),
        ("k", a.k >= 1, "must be >= 1"),
        ("lam", a.lam >= 0, "must be >= 0"),
        ("lam_schedule", a.lam_schedule in SCHEDULES, f"must be one of {', '.join(SCHEDULES)}"),
        ("lam_max", a.lam_schedule == "constant" or a.lam_max >= a.lam,
         "must be >= lam (a schedule rises from lam toward lam_max)"),
        ("init_per_class", a.init_per_class >= 1, "must be >= 1"),
        ("per_class", a.per_class >= 1, "must be >= 1"),
        ("rounds", a.rounds >= 1, "must be >= 1"),
        ("mc_passes", a.mc_passes >= 2, "must be >= 2"),
        ("mc_p", 0.0 < a.mc_p < 1.0, "must be in (0, 1)"),
        ("theta0", a.theta0 in THETA0_MODES, f"must be one of {', '.join(THETA0_MODES)}"),
        ("synthetic_seed", d.synthetic_seed >= 0, "must be >= 0"),
        ("crop_grid", d.crop_grid >= 0, "must be >= 0 (0: any offset)"),
        ("synthetic_knobs", d.synthetic_knobs in KNOB_SET_NAMES, f"must be one of {', '.join(KNOB_SET_NAMES)}"),
        ("seg_min_steps", t.seg_min_steps >= 0, "must be >= 0 (0: epochs alone)"),
        ("seeds", len(s.seeds) >= 1 and min(s.seeds) >= 0, "must name at least one seed, none negative"),
        ("k_grid", len(s.k_grid) >= 1 and min(s.k_grid) >= 1, "must hold values >= 1"),
        ("lam_grid", len(s.lam_grid) >= 1 and min(s.lam_grid) >= 0, "must hold values >= 0"),
        ("k_rounds", s.k_rounds >= 1, "must be >= 1"),
        ("lam_rounds", s.lam_rounds >= 1, "must be >= 1"),
        ("lam_schedules", all(v in SCHEDULES for v in s.lam_schedules), f"must hold values of {', '.join(SCHEDULES)}"),
    ]
    for st in map(t.stage, STAGES):
        checks += [
            (f"{st.name}_lr", st.lr > 0, "must be > 0"),
            (f"{st.name}_epochs", st.epochs >= 1, "must be >= 1"),
            (f"{st.name}_batch", st.batch >= 1, "must be >= 1"),
            (f"{st.name}_step", st.step >= 1, "must be >= 1"),
            (f"{st.name}_gamma", 0 < st.gamma <= 1, "must be in (0, 1]"),
        ]
    checks += [("eval_every", t.eval_every >= 1, "must be >= 1"), ("eval_batch", t.eval_batch >= 1, "must be >= 1")]
    for section in (d, m, t, a, s, rt):  # every number, whoever built the config: finite and within 32-bit floats
        for f in fields(section):
            value = getattr(section, f.name)
            numbers = value if isinstance(value, tuple) else (value,)
            if any(isinstance(v, float) and not (math.isfinite(v) and abs(v) <= FLOAT_MAX) for v in numbers):
                checks.insert(0, (f.name, False, f"= {value!r}: a number must be finite and at most {FLOAT_MAX:.3g} "
                                  "in size"))
    for name, ok, why in checks:
        if not ok:
            raise ConfigError(f"config field {name!r} {why}")
