"""What the notebooks call inside their kernel: set-up, plots, the paper's reference numbers, the round browser and
the annotate widget."""

from .context import Context, device_line, record_provenance, setup

__all__ = ["Context", "device_line", "record_provenance", "setup"]
