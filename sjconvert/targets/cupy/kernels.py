"""CUDA source for fused multi-step neuron kernels, generated from :mod:`.program`.

One kernel per (neuron parameters, dtype) covers all T steps of a layer: each thread owns one
neuron (``float``) or two (``half2``), keeps its membrane in a register and loops over time,
reading ``X[t]`` and writing ``S[t]`` once per step — the forward-through-time layout of
SpikingJelly's ``NeuronFPTTKernel``, with the charge equation rendered from the IR's
parameters instead of written by hand. Scalar parameters are compiled in as constants; a
per-channel threshold is read once per neuron from an array.

Arguments (``n`` counts threads' elements: neurons, or neuron pairs for ``half2``)::

    x      [T, n] (x_stride = n) or [n] (x_stride = 0: the same input every step)
    s      [T, n] spikes out (0/1)
    v      [n] membrane, read at the start and written back at the end (state across calls)
    th     [channels] thresholds (read only when the threshold is per channel)
    inner  neurons per channel within one sample (channel = (i / inner) % channels)

Kernels compile with ``--fmad=false`` so no multiply-add is contracted: every op rounds as
in the reference (IEEE division, no flush to zero: the NVRTC defaults).
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np

from .program import NeuronSpec, Op, program, registers

DTYPES = {"float32": "float", "float16": "half2"}
OPTIONS = ("--fmad=false", "--prec-div=true", "--ftz=false", "-std=c++17")

_FLOAT = {
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "div": "{0} / {1}",
    "ge": "({0} >= {1}) ? 1.0f : 0.0f",
    "select": "({0} != 0.0f) ? {1} : {2}",
}
_HALF2 = {
    "add": "__hadd2({0}, {1})",
    "sub": "__hsub2({0}, {1})",
    "mul": "__hmul2({0}, {1})",
    "div": "__h2div({0}, {1})",
    "ge": "__hge2({0}, {1})",
    "select": "sj_select2({0}, {1}, {2})",
}
_HALF2_HELPERS = """
__device__ __forceinline__ half2 sj_select2(const half2 s, const half2 a, const half2 b) {
    return __halves2half2(__low2float(s) != 0.0f ? __low2half(a) : __low2half(b),
                          __high2float(s) != 0.0f ? __high2half(a) : __high2half(b));
}
"""


def literal(value: float, dtype: str) -> str:
    """A C literal for ``value`` rounded to ``dtype`` once (float16 goes through its exact
    float32 value, so the kernel's constant equals NumPy's ``float16(value)``)."""
    exact = float(np.float16(value)) if dtype == "float16" else float(np.float32(value))
    text = f"{exact!r}f"
    return f"__float2half2_rn({text})" if dtype == "float16" else text


def kernel_name(spec: NeuronSpec, dtype: str) -> str:
    digest = hashlib.sha1(repr((spec, dtype)).encode()).hexdigest()[:10]
    return f"sj_{spec.model.lower()}_{spec.reset}_{DTYPES[dtype]}_{digest}"


def _body(ops: tuple[Op, ...], dtype: str) -> list[str]:
    table = _FLOAT if dtype == "float32" else _HALF2
    return [f"{op.dst} = {table[op.fn].format(*op.args)};" for op in ops]


@functools.cache
def kernel_source(spec: NeuronSpec, dtype: str) -> str:
    """CUDA C for ``spec`` in ``dtype`` (``float32`` → ``float``, ``float16`` → ``half2``).
    Cached: one source (and one compiled kernel) per distinct parameter set."""
    if dtype not in DTYPES:
        raise ValueError(f"neuron kernels take {sorted(DTYPES)}, got {dtype!r}")
    ctype = DTYPES[dtype]
    ops = program(spec)
    consts = [f"const {ctype} {k} = {literal(v, dtype)};" for k, v in spec.constants().items()]
    if spec.threshold is None:
        if dtype == "float32":
            consts.append("const float TH = th[(i / inner) % channels];")
        else:  # the two lanes may lie in different channels
            consts.append(
                "const half2 TH = __halves2half2(th[((2 * i) / inner) % channels], "
                "th[((2 * i + 1) / inner) % channels]);"
            )
    temps = ", ".join(["s", *registers(ops)])
    elem = "half" if dtype == "float16" else "float"
    lines = [
        "#include <cuda_fp16.h>" if dtype == "float16" else "",
        _HALF2_HELPERS if dtype == "float16" else "",
        f'extern "C" __global__ void {kernel_name(spec, dtype)}(',
        f"    const {ctype}* __restrict__ x_seq, {ctype}* __restrict__ s_seq,",
        f"    {ctype}* __restrict__ v_state, const {elem}* __restrict__ th,",
        "    const long long n, const int steps, const long long x_stride,",
        "    const long long inner, const long long channels)",
        "{",
        "    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;",
        "    if (i >= n) return;",
        *(f"    {c}" for c in consts),
        f"    {ctype} v = v_state[i];",
        f"    {ctype} {temps};",
        "    for (long long t = 0; t < steps; ++t) {",
        f"        const {ctype} x = x_seq[t * x_stride + i];",
        *(f"        {line}" for line in _body(ops, dtype)),
        "        s_seq[t * n + i] = s;",
        "    }",
        "    v_state[i] = v;",
        "}",
    ]
    return "\n".join(line for line in lines if line) + "\n"
