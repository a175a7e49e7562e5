"""Quantise a converted rate network (:class:`~.network.Paths`) for Loihi 2 sigma-delta
neurons (Lava ``SigmaDelta`` with ReLU; the readout is a ``Sigma``).

A sigma-delta ReLU neuron sends the changes of ``act = max(Σ_t a[t] + b, 0)``, so with a
static input sent once it settles, one step per synapse on the longest path, on the ANN's
activation: IF (and LIF) neurons become ReLU (their rate model ``clamp(X/θ, 0, 1)`` without
the upper clamp) and the :class:`Readout` a sigma. With state scale ``K_n`` (state units per
unit of activation) per population, shared by every synapse into it, and ``m_k`` the message scale
of source ``k`` (``σ`` for the input, ``K_src / 2^state_exp`` for a population: messages
carry ``state >> state_exp``)::

    W̃ = W / θ_c,  b̃ = b / θ_c                  (per output channel c; θ = 1 for the readout)
    K_n = min(min_k 127·m_k / max|W̃_k|, K_max)  (the readout: no K_max)
    W_q = round(K_n W̃_k / m_k)    b_q = round(K_n b̃ / 2^(spike_exp + state_exp))

``K_n`` is kept as large as allowed: it sets both the bias precision and the message
resolution. Lava scales the bias by ``2^(spike_exp + state_exp)``: NetX fixes both exponents
at 6 (bias unit ``2¹²/K``); a process graph uses ``spike_exp = 0`` (64× finer biases,
``docs/lava.md``). The readout's bias is not sent to Lava (a sigma has none):
``round(K b̃)`` is the offset added to its state. ``K_max`` bounds messages to
``K_max / 2⁶``: 2¹⁶ when they reach a convolution (whose sums wrap at 24 bits) and 2²¹
when they reach only dense synapses (int32 sums of 127·2¹⁵ per input).
"""

from __future__ import annotations

import numpy as np

from ....errors import PassError
from ....ir import nodes as ir
from ..network import LoihiNet, Neuron, Paths
from .shared import (
    Incoming,
    bias_error,
    channels,
    facts,
    normalised,
    population_scale,
    quantize_synapses,
)

STATE_MAX = 1 << 16
DENSE_STATE_MAX = 1 << 21
STATE_EXP = 6
NETX_SPIKE_EXP = 6


def quantize_sdnn(
    paths: Paths,
    input_scale: float,
    spike_exp: int = 0,
    state_max: int = STATE_MAX,
    dense_state_max: int = DENSE_STATE_MAX,
) -> LoihiNet:
    """Quantise ``paths`` for sigma-delta neurons (see the module docstring)."""
    neurons, synapses, report, scale = {}, [], {}, {}
    for name, pop in paths.populations.items():
        readout = isinstance(pop.node, ir.Readout)
        if not (readout or pop.node.rate_coded):
            raise PassError(
                f"{name}: sigma-delta neurons stand for rate-coded neurons, not {pop.node.op}"
            )
        theta = np.ones(pop.shape[0]) if readout else channels(pop.node.v_threshold, pop.shape[0])
        incoming = [
            Incoming(
                s,
                normalised(s.weight, theta),
                input_scale if s.src == paths.input else scale[s.src] / (1 << STATE_EXP),
                1.0,
            )
            for s in paths.into(name)
        ]
        bounds = []
        if not readout:
            dense = all(s.kind == "dense" for s in paths.synapses if s.src == name)
            bounds.append(dense_state_max if dense else state_max)
        k = population_scale(incoming, bounds)
        try:
            syns, syn_report = quantize_synapses(incoming, k)
        except ValueError as exc:
            raise PassError(f"{name}: {exc}") from None
        b = normalised(pop.bias, theta)
        unit = 1 if readout else 1 << (spike_exp + STATE_EXP)
        bq = np.rint(b * k / unit).astype(np.int64)
        model = "sigma" if readout else "sdnn"
        neurons[name] = Neuron(model, bias=bq, spike_exp=spike_exp, state_exp=STATE_EXP)
        errors = {"bias": bias_error(b, bq, unit / k), "threshold": 0.0, "decay": 0.0}
        report[name] = facts(pop.node, neurons[name], k, syn_report, errors)
        scale[name] = k
        synapses += syns
    return LoihiNet.of(paths, input_scale, neurons, synapses, report)
