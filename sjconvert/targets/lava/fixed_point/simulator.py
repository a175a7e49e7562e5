"""Bit-accurate fixed-point simulator of a Lava process graph (``Loihi2SimCfg(fixed_pt)``).

It simulates the artifact itself (:class:`~.procgraph.ProcGraph`: the same processes,
arguments and connections Lava builds, in Lava's layout), so parity with Lava needs no
layout reasoning; a NetX chain is simulated through the process graph NetX builds
(:func:`.netx.netx_procgraph`). Every sample starts from a fresh network (batched over
samples). Timing, for any DAG: at step ``t = 0, 1, …``::

    a_n[t]   = Σ_{synapses k → n} syn_k(s_src(k)[t − 1 − d_k])     (0 before the start)
    s_n[t]   = neuron_n(a_n[t])                      (:mod:`.neuron_models`; src: a neuron,
                                                      or the input x[t])

with ``d_k`` the synaptic delay of synapse ``k`` (:mod:`.synapse_models`), so a message
reaches a neuron one step per synapse on its path plus the delays: paths of different
lengths into one neuron deliver at different steps, as in Lava.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch

from ..formats.procgraph import ProcGraph
from . import neuron_models as neurons
from . import synapse_models as synapses
from .neuron_models import wrap


@dataclass
class Trace:
    """Messages ``[T, N, *Lava shape]`` per recorded population, and the output process's
    state over time (what a Lava ``Monitor`` on it reads), plus ``seconds`` for Lava runs."""

    spikes: dict[str, np.ndarray]
    state: np.ndarray
    seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


def _arrays(pg: ProcGraph, args: dict) -> dict:
    return {k: pg.array(v) for k, v in args.items()}


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread: a step of one population is a small operation, and handing
    it to OpenMP's thread team costs more than it saves (measured: 12 ms against 0.12 ms
    per 1×1 convolution of a 2×2×224 input on a loaded 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class _Wiring(NamedTuple):
    syns: dict[str, Any]
    source: dict[str, str]
    sent: dict[str, deque]


def _held(msg: np.ndarray, depth: int | None) -> np.ndarray:
    """A message as a delay line holds it: int32 when it waits and fits (graded spikes are
    24-bit), else as sent."""
    if depth == 1 or msg.dtype == np.int32 or not (-(1 << 31) <= msg.min() <= msg.max() < 1 << 31):
        return msg
    return msg.astype(np.int32)


def _arriving(shape: tuple[int, ...], synapses_in: list[str], wiring: _Wiring) -> np.ndarray | None:
    """The sum of the synaptic inputs reaching a population (of ``shape``) this step,
    wrapped to 32 bits (Lava's ``a_in``), or None when no synapse delivers anything."""
    syns, source, sent = wiring
    a = None
    for s in synapses_in:
        msg = sent[source[s]][-1 - syns[s].delay]
        if msg is not None:
            part = syns[s](msg).reshape(shape)
            if a is None:
                a = part.copy()
            else:
                a += part
    return None if a is None else wrap(a, 32)


def _models(pg: ProcGraph, n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    syns, cells = {}, {}
    for name, spec in pg.graph["processes"].items():
        args = _arrays(pg, spec["args"])
        if spec["class"] in synapses.MODELS:
            key = synapses.WEIGHTS[spec["class"]]
            syns[name] = synapses.MODELS[spec["class"]](args, args[key])
        else:
            cells[name] = neurons.MODELS[spec["class"]](args, n)
    return syns, cells


def last_useful_steps(
    syns: dict[str, Any],
    source: dict[str, str],
    into: dict[str, list[str]],
    read: set[str],
    steps: int,
) -> dict[str, int]:
    """The last step at which each population's messages can still reach a population in
    ``read`` (recorded, or the output) by the end of the run: ``steps − 1`` for those, and
    ``max over synapses k: p → q of until(q) − 1 − delay_k`` for any other ``p`` (−1 if no
    path). A population is not stepped after it: nothing read depends on it then, because
    a message sent at step ``t`` through ``k`` reaches ``q`` at ``t + 1 + delay_k``."""
    until = {name: steps - 1 if name in read else -1 for name in into}
    edges = [(source[k], q, syns[k].delay) for q, ks in into.items() for k in ks]
    edges = [(p, q, d) for p, q, d in edges if p in until]
    for _ in range(len(until)):  # longest-path relaxation over a DAG: at most |V| rounds
        changed = False
        for p, q, d in edges:
            if until[q] - 1 - d > until[p]:
                until[p], changed = until[q] - 1 - d, True
        if not changed:
            break
    return until


class Stopped(RuntimeError):
    """A simulation ended early because its ``stop`` was set."""


def simulate(
    pg: ProcGraph,
    x: np.ndarray,
    record: list[str] | None = None,
    skip_silent: bool = True,
    stop: threading.Event | None = None,
) -> Trace:
    """Run integer input messages ``x`` (``[T, N, *Lava input shape]``, as the source sends
    them) through ``pg``; record the messages of the populations in ``record`` (default:
    all) and the output's state. A synapse whose source sent nothing adds nothing and is
    skipped unless ``skip_silent`` is False: a dry run that must call every process at
    every step, whatever it records. Once ``stop`` is set (a check that failed or was
    interrupted), the next step raises :class:`Stopped` instead.

    Each source (the input or a population) keeps its last ``1 + max delay`` messages
    (int32, as sent), and a synapse computes its sum when the message arrives: a delay
    line holds the source's messages, not a synapse's sums."""
    x = np.asarray(x, np.int64)
    steps, n = x.shape[:2]
    procs = pg.graph["processes"]
    syns, cells = _models(pg, n)
    source, into = pg.wiring()
    record = list(cells) if record is None else record
    out_name = pg.output["process"]
    spikes = {k: np.zeros((steps, n, *procs[k]["args"]["shape"]), np.int32) for k in record}
    state = np.zeros((steps, *cells[out_name].state.shape), np.int64)
    depth: dict[str, int] = {}
    for name, syn in syns.items():
        depth[source[name]] = max(depth.get(source[name], 0), syn.delay + 1)
    # messages sent by each source, the newest last (None: nothing sent)
    sent: dict[str, deque] = {k: deque([None] * d, maxlen=d) for k, d in depth.items()}
    out: dict[str, np.ndarray | None] = {}
    wiring = _Wiring(syns, source, sent)
    read = set(cells) if not skip_silent else {*record, out_name}
    until = last_useful_steps(syns, source, into, read, steps)
    with one_torch_thread():
        for t in range(steps):
            if stop is not None and stop.is_set():
                raise Stopped(f"stopped at step {t} of {steps}")
            for name, cell in cells.items():
                if t > until[name]:  # nothing it sends from now on reaches what is read
                    out[name] = None
                    continue
                out[name] = cell.step(_arriving(cell.state.shape, into[name], wiring))
                if name in spikes:
                    spikes[name][t] = out[name]
            state[t] = cells[out_name].state
            for src, line in sent.items():
                msg = x[t] if src in pg.graph["inputs"] else out[src]
                silent = msg is None or (skip_silent and not msg.any())
                line.append(None if silent else _held(msg, line.maxlen))
    return Trace(spikes, state)
