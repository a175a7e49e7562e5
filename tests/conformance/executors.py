"""Every executor of a spiking graph, run on one conformance case, reporting the same three
things: running means (at the steps it reports them), spike trains of the spiking layers
(where it exposes them) and events per sample (where it counts them).

The executors are the product's own entry points (no re-implementation here): the torch
reference (on the CPU with compiled fused neuron steps where a C compiler exists), the
same with every step program run op by op, both unobserved (chains of element-wise nodes
then run as one program), the NumPy array simulation of the CuPy target,
the exported torch module, the Lynxi module, ONNX Runtime on the unrolled and the step
model, and the CuPy target's code path with its generated CUDA kernels compiled for the
host (:mod:`tests.targets.host_kernels`) and NumPy arrays standing in for CuPy's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sjconvert.exec.arraysim import ArraySimulator
from sjconvert.exec.module import SpikingNet
from sjconvert.exec.parity import train_events
from sjconvert.exec.reference import SimResult, Simulator
from sjconvert.ir.graph import Graph
from sjconvert.targets.lynxi import to_lynxi

from .cases import Case


@dataclass
class Run:
    """What one executor reports for a case (None: it does not report that)."""

    means: dict[int, np.ndarray]
    trains: dict[str, np.ndarray] | None = None
    events: dict[str, np.ndarray] | None = None
    notes: list[str] = field(default_factory=list)


def spiking(graph: Graph) -> list[str]:
    return [n for n, node in graph if node.spiking and node.stateful]


def _trains(graph: Graph) -> tuple[dict[str, list[Any]], Callable[..., None]]:
    kept: dict[str, list[Any]] = {}
    layers = set(spiking(graph))

    def observe(name: str, value: Any, temporal: bool) -> None:
        if name in layers:
            kept.setdefault(name, []).append(np.array(value))

    return kept, observe


def _schedule_run(res: SimResult, kept: dict[str, list[Any]] | None) -> Run:
    (out,) = res.outputs.values()
    means = {t: np.asarray(out[i]) for i, t in enumerate(res.steps)}
    trains = None if kept is None else {k: np.concatenate(v) for k, v in kept.items()}
    return Run(means, trains, {k: np.asarray(v) for k, v in res.counts.items()})


def reference(case: Case) -> Run:
    kept, observe = _trains(case.graph)
    x = torch.from_numpy(case.x)
    res = Simulator(case.graph).run(x, T=case.T, sequence=case.sequence, observe=observe)
    return _schedule_run(res, kept)


def op_by_op(case: Case) -> Run:
    """The reference with every step program run op by op (no compiled fused kernel,
    :mod:`sjconvert.exec.fused`), which the reference and NumPy otherwise use on the CPU."""
    with unfused():
        sim = Simulator(case.graph)
    kept, observe = _trains(case.graph)
    res = sim.run(torch.from_numpy(case.x), T=case.T, sequence=case.sequence, observe=observe)
    return _schedule_run(res, kept)


def unobserved(case: Case) -> Run:
    """The reference with nothing observing its values, so that chains of element-wise
    nodes run as one step program (:mod:`sjconvert.exec.chains`): running means and
    events (no spike trains: a fused chain's values are never all in memory)."""
    res = Simulator(case.graph).run(torch.from_numpy(case.x), T=case.T, sequence=case.sequence)
    return _schedule_run(res, None)


def unobserved_op_by_op(case: Case) -> Run:
    """:func:`unobserved` with every step program, fused chains included, run op by op."""
    with unfused():
        return unobserved(case)


def unobserved_arrays(case: Case) -> Run:
    """The NumPy simulation with nothing observing its values (chains fused)."""
    res = ArraySimulator(case.graph).run(case.x, T=case.T, sequence=case.sequence)
    return _schedule_run(res, None)


@contextlib.contextmanager
def unfused() -> Iterator[None]:
    old = os.environ.get("SJCONVERT_FUSED")
    os.environ["SJCONVERT_FUSED"] = "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ["SJCONVERT_FUSED"]
        else:
            os.environ["SJCONVERT_FUSED"] = old


def arrays(case: Case, simulation: Any = None) -> Run:
    """The NumPy simulation (``simulation``: another array simulation of the graph)."""
    kept, observe = _trains(case.graph)
    sim = simulation or ArraySimulator(case.graph)
    res = sim.run(case.x, T=case.T, sequence=case.sequence, observe=observe)
    return _schedule_run(res, kept)


def _module_input(case: Case) -> np.ndarray:
    """Direct input ``[N, ...]``, or a sequence step-major ``[T·N, ...]``."""
    return case.x.reshape(-1, *case.x.shape[2:]) if case.sequence else case.x


def module(case: Case) -> Run:
    net = SpikingNet(case.graph, case.T, sequence=case.sequence, counts=True).eval()
    with torch.no_grad():
        out = net(torch.from_numpy(_module_input(case)))
    outs = out if isinstance(out, tuple) else (out,)
    events = {k: c.numpy() for k, c in zip(net.neurons, outs[1:], strict=True)}
    return Run({case.T: outs[0].numpy()}, None, events)


def lynxi(case: Case) -> Run:
    """The module ``to_lynxi`` returns after checking Lynxi's constraints (float32)."""
    net = to_lynxi(case.graph, case.T, "float32", sequence=case.sequence)
    with torch.no_grad():
        out = net(torch.from_numpy(_module_input(case)))
    return Run({case.T: (out[0] if isinstance(out, tuple) else out).numpy()})


def onnx_unrolled(case: Case) -> Run:
    from sjconvert.targets.onnx.export import export_unrolled
    from sjconvert.targets.onnx.runtime import run_unrolled, session

    model = export_unrolled(case.graph, case.T, counts=True, sequence=case.sequence)
    rates, counts = run_unrolled(session(model, threads=1), _module_input(case))
    return Run({case.T: rates}, None, counts)


def onnx_step(case: Case) -> Run:
    from sjconvert.targets.onnx.export import export_step
    from sjconvert.targets.onnx.runtime import run_steps, session

    model = export_step(case.graph, counts=True)
    sess = session(model, threads=1)
    rates, trains = run_steps(sess, model, case.x, case.T, sequence=case.sequence)
    means = {t + 1: rates[t] for t in range(case.T)}
    return Run(means, trains, train_events(trains))


def cupy_host(case: Case) -> Run:
    """The CuPy target's emitters and fused-kernel code with NumPy arrays and the generated
    CUDA source compiled for the host."""
    from sjconvert.exec.arrays import Arrays
    from sjconvert.targets.cupy import Context, simulation
    from tests.targets.host_kernels import host_launch

    ctx = Context(Arrays(np, np.dtype(np.float32)), host_launch)
    return arrays(case, simulation(case.graph, ctx))


EXECUTORS: dict[str, Callable[[Case], Run]] = {
    "op-by-op": op_by_op,
    "chains": unobserved,
    "chains-op-by-op": unobserved_op_by_op,
    "chains-numpy": unobserved_arrays,
    "numpy": arrays,
    "module": module,
    "lynxi": lynxi,
    "onnx-unrolled": onnx_unrolled,
    "onnx-step": onnx_step,
    "cupy-host": cupy_host,
}


def bits(a: Any) -> tuple[tuple[int, ...], str, bytes]:
    """An array's shape, dtype and bytes, with −0 made +0: equal bits, not merely close
    values. The sign of a zero is the one freedom executors keep: IEEE 754 leaves
    ``max(+0, −0)`` open (NumPy, torch and CUDA pick differently) and ONNX Runtime folds
    ``x + 0`` away; no op of a step program or kernel turns the sign of a zero into a
    different non-zero value."""
    arr = np.ascontiguousarray(a)
    if arr.dtype.kind == "f":
        arr = arr + arr.dtype.type(0.0)
    return arr.shape, str(arr.dtype), arr.tobytes()


#: executors with kernels of their own (not the torch kernels of :mod:`sjconvert.ops`)
OWN_KERNELS = {"onnx-unrolled", "onnx-step"}
ULPS = 8  # how far a transcendental op of another library may round from torch's


def _close(a: Any, b: Any) -> bool:
    """Within :data:`ULPS` units of float32 rounding of ``max(1, |b|)`` (a log-softmax near
    zero is many ulps of its own size apart, yet as close as the exp it comes from)."""
    a, b = np.float64(a), np.float64(b)
    tol = ULPS * np.finfo(np.float32).eps * np.maximum(1.0, np.abs(b))
    return bool(np.all(np.abs(a - b) <= tol))


def differences(ref: Run, run: Run, graph: Graph, loose: bool = False) -> list[str]:
    """Everything ``run`` reports that differs from the reference's, bit for bit
    (``loose``: running means within :data:`ULPS` float32 roundings)."""
    out = []
    for t, m in run.means.items():
        if bits(m) != bits(ref.means[t]) and not (loose and _close(m, ref.means[t])):
            err = np.abs(np.float64(m) - np.float64(ref.means[t])).max(initial=0)
            out.append(f"running mean after step {t} (max |Δ| {err:.3g})")
    for what, mine, theirs in (
        ("spikes", run.trains, ref.trains),
        ("events", run.events, ref.events),
    ):
        if mine is None or theirs is None:
            continue
        if set(mine) != set(spiking(graph)):
            out.append(f"{what} reported for {sorted(mine)}, not {sorted(spiking(graph))}")
        out += [f"{what} of {k}" for k in mine if k in theirs and bits(mine[k]) != bits(theirs[k])]
    return out
