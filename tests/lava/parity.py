"""The parity check every Lava test uses: a network file run in Lava's ``fixed_pt``
simulator (built once, samples back to back,
:func:`~sjconvert.targets.lava.running.in_lava.run_batched`) gives exactly the messages of
every population at every step, and the output state, that our fixed-point simulator
computes on the process graph."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from sjconvert.targets.lava.build import LoihiExport
from sjconvert.targets.lava.fixed_point.simulator import Trace, simulate
from sjconvert.targets.lava.formats.procgraph import ProcGraph
from sjconvert.targets.lava.running.in_lava import run_batched


def assert_parity(pg: ProcGraph, path: Path, x: np.ndarray, threads: bool = True) -> Trace:
    """``x``: ``[T, N, *Lava input shape]`` messages; ``path``: the file Lava loads;
    ``threads``: Lava's actors are threads of one process (its default), or forked."""
    ours = simulate(pg, x)
    with tempfile.TemporaryDirectory() as tmp:
        lava = run_batched(str(path), x, tmp, threads=threads)
    assert bool(lava["threads"]) == threads
    keys = [k for k in lava if k.startswith("spikes/")]
    assert len(keys) == len(ours.spikes)
    for (name, mine), key in zip(ours.spikes.items(), keys, strict=True):
        assert lava[key].shape == mine.shape, name
        np.testing.assert_array_equal(lava[key], mine, err_msg=f"population {name}")
    np.testing.assert_array_equal(lava["state"], ours.state)
    return ours


def export_parity(exp: LoihiExport, xq: np.ndarray, tmp: Path, threads: bool = True) -> Trace:
    """Write ``exp`` (NetX or process graph) and check it on integer input ``xq``
    (``[N, ...]``, PyTorch layout)."""
    name = "net.lpg.npz" if exp.format == "procgraph" else "net.net"
    path = exp.write(tmp / name)[0]
    x = exp.graph.schedule(xq)  # input steps + latency
    return assert_parity(exp.graph, path, x, threads)
