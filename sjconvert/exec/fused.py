"""Fused neuron steps on the CPU: a stateful node's step program rendered as one C function
(the way :mod:`sjconvert.targets.cupy.kernels` renders it as CUDA), compiled once per
program signature with the system C compiler, cached on disk and called through ctypes.

One call runs all steps of a time block over a tile of whole samples: for each step it reads
``X[t]`` and writes ``Y[t]`` once, with every register of the tile kept in cache between
steps (one pass over the layer's memory per step, not one per op). The C source computes
each op as the program says, in IEEE single precision with no contraction into fused
multiply-adds (``-ffp-contract=off``, no fast-math), so its results are those of the
op-by-op executors bit for bit (the conformance suite checks it). Per-channel constants are
spread over each sample's features once, so the inner loop over features has no division.

Tiles run in the shared thread pool (ctypes releases the GIL). Without a C compiler, or
with ``SJCONVERT_FUSED=0``, :func:`kernel` returns None and callers run the program op by op.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..ops import C_EXPRESSIONS, StepProgram
from ..ops.readout import C_EVENT

FLAGS = (
    "-O3",
    "-march=native",
    "-ffp-contract=off",  # no fused multiply-add: every op rounds as the program says
    "-fno-math-errno",  # floorf without errno (it sets none): vectorised
    "-fno-trapping-math",  # no FP traps are enabled; results are unchanged
    "-fopenmp-simd",  # the event sums (integers in double: exact in any order) vectorised
    "-fPIC",
    "-shared",
)
PREFIX = "sj_cpu"


def cache_dir() -> Path:
    """Where compiled kernels are kept: ``$SJCONVERT_CACHE`` or ``~/.cache/sjconvert``."""
    base = os.environ.get("SJCONVERT_CACHE") or Path.home() / ".cache" / "sjconvert"
    return Path(base) / "kernels"


def compiler() -> str | None:
    """The C compiler (``$CC``, else ``cc`` or ``gcc`` on the PATH), or None."""
    if os.environ.get("SJCONVERT_FUSED", "1") == "0":
        return None
    found = [os.environ.get("CC"), shutil.which("cc"), shutil.which("gcc")]
    return next((c for c in found if c), None)


def _name(program: StepProgram) -> str:
    digest = hashlib.sha1(repr(program.signature).encode()).hexdigest()[:12]
    return f"{PREFIX}_{digest}"


def _counting(program: StepProgram) -> tuple[list[str], list[str], list[str]]:
    """Arguments, loop lines and row lines that count events as the kernel steps: ``|S|``
    as :data:`~sjconvert.ops.readout.C_EVENT` says, summed per step and sample (and
    weighted by the fan-out) in double, exact in any order (:func:`~sjconvert.ops.events`)."""
    if not program.spiking:
        return [], [], []
    args = ["const float* restrict fan", "double* restrict ev", "double* restrict syn"]
    term = C_EVENT.format(program.output)
    loop = [
        f"const double sj_m = (double)({term});",
        "sj_e += sj_m;",
        "sj_z += sj_m * (double)fan[sj_f];",
    ]
    row = [
        "ev[sj_t * ev_step + sj_r * ev_row] = sj_e;",
        "syn[sj_t * ev_step + sj_r * ev_row] = sj_z;",
    ]
    return args, loop, row


def c_source(program: StepProgram) -> str:
    """C for ``program`` over float32 (see :func:`launch` for the arguments)."""
    ops, state, out = program.ops, program.state, program.output
    scalars = [f"const float {k} = {float(v)!r}f;" for k, v in sorted(program.scalars.items())]
    channels = sorted(program.channels)
    temps = list(dict.fromkeys(op.dst for op in ops if op.dst not in (*state, out)))
    local = [out] if out not in state else []
    args = [f"float* restrict {r}_st" for r in state]
    args += [f"const float* restrict {k}_ch" for k in channels]
    count_args, count_loop, count_row = _counting(program)
    body = [f"{op.dst} = {C_EXPRESSIONS[op.fn].format(*op.args)};" for op in ops]
    reduce = ["double sj_e = 0.0, sj_z = 0.0;", "#pragma omp simd reduction(+:sj_e,sj_z)"]
    return "\n".join(
        [
            "#include <math.h>",
            "#include <stdint.h>",
            f"void {_name(program)}(",
            "    const float* restrict x_seq, float* restrict y_seq,",
            *(f"    {a}," for a in [*args, *count_args]),
            "    const int64_t rows, const int64_t width, const int64_t stride,",
            "    const int64_t steps, const int64_t x_step, const int64_t y_step,",
            "    const int64_t ev_row, const int64_t ev_step)",
            "{",
            *(f"    {c}" for c in scalars),
            "    for (int64_t sj_t = 0; sj_t < steps; ++sj_t) {",
            "        for (int64_t sj_r = 0; sj_r < rows; ++sj_r) {",
            "            const int64_t sj_o = sj_r * stride;",
            "            const float* restrict sj_x = x_seq + sj_t * x_step + sj_o;",
            "            float* restrict sj_y = y_seq + sj_t * y_step + sj_o;",
            *(f"            float* restrict sj_{r} = {r}_st + sj_o;" for r in state),
            *(f"            {line}" for line in (reduce if count_loop else [])),
            "            for (int64_t sj_f = 0; sj_f < width; ++sj_f) {",
            *(f"                const float {k} = {k}_ch[sj_f];" for k in channels),
            *(f"                float {reg} = sj_{reg}[sj_f];" for reg in state),
            *(f"                float {reg};" for reg in [*local, *temps]),
            "                const float x = sj_x[sj_f];",
            *(f"                {line}" for line in body),
            f"                sj_y[sj_f] = {out};",
            *(f"                sj_{reg}[sj_f] = {reg};" for reg in state),
            *(f"                {line}" for line in count_loop),
            "            }",
            *(f"            {line}" for line in count_row),
            "        }",
            "    }",
            "}",
        ]
    )


def _cpu() -> str:
    """What a cached binary built with ``-march=native`` depends on."""
    try:
        info = Path("/proc/cpuinfo").read_text()
        model = next((ln for ln in info.splitlines() if ln.startswith("model name")), "")
        flags = next((ln for ln in info.splitlines() if ln.startswith("flags")), "")
    except OSError:
        model = flags = ""
    return f"{platform.machine()} {model} {hashlib.sha1(flags.encode()).hexdigest()}"


@functools.cache
def _library(source: str, cc: str) -> ctypes.CDLL | None:
    key = hashlib.sha1(repr((source, FLAGS, cc, _cpu())).encode()).hexdigest()[:16]
    path = cache_dir() / f"{PREFIX}_{key}.so"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            src, lib = Path(tmp) / "k.c", Path(tmp) / "k.so"
            src.write_text(source)
            done = subprocess.run(
                [cc, *FLAGS, "-o", str(lib), str(src)], capture_output=True, timeout=120
            )
            if done.returncode != 0:
                return None
            os.replace(lib, path)  # atomic: another process may compile the same kernel
    return ctypes.CDLL(str(path))


def kernel(program: StepProgram) -> Any:
    """The compiled C function of ``program`` (None without a compiler, or if it fails)."""
    cc = compiler()
    if cc is None:
        return None
    try:
        lib = _library(c_source(program), cc)
    except (OSError, subprocess.SubprocessError):
        return None
    if lib is None:
        return None
    fn = getattr(lib, _name(program))
    fn.restype = None
    return bind(fn, program)


TILE = 16384  # elements per call: the tile's registers stay in the core's cache


def tiles(n: int, features: int, size: int = TILE) -> list[tuple[int, int, int, int]]:
    """``(first sample, samples, first feature, features)`` of each tile: whole samples of
    about ``size`` elements, or pieces of one sample when a sample is larger."""
    if features >= size:
        return [
            (s, 1, f, min(size, features - f)) for s in range(n) for f in range(0, features, size)
        ]
    rows = max(1, size // features)
    return [(s, min(rows, n - s), 0, features) for s in range(0, n, rows)]


@dataclass
class Layer:
    """One call's buffers (addresses of contiguous float32 arrays, float64 for counts):
    ``x`` ``[steps, n, features]`` (``[n, features]`` when ``static``), ``y`` ``[steps, n,
    features]``, each state register ``[n, features]``, each per-channel constant spread
    over the features ``[features]``; for a spiking program the fan-out ``[features]`` and
    the event and synaptic-operation counts ``[steps, n, pieces]`` (``pieces``: a sample's
    feature tiles, :func:`tiles`)."""

    x: int
    y: int
    state: list[int]
    channels: list[int]
    n: int
    features: int
    steps: int
    static: bool
    counts: tuple[int, int, int] | None = None  # fan-out, events, synaptic operations


def pieces(features: int, size: int = TILE) -> int:
    """Feature tiles per sample."""
    return -(-features // size) if features >= size else 1


def launch(fn: Any, layer: Layer, pool: Any = None) -> None:
    """Run ``fn`` over ``layer`` tile by tile, the tiles shared among the threads of
    ``pool`` (None: this thread)."""
    f_all, size = layer.features, layer.n * layer.features
    x_step = 0 if layer.static else size
    per = pieces(f_all)

    def run(tile: tuple[int, int, int, int]) -> None:
        s, rows, f, width = tile
        at = 4 * (s * f_all + f)
        regs = [p + at for p in layer.state]
        chans = [p + 4 * f for p in layer.channels]
        if layer.counts is not None:
            fan, ev, syn = layer.counts
            cell = 8 * (s * per + f // TILE)
            chans += [fan + 4 * f, ev + cell, syn + cell]
        sizes = (rows, width, f_all, layer.steps, x_step, size, per, layer.n * per)
        fn(layer.x + at, layer.y + at, *regs, *chans, *sizes)

    work = tiles(layer.n, f_all)
    if pool is None or len(work) == 1:
        for tile in work:
            run(tile)
    else:
        list(pool.map(run, work))


def bind(fn: Any, program: StepProgram) -> Any:
    """``fn`` with its ctypes argument types (addresses and 64-bit sizes)."""
    counts = 3 if program.spiking else 0
    pointers = 2 + len(program.state) + len(program.channels) + counts
    fn.argtypes = [ctypes.c_void_p] * pointers + [ctypes.c_int64] * 8
    return fn
