"""CUDA source for fused multi-step kernels, generated from a node's step program
(:mod:`sjconvert.ops.neurons`).

One kernel per (program signature, dtype) covers all T steps of a layer: each thread owns one
neuron (``float``) or two (``half2``), keeps its state registers in registers and loops over
time, reading ``X[t]`` and writing ``Y[t]`` once per step — the forward-through-time layout
of SpikingJelly's ``NeuronFPTTKernel``, with the step rendered from the program instead of
written by hand. Scalar constants are compiled in; a per-channel constant is read once per
neuron from an array.

Arguments (``n`` counts threads' elements: neurons, or neuron pairs for ``half2``)::

    x        [T, n] (x_stride = n) or [n] (x_stride = 0: the same input every step)
    y        [T, n] output (spikes 0/1, or the state it reads out)
    <state>  [n] per state register, read at the start and written back at the end
    <const>  [channels] per per-channel constant
    inner    neurons per channel within one sample (channel = (index / inner) % channels)

Kernels compile with ``--fmad=false`` so no multiply-add is contracted: every op rounds as
in the reference (IEEE division, no flush to zero: the NVRTC defaults).
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import numpy as np

from ...ops import Op, StepProgram

DTYPES = {"float32": "float", "float16": "half2"}
OPTIONS = ("--fmad=false", "--prec-div=true", "--ftz=false", "-std=c++17")

_FLOAT = {
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "div": "{0} / {1}",
    "ge": "({0} >= {1}) ? 1.0f : 0.0f",
    "select": "({0} != 0.0f) ? {1} : {2}",
    "floor": "floorf({0})",
    "min": "fminf({0}, {1})",
    "max": "fmaxf({0}, {1})",
    "copy": "{0}",
}
_HALF2 = {
    "add": "__hadd2({0}, {1})",
    "sub": "__hsub2({0}, {1})",
    "mul": "__hmul2({0}, {1})",
    "div": "__h2div({0}, {1})",
    "ge": "__hge2({0}, {1})",
    "select": "sj_select2({0}, {1}, {2})",
    "floor": "h2floor({0})",
    "min": "__hmin2({0}, {1})",
    "max": "__hmax2({0}, {1})",
    "copy": "{0}",
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


def kernel_name(program: StepProgram, dtype: str) -> str:
    digest = hashlib.sha1(repr((program.signature, dtype)).encode()).hexdigest()[:10]
    kind = "spike" if program.spiking else "state"
    return f"sj_{kind}_{'_'.join(program.state)}_{DTYPES[dtype]}_{digest}"


def _body(ops: tuple[Op, ...], dtype: str) -> list[str]:
    table = _FLOAT if dtype == "float32" else _HALF2
    return [f"{op.dst} = {table[op.fn].format(*op.args)};" for op in ops]


def _channel_const(name: str, dtype: str) -> str:
    if dtype == "float32":
        return f"const float {name} = {name}_arr[(sj_i / inner) % channels];"
    return (  # the two lanes may lie in different channels
        f"const half2 {name} = __halves2half2({name}_arr[((2 * sj_i) / inner) % channels], "
        f"{name}_arr[((2 * sj_i + 1) / inner) % channels]);"
    )


def kernel_source(program: StepProgram, dtype: str) -> str:
    """CUDA C for ``program`` in ``dtype`` (``float32`` → ``float``, ``float16`` →
    ``half2``); cached by the program's signature (one source per distinct parameter set)."""
    if dtype not in DTYPES:
        raise ValueError(f"kernels take {sorted(DTYPES)}, got {dtype!r}")
    return _source(program.signature, kernel_name(program, dtype), dtype)


@functools.cache
def _source(signature: Any, name: str, dtype: str) -> str:
    ops, state, out, scalar_items, channel_names, _ = signature
    ctype, elem = DTYPES[dtype], ("half" if dtype == "float16" else "float")
    scalars = [f"const {ctype} {k} = {literal(v, dtype)};" for k, v in scalar_items]
    consts = scalars + [_channel_const(k, dtype) for k in channel_names]
    temps_list = list(dict.fromkeys(op.dst for op in ops if op.dst not in (*state, out)))
    temps = ", ".join([*([out] if out not in state else []), *temps_list])
    args = [f"{ctype}* __restrict__ {r}_state" for r in state]
    args += [f"const {elem}* __restrict__ {k}_arr" for k in channel_names]
    lines = [
        "#include <cuda_fp16.h>" if dtype == "float16" else "",
        _HALF2_HELPERS if dtype == "float16" else "",
        f'extern "C" __global__ void {name}(',
        f"    const {ctype}* __restrict__ x_seq, {ctype}* __restrict__ y_seq,",
        *(f"    {a}," for a in args),
        "    const long long n, const int steps, const long long x_stride,",
        "    const long long inner, const long long channels)",
        "{",
        "    const long long sj_i = (long long)blockIdx.x * blockDim.x + threadIdx.x;",
        "    if (sj_i >= n) return;",
        *(f"    {c}" for c in consts),
        *(f"    {ctype} {r} = {r}_state[sj_i];" for r in state),
        f"    {ctype} {temps};" if temps else "",
        "    for (long long sj_t = 0; sj_t < steps; ++sj_t) {",
        f"        const {ctype} x = x_seq[sj_t * x_stride + sj_i];",
        *(f"        {line}" for line in _body(ops, dtype)),
        f"        y_seq[sj_t * n + sj_i] = {out};",
        "    }",
        *(f"    {r}_state[sj_i] = {r};" for r in state),
        "}",
    ]
    return "\n".join(line for line in lines if line) + "\n"
