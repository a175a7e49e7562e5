"""A stateful single-step SNN: ``(x[t], t, state) -> (rates, t + 1, state', spikes[t])``.

State: each stateful layer's registers ``<register>:<layer>`` ``[N, ...]`` (``v:<layer>`` for
an IF/LIF membrane, ``d0:<layer>``… for a delay line) and one accumulator ``acc:<output>``
per graph output (the sum of its values so far, in the readout's one precision,
:data:`sjconvert.ops.ACCUMULATOR`), plus the step index ``t`` (``[1]``, float). It is one
block of one step of the shared schedule (:mod:`sjconvert.exec.schedule`) and reads out
with :mod:`sjconvert.ops.readout`; layers before the first neuron are recomputed each step.
"""

from __future__ import annotations

import torch
from torch import nn

from ...exec.module import ModuleBackend, StepModule, module_key
from ...exec.schedule import Schedule
from ...exec.shapes import with_shapes
from ...ir.graph import Graph
from ...ops import ACCUMULATOR
from ...ops.readout import accumulate, mean

ACC = getattr(torch, ACCUMULATOR)


class StepNet(nn.Module):
    """One step of the network; see the module docstring for inputs and outputs."""

    def __init__(self, graph: Graph, counts: bool = False) -> None:
        super().__init__()
        graph = with_shapes(graph)
        self.graph, self.counts, self.input = graph, counts, graph.inputs[0]
        self.schedule = Schedule(graph, ModuleBackend(graph, 1, torch.float32))
        self.layers = nn.ModuleDict(
            {module_key(i, n): m for i, (n, m) in enumerate(self.schedule.fns.items())}
        )
        self.stateful = [n for n, m in self.schedule.fns.items() if isinstance(m, StepModule)]
        self.neurons = [n for n in self.stateful if graph.nodes[n].spiking]

    def _registers(self) -> list[tuple[str, str]]:
        return [(n, r) for n in self.stateful for r in self.schedule.fns[n].program.state]

    def state_names(self) -> list[str]:
        regs = [f"{r}:{n}" for n, r in self._registers()]
        return regs + [f"acc:{o}" for o in self.graph.outputs]

    def input_names(self) -> list[str]:
        return [self.input, "t", *self.state_names()]

    def output_names(self) -> list[str]:
        spikes = [f"spikes:{n}" for n in self.neurons] if self.counts else []
        outs = list(self.graph.outputs)
        return [*outs, "t:next", *(f"{s}:next" for s in self.state_names()), *spikes]

    def initial_state(self, n: int) -> list[torch.Tensor]:
        """``[t, *state]`` before step 0 for a batch of ``n`` (registers at their start)."""
        regs = [self.schedule.fns[m].initial(n)[r] for m, r in self._registers()]
        accs = [torch.zeros(n, *self.graph.shapes[o], dtype=ACC) for o in self.graph.outputs]
        return [torch.zeros(1), *regs, *accs]

    def forward(self, x: torch.Tensor, t: torch.Tensor, *state: torch.Tensor) -> tuple:
        regs = self._registers()
        held: dict[str, dict[str, torch.Tensor]] = {}
        for (n, r), value in zip(regs, state[: len(regs)], strict=True):
            held.setdefault(n, {})[r] = value
        spikes: dict[str, torch.Tensor] = {}

        def observe(name: str, value: torch.Tensor, temporal: bool) -> None:
            if name in self.neurons:
                spikes[name] = value

        outs = self.schedule.block({}, 1, held, {self.input: x}, None, observe)
        rates, accs = [], []
        for (y, _), acc in zip(outs.values(), state[len(regs) :], strict=True):
            acc = accumulate(acc, y)
            rates.append(mean(acc, t + 1.0, y.dtype))
            accs.append(acc)
        new = [held[n][r] for n, r in regs]
        extra = [spikes[n] for n in self.neurons] if self.counts else []
        return (*rates, t + 1.0, *new, *accs, *extra)


def build_step(graph: Graph, counts: bool = False) -> StepNet:
    """The single-step module of ``graph`` (float32; see the module docstring)."""
    return StepNet(graph, counts=counts).eval()
