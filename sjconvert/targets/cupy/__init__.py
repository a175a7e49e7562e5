"""The ``cupy`` target: the converted network as a simulation over arrays — on a GPU (CuPy
and a CUDA device) every stateful layer runs as one generated, cached CUDA kernel covering
all steps of a block; the same graph runs with NumPy on the CPU. See ``docs/cupy.md``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ...errors import InputError
from ...exec.arrays import Arrays
from ...exec.arraysim import ArraySimulator
from ...exec.schedule import BLOCK_ELEMENTS
from ...ir import nodes as ir
from ...ir.graph import Graph
from .device import array_module, launch
from .kernels import kernel_name, kernel_source
from .ops import REGISTRY, Context

GPU_BLOCK_ELEMENTS = 1 << 29  # 2 GiB per float32 temporal tensor

__all__ = ["REGISTRY", "Context", "kernel_name", "kernel_source", "simulation", "to_cupy"]


def to_cupy(graph: Graph, backend: str = "cupy", dtype: str = "float32") -> ArraySimulator:
    """The simulation of ``graph`` over arrays: on the GPU with ``backend="cupy"`` (fused
    neuron kernels; every other op runs its torch kernel on the CuPy memory through
    DLPack, so torch must see CUDA), or with NumPy on the CPU (``backend="numpy"``).
    Raises :class:`InputError` when CuPy, a device or a CUDA torch is missing and
    :class:`UnsupportedOpError` listing every node the target cannot run."""
    REGISTRY.check(graph)
    if dtype not in ("float32", "float16"):
        raise InputError(f"dtype must be float32 or float16, got {dtype!r}")
    xp = array_module(backend)
    if xp is not np and not torch.cuda.is_available():
        raise InputError(
            "backend cupy runs synapses, pooling and data movement as torch kernels on the "
            "GPU, and this torch has no CUDA: install a CUDA build of torch or use --backend "
            "numpy"
        )
    ctx = Context(Arrays(xp, np.dtype(dtype)), None if xp is np else launch)
    return simulation(graph, ctx, BLOCK_ELEMENTS if xp is np else GPU_BLOCK_ELEMENTS)


def simulation(graph: Graph, ctx: Context, block: int = BLOCK_ELEMENTS) -> ArraySimulator:
    """The array simulation of ``graph`` with every node from this target's emitters."""

    def emit(name: str, node: ir.Node, arrays: Arrays) -> Any:
        return REGISTRY.emitter(graph, name)(name, node, ctx)

    arrays = ctx.arrays
    return ArraySimulator(
        graph, arrays.xp, arrays.dtype, stateless=emit, stateful=emit, block_elements=block
    )
