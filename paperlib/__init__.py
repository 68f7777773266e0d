"""paperlib: deep active learning for joint classification & segmentation with a weak annotator.

A reproducible implementation of Belharbi et al. Modules (DESIGN §3): ``config``, ``data``, ``synthetic``,
``model``, ``train``, ``metrics``, ``store``, ``baseline``.
"""

__version__ = "0.1.0"
