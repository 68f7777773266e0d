from pathlib import Path

import numpy as np
import pytest
import torch

from paperlib.al.baselines import full_sup_round
from paperlib.core.loss import seg_loss
from paperlib.core.metrics import dice
from paperlib.core.model import JointNet
from paperlib.core.transforms import resize_image
from paperlib.data import load_glas
from paperlib.engine import predict, train
from paperlib.engine.learner import Learner
from paperlib.errors import ConfigError
from paperlib.runtime import Budget, resolve_device


@pytest.fixture(scope="module")
def splits(synth_glas: Path):
    return load_glas(synth_glas, seed=0)


def _states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_segmentation_head_overfits_a_tiny_batch(splits):
    torch.manual_seed(0)
    net = JointNet(2, seg_width=8, seed=0)
    net.freeze_classifier()
    net.train()
    items = [splits.train[i] for i in range(4)]
    x = torch.stack([resize_image(im, (32, 32)) for im, _, _ in items])
    m = torch.stack([torch.nn.functional.interpolate(mk[None], size=(32, 32))[0] for _, _, mk in items])
    opt = torch.optim.Adam(net.head_parameters(), lr=1e-2)
    w = torch.ones(4)
    first = None
    for _ in range(150):
        loss = seg_loss(net.segment(x), m, w)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        pred = net.segment(x) > 0
    assert loss.item() < 0.2 * first
    assert np.mean([dice(pred[i], m[i]) for i in range(4)]) > 0.9


def test_classifier_stage(splits, tiny_cfg):
    net = train.build_model(tiny_cfg, 2, seed=0)
    head0 = {k: v.clone() for k, v in net.seg_head.state_dict().items()}
    conv0 = net.layer0[0].weight.clone()
    rng_before = torch.random.get_rng_state()
    hist = train.train_classifier(net, splits.train, splits.valid, tiny_cfg, seed=1, progress=False)
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # the caller's RNG is untouched
    assert len(hist.epochs) == 2 and all("valid" in e for e in hist.epochs)
    assert hist.best_metric == max(e["valid"] for e in hist.epochs)
    assert not torch.equal(net.layer0[0].weight, conv0)  # the backbone learned
    assert _states_equal(net.seg_head.state_dict(), head0)  # the segmentation head did not
    again = train.build_model(tiny_cfg, 2, seed=0)
    train.train_classifier(again, splits.train, splits.valid, tiny_cfg, seed=1, progress=False)
    assert _states_equal(train.snapshot(net), train.snapshot(again))  # same seed, same result on the CPU
    res = predict.evaluate(net, splits.test, tiny_cfg, segmentation=False)
    assert 0 <= res["accuracy"] <= 1 and 0 <= res["wsl_dice"] <= 1 and res["n"] == len(splits.test)


def test_segmentation_stage(splits, tiny_cfg):
    net = train.build_model(tiny_cfg, 2, seed=0)
    theta0 = train.snapshot(net)
    items = train.SegItems(splits.train, indices=[0, 1, 2, 3])
    hist = train.train_segmentation(net, items, splits.valid, tiny_cfg, seed=0, progress=False)
    assert hist.best_epoch in (0, 1)
    after = train.snapshot(net)
    frozen = [k for k in after if not k.startswith("seg_head.")]
    assert all(torch.equal(after[k], theta0[k]) for k in frozen)  # backbone, BN statistics and classifier
    assert not torch.equal(after["seg_head.last.weight"], theta0["seg_head.last.weight"])
    again = train.build_model(tiny_cfg, 2, seed=0)
    train.train_segmentation(again, items, splits.valid, tiny_cfg, seed=0, progress=False)
    assert _states_equal(after, train.snapshot(again))
    other = train.build_model(tiny_cfg, 2, seed=0)
    train.train_segmentation(other, items, splits.valid, tiny_cfg, seed=5, progress=False)
    assert not _states_equal(after, train.snapshot(other))


def test_pseudo_masks_and_weights_reach_the_loss(splits, tiny_cfg):
    zeros = [torch.zeros(splits.train[i][2].shape[1:]) for i in range(2)]
    items = train.SegItems(splits.train, indices=[0, 1], masks=zeros, weight=0.25)
    image, label, mask, weight = items[1]
    assert mask.shape == splits.train[1][2].shape and mask.sum() == 0 and weight == 0.25
    assert label == splits.train[1][1]
    with pytest.raises(ValueError):
        train.SegItems(splits.train, indices=[0, 1], masks=zeros[:1])


def test_threshold_dice_matches_direct_computation():
    rng = np.random.default_rng(0)
    prob = torch.from_numpy(rng.random((13, 17)).astype(np.float32))
    mask = torch.from_numpy(rng.random((13, 17)) > 0.6)
    fast = predict.threshold_dice(prob, mask)
    direct = [dice(prob >= t, mask) for t in predict.THRESHOLDS]
    assert fast == pytest.approx(direct)
    exact = torch.full((2, 2), 0.3)  # a probability equal to a grid value counts as foreground at it
    assert predict.threshold_dice(exact, torch.ones(2, 2))[predict.THRESHOLDS.tolist().index(0.3)] == 1.0
    empty = predict.threshold_dice(torch.zeros(3, 3), torch.zeros(3, 3))
    assert np.all(empty == 1.0)


def test_evaluate_threshold_and_masks(splits, tiny_cfg):
    net = train.build_model(tiny_cfg, 2, seed=0)
    t = predict.estimate_threshold(net, splits.valid, tiny_cfg)
    assert t in predict.THRESHOLDS
    res = predict.evaluate(net, splits.valid, tiny_cfg, threshold=t)
    best = max(predict.evaluate(net, splits.valid, tiny_cfg, threshold=u, classification=False)["dice"]
               for u in (0.05, 0.5, 0.99))
    assert res["dice"] >= best - 1e-9
    masks = predict.predict_masks(net, splits.test, [3, 0], tiny_cfg, threshold=t)
    assert [m.shape for m in masks] == [splits.test[3][2].shape[1:], splits.test[0][2].shape[1:]]
    assert all(set(m.unique().tolist()) <= {0, 1} for m in masks)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):  # bad input: one line on the command line
            resolve_device("cuda")


def test_full_sup(splits, tiny_cfg):
    net = train.build_model(tiny_cfg, 2, seed=0)
    rec = full_sup_round(Learner(tiny_cfg, splits, train.snapshot(net)), seed=0)
    assert 0.0 <= rec.row.test_dice <= 1.0 and rec.threshold in predict.THRESHOLDS
    assert rec.labeled == list(range(len(splits.train))) and rec.head is not None


@pytest.mark.parametrize("grid", [0, 3])
def test_fast_path_equals_plain_path(synth_glas, tiny_cfg, grid):
    """Images kept in memory and frozen-backbone features reused (with ``crop_grid``, the training views' too) give
    the same losses, weights and predictions as decoding every image and running the whole network every time."""
    from dataclasses import replace

    results = {}
    for fast in (True, False):
        cfg = replace(tiny_cfg, runtime=replace(tiny_cfg.runtime, fast=fast),
                      data=replace(tiny_cfg.data, crop_grid=grid))
        splits = load_glas(synth_glas, seed=0)
        if not fast:
            for part in (splits.train, splits.valid, splits.test):
                part.memo = Budget(0)
        net = train.build_model(cfg, 2, seed=0)
        hist = train.train_segmentation(net, train.SegItems(splits.train, [0, 1, 2, 3, 4]), splits.valid, cfg,
                                        seed=3, progress=False)
        cache = predict.FeatureCache(net, splits.test, cfg)
        assert cache.enabled == fast
        probs = [p.prob for p in predict.iter_predictions(net, splits.test, cfg, classification=False, cache=cache)]
        mc = dict(predict.mc_dropout_samples(net, splits.test, [0, 2], cfg, passes=3, p=0.2, seed=1, cache=cache))
        results[fast] = ([e["loss"] for e in hist.epochs], [e["valid"] for e in hist.epochs], train.snapshot(net),
                         probs, mc)
    (l1, v1, s1, p1, m1), (l2, v2, s2, p2, m2) = results[True], results[False]
    assert l1 == l2 and v1 == v2
    assert _states_equal(s1, s2)
    assert all(torch.equal(a, b) for a, b in zip(p1, p2, strict=True))
    assert all(torch.equal(m1[k], m2[k]) for k in m1)


def test_view_features_are_computed_once_per_view(splits, tiny_cfg):
    """With a crop grid a Learner keeps each (image, view)'s backbone features across its trainings: the second
    training adds none, and both trainings equal a plain Learner's (nothing kept) bit for bit."""
    from dataclasses import replace

    from paperlib.engine.views import ViewFeatures

    theta0 = train.snapshot(train.build_model(tiny_cfg, 2, seed=0))
    heads, kept = {}, {}
    for fast in (True, False):
        cfg = replace(tiny_cfg, runtime=replace(tiny_cfg.runtime, fast=fast), data=replace(tiny_cfg.data, crop_grid=2))
        lrn = Learner(cfg, splits, theta0)
        assert isinstance(lrn.views, ViewFeatures)
        items = lrn.items([0, 1, 2], None)
        first = lrn.fit(items, seed=1)[0]
        n_first = len(lrn.views.memo)
        second = lrn.fit(items, seed=1)[0]
        heads[fast] = [train.snapshot(first.seg_head), train.snapshot(second.seg_head)]
        kept[fast] = (n_first, len(lrn.views.memo))
    n_views = kept[True][0]
    assert 0 < n_views <= 3 * 2 * 2 * 4 and kept[True][1] == n_views  # the second training added no view
    assert kept[False] == (0, 0)
    assert all(_states_equal(a, b) for a, b in zip(heads[True], heads[False], strict=True))
    assert _states_equal(*heads[True])  # same seed, same items: the same head


def test_fast_and_plain_mc_dropout_batch_subsets_alike(glas_root, tiny_cfg):
    """A pool subset is batched the same way with and without cached features, so MC dropout draws the same masks."""
    from dataclasses import replace

    cfg = replace(tiny_cfg, train=replace(tiny_cfg.train, eval_batch=2))
    splits = load_glas(glas_root, seed=0)
    net = train.build_model(cfg, 2, seed=0)
    pool = [0, 2, 3, 5, 6]
    cache = predict.FeatureCache(net, splits.train, cfg)
    with_cache = dict(predict.mc_dropout_samples(net, splits.train, pool, cfg, passes=4, p=0.3, seed=2, cache=cache))
    plain = dict(predict.mc_dropout_samples(net, splits.train, pool, cfg, passes=4, p=0.3, seed=2))
    assert sorted(with_cache) == sorted(plain) == pool
    assert all(torch.equal(with_cache[i], plain[i]) for i in pool)


def test_theta0_model_needs_no_backbone_weights(splits, tiny_cfg, tmp_path):
    """Every round rebuilds the model from theta0, which holds every weight: the pretrained backbone is neither
    loaded again nor needed (a config naming ImageNet or a weights file still works where only theta0 exists)."""
    from dataclasses import replace

    from paperlib.core.model import WeightsError
    from paperlib.engine.learner import theta0_model

    theta0 = train.snapshot(train.build_model(tiny_cfg, 2, seed=3))
    cfg = replace(tiny_cfg, model=replace(tiny_cfg.model, pretrained=str(tmp_path / "missing.pth")))
    with pytest.raises(WeightsError, match="missing.pth"):
        train.build_model(cfg, 2, seed=0)
    assert _states_equal(train.snapshot(theta0_model(cfg, theta0, 2)), theta0)


def test_mc_dropout_and_entropy_score_the_same_pixels(glas_root, tiny_cfg):
    """MC_Dropout's passes come back at each image's own resolution, as Entropy's probabilities do; with dropout
    p -> 0 every pass is the deterministic prediction."""
    splits = load_glas(glas_root, seed=0)
    net = train.build_model(tiny_cfg, 2, seed=0)
    pool = [0, 1, 2]
    probs = {p.index: p.prob for p in predict.iter_predictions(net, splits.train, tiny_cfg, indices=pool,
                                                               classification=False)}
    mc = dict(predict.mc_dropout_samples(net, splits.train, pool, tiny_cfg, passes=3, p=1e-9, seed=0))
    for i in pool:
        assert mc[i].shape == (3, *splits.train.image_size(i)) == (3, *probs[i].shape)
        assert torch.allclose(mc[i][0], probs[i], atol=1e-5)


def test_chunked_mc_dropout_equals_unchunked(glas_root, tiny_cfg):
    """MC dropout's passes run in chunks that fit the memory budget; pass t's masks depend only on (seed, site, t),
    so every chunk size gives the same samples and scores (to float rounding: a convolution over a batch of
    another size may round its last bit differently on the CPU) and the same queries."""
    from paperlib.core import samplers

    splits = load_glas(glas_root, seed=0)
    net = train.build_model(tiny_cfg, 2, seed=0)
    pool = [0, 1, 3]
    chunks = [(16, 7), (1, 1), (2, 3)]  # (images, passes): everything at once first
    runs = {c: dict(predict.mc_dropout_samples(net, splits.train, pool, tiny_cfg, passes=7, p=0.3, seed=4, chunk=c))
            for c in chunks}
    whole = runs[chunks[0]]
    ref = np.array([samplers.mc_dropout_score(whole[i]) for i in pool])
    for run in runs.values():
        for i in pool:
            assert torch.allclose(run[i], whole[i], rtol=0, atol=1e-6)
        scores = np.array([samplers.mc_dropout_score(run[i]) for i in pool])
        assert np.allclose(scores, ref, rtol=1e-5, atol=0)
        assert np.argsort(scores).tolist() == np.argsort(ref).tolist()  # the same images queried
    assert not torch.equal(whole[0][0], whole[0][1])  # the passes draw their own masks
    other = dict(predict.mc_dropout_samples(net, splits.train, pool, tiny_cfg, passes=7, p=0.3, seed=5))
    assert not torch.equal(other[0], whole[0])  # another seed, other masks
    assert predict.mc_chunk(50, (8, 3, 389, 577), 32, 1024) == (1, 3)  # GlaS paper size: one image, three passes
    assert predict.mc_chunk(50, (8, 3, 389, 577), 32, 1) == (1, 1)  # never less than one of each
    assert predict.mc_chunk(50, (8, 3, 64, 64), 16, 1024) == (6, 50)  # demo size: every pass of 6 images


def test_the_classifier_fingerprint_covers_every_field_but_the_segmentation_stages():
    """theta0 is retrained when any field it may depend on changes (a new field counts until it is known not to),
    and reused when only the segmentation stage changes."""
    from dataclasses import fields

    from paperlib import config
    from paperlib.config import TrainConfig
    from paperlib.engine import classifier

    cfg = config.get("smoke", dataset="glas")
    assert set(classifier.classifier_fields(cfg.train)) == {f.name for f in fields(TrainConfig)
                                                            if not f.name.startswith("seg_")}
    base = classifier._fingerprint(cfg, 0)
    assert classifier._fingerprint(config.get("smoke", dataset="glas", seg_epochs=99), 0) == base
    assert classifier._fingerprint(config.get("smoke", dataset="glas", cl_epochs=99), 0) != base
    assert classifier._fingerprint(config.get("smoke", dataset="glas", eval_batch=3), 0) != base
    assert classifier._fingerprint(cfg, 1) != base
