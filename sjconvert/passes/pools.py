"""Max pooling in a converted network: the policy applied to the ANN before conversion
(:func:`replace_maxpool`) and the cumulative wrapping of spike-driven max pools in the SNN
(:func:`accumulate_pools`)."""

from __future__ import annotations

from ..errors import PassError
from ..ir import nodes as ir
from ..ir import walk
from ..ir.graph import Graph

MAXPOOLS = {ir.MaxPool1d: ir.AvgPool1d, ir.MaxPool2d: ir.AvgPool2d}
MAXPOOL_OPTIONS = ("cumulative", "pre", "error", "avg", "spike")


def replace_maxpool(graph: Graph, policy: str = "cumulative") -> Graph:
    """Apply the max-pooling policy to an ANN.

    * ``cumulative`` and ``pre`` pool the neuron's input current instead of its spikes:
      ``MaxPool(ReLU(x)) = ReLU(MaxPool(x))`` (ReLU is monotonic), so a pool reading a ReLU
      is moved before it; the ANN is unchanged. ``pre`` keeps the per-step max of the
      currents (exact for a static current such as direct input, biased upwards for
      spike-driven ones); ``cumulative`` then pools cumulative currents in the SNN
      (:func:`accumulate_pools`, after conversion). A pool whose ReLU has other readers
      stays after it.
    * ``error`` refuses (listing every MaxPool); ``avg`` replaces each by average pooling
      of the same geometry; ``spike`` keeps it (max over spikes in the SNN, an upper bound
      on the ANN's max).
    """
    if policy not in MAXPOOL_OPTIONS:
        raise PassError(f"maxpool option {policy!r} unknown; use one of {MAXPOOL_OPTIONS}")
    found = [n for n, node in graph if type(node) in MAXPOOLS]
    if not found or policy == "spike":
        return graph
    if policy in ("pre", "cumulative"):
        return _pool_before_relu(graph, found)
    if policy == "error":
        raise PassError(
            f"max pooling at {', '.join(graph.where(n) for n in found)} has no exact spiking "
            "equivalent; choose "
            "--maxpool avg (replace by average pooling) or --maxpool spike (max over spikes)"
        )
    ed = graph.editor()
    for n in found:
        node = ed.nodes[n]
        if any(d != 1 for d in node.dilation):
            raise PassError(f"max pooling at {graph.where(n)} is dilated: no average equivalent")
        avg = MAXPOOLS[type(node)]
        ed.nodes[n] = avg(node.kernel_size, node.stride, node.padding, node.ceil_mode, False)
    return ed.freeze()


def _pool_before_relu(graph: Graph, pools: list[str]) -> Graph:
    ed = graph.editor()
    for m in pools:
        (r,) = ed.edges[m]
        if not isinstance(ed.nodes[r], ir.ReLU) or ed.uses(r) != 1:
            continue
        for c in ed.consumers(m):
            ed.edges[c] = tuple(r if i == m else i for i in ed.edges[c])
        ed.outputs = [r if o == m else o for o in ed.outputs]
        ed.edges[m], ed.edges[r] = ed.edges[r], (m,)
        ed.shapes[r] = ed.shapes[m]
        order = list(ed.nodes)
        i, j = order.index(r), order.index(m)
        order[i], order[j] = m, r
        ed.nodes = {n: ed.nodes[n] for n in order}
    return ed.freeze()


def accumulate_pools(graph: Graph) -> Graph:
    """Make every max pool of a spike-driven value pool cumulative values:
    ``Difference(MaxPool(Accumulate(X)))``, so that after every step ``t`` the summed output
    is ``MaxPool(Σ_{t' ≤ t} X[t'])`` — the max of the neurons' net spike counts (or of the
    cumulative currents, before a neuron), exactly what a rate-coded max computes. Max
    pools of static values are left as they are (already exact)."""
    temporal = walk.temporal(graph)
    pools = [n for n, node in graph if type(node) in MAXPOOLS and graph.edges[n][0] in temporal]
    if not pools:
        return graph
    ed = graph.editor()
    for n in pools:
        ed.insert_after(ed.edges[n][0], ed.unique_name(f"{n}_sum"), ir.Accumulate(), only=[n])
        ed.insert_after(n, ed.unique_name(f"{n}_diff"), ir.Difference())
    return ed.freeze()
