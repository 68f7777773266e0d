"""An ipywidgets browser of a session's rounds: queried images with their oracle masks, the round's predicted
masks, the pseudo-masks of pseudo-labeled images, and the round's training curves (``history.csv``)."""

from __future__ import annotations

import base64
import io
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib import pyplot as plt

from .. import al, data, store
from ..config import Config
from ..engine.classifier import load_classifier
from ..engine.learner import Learner
from ..errors import MissingFileError
from ..store import RoundRecord
from . import plots
from .long_table import query_name

NO_ROUND = "no finished round in this run"


def _text(text: str) -> dict[str, Any]:
    """A notebook stdout output."""
    return {"output_type": "stream", "name": "stdout", "text": text + "\n"}


def _figure(fig: plt.Figure) -> dict[str, Any]:
    """A notebook PNG output of ``fig``, which is closed (a widget callback has no cell end to flush figures)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"), "text/plain": "<Figure>"}}


def _error(exc: BaseException) -> dict[str, Any]:
    """A notebook error output, so that a failure shows in the browser rather than in the kernel's log."""
    return {"output_type": "error", "ename": type(exc).__name__, "evalue": str(exc),
            "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).splitlines()}


def finished_rounds(run: str | Path) -> int:
    """How many rounds of a run folder are finished (checkpoints 0..R without a gap), without loading them."""
    return store.RunFolder(run).n_finished()


def round_outputs(learner: Learner, record: RoundRecord, run: str | Path, n_pseudo: int = 4) -> list[dict[str, Any]]:
    """A finished round as notebook outputs: its line, its queried and first ``n_pseudo`` pseudo-labeled images with
    the round's masks, then its training curves when the run folder's ``history.csv`` has them."""
    splits, row = learner.splits, record.row
    out = [_text(f"{query_name(row.round)}: {row.n_labeled} labeled, {row.n_pseudo} pseudo-labeled, "
                 f"test Dice {100 * row.test_dice:.1f}%, threshold {row.threshold:.2f}")]
    shown = list(record.queried) + list(record.pseudo)[:n_pseudo]
    if shown:
        masks = learner.round_masks("train", shown, record.head, record.threshold)
        items = [splits.train[i] for i in shown]
        kinds = ["queried"] * len(record.queried) + ["pseudo"] * (len(shown) - len(record.queried))
        truths = [None if it[2] is None else it[2][0] for it in items]  # an unlabeled pool has none
        out.append(_figure(plots.mask_grid({"round's mask": masks}, [it[0] for it in items], truths,
                                           [f"{k}: {splits.train.ids[i]}" for k, i in zip(kinds, shown, strict=True)])))
    else:
        out.append(_text("this run has no queried or pseudo-labeled images (fixed baseline)"))
    history = store.history_frame(run)
    if history is not None and (history["round"] == row.round).any():
        name = f"{Path(run).parent.name} / {Path(run).name}"
        out.append(_figure(plots.training_curve(history, row.round, f"{name}, {query_name(row.round)}: training")))
    return out


def _is_al(folder_name: str) -> bool:
    """Whether a run folder (``<method>[__<tag>]``) is an AL session's, rounds of queries, not a fixed baseline's."""
    try:
        return al.parse_method(folder_name.split("__")[0]).kind == "al"
    except ValueError:
        return False


def round_browser(cfgs: Mapping[str, Config], results_dir: str | Path, data_dir: str | Path, n_pseudo: int = 4):
    """A widget: pick dataset, run (method / seed) and round; shows what that round queried and predicted, and its
    training curves. It opens on the first dataset and run folder with a finished round. It never trains: without
    theta0 (made with the dataset's settings) it says which step makes it, instead of the round's images."""
    import ipywidgets as w
    from IPython.display import display

    learners: dict[str, Learner] = {}

    def learner(dataset: str) -> Learner:
        if dataset not in learners:  # theta0 loaded, never trained (a MissingFileError first, when it is not there)
            splits = data.from_config(cfgs[dataset], seed=0, data_dir=data_dir)  # the splits of al.prepare
            theta0 = load_classifier(cfgs[dataset], results_dir, splits=splits)  # refuses a stale one in one line
            learners[dataset] = Learner(cfgs[dataset], splits, theta0)
        return learners[dataset]

    def runs_dir(dataset: str) -> Path:
        return store.runs_dir(results_dir, cfgs[dataset].profile, dataset)

    def runs(dataset: str) -> list[Path]:
        return sorted(runs_dir(dataset).glob("*/seed_*"))

    def label(run: Path) -> str:
        return f"{run.parent.name} / {run.name}" + ("" if finished_rounds(run) else " (no finished round)")

    done = [d for d in cfgs if any(finished_rounds(p) for p in runs(d))]
    dataset = w.Dropdown(options=list(cfgs), value=(done or list(cfgs))[0], description="dataset")
    run = w.Dropdown(description="run", layout=w.Layout(width="380px"))
    rnd = w.IntSlider(description="query q", min=1, max=1)  # q = round + 1
    out = w.Output()

    def select_run() -> None:
        """The dataset's run folders as options, the first with a finished round selected (ipywidgets 8 selects
        nothing when options change)."""
        paths = runs(dataset.value)
        run.options = [(label(p), str(p)) for p in paths] or [("(no session yet)", "")]
        # an AL session's first (it has queried images to show), else any session with a finished round
        shown = sorted((p for p in paths if finished_rounds(p)), key=lambda p: not _is_al(p.parent.name))
        run.value = str((shown or paths)[0]) if paths else ""

    def select_round() -> None:
        rnd.max = max(1, finished_rounds(run.value)) if run.value else 1

    def show() -> None:
        n = finished_rounds(run.value) if run.value else 0
        if not run.value:
            outputs = [_text(f"no session of {dataset.value} in {runs_dir(dataset.value)} yet")]
        elif not n:
            outputs = [_text(NO_ROUND)]
        else:
            try:
                folder = store.RunFolder(run.value)
                record = RoundRecord.from_checkpoint(store.load_tensors(folder.round_path(min(rnd.value, n) - 1)))
                outputs = round_outputs(learner(dataset.value), record, run.value, n_pseudo)
            except MissingFileError as exc:  # no theta0 yet: which step makes it, not a traceback
                outputs = [_text(str(exc))]
            except Exception as exc:  # shown in the widget: a callback's exception would only reach the kernel log
                outputs = [_error(exc)]
        out.outputs = tuple(outputs)  # replaced at once: no flicker, and testable without a kernel

    updating = [False]  # set while the code below changes values: their observers wait for the one show()

    def on_change(change: dict[str, Any]) -> None:
        if updating[0]:
            return
        updating[0] = True
        try:
            if change["owner"] in (None, dataset):
                select_run()
            if change["owner"] is not rnd:
                select_round()
        finally:
            updating[0] = False
        show()

    for widget in (dataset, run, rnd):
        widget.observe(on_change, "value")
    on_change({"owner": None})
    box = w.VBox([w.HBox([dataset, run, rnd]), out])
    display(box)
    return box
