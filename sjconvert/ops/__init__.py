"""Each op's semantics, written once: torch kernels for stateless ops and rate models
(:mod:`.kernels`), step programs for stateful nodes (:mod:`.program`, :mod:`.neurons`), and
the event count and running-mean readout every executor reports (:mod:`.readout`).
Every executor in :mod:`sjconvert.exec` and every target runs or generates from these."""

from . import expectation, modern  # register the modern ops' kernels and programs
from .chain import ELEMENTWISE, chain, elementwise_program, in_chain
from .kernels import KERNELS, RATES, channel_view, entry, kernel, prepare, rate
from .neurons import PROGRAMS, has_program, program_for, step_program
from .program import C_EXPRESSIONS, FUNCTIONS, Op, StepProgram, compile_inplace, run_pure
from .readout import ACCUMULATOR, events, running_sum, static_means

__all__ = [
    "ACCUMULATOR",
    "C_EXPRESSIONS",
    "ELEMENTWISE",
    "FUNCTIONS",
    "KERNELS",
    "PROGRAMS",
    "RATES",
    "Op",
    "StepProgram",
    "chain",
    "channel_view",
    "compile_inplace",
    "elementwise_program",
    "entry",
    "events",
    "expectation",
    "has_program",
    "in_chain",
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
