"""Emit a quantised :class:`~.network.LoihiNet` as a Lava process graph
(:class:`~.procgraph.ProcGraph`): one ``LIF`` / ``SigmaDelta`` / ``Sigma`` process per
population, one ``Conv`` or ``Dense`` process per synapse, every synapse into a population
connected to its ``a_in`` (Lava sums them). The same function gives the process graph
``lava.lib.dl.netx`` builds from our NetX file (``netx=True``: NetX's own dense weight
encoding), which is how a NetX chain is simulated.
"""

from __future__ import annotations

from ..network import LoihiNet, Neuron
from .netx_writer import netx_dense_weights
from .procgraph import ProcGraph

BIAS_EXP = 6


def procgraph(net: LoihiNet, steps: int, netx: bool = False) -> ProcGraph:
    """The process graph of ``net`` with ``steps`` input steps (the run lasts ``steps`` plus
    the network's latency; see the module docstring)."""
    pg = ProcGraph()
    pg.add_input(net.input, net.input_shape, net.input_scale, once=net.delta_input)
    for name, n in net.neurons.items():
        _neuron(pg, name, n, net.shapes[name])
    for s in net.synapses:
        graded = s.src == net.input or net.neurons[s.src].model != "cuba"
        if s.kind == "conv":
            pg.add_conv(s.name, s.src, s.dst, s, graded, delay=s.delay)
        elif netx:
            w, shift = netx_dense_weights(s.weight)
            pg.add_dense(s.name, s.src, s.dst, w, graded, weight_exp=-shift)
        else:
            pg.add_dense(s.name, s.src, s.dst, s.weight, graded, delay=s.delay)
    out = net.neurons[net.output]
    offset = out.bias if out.model == "sigma" and out.step_bias is None else None
    pg.set_output(net.output, offset, out.step_bias)
    meta = {"steps": steps + net.latency, "input_steps": steps, "latency": net.latency}
    pg.graph["meta"].update({**meta, "model": net.model, "producer": "sjconvert"})
    return pg


def _neuron(pg: ProcGraph, name: str, n: Neuron, shape: tuple[int, ...]) -> None:
    if n.model == "cuba":
        pg.add_neuron(
            name, "LIF", shape, vth=n.vth, du=n.du, dv=n.dv, bias_mant=n.bias,
            bias_exp=BIAS_EXP, v=n.v,
        )  # fmt: skip
    elif n.model == "sdnn":
        pg.add_neuron(
            name, "SigmaDelta", shape, vth=n.vth, bias=n.bias, act_mode=n.act_mode,
            spike_exp=n.spike_exp, state_exp=n.state_exp,
        )  # fmt: skip
    elif n.model == "graded":
        pg.add_neuron(
            name, "GradedIF", shape, vth=n.vth, bias=n.bias, v_init=n.v,
            max_spikes=n.max_spikes, negative=n.negative, start=n.start,
        )  # fmt: skip
    else:
        pg.add_neuron(name, "Sigma", shape)
