"""paperlib: deep active learning for joint classification & segmentation with a weak annotator.

A reproducible implementation of Belharbi et al. The module map is in README ("Package layout").
"""

__version__ = "0.1.0"
