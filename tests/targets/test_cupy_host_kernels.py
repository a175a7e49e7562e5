"""The generated CUDA neuron kernels, compiled for the CPU with a small host shim and run
thread by thread: the very source CuPy would compile (indexing, static-input stride,
per-channel thresholds, half2 lane pairs) must give the reference's spikes.

The shim models the CUDA built-ins: ``blockIdx``/``threadIdx`` as variables set by a loop
over threads, ``half`` as ``_Float16`` and each ``half2`` intrinsic as the IEEE half
operation on both lanes (computed in float, rounded once to half, which is exact for
+, −, ×, ÷). It checks the generated code, not NVIDIA's intrinsics themselves.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from sjconvert.exec.arrays import Arrays, run_node
from sjconvert.ir import nodes as ir
from sjconvert.ops import StepProgram, channel_view, step_program
from sjconvert.targets.cupy.kernels import kernel_name, kernel_source

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


NODES = [
    ir.IF(1.0, None),
    ir.IF([0.5, 1.0, 0.75], -0.5, [0.25, 0.0, -0.25]),
    ir.LIF(2.0, 0.75, 0.25, True),
    ir.LIF(4.0, [1.0, 0.5, 0.75], None, False, 0.5, 0.25),
    ir.LIF(2.5, 0.7, 0.0, True),
    ir.CubaLIF(0.5, 0.75, [0.5, 1.0, 0.75], None, 0.25),
    ir.LI(4.0, -0.5),
    ir.SignedIF(1.0, 0.5),
    ir.SignedIF([0.5, 1.0, 0.75], [0.25, 0.0, 0.5], max_spikes=3),
    ir.Accumulate(),
    ir.Difference(),
]


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler (g++)")
@pytest.mark.parametrize("static", [False, True], ids=["sequence", "static"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("node", NODES, ids=lambda n: n.op)
def test_generated_kernel_source_runs_like_the_reference(node, dtype, static, tmp_path) -> None:
    T, shape = 12, (4, 3, 5)  # 5 neurons per channel: half2 lane pairs straddle channels
    r = np.random.default_rng(0)
    x = (r.normal(size=shape if static else (T, *shape)) * 0.8).astype(dtype)
    want_s, want_state = run_node(node, x, T, static, None, Arrays(np, np.dtype(dtype)))
    if dtype == "float32":  # the NumPy program is itself the reference, bit for bit
        ref_s, _ = run_node(node, torch.from_numpy(x), T, static=static)
        np.testing.assert_array_equal(want_s, ref_s.numpy())
    prog = step_program(node)
    state = [
        np.ascontiguousarray(np.broadcast_to(channel_view(prog.init[r], len(shape)), shape), dtype)
        for r in prog.state
    ]
    chans = [np.ascontiguousarray(prog.channels[k].astype(dtype)) for k in sorted(prog.channels)]
    y = np.empty((T, *shape), dtype)
    lanes = 2 if dtype == "float16" else 1
    n = state[0].size // lanes
    width = max((c.size for c in chans), default=1)
    sizes = [ctypes.c_longlong(n), ctypes.c_int(T), ctypes.c_longlong(0 if static else n)]
    tail = [ctypes.c_longlong(5), ctypes.c_longlong(width)]
    ptr = [ctypes.c_void_p(x.ctypes.data), ctypes.c_void_p(y.ctypes.data)]
    lib = _host_kernel(prog, dtype, tmp_path)
    lib.sj_launch(*ptr, _pointers(state), _pointers(chans), *sizes, *tail)
    np.testing.assert_array_equal(y, want_s)
    for reg, value in zip(prog.state, state, strict=True):
        np.testing.assert_array_equal(value, want_state[reg])
