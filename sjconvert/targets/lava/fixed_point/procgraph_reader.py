"""The validation step in front of every read of a Lava process-graph artifact
(``.lpg.npz``): :func:`read_procgraph` returns a graph that the fixed-point simulator and
``fit`` can use, or refuses the file in one line.

On top of the loader's own checks (format, version, classes, array references, connection
ends), every array must hold finite real numbers, every plain argument must be a number,
string, boolean or list of them, the input must declare positive shapes and a positive
scale, and the graph must run: one step of zeros through our fixed-point simulator. A file
that fails the dry run (a shape that does not fit, a missing argument) is refused naming
what failed, so nothing downstream meets an unchecked graph.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ....errors import InputError
from ..formats.procgraph import ProcGraph
from .simulator import simulate
from .synapse_models import MODELS as SYNAPSE_MODELS
from .synapse_models import synaptic_delay

_DRY_RUN_ERRORS = (
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    AttributeError,
    ZeroDivisionError,
    OverflowError,
    RuntimeError,  # torch: a convolution whose arguments do not fit
)
MAX_NEURONS = 1 << 26  # per population: far beyond a Loihi 2 chip


def _plain(v: Any) -> bool:
    if isinstance(v, bool | str) or v is None:
        return True
    if isinstance(v, int | float):
        return math.isfinite(v)
    return isinstance(v, list) and all(_plain(e) and not isinstance(e, list) for e in v)


def _positive_ints(s: Any) -> bool:
    ok = isinstance(s, list) and s and all(isinstance(d, int) and d > 0 for d in s)
    return bool(ok) and math.prod(s) <= MAX_NEURONS


def _problems(pg: ProcGraph) -> list[str]:
    out = []
    for key, a in pg.arrays.items():
        if a.dtype.kind not in "biuf" or (a.dtype.kind == "f" and not np.isfinite(a).all()):
            out.append(f"array {key!r} holds {a.dtype} values that are not finite real numbers")
    for name, spec in pg.processes.items():
        args = spec.get("args") if isinstance(spec, dict) else None
        if not isinstance(args, dict):
            out.append(f"process {name!r}: no argument table")
            continue
        out += [
            f"process {name!r}: argument {k!r} = {v!r}" for k, v in args.items() if not _plain(v)
        ]
    spec = pg.input
    shapes = [spec.get("shape"), spec.get("torch_shape")]
    if not all(
        isinstance(s, list) and s and all(isinstance(d, int) and d > 0 for d in s) for s in shapes
    ):
        out.append(f"input shapes {shapes} are not lists of positive integers")
    scale = spec.get("scale")
    if not isinstance(scale, int | float) or not 0 < scale < math.inf:
        out.append(f"input scale {scale!r} is not a positive number")
    return out


def _synapse_args(pg: ProcGraph) -> list[dict]:
    procs = pg.graph["processes"].values()
    return [p["args"] for p in procs if p["class"] in SYNAPSE_MODELS]


def read_procgraph(path: str | os.PathLike[str]) -> ProcGraph:
    """The process graph at ``path``, validated (see the module docstring)."""
    pg = ProcGraph.load(path)
    try:
        problems = _problems(pg)
        if not problems:
            # every synapse computes when its message arrives: run until the latest has
            steps = 2 + max((synaptic_delay(a) for a in _synapse_args(pg)), default=0)
            x = np.zeros((steps, 1, *pg.input["shape"]), np.int64)
            # every process called at every step; only the output's messages kept (all of
            # DenseNet-161's over 65 steps would take 12 GiB)
            trace = simulate(pg, x, [pg.output["process"]], skip_silent=False)
            pg.predict_trace(trace)
    except _DRY_RUN_ERRORS as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        problems = [f"does not run ({type(exc).__name__}: {first})"]
    if problems:
        raise InputError(f"{path}: invalid Lava process graph: {'; '.join(problems[:3])}")
    return pg
