"""The Python API (what the CLI calls): conversion, simulation and the docs generator."""

from .convert import Conversion, ann2snn, open_snn
from .files import read_ir, read_with_source
from .simulate import executor, measure_lossy, simulate

__all__ = [
    "Conversion",
    "ann2snn",
    "executor",
    "measure_lossy",
    "open_snn",
    "read_ir",
    "read_with_source",
    "simulate",
]
