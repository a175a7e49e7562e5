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
from ..ir import walk
from ..ir.graph import Graph, GraphEditor

Array = np.ndarray


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
    new = neuron_on_unscaled(node, s) if node.rate_coded else None
    if new is None:
        return False
    ed.nodes[dst] = new
    ed.remove(name)
    return True


def _commutes(node: ir.Node) -> bool:
    """Ops a per-channel scale passes on the way to a synapse: pooling, identities and a
    flatten (which spreads it over the features)."""
    return node.keeps_scale and (not node.movement or isinstance(node, ir.Flatten))


def _into_synapse(ed: GraphEditor, name: str, s: Array) -> bool:
    """Follow single-use commuting nodes from Scale ``name`` to a synapse and fold."""
    if ed.uses(name) != 1:
        return False
    stop, path = walk.forward(ed, name, _commutes)
    if stop is None or not ed.nodes[stop].synapse or any(ed.uses(p) != 1 for p in path):
        return False
    prev = name
    for p in path:
        node = ed.nodes[p]
        if isinstance(node, ir.Flatten):
            s = _feature_scale(s, node, ed.shapes.get(prev, ()))
            if s is None:
                return False
        prev = p
    syn = ed.nodes[stop]
    if s.ndim and getattr(syn, "groups", 1) != 1:
        return False
    ed.nodes[stop] = syn.evolve(weight=scale_weight_inputs(syn.weight, s))
    ed.remove(name)
    return True


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
