import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt

from paperlib.notebook import figures, plots, reference, tables


def _rounds() -> pd.DataFrame:
    rows = []
    for seed in (0, 1):
        for r in range(3):
            rows.append({"method": "Random", "seed": seed, "round": r, "test_dice": 0.5 + 0.1 * r + 0.01 * seed,
                         "pseudo_dice": np.nan, "labeled_share": 10.0 * (r + 1)})
            rows.append({"method": "Label_prop", "seed": seed, "round": r, "test_dice": 0.6 + 0.1 * r,
                         "pseudo_dice": 0.4, "labeled_share": 10.0 * (r + 1)})
        rows.append({"method": "WSL", "seed": seed, "round": 0, "test_dice": 0.3, "pseudo_dice": np.nan,
                     "labeled_share": 0.0})
    return pd.DataFrame(rows)


def test_savefig_is_deterministic(tmp_path):
    files = []
    for name in ("a", "b"):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0])
        files.append(plots.savefig(fig, tmp_path / name))
        plt.close(fig)
    for x, y in zip(*files, strict=True):
        assert x.read_bytes() == y.read_bytes()
    assert {p.suffix for p in files[0]} == {".png", ".pdf"}


def test_tables_from_rounds(tmp_path):
    df = _rounds()
    t3 = tables.auc_table(df, {"Random": (1.0, 0.5)})
    assert t3["method"].tolist() == ["WSL", "Random", "Label_prop"]  # the paper's order
    # Random seeds: curves 50/60/70 and 51/61/71 -> AUC 60 and 61
    assert t3.set_index("method").loc["Random", "AUC (%)"] == "60.50 ± 0.50"
    assert t3.set_index("method").loc["Random", "paper AUC (%)"] == "1.00 ± 0.50"
    paired = tables.paired_table(df)
    row = paired.iloc[0].to_dict()  # Label_prop - Random: AUCs 70 - 60 and 70 - 61 -> mean 9.5, sample sd 0.71
    assert (row["a"], row["b"], row["AUC(a) - AUC(b) (%)"], row["a better on"]) == ("Label_prop", "Random", "+9.50", 2)
    assert row["95% t-interval"] == "[+3.15, +15.85]"  # 9.5 -+ t(0.975, 1) 12.706 * 0.7071 / sqrt(2)
    assert row["p (Holm)"] == row["p"] and row["sign test p"] == ""  # one contrast; no rank tests on 2 seeds
    t4 = tables.readings_table(df, n=2)
    assert t4.set_index("method").loc["Label_prop", "q2"] == "70.00 ± 0.00"
    assert t4.set_index("method").loc["Label_prop", "q3"] == "80.00 ± 0.00"
    paths = plots.write_table(t3, tmp_path / "t3", "caption")
    assert paths[0].read_text().startswith("caption\n\n| method | AUC (%)")
    assert pd.read_csv(paths[1])["method"].tolist() == ["WSL", "Random", "Label_prop"]


def test_figures_render():
    df = _rounds()
    for fig in (plots.pseudo_dice_plot({"glas": df}), figures.seed_curves(df, "t"),
                figures.paired_differences(tables.seed_aucs(df), tables.al_pairs(df), "t")):
        assert fig.axes
        plt.close(fig)


def test_fig5_is_the_papers_form():
    """x = labeled share (%), the legend gives each method's AUC (mean ± population std over seeds, as Table 3),
    and the band is said on the figure."""
    df = _rounds()
    fig = figures.fig5(df, "t")
    ax = fig.axes[0]
    assert "labeled share" in ax.get_xlabel()
    legend = ax.get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts == ["Random (AUC 60.50 ± 0.50)", "Label_prop (AUC 70.00 ± 0.00)", "WSL (AUC 30.00 ± 0.00)"]
    assert "± std (population)" in legend.get_title().get_text()
    random = ax.get_lines()[0]
    assert list(random.get_xdata()) == [10.0, 20.0, 30.0]
    assert list(random.get_ydata()) == pytest.approx([50.5, 60.5, 70.5])
    plt.close(fig)


def test_table4_paper_columns_are_the_reference_curves():
    df = _rounds()
    t4 = tables.readings_table(df, n=2, reference=reference.table4("glas", 2)).set_index("method")
    curves = np.asarray(reference.curves()["glas"]["Label_prop"])  # seeds x rounds, %
    for q, r in (("q2", 1), ("q3", 2)):
        assert t4.loc["Label_prop", f"{q} paper"] == f"{curves[:, r].mean():.2f} ± {curves[:, r].std():.2f}"
    assert t4.loc["WSL", "q2 paper"] == ""  # the paper's fixed baselines have no reading per query


def test_accuracy_table_spreads_over_seeds_beside_the_papers_table2():
    from paperlib.notebook import reference

    t = tables.accuracy_table({"glas": [(1.0, 0.5), (0.9, 0.7)]}, reference.TABLE2_ACCURACY,
                             reference.REFERENCE_CODE_SEED0_ACCURACY)
    row = t.iloc[0]
    assert row["seeds"] == 2 and row["test accuracy (%)"] == "95.00 ± 5.00"
    assert row["WSL test Dice (%)"] == "60.00 ± 10.00"
    assert row["paper, Table 2 (%)"] == "99.50 ± 0.61" and row["reference code, seed 0 (%)"] == "92.50"
    assert row["ours, seed 0 (theta0) (%)"] == "100.00"


def test_training_curve_of_a_round():
    rows = [{"round": r, "cycle": c, "epoch": e, "loss": 1.0 / (e + 1), "metric": "dice",
             "valid": float("nan") if e == 1 else 0.5, "lr": 0.1, "seconds": 0.1}
            for r in (0, 1) for c in ("fit", "refit") for e in range(3)]
    fig = plots.training_curve(pd.DataFrame(rows), 1, "Label_prop seed 0")
    left, right = fig.axes
    assert [len(line.get_xdata()) for line in left.lines] == [3, 3]
    assert [len(line.get_xdata()) for line in right.lines] == [2, 2]  # epochs without validation left out
    assert "dice" in right.get_ylabel()
    with pytest.raises(ValueError, match="no training in round 5"):
        plots.training_curve(pd.DataFrame(rows), 5)
