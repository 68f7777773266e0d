"""Synthetic GlaS-like and CUB-like benchmarks, written to disk in the real datasets' folder layouts.

They are a benchmark, not a target: they carry the real data's difficulties (stain variation across groups of
images, irregular shapes, clutter, soft annotator masks) and are not shaped toward any method.
Everything is deterministic from the seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from ..errors import ConfigError
from .knobs import (
    CALIBRATED_CUB_KNOBS,
    CALIBRATED_GLAS_KNOBS,
    CUB_KNOBS,
    GLAS_KNOBS,
    KNOB_SETS,
    changed,
    merged,
    side_rng,
)
from .marked_folder import MARKER, write_atomic

__all__ = ["CALIBRATED_CUB_KNOBS", "CALIBRATED_GLAS_KNOBS", "CUB_KNOBS", "GLAS_KNOBS", "KNOB_SETS", "MARKER",
           "write_cub_like", "write_cub_metadata", "write_glas_like"]

# Optical densities of haematoxylin and eosin (Ruifrok & Johnston), perturbed per stain group.
_H = np.array([0.65, 0.70, 0.29])
_E = np.array([0.07, 0.99, 0.11])


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Smooth noise ``HxW`` with zero mean and unit std."""
    n = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (n - n.mean()) / (n.std() + 1e-8)


def _blobs(shape: tuple[int, int], ys: np.ndarray, xs: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blobs of peak ~1 centred on the given points, ``HxW``."""
    img = np.zeros(shape)
    ok = (ys >= 0) & (ys < shape[0]) & (xs >= 0) & (xs < shape[1])
    np.add.at(img, (ys[ok].astype(int), xs[ok].astype(int)), 1.0)
    return np.clip(ndimage.gaussian_filter(img, sigma) * 2 * np.pi * sigma**2, 0, 1.5)


def _gland(yy: np.ndarray, xx: np.ndarray, rng: np.random.Generator, cy: float, cx: float, radius: float,
           malignant: bool) -> tuple[np.ndarray, np.ndarray]:
    """Normalised radius map of one gland (< 1 inside) and its polar angle, both ``HxW``."""
    angle = rng.uniform(0, np.pi)
    stretch = rng.uniform(1.0, 1.9 if malignant else 1.5)
    dy, dx = yy - cy, xx - cx
    u = (dx * np.cos(angle) + dy * np.sin(angle)) / stretch
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    theta, rho = np.arctan2(v, u), np.hypot(u, v)
    harmonics = np.arange(2, 8 if malignant else 5)
    amps = rng.uniform(0.0, 0.16 if malignant else 0.05, harmonics.size) / np.sqrt(harmonics - 1)
    phases = rng.uniform(0, 2 * np.pi, harmonics.size)
    r = radius * (1 + (amps[:, None, None] * np.cos(harmonics[:, None, None] * theta + phases[:, None, None])).sum(0))
    return rho / np.maximum(r, 1e-3), theta


# The demo benchmarks' few image sizes ``(H, W)``, so that equal-size images batch exactly. GlaS-like: GlaS's two
# aspect ratios (522x775 and 453x589, H x W); CUB-like: width 128 and one of three heights.
GLAS_SIZES = ((104, 154), (90, 117))
CUB_WIDTH, CUB_HEIGHTS = 128, (84, 96, 112)


GLAS_GRADE_HEADER = "name,Patient ID,grade (GlaS),grade (Sirinukunwattana et al. 2015)"  # Grade.csv's header
GLAS_SUB_GRADES = {"benign": ("healthy", "adenomatous"),
                   "malignant": ("moderately differentiated", "poorly differentiated")}


def _glas_size(h: int) -> tuple[int, int]:
    """The GlaS-like size of a drawn height in [84, 108]: the small size below 87 (3 in 25), else the large."""
    return GLAS_SIZES[1] if h < 87 else GLAS_SIZES[0]


def _cub_size(h: int) -> tuple[int, int]:
    """The CUB-like size of a drawn height in [80, 112]: the nearest of ``CUB_HEIGHTS`` (ties: the lower)."""
    return min(CUB_HEIGHTS, key=lambda c: abs(c - h)), CUB_WIDTH


def _glas_image(rng: np.random.Generator, malignant: bool, stain: tuple[np.ndarray, np.ndarray, float],
                size: tuple[int, int] | None = None, *, knobs: Mapping | None = None,
                var: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One H&E-like image ``HxWx3`` uint8 and its gland instance map ``HxW`` uint8, at ``size`` ``(H, W)`` when
    given, else at the GlaS-like size the first draw picks (the size draws are made either way). ``knobs``: the
    appearance knobs (default ``GLAS_KNOBS``); ``var``: the generator of the per-image knob draws (default: one
    derived from ``rng``)."""
    k = merged(GLAS_KNOBS, knobs)
    var = var if var is not None else side_rng(rng)
    rscale = var.uniform(*k["radius_scale"])
    epi_e, epi_h, str_e = var.uniform(*k["epi_eosin"]), var.uniform(*k["epi_haem"]), var.uniform(*k["stroma_eosin"])
    drawn_h, _ = int(rng.integers(84, 109)), int(rng.integers(112, 153))  # the drawn width is no longer used
    h, w = size or _glas_size(drawn_h)
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    inst = np.zeros((h, w), np.uint8)
    epi = np.zeros((h, w))
    lumen = np.zeros((h, w))
    nuclei_pts: list[tuple[np.ndarray, np.ndarray]] = []
    n_glands = int(rng.integers(4, 10) if malignant else rng.integers(3, 7))
    for g in range(n_glands):
        radius = (rng.uniform(8, 20) if malignant else rng.uniform(11, 19)) * rscale
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        rn, theta = _gland(yy, xx, rng, cy, cx, radius, malignant)
        inside = (rn < 1) & (inst == 0)
        if inside.sum() < 30:
            continue
        inst[inside] = g + 1
        if malignant:  # cribriform: several small irregular lumens, disorderly thick epithelium
            lum = np.zeros((h, w), bool)
            for _ in range(int(rng.integers(1, 4))):
                ly, lx = cy + rng.normal(0, radius * 0.25), cx + rng.normal(0, radius * 0.25)
                lum |= np.hypot(yy - ly, xx - lx) < rng.uniform(0.12, 0.35) * radius
            lum &= inside & (rn < 0.8)
            n_nuc = int(inside.sum() * rng.uniform(0.08, 0.14))
            cand = np.flatnonzero(inside & ~lum)
            pick = rng.choice(cand, size=min(n_nuc, cand.size), replace=False) if cand.size else cand
            nuclei_pts.append((pick // w + rng.uniform(-.5, .5, pick.size), pick % w + rng.uniform(-.5, .5, pick.size)))
        else:  # one round lumen, a regular ring of basal nuclei
            lum = inside & (rn < rng.uniform(0.45, 0.65))
            n_nuc = int(2 * np.pi * radius / rng.uniform(2.2, 3.0))
            ang = np.linspace(0, 2 * np.pi, n_nuc, endpoint=False) + rng.normal(0, 0.03, n_nuc)
            ring = np.zeros((h, w), bool)
            ring[inside & (rn > 0.8)] = True
            ys, xs = np.nonzero(ring)
            if ys.size:
                th = np.arctan2(ys - cy, xs - cx)
                order = np.abs(((th[None, :] - ang[:, None]) + np.pi) % (2 * np.pi) - np.pi).argmin(1)
                nuclei_pts.append((ys[order] + rng.normal(0, .4, n_nuc), xs[order] + rng.normal(0, .4, n_nuc)))
        epi += inside & ~lum
        lumen += lum
    if inst.max() == 0:  # at least one gland
        return _glas_image(rng, malignant, stain, size, knobs=knobs, var=var)
    stroma = inst == 0
    n_str = int(stroma.sum() * rng.uniform(*k["stroma_nuclei"]))
    cand = np.flatnonzero(stroma)
    pick = rng.choice(cand, size=min(n_str, cand.size), replace=False)
    nuc = _blobs((h, w), pick // w, pick % w, 0.7) * 0.8
    for ys, xs in nuclei_pts:
        nuc = np.maximum(nuc, _blobs((h, w), ys, xs, 1.1 if malignant else 0.9))
    # Gland-like distractors in the stroma: a ring of nuclei around a pale centre, not annotated as gland.
    dis_ring, dis_lumen = np.zeros((h, w)), np.zeros((h, w))
    for _ in range(int(var.integers(k["distractors"][0], k["distractors"][1] + 1))):
        rad = var.uniform(*k["distractor_size"]) * rscale
        cy, cx = var.uniform(0, h), var.uniform(0, w)
        rn, _ = _gland(yy, xx, var, cy, cx, rad, bool(var.random() < k["distractor_irregular"]))
        body = (rn < 1) & stroma
        if body.sum() < 20:
            continue
        cen = body & (rn < var.uniform(0.4, 0.7))
        dis_ring += body & ~cen
        dis_lumen += cen
        ring = body & (rn > 0.75)
        ys, xs = np.nonzero(ring)
        n_nuc = min(ys.size, int(2 * np.pi * rad / var.uniform(2.2, 3.5)))
        if n_nuc:
            sel = var.choice(ys.size, size=n_nuc, replace=False)
            nuc = np.maximum(nuc, _blobs((h, w), ys[sel] + var.normal(0, .4, n_nuc), xs[sel] + var.normal(0, .4, n_nuc),
                                         0.9))
    dis_ring, dis_lumen = np.minimum(dis_ring, 1), np.minimum(dis_lumen, 1)
    h_vec, e_vec, strength = stain
    tex = _smooth_noise(rng, (h, w), 2.0)
    conc_h = 0.12 + 1.1 * nuc + epi_h * epi + 0.05 * tex
    conc_e = ((str_e + 0.12 * tex) * stroma + epi_e * epi + 0.06 * lumen + 0.1 * _smooth_noise(rng, (h, w), 6.0)
              + k["distractor_eosin"] * dis_ring - str_e * 0.85 * dis_lumen)
    od = strength * (conc_h[..., None] * h_vec + np.clip(conc_e, 0, None)[..., None] * e_vec)
    clean = 0.96 * np.exp(-od)
    if k["blur"] > 0:
        clean = ndimage.gaussian_filter(clean, (k["blur"], k["blur"], 0))
    rgb = clean + rng.normal(0, k["noise"], (h, w, 3))
    return (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8), inst


def _stain_groups(rng: np.random.Generator, n: int, knobs: Mapping | None = None
                  ) -> list[tuple[np.ndarray, np.ndarray, float]]:
    k = merged(GLAS_KNOBS, knobs)
    groups = []
    for _ in range(n):
        hv = np.clip(_H + rng.normal(0, k["stain_spread"], 3), 0.05, None)
        ev = np.clip(_E + rng.normal(0, k["stain_spread"], 3), 0.02, None)
        groups.append((hv / np.linalg.norm(hv), ev / np.linalg.norm(ev), float(rng.uniform(*k["stain_strength"]))))
    return groups


def write_glas_like(root: str | Path, *, seed: int = 0, scale: float = 1.0, knobs: Mapping | None = None) -> Path:
    """Write a GlaS-like benchmark (``Grade.csv``, ``train_N.bmp``/``_anno.bmp``, ``testA_N``, ``testB_N``).

    Two grades told apart by gland morphology (benign: round regular glands with one lumen and a basal ring of
    nuclei; malignant: irregular, crowded glands with several lumens and disorderly nuclei), H&E-like stain with
    four stain groups independent of the grade, non-square images of GlaS's two aspect ratios (``GLAS_SIZES``:
    104x154 for most, 90x117 for about 1 in 8, H x W), instance masks.
    At ``scale=1`` the counts are GlaS's: 85 training and 80 (60 testA + 20 testB) test images. ``knobs``
    overrides some of ``GLAS_KNOBS`` (recorded in the marker when they differ from it). Returns ``root``.
    """
    k = merged(GLAS_KNOBS, knobs)
    n_train, n_test = max(10, round(85 * scale)), max(8, round(80 * scale))
    n_test_a = round(n_test * 0.75)
    names = ([f"train_{i + 1}" for i in range(n_train)] + [f"testA_{i + 1}" for i in range(n_test_a)]
             + [f"testB_{i + 1}" for i in range(n_test - n_test_a)])
    rng = np.random.default_rng([seed, 1])
    groups = _stain_groups(rng, k["stain_groups"], k)

    def write(tmp: Path) -> None:
        rows = [GLAS_GRADE_HEADER]
        for i, name in enumerate(names):
            r = np.random.default_rng([seed, 2, i])
            v = np.random.default_rng([seed, 3, i])  # the per-image knob draws
            patient = int(v.integers(1, 17))
            grade = "malignant" if r.random() < 0.56 else "benign"
            g = int(r.integers(len(groups)))
            if k["stain_by_patient"]:
                g = (patient - 1) % len(groups)
            img, inst = _glas_image(r, grade == "malignant", groups[g], knobs=k, var=v)
            Image.fromarray(img, "RGB").save(tmp / f"{name}.bmp")
            Image.fromarray(inst, "L").save(tmp / f"{name}_anno.bmp")
            drawn_patient = int(r.integers(1, 17))
            patient = patient if k["stain_by_patient"] else drawn_patient
            rows.append(f"{name}, {patient} , {grade}, {GLAS_SUB_GRADES[grade][int(r.integers(2))]}")
        (tmp / "Grade.csv").write_text("\n".join(rows) + "\n")

    params = {"kind": "glas", "seed": seed, "scale": scale, "geometry": "demo"}
    if changed(GLAS_KNOBS, k):
        params["knobs"] = changed(GLAS_KNOBS, k)
    return write_atomic(Path(root), params, write)


# ---------------------------------------------------------------------------------------------------------------
# CUB-like

_SPECIES = ["Crimson_Finch", "Azure_Jay", "Olive_Warbler", "Banded_Tern", "Golden_Oriole", "Slate_Junco",
            "Rusty_Sparrow", "Spotted_Thrush", "Ivory_Gull", "Ember_Tanager", "Dusky_Wren", "Teal_Kingfisher"]


def _polygon_ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 32) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


def _species(rng: np.random.Generator) -> dict:
    """Colours and proportions of one species."""
    return {
        "body": rng.uniform(0.1, 0.9, 3), "wing": rng.uniform(0.05, 0.9, 3), "head": rng.uniform(0.05, 0.95, 3),
        "belly": rng.uniform(0.3, 1.0, 3), "aspect": rng.uniform(0.45, 0.7), "tail": rng.uniform(0.3, 0.7),
        "beak": rng.uniform(0.12, 0.35), "head_r": rng.uniform(0.28, 0.4), "stripes": bool(rng.random() < 0.5),
    }


def _bird_parts(sp: dict, rng: np.random.Generator) -> list[tuple[np.ndarray, str]]:
    """Polygons of a bird in canonical coordinates (body centred at 0, length ~2, facing +x), with part names."""
    a = sp["aspect"] * rng.uniform(0.9, 1.1)
    hr = sp["head_r"] * rng.uniform(0.9, 1.1)
    tail = sp["tail"] * rng.uniform(0.85, 1.15)
    return [
        (np.array([[-0.85, -0.1 * a], [-0.85 - tail, -0.35 * a], [-0.85 - tail, 0.25 * a], [-0.85, 0.15 * a]]), "wing"),
        (_polygon_ellipse(0, 0, 1.0, a), "body"),
        (_polygon_ellipse(0.1, 0.35 * a, 0.6, 0.45 * a), "belly"),
        (_polygon_ellipse(-0.15, -0.15 * a, 0.65, 0.5 * a), "wing"),
        (_polygon_ellipse(0.85, -0.75 * a, hr, hr), "head"),
        (np.array([[0.85 + hr * 0.8, -0.8 * a - 0.06], [0.85 + hr + sp["beak"], -0.72 * a],
                   [0.85 + hr * 0.8, -0.66 * a + 0.04]]), "beak"),
    ]


def _cub_image(rng: np.random.Generator, sp: dict, size: tuple[int, int] | None = None, *,
               knobs: Mapping | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One bird on a cluttered background: image ``HxWx3`` uint8 and soft mask ``HxW`` uint8 (0-255), at ``size``
    ``(H, W)`` when given, else at the CUB-like size the first draw picks (the size draws are made either way)."""
    # Over 60 lines on purpose: one drawing recipe read top to bottom, whose order of random draws defines the
    # benchmark; splitting it would invite reordering the draws, which would change every committed number.
    k = merged(CUB_KNOBS, knobs)
    drawn_h, _ = int(rng.integers(80, 113)), int(rng.integers(96, 145))  # the drawn width is no longer used
    h, w = size or _cub_size(drawn_h)
    ss = 2  # supersampling for anti-aliased edges
    H, W = h * ss, w * ss
    # Background: foliage/sky/bark fields plus branches and leaves whose colours may match any bird's.
    base = rng.uniform(0.15, 0.85, (3, 3))
    f1, f2 = _smooth_noise(rng, (H, W), 10 * ss), _smooth_noise(rng, (H, W), 3 * ss)
    wts = np.stack([f1, -f1, 0.6 * f2], -1)
    wts = np.exp(2 * wts) / np.exp(2 * wts).sum(-1, keepdims=True)
    bg = wts @ base + 0.06 * _smooth_noise(rng, (H, W), 1.0)[..., None]
    canvas = Image.fromarray((np.clip(bg, 0, 1) * 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(*k["branches"]))):  # branches
        x0, y0 = rng.uniform(0, W), rng.uniform(0, H)
        x1, y1 = x0 + rng.normal(0, W), y0 + rng.normal(0, H / 2)
        col = tuple(int(c) for c in rng.uniform(40, 200, 3))
        draw.line([(x0, y0), (x1, y1)], fill=col, width=int(rng.integers(2, 6) * ss))
    for _ in range(int(rng.integers(*k["leaves"]))):  # leaves
        cx, cy, r = rng.uniform(0, W), rng.uniform(0, H), rng.uniform(2, 7) * ss
        col = tuple(int(c) for c in rng.uniform(20, 230, 3))
        draw.polygon([tuple(p) for p in _polygon_ellipse(cx, cy, r, r * rng.uniform(0.3, 0.7), 12)], fill=col)
    # Bird pose.
    size = rng.uniform(*k["size"]) * min(H, W)
    ang = rng.uniform(-k["angle"], k["angle"])
    flip = -1.0 if rng.random() < 0.5 else 1.0
    cx, cy = rng.uniform(0.35, 0.65) * W, rng.uniform(0.4, 0.65) * H
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])

    def place(poly: np.ndarray) -> list[tuple[float, float]]:
        p = poly * size
        p[:, 0] *= flip
        p = p @ rot.T + [cx, cy]
        return [tuple(q) for q in p]

    mask = Image.new("L", (W, H), 0)
    mdraw = ImageDraw.Draw(mask)
    tint = np.clip(rng.normal(1.0, 0.08, 3), 0.7, 1.3)
    layer = Image.new("RGB", (W, H))
    ldraw = ImageDraw.Draw(layer)
    bg_col = bg[int(cy) % H, int(cx) % W] if k["camouflage"] else None  # the background where the bird sits
    for poly, part in _bird_parts(sp, rng):
        own = sp[part] if not k["camouflage"] else (1 - k["camouflage"]) * sp[part] + k["camouflage"] * bg_col
        col = tuple(int(c) for c in np.clip(own * tint, 0, 1) * 255)
        ldraw.polygon(place(poly), fill=col)
        mdraw.polygon(place(poly), fill=255)
    m = np.asarray(mask) > 127
    feather = 1 + 0.12 * _smooth_noise(rng, (H, W), 1.5 * ss)
    if sp["stripes"]:
        yy, xx = np.mgrid[0:H, 0:W]
        feather *= 1 + 0.18 * np.sign(np.sin((xx * np.cos(ang) + yy * np.sin(ang)) / (0.12 * size) * np.pi))
    bird = np.asarray(layer, float) / 255 * feather[..., None]
    img = np.where(m[..., None], bird, np.asarray(canvas, float) / 255)
    # An occluding twig in front of the bird now and then: annotators leave it out of the mask.
    if rng.random() < k["occlusion"]:
        occ = Image.new("L", (W, H), 0)
        x0 = cx + rng.normal(0, size / 2)
        ImageDraw.Draw(occ).line([(x0 - size, 0), (x0 + size, H)], fill=255, width=int(rng.integers(2, 4) * ss))
        o = np.asarray(occ) > 127
        img[o] = rng.uniform(0.2, 0.5, 3)
        m &= ~o
    img = np.asarray(Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).resize((w, h), Image.BOX))
    img = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
    # Soft mask: the mean of five annotators, each a little dilated or eroded.
    small = np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize((w, h), Image.BOX)) > 127
    votes = np.zeros((h, w))
    for _ in range(5):
        it = int(rng.integers(-1, 2))
        a = small if it == 0 else (ndimage.binary_dilation(small, iterations=it) if it > 0
                                   else ndimage.binary_erosion(small, iterations=-it))
        votes += a
    return img, (votes / 5 * 255).round().astype(np.uint8)


def write_cub_metadata(root: Path, classes: list[str], images: list[str], labels: list[str], split: list[str]) -> None:
    """CUB's four metadata files: ``classes.txt`` from class names, and ``images.txt``, ``image_class_labels.txt``,
    ``train_test_split.txt`` from their ``"<id> <value>"`` lines."""
    (root / "classes.txt").write_text("".join(f"{c + 1} {n}\n" for c, n in enumerate(classes)))
    for name, lines in (("images.txt", images), ("image_class_labels.txt", labels), ("train_test_split.txt", split)):
        (root / name).write_text("\n".join(lines) + "\n")


def write_cub_like(root: str | Path, *, seed: int = 0, scale: float = 1.0, n_classes: int = 6,
                   knobs: Mapping | None = None) -> Path:
    """Write a CUB-like benchmark in the CUB-200-2011 layout (``images.txt``, ``classes.txt``,
    ``image_class_labels.txt``, ``train_test_split.txt``, ``images/``, ``segmentations/`` with soft masks).

    Several species (colour patterns and proportions), each bird posed at random on a cluttered textured
    background whose colours may match the birds', sometimes occluded; width 128 and heights 84, 96 or 112. At
    ``scale=1``: 30 training and 20 test images per species. ``knobs`` overrides some of ``CUB_KNOBS`` (recorded in
    the marker when they differ from it). Returns ``root``.
    """
    k = merged(CUB_KNOBS, knobs)
    if not 2 <= n_classes <= len(_SPECIES):
        raise ConfigError(f"n_classes must be in [2, {len(_SPECIES)}], got {n_classes}")
    n_train, n_test = max(5, round(30 * scale)), max(3, round(20 * scale))
    rng = np.random.default_rng([seed, 11])
    species = [_species(rng) for _ in range(n_classes)]
    classes = [f"{c + 1:03d}.{_SPECIES[c]}" for c in range(n_classes)]

    def write(tmp: Path) -> None:
        images, labels, split = [], [], []
        iid = 0
        for c, cname in enumerate(classes):
            (tmp / "images" / cname).mkdir(parents=True)
            (tmp / "segmentations" / cname).mkdir(parents=True)
            for j in range(n_train + n_test):
                iid += 1
                r = np.random.default_rng([seed, 12, c, j])
                img, soft = _cub_image(r, species[c], knobs=k)
                stem = f"{_SPECIES[c]}_{j + 1:04d}_{iid}"
                Image.fromarray(img, "RGB").save(tmp / "images" / cname / f"{stem}.jpg", quality=92)
                Image.fromarray(soft, "L").save(tmp / "segmentations" / cname / f"{stem}.png")
                images.append(f"{iid} {cname}/{stem}.jpg")
                labels.append(f"{iid} {c + 1}")
                split.append(f"{iid} {int(j < n_train)}")
        write_cub_metadata(tmp, classes, images, labels, split)

    params = {"kind": "cub", "seed": seed, "scale": scale, "n_classes": n_classes, "geometry": "demo"}
    if changed(CUB_KNOBS, k):
        params["knobs"] = changed(CUB_KNOBS, k)
    return write_atomic(Path(root), params, write)
