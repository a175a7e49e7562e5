"""Frontends: what brings a user's model and data into sjconvert — torch.fx capture
(:mod:`.capture`, :mod:`.builders`), ONNX import (:mod:`.onnx`) and model / data loading
(:mod:`.loading`)."""

from .capture import capture
from .loading import Batch, DataSource, import_object, load_data, load_model
from .modern import register

register()

__all__ = ["Batch", "DataSource", "capture", "import_object", "load_data", "load_model"]
