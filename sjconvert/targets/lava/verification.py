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
from .formats.procgraph import ProcGraph
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


GROUP = 10  # samples per Lava run at most: the messages of every population are held per group
MESSAGE_BUDGET = 4 << 30  # bytes of messages (ours and Lava's) held for one group at most


def group_size(pg: ProcGraph, steps: int, most: int = GROUP) -> int:
    """Samples per Lava run: ``most``, fewer where every population's messages over
    ``steps`` (int32, ours and Lava's) would pass :data:`MESSAGE_BUDGET` (GoogLeNet's 84
    steps of 10 samples held 7 GiB)."""
    procs = pg.graph["processes"]
    neurons = sum(int(np.prod(procs[p]["args"]["shape"])) for p in pg.populations())
    return max(1, min(most, MESSAGE_BUDGET // max(1, 2 * 4 * steps * neurons)))


def check_in_lava(
    exp: LoihiExport,
    xs: np.ndarray,
    progress: Callable[[int], None] | None = None,
    unroll: bool = False,
    group: int = GROUP,
) -> LavaCheck:
    """Run the input messages ``xs`` (``[T, N, *Lava shape]``) through ``exp`` in Lava and
    in our simulator, ``group`` samples per Lava run, so memory does not grow with N: every
    population's messages are compared per group, and the traces returned keep the output's
    state and messages only (all populations' when there is one group). ``unroll``: Lava
    runs the twin with convolutions as dense matrices (:func:`~.running.twin.unrolled`),
    and our simulator checks it equals the network."""
    n, out = xs.shape[1], exp.graph.output["process"]
    group = group_size(exp.graph, xs.shape[0], group)
    with tempfile.TemporaryDirectory() as tmp:  # the network (or its twin) written once
        twin = unrolled(exp.graph) if unroll else None
        if twin is not None:
            path = Path(tmp) / "twin.lpg.npz"
            twin.save(path)
        else:
            name = "net.lpg.npz" if exp.format == "procgraph" else "net.net"
            path = exp.write(Path(tmp) / name)[0]
        parts = []
        for i in range(0, n, group):
            part = _check_group(exp, path, twin, xs[:, i : i + group], progress)
            parts.append(part if group >= n else _output_only(part, out))
    return merged(exp.graph, parts)


def merged(pg: ProcGraph, parts: list[LavaCheck]) -> LavaCheck:
    """One check of consecutive groups of samples: agreement per population weighted by
    group size, the output state equal in every group, traces cut to the output."""
    if len(parts) == 1:
        return parts[0]
    out = pg.output["process"]
    ours, lava = (_joined([getattr(p, side) for p in parts], out) for side in ("ours", "lava"))
    sizes = [p.ours.state.shape[1] for p in parts]
    layers = {
        k: float(np.average([p.agreement.layers[k] for p in parts], weights=sizes))
        for k in parts[0].agreement.layers
    }
    state = all(p.agreement.state_equal for p in parts)
    same = float(np.mean(pg.predict_trace(ours) == pg.predict_trace(lava)))
    twins = [p.twin_equals_network for p in parts]
    twin = None if twins[0] is None else all(twins)
    return LavaCheck(ours, lava, Agreement(layers, state, same), parts[0].network, twin)


def _output_only(check: LavaCheck, out: str) -> LavaCheck:
    """A group's check, its traces cut to the output (the comparison is already made)."""
    ours, lava = (_joined([t], out) for t in (check.ours, check.lava))
    return LavaCheck(ours, lava, check.agreement, check.network, check.twin_equals_network)


def _joined(traces: list[Trace], out: str) -> Trace:
    """One trace of the output's state and messages from per-group traces (samples: axis 1)."""
    spikes = {out: np.concatenate([t.spikes[out] for t in traces], 1)}
    extra = {k: sum(t.extra.get(k, 0.0) for t in traces) for k in traces[0].extra}
    state = np.concatenate([t.state for t in traces], 1)
    return Trace(spikes, state, sum(t.seconds for t in traces), extra)


def _check_group(
    exp: LoihiExport,
    path: Path,
    twin: ProcGraph | None,
    xs: np.ndarray,
    progress: Callable[[int], None] | None,
) -> LavaCheck:
    """One group of samples: one Lava run of the network file at ``path`` (``twin``'s when
    given, checked equal to the network by our simulator) against our simulator."""
    pg = exp.graph
    ours = simulate(pg, xs)
    same = None
    if twin is not None:
        theirs = simulate(twin, xs)
        same = all(np.array_equal(theirs.spikes[k], v) for k, v in ours.spikes.items())
        same = same and np.array_equal(theirs.state, ours.state)
    lava = run_lava(path, xs, pg.populations(), progress)
    network = "as written" if twin is None else "unrolled twin"
    return LavaCheck(ours, lava, compare(pg, ours, lava), network, same)
