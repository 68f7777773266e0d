"""Masks as annotation tools write them, and the layouts a round folder may hold them in."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paperlib.al.annotation_files import AnnotationError, cvat_background, find_masks, read_annotation

SIZE = (6, 8)  # H, W
TRUTH = np.zeros(SIZE, bool)
TRUTH[1:4, 2:7] = True


def _save(path: Path, img: Image.Image) -> Path:
    img.save(path)
    return path


def _colour(fg: tuple, bg: tuple = (0, 0, 0)) -> np.ndarray:
    arr = np.zeros((*SIZE, len(fg)), np.uint8)
    arr[:] = bg
    arr[TRUTH] = fg
    return arr


@pytest.mark.parametrize("form", ["L 0/255", "L 0/1", "mode 1", "grey RGB", "palette", "RGB colour", "RGBA"])
def test_every_mask_form_reads_as_the_drawn_mask(tmp_path: Path, form: str):
    grey = TRUTH.astype(np.uint8)
    if form == "L 0/255":
        img = Image.fromarray(grey * 255, "L")
    elif form == "L 0/1":
        img = Image.fromarray(grey, "L")
    elif form == "mode 1":
        img = Image.fromarray(TRUTH)
    elif form == "grey RGB":
        img = Image.fromarray(np.repeat(grey[..., None] * 255, 3, -1), "RGB")
    elif form == "palette":  # VOC style: index 0 black, index 1 the class colour
        img = Image.fromarray(grey, "P")
        img.putpalette([0, 0, 0, 128, 0, 0] + [0] * 762)
    elif form == "RGB colour":
        img = Image.fromarray(_colour((250, 50, 83)), "RGB")
    else:  # a transparent background of any colour, the object opaque
        arr = _colour((250, 50, 83, 255), (200, 200, 200, 0))
        img = Image.fromarray(arr, "RGBA")
    mask = read_annotation(_save(tmp_path / "m.png", img), SIZE)
    assert mask.dtype.is_floating_point is False and mask.shape == SIZE
    assert np.array_equal(mask.numpy().astype(bool), TRUTH)


def test_background_colour_and_bad_masks(tmp_path: Path):
    green = (0, 128, 0)  # a CVAT project whose background label is green
    path = _save(tmp_path / "g.png", Image.fromarray(_colour((250, 50, 83), green), "RGB"))
    assert np.array_equal(read_annotation(path, SIZE, green).numpy().astype(bool), TRUTH)
    assert read_annotation(path, SIZE).numpy().all()  # on black, every green pixel would be the object
    grey = _save(tmp_path / "grey.png", Image.fromarray(np.full(SIZE, 128, np.uint8), "L"))
    with pytest.raises(AnnotationError, match=r"grey\.png: grey mask is not binary"):
        read_annotation(grey, SIZE)
    with pytest.raises(AnnotationError, match=r"g\.png: mask size 8x6 differs from the image's 9x6"):
        read_annotation(path, (6, 9))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(AnnotationError, match=r"broken\.png: unreadable image"):
        read_annotation(tmp_path / "broken.png", SIZE)


def _cvat(folder: Path, ids: list[str], background: tuple) -> None:
    """A CVAT "Segmentation mask 1.1" export: labelmap, image list, class and object masks."""
    (folder / "SegmentationClass").mkdir(parents=True)
    (folder / "SegmentationObject").mkdir()
    (folder / "ImageSets" / "Segmentation").mkdir(parents=True)
    bg = ",".join(map(str, background))
    (folder / "labelmap.txt").write_text(f"# label:color_rgb:parts:actions\nbackground:{bg}::\ngland:250,50,83::\n")
    (folder / "ImageSets" / "Segmentation" / "default.txt").write_text("\n".join(ids) + "\n")
    for i in ids:
        Image.fromarray(_colour((250, 50, 83), background), "RGB").save(folder / "SegmentationClass" / f"{i}.png")
        Image.fromarray(_colour((1, 2, 3)), "RGB").save(folder / "SegmentationObject" / f"{i}.png")


def test_round_folder_layouts(tmp_path: Path):
    ids = ["train_1", "train_2", "train_3"]
    Image.fromarray(TRUTH.astype(np.uint8) * 255, "L").save(tmp_path / "train_1_mask.png")
    _cvat(tmp_path / "task_export", ["train_2"], (0, 128, 0))
    (tmp_path / "ls").mkdir()
    Image.fromarray(TRUTH.astype(np.uint8) * 255, "L").save(tmp_path / "ls" / "task-7-annotation-1-tag-0.png")
    (tmp_path / "masks.csv").write_text("image,mask\ntrain_3.png,ls/task-7-annotation-1-tag-0.png\n")
    found = find_masks(tmp_path, ids)
    assert sorted(found) == ids
    assert found["train_2"] == (tmp_path / "task_export" / "SegmentationClass" / "train_2.png", (0, 128, 0))
    for path, background in found.values():
        assert np.array_equal(read_annotation(path, SIZE, background).numpy().astype(bool), TRUTH)
    assert cvat_background(tmp_path / "task_export" / "labelmap.txt") == (0, 128, 0)

    (tmp_path / "masks.csv").write_text("image,mask\ntrain_1,ls/task-7-annotation-1-tag-0.png\n")
    with pytest.raises(AnnotationError, match="two masks for train_1"):
        find_masks(tmp_path, ids)
    (tmp_path / "masks.csv").write_text("image,mask\ntrain_9,ls/task-7-annotation-1-tag-0.png\n")
    with pytest.raises(AnnotationError, match=r"masks\.csv, line 2: 'train_9' is not an image of this round"):
        find_masks(tmp_path, ids)
    (tmp_path / "masks.csv").write_text("image,mask\ntrain_3,ls/missing.png\n")
    with pytest.raises(AnnotationError, match=r"masks\.csv, line 2: mask file .*missing\.png not found"):
        find_masks(tmp_path, ids)
    (tmp_path / "masks.csv").write_text("id,file\n")
    with pytest.raises(AnnotationError, match=r"masks\.csv, line 1: expected the header image,mask"):
        find_masks(tmp_path, ids)


def test_preannotations_round_trip_and_are_not_answers(tmp_path: Path):
    from paperlib.al.annotation_files import PREANNOTATIONS, write_cvat

    masks = {"train_1": TRUTH.astype(np.uint8), "train_2": np.zeros(SIZE, np.uint8)}
    write_cvat(tmp_path / PREANNOTATIONS, masks)
    assert (tmp_path / PREANNOTATIONS / "ImageSets" / "Segmentation" / "default.txt").read_text() == \
        "train_1\ntrain_2\n"
    assert find_masks(tmp_path, list(masks)) == {}  # the model's suggestions are never the annotator's answer
    shutil.copytree(tmp_path / PREANNOTATIONS, tmp_path / "edited_in_cvat")  # imported, (not) edited, exported
    found = find_masks(tmp_path, list(masks))
    for sid, (path, background) in found.items():
        assert np.array_equal(read_annotation(path, SIZE, background).numpy(), masks[sid])


def test_suggestions_mapping_is_not_an_answer_until_copied_to_masks_csv(tmp_path: Path):
    from paperlib.al.annotation_files import MAPPING, SUGGESTIONS, write_mapping

    Image.fromarray(TRUTH.astype(np.uint8) * 255, "L").save(tmp_path / "train_1_suggested.png")
    write_mapping(tmp_path / SUGGESTIONS, {"train_1.png": "train_1_suggested.png"})
    assert (tmp_path / SUGGESTIONS).read_text() == "image,mask\ntrain_1.png,train_1_suggested.png\n"
    assert find_masks(tmp_path, ["train_1"]) == {}
    shutil.copy(tmp_path / SUGGESTIONS, tmp_path / MAPPING)  # accept every suggestion as it is
    path, background = find_masks(tmp_path, ["train_1"])["train_1"]
    assert np.array_equal(read_annotation(path, SIZE, background).numpy().astype(bool), TRUTH)
