"""Fold ``Scale`` nodes into neuron thresholds and synapse weights.

SpikingJelly's ``ann2snn`` brackets every IF neuron with voltage scalers
(``VoltageScaler(λ) → IFNode(V_th=1) → VoltageScaler(1/λ)``, one λ per channel with
``channel_wise=True``). Targets without a scaling op need them folded:

* into the neuron it feeds: an IF/LIF on ``s ⊙ X`` (``s > 0``) is the same neuron on ``X``
  with ``V_th/s``, ``V_init/s`` and ``V_reset/s`` (its membrane is ``V/s``; the dynamics are
  linear in ``V``, and ``Θ(s·H − V_th) = Θ(H − V_th/s)``);
* into the next synapse, through average pooling, Flatten, Identity and Dropout (which
  commute with a per-channel scale): ``W (s ⊙ X) = (W diag(s)) X``.

Float rounding differs from the unfolded graph (``x·s`` is rounded once per step there), so
a spike exactly at the threshold may move by a step; ``docs/nir.md`` gives measured rates.
"""

from __future__ import annotations

import numpy as np

from ..ir import nodes as ir
from ..ir.graph import Graph, GraphEditor

Array = np.ndarray
SYNAPSES = (ir.Linear, ir.Conv1d, ir.Conv2d)
NEURONS = (ir.IF, ir.LIF)
COMMUTING = (ir.AvgPool1d, ir.AvgPool2d, ir.Identity, ir.Dropout)


def scale_weight_inputs(weight: Array, s: Array | float) -> Array:
    """``W diag(s)``: input feature / channel ``j`` of ``W`` (axis 1) multiplied by ``s_j``."""
    s = np.asarray(s, np.float32)
    return weight * (s if s.ndim == 0 else s.reshape(1, -1, *([1] * (weight.ndim - 2))))


def neuron_on_unscaled(node: ir.IF | ir.LIF, s: Array | float) -> ir.Node | None:
    """The neuron that spikes on ``X`` exactly when ``node`` spikes on ``s ⊙ X``; None if
    the IR cannot hold it (a non-zero reset with per-channel ``s``, or ``s <= 0``)."""
    s = np.asarray(s, np.float64)
    if np.any(s <= 0):
        return None
    v_reset = node.v_reset
    if v_reset not in (None, 0.0):
        if s.ndim:
            return None
        v_reset = v_reset / float(s)
    scalar = float(s) if s.ndim == 0 else s
    return node.evolve(
        v_threshold=np.asarray(node.v_threshold) / scalar,
        v_init=np.asarray(node.v_init) / scalar,
        v_reset=v_reset,
    )


def _feature_scale(s: Array, flatten: ir.Flatten, in_shape: tuple[int, ...]) -> Array | None:
    """A per-channel scale seen after flattening ``[C, ...]`` to ``[C·...]``."""
    if s.ndim == 0:
        return s
    if flatten.start_dim != 1 or flatten.end_dim not in (-1, len(in_shape)):
        return None
    return np.repeat(s, int(np.prod(in_shape[1:], dtype=np.int64)))


def _into_neuron(ed: GraphEditor, name: str, s: Array) -> bool:
    (dst,) = ed.consumers(name)
    node = ed.nodes[dst]
    new = neuron_on_unscaled(node, s) if isinstance(node, NEURONS) else None
    if new is None:
        return False
    ed.nodes[dst] = new
    ed.remove(name)
    return True


def _into_synapse(ed: GraphEditor, name: str, s: Array) -> bool:
    """Follow single-use commuting nodes from Scale ``name`` to a synapse and fold."""
    cur = name
    while True:
        if ed.uses(cur) != 1 or cur in ed.outputs:
            return False
        (nxt,) = ed.consumers(cur)
        node = ed.nodes[nxt]
        if isinstance(node, ir.Flatten):
            s = _feature_scale(s, node, ed.shapes.get(cur, ()))
            if s is None:
                return False
        elif isinstance(node, SYNAPSES):
            if s.ndim and getattr(node, "groups", 1) != 1:
                return False
            ed.nodes[nxt] = node.evolve(weight=scale_weight_inputs(node.weight, s))
            ed.remove(name)
            return True
        elif not isinstance(node, COMMUTING):
            return False
        cur = nxt


def fold_scales(graph: Graph) -> Graph:
    """Fold every ``Scale`` read only by a neuron into that neuron, and every other ``Scale``
    followed (through commuting ops) by a synapse into its weights. Scales that cannot be
    folded (read twice, before an Add, at an output) stay in place."""
    ed = graph.editor()
    for name, node in graph:
        if not isinstance(node, ir.Scale) or name in ed.outputs or ed.uses(name) != 1:
            continue
        s = np.asarray(node.factor, np.float32)
        if not _into_neuron(ed, name, s):
            _into_synapse(ed, name, s)
    return ed.freeze()
