"""An IR spiking network as one plain torch module (the Lynxi form, also exported to ONNX).

``SpikingNet`` walks the graph in order. Values that do not depend on time (the direct
input and the layers before the first neuron) are ``[N, ...]`` and computed once, as the
reference simulator does; the rest are ``[T·N, ...]``: synapses run on the folded batch and
neurons view it as ``[T, N, F]``. The module returns the rate of each graph output
``[N, ...]`` (a readout's ``V[T-1]/T``, a spiking output's mean), and with ``counts`` also
each neuron layer's spike count per sample ``[N]`` (float32): one tensor when that is all it
returns (as Lynxi's compiler expects), else a tuple.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch
from torch import nn

from ...errors import EmitError, InputError
from ...ir import nodes as ir
from ...ir.graph import Graph
from ...sim.reference import folded_scales
from ..registry import check, emitter
from .neurons import Neuron, Readout

DTYPES = {"float32": torch.float32, "float16": torch.float16}


def torch_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"float16"`` / ``"float32"`` (or a torch dtype among them) as a torch dtype."""
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    if dtype not in DTYPES:
        raise InputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return DTYPES[str(dtype)]


@dataclass
class EmitContext:
    """What an emitter may read: the graph and the run settings (read-only)."""

    graph: Graph
    T: int
    dtype: torch.dtype
    acc_dtype: torch.dtype
    sequence: bool
    into_add: dict[str, float] = field(default_factory=dict)
    temporal: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.into_add = folded_scales(self.graph)
        for name, node in self.graph:
            if isinstance(node, ir.Input):
                self.temporal[name] = self.sequence
            else:
                self.temporal[name] = node.spiking or self.temporal_input(name)

    def temporal_input(self, name: str) -> bool:
        return any(self.temporal[i] for i in self.graph.edges[name])


def _key(i: int, name: str) -> str:
    return f"n{i}_{re.sub(r'[^0-9A-Za-z_]', '_', name)}"


class SpikingNet(nn.Module):
    """The graph as torch modules, run for ``T`` steps (see the module docstring)."""

    def __init__(self, graph: Graph, ctx: EmitContext, target: str, counts: bool) -> None:
        super().__init__()
        self.T, self.counts, self.sequence = ctx.T, counts, ctx.sequence
        self.inputs = list(graph.inputs)
        self.edges = {n: tuple(graph.edges[n]) for n, _ in graph}
        self.temporal = dict(ctx.temporal)
        self.keys = {name: _key(i, name) for i, (name, _) in enumerate(graph)}
        self.order = [n for n, node in graph if not isinstance(node, ir.Input)]
        self.layers = nn.ModuleDict(
            {self.keys[n]: emitter(graph, n, target)(n, graph.nodes[n], ctx) for n in self.order}
        )
        self.outputs = list(graph.outputs)
        means = {}
        for o in self.outputs:
            if not isinstance(graph.nodes[o], ir.Readout):
                mean = Readout(graph.shapes[o], ctx.T, ctx.acc_dtype)
                mean.temporal = self.temporal[o]
                means[self.keys[o]] = mean
        self.means = nn.ModuleDict(means)
        self.neurons = [n for n in self.order if isinstance(self.layers[self.keys[n]], Neuron)]

    def _args(self, name: str, vals: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        ins = self.edges[name]
        args = [vals[i] for i in ins]
        if any(self.temporal[i] for i in ins) and not all(self.temporal[i] for i in ins):
            args = [
                a if self.temporal[i] else a.repeat(self.T, *([1] * (a.ndim - 1)))
                for a, i in zip(args, ins, strict=True)
            ]
        return args

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        vals = {self.inputs[0]: x}
        for name in self.order:
            vals[name] = self.layers[self.keys[name]](*self._args(name, vals))
        outs = [
            self.means[self.keys[o]](vals[o]) if self.keys[o] in self.means else vals[o]
            for o in self.outputs
        ]
        if self.counts:
            for n in self.neurons:
                s = vals[n].reshape(self.T, -1, self.layers[self.keys[n]].features)
                outs.append(s.to(torch.float32).sum(2).sum(0))
        return outs[0] if len(outs) == 1 else tuple(outs)

    def output_names(self) -> list[str]:
        """Names of the returned tensors: the graph outputs, then ``spikes/<layer>``."""
        return self.outputs + ([f"spikes/{n}" for n in self.neurons] if self.counts else [])


def build(
    graph: Graph,
    T: int,
    target: str,
    dtype: str | torch.dtype = "float32",
    sequence: bool = False,
    counts: bool = False,
    cls: type[SpikingNet] | None = None,
) -> SpikingNet:
    """Check ``graph`` against ``target``'s registry and build the multi-step module (or
    ``cls``, a subclass running it differently)."""
    if T < 1:
        raise InputError(f"T must be >= 1, got {T}")
    check(graph, target)
    if len(graph.inputs) != 1:
        raise EmitError(f"{target}: the graph must have one input, it has {len(graph.inputs)}")
    dt = torch_dtype(dtype)
    acc = torch.float64 if target == "onnx" and dt == torch.float32 else dt
    ctx = EmitContext(graph, T, dt, acc, sequence)
    return (cls or SpikingNet)(graph, ctx, target, counts).eval()
