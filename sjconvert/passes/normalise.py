"""ReLU → IF conversion with layer-wise weight/threshold normalisation (Rueckauer et al. 2017,
"Conversion of continuous-valued deep networks to efficient event-driven networks").

Every value ``v`` of the converted graph carries ``v_ann / λ(v)``:

* graph inputs carry ``λ = 1`` (direct, analog input);
* a ReLU becomes ``IF(V_th = 1, soft reset)`` (or :class:`~sjconvert.ir.nodes.SignedIF`
  with ``neuron="signed"``) whose firing rate ``clamp(X, 0, 1)`` equals ``ReLU(x)/λ`` for
  ``λ`` = the layer's statistic (max, a percentile, or scale·max);
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

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import PassError
from ..ir import nodes as ir
from ..ir import walk
from ..ir.graph import Graph, GraphEditor
from ._scales import (
    Lam,
    as_lam,
    back,
    describe,
    factor,
    rescale_weights,
    same,
    split,
    through,
    vector,
)
from .calibrate import ActivationSummary, statistic
from .options import check_neuron
from .pools import MAXPOOLS, replace_maxpool

BIPOLAR_V_INIT = 0.5  # a bipolar neuron rounds its running sum (docs/transformers.md)


def cap(node: ir.Node, lam: Lam) -> Lam:
    """λ of a capped ReLU ``min(max(x, 0), a)`` never exceeds ``a``: the IF's rate saturates
    at 1, so ``λ = a`` reproduces the cap exactly."""
    a = getattr(node, "max_value", None)
    return lam if a is None else np.minimum(lam, a)


def _passes_scale(node: ir.Node) -> bool:
    return node.keeps_scale or node.sums


def _desired(ed: GraphEditor, name: str, lam: Mapping[str, Lam]) -> Lam:
    """λ wanted at ``name``'s output: the λ of the ReLU it feeds through scale-keeping ops,
    adds and concats (carried back through the data movement between them)."""
    stop, path = walk.forward(ed, name, _passes_scale)
    if stop is None or not ed.nodes[stop].becomes_neuron or stop not in lam:
        return as_lam(1.0)
    want: Lam | None = lam[stop]
    for n in reversed(path):  # undo the moves between name and the ReLU
        node = ed.nodes[n]
        if isinstance(node, ir.Add):
            continue
        if isinstance(node, ir.Concat):
            if want.ndim:
                return as_lam(1.0)
            continue
        want = back(node, want, ed.shapes[ed.edges[n][0]], ed.shapes[n])
        if want is None:
            return as_lam(1.0)
    return want


def lam_is_array(lam: Mapping[str, Lam]) -> bool:
    return any(v.ndim for v in lam.values())


def _rescale(ed: GraphEditor, name: str, lam_in: Lam, lam_out: Lam) -> ir.Node:
    node, (src,) = ed.nodes[name], ed.edges[name]
    where = ed.meta.get("source", {}).get(name, name)
    vin = vector(lam_in, ed.shapes[src], f"input of '{where}'")
    vout = vector(lam_out, ed.shapes[name], f"'{where}'")
    if node.synapse:
        w, b = rescale_weights(node.weight, node.bias, vin, vout, getattr(node, "groups", 1))
        return node.evolve(weight=w, bias=b)
    if isinstance(node, ir.BatchNorm):
        return node.evolve(
            mean=node.mean / vin, gamma=node.gamma * (vin / vout), beta=node.beta / vout
        )
    raise PassError(f"cannot rescale {node.op}")


def _adapt(ed: GraphEditor, src: str, dst: str, have: Lam, need: Lam) -> None:
    """Make the edge src→dst carry λ=need: fold into src's synapse, or insert a Scale."""
    if same(have, need):
        return
    node = ed.nodes[src]
    if (node.synapse or node.affine) and ed.uses(src) == 1:
        ed.nodes[src] = _rescale(ed, src, as_lam(1.0), need / have)
        return
    f = factor(have / need, ed.shapes[src], f"'{src}'")
    ed.insert_after(src, ed.unique_name(f"{src}_scale"), ir.Scale(f), only=[dst])


def relu_to_if(
    graph: Graph,
    stats: Mapping[str, ActivationSummary] | None = None,
    mode: str | float = "99.9%",
    spiking_output: bool = False,
    lam: Mapping[str, Any] | None = None,
    v_init: float | Mapping[str, Any] = 0.0,
    neuron: str = "if",
    burst: int = 1,
    bipolar_burst: int = 1,
    bipolar_headroom: int = 1,
) -> Graph:
    """Convert every ReLU to a neuron (threshold 1, soft reset, ``V[-1] = v_init``: a
    fraction of the threshold, per layer or per channel) with layer- or channel-wise
    normalisation (module docstring): ``neuron`` is ``"if"`` (:class:`~ir.IF`) or
    ``"signed"`` (:class:`~ir.SignedIF` with bursts of up to ``burst`` spikes per step: a
    spike then stands for ``λ/burst``; ``meta["normalisation"]["lambda"]`` records λ). An
    :class:`~ir.Encode` becomes a :class:`~ir.BipolarIF` with bursts of up to
    ``bipolar_burst`` spikes (its λ: a statistic of ``|x|``).

    λ per ReLU comes from ``lam`` (a scalar, or one value per channel) or else from the
    ``mode`` statistic of ``stats[relu]`` (the summary of its ANN outputs).
    """
    check_neuron(neuron, burst)
    if any(type(node) in MAXPOOLS for _, node in graph) and not graph.meta.get("maxpool"):
        replace_maxpool(graph, "error")
    ed = graph.editor()
    relus = [n for n, node in graph if node.becomes_neuron]
    given = dict(lam or {})
    missing = [n for n in relus if n not in given and (stats is None or n not in stats)]
    if missing:
        raise PassError(f"no calibration statistics for ReLU node(s) {missing}")
    lams: dict[str, Lam] = {}
    for n in relus:
        value = as_lam(given[n] if n in given else statistic(stats[n], mode))  # type: ignore[index]
        ok = np.isfinite(value) & (value > 0)
        lams[n] = np.where(ok, value, 1.0) if value.ndim else as_lam(value if ok else 1.0)
        lams[n] = cap(graph.nodes[n], lams[n])
    dropped = []
    for o in list(ed.outputs):  # softmax at an output: monotonic, the SNN reads its input
        if isinstance(ed.nodes[o], ir.Softmax):
            dropped.append(f"{o} ({ed.nodes[o].op}, argmax unchanged)")
            ed.remove(o)
    out_relus = [] if spiking_output else [o for o in ed.outputs if o in relus]
    for n in out_relus:  # ReLU at an output: read the membrane instead
        ed.nodes[n] = ir.Readout()
        lams.pop(n)
    for o in list(ed.outputs):
        if not isinstance(ed.nodes[o], ir.Readout):
            ed.insert_after(o, ed.unique_name(f"{o}_readout"), ir.Readout())
    if bipolar_burst < 1 or bipolar_headroom < 1:
        raise PassError(
            f"bipolar bursts of {bipolar_burst} spikes, headroom {bipolar_headroom}: both must"
            " be >= 1"
        )
    per_spike = {
        n: v / (bipolar_burst if isinstance(graph.nodes[n], ir.Encode) else burst)
        for n, v in lams.items()
    }
    _normalise(ed, per_spike, v_init, _factory(neuron, burst, bipolar_burst * bipolar_headroom))
    ed.meta.update(
        normalisation={
            "mode": str(mode),
            "granularity": "channel" if lam_is_array(lams) else "layer",
            "lambda": {k: describe(v) for k, v in lams.items()},
            "v_init": v_init if isinstance(v_init, float | int) else _json(v_init),
            "neuron": neuron,
            "burst": burst,
            "bipolar_burst": bipolar_burst,
            "bipolar_headroom": bipolar_headroom,
        },
        converted=True,
        dropped=dropped,
    )
    return ed.freeze()


def _json(v_init: Mapping[str, Any]) -> dict[str, Any]:
    return {k: describe(as_lam(v)) for k, v in v_init.items()}


def _factory(neuron: str, burst: int, bipolar_spikes: int) -> Callable[[Any, bool], ir.Node]:
    """The neuron replacing a ReLU (threshold 1), or an Encode (``bipolar``: a
    :class:`~ir.BipolarIF` of up to ``bipolar_spikes`` spikes per step), from its initial
    membrane."""

    def make(v0: Any, bipolar: bool) -> ir.Node:
        if bipolar:
            return ir.BipolarIF(v_threshold=1.0, v_init=v0, max_spikes=bipolar_spikes)
        if neuron == "signed":
            return ir.SignedIF(v_threshold=1.0, v_init=v0, max_spikes=burst)
        return ir.IF(v_threshold=1.0, v_reset=None, v_init=v0)

    return make


def _normalise(
    ed: GraphEditor,
    lam: dict[str, Lam],
    v_init: float | Mapping[str, Any],
    make: Callable[[Any, bool], ir.Node],
) -> None:
    scale: dict[str, Lam] = {}
    one = as_lam(1.0)
    for name in list(ed.nodes):
        node = ed.nodes[name]
        ins = ed.edges.get(name, ())
        if isinstance(node, ir.Input):
            scale[name] = one
        elif node.synapse or node.affine:
            scale[name] = _desired(ed, name, lam)
            ed.nodes[name] = _rescale(ed, name, scale[ins[0]], scale[name])
        elif node.keeps_scale and not isinstance(node, ir.Concat):
            scale[name] = through(node, scale[ins[0]], ed.shapes[ins[0]], ed.shapes[name])
        elif isinstance(node, ir.Add):
            want = _desired(ed, name, lam)
            for src in ins:
                _adapt(ed, src, name, scale[src], want)
            scale[name] = want
        elif isinstance(node, ir.Concat):
            want = _desired(ed, name, lam)
            parts = split(want, [ed.shapes[s] for s in ins], node.dim, ed.shapes[name])
            for src, part in zip(ins, parts, strict=True):
                _adapt(ed, src, name, scale[src], part)
            scale[name] = want
        elif node.becomes_neuron:
            _adapt(ed, ins[0], name, scale[ins[0]], lam[name])
            bipolar = isinstance(node, ir.Encode)
            default = BIPOLAR_V_INIT if bipolar else v_init
            v0 = v_init.get(name, 0.0) if isinstance(v_init, Mapping) else default
            v0 = np.asarray(v0, np.float64).reshape(-1) if np.ndim(v0) else float(v0)
            ed.nodes[name] = make(v0, bipolar)
            scale[name] = lam[name]
        elif node.accumulated or isinstance(node, ir.Constant):  # ANN units in and out
            for src in ins:
                _adapt(ed, src, name, scale[src], one)
            scale[name] = one
        elif isinstance(node, ir.Readout):
            _adapt(ed, ins[0], name, scale[ins[0]], one)
            scale[name] = one
        else:
            raise PassError(f"node '{name}' ({node.op}) cannot be converted by relu_to_if")
