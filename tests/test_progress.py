"""Progress as text lines (what the pipeline relays) and the grid's watch over run folders."""

from pathlib import Path

from paperlib import progress, store
from paperlib.grid import watch


def test_text_mode_bars_are_whole_lines(monkeypatch, capsys):
    monkeypatch.setenv(progress.MODE_ENV, "text")
    monkeypatch.setenv(progress.INTERVAL_ENV, "0")
    bar = progress.progress_bar(total=3, desc="work")
    for _ in range(3):
        progress.progress_line("a line between redraws")
        bar.update()
    bar.close()
    err = capsys.readouterr().err
    assert "\r" not in err and "\n\n" not in err
    lines = err.splitlines()
    assert [ln for ln in lines if not ln.startswith("work:")] == ["a line between redraws"] * 3
    assert lines[0].startswith("work:   0%") and lines[-1].startswith("work: 100%") and "3/3" in lines[-1]


def test_without_text_mode_bars_are_tqdm_auto(monkeypatch):
    monkeypatch.delenv(progress.MODE_ENV, raising=False)
    from tqdm.auto import tqdm

    bar = progress.progress_bar(total=1, disable=True)
    assert isinstance(bar, tqdm)


def _commit_rows(folder: Path, n: int) -> None:
    """``rounds.csv`` of ``n`` finished rounds (round r, zeros elsewhere), as a session rewrites it."""
    zeros = ",0" * (len(store.ROUND_COLUMNS) - 1)
    lines = [",".join(store.ROUND_COLUMNS)] + [f"{r}{zeros}" for r in range(n)]
    store.atomic_write_text(folder / "rounds.csv", "\n".join(lines) + "\n")


def test_round_watch_counts_new_rounds_once_and_drops_rounds_not_run(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv(progress.MODE_ENV, "text")
    monkeypatch.setenv(progress.INTERVAL_ENV, "0")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    _commit_rows(a, 2)  # resumed: two rounds finished before this run
    with watch.RoundWatch([watch.Watched("A", a, 4), watch.Watched("B", b, 3)], desc="s", interval=60) as w:
        assert (w.bar.n, w.bar.total) == (2, 7)
        _commit_rows(a, 3)
        w.poll()
        w.poll()  # nothing new
        _commit_rows(b, 1)
        w.done(b)  # B stopped after one round (its pool ran out)
        assert (w.bar.n, w.bar.total) == (4, 5)
        _commit_rows(a, 4)
    assert w.bar.n == 5
    rounds = [ln for ln in capsys.readouterr().err.splitlines() if ": round " in ln]
    assert rounds == ["A: round 3/4, 0 labeled, test Dice 0.0%", "B: round 1/3, 0 labeled, test Dice 0.0%",
                      "A: round 4/4, 0 labeled, test Dice 0.0%"]
