"""The public contract's ``paperlib.similarity``: colour histograms, JSD and the same-class kNN of U'' (defined in
:mod:`paperlib.core.similarity`)."""

from .core.similarity import class_distances, colour_histogram, histograms, jsd, select_pseudo  # noqa: F401
