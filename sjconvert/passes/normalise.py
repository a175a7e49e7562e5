"""ReLU → IF conversion with layer-wise weight/threshold normalisation (Rueckauer et al. 2017,
"Conversion of continuous-valued deep networks to efficient event-driven networks").

Every value ``v`` of the converted graph carries ``v_ann / λ(v)``:

* graph inputs carry ``λ = 1`` (direct, analog input);
* a ReLU becomes ``IF(V_th = 1, soft reset)`` whose firing rate ``clamp(X, 0, 1)`` equals
  ``ReLU(x)/λ`` for ``λ`` = the layer's statistic (max, a percentile, or scale·max);
* a synapse ``y = W x + b`` reading ``x/λ_in`` and writing ``y/λ_out`` gets
  ``Ŵ = W λ_in/λ_out`` and ``b̂ = b/λ_out``; ``λ_out`` is the λ of the ReLU it feeds through
  scale-preserving ops (pooling, flatten, reshape, add, concat), else 1;
* pooling, flatten, reshape keep λ; where an add/concat input or a neuron input carries a
  different λ, a ``Scale(λ_in/λ_need)`` is inserted, then folded into its producing synapse
  when that synapse feeds nothing else;
* graph outputs get a :class:`Readout` (membrane integration, ``λ = 1``, ANN units). A ReLU
  at an output is dropped into the readout (argmax is unchanged) unless ``spiking_output``;
  so is a softmax / log-softmax at an output (listed in ``meta["dropped"]``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import PassError
from ..ir import nodes as ir
from ..ir.graph import Graph, GraphEditor
from ._math import rescale_synapse
from .calibrate import ActivationSummary, statistic
from .fold import SYNAPSES

KEEP_SCALE = (
    ir.AvgPool1d,
    ir.AvgPool2d,
    ir.MaxPool1d,
    ir.MaxPool2d,
    ir.Flatten,
    ir.Reshape,
    ir.Dropout,
    ir.Identity,
)
MAXPOOLS = {ir.MaxPool1d: ir.AvgPool1d, ir.MaxPool2d: ir.AvgPool2d}
MAXPOOL_OPTIONS = ("error", "avg", "spike")


def replace_maxpool(graph: Graph, policy: str = "error") -> Graph:
    """Apply the max-pooling policy: ``error`` refuses (listing every MaxPool), ``avg``
    replaces each by average pooling of the same geometry, ``spike`` keeps it (max over
    spikes in the SNN, an upper bound on the ANN's max)."""
    if policy not in MAXPOOL_OPTIONS:
        raise PassError(f"maxpool option {policy!r} unknown; use one of {MAXPOOL_OPTIONS}")
    found = [n for n, node in graph if type(node) in MAXPOOLS]
    if not found or policy == "spike":
        return graph
    if policy == "error":
        raise PassError(
            f"max pooling at {', '.join(graph.where(n) for n in found)} has no exact spiking "
            "equivalent; choose "
            "--maxpool avg (replace by average pooling) or --maxpool spike (max over spikes)"
        )
    ed = graph.editor()
    for n in found:
        node = ed.nodes[n]
        ed.nodes[n] = MAXPOOLS[type(node)](node.kernel_size, node.stride, node.padding)
    return ed.freeze()


def _desired(ed: GraphEditor, name: str, lam: Mapping[str, float]) -> float:
    """λ wanted at ``name``'s output: the λ of the ReLU it feeds through scale-keeping ops."""
    while ed.uses(name) == 1 and name not in ed.outputs:
        (c,) = ed.consumers(name)
        node = ed.nodes[c]
        if isinstance(node, ir.ReLU) and c in lam:
            return lam[c]
        if not isinstance(node, (*KEEP_SCALE, ir.Add, ir.Concat)):
            break
        name = c
    return 1.0


def _rescale(node: ir.Node, lam_in: float, lam_out: float) -> ir.Node:
    if isinstance(node, SYNAPSES):
        w, b = rescale_synapse(node.weight, node.bias, lam_in, lam_out)
        return node.evolve(weight=w, bias=b)
    if isinstance(node, ir.BatchNorm):
        return node.evolve(
            mean=node.mean / lam_in, gamma=node.gamma * (lam_in / lam_out), beta=node.beta / lam_out
        )
    raise PassError(f"cannot rescale {node.op}")


def _adapt(ed: GraphEditor, src: str, dst: str, have: float, need: float) -> None:
    """Make the edge src→dst carry λ=need: fold into src's synapse, or insert a Scale."""
    if np.isclose(have, need, rtol=1e-7):
        return
    node = ed.nodes[src]
    if isinstance(node, (*SYNAPSES, ir.BatchNorm)) and ed.uses(src) == 1:
        ed.nodes[src] = _rescale(node, 1.0, need / have)
        return
    ed.insert_after(src, ed.unique_name(f"{src}_scale"), ir.Scale(have / need), only=[dst])


def relu_to_if(
    graph: Graph,
    stats: Mapping[str, ActivationSummary],
    mode: str | float = "99.9%",
    spiking_output: bool = False,
) -> Graph:
    """Convert every ReLU to an IF neuron with layer-wise normalisation (module docstring).

    ``stats`` maps each ReLU node name to the summary of its ANN outputs.
    """
    if any(type(node) in MAXPOOLS for _, node in graph) and not graph.meta.get("maxpool"):
        replace_maxpool(graph, "error")
    ed = graph.editor()
    relus = [n for n, node in graph if isinstance(node, ir.ReLU)]
    missing = [n for n in relus if n not in stats]
    if missing:
        raise PassError(f"no calibration statistics for ReLU node(s) {missing}")
    lam: dict[str, float] = {}
    for n in relus:
        value = statistic(stats[n], mode)
        lam[n] = value if np.isfinite(value) and value > 0 else 1.0
    dropped = []
    for o in list(ed.outputs):  # softmax at an output: monotonic, the SNN reads its input
        if isinstance(ed.nodes[o], ir.Softmax):
            dropped.append(f"{o} ({ed.nodes[o].op}, argmax unchanged)")
            ed.remove(o)
    out_relus = [] if spiking_output else [o for o in ed.outputs if o in relus]
    for n in out_relus:  # ReLU at an output: read the membrane instead
        ed.nodes[n] = ir.Readout()
        lam.pop(n)
    for o in list(ed.outputs):
        if not isinstance(ed.nodes[o], ir.Readout):
            ed.insert_after(o, ed.unique_name(f"{o}_readout"), ir.Readout())

    scale: dict[str, float] = {}
    for name in list(ed.nodes):
        node = ed.nodes[name]
        ins = ed.edges.get(name, ())
        if isinstance(node, ir.Input):
            scale[name] = 1.0
        elif isinstance(node, (*SYNAPSES, ir.BatchNorm)):
            scale[name] = _desired(ed, name, lam)
            ed.nodes[name] = _rescale(node, scale[ins[0]], scale[name])
        elif isinstance(node, (*KEEP_SCALE, ir.Scale)):
            scale[name] = scale[ins[0]]
            if isinstance(node, ir.Scale):
                raise PassError(f"graph already holds Scale node '{name}'; convert the ANN")
        elif isinstance(node, (ir.Add, ir.Concat)):
            want = _desired(ed, name, lam)
            for src in ins:
                _adapt(ed, src, name, scale[src], want)
            scale[name] = want
        elif isinstance(node, ir.ReLU):
            _adapt(ed, ins[0], name, scale[ins[0]], lam[name])
            ed.nodes[name] = ir.IF(v_threshold=1.0, v_reset=None)
            scale[name] = lam[name]
        elif isinstance(node, ir.Readout):
            _adapt(ed, ins[0], name, scale[ins[0]], 1.0)
            scale[name] = 1.0
        else:
            raise PassError(f"node '{name}' ({node.op}) cannot be converted by relu_to_if")
    ed.meta.update(
        normalisation={"mode": str(mode), "granularity": "layer", "lambda": lam},
        converted=True,
        dropped=dropped,
    )
    return ed.freeze()
