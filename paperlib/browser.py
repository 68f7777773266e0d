"""An ipywidgets browser of a session's rounds: queried images with their oracle masks, the round's predicted
masks, and the pseudo-masks of pseudo-labeled images."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from matplotlib import pyplot as plt

from . import al, plots, store
from .config import Config
from .learner import Learner
from .store import RoundRecord


def _show_round(learner: Learner, record: RoundRecord, n_pseudo: int) -> None:
    """Print a finished round's line and draw its queried and first pseudo-labeled images with its masks."""
    splits = learner.splits
    shown = list(record.queried) + list(record.pseudo)[:n_pseudo]
    if not shown:
        print("this run has no queried or pseudo-labeled images (fixed baseline)")
        return
    masks = learner.round_masks("train", shown, record.head, record.threshold)
    items = [splits.train[i] for i in shown]
    kinds = ["queried"] * len(record.queried) + ["pseudo"] * (len(shown) - len(record.queried))
    row = record.row
    print(f"round {row.round}: {row.n_labeled} labeled, {row.n_pseudo} pseudo-labeled, "
          f"test Dice {100 * row.test_dice:.1f}%, threshold {row.threshold:.2f}")
    truths = [None if it[2] is None else it[2][0] for it in items]  # an unlabeled pool has none
    fig = plots.mask_grid({"round's mask": masks}, [it[0] for it in items], truths,
                          [f"{k}: {splits.train.ids[i]}" for k, i in zip(kinds, shown, strict=True)])
    plt.show(fig)


def round_browser(cfgs: Mapping[str, Config], results_dir: str | Path, data_dir: str | Path, n_pseudo: int = 4):
    """A widget: pick dataset, method, seed and round; shows what that round queried and predicted."""
    import ipywidgets as w
    from IPython.display import display

    learners: dict[str, Learner] = {}

    def learner(dataset: str) -> Learner:
        if dataset not in learners:
            splits, theta0, _ = al.prepare(cfgs[dataset], results_dir=results_dir, data_dir=data_dir,
                                           label_prop=False, progress=False)
            learners[dataset] = Learner(cfgs[dataset], splits, theta0)
        return learners[dataset]

    def runs(dataset: str) -> list[Path]:
        return sorted(store.runs_dir(results_dir, cfgs[dataset].profile, dataset).glob("*/seed_*"))

    dataset = w.Dropdown(options=list(cfgs), description="dataset")
    run = w.Dropdown(description="run", layout=w.Layout(width="380px"))
    rnd = w.IntSlider(description="round", min=0, max=0)
    out = w.Output()

    def set_runs(*_):
        run.options = [(f"{p.parent.name} / {p.name}", str(p)) for p in runs(dataset.value)] or [("(none)", "")]

    def set_rounds(*_):
        n = len(store.RunFolder(run.value).finished()) if run.value else 0
        rnd.max = max(0, n - 1)

    def show(*_):
        out.clear_output(wait=True)
        records = store.RunFolder(run.value).finished() if run.value else []
        with out:
            if not records:
                print("no finished round in this run")
                return
            _show_round(learner(dataset.value), records[min(rnd.value, len(records) - 1)], n_pseudo)

    dataset.observe(set_runs, "value")
    run.observe(set_rounds, "value")
    for widget in (dataset, run, rnd):
        widget.observe(show, "value")
    set_runs()
    set_rounds()
    show()
    box = w.VBox([w.HBox([dataset, run, rnd]), out])
    display(box)
    return box
