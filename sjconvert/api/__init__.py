"""The Python API (what the CLI calls): conversion, simulation and the docs generator."""

from .convert import Conversion, ann2snn, open_snn
from .simulate import executor, measure_lossy, simulate

__all__ = ["Conversion", "ann2snn", "executor", "measure_lossy", "open_snn", "simulate"]
