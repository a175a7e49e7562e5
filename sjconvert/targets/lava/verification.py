"""Lava against our fixed-point simulator on the same samples: the network as written (or
its unrolled twin, which Lava simulates faster) run in Lava's simulator, and the messages
of every population, the output state and the predictions compared with ours."""

from __future__ import annotations

import dataclasses
import queue
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .build import LoihiExport
from .fixed_point.simulator import Trace, simulate
from .formats.procgraph import ProcGraph
from .run_plan import GROUP, plan_runs
from .running.launcher import Agreement, compare, kill_running, run_lava
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
    wall_seconds: float = 0.0  # the check's elapsed time (its Lava runs overlap)
    workers: int = 1  # Lava runs at once, each on a CPU of its own


def check_in_lava(
    exp: LoihiExport,
    xs: np.ndarray,
    progress: Callable[[int], None] | None = None,
    unroll: bool = False,
    group: int = GROUP,
) -> LavaCheck:
    """Run the input messages ``xs`` (``[T, N, *Lava shape]``) through ``exp`` in Lava and
    in our simulator, in groups of at most ``group`` samples (one Lava run each), so memory
    does not grow with N: every population's messages are compared per group, and the
    traces returned keep the output's state and messages only (all populations' when there
    is one group). Groups run side by side, each on a CPU of its own, as
    :func:`.run_plan.plan_runs` says. ``unroll``: Lava runs the twin with convolutions as
    dense matrices (:func:`~.running.twin.unrolled`), and our simulator checks it equals
    the network."""
    n, out, start = xs.shape[1], exp.graph.output["process"], time.perf_counter()
    plan = plan_runs(exp.graph, n, xs.shape[0], group)
    lock, stop, cpus = threading.Lock(), threading.Event(), queue.SimpleQueue()
    for cpu in plan.cpus:
        cpus.put(cpu)

    def advance(k: int) -> None:
        if progress is not None:
            with lock:
                progress(k)

    with tempfile.TemporaryDirectory() as tmp:  # the network (or its twin) written once
        twin = unrolled(exp.graph) if unroll else None
        if twin is not None:
            path = Path(tmp) / "twin.lpg.npz"
            twin.save(path)
        else:
            name = "net.lpg.npz" if exp.format == "procgraph" else "net.net"
            path = exp.write(Path(tmp) / name)[0]

        def one(i: int) -> LavaCheck:
            cpu = cpus.get()  # never waits: as many CPUs as groups at once
            try:
                part = _check_group(exp, path, twin, xs[:, i : i + plan.group], advance, cpu, stop)
            finally:
                cpus.put(cpu)
            return part if plan.group >= n else _output_only(part, out)

        parts = _all_or_none(one, range(0, n, plan.group), plan.workers, stop)
    check = merged(exp.graph, parts)
    wall = time.perf_counter() - start
    return dataclasses.replace(check, wall_seconds=wall, workers=plan.workers)


def _all_or_none(
    task: Callable[[int], LavaCheck], items: range, workers: int, stop: threading.Event
) -> list[LavaCheck]:
    """``task`` of every item, ``workers`` at a time, in order; the first failure (or an
    interrupt of the wait) sets ``stop``, kills the Lava runs still going and returns at
    once: a task still simulating its group finds ``stop`` set and starts no Lava run."""
    pool = ThreadPoolExecutor(workers, thread_name_prefix="lava-group")
    futures = [pool.submit(task, i) for i in items]
    try:
        for done in wait(futures, return_when=FIRST_EXCEPTION).done:
            done.result()  # raises the first failure
        results = [f.result() for f in futures]
    except BaseException:
        kill_running(stop)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return results


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
    wall, workers = sum(p.wall_seconds for p in parts), max(p.workers for p in parts)
    agreement = Agreement(layers, state, same)
    return LavaCheck(ours, lava, agreement, parts[0].network, twin, wall, workers)


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
    cpu: int | None = None,
    stop: threading.Event | None = None,
) -> LavaCheck:
    """One group of samples: one Lava run of the network file at ``path`` (``twin``'s when
    given, checked equal to the network by our simulator) against our simulator."""
    pg = exp.graph
    ours = simulate(pg, xs, stop=stop)
    same = None
    if twin is not None:
        theirs = simulate(twin, xs, stop=stop)
        same = all(np.array_equal(theirs.spikes[k], v) for k, v in ours.spikes.items())
        same = same and np.array_equal(theirs.state, ours.state)
    lava = run_lava(path, xs, pg.populations(), progress, cpu, stop)
    network = "as written" if twin is None else "unrolled twin"
    return LavaCheck(ours, lava, compare(pg, ours, lava), network, same)
