"""Images on disk -> :class:`Splits`: the GlaS and CUB layouts, the dataset file, the paper's folds and the synthetic
benchmarks."""

from .datasets import (
    GLAS_CLASSES,
    Record,
    SegDataset,
    Splits,
    check_records,
    cub_mask,
    from_config,
    image_file_size,
    load,
    load_csv,
    load_cub,
    load_glas,
    read_image,
    read_mask,
)
from .folds import DataError

__all__ = ["GLAS_CLASSES", "DataError", "Record", "SegDataset", "Splits", "check_records", "cub_mask", "from_config",
           "image_file_size", "load", "load_csv", "load_cub", "load_glas", "read_image", "read_mask"]
