"""What a loaded dataset lacks that a user needs a word about, though training can go on: a class with no
validation image (model selection then sees the other classes only), a class with no test image (its Dice is never
measured), training images smaller than the crop (upscaled before it). :func:`coverage_notes` returns the lines;
:func:`say_coverage` prints each once per process."""

from __future__ import annotations

from collections.abc import Sequence

from ..progress import progress_line
from .datasets import Splits

_said: set[str] = set()  # lines already printed by this process


def _absent(names: Sequence[str], labels: Sequence[int]) -> list[str]:
    present = set(int(v) for v in labels)
    return [name for k, name in enumerate(names) if k not in present]


def coverage_notes(splits: Splits, crop: int, source: str) -> list[str]:
    """One line per gap of ``splits`` (``source`` names the data in each line, e.g. the dataset file): classes
    absent from ``valid`` or ``test``, and how many training images have a side shorter than ``crop`` (read from
    the file headers)."""
    names, out = splits.class_names, []
    for part, why in (("valid", "model selection (the best epoch, the threshold) sees only the other classes"),
                      ("test", "the test Dice and accuracy cover only the other classes")):
        missing = _absent(names, getattr(splits, part).labels)
        if missing:
            out.append(f"warning: {source}: class(es) {', '.join(missing)} have no {part} image: {why}")
    train = splits.train
    small = [(min(train.image_size(i)), i) for i in range(len(train)) if min(train.image_size(i)) < crop]
    if small:
        side, i = min(small)
        h, w = train.image_size(i)
        out.append(f"note: {source}: {len(small)} of {len(train)} training images are smaller than the {crop} px "
                   f"crop (smallest: {train.records[i].image}, {w}x{h}); each is upscaled to min_side before "
                   "cropping, so its detail is interpolated")
    return out


def say_coverage(splits: Splits, crop: int, source: str) -> None:
    """Print :func:`coverage_notes` on stderr, each line once per process."""
    for line in coverage_notes(splits, crop, source):
        if line not in _said:
            _said.add(line)
            progress_line(line)
