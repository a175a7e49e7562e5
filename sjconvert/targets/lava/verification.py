"""Lava against our fixed-point simulator on the same samples: the network as written (or
its unrolled twin, which Lava simulates faster) run in Lava's simulator, and the messages
of every population, the output state and the predictions compared with ours."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .build import LoihiExport
from .fixed_point.simulator import Trace, simulate
from .running.launcher import Agreement, compare, run_lava
from .running.twin import unrolled


@dataclass
class LavaCheck:
    """Our trace and Lava's on the same input messages, their agreement, which network
    Lava ran and (for the twin) whether our simulator finds the twin equal to the
    network."""

    ours: Trace
    lava: Trace
    agreement: Agreement
    network: str
    twin_equals_network: bool | None = None


def check_in_lava(
    exp: LoihiExport,
    xs: np.ndarray,
    progress: Callable[[int], None] | None = None,
    unroll: bool = False,
) -> LavaCheck:
    """Run the input messages ``xs`` (``[T, N, *Lava shape]``) through ``exp`` in Lava and
    in our simulator. ``unroll``: Lava runs the twin with convolutions as dense matrices
    (:func:`~.running.twin.unrolled`), and our simulator checks it equals the network."""
    pg = exp.graph
    ours = simulate(pg, xs)
    same = None
    with tempfile.TemporaryDirectory() as tmp:
        if unroll:
            twin = unrolled(pg)
            theirs = simulate(twin, xs)
            same = all(np.array_equal(theirs.spikes[k], v) for k, v in ours.spikes.items())
            same = same and np.array_equal(theirs.state, ours.state)
            path = Path(tmp) / "twin.lpg.npz"
            twin.save(path)
        else:
            name = "net.lpg.npz" if exp.format == "procgraph" else "net.net"
            path = exp.write(Path(tmp) / name)[0]
        lava = run_lava(path, xs, pg.populations(), progress)
    network = "unrolled twin" if unroll else "as written"
    return LavaCheck(ours, lava, compare(pg, ours, lava), network, same)
