import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from paperlib import config, data
from paperlib.data import DataError, folds, load_cub, load_glas
from paperlib.data.folds import stratified_split

from .helpers import write_cub, write_glas


def test_load_glas_layout(glas_root: Path):
    s = load_glas(glas_root, seed=0)
    assert s.train.class_names == ["benign", "malignant"]
    assert len(s.train) + len(s.valid) == 10
    assert len(s.test) == 4
    assert set(s.test.ids) == {"testA_1", "testA_2", "testB_1", "testB_2"}
    assert not set(s.train.ids) & set(s.valid.ids)
    image, label, mask = s.train[0]
    assert image.dtype == torch.float32 and image.shape[0] == 3
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    assert mask.shape == (1, *image.shape[1:])
    assert set(mask.unique().tolist()) == {0.0, 1.0}  # instance ids 1..4 all become foreground
    expected = Image.open(glas_root / f"{s.train.ids[0]}_anno.bmp")
    assert torch.equal(mask[0].bool(), torch.from_numpy(np.asarray(expected) != 0))
    assert label == (0 if int(s.train.ids[0].split("_")[1]) % 2 == 1 else 1)  # grade with stray spaces parsed


def test_load_cub_layout(cub_root: Path):
    s = load_cub(cub_root, seed=0)
    assert s.train.class_names == ["001.Bird_0", "002.Bird_1", "003.Bird_2"]
    assert len(s.train) + len(s.valid) == 18 and len(s.test) == 6
    assert np.bincount(s.valid.labels).tolist() == [2, 2, 2]  # ceil(0.2 * 6) per class
    _, label, mask = s.test[0]
    assert label == 0
    # soft mask: 255 and 153 are foreground (> 127.5), 102 is not
    assert mask[0, 12, 5:15].eq(1).all() and mask[0, 3, 5:15].eq(0).all() and mask[0, 4:12, 5:15].eq(1).all()
    assert s.test.ids[0].startswith("Bird_0_")


def test_split_is_seeded_and_stratified():
    labels = np.array([0] * 29 + [1] * 38 + [2] * 5)
    tr, va = stratified_split(labels, 0.2, seed=3)
    tr2, va2 = stratified_split(labels, 0.2, seed=3)
    assert np.array_equal(tr, tr2) and np.array_equal(va, va2)
    assert np.bincount(labels[va]).tolist() == [6, 8, 1]
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(labels.size))
    _, va3 = stratified_split(labels, 0.2, seed=4)
    assert not np.array_equal(va, va3)


def test_glas_split_matches_paper_counts(tmp_path: Path):
    # GlaS fold 0 of the paper: 37 benign / 48 malignant training images -> valid 8 / 10, train 29 / 38
    labels = np.array([0] * 37 + [1] * 48)
    tr, va = stratified_split(labels, 0.2, seed=0)
    assert np.bincount(labels[tr]).tolist() == [29, 38] and np.bincount(labels[va]).tolist() == [8, 10]


def _write_split(folder: Path, rows: dict[str, list[str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for part, lines in rows.items():
        (folder / f"{part}_s_0_f_0.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_user_split_csv(glas_root: Path, tmp_path: Path):
    split = _write_split(tmp_path / "split", {
        "train": ["1,train_1.bmp,train_1_anno.bmp,benign,1", "2,train_2.bmp,train_2_anno.bmp,malignant,1",
                  "3,train_3.bmp,train_3_anno.bmp,benign,1"],
        "valid": ["id,img,mask,label,tag", "4,train_4.bmp,train_4_anno.bmp,malignant,1"],
        "test": ["5,testA_1.bmp,testA_1_anno.bmp,benign,0"],
    })
    s = load_glas(glas_root, split=split)
    assert s.train.ids == ["train_1", "train_2", "train_3"] and s.train.labels.tolist() == [0, 1, 0]
    assert s.valid.ids == ["train_4"] and s.test.ids == ["testA_1"]


@pytest.mark.parametrize("row, match", [
    ("1,train_1.bmp,train_1_anno.bmp,cancerous,1", "unknown class 'cancerous' in field 'label'"),
    ("1,train_1.bmp,train_1_anno.bmp,benign", "expected 5 fields"),
    ("1,train_1.bmp,train_1_anno.bmp,benign,7", "field 'tag'"),
    ("1,train_99.bmp,train_99_anno.bmp,benign,1", "train_99.bmp: file not found"),
])
def test_bad_split_csv(glas_root: Path, tmp_path: Path, row: str, match: str):
    split = _write_split(tmp_path / "split", {
        "train": ["2,train_2.bmp,train_2_anno.bmp,malignant,1", row],
        "valid": ["4,train_4.bmp,train_4_anno.bmp,malignant,1"],
        "test": ["5,testA_1.bmp,testA_1_anno.bmp,benign,0"],
    })
    with pytest.raises(DataError, match=match) as err:
        load_glas(glas_root, split=split)
    assert "train_s_0_f_0.csv" in str(err.value) or "train_99" in str(err.value)


def test_split_folder_problems(glas_root: Path, tmp_path: Path):
    with pytest.raises(DataError, match="split folder not found"):
        load_glas(glas_root, split=tmp_path / "nowhere")
    split = _write_split(tmp_path / "dup", {
        "train": ["1,train_1.bmp,train_1_anno.bmp,benign,1"],
        "valid": ["1,train_1.bmp,train_1_anno.bmp,benign,1"],
        "test": ["5,testA_1.bmp,testA_1_anno.bmp,benign,0"],
    })
    with pytest.raises(DataError, match="also in the train split"):
        load_glas(glas_root, split=split)


def test_glas_missing_file(glas_root: Path):
    (glas_root / "train_3_anno.bmp").unlink()
    with pytest.raises(DataError, match=r"train_3_anno\.bmp: file not found"):
        load_glas(glas_root)
    with pytest.raises(DataError, match=r"Grade\.csv: file not found"):
        load_glas(glas_root / "nowhere")


def test_glas_unreadable_image(glas_root: Path):
    (glas_root / "train_2.bmp").write_bytes(b"not an image at all")
    with pytest.raises(DataError, match=r"train_2\.bmp: unreadable image"):
        load_glas(glas_root)


def test_glas_truncated_image_fails_on_read(glas_root: Path):
    data = (glas_root / "train_2.bmp").read_bytes()
    s = load_glas(glas_root, check=False)
    (glas_root / "train_2.bmp").write_bytes(data[:80])
    ds = s.train if "train_2" in s.train.ids else s.valid
    with pytest.raises(DataError, match=r"train_2\.bmp"):
        ds[ds.ids.index("train_2")]


def test_glas_size_mismatch(glas_root: Path):
    Image.fromarray(np.zeros((5, 5), np.uint8), "L").save(glas_root / "testB_1_anno.bmp")
    with pytest.raises(DataError, match=r"testB_1_anno\.bmp: mask size \(5, 5\) differs from image size"):
        load_glas(glas_root)


def test_glas_unknown_class(glas_root: Path):
    text = (glas_root / "Grade.csv").read_text().replace("train_4, 3 , malignant", "train_4, 3 , dubious")
    (glas_root / "Grade.csv").write_text(text)
    with pytest.raises(DataError, match=r"Grade\.csv, line 5: unknown class 'dubious' in field 'grade \(GlaS\)'"):
        load_glas(glas_root)


def test_cub_bad_inputs(tmp_path: Path):
    root = write_cub(tmp_path / "a")
    (root / "image_class_labels.txt").write_text(
        (root / "image_class_labels.txt").read_text().replace("1 1\n", "1 9\n", 1))
    with pytest.raises(DataError, match=r"image_class_labels\.txt: image id 1: unknown class '9'"):
        load_cub(root)
    root = write_cub(tmp_path / "b")
    (root / "train_test_split.txt").unlink()
    with pytest.raises(DataError, match=r"train_test_split\.txt: file not found"):
        load_cub(root)
    root = write_cub(tmp_path / "c")
    next((root / "segmentations").rglob("*.png")).unlink()
    with pytest.raises(DataError, match=r"\.png: mask found neither in"):
        load_cub(root)
    root = write_cub(tmp_path / "d")
    (root / "images.txt").write_text("one two three\n")
    with pytest.raises(DataError, match=r"images\.txt, line 1: expected '<id> <value>'"):
        load_cub(root)


def _paper_rows(dataset: str) -> dict[str, list[list[str]]]:
    return {part: [row for row in csv.reader(path.open(newline="")) if row]
            for part, path in folds.paper_files(dataset).items()}


def test_glas_profile_loads_the_papers_split(tmp_path: Path):
    """The glas profile's default split is the paper's split 0, fold 0 (shipped with the package)."""
    rows = _paper_rows("glas")
    assert [len(rows[p]) for p in ("train", "valid", "test")] == [67, 18, 80]
    grades = {Path(r[1]).stem: r[3] for part in rows.values() for r in part}
    root = write_glas(tmp_path / "glas", grades=grades)  # a stand-in with GlaS's 165 real file names
    cfg = config.get("glas", data_root=str(root))
    assert cfg.data.split == "paper"
    s = data.from_config(cfg)
    for part in ("train", "valid", "test"):
        assert getattr(s, part).ids == [Path(r[1]).stem for r in rows[part]]
    assert np.bincount(s.train.labels).tolist() == [29, 38] and np.bincount(s.valid.labels).tolist() == [8, 10]
    # the seeded stratified split stays available
    other = data.from_config(config.get("glas", data_root=str(root), split=""))
    assert len(other.train) + len(other.valid) == 85 and other.train.ids != s.train.ids
    # a split whose class disagrees with Grade.csv is refused, naming the image
    grades["train_71"] = "benign" if grades["train_71"] == "malignant" else "malignant"
    write_glas(tmp_path / "bad", grades=grades)
    with pytest.raises(DataError, match=r"Grade\.csv: train_71 is"):
        load_glas(tmp_path / "bad", split="paper", check=False)


def test_cub_papers_split_file_names(tmp_path: Path):
    """CUB's paper split names the official archives side by side (CUB_200_2011/images, segmentations)."""
    rows = _paper_rows("cub")
    assert [len(rows[p]) for p in ("train", "valid", "test")] == [4794, 1200, 5794]
    root = tmp_path / "CUB_200_2011"
    root.mkdir()
    names = sorted({r[3] for r in rows["test"]})
    (root / "classes.txt").write_text("".join(f"{i + 1} {n}\n" for i, n in enumerate(names)))
    s = load_cub(root, split="paper", check=False)
    assert s.test.ids == [Path(r[1]).stem for r in rows["test"]] and len(s.train) == 4794
    rec = s.train.records[0]
    assert rec.image == root / "images" / Path(*Path(rows["train"][0][1]).parts[2:])
    assert rec.mask == root / "segmentations" / Path(*Path(rows["train"][0][2]).parts[1:])
    assert config.get("cub").data.split == "paper"


@pytest.mark.parametrize("layout", ["inside", "beside"])
def test_cub_both_archive_layouts(tmp_path: Path, layout: str):
    """segmentations/ inside the CUB folder, or beside it as the two official archives extract."""
    root = write_cub(tmp_path / "CUB_200_2011")
    if layout == "beside":
        (root / "segmentations").rename(tmp_path / "segmentations")
    s = load_cub(root, seed=0)
    assert s.train.records[0].mask.parent.parent == (root if layout == "inside" else tmp_path) / "segmentations"
    image, _, mask = s.train[0]
    assert mask.shape[1:] == image.shape[1:]
    missing = next((tmp_path if layout == "beside" else root).rglob("*.png"))
    missing.unlink()
    with pytest.raises(DataError, match=rf"{missing.name}: mask found neither in .*segmentations nor in "
                                        r".*segmentations \(extract segmentations\.tgz"):
        load_cub(root, seed=0)
