"""The run store: every file under ``results/``: atomic writes, weights-only checkpoints, run folders and their
views (``rounds.csv``, ``history.csv``), provenance."""

from .runs import (
    CODE_PATHS,
    HISTORY_COLUMNS,
    PACKAGE_ROOT,
    ROUND_COLUMNS,
    RoundRecord,
    RoundRow,
    RunFolder,
    atomic_write_bytes,
    atomic_write_text,
    file_lock,
    git_revision,
    load_tensors,
    machine,
    png_bytes,
    provenance,
    read_json,
    read_rounds,
    results_of,
    run_path,
    runs_dir,
    save_tensors,
    write_history,
    write_json,
)

__all__ = ["CODE_PATHS", "HISTORY_COLUMNS", "PACKAGE_ROOT", "ROUND_COLUMNS", "RoundRecord", "RoundRow", "RunFolder",
           "atomic_write_bytes", "atomic_write_text", "file_lock", "git_revision", "load_tensors", "machine",
           "png_bytes", "provenance", "read_json", "read_rounds", "results_of", "run_path", "runs_dir", "save_tensors",
           "write_history", "write_json"]
