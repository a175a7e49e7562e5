"""Quantise a converted rate SNN to Loihi 2 sigma-delta (NetX ``SDNN``) fixed point.

A sigma-delta ReLU neuron sends the changes of ``act = max(Σ_t a[t] + b, 0)``, so with a
static input sent once it settles, after one step per layer, on the ANN's activation: IF
neurons become ReLU (their rate model ``clamp(X/θ, 0, 1)`` without the upper clamp) and the
:class:`Readout` becomes a sigma (integrator) output. With state scale ``K_l`` (state units
per unit of activation) and ``σ`` the input scale (messages ``round(x·σ)``)::

    W̃ = W / θ_c,  b̃ = b / θ_c                 (per output channel c; θ = 1 for the readout)
    m_l = σ (first layer) or K_{l-1} / 2⁶       (a message carries state >> 6)
    s_l = min(127 / max|W̃|, K_max / m_l);  K_l = s_l m_l      (the readout: no K_max)
    W_q = round(s_l W̃)    b_q = round(K_l b̃ / 2¹²)   (Lava scales the bias by 2¹²)

``K_l`` is kept as large as allowed: it sets both the bias precision (``b_q`` is in units of
``2¹²/K_l``) and the message resolution; where ``K_max`` binds, the layer's weights use
fewer than 8 bits (measured in ``docs/lava.md``). The readout's bias is not sent to Lava
(a sigma output has none): ``round(K_L b̃)`` is kept as the offset added to the read-out
sigma. ``K_max`` bounds messages to ``K_max / 2⁶``: 2¹⁶ before a convolution, so its
sums stay inside Lava's 24-bit (float32) convolution, and 2²¹ before a dense layer (int32
sums of 127·2¹⁵ per input).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import PassError
from ...ir import nodes as ir
from ...ir import walk
from ...ir.graph import Graph
from .quantize import (
    WEIGHT_MAX,
    _channels,
    facts,
    layer_pairs,
    normalised,
    quantize_weights,
    reads_input,
)

STATE_MAX = 1 << 16
DENSE_STATE_MAX = 1 << 21
MESSAGE_SHIFT = 6
BIAS_SHIFT = 12


def quantize_sdnn(
    graph: Graph,
    input_scale: float = 1.0,
    state_max: int = STATE_MAX,
    dense_state_max: int = DENSE_STATE_MAX,
) -> Graph:
    """Quantise every synapse → neuron pair of ``graph`` for sigma-delta neurons (see the
    module docstring); neuron facts and per-layer errors go to ``meta["loihi"]``."""
    ed = graph.editor()
    layers: dict[str, dict[str, Any]] = {}
    scale: dict[str, float] = {}  # K of each neuron's output
    for src, syn, name, node in layer_pairs(graph):
        readout = isinstance(node, ir.Readout)
        n_out = syn.weight.shape[0]
        theta = np.ones(n_out) if readout else _channels(node.v_threshold, n_out)
        w, b = normalised(syn, theta)
        m = input_scale if reads_input(graph, src) else _upstream(graph, src, scale)
        s = WEIGHT_MAX / max(float(np.abs(w).max()), 1e-30)
        if not readout:
            cap = dense_state_max if _feeds_dense(graph, name) else state_max
            s = min(s, cap / m)
        k = s * m
        wq, w_err = quantize_weights(w, s)
        bq, b_err = quantize_weights(b, k if readout else k / (1 << BIAS_SHIFT))
        ed.nodes[src] = syn.evolve(weight=wq, bias=bq if np.any(bq) else None)
        if not readout:
            ed.nodes[name] = ir.ReLU()
        scale[name] = k
        errors = (w_err, b_err if np.any(b) else 0.0, 0.0)
        model = "sigma" if readout else "sdnn"
        layers[src] = facts(name, model, 0, s, k, errors, readout, i_decay=0)
    ed.meta["loihi"] = {"input_scale": input_scale, "model": "sdnn", "layers": layers}
    return ed.freeze()


def _feeds_dense(graph: Graph, name: str) -> bool:
    """Whether the messages of neuron ``name`` reach only Linear synapses."""
    readers = graph.consumers(name)
    while readers and all(graph.nodes[r].movement for r in readers):
        readers = [c for r in readers for c in graph.consumers(r)]
    return bool(readers) and all(isinstance(graph.nodes[r], ir.Linear) for r in readers)


def _upstream(graph: Graph, name: str, scale: dict[str, float]) -> float:
    """Message scale ``K / 2⁶`` of the neuron ``name`` reads through data movement."""
    src, _ = walk.back(graph, graph.edges[name][0], lambda n: n.movement)
    if src not in scale:
        raise PassError(f"{graph.where(name)} reads {src}, which is not a neuron")
    return scale[src] / (1 << MESSAGE_SHIFT)
