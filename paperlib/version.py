"""The package's version (``paperlib.__version__``; recorded in every provenance entry)."""

__version__ = "0.2.0"
