import csv
import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from paperlib.cli import paper_size as paper_size_cmd
from paperlib.data import ensure_synthetic, folds, load, load_cub, load_glas, paper_size, synthetic


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_glas_like_layout_and_properties(synth_glas: Path):
    s = load_glas(synth_glas, seed=0)
    assert len(s.train) + len(s.valid) == 17 and len(s.test) == 16
    assert any(i.startswith("testA_") for i in s.test.ids) and any(i.startswith("testB_") for i in s.test.ids)
    sizes = set()
    for i in range(len(s.train)):
        image, label, mask = s.train[i]
        sizes.add(tuple(image.shape[1:]))
        assert image.shape[1] != image.shape[2]  # non-square
        assert 0.02 < mask.mean() < 0.9  # glands and stroma both present
    assert sizes == set(synthetic.GLAS_SIZES)  # GlaS's two aspect ratios, both present
    assert set(s.train.labels.tolist()) | set(s.valid.labels.tolist()) == {0, 1}
    text = (synth_glas / "Grade.csv").read_text().splitlines()
    assert text[0].startswith("name,Patient ID,grade (GlaS)") and ", " in text[1]  # stray spaces as in GlaS
    from PIL import Image
    inst = np.asarray(Image.open(synth_glas / "train_1_anno.bmp"))
    assert inst.max() >= 1 and len(np.unique(inst)) >= 2  # instance map with ids


def test_glas_like_stain_varies_across_images(synth_glas: Path):
    s = load_glas(synth_glas, seed=0)
    means = np.array([s.test[i][0].mean((1, 2)).numpy() for i in range(len(s.test))])
    assert means.std(0).max() > 0.03  # several stain groups, not one colour


def test_cub_like_layout_and_soft_masks(tmp_path: Path):
    root = synthetic.write_cub_like(tmp_path / "cub", seed=1, scale=0.2, n_classes=3)
    s = load_cub(root, seed=0)
    assert len(s.class_names) == 3 and len(s.test) == 3 * 4
    from PIL import Image
    soft = np.asarray(Image.open(next((root / "segmentations").rglob("*.png"))))
    assert soft.dtype == np.uint8 and ((soft > 0) & (soft < 255)).any()  # soft annotator boundary
    _, _, mask = s.test[0]
    assert 0.03 < mask.mean() < 0.6
    sizes = {part.image_size(i) for part in (s.train, s.valid, s.test) for i in range(len(part))}
    assert len(sizes) <= 3 and {w for _, w in sizes} == {128} and {h for h, _ in sizes} <= {84, 96, 112}


def test_deterministic_from_seed(tmp_path: Path):
    a = synthetic.write_glas_like(tmp_path / "a", seed=3, scale=0.12)
    b = synthetic.write_glas_like(tmp_path / "b", seed=3, scale=0.12)
    c = synthetic.write_glas_like(tmp_path / "c", seed=4, scale=0.12)
    assert _digest(a) == _digest(b) != _digest(c)
    x = synthetic.write_cub_like(tmp_path / "x", seed=3, scale=0.17, n_classes=2)
    y = synthetic.write_cub_like(tmp_path / "y", seed=3, scale=0.17, n_classes=2)
    assert _digest(x) == _digest(y)


def test_reuse_and_refuse(tmp_path: Path):
    root = ensure_synthetic("glas", tmp_path / "g", seed=0, scale=0.12)
    stamp = (root / "Grade.csv").stat().st_mtime_ns
    assert ensure_synthetic("glas", root, seed=0, scale=0.12) == root
    assert (root / "Grade.csv").stat().st_mtime_ns == stamp  # reused, not rewritten
    with pytest.raises(FileExistsError, match="another synthetic benchmark"):
        ensure_synthetic("glas", root, seed=1, scale=0.12)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a paperlib synthetic benchmark"):
        ensure_synthetic("cub", foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp folders left


def _paper_classes(dataset: str) -> dict[str, tuple[str, str]]:
    """File stem -> (part, class name) in the paper's split files."""
    out = {}
    for part, path in folds.paper_files(dataset).items():
        with open(path, newline="") as fh:
            out.update({Path(r[1]).stem: (part, r[3]) for r in csv.reader(fh)})
    return out


def test_glas_paper_subset(tmp_path: Path):
    plan = paper_size.plan_glas(seed=0, fraction=0.1)
    root = paper_size.write_glas_paper(tmp_path / "g", seed=0, fraction=0.1, workers=1)
    paper = _paper_classes("glas")
    names = {p.name[:-len(".bmp")] for p in root.glob("*.bmp") if not p.name.endswith("_anno.bmp")}
    assert names == {p.stem for p in plan} and names <= set(paper_size.GLAS_NAMES)
    for part in ("train", "valid", "test"):  # every class in every part of the paper's split
        assert {paper[n][1] for n in names if paper[n][0] == part} == {"benign", "malignant"}
    sizes = {Image.open(root / f"{n}.bmp").size[::-1] for n in names}
    assert sizes == {p.size for p in plan} == {paper_size.GLAS_LARGE, paper_size.GLAS_SMALL}  # both at this seed
    assert all(Image.open(root / f"{n}_anno.bmp").size[::-1] == Image.open(root / f"{n}.bmp").size[::-1]
               for n in names)
    lines = (root / "Grade.csv").read_text().splitlines()
    assert lines[0] == "name,Patient ID,grade (GlaS),grade (Sirinukunwattana et al. 2015)"
    assert {n: g for n, _, g, _ in (c.split(",") for c in lines[1:])} == {n: f" {paper[n][1]}" for n in names}
    s = load("glas", root, seed=0, split="")
    assert len(s.train) + len(s.valid) + len(s.test) == len(names)
    again = paper_size.write_glas_paper(tmp_path / "g2", seed=0, fraction=0.1, workers=2)
    assert _digest(again) == _digest(root)  # the same files whatever the number of processes
    assert set(s.test.ids) == {n for n in names if n.startswith("test")}
    _, _, mask = s.test[0]
    assert 0.02 < mask.mean() < 0.9


def test_glas_paper_plan():
    plan = paper_size.plan_glas(seed=0)
    assert [p.stem for p in plan] == paper_size.GLAS_NAMES and len(plan) == 165
    assert {p.stem: (p.part, p.label) for p in plan} == _paper_classes("glas")
    assert sum(p.size == paper_size.GLAS_SMALL for p in plan) == paper_size.GLAS_N_SMALL
    assert {p.size for p in plan} == {paper_size.GLAS_LARGE, paper_size.GLAS_SMALL}
    assert [p.size for p in plan] != [p.size for p in paper_size.plan_glas(seed=1)]  # seeded
    sub = paper_size.plan_glas(seed=0, fraction=0.3)
    assert set(sub) <= set(plan)  # a subset holds the same images as the full write


def test_glas_paper_full_loads_with_paper_split(tmp_path: Path):
    """The full write (165 images, ~250 MB of BMP) takes a few seconds; it is removed afterwards."""
    start = time.perf_counter()
    root = ensure_synthetic("glas", tmp_path / "g", seed=0, geometry="paper")
    try:
        assert time.perf_counter() - start < 15
        s = load_glas(root, seed=0, split="paper")
        assert (len(s.train), len(s.valid), len(s.test)) == (67, 18, 80)
    finally:
        shutil.rmtree(root)


@pytest.mark.slow
def test_cub_paper_subset(tmp_path: Path):
    root = paper_size.write_cub_paper(tmp_path / "c", seed=0, fraction=0.01, workers=2)
    paper = {stem: (part, label) for stem, (part, label) in _paper_classes("cub").items()}
    classes = (root / "classes.txt").read_text().split()
    assert classes[1::2] == sorted({label for _, label in paper.values()}) and len(classes) == 400
    images = dict(line.split() for line in (root / "images.txt").read_text().splitlines())
    assert len(images) == 400  # one training and one test image of each of the 200 classes
    flags = dict(line.split() for line in (root / "train_test_split.txt").read_text().splitlines())
    for iid, rel in images.items():
        part, label = paper[Path(rel).stem]
        assert rel.split("/")[0] == label and flags[iid] == str(int(part != "test"))
    heights = set()
    for rel in images.values():
        w, h = Image.open(root / "images" / rel).size
        assert w == paper_size.CUB_WIDTH
        assert Image.open((root / "segmentations" / rel).with_suffix(".png")).size == (w, h)
        heights.add(h)
    assert heights <= set(paper_size.CUB_HEIGHTS) and paper_size.CUB_HEIGHTS[0] in heights
    s = load("cub", root, seed=0, split="")
    assert len(s.class_names) == 200 and len(s.test) == 200 and len(s.train) + len(s.valid) == 200
    _, _, mask = s.test[0]
    assert mask.shape[-1] == 500 and 0.01 < mask.mean() < 0.6


def test_cub_paper_plan():
    plan = paper_size.plan_cub(seed=0)
    assert len(plan) == 11788 and [p.index for p in plan] == list(range(11788))
    assert sum(p.part != "test" for p in plan) == 5994  # the official train/test split
    assert (plan[0].stem, plan[0].label) == ("Black_Footed_Albatross_0046_18", "001.Black_footed_Albatross")
    assert len({p.label for p in plan}) == 200
    heights = [p.size[0] for p in plan]
    assert {p.size[1] for p in plan} == {500} and set(heights) == set(paper_size.CUB_HEIGHTS)
    assert heights.count(375) > len(plan) / 2


def test_paper_size_cli(tmp_path: Path, capsys: pytest.CaptureFixture):
    paper_size_cmd.main(["glas", str(tmp_path / "g"), "--fraction", "0.05", "--seed", "2", "--workers", "1"])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("glas: 9 images (5 train+valid, 4 test) of 2 classes in ")
    marker = json.loads((tmp_path / "g" / synthetic.MARKER).read_text())
    assert marker == {"kind": "glas", "seed": 2, "fraction": 0.05, "geometry": "paper"}
    with pytest.raises(ValueError, match="fraction"):
        ensure_synthetic("cub", tmp_path / "c", scale=2.0, geometry="paper")
