import json

import numpy as np
import pytest
import torch

from paperlib.core.metrics import accuracy, dice, dice_auc, holm, mean_dice, mean_std, rank_tests
from paperlib.notebook.reference import CURVES_FILE as REFERENCE_CURVES

# The paper's Table 3 (AUC mean +- population std over 5 seeds, in %).
TABLE3 = {
    "glas": {"WSL": (66.44, 0.20), "Random": (78.57, 0.93), "Entropy": (79.13, 0.26), "MC_Dropout": (77.92, 0.49),
             "Label_prop": (81.48, 1.03), "Full_sup": (86.53, 0.31)},
    "cub": {"WSL": (39.22, 0.19), "Random": (68.15, 0.61), "Entropy": (68.25, 0.29), "MC_Dropout": (67.69, 0.27),
            "Label_prop": (71.73, 0.67), "Full_sup": (75.29, 1.50)},
}


def test_dice_values():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:2] = True  # 8 pixels
    b[1:3] = True  # 8 pixels, 4 shared
    assert dice(a, b) == pytest.approx(0.5)
    assert dice(a, a) == 1.0
    assert dice(a, ~a) == 0.0
    assert dice(torch.from_numpy(a)[None], torch.from_numpy(b)[None].float()) == pytest.approx(0.5)


def test_dice_empty_masks():
    empty = np.zeros((3, 5))
    full = np.ones((3, 5))
    assert dice(empty, empty) == 1.0  # nothing to find, nothing predicted
    assert dice(empty, full) == 0.0
    assert dice(full, empty) == 0.0


def test_dice_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        dice(np.zeros((3, 4)), np.zeros((4, 3)))


def test_mean_dice_is_per_image_mean():
    big_p, big_g = np.ones((10, 10)), np.ones((10, 10))
    small_p, small_g = np.zeros((2, 2)), np.ones((2, 2))
    assert mean_dice([big_p, small_p], [big_g, small_g]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        mean_dice([], [])


def test_dice_auc_edges():
    assert dice_auc([0.7]) == pytest.approx(0.7)  # one round: the value itself
    assert dice_auc([42.0] * 6) == pytest.approx(42.0)  # flat curve
    assert dice_auc([0.0, 1.0]) == pytest.approx(0.5)
    assert dice_auc([0.0, 1.0, 1.0]) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        dice_auc([])
    with pytest.raises(ValueError):
        dice_auc([0.5, float("nan")])


def test_dice_auc_recomputes_table3_from_reference_curves():
    curves = json.loads((REFERENCE_CURVES).read_text())
    for dataset, methods in TABLE3.items():
        for method, (mean, std) in methods.items():
            aucs = [dice_auc(seed_curve) for seed_curve in curves[dataset][method]]
            m, s = mean_std(aucs)
            assert round(m, 2) == pytest.approx(mean, abs=1e-9), (dataset, method)
            assert round(s, 2) == pytest.approx(std, abs=1e-9), (dataset, method)


def test_reference_module_tables():
    from paperlib.notebook import reference

    assert {m: (round(a, 2), round(b, 2)) for m, (a, b) in reference.table3("cub").items()} == TABLE3["cub"]
    assert np.floor(np.array([m for m, _ in reference.table4("glas")["Random"]]) * 100) / 100 == pytest.approx(
        [70.26, 71.58, 71.43, 74.05, 75.36])


def test_reference_curves_give_table4_means():
    curves = json.loads((REFERENCE_CURVES).read_text())
    q = np.asarray(curves["glas"]["Label_prop"])[:, 1:6]  # queries q2..q6 are rounds 1..5
    # Table 4 prints truncated two-decimal values: 71.02 74.07 76.52 77.63 78.41
    assert np.floor(q.mean(0) * 100) / 100 == pytest.approx([71.02, 74.07, 76.52, 77.63, 78.41])


def test_accuracy_and_summaries():
    assert accuracy([0, 1, 1, 0], torch.tensor([0, 1, 0, 0])) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        accuracy([0, 1], [0])
    m, s = mean_std([1.0, 3.0])
    assert (m, s) == (2.0, 1.0)  # population std
    assert mean_std([5.0]) == (5.0, 0.0)


def test_holm_and_rank_tests_by_hand():
    # Holm: sorted p 0.01, 0.02, 0.04 times 3, 2, 1 -> 0.03, 0.04, 0.04 (kept monotone); nan kept and not counted
    assert holm([0.04, 0.01, float("nan"), 0.02]) == pytest.approx([0.04, 0.03, float("nan"), 0.04], nan_ok=True)
    assert holm([0.5, 0.6]) == [1.0, 1.0]  # capped at 1
    # 6 seeds, all 6 better: sign test 2 * 0.5**6 = 0.03125; Wilcoxon's exact two-sided p for ranks all positive
    sign, wilcoxon = rank_tests([1, 2, 3, 4, 5, 6.5], [0, 0, 0, 0, 0, 0])
    assert sign == pytest.approx(0.03125) and wilcoxon == pytest.approx(0.03125)
    assert all(v != v for v in rank_tests([1, 2, 3, 4, 5], [0] * 5))  # under 6 seeds: not computed


def test_reference_table2_is_the_papers_and_table4_misprints_are_the_only_cub_gaps():
    from paperlib.notebook import reference

    # Table 2 as printed (mean, std over seeds); the reference code's seed-0 value is kept apart
    assert reference.TABLE2_ACCURACY == {"glas": (99.50, 0.61), "cub": (73.22, 0.19)}
    assert reference.REFERENCE_CODE_SEED0_ACCURACY == {"glas": 92.50, "cub": 73.76}
    cub = reference.table4("cub")
    for (dataset, method, q), (ours, printed) in reference.TABLE4_MISPRINTS.items():
        value = cub[method][int(q[1:]) - 2][0]
        assert round(value, 2) == pytest.approx(ours) and abs(value - printed) > 0.3, (dataset, method, q)
    # every other CUB Label_prop cell matches the print (truncated)
    assert np.floor(np.array([m for m, _ in cub["Label_prop"]]) * 100) / 100 == pytest.approx(
        [62.58, 66.32, 67.01, 69.40, 68.28])


def test_paired_interval_by_hand():
    from paperlib.core.metrics import paired_interval

    # differences 1, 2, 3, 6: mean 3, sample sd sqrt(14/3), t(0.975, 3) = 3.182446305284263
    mean, lo, hi, p = paired_interval([11, 12, 13, 16], [10, 10, 10, 10])
    half = 3.182446305284263 * (14 / 3) ** 0.5 / 2
    assert mean == 3 and abs(lo - (3 - half)) < 1e-9 and abs(hi - (3 + half)) < 1e-9
    assert abs(p - 0.0691) < 5e-4  # t = 3 / (sqrt(14/3) / 2) = 2.777 on 3 degrees of freedom, two-sided
    assert all(v != v for v in paired_interval([1.0], [0.0])[1:])  # one seed: no interval
