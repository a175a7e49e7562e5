"""Quantise a spiking graph to Loihi 2 fixed point (CUBA neurons, 8-bit weights).

For each synapse ``y = W x + b`` feeding a neuron with threshold ``θ`` (per channel ``c``)::

    W̃ = W / (τ θ_c),  b̃ = b / (τ θ_c)           (τ = 1 for IF and for LIF without
                                                  decay_input; the threshold becomes 1)
    s = min(127 / max|W̃|, 4095 / (σ max|b̃|), VTH_MAX / σ)     (σ: the input's scale)
    W_q = round(s W̃)         8-bit signed weight mantissa
    b_q = round(s σ b̃)       13-bit bias mantissa (Lava bias exponent 6)
    θ_q = round(s σ) − 1     threshold mantissa (IF: ``v > θ_q·2⁶`` ⟺ ``v ≥ (θ_q+1)·2⁶``
                              because v stays a multiple of 2⁶); ``round(s σ)`` for LIF
    δ_i = 4096 (no current state),  δ_v = round(4096 / τ) (LIF) or 0 (IF)

``σ`` is ``input_scale`` for a layer reading the graph input (graded integer messages
``round(x·σ)``) and 1 for a layer reading spikes. The per-layer scale ``s`` is the layer's
weight exponent: it lives in the threshold and bias mantissas (NetX derives the synapse's
own shift from the integer weights). A :class:`Readout` output becomes a non-spiking
integrator (``θ_q = VTH_MAX``) with ``s`` also bounded so that ``T`` steps cannot reach it.

The quantised graph keeps its nodes (integer-valued weights); the neuron parameters and the
per-layer quantisation error (relative RMS error of the effective weights, bias and
threshold) go to ``meta["loihi"]``. Soft reset and non-zero ``v_init`` have no CUBA
equivalent: ``reset="exact"`` refuses them (naming the nodes), ``reset="hard"`` maps them
to hard reset to 0 from 0 (an approximation whose accuracy cost ``docs/lava.md`` measures).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ...errors import PassError
from ...ir import nodes as ir
from ...ir import walk
from ...ir.graph import Graph
from .fixed_point import BIAS_RANGE, DECAY_UNITY, VTH_MAX

WEIGHT_MAX = 127
RESETS = ("exact", "hard")


def normalised(syn: Any, div: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(W / div, b / div)`` with ``div`` one divisor per output channel (float64): the
    synapse in units of its neuron's threshold. Shared by the CUBA and sigma-delta maps."""
    n_out = syn.weight.shape[0]
    w = syn.weight / div.reshape((-1,) + (1,) * (syn.weight.ndim - 1))
    b = np.zeros(n_out) if syn.bias is None else syn.bias / div
    return w, b


def facts(
    neuron: str,
    model: str,
    vth: int,
    scale: float,
    state_scale: float,
    errors: tuple[float, float, float],
    readout: bool = False,
    v_decay: int = 0,
    i_decay: int = DECAY_UNITY,
) -> dict[str, Any]:
    """One layer's entry of ``meta["loihi"]["layers"]`` (the same layout for every model):
    the neuron it feeds, the Loihi neuron model (``cuba``, ``sdnn`` or ``sigma``), its
    integer parameters, the weight scale ``s``, the state scale (state units per unit of
    activation) and the relative quantisation errors of weight, bias and threshold."""
    w_err, b_err, th_err = errors
    return {
        "neuron": neuron,
        "model": model,
        "vth": int(vth),
        "i_decay": int(i_decay),
        "v_decay": int(v_decay),
        "readout": readout,
        "scale": float(scale),
        "state_scale": float(state_scale),
        "error": {"weight": w_err, "bias": b_err, "threshold": th_err},
    }


def quantize_weights(w: np.ndarray, scale: float) -> tuple[np.ndarray, float]:
    """``(round(w·scale), relative RMS error)`` of the integer mantissas."""
    q = np.rint(np.asarray(w, np.float64) * scale)
    ref = float(np.sqrt(np.mean(np.square(w)))) or 1.0
    err = float(np.sqrt(np.mean(np.square(q / scale - w)))) / ref
    return q.astype(np.float32), err


def voltage_decay(tau: float) -> int:
    """12-bit voltage decay for a leak ``1/τ``: ``round(4096/τ)`` (IF: τ = ∞ → 0)."""
    return min(DECAY_UNITY - 1, round(DECAY_UNITY / tau))


def _channels(value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value, np.float64)
    return np.broadcast_to(arr.reshape(-1), (n,)) if arr.size > 1 else np.full(n, float(arr))


def _refusals(graph: Graph, reset: str) -> list[str]:
    out = []
    for name, node in graph:
        if not node.rate_coded:
            continue
        if isinstance(node, ir.LIF) and node.v_reset not in (None, 0.0):
            out.append(f"{graph.where(name)}: LIF resets to {node.v_reset}, Loihi to 0")
        elif reset == "exact" and node.v_reset is None:
            out.append(f"{graph.where(name)}: soft reset (reset by subtraction)")
        if reset == "exact" and np.any(np.asarray(node.v_init) != 0):
            out.append(f"{graph.where(name)}: v_init != 0 (Loihi starts from 0)")
    return out


def _layer(
    syn: ir.Node, name: str, neuron: ir.Node, sigma: float, steps: int, x_max: float
) -> tuple[ir.Node, dict[str, Any]]:
    """Quantise one synapse + neuron pair; the new synapse and the neuron's Loihi facts."""
    n_out = syn.weight.shape[0]
    readout = isinstance(neuron, ir.Readout)
    leak = isinstance(neuron, ir.LIF)
    tau = neuron.tau if leak else 1.0
    theta = np.ones(n_out) if readout else _channels(neuron.v_threshold, n_out)
    w, b = normalised(syn, theta * (tau if leak and neuron.decay_input else 1.0))
    bound = [WEIGHT_MAX / max(float(np.abs(w).max()), 1e-30), VTH_MAX / sigma]
    if np.any(b):
        bound.append(BIAS_RANGE[1] / (sigma * float(np.abs(b).max())))
    if readout:  # |v| must stay below VTH_MAX·2⁶ for `steps` steps
        reach = np.abs(w).reshape(n_out, -1).sum(1) * x_max * sigma + np.abs(b) * sigma
        bound.append(VTH_MAX / (steps * max(float(reach.max()), 1e-30)))
    s = min(bound)
    wq, w_err = quantize_weights(w, s)
    if np.abs(wq).max() < 8:
        raise ValueError(
            f"weights do not fit after quantisation: bias, threshold or readout range leave "
            f"{int(np.abs(wq).max())} weight levels"
        )
    bq, b_err = quantize_weights(b, s * sigma)
    exact_if = isinstance(neuron, ir.IF)
    vth = VTH_MAX if readout else max(0, round(s * sigma) - (1 if exact_if else 0))
    th_err = 0.0 if readout else abs((vth + exact_if) / (s * sigma) - 1.0)
    new = syn.evolve(weight=wq, bias=bq if np.any(bq) else None)
    errors = (w_err, b_err if np.any(b) else 0.0, th_err)
    v_decay = voltage_decay(tau) if leak else 0
    return new, facts(name, "cuba", vth, s, s * sigma, errors, readout, v_decay)


def quantize_loihi(
    graph: Graph,
    input_scale: float = 1.0,
    steps: int = 32,
    x_max: float = 1.0,
    reset: str = "exact",
) -> Graph:
    """Quantise every synapse → neuron pair of ``graph`` (see the module docstring).

    ``input_scale`` maps the graph input to integer messages, ``x_max`` bounds ``|x|``
    (for the readout range) and ``steps`` is the number of time steps the network will run.
    """
    if reset not in RESETS:
        raise PassError(f"reset must be one of {RESETS}, got {reset!r}")
    refused = _refusals(graph, reset)
    if refused:
        raise PassError(
            f"no Loihi CUBA equivalent (use reset='hard' to approximate): {'; '.join(refused)}"
        )
    ed = graph.editor()
    layers: dict[str, dict[str, Any]] = {}
    for src, syn, name, node in layer_pairs(graph):
        first = reads_input(graph, src)
        sigma = input_scale if first else 1.0
        try:
            ed.nodes[src], layers[src] = _layer(
                syn, name, node, sigma, steps, x_max if first else 1.0
            )
        except ValueError as exc:
            raise PassError(f"{graph.where(src)}: {exc}") from None
        if node.rate_coded:
            ed.nodes[name] = ir.IF(v_threshold=layers[src]["vth"] + 1.0, v_reset=0.0)
    ed.meta["loihi"] = {
        "input_scale": input_scale,
        "steps": steps,
        "reset": reset,
        "layers": layers,
    }
    return ed.freeze()


def layer_pairs(graph: Graph) -> Iterator[tuple[str, ir.Node, str, ir.Node]]:
    """``(synapse name, synapse, neuron name, neuron)`` for every IF/LIF/Readout, which must
    read a Linear/Conv that feeds nothing else."""
    for name, node in graph:
        if not (node.rate_coded or isinstance(node, ir.Readout)):
            continue
        (src,) = graph.edges[name]
        syn = graph.nodes[src]
        if not syn.synapse or graph.consumers(src) != [name]:
            raise PassError(f"{graph.where(name)} must read a synapse that feeds only it")
        yield src, syn, name, node


def reads_input(graph: Graph, name: str) -> bool:
    """Whether synapse ``name`` reads a graph input through data movement only."""
    src, _ = walk.back(graph, graph.edges[name][0], lambda n: n.movement)
    return isinstance(graph.nodes[src], ir.Input)
