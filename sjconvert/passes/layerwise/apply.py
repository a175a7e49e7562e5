"""Applying a layer-wise calibration: pure ``Graph -> Graph`` passes over the prepared ANN and
its conversion, and the graph facts the calibration needs (where a bias can shift a layer's
input, whether its λ may be per channel, which ANN value each readout reproduces)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ...ir import nodes as ir
from ...ir import walk
from ...ir.graph import Graph
from .._scales import Lam, as_lam, channel_lam
from ..expectation import expectation
from ..normalise import relu_to_if
from ..pools import accumulate_pools
from .fit import Setting
from .plan import Calibration, Layer


def bias_carrier(graph: Graph, name: str) -> str | None:
    """The synapse (or batch norm) whose bias shifts the value ``name`` per channel: ``name``
    itself, or found back through single-use ops that pass a per-channel shift unchanged
    (through an Add, the first of its inputs that has one)."""
    stop, path = walk.back(graph, name, lambda n: n.keeps_shift)
    if any(len(graph.consumers(graph.edges[p][0])) != 1 for p in path):
        return None
    node = graph.nodes[stop]
    if node.synapse or node.affine:
        return stop
    if isinstance(node, ir.Add):
        found = (bias_carrier(graph, s) for s in graph.edges[stop])
        return next((f for f in found if f is not None), None)
    return None


def add_bias(graph: Graph, shifts: Mapping[str, np.ndarray]) -> Graph:
    """``graph`` with ``shifts[name]`` (ANN units, one per output channel) added to the bias
    of each node ``name`` (a synapse or a batch norm)."""
    ed = graph.editor()
    for name, delta in shifts.items():
        node = ed.nodes[name]
        if isinstance(node, ir.BatchNorm):
            ed.nodes[name] = node.evolve(beta=(node.beta + delta).astype(np.float32))
        else:
            b = np.zeros(node.weight.shape[0], np.float32) if node.bias is None else node.bias
            ed.nodes[name] = node.evolve(bias=(b + delta).astype(np.float32))
    return ed.freeze()


def channelwise_ok(graph: Graph, relu: str) -> bool:
    """Channel-wise λ needs the ReLU's channels to be its producing synapse's channels; an
    Encode's, that axis 1 is the channel axis of the synapses it feeds (a convolution, or a
    dense layer of a flat value)."""
    if isinstance(graph.nodes[relu], ir.Encode):
        readers = [graph.nodes[c] for c in graph.consumers(relu)]
        rank = len(graph.shapes[relu])
        return all(getattr(r, "dims", 0) > 0 or rank == 1 for r in readers)  # convolutions
    stop, _ = walk.back(graph, graph.edges[relu][0], lambda n: n.keeps_shift)
    node = graph.nodes[stop]
    return isinstance(node, ir.Add) or node.synapse or node.affine


def readout_sources(prepared: Graph, snn: Graph) -> dict[str, str]:
    """SNN readout name → the prepared node whose value it integrates (λ = 1)."""
    pairs = {}
    for r in snn.outputs:
        if not isinstance(snn.nodes[r], ir.Readout):
            continue
        src, _ = walk.back(snn, snn.edges[r][0], lambda n: isinstance(n, ir.Scale))
        if src in prepared.nodes:
            pairs[r] = src
    return pairs


def layers(prepared: Graph, snn: Graph) -> dict[str, Layer]:
    """The calibration targets of ``snn`` (converted from ``prepared``): its neuron layers
    and readouts."""
    out = {}
    for n, node in snn:
        if node.spiking:
            carrier = bias_carrier(prepared, prepared.edges[n][0])
            cap = getattr(prepared.nodes[n], "max_value", None)
            out[n] = Layer(n, carrier, channelwise_ok(prepared, n), cap, node.bipolar)
    for r, src in readout_sources(prepared, snn).items():
        out[r] = Layer(src, bias_carrier(prepared, src), True)
    return out


def convert(
    prepared: Graph,
    lam: Mapping[str, Lam],
    v_init: Mapping[str, np.ndarray] | float,
    neuron: str,
    burst: int,
    cumulative: bool,
    spiking_output: bool = False,
    bipolar_burst: int = 1,
    bipolar_headroom: int = 1,
) -> Graph:
    """``relu_to_if`` with the given λ and initial membranes, then cumulative max pooling
    (:func:`~sjconvert.passes.pools.accumulate_pools`) when ``cumulative``, then the running
    means of the non-spiking ops (:func:`~sjconvert.passes.expectation.expectation`)."""
    snn = relu_to_if(
        prepared,
        lam=lam,
        v_init=v_init,
        neuron=neuron,
        burst=burst,
        spiking_output=spiking_output,
        bipolar_burst=bipolar_burst,
        bipolar_headroom=bipolar_headroom,
    )
    return expectation(accumulate_pools(snn) if cumulative else snn)


def calibrated(
    prepared: Graph,
    cal: Calibration,
    targets: Mapping[str, Layer],
    setting: Setting,
    cumulative: bool,
    spiking_output: bool = False,
) -> tuple[Graph, Graph]:
    """The calibrated ``(SNN, ANN with shifted biases)``: each fitted input shift moves into
    the bias that carries it, each layer's λ becomes ``λ₀·θ·B`` (per channel; a spike
    stands for ``λ₀·θ``) and its initial membrane the fitted fraction of its threshold."""
    shifts: dict[str, np.ndarray] = {}
    lam: dict[str, Lam] = {}
    v_init: dict[str, np.ndarray] = {}
    for n, fit in cal.layers.items():
        carrier = targets[n].carrier
        if carrier is not None and np.any(fit.shift):
            shifts[carrier] = shifts.get(carrier, 0.0) + fit.shift
        if n in cal.lam0:
            burst = setting.bipolar_burst if targets[n].bipolar else setting.burst
            theta = np.asarray(fit.threshold, np.float64) * burst
            if np.allclose(theta, theta.flat[0]):
                lam[n] = as_lam(cal.lam0[n] * theta.flat[0])
            else:
                lam[n] = channel_lam(cal.lam0[n] * theta, len(prepared.shapes[n]))
            v_init[n] = np.asarray(fit.v_init, np.float64)
    ann = add_bias(prepared, shifts)
    snn = convert(
        ann,
        lam,
        v_init,
        setting.neuron,
        setting.burst,
        cumulative,
        spiking_output,
        setting.bipolar_burst,
        setting.bipolar_headroom,
    )
    return snn, ann
