"""Image files at any bit depth (paperlib.core.images): a 16-bit PNG, a 12-bit camera's TIFF and a float TIFF are
read by their own range, not as blank; 8-bit files are read as before; a note names each deeper file once. On
aa796a9's code (``convert("RGB")``) the 16-bit PNG read as all 1.0 and the float TIFF as two values near 0."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from paperlib.core.images import unit_grey
from paperlib.core.similarity import colour_histogram
from paperlib.data import read_image
from paperlib.errors import DataError

H, W = 12, 16


def _ramp(top: float, dtype) -> np.ndarray:
    """A left-to-right ramp from 0 to ``top``."""
    return np.tile(np.linspace(0, top, W), (H, 1)).astype(dtype)


def _grey(t: torch.Tensor) -> np.ndarray:
    assert t.shape == (3, H, W) and torch.equal(t[0], t[1]) and torch.equal(t[1], t[2])
    return t[0].numpy()


def test_a_16_bit_png_is_read_by_its_depth_with_a_note(tmp_path: Path, capsys):
    path = tmp_path / "scope.png"
    Image.fromarray(_ramp(65535, np.uint16)).save(path)
    assert Image.open(path).mode.startswith("I")
    got = _grey(read_image(path))
    assert got.min() == 0.0 and got.max() == 1.0
    assert np.allclose(got, np.round(_ramp(65535, np.float64) / 65535 * 255) / 255)
    assert 0.45 < got.mean() < 0.55  # the ramp, not every pixel 1.0
    notes = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("note:")]
    assert len(notes) == 1 and str(path) in notes[0] and "16-bit" in notes[0] and "read as 16-bit" in notes[0]
    read_image(path)
    assert "note:" not in capsys.readouterr().out  # once per file


def test_a_12_bit_tiff_is_read_as_12_bits(tmp_path: Path, capsys):
    path = tmp_path / "camera.tif"
    Image.fromarray(_ramp(4095, np.uint16)).save(path)
    got = _grey(read_image(path))
    assert got.max() == 1.0 and 0.45 < got.mean() < 0.55
    assert "read as 12-bit (divided by 4095)" in capsys.readouterr().out


def test_a_float_tiff_is_read_by_its_range_and_nan_is_refused(tmp_path: Path):
    path = tmp_path / "float.tif"
    Image.fromarray(_ramp(1.0, np.float32) * 2 - 1).save(path)  # values -1 .. 1
    assert Image.open(path).mode == "F"
    got = _grey(read_image(path))
    assert got.min() == 0.0 and got.max() == 1.0 and 0.45 < got.mean() < 0.55
    unit = tmp_path / "unit.tif"
    Image.fromarray(_ramp(0.5, np.float32)).save(unit)  # already in [0, 1]: as it is
    assert _grey(read_image(unit)).max() == pytest.approx(128 / 255)
    bad = _ramp(1.0, np.float32)
    bad[0, 0] = np.nan
    Image.fromarray(bad).save(tmp_path / "nan.tif")
    with pytest.raises(DataError, match=r"nan\.tif: the image holds values that are not finite"):
        read_image(tmp_path / "nan.tif")


def test_8_bit_files_are_read_as_before(tmp_path: Path, capsys):
    rng = np.random.default_rng(0)
    for name, arr in (("rgb.png", rng.integers(0, 256, (H, W, 3), dtype=np.uint8)),
                      ("grey.png", rng.integers(0, 256, (H, W), dtype=np.uint8))):
        Image.fromarray(arr).save(tmp_path / name)
        before = np.asarray(Image.open(tmp_path / name).convert("RGB"), dtype=np.float32) / 255
        assert torch.equal(read_image(tmp_path / name), torch.from_numpy(before).permute(2, 0, 1))
    assert "note:" not in capsys.readouterr().out


def test_the_colour_histogram_reads_a_deep_file_by_the_same_rule(tmp_path: Path):
    deep, eight = tmp_path / "deep.png", tmp_path / "eight.png"
    Image.fromarray(_ramp(65535, np.uint16)).save(deep)
    Image.fromarray(np.round(_ramp(255, np.float64)).astype(np.uint8)).save(eight)
    assert np.allclose(colour_histogram(deep), colour_histogram(eight))


def test_the_rule_on_arrays():
    assert unit_grey(np.array([[0, 255]], np.uint16), "x")[0].max() == 1.0  # 8-bit values in a 16-bit file
    assert unit_grey(np.array([[0, 1023]], np.uint16), "x")[1].endswith("read as 10-bit (divided by 1023)")
    assert unit_grey(np.array([[0, 100000]], np.int32), "x")[0].max() == 1.0  # beyond 16 bits: its largest value
