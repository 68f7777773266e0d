"""Oracles: who draws the masks of queried images.

- :class:`SimulatedOracle` reveals the dataset's ground-truth mask (the paper's protocol).
- :class:`FolderOracle` works with a real annotator through ``<run>/queries/round_RR/``: the session writes each
  queried image ``<id>.png`` and the model's current mask ``<id>_suggested.png`` there and stops; the annotator
  saves ``<id>_mask.png`` (same size, black 0 = background, white 255 = foreground) beside each, or hands back an
  annotation tool's export in any layout of :mod:`paperlib.al.annotation_files`; on the next start the session checks
  and imports them (into ``<run>/oracle_masks/``) before training anything.

A session asks every oracle the same way: :meth:`Oracle.answer` first (the masks, or ``None`` while pending), and
:meth:`Oracle.ask` with the model's suggested masks only when the answer is pending. On resume, ``answer`` is asked
again for every finished round's queries, so an oracle must give the same masks again (the folder oracle keeps what
it imported).
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..data import SegDataset, read_mask
from ..data.image_files import grey_foreground, grey_values, warn_blank_mask
from ..store import atomic_write_bytes, atomic_write_text, png_bytes
from . import annotation_files
from .annotation_files import AnnotationError

OracleError = AnnotationError  # an annotation that cannot be imported; the message names the file


class Oracle(Protocol):
    """Gives the masks of queried items, or ``None`` while they are not all ready."""

    def ask(self, round_index: int, indices: Sequence[int], suggestions: Sequence[torch.Tensor]) -> None:
        """Make the queries of ``round_index`` known (``suggestions``: the model's masks ``HxW`` in {0, 1})."""

    def answer(self, round_index: int, indices: Sequence[int]) -> list[torch.Tensor] | None:
        """The masks ``HxW`` (uint8 {0, 1}) of the queried items, or ``None`` when they are not ready."""


class SimulatedOracle:
    """Reveals the ground-truth masks of the dataset at once."""

    def __init__(self, dataset: SegDataset) -> None:
        dataset.require_masks("the simulated oracle")  # use the folder oracle (or your own) for an unlabeled pool
        self.dataset = dataset

    def ask(self, round_index: int, indices: Sequence[int], suggestions: Sequence[torch.Tensor]) -> None:
        return None

    def answer(self, round_index: int, indices: Sequence[int]) -> list[torch.Tensor]:
        return [self.dataset[int(i)][2][0].to(torch.uint8) for i in indices]


_INSTRUCTIONS = """Round {round}: {n} image(s) to annotate.

For each <id>.png here, save <id>_mask.png beside it: the same width and height, black (0) for background and
white (255, or 1) for the object; a palette or colour mask works too (any colour but black is the object).
<id>_suggested.png is the model's current mask, a starting point you may edit and save under the _mask name.
From an annotation tool: unpack a CVAT "Segmentation mask 1.1" export here (labelmap.txt, SegmentationClass/),
or list the exported files in masks.csv (header image,mask; paths relative to this folder). The model's
suggestions are also in preannotations_cvat/, a CVAT export to import as pre-annotations, and listed in
suggestions.csv (neither is read as an answer; copy suggestions.csv to masks.csv to accept every suggestion as it
is). Then start the session again with the same command.

{ids}
"""


class FolderOracle:
    """A human annotator working in ``folder/round_RR/``; imported masks are kept in ``saved`` (default: the
    ``oracle_masks`` folder beside ``folder``), which is what later answers (and resumes) read."""

    def __init__(self, dataset: SegDataset, folder: str | Path, saved: str | Path | None = None) -> None:
        self.dataset, self.folder = dataset, Path(folder)
        self.saved = Path(saved) if saved else self.folder.parent / "oracle_masks"

    def round_dir(self, round_index: int) -> Path:
        return self.folder / f"round_{round_index:02d}"

    def _saved_path(self, index: int) -> Path:
        return self.saved / f"{self.dataset.ids[int(index)]}.png"

    def ask(self, round_index: int, indices: Sequence[int], suggestions: Sequence[torch.Tensor]) -> None:
        """Write the round's images, suggestions and instructions (once: a round already asked is left as is)."""
        d = self.round_dir(round_index)
        if (d / "README.txt").is_file():
            return
        ids = [self.dataset.ids[int(i)] for i in indices]
        for i, sid, sug in zip(indices, ids, suggestions, strict=True):
            image = (self.dataset[int(i)][0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            atomic_write_bytes(d / f"{sid}.png", png_bytes(image, "RGB"))
            atomic_write_bytes(d / f"{sid}_suggested.png", png_bytes(sug.numpy().astype(np.uint8) * 255, "L"))
        annotation_files.write_cvat(d / annotation_files.PREANNOTATIONS,
                                    {sid: sug.numpy() for sid, sug in zip(ids, suggestions, strict=True)})
        annotation_files.write_mapping(d / annotation_files.SUGGESTIONS,
                                       {f"{sid}.png": f"{sid}_suggested.png" for sid in ids})
        atomic_write_text(d / "README.txt", _INSTRUCTIONS.format(round=round_index, n=len(ids), ids="\n".join(ids)))

    def answer(self, round_index: int, indices: Sequence[int]) -> list[torch.Tensor] | None:
        """All masks: the imported ones, else the round folder's, checked and imported (all or none), else
        ``None`` when none is there yet. Raises :class:`OracleError` for a bad or partial set (naming the file)."""
        if all(self._saved_path(i).is_file() for i in indices):
            return [read_mask(self._saved_path(i), "nonzero")[0].to(torch.uint8) for i in indices]
        masks = self._read_round(round_index, indices)
        if masks is not None:  # every mask was checked before any is kept
            for i, m in zip(indices, masks, strict=True):
                atomic_write_bytes(self._saved_path(i), png_bytes(m.numpy() * 255, "L"))
        return masks

    def _read_round(self, round_index: int, indices: Sequence[int]) -> list[torch.Tensor] | None:
        """The round folder's masks of ``indices`` in any layout of :mod:`paperlib.al.annotation_files`, each checked;
        ``None`` when none is there yet."""
        d = self.round_dir(round_index)
        ids = [self.dataset.ids[int(i)] for i in indices]
        found = annotation_files.find_masks(d, ids)
        for sid in ids:
            if sid not in found:
                _refuse_unread(d, sid)
        if not found:
            return None
        missing = [sid for sid in ids if sid not in found]
        if missing:
            raise OracleError(f"{d}: masks missing for {', '.join(missing)} ({len(found)} of {len(ids)} done)")
        masks = []
        for i, sid in zip(indices, ids, strict=True):
            mask = read_annotation(found[sid][0], tuple(self.dataset[int(i)][0].shape[1:]), found[sid][1])
            warn_blank_mask(mask, self.dataset.records[int(i)].image, found[sid][0])
            masks.append(mask)
        return masks


_READ = ("png", "bmp")  # the suffixes of <id>_mask files that are read (lossless formats)


def _refuse_unread(folder: Path, sid: str) -> None:
    """An :class:`OracleError` naming a mask of ``sid`` saved under a name that is not read (``<id>_mask.jpg``,
    ``<id>_mask.PNG``), rather than waiting for a mask that is already there."""
    for p in sorted(folder.glob(f"{glob.escape(sid)}_mask.*")):
        if p.is_file() and p.name not in {f"{sid}_mask.{ext}" for ext in _READ}:
            raise OracleError(f"{p}: a mask file in a format that is not read; save it as {sid}_mask.png (or .bmp: "
                              "lossless, black background, white object) and run the same command again")


def read_annotation(path: Path, size: tuple[int, int], background: annotation_files.Colour = annotation_files.BLACK
                    ) -> torch.Tensor:
    """:func:`annotation_files.read_annotation` (``HxW`` uint8 {0, 1}, checked against the image's ``size``), with a
    grey mask of any bit depth and with grey values read by the rule of one's own masks
    (:func:`~paperlib.data.image_files.grey_foreground`: above half the value range, with a note when not binary)."""
    try:
        with Image.open(path) as img:
            img.load()
            grey = grey_values(img)
    except (UnidentifiedImageError, OSError) as exc:
        raise AnnotationError(f"{path}: unreadable image ({exc})") from exc
    if grey is None:  # a palette or colour mask
        return annotation_files.read_annotation(path, size, background)
    fg = grey_foreground(grey, path)
    if fg.shape != tuple(size):
        raise AnnotationError(f"{path}: mask size {fg.shape[1]}x{fg.shape[0]} differs from the image's "
                              f"{size[1]}x{size[0]}")
    return torch.from_numpy(fg.astype(np.uint8))
