import numpy as np
import pytest
import torch

from paperlib.core import samplers


def test_entropy_score_matches_numpy():
    rng = np.random.default_rng(0)
    p = rng.random((7, 9))
    direct = np.mean(-(p * np.log(p) + (1 - p) * np.log(1 - p)))
    assert samplers.entropy_score(torch.from_numpy(p)) == pytest.approx(direct)
    assert samplers.entropy_score(np.full((3, 3), 0.5)) == pytest.approx(np.log(2))
    assert samplers.entropy_score(np.array([0.0, 1.0])) == pytest.approx(0.0, abs=1e-5)  # no NaN at 0 and 1


def test_mc_dropout_score_matches_numpy():
    rng = np.random.default_rng(1)
    s = rng.random((50, 6, 8))
    direct = np.mean([[np.var(s[:, i, j], ddof=1) for j in range(8)] for i in range(6)])
    assert samplers.mc_dropout_score(torch.from_numpy(s)) == pytest.approx(direct)
    assert samplers.mc_dropout_score(np.tile(rng.random((1, 4, 4)), (5, 1, 1))) == pytest.approx(0.0)
    # a map whose pixels spread between 0 and 1 but never vary over passes has no MC uncertainty
    spatial = np.tile(np.linspace(0, 1, 16).reshape(1, 4, 4), (10, 1, 1))
    assert samplers.mc_dropout_score(spatial) == pytest.approx(0.0)


def test_balanced_top_invariants():
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 0, 1])
    scores = np.array([0.1, 0.9, 0.5, 0.3, 0.8, 0.2, 0.7, 0.4, 0.6, 0.95])
    labeled = {1, 6}
    pool = [i for i in range(10) if i not in labeled]
    got = samplers.balanced_top(scores, labels, pool, per_class=2)
    assert got.tolist() == sorted(got.tolist()) and len(set(got.tolist())) == len(got)  # sorted, no repeats
    assert not set(got.tolist()) & labeled  # never a labeled one
    assert np.bincount(labels[got], minlength=3).tolist() == [2, 2, 1]  # class 2 has one candidate left
    assert set(got.tolist()) == {8, 2, 9, 4, 7}  # the top scores of each class


def test_protection_until_nothing_else():
    labels = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.9, 0.8, 0.1, 0.9, 0.5])
    pool = [0, 1, 2, 3, 4]
    got = samplers.balanced_top(scores, labels, pool, per_class=1, protected=[0, 1, 3])
    assert got.tolist() == [2, 4]  # protected skipped while the class has other candidates
    got = samplers.balanced_top(scores, labels, pool, per_class=2, protected=[0, 1, 3, 4])
    assert got.tolist() == [0, 2, 3, 4]  # class 1 has only protected ones: they are taken, best first
    assert samplers.balanced_top(scores, labels, [], per_class=1).tolist() == []


def test_initial_query_depends_only_on_seed():
    labels = np.repeat(np.arange(4), 10)
    a = samplers.initial_query(labels, 3, seed=5)
    assert np.array_equal(a, samplers.initial_query(labels, 3, seed=5))
    assert not np.array_equal(a, samplers.initial_query(labels, 3, seed=6))
    assert np.bincount(labels[a]).tolist() == [3, 3, 3, 3]
    r1 = samplers.random_scores(40, 5, 1)
    assert np.array_equal(r1, samplers.random_scores(40, 5, 1))
    assert not np.array_equal(r1, samplers.random_scores(40, 5, 2))
