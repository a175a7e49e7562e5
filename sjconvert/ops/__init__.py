"""Each op's semantics, written once: torch kernels for stateless ops and rate models
(:mod:`.kernels`), and step programs for stateful nodes (:mod:`.program`, :mod:`.neurons`).
Every executor in :mod:`sjconvert.exec` and every target runs or generates from these."""

from . import expectation, modern  # register the modern ops' kernels and programs
from .kernels import KERNELS, RATES, channel_view, entry, kernel, prepare, rate
from .neurons import PROGRAMS, has_program, program_for, step_program
from .program import FUNCTIONS, Op, StepProgram, compile_inplace, run_pure

__all__ = [
    "FUNCTIONS",
    "KERNELS",
    "PROGRAMS",
    "RATES",
    "Op",
    "StepProgram",
    "channel_view",
    "compile_inplace",
    "entry",
    "expectation",
    "has_program",
    "kernel",
    "modern",
    "prepare",
    "program_for",
    "rate",
    "run_pure",
    "step_program",
]
