from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.spatial.distance import jensenshannon

from paperlib.al.runner import cached_distances
from paperlib.core import similarity


def test_jsd_matches_scipy_squared():
    rng = np.random.default_rng(0)
    p = rng.random((5, 256))
    q = rng.random((5, 256))
    p /= p.sum(-1, keepdims=True)
    q /= q.sum(-1, keepdims=True)
    ours = similarity.jsd(p, q)
    ref = np.array([jensenshannon(a, b) ** 2 for a, b in zip(p, q, strict=True)])
    assert ours == pytest.approx(ref)
    # broadcasting: all pairs
    pairs = similarity.jsd(p[:, None], q[None])
    assert pairs.shape == (5, 5) and pairs[2, 3] == pytest.approx(jensenshannon(p[2], q[3]) ** 2)
    assert similarity.jsd(p[0], p[0]) == pytest.approx(0.0)
    z = np.array([1.0, 0.0])
    assert similarity.jsd(z, z[::-1]) == pytest.approx(np.log(2))  # disjoint supports, zeros handled


def test_colour_histogram(tmp_path: Path):
    img = np.zeros((40, 60, 3), np.uint8)
    img[..., 0] = 200
    Image.fromarray(img).save(tmp_path / "a.png")
    h = similarity.colour_histogram(tmp_path / "a.png")
    assert h.shape == (3, 256) and np.allclose(h.sum(1), 1.0)
    assert h[1, 0] > 0.99 and h[0].argmax() > 128  # green empty, red high


def test_class_distances_and_cache(tmp_path: Path):
    rng = np.random.default_rng(2)
    h = rng.random((6, 3, 16))
    h /= h.sum(-1, keepdims=True)
    labels = np.array([0, 0, 1, 0, 1, 1])
    d = similarity.class_distances(h, labels)
    assert np.isinf(d[0, 2]) and np.allclose(np.diag(d), 0) and np.allclose(d, d.T)
    idx = np.flatnonzero(labels == 0)
    prox = similarity.jsd(h[idx][:, None], h[idx][None])  # n x n x 3
    expected = (prox / prox.sum((0, 1))).sum(-1)
    assert d[np.ix_(idx, idx)] == pytest.approx(expected)
    paths = []
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    cache = tmp_path / "dist.npz"
    a = cached_distances(paths, ["a", "b", "c", "d"], np.array([0, 0, 1, 1]), cache, progress=False)
    stamp = cache.stat().st_mtime_ns
    b = cached_distances(paths, ["a", "b", "c", "d"], np.array([0, 0, 1, 1]), cache, progress=False)
    assert np.array_equal(a, b) and cache.stat().st_mtime_ns == stamp  # computed once
    c = cached_distances(paths, ["a", "b", "c", "d"], np.array([0, 1, 0, 1]), cache, progress=False)
    assert np.isinf(c[0, 1]) and np.isfinite(c[0, 2])  # other labels: recomputed


def test_select_pseudo_hand_built():
    # one class of 6 samples on a line at positions 0, 1, 2, 10, 11, 30; sample 0 is labeled
    pos = np.array([0.0, 1.0, 2.0, 10.0, 11.0, 30.0])
    dist = np.abs(pos[:, None] - pos[None])
    labels = np.zeros(6, int)
    labeled = np.array([True, False, False, False, False, False])
    # k = 2: 1's two nearest are {0, 2} (0 labeled) -> in; 2's are {1, 0} -> in; 3's are {4, 2} -> out;
    # 4's are {3, 2} -> out; 5's are {4, 3} -> out
    assert similarity.select_pseudo(dist, labels, labeled, k=2).tolist() == [False, True, True, False, False, False]
    # k = 3: 3's three nearest are {4, 2, 1} -> out; 4's are {3, 2, 1} -> out
    assert similarity.select_pseudo(dist, labels, labeled, k=3).tolist() == [False, True, True, False, False, False]
    # k = 4: 3's are {4, 2, 1, 0} -> in; 4's are {3, 2, 1, 0} -> in; 5's are {4, 3, 2, 1} -> out
    assert similarity.select_pseudo(dist, labels, labeled, k=4).tolist() == [False, True, True, True, True, False]
    # k at the class size: every unlabeled sample
    assert similarity.select_pseudo(dist, labels, labeled, k=5).tolist() == [False] + [True] * 5


def test_select_pseudo_per_unlabeled_not_per_labeled():
    # Fig. 2: the labeled sample L sits beside a dense cluster; the unlabeled u, on L's other side, has L as
    # its nearest neighbour, but u is not among L's k nearest (the cluster members are closer to L).
    pos = np.array([0.0, -0.5, -0.6, -0.7, 1.0])  # 0 = L, 1..3 cluster, 4 = u
    dist = np.abs(pos[:, None] - pos[None])
    labels = np.zeros(5, int)
    labeled = np.array([True, False, False, False, False])
    k = 2
    ours = similarity.select_pseudo(dist, labels, labeled, k)
    per_labeled = np.zeros(5, bool)  # the other reading: each labeled sample's k nearest become pseudo-labeled
    for j in np.flatnonzero(labeled):
        others = [i for i in np.argsort(dist[j], kind="stable") if i != j][:k]
        per_labeled[others] = True
    assert ours.tolist() == [False, False, False, False, True]  # only u: L is among its 2 nearest
    assert per_labeled.tolist() == [False, True, True, False, False]  # L's 2 nearest: the cluster, not u


def test_select_pseudo_classes_and_errors():
    dist = np.zeros((4, 4))
    labels = np.array([0, 0, 1, 1])
    labeled = np.array([True, False, False, False])
    assert similarity.select_pseudo(dist, labels, labeled, k=3).tolist() == [False, True, False, False]
    with pytest.raises(ValueError):
        similarity.select_pseudo(dist, labels, labeled, k=0)
    with pytest.raises(ValueError):
        similarity.select_pseudo(dist[:3], labels, labeled, k=1)
