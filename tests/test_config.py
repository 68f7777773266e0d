import dataclasses

import pytest

from paperlib import config
from paperlib.config import ConfigError


def test_profiles_and_paper_settings():
    assert set(config.PROFILES) >= {"smoke", "demo", "glas", "cub"}
    assert config.datasets("demo") == ("glas", "cub")
    g, c = config.get("glas"), config.get("cub")
    # Table 5
    assert (g.train.seg_lr, g.train.seg_epochs, g.train.seg_batch, g.train.seg_step, g.train.seg_gamma) == \
        (0.1, 1000, 20, 100, 0.9)
    assert (g.train.cl_lr, c.train.cl_lr, c.train.cl_epochs, c.train.seg_epochs, c.train.seg_gamma) == \
        (1e-4, 1e-2, 90, 30, 0.95)
    assert (g.data.crop, g.data.vflip, c.data.vflip, g.al.lam, c.al.lam, g.al.k) == (416, True, False, 0.1, 0.001, 40)
    assert (g.model.modalities, g.model.kmax, g.model.kmin, g.model.alpha) == (5, 0.1, 0.1, 0.6)
    assert (g.train.momentum, g.train.weight_decay) == (0.9, 1e-4)
    # Table 1
    assert (g.al.init_per_class, g.al.per_class, g.al.rounds) == (4, 1, 25)
    assert (c.al.init_per_class, c.al.per_class, c.al.rounds) == (1, 1, 20)
    assert g.model.pretrained == "imagenet" and config.get("smoke").model.pretrained == ""


def test_overrides_are_typed_and_frozen():
    cfg = config.get("smoke", dataset="cub", seg_epochs="4", lam=0.5, hflip="false", seeds="0,2")
    assert (cfg.train.seg_epochs, cfg.al.lam, cfg.data.hflip, cfg.study.seeds) == (4, 0.5, False, (0, 2))
    assert cfg.data.dataset == "cub" and cfg.profile == "smoke"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.seg_epochs = 3  # type: ignore[misc]
    assert cfg.to_dict()["al"]["lam"] == 0.5


@pytest.mark.parametrize("kwargs, match", [
    ({"k": 0}, "'k' must be >= 1"),
    ({"lam": -0.1}, "'lam' must be >= 0"),
    ({"no_such_field": 1}, "unknown config field 'no_such_field'"),
    ({"seg_epochs": 2.5}, "'seg_epochs': cannot use 2.5"),
    ({"crop": 500}, "'crop' must be in"),
    ({"device": "tpu"}, "'device'"),
    ({"hflip": "maybe"}, "'hflip'"),
])
def test_bad_values_name_the_field(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        config.get("smoke", **kwargs)


def test_unknown_profile_and_dataset():
    with pytest.raises(ConfigError, match="unknown profile 'full'"):
        config.get("full")
    with pytest.raises(ConfigError, match="unknown dataset 'voc'"):
        config.get("demo", dataset="voc")
    with pytest.raises(ConfigError, match="covers only dataset 'glas'"):
        config.get("glas", dataset="cub")


def test_notebook_overrides():
    base = config.notebook_overrides(device="cpu", overrides="fast:false; lam=0.01;pretrained:/w/r18.pth")
    assert base == {"device": "cpu", "fast": "false", "lam": "0.01", "pretrained": "/w/r18.pth"}
    cfgs = config.notebook_configs("smoke", seeds="3,4", **base)
    assert set(cfgs) == {"glas", "cub"} and not cfgs["cub"].runtime.fast and cfgs["glas"].study.seeds == (3, 4)
    with pytest.raises(ConfigError, match="expected name=value"):
        config.notebook_overrides(overrides="fast")
    with pytest.raises(ConfigError, match="data_root names one dataset"):
        config.notebook_configs("smoke", data_root="/data/glas")


def test_ablation_sweeps_run_their_captions_budgets():
    """Fig. 7 (GlaS, k): 25 rounds; Fig. 8 (GlaS, lambda): 15; Fig. 9 (CUB, lambda): 5; the synthetic profiles keep
    the ratios to their own AL rounds."""
    glas, cub = config.get("glas"), config.get("cub")
    assert (glas.study.k_rounds, glas.study.lam_rounds, cub.study.lam_rounds) == (25, 15, 5)
    for profile in ("demo", "smoke"):
        g, c = config.get(profile, dataset="glas"), config.get(profile, dataset="cub")
        assert g.study.k_rounds == g.al.rounds  # 25 of 25
        assert g.study.lam_rounds == max(1, int(g.al.rounds * 15 / 25 + 0.5))
        assert c.study.lam_rounds == max(1, int(c.al.rounds * 5 / 20 + 0.5))
    assert (config.get("demo").study.k_rounds, config.get("demo").study.lam_rounds) == (6, 4)
    assert config.get("demo", dataset="cub").study.lam_rounds == 2


def test_the_stage_view_reads_every_stage_field():
    """``TrainConfig.stage`` is the one reader of the ten ``cl_*``/``seg_*`` fields (and ``seg_min_steps``): each
    field of a stage reaches its view, and no stage field is left unread."""
    names = [f.name for f in dataclasses.fields(config.TrainConfig)]
    values = {n: i + 2 for i, n in enumerate(names)}  # distinct values, so a swapped field shows
    t = config.TrainConfig(**{n: (v if isinstance(getattr(config.TrainConfig(), n), int) else v / 100)
                              for n, v in values.items()})
    read = set()
    for name in config.STAGES:
        st = t.stage(name)
        for f in ("lr", "epochs", "batch", "step", "gamma"):
            assert getattr(st, f) == getattr(t, f"{name}_{f}")
            read.add(f"{name}_{f}")
    assert t.stage("seg").min_steps == t.seg_min_steps and t.stage("cl").min_steps == 0
    read.add("seg_min_steps")
    assert {n for n in names if n.split("_")[0] in config.STAGES} == read
    with pytest.raises(ConfigError, match="unknown training stage 'x'"):
        t.stage("x")


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e300", float("inf")])
def test_a_float_field_refuses_non_finite_and_overflowing_numbers(value):
    """``-p lam inf`` or ``1e300`` used to be accepted (training went NaN and the session said finished)."""
    with pytest.raises(ConfigError, match=r"config field 'lam': cannot use .*must be finite and at most 3\.4e\+38"):
        config.get("smoke", dataset="glas", lam=value)
    with pytest.raises(ConfigError, match=r"config field 'lam_grid'"):
        config.get("smoke", dataset="glas", lam_grid=f"0.1,{value}")
    built = config.get("smoke", dataset="glas")
    with pytest.raises(ConfigError, match=r"config field 'seg_lr' = .*must be finite"):
        config.validate(dataclasses.replace(built, train=dataclasses.replace(built.train, seg_lr=float(value))))
    assert config.get("smoke", dataset="glas", lam="1e30").al.lam == 1e30  # large but finite: allowed
