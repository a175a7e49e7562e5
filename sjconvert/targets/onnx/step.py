"""A stateful single-step SNN: ``(x[t], t, state) -> (rates, state', spikes[t])``.

State: one membrane ``v:<layer>`` ``[N, ...]`` per neuron layer and one accumulator
``acc:<output>`` per graph output (``V`` of the readout, float64 so running means match the
reference simulator bit for bit), plus the step index ``t`` (``[1]``, float). Every value is
``[N, ...]``: layers before the first neuron are recomputed each step.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch

from ...ir.graph import Graph
from ..lynxi.net import SpikingNet, build
from ..lynxi.neurons import Neuron, Readout


class StepNet(SpikingNet):
    """One step of the network; see the module docstring for inputs and outputs."""

    def state_names(self) -> list[str]:
        return [f"v:{n}" for n in self.neurons] + [f"acc:{o}" for o in self.outputs]

    def input_names(self) -> list[str]:
        return [self.inputs[0], "t", *self.state_names()]

    def output_names(self) -> list[str]:
        spikes = [f"spikes:{n}" for n in self.neurons] if self.counts else []
        return [*self.outputs, "t:next", *(f"{s}:next" for s in self.state_names()), *spikes]

    def _readout(self, name: str) -> Readout:
        key = self.keys[name]
        return self.means[key] if key in self.means else self.layers[key]

    def initial_state(self, n: int) -> list[torch.Tensor]:
        """``[t, *state]`` before step 0 for a batch of ``n`` (membranes at ``v_init``)."""
        v = [self.layers[self.keys[k]].initial(n) for k in self.neurons]
        acc = [
            torch.zeros(n, *self._readout(o).shape, dtype=self._readout(o).acc_dtype)
            for o in self.outputs
        ]
        dtype = v[0].dtype if v else torch.float32
        return [torch.zeros(1, dtype=dtype), *v, *acc]

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, t: torch.Tensor, *state: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        vals = {self.inputs[0]: x}
        v_in = dict(zip(self.neurons, state[: len(self.neurons)], strict=True))
        v_out, spikes, rates, accs = {}, [], [], []
        for name in self.order:
            layer = self.layers[self.keys[name]]
            args = [vals[i] for i in self.edges[name]]
            if isinstance(layer, Neuron):
                vals[name], v_out[name] = layer.step(args[0], v_in[name])
                spikes.append(vals[name])
            elif isinstance(layer, Readout):
                vals[name] = args[0]
            else:
                vals[name] = layer(*args)
        for o, acc in zip(self.outputs, state[len(self.neurons) :], strict=True):
            rate, acc = self._readout(o).step(vals[o], acc, t)
            rates.append(rate)
            accs.append(acc)
        new_v = [v_out[n] for n in self.neurons]
        return (*rates, t + 1.0, *new_v, *accs, *(spikes if self.counts else []))


def build_step(graph: Graph, counts: bool = False) -> StepNet:
    """The single-step module of ``graph`` (float32; see the module docstring)."""
    net = build(graph, 1, "onnx", "float32", counts=counts, cls=StepNet)
    return cast(StepNet, net)


def initial_state_arrays(net: StepNet, n: int) -> dict[str, np.ndarray]:
    """The initial ``t`` and state as NumPy arrays keyed by ONNX input name."""
    names = ["t", *net.state_names()]
    return {k: v.numpy() for k, v in zip(names, net.initial_state(n), strict=True)}
