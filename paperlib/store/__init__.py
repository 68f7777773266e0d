"""The run store: every file under ``results/``: atomic writes and weights-only tensor files (:mod:`.files`), run
folders, their views and the one reader of each (:mod:`.runs`), provenance (:mod:`.provenance`), TensorBoard
mirrors (:mod:`.tensorboard`)."""

from .files import (
    atomic_write_bytes,
    atomic_write_text,
    file_lock,
    load_tensors,
    make_folder,
    png_bytes,
    read_json,
    save_tensors,
    write_json,
)
from .provenance import CODE_PATHS, PACKAGE_ROOT, git_revision, machine, provenance, same_bits
from .runs import (
    HISTORY_COLUMNS,
    ROUND_COLUMNS,
    RoundRecord,
    RoundRow,
    RunFolder,
    differences,
    history_frame,
    read_rounds,
    results_of,
    round_rows,
    rounds_frame,
    run_path,
    runs_dir,
    write_history,
)

__all__ = ["CODE_PATHS", "HISTORY_COLUMNS", "PACKAGE_ROOT", "ROUND_COLUMNS", "RoundRecord", "RoundRow", "RunFolder",
           "atomic_write_bytes", "atomic_write_text", "differences", "file_lock", "git_revision", "history_frame",
           "load_tensors", "machine", "make_folder", "png_bytes", "provenance", "read_json", "read_rounds",
           "results_of", "round_rows", "rounds_frame", "run_path", "runs_dir", "same_bits", "save_tensors",
           "write_history", "write_json"]
