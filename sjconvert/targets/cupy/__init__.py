"""The ``cupy`` target: the converted network as a simulation over arrays — on a GPU (CuPy
and a CUDA device) every stateful layer runs as one generated, cached CUDA kernel covering
all steps of a block; the same graph runs with NumPy on the CPU. See ``docs/cupy.md``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ...errors import InputError, UnsupportedOpError
from ...exec.arrays import Arrays
from ...exec.arraysim import ArraySimulator
from ...exec.schedule import BLOCK_ELEMENTS
from ...ir import nodes as ir
from ...ir.graph import Graph
from .device import array_module
from .kernels import kernel_name, kernel_source
from .ops import REGISTRY, Context, native_problems

GPU_BLOCK_ELEMENTS = 1 << 29  # 2 GiB per float32 temporal tensor

__all__ = ["REGISTRY", "Context", "kernel_name", "kernel_source", "to_cupy"]


def to_cupy(
    graph: Graph, backend: str = "cupy", dtype: str = "float32", synapses: str = "auto"
) -> ArraySimulator:
    """The simulation of ``graph`` over arrays: on the GPU with ``backend="cupy"`` (fused
    kernels, synapses in torch via DLPack or in CuPy), or with NumPy on the CPU
    (``backend="numpy"``). Raises :class:`InputError` when CuPy or a device is missing and
    :class:`UnsupportedOpError` listing every node the target cannot run."""
    REGISTRY.check(graph)
    if dtype not in ("float32", "float16"):
        raise InputError(f"dtype must be float32 or float16, got {dtype!r}")
    xp = array_module(backend)
    if synapses == "auto":
        synapses = "torch" if xp is np or torch.cuda.is_available() else "native"
    if synapses not in ("torch", "native"):
        raise InputError(f"synapses must be torch, native or auto, got {synapses!r}")
    if synapses == "native" and (bad := native_problems(graph)):
        raise UnsupportedOpError(f"cupy (native synapses) cannot run: {'; '.join(bad)}")
    ctx = Context(Arrays(xp, np.dtype(dtype)), synapses)

    def emit(name: str, node: ir.Node, arrays: Arrays) -> Any:
        return REGISTRY.emitter(graph, name)(name, node, ctx)

    block = BLOCK_ELEMENTS if xp is np else GPU_BLOCK_ELEMENTS
    return ArraySimulator(graph, xp, dtype, stateless=emit, stateful=emit, block_elements=block)
