"""The Python API (what the CLI calls): conversion, simulation and the docs generator."""

from .convert import CALIB_STEPS, DEFAULT_BURST, Conversion, ann2snn, open_snn
from .simulate import executor, measure_lossy, simulate

__all__ = [
    "CALIB_STEPS",
    "DEFAULT_BURST",
    "Conversion",
    "ann2snn",
    "executor",
    "measure_lossy",
    "open_snn",
    "simulate",
]
