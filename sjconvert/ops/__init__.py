"""Each op's semantics, written once: torch kernels for stateless ops and rate models
(:mod:`.kernels`), step programs for stateful nodes (:mod:`.program`, :mod:`.neurons`), and
the event count and running-mean readout every executor reports (:mod:`.readout`).
Every executor in :mod:`sjconvert.exec` and every target runs or generates from these."""

from . import expectation, modern  # register the modern ops' kernels and programs
from .kernels import KERNELS, RATES, channel_view, entry, kernel, prepare, rate
from .neurons import PROGRAMS, has_program, program_for, step_program
from .program import C_EXPRESSIONS, FUNCTIONS, Op, StepProgram, compile_inplace, run_pure
from .readout import ACCUMULATOR, events, running_sum, static_means

__all__ = [
    "ACCUMULATOR",
    "C_EXPRESSIONS",
    "FUNCTIONS",
    "KERNELS",
    "PROGRAMS",
    "RATES",
    "Op",
    "StepProgram",
    "channel_view",
    "compile_inplace",
    "entry",
    "events",
    "expectation",
    "has_program",
    "kernel",
    "modern",
    "prepare",
    "program_for",
    "rate",
    "run_pure",
    "running_sum",
    "static_means",
    "step_program",
]
