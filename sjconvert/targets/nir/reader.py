"""``nir.NIRGraph`` (or a ``.nir`` file) → IR graph the reference simulator runs.

Each NIR node type has a reader in :data:`READERS` returning one IR node, or a chain of
them when the IR needs two steps (``SumPool2d`` = ``AvgPool2d`` then ``Scale``; a neuron
whose input gain (``r·dt`` for IF) is not 1 gets a ``Scale`` in front). A node with several
incoming edges reads their sum: an IR ``Add`` is inserted. Every node the IR cannot hold
(``CubaLI``, sub-graphs, fractional delays, leaks towards a non-reset potential, ...) is
reported at once, by name; recurrent graphs are refused.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nir
import numpy as np

from ...errors import InputError, UnsupportedOpError
from ...exec.shapes import infer_shapes
from ...ir import nodes as ir
from ...ir.graph import Graph, GraphError
from .check import NirFileError, facts, read_nir, time_step, topological_order
from .convention import close, collapse, grouped, uniform


@dataclass(frozen=True)
class ReadCtx:
    """What a reader knows: the time step and the node's sjconvert metadata, if any."""

    dt: float
    meta: dict[str, Any]


Nodes = list[ir.Node]
Reader = Callable[[Any, ReadCtx], Nodes]


def _ints(value: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in np.atleast_1d(np.asarray(value)))


def _padding(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)):
        raise UnsupportedOpError(f"string padding {value!r} (give explicit padding)")
    pad = _ints(value)
    return pad * n if len(pad) == 1 else pad


def _input_scale(r: Any, ctx: ReadCtx, what: str) -> Nodes:
    """A Scale in front of a neuron whose input weight ``r·dt`` is not 1."""
    gain = collapse(np.asarray(r, np.float64) * ctx.dt, what)
    return [] if close(gain, 1.0) else [ir.Scale(np.asarray(gain, np.float32))]


def _if(node: nir.IF, ctx: ReadCtx) -> Nodes:
    v_reset = uniform(node.v_reset, "IF v_reset")
    th = collapse(node.v_threshold, "IF v_threshold")
    return [*_input_scale(node.r, ctx, "IF r"), ir.IF(th, v_reset, v_reset)]


def _lif(node: nir.LIF, ctx: ReadCtx) -> Nodes:
    """``v += dt/tau·(v_leak − v + r·I)`` is the IR LIF with ``τ = tau/dt`` and
    ``V_r = v_leak``: ``decay_input`` when ``r = 1``, not when ``r = τ``, else a Scale."""
    tau = uniform(np.asarray(node.tau, np.float64) / ctx.dt, "LIF tau/dt")
    v_reset = uniform(node.v_reset, "LIF v_reset")
    if not close(uniform(node.v_leak, "LIF v_leak"), v_reset):
        raise UnsupportedOpError("LIF with v_leak != v_reset (the IR leaks towards v_reset)")
    if tau < 1.0:
        raise UnsupportedOpError(f"LIF tau/dt = {tau:g} < 1 (unstable at this dt)")
    r = np.asarray(node.r, np.float64)
    exact = ctx.meta.get("tau")  # the IR's own tau, when sjconvert wrote the file
    if exact is not None and close(exact, tau):
        tau = float(exact)
    decay = ctx.meta.get("decay")
    th = collapse(node.v_threshold, "LIF v_threshold")
    modes = [m for m, ok in ((True, close(r, 1.0)), (False, close(r, tau))) if ok]
    if modes:  # at tau = 1 both modes are the same neuron: keep the one written
        mode = ctx.meta.get("decay_input", modes[0])
        return [ir.LIF(tau, th, v_reset, mode if mode in modes else modes[0], v_reset, decay)]
    pre = [ir.Scale(np.asarray(collapse(r, "LIF r"), np.float32))]
    return [*pre, ir.LIF(tau, th, v_reset, True, v_reset, decay)]


def _conv(node: nir.Conv1d | nir.Conv2d, ctx: ReadCtx) -> Nodes:
    n = 1 if isinstance(node, nir.Conv1d) else 2
    if ctx.meta.get("avgpool"):  # written by sjconvert for an AvgPool1d
        k = int(np.asarray(node.weight).shape[-1])
        return [ir.AvgPool1d(k, _ints(node.stride), _padding(node.padding, 1))]
    cls = ir.Conv1d if n == 1 else ir.Conv2d
    bias = node.bias if ctx.meta.get("bias", True) else None
    groups, weight = int(np.asarray(node.groups)), node.weight
    if groups == 1 and ctx.meta.get("groups", 1) != 1:  # written dense by sjconvert
        groups = int(ctx.meta["groups"])
        weight = grouped(weight, groups, "a grouped NIR convolution")
    return [
        cls(
            weight,
            bias,
            _ints(node.stride),
            _padding(node.padding, n),
            _ints(node.dilation),
            groups,
        )
    ]


def _flatten(node: nir.Flatten, ctx: ReadCtx) -> Nodes:
    def with_batch(d: int) -> int:
        return int(d) + 1 if int(d) >= 0 else int(d)

    return [ir.Flatten(with_batch(node.start_dim), with_batch(node.end_dim))]


def _pool(node: nir.AvgPool2d | nir.SumPool2d, ctx: ReadCtx) -> Nodes:
    k = _padding(node.kernel_size, 2)
    pool = ir.AvgPool2d(k, _padding(node.stride, 2), _padding(node.padding, 2))
    if isinstance(node, nir.AvgPool2d):
        return [pool]
    return [pool, ir.Scale(np.float32(k[0] * k[1]))]


def _scale(node: nir.Scale, ctx: ReadCtx) -> Nodes:
    return [ir.Scale(np.asarray(collapse(node.scale, "Scale scale"), np.float32))]


def _integrator(node: nir.I, ctx: ReadCtx) -> Nodes:
    return [*_input_scale(node.r, ctx, "I r"), ir.Readout()]


def _cuba(node: nir.CubaLIF, ctx: ReadCtx) -> Nodes:
    """``α = 1 − dt/τ_syn``, ``β = 1 − dt/τ_mem``; the input gain
    ``(dt/τ_syn)·w_in·(dt/τ_mem)·r`` becomes a Scale when it is not 1."""
    alpha = 1.0 - ctx.dt / uniform(node.tau_syn, "CubaLIF tau_syn")
    beta = 1.0 - ctx.dt / uniform(node.tau_mem, "CubaLIF tau_mem")
    if not (0.0 <= alpha < 1.0 and 0.0 <= beta < 1.0):
        raise UnsupportedOpError("CubaLIF time constants shorter than dt")
    if not close(uniform(node.v_leak, "CubaLIF v_leak"), 0.0):
        raise UnsupportedOpError("CubaLIF with v_leak != 0")
    exact = ctx.meta  # the IR's own decays, when sjconvert wrote the file
    if "c_decay" in exact and np.allclose(
        [exact["c_decay"], exact["v_decay"]], [alpha, beta], rtol=0.0, atol=1e-9
    ):
        alpha, beta = float(exact["c_decay"]), float(exact["v_decay"])
    gain = (
        np.asarray(node.w_in, np.float64)
        * np.asarray(node.r, np.float64)
        * (ctx.dt / np.asarray(node.tau_syn, np.float64))
        * (ctx.dt / np.asarray(node.tau_mem, np.float64))
    )
    g = collapse(gain, "CubaLIF input gain")
    pre = [] if close(g, 1.0) else [ir.Scale(np.asarray(g, np.float32))]
    v_reset = uniform(node.v_reset, "CubaLIF v_reset")
    th = collapse(node.v_threshold, "CubaLIF v_threshold")
    return [*pre, ir.CubaLIF(alpha, beta, th, v_reset, v_reset)]


def _li(node: nir.LI, ctx: ReadCtx) -> Nodes:
    tau = uniform(np.asarray(node.tau, np.float64) / ctx.dt, "LI tau/dt")
    exact = ctx.meta.get("tau")
    tau = float(exact) if exact is not None and close(exact, tau) else tau
    if tau < 1.0:
        raise UnsupportedOpError(f"LI tau/dt = {tau:g} < 1 (unstable at this dt)")
    r = collapse(node.r, "LI r")
    pre = [] if close(r, 1.0) else [ir.Scale(np.asarray(r, np.float32))]
    return [*pre, ir.LI(tau, uniform(node.v_leak, "LI v_leak"))]


def _delay(node: nir.Delay, ctx: ReadCtx) -> Nodes:
    steps = uniform(np.asarray(node.delay, np.float64) / ctx.dt, "Delay delay/dt")
    if not close(steps, round(steps)) or round(steps) < 0:
        raise UnsupportedOpError(f"delay of {steps:g} steps (only whole steps)")
    return [ir.Delay(round(steps))]


READERS: dict[type, Reader] = {
    nir.CubaLIF: _cuba,
    nir.LI: _li,
    nir.Threshold: lambda n, c: [ir.Threshold(collapse(n.threshold, "Threshold threshold"))],
    nir.Delay: _delay,
    nir.Affine: lambda n, c: [ir.Linear(n.weight, n.bias)],
    nir.Linear: lambda n, c: [ir.Linear(n.weight, None)],
    nir.Conv1d: _conv,
    nir.Conv2d: _conv,
    nir.Flatten: _flatten,
    nir.AvgPool2d: _pool,
    nir.SumPool2d: _pool,
    nir.Scale: _scale,
    nir.IF: _if,
    nir.LIF: _lif,
    nir.I: _integrator,
}


def from_nir(graph: nir.NIRGraph, dt: float | None = None) -> Graph:
    """Import a NIR graph. ``dt`` (seconds per step) defaults to the one the graph was
    exported with by sjconvert, else :data:`~.convention.DT`."""
    try:
        top = facts(graph)
    except NirFileError as exc:
        raise InputError(f"invalid NIR graph: {exc}") from None
    dt = time_step(dt, top)
    adds: dict[str, str] = top.get("adds", {})
    order = topological_order(graph)
    preds: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for src, dst in graph.edges:
        preds[dst].append(src)
    nodes: dict[str, ir.Node] = {}
    edges: dict[str, tuple[str, ...]] = {}
    value: dict[str, str] = {}  # NIR node -> IR node holding its output
    outputs: list[str] = []
    problems: list[str] = []
    invalid: list[str] = []
    sums: dict[tuple[str, ...], str] = {}

    def summed(dst: str) -> tuple[str, ...]:
        srcs = tuple(value[s] for s in preds[dst] if s in value)
        if len(srcs) <= 1:
            return srcs
        if srcs not in sums:
            name = adds.get(dst, f"{dst}_sum")
            nodes[name], edges[name] = ir.Add(), srcs
            sums[srcs] = name
        return (sums[srcs],)

    for name in order:
        node = graph.nodes[name]
        if isinstance(node, nir.Input):
            try:
                nodes[name], edges[name], value[name] = _input(node), (), name
            except (KeyError, TypeError, ValueError, OverflowError) as exc:
                invalid.append(f"'{name}' (Input): {exc}")
            continue
        if isinstance(node, nir.Output):
            outputs.extend(summed(name))
            continue
        reader = READERS.get(type(node))
        try:
            if reader is None:
                raise UnsupportedOpError("no IR equivalent")
            chain = reader(node, ReadCtx(dt, facts(node)))
        except UnsupportedOpError as exc:
            problems.append(f"'{name}' ({type(node).__name__}): {exc}")
            continue
        except (TypeError, ValueError, OverflowError) as exc:
            invalid.append(f"'{name}' ({type(node).__name__}): {exc}")
            continue
        if any(p not in value for p in preds[name]):  # an input failed: reported there
            continue
        ins = summed(name)
        if len(ins) != 1:
            problems.append(f"'{name}' ({type(node).__name__}): no input")
            continue
        for k, part in enumerate(chain):
            part_name = name if k == len(chain) - 1 else f"{name}_{part.op.lower()}"
            nodes[part_name], edges[part_name] = part, ins
            ins = (part_name,)
        value[name] = name
    return _finish(nodes, edges, outputs, problems, invalid, dt)


def _input(node: nir.Input) -> ir.Input:
    shape = np.atleast_1d(np.asarray(node.input_type["input"]))
    if shape.dtype.kind not in "iu":
        raise ValueError(f"input shape {shape.tolist()} is not a list of integers")
    return ir.Input(tuple(int(s) for s in shape))


def _finish(
    nodes: dict[str, ir.Node],
    edges: dict[str, tuple[str, ...]],
    outputs: list[str],
    problems: list[str],
    invalid: list[str],
    dt: float,
) -> Graph:
    """The imported graph, or every node that could not be imported, at once."""
    if invalid:
        raise InputError(f"invalid NIR node(s): {'; '.join(invalid)}")
    if problems:
        raise UnsupportedOpError(
            f"cannot import {len(problems)} NIR node(s): {'; '.join(problems)} "
            f"(supported: {', '.join(sorted(c.__name__ for c in READERS))}, Input, Output)"
        )
    bad = [n for n, nd in nodes.items() if isinstance(nd, ir.Readout) and n not in outputs]
    if bad:
        raise UnsupportedOpError(
            f"NIR integrator(s) {bad} feed other nodes; the IR reads "
            "integrators only at graph outputs"
        )
    try:
        g = Graph(nodes, edges, tuple(outputs), meta={"nir": {"dt": dt}})
        return Graph(g.nodes, g.edges, g.outputs, infer_shapes(g), g.meta)
    except GraphError as exc:
        raise InputError(f"the NIR graph's nodes do not fit together: {exc}") from None


def read(path: str | os.PathLike[str], dt: float | None = None) -> Graph:
    """Read a ``.nir`` file — checked first by :func:`.check.read_nir` — and import it
    (see :func:`from_nir`)."""
    p = Path(path)
    graph = read_nir(p)
    try:
        return from_nir(graph, dt)
    except InputError as exc:
        raise InputError(f"{p}: {exc}") from None
