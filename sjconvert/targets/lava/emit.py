"""Emit a quantised :class:`~.network.LoihiNet` as a Lava process graph
(:class:`~.procgraph.ProcGraph`): one ``LIF`` / ``SigmaDelta`` / ``Sigma`` process per
population, one ``Conv`` or ``Dense`` process per synapse, every synapse into a population
connected to its ``a_in`` (Lava sums them). The same function gives the process graph
``lava.lib.dl.netx`` builds from our NetX file (``netx=True``: NetX's own dense weight
encoding), which is how a NetX chain is simulated; :func:`unrolled` gives a twin with every
convolution as a dense matrix, which Lava simulates faster (``to-lava --lava-unroll``).
"""

from __future__ import annotations

import copy

import numpy as np

from . import synapses
from .network import LoihiNet
from .netx import netx_dense_weights
from .procgraph import MIXED, ProcGraph

BIAS_EXP = 6
UNROLL_LIMIT = 1 << 24  # matrix entries (int32: 64 MB)


def procgraph(net: LoihiNet, steps: int, netx: bool = False) -> ProcGraph:
    """The process graph of ``net`` run for ``steps`` steps (see the module docstring)."""
    pg = ProcGraph()
    pg.add_input(net.input, net.input_shape, net.input_scale, once=net.delta_input)
    for name, n in net.neurons.items():
        shape = net.shapes[name]
        if n.model == "cuba":
            pg.add_neuron(
                name, "LIF", shape, vth=n.vth, du=n.du, dv=n.dv, bias_mant=n.bias,
                bias_exp=BIAS_EXP, v=n.v,
            )  # fmt: skip
        elif n.model == "sdnn":
            pg.add_neuron(
                name, "SigmaDelta", shape, vth=n.vth, bias=n.bias, act_mode=1,
                spike_exp=n.spike_exp, state_exp=n.state_exp,
            )  # fmt: skip
        else:
            pg.add_neuron(name, "Sigma", shape)
    for s in net.synapses:
        graded = s.src == net.input or net.neurons[s.src].model != "cuba"
        if s.kind == "conv":
            pg.add_conv(s.name, s.src, s.dst, s, graded)
        elif netx:
            w, shift = netx_dense_weights(s.weight)
            pg.add_dense(s.name, s.src, s.dst, w, graded, weight_exp=-shift)
        else:
            pg.add_dense(s.name, s.src, s.dst, s.weight, graded)
    out = net.neurons[net.output]
    pg.set_output(net.output, out.bias if out.model == "sigma" else None)
    pg.graph["meta"].update({"steps": steps, "model": net.model, "producer": "sjconvert"})
    return pg


def unrolled(pg: ProcGraph, limit: int = UNROLL_LIMIT) -> ProcGraph:
    """A twin of ``pg`` with every ``Conv`` process replaced by a ``Dense`` holding the same
    integer weights (each input–output pair meets at most one kernel tap, so the matrix is
    8-bit) — the same sums as long as they stay within the convolution's 24 bits. Lava
    simulates a Dense 2.5–4× faster than its per-channel-pair scipy convolution; convs with
    more than ``limit`` matrix entries stay convs."""
    twin = ProcGraph(copy.deepcopy(pg.graph), dict(pg.arrays))
    for name, spec in pg.processes.items():
        args = {k: pg.array(v) for k, v in spec["args"].items()}
        shape = tuple(args.get("input_shape", ()))
        n = int(np.prod(shape))
        if spec["class"] != "Conv" or n * n > limit:
            continue
        conv = synapses.Conv({**args, "num_message_bits": 24}, args["weight"])
        matrix = conv(np.eye(n, dtype=np.int64).reshape(n, *shape)).reshape(n, -1).T
        del twin.arrays[f"{name}.weight"]
        bits = int(args["num_message_bits"])
        twin.processes[name] = {
            "class": "Dense",
            "args": {
                "weights": twin.add_array(f"{name}.weights", (2 * matrix).astype(np.int32)),
                "weight_exp": -1, "sign_mode": MIXED, "num_weight_bits": 8,
                "num_message_bits": bits,
            },
        }  # fmt: skip
        for conn in twin.graph["connections"]:
            if conn[1] == f"{name}.s_in":
                conn[2:] = [{"reshape": [n]}]
            elif conn[0] == f"{name}.a_out":
                dst = twin.processes[conn[1].split(".")[0]]["args"]["shape"]
                conn[2:] = [{"reshape": list(dst)}]
    return twin
