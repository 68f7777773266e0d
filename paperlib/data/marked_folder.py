"""A synthetic benchmark's folder: written whole into a temporary sibling and renamed, marked by the parameters it was
written with, reused when they match and never overwritten when they do not."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import FolderTakenError
from ..store import make_folder

MARKER = "paperlib_synthetic.json"


def write_atomic(root: Path, params: dict, write) -> Path:
    """Write into a temporary sibling folder and rename it to ``root``; reuse ``root`` when it already holds the
    same benchmark. A different benchmark or foreign files at ``root`` are an error, never overwritten."""
    marker = root / MARKER
    if marker.is_file():
        found = json.loads(marker.read_text())
        if found == params:
            return root
        raise FolderTakenError(f"{root}: holds another synthetic benchmark {found}, not {params}")
    if root.exists() and any(root.iterdir()):
        raise FolderTakenError(f"{root}: exists and is not a paperlib synthetic benchmark; choose another folder")
    make_folder(root.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        write(tmp)
        (tmp / MARKER).write_text(json.dumps(params, sort_keys=True) + "\n")
        if root.exists():
            root.rmdir()
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root
