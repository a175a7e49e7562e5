"""Layer-by-layer calibration of a converted SNN for a target number of time steps T.

Rate-coded conversion with ``V[-1] = 0`` floors: after T steps an IF neuron with constant
input ``x ∈ [0, 1]`` (in units of its λ) has fired ``⌊T·x⌋`` times. Starting at half the
threshold (``V[-1] = θ/2``, Hao et al. 2023; Bu et al. 2022) rounds instead, halving the
worst-case error. What remains at small T — the clipping/resolution trade-off of λ, and
the errors that deeper layers inherit from time-varying spike inputs — is corrected with a
few calibration batches, one neuron layer at a time in topological order, each layer seeing
the spikes of the already-calibrated layers before it (sequential calibration, Li et al.
2021, "A free lunch from ANN: towards efficient, accurate spiking neural networks
calibration"):

1. **Threshold search.** With the layer's input current ``I[t]`` (units of λ) recorded from
   the SNN, try ``λ' = s·λ`` over a grid of ``s`` and keep, per channel (or per layer), the
   ``s`` minimising ``Σ (λ'·N_T(I/s)/T − a)²`` against the ANN activation ``a``, where
   ``N_T`` counts the IF spikes over the target T steps.
2. **Bias (membrane-potential) correction.** Add ``δ_c = E[a − λ'·N_T/T]`` (the mean error
   over samples and positions, per channel) to the bias feeding the layer; the neuron's
   input shifts by ``δ_c/λ'_c`` per step. Three fixed-point iterations account for the
   clipping nonlinearity. The membrane readout at the outputs gets the same correction.
3. **Initial membrane search** (optional, ``v_grid``): steps 1–2 are repeated for each
   initial membrane ``V[-1] ∈ v_grid`` (fractions of θ around θ/2) and the layer keeps the
   one with the least error at T.

Both act on ANN-level parameters (λ, biases) and re-run :func:`relu_to_if`, so the result is
a plain IF network: threshold 1, soft reset, ``V[-1] = v_init``, as every target accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..exec.arrays import run_node
from ..exec.reference import Simulator
from ..ir import nodes as ir
from ..ir import walk
from ..ir.graph import Graph
from ._scales import Lam, as_lam, channel_lam
from .normalise import cap, relu_to_if

GRID = tuple(float(s) for s in np.geomspace(0.25, 1.25, 13))
BIAS_ITERATIONS = 3
V_GRID = (0.3, 0.4, 0.5, 0.6)  # initial membranes (fractions of θ) tried per layer
SEARCH_VALUES = 2048  # (sample, position) pairs per channel seen by the search


@dataclass
class Refinement:
    """The calibrated conversion and what each step did per layer."""

    snn: Graph
    ann: Graph  # the prepared ANN with the corrected biases
    lam: dict[str, Lam]
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)


def _subgraph(graph: Graph, out: str) -> Graph:
    """The nodes ``out`` depends on, with ``out`` as the only output."""
    need = walk.ancestors(graph, out)
    nodes = {n: nd for n, nd in graph if n in need}
    shapes = {n: s for n, s in graph.shapes.items() if n in need}
    return Graph(nodes, {n: graph.edges[n] for n in nodes}, (out,), shapes, graph.meta)


def record(graph: Graph, name: str, x: torch.Tensor, T: int) -> tuple[torch.Tensor, bool]:
    """The value of node ``name`` over ``T`` steps: ``([T, N, ...], True)`` or, when it does
    not change over time, ``([N, ...], False)``."""
    parts: list[torch.Tensor] = []
    temporal = [False]

    def observe(n: str, value: torch.Tensor, is_temporal: bool) -> None:
        if n == name:
            parts.append(value.clone())
            temporal[0] = is_temporal

    Simulator(_subgraph(graph, name)).run(x, T=T, observe=observe)
    return (torch.cat(parts) if temporal[0] else parts[0]), temporal[0]


def spike_rate(
    current: torch.Tensor, temporal: bool, T: int, v_init: float, s: float = 1.0
) -> torch.Tensor:
    """``N_T(I/s)/T``: the firing rate of an IF (threshold 1, soft reset) driven by I/s."""
    node = ir.IF(v_threshold=s, v_reset=None, v_init=v_init * s)
    spikes, _ = run_node(node, current, T, static=not temporal)
    return spikes.sum(0) / T


def per_channel(err: torch.Tensor) -> torch.Tensor:
    """Sum of ``err`` [N, C, ...] over everything but the channel axis."""
    return err.transpose(0, 1).reshape(err.shape[1], -1).sum(1)


def channel_mean(err: torch.Tensor) -> torch.Tensor:
    return per_channel(err) / (err.numel() / err.shape[1])


def _lam_tensor(lam: Lam, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.tensor(np.broadcast_to(lam, shape).copy(), dtype=torch.float32)


def _subsample(
    current: torch.Tensor, temporal: bool, target: torch.Tensor, lam: Lam
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Current, target and λ as ``[(T,) m, C]``: at most ``SEARCH_VALUES`` evenly spaced
    (sample, position) pairs per channel. Neurons are element-wise, so the rates of the kept
    elements are exactly those of the full layer."""
    c = target.shape[1]
    lt = _lam_tensor(lam, tuple(target.shape[1:])).reshape(c, -1)

    def cols(t: torch.Tensor, lead: int) -> torch.Tensor:
        t = t.reshape(*t.shape[: lead + 1], c, -1).movedim(lead + 1, -1)
        return t.reshape(*t.shape[:lead], -1, c)  # [(T,) N·positions, C]

    x, y = cols(current, int(temporal)), cols(target, 0)
    lam_rows = lt.t().expand(target.shape[0], -1, -1).reshape(-1, c)
    keep = torch.linspace(0, y.shape[0] - 1, min(y.shape[0], SEARCH_VALUES)).long()
    return x[..., keep, :].contiguous(), y[keep].contiguous(), lam_rows[keep].contiguous()


def calibrate_layer(
    current: torch.Tensor,
    temporal: bool,
    target: torch.Tensor,
    lam: Lam,
    T: int,
    v_init: float,
    channelwise: bool,
    search: bool = True,
    bias: bool = True,
    v_grid: tuple[float, ...] = (),
) -> tuple[np.ndarray, torch.Tensor, dict[str, float]]:
    """Threshold search and bias correction for one neuron layer.

    For each grid factor ``s`` (just ``s = 1`` without ``search``) the layer's rate error
    against ``target`` is measured after ``BIAS_ITERATIONS`` bias corrections (none without
    ``bias``); the ``s`` with the least squared error is kept per channel (``channelwise``)
    or for the layer. Returns ``s`` per channel, the bias shift per channel (ANN units) and
    the mean squared errors before (``s = 1``, no shift) and after.
    """
    current, target, lt = _subsample(current, temporal, target, lam)
    best_v: tuple[float, Any] | None = None
    for v0 in v_grid or (v_init,):
        found = _search(current, temporal, target, lt, T, v0, channelwise, search, bias)
        if best_v is None or found[2]["mse_after"] < best_v[1][2]["mse_after"]:
            best_v = (v0, found)
    v0, (chosen, delta, info) = best_v  # type: ignore[misc]
    return chosen, delta, {**info, "v_init": v0}


def _search(
    current: torch.Tensor,
    temporal: bool,
    target: torch.Tensor,
    lt: torch.Tensor,
    T: int,
    v_init: float,
    channelwise: bool,
    search: bool,
    bias: bool,
) -> tuple[np.ndarray, torch.Tensor, dict[str, float]]:
    grid = GRID if search else (1.0,)
    errors, shifts = [], []
    before = float("nan")
    for s in grid:
        x = current / s
        total = torch.zeros(target.shape[1])
        for k in range(BIAS_ITERATIONS + 1):
            est = spike_rate(x, temporal, T, v_init) * lt * s
            if k == 0 and s == 1.0:
                before = float(((est - target) ** 2).mean())
            if k == BIAS_ITERATIONS or not bias:
                break
            delta = (target - est).mean(0)
            total += delta
            x = x + delta / (lt * s)
        errors.append(((est - target) ** 2).sum(0))
        shifts.append(total)
    table, shift_table = torch.stack(errors), torch.stack(shifts)  # [grid, C]
    if channelwise:
        best = table.argmin(0)
    else:
        best = torch.full((table.shape[1],), int(table.sum(1).argmin()), dtype=torch.long)
    chosen = np.asarray(grid)[best.numpy()]
    after = float(table.gather(0, best[None]).sum()) / target.numel()
    delta = shift_table.gather(0, best[None])[0]
    return chosen, delta, {"mse_before": before, "mse_after": after}


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


def add_bias(graph: Graph, name: str, delta: np.ndarray) -> Graph:
    """``graph`` with ``delta`` (ANN units, one per output channel) added to ``name``'s bias."""
    ed = graph.editor()
    node = ed.nodes[name]
    if isinstance(node, ir.BatchNorm):
        ed.nodes[name] = node.evolve(beta=(node.beta + delta).astype(np.float32))
    else:
        b = np.zeros(node.weight.shape[0], np.float32) if node.bias is None else node.bias
        ed.nodes[name] = node.evolve(bias=(b + delta).astype(np.float32))
    return ed.freeze()


def channel_statistic(acts: torch.Tensor, mode: tuple[str, float]) -> np.ndarray:
    """Per-channel λ from ANN activations ``[N, C, ...]`` (max, percentile or scale·max)."""
    flat = acts.transpose(0, 1).reshape(acts.shape[1], -1)
    if flat.shape[1] > 1 << 18:  # an even subsample keeps the sort small
        flat = flat[:, :: -(-flat.shape[1] // (1 << 18))]
    kind, value = mode
    if kind == "percentile":
        k = max(1, min(flat.shape[1], int(np.ceil(value * flat.shape[1]))))
        return flat.kthvalue(k, dim=1).values.double().numpy()
    return (flat.amax(1) * value).double().numpy()


def channelwise_ok(graph: Graph, relu: str) -> bool:
    """Channel-wise λ needs the ReLU's channels to be its producing synapse's channels."""
    stop, _ = walk.back(graph, graph.edges[relu][0], lambda n: n.keeps_shift)
    node = graph.nodes[stop]
    return isinstance(node, ir.Add) or node.synapse or node.affine


def _readout_pairs(prepared: Graph, snn: Graph, spiking_output: bool) -> dict[str, str]:
    """SNN readout name → the prepared node whose value it integrates (λ = 1)."""
    pairs = {}
    for r in snn.outputs:
        if not isinstance(snn.nodes[r], ir.Readout):
            continue
        src, _ = walk.back(snn, snn.edges[r][0], lambda n: isinstance(n, ir.Scale))
        if src in prepared.nodes:
            pairs[r] = src
    return pairs


def refine(
    prepared: Graph,
    x: torch.Tensor,
    lam: dict[str, Any],
    T: int,
    mode: tuple[str, float],
    *,
    channelwise: bool = True,
    search: bool = True,
    bias: bool = True,
    v_init: float = 0.5,
    v_grid: tuple[float, ...] = (),
    spiking_output: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Refinement:
    """Calibrate λ (threshold search) and biases layer by layer for ``T`` steps on the
    calibration samples ``x`` (module docstring). ``lam`` holds each ReLU's layer-wise λ."""
    v0s: dict[str, float] = {}
    convert: Callable[[Graph, dict[str, Lam]], Graph] = lambda g, lm: relu_to_if(  # noqa: E731
        g, lam=lm, spiking_output=spiking_output, v_init={**dict.fromkeys(lm, v_init), **v0s}
    )
    relus = [n for n, nd in prepared if isinstance(nd, ir.ReLU)]
    lams: dict[str, Lam] = {n: as_lam(v) for n, v in lam.items()}
    snn = convert(prepared, lams)
    layers = [n for n in relus if isinstance(snn.nodes.get(n), ir.IF)]
    pairs = _readout_pairs(prepared, snn, spiking_output)
    acts = Simulator(prepared).rate(x, keep=set(layers) | set(pairs.values()))
    for n in layers:
        if channelwise and channelwise_ok(prepared, n):
            stat = channel_statistic(acts[n], mode)
            stat = np.where(stat > 0, stat, float(lams[n]) if lams[n].ndim == 0 else 1.0)
            lams[n] = cap(prepared.nodes[n], channel_lam(stat, len(prepared.shapes[n])))
    report: dict[str, dict[str, Any]] = {}
    cur = prepared
    for n in layers:
        snn = convert(cur, lams)
        current, temporal = record(snn, snn.edges[n][0], x, T)
        carrier = bias_carrier(cur, cur.edges[n][0]) if bias else None
        cw = channelwise and lams[n].ndim > 0
        s, delta, info = calibrate_layer(
            current,
            temporal,
            acts[n],
            lams[n],
            T,
            v_init,
            cw,
            search,
            carrier is not None,
            v_grid,
        )
        v0s[n] = info["v_init"]
        scaled = lams[n] * (s.reshape(lams[n].shape) if lams[n].ndim else float(s[0]))
        lams[n] = cap(cur.nodes[n], scaled)
        if carrier is not None:
            cur = add_bias(cur, carrier, delta.double().numpy())
        report[n] = {
            **info,
            "scale": float(s.mean()),
            "bias_shift": float(delta.abs().mean()),
            "bias_into": carrier,
        }
        if progress:
            progress(n)
    snn = convert(cur, lams)
    if bias:
        res = Simulator(snn).run(x, T=T)
        for r, src in pairs.items():
            carrier = bias_carrier(cur, src)
            if carrier is not None:
                delta = channel_mean(acts[src] - res.outputs[r][T - 1])
                cur = add_bias(cur, carrier, delta.double().numpy())
                report[r] = {"bias_shift": float(delta.abs().mean())}
        snn = convert(cur, lams)
    return Refinement(snn, cur, lams, report)
