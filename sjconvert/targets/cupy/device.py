"""The GPU side: picking CuPy only where a CUDA device exists, compiling and launching the
generated kernels. Nothing here imports CuPy at module import time."""

from __future__ import annotations

import functools
import os
from types import ModuleType
from typing import Any

import numpy as np

from ...errors import EmitError, InputError
from ...ops import StepProgram
from .kernels import OPTIONS, kernel_name, kernel_source

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
def compiled(source: str, name: str, device: int) -> Any:
    """The CuPy ``RawKernel`` for a generated source, compiled once per device (CuPy also
    keeps the binary in its on-disk cache)."""
    import cupy

    with cupy.cuda.Device(device):
        return cupy.RawKernel(source, name, OPTIONS)


def launch(
    program: StepProgram,
    x: Any,
    y: Any,
    state: list[Any],
    channels: list[Any],
    static: bool,
    inner: int,
    n_channels: int,
) -> None:
    """Run the fused kernel of ``program`` over the ``steps`` rows of the output ``y``
    ``[steps, n]``; each state register (``[n]``) is updated in place. ``x`` is ``[n]``
    (static) or ``[steps, n]``, per-channel constants ``[n_channels]`` (in the program's
    sorted order), all contiguous CuPy arrays of one dtype; float16 layers need an even
    ``n``."""
    dtype = str(y.dtype)
    lanes = 2 if dtype == "float16" else 1
    steps, n = y.shape[0], y.shape[1] // lanes
    kernel = compiled(kernel_source(program, dtype), kernel_name(program, dtype), y.device.id)
    sizes = (np.int64(n), np.int32(steps), np.int64(0 if static else n))
    args = (x, y, *state, *channels, *sizes, np.int64(inner), np.int64(n_channels))
    kernel(((n + THREADS - 1) // THREADS,), (THREADS,), args)
