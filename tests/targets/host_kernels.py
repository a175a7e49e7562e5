"""The generated CUDA kernels compiled for the CPU with a small host shim and run thread by
thread: the very source CuPy would compile (indexing, static-input stride, per-channel
constants, half2 lane pairs), launched the way :func:`sjconvert.targets.cupy.device.launch`
launches it, so the CuPy target's code path runs here with NumPy arrays standing in for CuPy's.

The shim models the CUDA built-ins: ``blockIdx``/``threadIdx`` as variables set by a loop
over threads, ``half`` as ``_Float16`` and each ``half2`` intrinsic as the IEEE half
operation on both lanes (computed in float, rounded once to half, which is exact for
+, −, ×, ÷). It checks the generated code, not NVIDIA's intrinsics themselves.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from sjconvert.ops import StepProgram
from sjconvert.targets.cupy.kernels import kernel_name, kernel_source

HAS_COMPILER = shutil.which("g++") is not None

SHIM = r"""
#include <cmath>
struct sj_dim { long long x; };
static sj_dim blockIdx = {0}, blockDim = {1}, threadIdx = {0};
#define __global__
#define __device__
#define __forceinline__ inline
typedef _Float16 half;
struct half2 { half x, y; };
static inline half2 __halves2half2(half a, half b) { return {a, b}; }
static inline half __low2half(half2 a) { return a.x; }
static inline half __high2half(half2 a) { return a.y; }
static inline float __low2float(half2 a) { return (float)a.x; }
static inline float __high2float(half2 a) { return (float)a.y; }
static inline half2 __float2half2_rn(float f) { half h = (half)f; return {h, h}; }
#define SJ_LANES(name, expr) static inline half2 name(half2 a, half2 b) { \
    float ax = (float)a.x, bx = (float)b.x, ay = (float)a.y, by = (float)b.y; \
    return {(half)(expr(ax, bx)), (half)(expr(ay, by))}; }
#define SJ_ADD(p, q) ((p) + (q))
#define SJ_SUB(p, q) ((p) - (q))
#define SJ_MUL(p, q) ((p) * (q))
#define SJ_DIV(p, q) ((p) / (q))
#define SJ_GE(p, q) ((p) >= (q) ? 1.0f : 0.0f)
#define SJ_MIN(p, q) fminf(p, q)
#define SJ_MAX(p, q) fmaxf(p, q)
SJ_LANES(__hadd2, SJ_ADD) SJ_LANES(__hsub2, SJ_SUB) SJ_LANES(__hmul2, SJ_MUL)
SJ_LANES(__h2div, SJ_DIV) SJ_LANES(__hge2, SJ_GE) SJ_LANES(__hmin2, SJ_MIN)
SJ_LANES(__hmax2, SJ_MAX)
static inline half2 h2floor(half2 a) {
    return {(half)floorf((float)a.x), (half)floorf((float)a.y)};
}
"""


def _launcher(prog: StepProgram) -> str:
    """A host function running the kernel thread by thread (pointers to state registers and
    per-channel constants passed as arrays of pointers, in the kernel's order)."""
    state = "".join(f", (T*)state[{k}]" for k in range(len(prog.state)))
    chans = "".join(f", (const E*)chans[{k}]" for k in range(len(prog.channels)))
    return (
        'extern "C" void sj_launch(void* x, void* y, void** state, void** chans, long long n,'
        " int steps, long long x_stride, long long inner, long long channels) {\n"
        "    for (long long i = 0; i < n; ++i) {\n        blockIdx.x = i;\n"
        f"        KERNEL((const T*)x, (T*)y{state}{chans}, n, steps, x_stride, inner, channels);"
        "\n    }\n}\n"
    )


def _host_kernel(prog: StepProgram, dtype: str, folder: Path) -> ctypes.CDLL:
    src = kernel_source(prog, dtype).replace("#include <cuda_fp16.h>", "")
    t, e = ("half2", "half") if dtype == "float16" else ("float", "float")
    defs = f"#define KERNEL {kernel_name(prog, dtype)}\n#define T {t}\n#define E {e}\n"
    path = folder / f"{kernel_name(prog, dtype)}.cpp"
    path.write_text(SHIM + src + defs + _launcher(prog))
    lib = path.with_suffix(".so")
    cmd = ["g++", "-O1", "-std=c++17", "-ffp-contract=off", "-shared", "-fPIC"]
    subprocess.run([*cmd, "-o", str(lib), str(path)], check=True, capture_output=True)
    return ctypes.CDLL(str(lib))


def _pointers(arrays: list[np.ndarray]) -> ctypes.Array:
    return (ctypes.c_void_p * max(1, len(arrays)))(*[a.ctypes.data for a in arrays])


@functools.cache
def _folder() -> Path:
    """One folder per test process for the compiled kernels, removed when the process ends."""
    folder = tempfile.mkdtemp(prefix="sj_host_kernels_")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Path(folder)


@functools.cache
def _cached(signature: Any, dtype: str, prog: StepProgram) -> ctypes.CDLL:
    return _host_kernel(prog, dtype, _folder())


def host_kernel(prog: StepProgram, dtype: str) -> ctypes.CDLL:
    """The kernel of ``prog`` compiled for the host, once per program signature."""
    return _cached(prog.signature, dtype, prog)


def host_launch(
    program: StepProgram,
    x: np.ndarray,
    y: np.ndarray,
    state: list[np.ndarray],
    channels: list[np.ndarray],
    static: bool,
    inner: int,
    n_channels: int,
) -> None:
    """:func:`sjconvert.targets.cupy.device.launch` for NumPy arrays: the same kernel source,
    the same arguments, run on the host."""
    dtype = str(y.dtype)
    lanes = 2 if dtype == "float16" else 1
    steps, n = y.shape[0], y.shape[1] // lanes
    lib = host_kernel(program, dtype)
    sizes = [ctypes.c_longlong(n), ctypes.c_int(steps), ctypes.c_longlong(0 if static else n)]
    tail = [ctypes.c_longlong(inner), ctypes.c_longlong(n_channels)]
    ptr = [ctypes.c_void_p(x.ctypes.data), ctypes.c_void_p(y.ctypes.data)]
    lib.sj_launch(*ptr, _pointers(state), _pointers(channels), *sizes, *tail)
