"""The ``cupy`` target: the converted network as an array-module-agnostic simulation graph.

On a GPU (CuPy + a CUDA device) neuron layers run as generated, cached CUDA kernels covering
all T steps; the same graph runs with NumPy on the CPU. See ``docs/cupy.md``.
"""

from . import ops
from .graph import ArrayResult, SimGraph, to_cupy
from .kernels import kernel_source
from .program import NeuronSpec, program

__all__ = ["ArrayResult", "NeuronSpec", "SimGraph", "kernel_source", "ops", "program", "to_cupy"]
