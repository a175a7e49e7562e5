"""The Python API (what the CLI calls): conversion, simulation, parity across backends,
plots and the docs generator."""

from ..passes.options import CALIB_STEPS, DEFAULT_BURST, PLAIN, ConversionOptions
from .convert import Conversion, ann2snn, is_plain, open_snn
from .files import read_ir, read_with_source
from .parity import parity
from .report import ParityReport
from .simulate import executor, measure_lossy, simulate

__all__ = [
    "CALIB_STEPS",
    "DEFAULT_BURST",
    "PLAIN",
    "Conversion",
    "ConversionOptions",
    "ParityReport",
    "ann2snn",
    "executor",
    "is_plain",
    "measure_lossy",
    "open_snn",
    "parity",
    "read_ir",
    "read_with_source",
    "simulate",
]
