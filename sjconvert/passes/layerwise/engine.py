"""Layer-wise calibration of a converted SNN, linear in depth.

The SNN (converted with layer-wise λ₀, threshold 1, ``V[-1] = θ/2``) is simulated once for
``T`` steps on the calibration samples, one neuron layer at a time in topological order.
For each layer:

1. its input current and the ANN's activation are computed chunk by chunk from the values
   carried so far (the *frontier*: the graph input and the spikes of the layers already
   calibrated), each through its :mod:`segment <.segments>`;
2. its threshold, initial membrane and input shift are fitted per channel from the current
   and the activation at a bounded subsample of positions (:func:`.fit.fit_layer`);
3. the layer runs with them, and its spikes join the frontier, packed to bits
   (:class:`.store.Stored`); values no later layer reads are dropped.

No prefix is ever simulated again: each node runs once per chunk (twice when a layer's
current is too large to keep between its fit and its run), so the cost is about ``T`` ANN
passes plus the fits. A value that several later segments would each compute through a
synapse (DenseNet's features, read by every later concatenation of their block) is carried
as well, as float32 (:func:`.segments.carried_values`), while those alive at once fit
``Plan.keep_bytes``; beyond that it is computed again by each reader. The memory is the
frontier of one layer boundary (bits for the spikes, float32 for the ANN's activations and
carried values), independent of depth. Membrane readouts at the
outputs get a per-step bias fitted the same way.

Every statistic fitted over samples is a sum passed through ``reduce`` before use (identity
by default). Running the same calibration on shards of the samples with ``reduce`` summing a
tensor across the shards (e.g. ``torch.distributed.all_reduce`` with ``SUM``, in place, then
returned) gives every shard the result of one run on all samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from ...exec.arrays import run_node
from ...ir.graph import Graph
from .fit import Choice, Reduce, Setting, fit_layer, regression
from .plan import CHUNK_ELEMENTS, Calibration, Layer, LayerFit, LayerProgress, Plan, identity
from .segments import AnnSegment, SpikingSegment, carried_values, segment
from .stats import channel_histogram, channel_quantile, positions, rows_at
from .store import Stored


@dataclass
class _Target:
    """A neuron layer or readout to fit (``layer``), or a carried value (``layer`` None)."""

    name: str
    layer: Layer | None
    snn: SpikingSegment
    ann: AnnSegment | None
    readout: bool


class Engine:
    """One calibration run (see the module docstring)."""

    def __init__(
        self,
        prepared: Graph,
        snn: Graph,
        lam0: dict[str, float],
        layers: dict[str, Layer],
        plan: Plan,
        reduce: Reduce = identity,
    ) -> None:
        self.prepared, self.snn, self.lam0, self.plan = prepared, snn, lam0, plan
        self.reduce = reduce
        self.layers = layers
        self.spiking = {n for n, node in snn if node.spiking}
        self.base = set(snn.inputs) | self.spiking
        keys = ("snn_nodes", "ann_nodes", "fit_simulations", "layer_runs", "peak_bytes")
        self.counters = dict.fromkeys(keys, 0)

    def _build(self, samples: int) -> None:
        """The targets in topological order, the carried values among them (sized for
        ``samples``), and the index of the last target reading each value."""
        base = {
            n: segment(self.snn, self.snn.edges[n][0], self.base, self.spiking) for n in self.layers
        }
        per_value = 4 * self.plan.setting.steps * samples  # bytes per element carried
        carried = carried_values(self.snn, base, self.base, per_value, self.plan.keep_bytes)
        frontier, temporal = self.base | carried, self.spiking | carried
        in_ann = {n for n in carried if self._in_ann(n)}  # carried on the ANN side too
        ann_frontier = self.base | in_ann
        self.targets: list[_Target] = []
        for name, _ in self.snn:
            if name in carried:
                s = SpikingSegment(segment(self.snn, name, frontier - {name}, temporal))
                a: AnnSegment | None = None
                if name in in_ann:
                    g = segment(self.prepared, name, ann_frontier - {name}, self.spiking)
                    a = AnnSegment(g)
                t = _Target(name, None, s, a, False)
            elif name in self.layers:
                layer = self.layers[name]
                s = SpikingSegment(segment(self.snn, self.snn.edges[name][0], frontier, temporal))
                a = AnnSegment(segment(self.prepared, layer.ann, ann_frontier, self.spiking))
                t = _Target(name, layer, s, a, name not in self.spiking)
            else:
                continue
            self.targets.append(t)
        self.last: dict[str, int] = {}
        for i, t in enumerate(self.targets):
            ann = () if t.ann is None else t.ann.sim.graph.inputs
            for n in (*t.snn.graph.inputs, *ann):
                self.last[n] = i

    def _in_ann(self, name: str) -> bool:
        """Whether the SNN's node ``name`` is the ANN's node of that name (same op, inputs)."""
        node = self.prepared.nodes.get(name)
        same = type(node) is type(self.snn.nodes[name])
        return same and self.prepared.edges[name] == self.snn.edges[name]

    def run(self, x: torch.Tensor, samples: int, progress: LayerProgress | None) -> Calibration:
        steps = self.plan.setting.steps
        widest = max(math.prod(s) for s in self.snn.shapes.values())
        size = self.plan.chunk or max(1, min(256, CHUNK_ELEMENTS // (steps * widest)))
        chunks = [x[i : i + size] for i in range(0, len(x), size)]
        snn_vals: dict[str, list[Stored]] = {}
        ann_vals: dict[str, list[torch.Tensor]] = {}
        for n in self.snn.inputs:
            snn_vals[n] = [Stored.value(c) for c in chunks]
            ann_vals[n] = list(chunks)
        self._build(samples)
        fits: dict[str, LayerFit] = {}
        done, layers = 0, sum(t.layer is not None for t in self.targets)
        for i, t in enumerate(self.targets):
            if t.layer is None:
                self._carry(t, snn_vals, ann_vals, len(chunks))
            elif t.readout:
                fits[t.name] = self._readout(t, snn_vals, ann_vals, len(chunks))
            else:
                fits[t.name] = self._neuron(t, snn_vals, ann_vals, len(chunks), samples, i)
            for n in [n for n, last in self.last.items() if last == i]:
                snn_vals.pop(n, None)
                ann_vals.pop(n, None)
            if progress and t.layer is not None:
                done += 1
                progress(t.name, done, layers)
        return Calibration(fits, dict(self.lam0), dict(self.counters))

    def _inputs(
        self, t: _Target, snn_vals: dict[str, list[Stored]], ann_vals: dict, k: int
    ) -> tuple[tuple[torch.Tensor, bool], torch.Tensor]:
        """The target's SNN value (input current) and ANN value for chunk ``k``."""
        g = t.snn.graph
        cur = t.snn({n: snn_vals[n][k].read() for n in g.inputs}, self.plan.setting.steps)
        a = t.ann({n: ann_vals[n][k] for n in t.ann.sim.graph.inputs})
        self.counters["snn_nodes"] += t.snn.size
        self.counters["ann_nodes"] += t.ann.size
        return cur, a

    def _carry(
        self, t: _Target, snn_vals: dict[str, list[Stored]], ann_vals: dict, chunks: int
    ) -> None:
        """A carried value, computed once per chunk and kept (float32, over all steps), and
        the ANN's value of that node where the ANN has it."""
        steps = self.plan.setting.steps
        for k in range(chunks):
            v, temporal = t.snn({n: snn_vals[n][k].read() for n in t.snn.graph.inputs}, steps)
            value = v if temporal else v.expand(steps, *v.shape)
            snn_vals.setdefault(t.name, []).append(Stored.value(value))
            self.counters["snn_nodes"] += t.snn.size
            if t.ann is not None:
                a = t.ann({n: ann_vals[n][k] for n in t.ann.sim.graph.inputs})
                ann_vals.setdefault(t.name, []).append(a)
                self.counters["ann_nodes"] += t.ann.size

    def _neuron(
        self,
        t: _Target,
        snn_vals: dict[str, list[Stored]],
        ann_vals: dict[str, list[torch.Tensor]],
        chunks: int,
        samples: int,
        index: int,
    ) -> LayerFit:
        lam0 = self.lam0[t.name]
        shape = self.snn.shapes[t.name]
        pos = positions(shape, self.plan.rows, samples)
        keep_x, keep_z, kept, cache = [], [], 0, {}
        hist = torch.zeros(shape[0], 1, dtype=torch.long)
        static = True
        for k in range(chunks):
            (cur, temporal), a = self._inputs(t, snn_vals, ann_vals, k)
            static = not temporal
            z = a / lam0
            h = channel_histogram(z.abs() if t.layer.bipolar else z)
            hist = h if k == 0 else hist + h
            keep_x.append(rows_at(cur, temporal, pos))
            keep_z.append(rows_at(z, False, pos))
            if kept + cur.numel() * 4 <= self.plan.keep_bytes:
                cache[k] = cur
                kept += cur.numel() * 4
            if self.last.get(t.name, -1) > index:
                ann_vals.setdefault(t.name, []).append(a)
        setting = self._setting(t.layer)
        base = self._base(self.reduce(hist), setting.channelwise)
        cap = math.inf if t.layer.cap is None else t.layer.cap / lam0
        x_rows, z_rows = torch.cat(keep_x, dim=-2), torch.cat(keep_z, dim=-2)
        self._peak(snn_vals, ann_vals, kept + 4 * (x_rows.numel() + z_rows.numel()))
        choice, report = fit_layer(
            setting, x_rows, static, z_rows, base, torch.full_like(base, cap), self.reduce
        )
        self.counters["fit_simulations"] += report["simulations"]
        del x_rows, z_rows, keep_x, keep_z
        for k in range(chunks):
            cur = cache.pop(k) if k in cache else self._inputs(t, snn_vals, ann_vals, k)[0][0]
            spikes = self._fire(setting, choice, cur, static, len(shape))
            snn_vals.setdefault(t.name, []).append(spikes)
        self._peak(snn_vals, ann_vals, 0)
        beta = choice.beta.double().numpy() * lam0
        return LayerFit(choice.theta.double().numpy(), choice.v.double().numpy(), beta, report)

    def _fire(self, s: Setting, c: Choice, cur: torch.Tensor, static: bool, rank: int) -> Stored:
        view = (-1, *([1] * (rank - 1)))
        spikes, _ = run_node(s.node(c), cur + c.beta.reshape(view), s.steps, static)
        self.counters["layer_runs"] += 1
        return Stored.spikes(spikes, c.theta.reshape(view))

    def _setting(self, layer: Layer) -> Setting:
        s = self.plan.setting
        bias = s.bias and layer.carrier is not None
        neuron, burst = ("bipolar", s.bipolar_burst) if layer.bipolar else (s.neuron, s.burst)
        channelwise = s.channelwise and layer.channelwise
        return replace(s, neuron=neuron, burst=burst, bias=bias, channelwise=channelwise)

    def _base(self, hist: torch.Tensor, channelwise: bool) -> torch.Tensor:
        """Each channel's threshold base: its percentile of ``z`` (1 where it never fired, or
        for layer-wise λ)."""
        if not channelwise:
            return torch.ones(hist.shape[0])
        q = channel_quantile(hist, self.plan.quantile)
        return torch.where(q > 0, q, torch.ones_like(q))

    def _readout(
        self,
        t: _Target,
        snn_vals: dict[str, list[Stored]],
        ann_vals: dict[str, list[torch.Tensor]],
        chunks: int,
    ) -> LayerFit:
        """A membrane readout is linear: its per-step bias ``β`` (per class) comes straight
        from the mean error of its running mean ``ŷ_t`` against the ANN output."""
        steps = self.plan.setting.steps
        sums = torch.zeros(2, steps, self.snn.shapes[t.name][0], dtype=torch.float64)
        n = 0.0
        for k in range(chunks):
            (cur, temporal), y = self._inputs(t, snn_vals, ann_vals, k)
            if temporal:
                div = torch.arange(1, steps + 1, dtype=cur.dtype)
                est = cur.cumsum(0) / div.reshape(-1, *([1] * (cur.ndim - 1)))
            else:
                est = cur.expand(steps, *cur.shape)
            err = (y - est).transpose(1, 2).reshape(steps, y.shape[1], -1).double()
            sums += torch.stack([err.sum(-1), err.square().sum(-1)])
            n += err.shape[-1]
        sums = self.reduce(sums)
        n = float(self.reduce(torch.tensor([n], dtype=torch.float64))[0])
        setting = replace(self._setting(t.layer), fading=False)
        beta, _ = regression(sums[0] / n, setting)
        after = sums[1] - 2 * beta * sums[0] + n * beta**2
        report = {
            "mse_before": {str(s + 1): float(sums[1, s].mean()) / n for s in range(steps)},
            "mse_after": {str(s + 1): float(after[s].mean()) / n for s in range(steps)},
        }
        one = np.ones(len(beta))
        return LayerFit(one, np.zeros(len(beta)), beta.numpy(), report)

    def _peak(self, snn_vals: dict[str, list[Stored]], ann_vals: dict, extra: int) -> None:
        held = sum(s.nbytes for v in snn_vals.values() for s in v)
        held += sum(a.numel() * a.element_size() for v in ann_vals.values() for a in v)
        self.counters["peak_bytes"] = max(self.counters["peak_bytes"], held + extra)
