"""Colour histograms, Jensen-Shannon divergence, same-class distances and the selection of U'' (paper Fig. 2).

Histogram recipe (as in the reference code): RGB, saturation x3, resize to height 128, 3x3 Gaussian blur
(sigma 0.9, mirrored borders), 256 bins per plane over [0, 1], each plane normalised to sum 1. The distance of two
same-class images is their per-plane JSD divided by that plane's total over the class's pairs, summed over planes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance
from scipy import ndimage

from ..progress import progress_bar
from .images import rgb8

BINS = 256
HEIGHT = 128


def _gaussian_kernel(size: int = 3, sigma: float = 0.9) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2
    k = np.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def colour_histogram(path: str | Path) -> np.ndarray:
    """Per-plane colour histogram of an image file, ``3x256``, each row summing to 1."""
    with Image.open(path) as img:
        rgb = ImageEnhance.Color(rgb8(img, path)).enhance(3.0)
    w, h = rgb.size
    rgb = rgb.resize((max(1, round(w * HEIGHT / h)), HEIGHT), Image.BICUBIC)
    arr = np.asarray(rgb, dtype=np.float64) / 255.0
    k = _gaussian_kernel()
    arr = ndimage.correlate1d(arr, k, axis=0, mode="mirror")
    arr = ndimage.correlate1d(arr, k, axis=1, mode="mirror")
    idx = np.clip((arr * BINS).astype(np.int64), 0, BINS - 1)
    hist = np.stack([np.bincount(idx[..., c].ravel(), minlength=BINS) for c in range(3)]).astype(np.float64)
    hist += 1e-8
    return hist / hist.sum(1, keepdims=True)


def histograms(paths: Sequence[str | Path], progress: bool = True, workers: int = 1) -> np.ndarray:
    """Colour histograms of image files, ``Nx3x256``; ``workers`` > 1 reads them in that many processes."""
    if workers <= 1 or len(paths) < 64:
        bar = progress_bar(paths, desc="colour histograms", disable=not progress)
        return np.stack([colour_histogram(p) for p in bar])
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        it = pool.map(colour_histogram, paths, chunksize=64)
        return np.stack(list(progress_bar(it, total=len(paths), desc="colour histograms", disable=not progress)))


def jsd(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence (natural log) over the last axis, broadcasting the others."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(a > 0, a * np.log(a / m), 0.0)
        return t.sum(-1)

    return 0.5 * kl(p) + 0.5 * kl(q)


def class_distances(hists: np.ndarray, labels: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Same-class distances ``NxN`` from histograms ``Nx3xB``; ``inf`` between classes and 0 on the diagonal.

    Per class: per-plane JSD of every pair, divided by the plane's sum over all pairs of the class, summed over
    planes. Rows are processed ``chunk`` at a time to bound memory.
    """
    hists, labels = np.asarray(hists, dtype=np.float64), np.asarray(labels)
    n = len(labels)
    dist = np.full((n, n), np.inf)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        h = hists[idx]
        prox = np.empty((idx.size, idx.size, h.shape[1]))
        for s in range(0, idx.size, chunk):
            prox[s:s + chunk] = jsd(h[s:s + chunk, None], h[None])
        z = prox.sum((0, 1))
        d = (prox / np.where(z > 0, z, 1.0)).sum(-1)
        np.fill_diagonal(d, 0.0)
        dist[np.ix_(idx, idx)] = d
    return dist


def select_pseudo(dist: np.ndarray, labels: np.ndarray, labeled: np.ndarray, k: int) -> np.ndarray:
    """U'' as a boolean mask ``(N,)``: an unlabeled sample is in it when one of its ``k`` nearest same-class
    samples by ``dist`` (itself excluded; ties broken by index) is labeled. kNN is taken per *unlabeled* sample."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    dist, labels = np.asarray(dist, dtype=np.float64), np.asarray(labels)
    labeled = np.asarray(labeled, dtype=bool)
    n = labels.size
    if dist.shape != (n, n) or labeled.shape != (n,):
        raise ValueError(f"select_pseudo: dist {dist.shape}, labels {labels.shape}, labeled {labeled.shape} differ")
    out = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(~labeled):
        same = np.flatnonzero((labels == labels[i]) & (np.arange(n) != i))
        if same.size == 0:
            continue
        nearest = same[np.argsort(dist[i, same], kind="stable")[:k]]
        out[i] = bool(labeled[nearest].any())
    return out
