"""The GPU side: picking CuPy only where a CUDA device exists, compiling and launching the
generated neuron kernels. Nothing here imports CuPy at module import time."""

from __future__ import annotations

import functools
import os
from types import ModuleType
from typing import Any

import numpy as np

from ...errors import EmitError, InputError
from .kernels import OPTIONS, kernel_name, kernel_source
from .program import NeuronSpec

THREADS = 256


def array_module(name: str) -> ModuleType:
    """``numpy``, or ``cupy`` when CuPy imports and sees a CUDA device (one clear error
    otherwise)."""
    if name == "numpy":
        return np
    if name != "cupy":
        raise InputError(f"unknown array backend {name!r}; use numpy or cupy")
    try:
        import cupy
    except ImportError:
        raise InputError(
            "backend cupy needs CuPy (pip install cupy-cuda12x); use --backend numpy or torch"
        ) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as exc:
        raise InputError(
            f"backend cupy needs a CUDA device, and CUDA reports: {exc}; "
            "use --backend numpy or torch"
        ) from None
    if count == 0:
        raise InputError("backend cupy needs a CUDA device; none is visible")
    return cupy


def nvrtc_ptx(source: str, arch: str = "compute_80") -> str:
    """Compile ``source`` to PTX with NVRTC (no GPU needed: NVRTC and the CUDA headers are
    enough). Raises :class:`EmitError` with the compiler log when it does not compile."""
    import cupy
    from cupy_backends.cuda.libs import nvrtc

    include = os.path.join(cupy.cuda.get_cuda_path() or "", "include")
    prog = nvrtc.createProgram(source, "sjconvert_neuron.cu", [], [])
    try:
        nvrtc.compileProgram(prog, [f"-arch={arch}", f"-I{include}", *OPTIONS])
    except nvrtc.NVRTCError as exc:
        log = nvrtc.getProgramLog(prog)
        raise EmitError(f"neuron kernel does not compile: {exc}; {log}") from None
    ptx = nvrtc.getPTX(prog)
    nvrtc.destroyProgram(prog)
    return ptx.decode() if isinstance(ptx, bytes) else ptx


@functools.cache
def compiled(spec: NeuronSpec, dtype: str, device: int) -> Any:
    """The CuPy ``RawKernel`` for ``spec``, compiled once per device (CuPy also keeps the
    binary in its on-disk cache)."""
    import cupy

    with cupy.cuda.Device(device):
        return cupy.RawKernel(kernel_source(spec, dtype), kernel_name(spec, dtype), OPTIONS)


def launch(
    spec: NeuronSpec,
    x: Any,
    v: Any,
    th: Any,
    steps: int,
    static: bool,
    inner: int,
    channels: int,
) -> Any:
    """Run the fused kernel over ``steps`` steps; ``v`` is updated in place.

    ``x`` is ``[n]`` (static) or ``[steps, n]``, ``v`` ``[n]`` and ``th`` ``[channels]``,
    all contiguous CuPy arrays of one dtype; float16 layers need an even ``n``. Returns the
    spikes ``[steps, n]``."""
    import cupy

    dtype = str(v.dtype)
    lanes = 2 if dtype == "float16" else 1
    n = v.size // lanes
    s = cupy.empty((steps, v.size), dtype=v.dtype)
    kernel = compiled(spec, dtype, v.device.id)
    sizes = (np.int64(n), np.int32(steps), np.int64(0 if static else n))
    args = (x, s, v, th, *sizes, np.int64(inner), np.int64(channels))
    kernel(((n + THREADS - 1) // THREADS,), (THREADS,), args)
    return s
