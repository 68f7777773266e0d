"""The round budget rule (seg_min_steps), the controls of Label_prop and the per-seed theta0 setting."""

from pathlib import Path

import numpy as np
import pytest
import torch

from paperlib import al, config, data
from paperlib.core.methods import THETA0_SEED, parse_method
from paperlib.engine import classifier
from paperlib.engine.learner import Learner
from paperlib.engine.train import stage_plan

from .helpers import TINY, history_rows, run_rows


def _cfg(**kw) -> config.Config:
    return config.get("smoke", dataset="glas", **{**TINY, **kw})


def test_stage_plan_counts_steps():
    cfg = _cfg(seg_epochs=20, seg_step=20, eval_every=1, seg_batch=8, seg_min_steps=300)
    small = stage_plan(4, cfg, "seg")  # 1 step per epoch: 300 epochs, the schedule stretched 15x
    assert (small.epochs, small.steps_per_epoch, small.lr_step, small.eval_every, small.steps) == (300, 1, 300, 15, 300)
    large = stage_plan(54, cfg, "seg")  # 7 steps per epoch: 20 epochs give 140 < 300, so 43 epochs (301 steps)
    assert (large.epochs, large.steps_per_epoch, large.lr_step, large.eval_every) == (43, 7, 43, 2)
    many = stage_plan(400, cfg, "seg")  # 50 steps per epoch: the epochs alone give 1000 >= 300
    assert (many.epochs, many.steps, many.lr_step, many.eval_every) == (20, 1000, 20, 1)
    off = stage_plan(4, _cfg(seg_epochs=20, seg_step=20, seg_batch=8), "seg")
    assert (off.epochs, off.steps) == (20, 20)
    assert stage_plan(4, cfg, "cl").epochs == cfg.train.cl_epochs  # the classifier stage keeps its epochs


def test_new_fields_stay_out_of_identity_at_their_defaults():
    base = _cfg().identity()
    assert "seg_min_steps" not in base["train"] and "theta0" not in base["al"] and "synthetic_seed" not in base["data"]
    changed = _cfg(seg_min_steps=50, theta0="per_seed", synthetic_seed=3).identity()
    assert (changed["train"]["seg_min_steps"], changed["al"]["theta0"], changed["data"]["synthetic_seed"]) == \
        (50, "per_seed", 3)
    with pytest.raises(config.ConfigError, match="'theta0'"):
        _cfg(theta0="own")


def test_synthetic_seed_names_another_benchmark(tmp_path: Path):
    a = data.from_config(_cfg(), data_dir=tmp_path)
    b = data.from_config(_cfg(synthetic_seed=7), data_dir=tmp_path)
    assert sorted(p.name for p in (tmp_path / "synthetic").iterdir()) == ["glas_demo_x0.2", "glas_demo_x0.2_g7"]
    assert not torch.equal(a.train[0][0], b.train[0][0])
    again = data.from_config(_cfg(synthetic_seed=7), data_dir=tmp_path / "other")
    assert torch.equal(b.train[0][0], again.train[0][0])  # deterministic per generator seed


def test_min_steps_reach_the_history(shared, tmp_path: Path):  # noqa: F811
    cfg = _cfg(seg_min_steps=5, rounds=1)
    session = al.Session(cfg, "Random", 0, splits=shared["splits"], theta0=shared["theta0"], run_dir=tmp_path / "r",
                         progress=False)
    assert session.run() == "finished"
    n = len(session.store.finished()[0].labeled)
    plan = stage_plan(n, cfg, "seg")
    assert plan.steps >= 5 and len(history_rows(tmp_path / "r")) == plan.epochs


def _spy(monkeypatch) -> list[tuple[str, int, list[float]]]:
    """Record every Learner.fit: (cycle, number of items, item weights), and its returned validation Dice."""
    calls: list = []
    real = Learner.fit

    def fit(self, items, seed, cycle="fit"):
        model, best = real(self, items, seed, cycle)
        calls.append((cycle, len(items), [items[i][3] for i in range(len(items))], best, model))
        return model, best

    monkeypatch.setattr(Learner, "fit", fit)
    return calls


def test_random_refit_trains_twice_on_the_same_items_and_keeps_the_better(shared, tmp_path, monkeypatch):  # noqa: F811
    calls = _spy(monkeypatch)
    session = al.Session(shared["cfg"], "Random_refit", 0, splits=shared["splits"], theta0=shared["theta0"],
                         run_dir=tmp_path / "r", progress=False)
    assert session.run() == "finished"
    rounds = session.store.finished()
    assert [c[0] for c in calls] == ["fit", "refit"] * len(rounds)
    for r, rec in enumerate(rounds):
        first, second = calls[2 * r], calls[2 * r + 1]
        assert first[1] == second[1] == len(rec.labeled) and set(first[2] + second[2]) == {1.0}  # no pseudo items
        kept = second if second[3] >= first[3] else first
        assert all(torch.equal(v, rec.head[k]) for k, v in kept[4].seg_head.state_dict().items())
        assert rec.pseudo == []
    plain = [int(r["n_labeled"]) for r in run_rows(tmp_path / "r")]
    assert plain == [2, 4, 6]


def test_label_prop_lam0_weighs_its_pseudo_masks_zero(shared, tmp_path, monkeypatch):  # noqa: F811
    calls = _spy(monkeypatch)
    session = al.Session(shared["cfg"], "Label_prop_lam0", 0, splits=shared["splits"], theta0=shared["theta0"],
                         run_dir=tmp_path / "r", distances=shared["dist"], progress=False)
    assert session.run() == "finished"
    rows = run_rows(tmp_path / "r")
    assert {float(r["lam"]) for r in rows} == {0.0} and any(int(r["n_pseudo"]) > 0 for r in rows)
    refits = [c for c in calls if c[0] == "refit"]
    assert refits and all(sorted(set(c[2])) == [0.0, 1.0] for c in refits)  # oracle items 1, pseudo items 0
    # what a zero weight does in Eq. (1): tests/test_loss.py


@pytest.mark.parametrize(("mode", "method", "seed", "expected"), [
    ("shared", "Random", 2, THETA0_SEED), ("shared", "Full_sup", 3, THETA0_SEED), ("shared", "WSL", 2, 2),
    ("per_seed", "Random", 2, 2), ("per_seed", "Full_sup", 3, 3), ("per_seed", "Label_prop_lam0", 1, 1),
    ("per_seed", "Random", 0, 0)])
def test_theta0_setting_names_the_classifier(monkeypatch, mode, method, seed, expected):
    asked = []
    monkeypatch.setattr(classifier, "classifier_stage", lambda cfg, splits, results, *, seed, **kw: asked.append(seed))
    classifier.session_classifier(_cfg(theta0=mode), None, "results", method, seed)
    assert asked == [expected] and parse_method(method).classifier_seed(seed, mode) == expected


def test_per_seed_sessions_record_their_classifier(shared, tmp_path):  # noqa: F811
    cfg = _cfg(theta0="per_seed")
    meta = al.Session(cfg, "Random", 2, splits=shared["splits"], theta0=shared["theta0"], run_dir=tmp_path / "a",
                      progress=False).meta()
    assert meta["classifier_seed"] == 2 and meta["config"]["al"]["theta0"] == "per_seed"
    shared_meta = al.Session(shared["cfg"], "Random", 2, splits=shared["splits"], theta0=shared["theta0"],
                             run_dir=tmp_path / "b", progress=False).meta()
    assert "classifier_seed" not in shared_meta
    assert np.isnan(al.Session(shared["cfg"], "Random_refit", 0, splits=shared["splits"], theta0=shared["theta0"],
                               run_dir=tmp_path / "c", progress=False)._lam(0, None))


def test_calibrated_benchmarks_are_their_own_and_deterministic(tmp_path: Path):
    from paperlib.data import synthetic

    assert config.KNOB_SET_NAMES == tuple(synthetic.KNOB_SETS)
    orig = data.from_config(_cfg(), data_dir=tmp_path)
    cal = data.from_config(_cfg(synthetic_knobs="calibrated"), data_dir=tmp_path)
    again = data.from_config(_cfg(synthetic_knobs="calibrated"), data_dir=tmp_path / "other")
    folder = tmp_path / "synthetic" / "glas_demo_x0.2_calibrated"
    assert folder.is_dir() and "knobs" in (folder / synthetic.MARKER).read_text()
    assert not torch.equal(orig.train[0][0], cal.train[0][0])
    assert all(torch.equal(cal.train[i][0], again.train[i][0]) for i in range(3))  # deterministic per seed
    assert "synthetic_knobs" not in _cfg().identity()["data"]
    assert _cfg(synthetic_knobs="calibrated").identity()["data"]["synthetic_knobs"] == "calibrated"
    cub = synthetic.write_cub_like(tmp_path / "cub", seed=3, scale=0.2, knobs=synthetic.CALIBRATED_CUB_KNOBS)
    cub_again = synthetic.write_cub_like(tmp_path / "cub2", seed=3, scale=0.2, knobs=synthetic.CALIBRATED_CUB_KNOBS)
    files = sorted(p.relative_to(cub) for p in cub.rglob("*.jpg"))
    assert files and all((cub / f).read_bytes() == (cub_again / f).read_bytes() for f in files[:5])
    with pytest.raises(config.ConfigError, match="'synthetic_knobs'"):
        _cfg(synthetic_knobs="harder")


def test_distances_cache_is_keyed_by_the_images(tmp_path: Path):
    from paperlib.al.runner import cached_distances

    splits = data.from_config(_cfg(), data_dir=tmp_path)
    tr = splits.train
    paths = [r.image for r in tr.records]
    cache = tmp_path / "distances.npz"
    a = cached_distances(paths, tr.ids, tr.labels, cache, progress=False)
    shuffled = paths[1:] + paths[:1]  # same ids and labels, other image files (as another benchmark folder gives)
    b = cached_distances(shuffled, tr.ids, tr.labels, cache, progress=False)
    fresh = cached_distances(shuffled, tr.ids, tr.labels, tmp_path / "fresh.npz", progress=False)
    assert np.array_equal(b, fresh) and not np.array_equal(a, b)
