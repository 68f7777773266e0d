"""One memory budget (``runtime.memory_mb``): shares, partial feature caches, chunked training and MC dropout
within it, with the same numbers."""

import json
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from paperlib import config
from paperlib.core.loss import seg_loss
from paperlib.data import load_glas
from paperlib.engine import predict, train
from paperlib.runtime import Budget, shares


def test_shares_divide_one_budget():
    rt = config.get("demo", dataset="glas", memory_mb=800).runtime
    parts = shares(rt)
    assert sum(parts.values()) == 800 and parts["working"] == 200
    plain = shares(replace(rt, fast=False))
    assert plain["images"] == plain["features"] == 0 and plain["working"] == 200
    b = Budget(1)
    assert b.take(2**20) and not b.take(1) and b.left == 0


def test_partial_feature_cache_gives_the_computed_predictions(synth_glas, tiny_cfg):
    """A cache that holds only the batches that fit its budget; the others are computed in the same batches."""
    cfg = replace(tiny_cfg, train=replace(tiny_cfg.train, eval_batch=2))
    splits = load_glas(synth_glas, seed=0)
    net = train.build_model(cfg, 2, seed=0)
    plan = predict.batch_plan(splits.test, cfg)
    full = predict.FeatureCache(net, splits.test, cfg)
    one = sum(t.numel() * t.element_size() for t in [full.batches[0].xn, *full.batches[0].feats])
    part = predict.FeatureCache(net, splits.test, cfg, budget=Budget(1.5 * one / 2**20))
    assert len(full.batches) == len(plan) > len(part.batches) >= 1
    ref = [p.prob for p in predict.iter_predictions(net, splits.test, cfg, classification=False)]
    for cache in (full, part):
        got = [p.prob for p in predict.iter_predictions(net, splits.test, cfg, classification=False, cache=cache)]
        assert all(torch.equal(a, b) for a, b in zip(got, ref, strict=True))


def test_recomputed_training_step_equals_the_plain_one(tiny_cfg):
    """Large crops run the head's full-resolution layers on chunks of images, recomputed in the backward pass:
    the same loss and, to float rounding, the same gradients (BatchNorm still sees the whole batch)."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 32, 32, generator=g)
    mask = (torch.rand(6, 1, 32, 32, generator=g) > 0.5).float()
    grads, losses = [], []
    for rows in (0, 4, 1):
        net = train.build_model(tiny_cfg, 2, seed=0)
        net.freeze_classifier()
        net.train()
        net.seg_head.recompute_rows = rows
        loss = seg_loss(net.segment(x), mask, torch.ones(6))
        loss.backward()
        losses.append(loss.item())
        grads.append([p.grad.clone() for p in net.seg_head.parameters()])
    assert losses[0] == losses[1] == losses[2]
    for other in grads[1:]:
        assert all(torch.allclose(a, b, rtol=1e-5, atol=1e-7) for a, b in zip(grads[0], other, strict=True))
    assert train.recompute_rows(tiny_cfg, 8) == 0  # small crops: the whole batch at once, as before
    paper = config.get("glas", memory_mb=2048)
    assert 1 <= train.recompute_rows(paper, 32) < paper.train.seg_batch


_MC_JOB = textwrap.dedent("""
    import json, sys
    import torch
    from paperlib import config
    from paperlib.engine import predict, train
    from paperlib.data import load_glas
    from benchmarks.memory import peak_rss_mb, rss_mb
    root, budget = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(1)
    cfg = config.get("glas", pretrained="", min_side=256, crop=256, memory_mb=budget, device="cpu")
    splits = load_glas(root, split=None)
    net = train.build_model(cfg, 2, seed=0)
    list(predict.mc_dropout_samples(net, splits.test, [0], cfg, passes=2, p=0.2, seed=0))  # warm-up
    base = rss_mb()
    n = 0
    for _, s in predict.mc_dropout_samples(net, splits.test, [0, 1], cfg, passes=50, p=0.2, seed=0):
        n += s.shape[0]
    print(json.dumps({"base": base, "peak": peak_rss_mb(), "samples": n}))
""")


def _write_medium_glas(root: Path) -> Path:
    """A GlaS folder of 384x512 images (2 training, 2 test per grade)."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    rows = ["name,Patient ID,grade (GlaS),grade (Sirinukunwattana et al. 2015)"]
    names = [f"train_{i}" for i in range(1, 5)] + [f"testA_{i}" for i in range(1, 5)]
    for i, name in enumerate(names):
        Image.fromarray(rng.integers(0, 256, (384, 512, 3), dtype=np.uint8)).save(root / f"{name}.bmp")
        inst = np.zeros((384, 512), np.uint8)
        inst[50:200, 80:300] = 1
        Image.fromarray(inst).save(root / f"{name}_anno.bmp")
        rows.append(f"{name},1,{'benign' if i % 2 else 'malignant'},x")
    (root / "Grade.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.slow
def test_mc_dropout_stays_within_the_budget(tmp_path: Path):
    """T = 50 passes over two 384x512 images (network input 346x461, head width 32) in a fresh process: the peak
    resident memory stays within the budget above the process's baseline, although all passes at once would
    need several times the budget."""
    root = _write_medium_glas(tmp_path / "glas")
    budget = 384
    out = subprocess.run([sys.executable, "-c", _MC_JOB, str(root), str(budget)], capture_output=True, text=True,
                         check=True, timeout=600)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["samples"] == 100
    assert got["peak"] - got["base"] <= budget
    unchunked_mb = 2 * 50 * 346 * 461 * 32 * 12 * 4 / 2**20
    assert unchunked_mb > 10 * budget
