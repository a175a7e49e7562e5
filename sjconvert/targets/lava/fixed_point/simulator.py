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

from collections import deque
from dataclasses import dataclass, field

import numpy as np

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


def simulate(
    pg: ProcGraph, x: np.ndarray, record: list[str] | None = None, skip_silent: bool = True
) -> Trace:
    """Run integer input messages ``x`` (``[T, N, *Lava input shape]``, as the source sends
    them) through ``pg``; record the messages of the populations in ``record`` (default:
    all) and the output's state. A synapse whose source sent nothing adds nothing and is
    skipped unless ``skip_silent`` is False (a dry run that must call every process)."""
    x = np.asarray(x, np.int64)
    steps, n = x.shape[:2]
    procs = pg.graph["processes"]
    syns, cells = {}, {}
    for name, spec in procs.items():
        args = _arrays(pg, spec["args"])
        if spec["class"] in synapses.MODELS:
            key = synapses.WEIGHTS[spec["class"]]
            syns[name] = synapses.MODELS[spec["class"]](args, args[key])
        else:
            cells[name] = neurons.MODELS[spec["class"]](args, n)
    source, into = pg.wiring()
    record = list(cells) if record is None else record
    out_name = pg.output["process"]
    spikes = {k: np.zeros((steps, n, *procs[k]["args"]["shape"]), np.int32) for k in record}
    state = np.zeros((steps, *cells[out_name].state.shape), np.int64)
    # the sums still to send per synapse, oldest first (None: nothing yet)
    fifo: dict[str, deque] = {k: deque([None] * (syn.delay + 1)) for k, syn in syns.items()}
    out: dict[str, np.ndarray] = {}
    for t in range(steps):
        for name, cell in cells.items():
            shape = (n, *procs[name]["args"]["shape"])
            a = np.zeros(shape, np.int64)
            for s in into[name]:
                if fifo[s][0] is not None:
                    a = a + fifo[s][0].reshape(shape)
            out[name] = cell.step(wrap(a, 32))
            if name in spikes:
                spikes[name][t] = out[name]
        state[t] = cells[out_name].state
        for name, syn in syns.items():
            src = source[name]
            msg = x[t] if src in pg.graph["inputs"] else out[src]
            fifo[name].popleft()
            silent = skip_silent and not msg.any()  # no messages: nothing to add
            fifo[name].append(None if silent else syn(msg))
    return Trace(spikes, state)
