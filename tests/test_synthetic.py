import hashlib
from pathlib import Path

import numpy as np
import pytest

from paperlib import synthetic
from paperlib.data import load_cub, load_glas


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
    assert len(sizes) > 3  # varying sizes
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


def test_deterministic_from_seed(tmp_path: Path):
    a = synthetic.write_glas_like(tmp_path / "a", seed=3, scale=0.12)
    b = synthetic.write_glas_like(tmp_path / "b", seed=3, scale=0.12)
    c = synthetic.write_glas_like(tmp_path / "c", seed=4, scale=0.12)
    assert _digest(a) == _digest(b) != _digest(c)
    x = synthetic.write_cub_like(tmp_path / "x", seed=3, scale=0.17, n_classes=2)
    y = synthetic.write_cub_like(tmp_path / "y", seed=3, scale=0.17, n_classes=2)
    assert _digest(x) == _digest(y)


def test_reuse_and_refuse(tmp_path: Path):
    root = synthetic.ensure("glas", tmp_path / "g", seed=0, scale=0.12)
    stamp = (root / "Grade.csv").stat().st_mtime_ns
    assert synthetic.ensure("glas", root, seed=0, scale=0.12) == root
    assert (root / "Grade.csv").stat().st_mtime_ns == stamp  # reused, not rewritten
    with pytest.raises(FileExistsError, match="another synthetic benchmark"):
        synthetic.ensure("glas", root, seed=1, scale=0.12)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a paperlib synthetic benchmark"):
        synthetic.ensure("cub", foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp folders left
