import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt

from paperlib.notebook import plots


def _rounds() -> pd.DataFrame:
    rows = []
    for seed in (0, 1):
        for r in range(3):
            rows.append({"method": "Random", "seed": seed, "round": r, "test_dice": 0.5 + 0.1 * r + 0.01 * seed,
                         "pseudo_dice": np.nan})
            rows.append({"method": "Label_prop", "seed": seed, "round": r, "test_dice": 0.6 + 0.1 * r,
                         "pseudo_dice": 0.4})
        rows.append({"method": "WSL", "seed": seed, "round": 0, "test_dice": 0.3, "pseudo_dice": np.nan})
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
    t3 = plots.auc_table(df, {"Random": (1.0, 0.5)})
    assert t3["method"].tolist() == ["WSL", "Random", "Label_prop"]  # the paper's order
    # Random seeds: curves 50/60/70 and 51/61/71 -> AUC 60 and 61
    assert t3.set_index("method").loc["Random", "AUC (%)"] == "60.50 ± 0.50"
    assert t3.set_index("method").loc["Random", "paper AUC (%)"] == "1.00 ± 0.50"
    paired = plots.paired_table(df)
    assert paired.iloc[0].to_dict()["AUC(a) - AUC(b) (%)"] == "-9.50 ± 0.50"  # Random - Label_prop
    t4 = plots.readings_table(df, n=2)
    assert t4.set_index("method").loc["Label_prop", "q2"] == "70.00 ± 0.00"
    assert t4.set_index("method").loc["Label_prop", "q3"] == "80.00 ± 0.00"
    paths = plots.write_table(t3, tmp_path / "t3", "caption")
    assert paths[0].read_text().startswith("caption\n\n| method | AUC (%)")
    assert pd.read_csv(paths[1])["method"].tolist() == ["WSL", "Random", "Label_prop"]


@pytest.mark.parametrize("fn", ["dice_curves", "pseudo"])
def test_figures_render(fn):
    df = _rounds()
    fig = plots.dice_curves(df, "t") if fn == "dice_curves" else plots.pseudo_dice_plot({"glas": df})
    assert fig.axes
    plt.close(fig)


def test_accuracy_table_spreads_over_seeds_beside_the_papers_table2():
    from paperlib.notebook import reference

    t = plots.accuracy_table({"glas": [(1.0, 0.5), (0.9, 0.7)]}, reference.TABLE2_ACCURACY,
                             reference.REFERENCE_CODE_SEED0_ACCURACY)
    row = t.iloc[0]
    assert row["seeds"] == 2 and row["test accuracy (%)"] == "95.00 ± 5.00"
    assert row["WSL test Dice (%)"] == "60.00 ± 10.00"
    assert row["paper, Table 2 (%)"] == "99.50 ± 0.61" and row["reference code, seed 0 (%)"] == "92.50"


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
