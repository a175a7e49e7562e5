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

from sjconvert.ir import nodes as ir
from sjconvert.sim.neurons import run_neuron
from sjconvert.targets.cupy.kernels import kernel_name, kernel_source
from sjconvert.targets.cupy.neurons import NeuronLayer
from sjconvert.targets.cupy.program import NeuronSpec

SHIM = r"""
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
SJ_LANES(__hadd2, SJ_ADD) SJ_LANES(__hsub2, SJ_SUB) SJ_LANES(__hmul2, SJ_MUL)
SJ_LANES(__h2div, SJ_DIV) SJ_LANES(__hge2, SJ_GE)
"""

LAUNCH = r"""
extern "C" void sj_launch(void* x, void* s, void* v, const void* th, long long n, int steps,
                          long long x_stride, long long inner, long long channels) {
    for (long long i = 0; i < n; ++i) {
        blockIdx.x = i;
        KERNEL((const T*)x, (T*)s, (T*)v, (const E*)th, n, steps, x_stride, inner, channels);
    }
}
"""


def _host_kernel(spec: NeuronSpec, dtype: str, folder: Path) -> ctypes.CDLL:
    src = kernel_source(spec, dtype).replace("#include <cuda_fp16.h>", "")
    t, e = ("half2", "half") if dtype == "float16" else ("float", "float")
    defs = f"#define KERNEL {kernel_name(spec, dtype)}\n#define T {t}\n#define E {e}\n"
    path = folder / f"{kernel_name(spec, dtype)}.cpp"
    path.write_text(SHIM + src + defs + LAUNCH)
    lib = path.with_suffix(".so")
    cmd = ["g++", "-O1", "-std=c++17", "-ffp-contract=off", "-shared", "-fPIC"]
    subprocess.run([*cmd, "-o", str(lib), str(path)], check=True, capture_output=True)
    return ctypes.CDLL(str(lib))


NODES = [
    ir.IF(1.0, None),
    ir.IF([0.5, 1.0, 0.75], -0.5, [0.25, 0.0, -0.25]),
    ir.LIF(2.0, 0.75, 0.25, True),
    ir.LIF(4.0, [1.0, 0.5, 0.75], None, False, 0.5, 0.25),
    ir.LIF(2.5, 0.7, 0.0, True),
]


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler (g++)")
@pytest.mark.parametrize("static", [False, True], ids=["sequence", "static"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("node", NODES, ids=lambda n: f"{n.op}-{n.reset_mode}")
def test_generated_kernel_source_runs_like_the_reference(node, dtype, static, tmp_path) -> None:
    T, shape = 12, (4, 3, 5)  # 5 neurons per channel: half2 lane pairs straddle channels
    r = np.random.default_rng(0)
    x = (r.normal(size=shape if static else (T, *shape)) * 0.8).astype(dtype)
    layer = NeuronLayer(node, np, np.dtype(dtype))
    want_s, want_v = layer(x, T, static=static)
    if dtype == "float32":  # the NumPy program is itself the reference, bit for bit
        ref_s, _ = run_neuron(node, torch.from_numpy(x), T, static=static)
        np.testing.assert_array_equal(want_s, ref_s.numpy())
    v = np.empty(shape, dtype)
    v[...] = layer._channels(layer.v_init, len(shape))
    th = np.ascontiguousarray(layer.threshold.reshape(-1))
    s = np.empty((T, *shape), dtype)
    lanes = 2 if dtype == "float16" else 1
    n = v.size // lanes
    ptr = [a.ctypes.data_as(ctypes.c_void_p) for a in (x, s, v, th)]
    sizes = [ctypes.c_longlong(n), ctypes.c_int(T), ctypes.c_longlong(0 if static else n)]
    tail = [ctypes.c_longlong(5), ctypes.c_longlong(max(1, th.size))]
    _host_kernel(NeuronSpec.of(node), dtype, tmp_path).sj_launch(*ptr, *sizes, *tail)
    np.testing.assert_array_equal(s, want_s)
    np.testing.assert_array_equal(v, want_v)
