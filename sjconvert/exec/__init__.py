"""Executors: one interpreter (:mod:`.schedule`) with backends — the torch reference
simulator (:mod:`.reference`), NumPy/CuPy arrays (:mod:`.arraysim`) and the exportable torch
module (:mod:`.module`) — plus shape inference and the parity meter."""

from .arraysim import ArrayResult, ArraySimulator
from .data_layout import batch_steps, is_sequence, model_input, sample_major
from .module import SpikingNet
from .parity import Agreement, ParityMeter, reference_run
from .plan import time_block
from .reference import SimResult, Simulator, run
from .schedule import Schedule
from .shapes import infer_shapes, with_shapes

__all__ = [
    "Agreement",
    "ArrayResult",
    "ArraySimulator",
    "ParityMeter",
    "Schedule",
    "SimResult",
    "Simulator",
    "SpikingNet",
    "batch_steps",
    "infer_shapes",
    "is_sequence",
    "model_input",
    "reference_run",
    "run",
    "sample_major",
    "time_block",
    "with_shapes",
]
