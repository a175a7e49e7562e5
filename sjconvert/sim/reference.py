"""Reference simulators over the IR, in torch.

* :class:`Program` prepares a graph once (parameters as tensors) and then runs
  - :meth:`Program.ann` — one pass in rate (ANN) mode: neurons as ``clamp(X/V_th, 0, 1)``;
  - :meth:`Program.snn` — the multi-step spiking simulation.
* Multi-step semantics: a value is *static* ``[N, ...]`` (the same every step) or
  *temporal* ``[T, N, ...]``. Stateless ops on static values run once, not T times (direct
  input to the first layer is computed once); on temporal values they run once over the
  folded ``[T·N, ...]`` batch. Neurons run all T steps in one fused call.
* The result holds, for every graph output, the running estimate after each step
  ``t = 1..T`` (Readout: ``V[t]/t``; spiking or other outputs: mean over steps so far),
  so accuracy at every ``T' <= T`` comes from one run. Deterministic: no randomness.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..errors import InputError
from ..ir import nodes as ir
from ..ir.graph import Graph
from .neurons import run_neuron
from .torch_ops import get_kernel, prepare, rate_model


@dataclass
class SimResult:
    """Per-step estimates ``[T, N, ...]`` per output name, and spike totals per neuron node."""

    outputs: dict[str, torch.Tensor]
    spikes: dict[str, float] = field(default_factory=dict)

    @property
    def output(self) -> torch.Tensor:
        return next(iter(self.outputs.values()))


def _running_mean(y: torch.Tensor) -> torch.Tensor:
    steps = torch.arange(1, y.shape[0] + 1, dtype=y.dtype).reshape(-1, *([1] * (y.ndim - 1)))
    return torch.cumsum(y, 0).div_(steps)


class Program:
    """A graph prepared for repeated runs in torch (float32 by default)."""

    def __init__(self, graph: Graph, dtype: torch.dtype = torch.float32) -> None:
        self.graph = graph
        self.dtype = dtype
        self.params = {name: prepare(node, dtype) for name, node in graph}
        self.kernels = {
            name: (rate_model if node.spiking or isinstance(node, ir.Readout) else None)
            or get_kernel(node, name)
            for name, node in graph
            if not isinstance(node, ir.Input)
        }
        self._last_use = self._last_uses()

    def _last_uses(self) -> dict[str, list[str]]:
        """For each node, the values whose last reader it is (freed after it runs)."""
        last: dict[str, str] = {}
        for name, _ in self.graph:
            for src in self.graph.edges[name]:
                last[src] = name
        free: dict[str, list[str]] = {}
        for src, reader in last.items():
            if src not in self.graph.outputs:
                free.setdefault(reader, []).append(src)
        return free

    def _check_input(self, xs: tuple[torch.Tensor, ...], lead: int) -> list[torch.Tensor]:
        names = self.graph.inputs
        if len(xs) != len(names):
            raise InputError(f"graph has {len(names)} inputs, got {len(xs)} tensors")
        out = []
        for name, x in zip(names, xs, strict=True):
            want = self.graph.nodes[name].shape  # type: ignore[attr-defined]
            x = torch.as_tensor(x)
            if tuple(x.shape[lead:]) != tuple(want) or x.ndim != len(want) + lead:
                raise InputError(
                    f"input '{name}': expected shape [{'T, ' * (lead - 1)}N, "
                    f"{', '.join(map(str, want))}], got {list(x.shape)}"
                )
            out.append(x.to(self.dtype))
        return out

    @torch.no_grad()
    def ann(self, *xs: torch.Tensor, keep: set[str] | None = None) -> dict[str, torch.Tensor]:
        """One rate-mode pass over ``[N, ...]`` inputs. Returns the outputs and the nodes in
        ``keep`` (every node when ``keep`` is None); other values are freed when last read."""
        values: dict[str, torch.Tensor] = dict(
            zip(self.graph.inputs, self._check_input(xs, 1), strict=True)
        )
        hold = set(self.graph.nodes) if keep is None else set(keep)
        for name, _ in self.graph:
            if name not in values:
                args = [values[s] for s in self.graph.edges[name]]
                values[name] = self.kernels[name](self.params[name], args)
                for src in self._last_use.get(name, ()):
                    if src not in hold:
                        del values[src]
        return values

    @torch.no_grad()
    def snn(self, *xs: torch.Tensor, T: int, sequence: bool = False) -> SimResult:
        """Simulate ``T`` steps. Inputs are ``[N, ...]`` (direct input, the same current
        every step) or, with ``sequence=True``, ``[T, N, ...]``."""
        if T < 1:
            raise InputError(f"T must be >= 1, got {T}")
        xs_ = self._check_input(xs, 2 if sequence else 1)
        if sequence and any(x.shape[0] != T for x in xs_):
            raise InputError(f"sequence inputs must have T={T} steps on axis 0")
        values = {n: (x, sequence) for n, x in zip(self.graph.inputs, xs_, strict=True)}
        spikes: dict[str, float] = {}
        for name, node in self.graph:
            if name in values:
                continue
            args = [values[s] for s in self.graph.edges[name]]
            values[name] = self._step(name, node, args, T, spikes)
            for src in self._last_use.get(name, ()):
                del values[src]
        outputs = {}
        for name in self.graph.outputs:
            y, temporal = values[name]
            if not temporal:
                outputs[name] = y.unsqueeze(0).expand(T, *y.shape)
            elif isinstance(self.graph.nodes[name], ir.Readout):
                outputs[name] = y
            else:
                outputs[name] = _running_mean(y)
        return SimResult(outputs, spikes)

    def _step(
        self,
        name: str,
        node: ir.Node,
        args: list[tuple[torch.Tensor, bool]],
        T: int,
        spikes: dict[str, float],
    ) -> tuple[torch.Tensor, bool]:
        if isinstance(node, (ir.IF, ir.LIF)):
            x, temporal = args[0]
            s, _ = run_neuron(node, x, T, static=not temporal)
            spikes[name] = float(s.sum())
            return s, True
        if isinstance(node, ir.Readout):
            x, temporal = args[0]
            return (x, False) if not temporal else (_running_mean(x), True)
        if not any(t for _, t in args):
            return self.kernels[name](self.params[name], [x for x, _ in args]), False
        if isinstance(node, ir.Add):  # broadcasting handles [N, ...] + [T, N, ...]
            return self.kernels[name](self.params[name], [x for x, _ in args]), True
        folded = [
            (x if t else x.unsqueeze(0).expand(T, *x.shape)).reshape(
                -1, *x.shape[(2 if t else 1) :]
            )
            for x, t in args
        ]
        y = self.kernels[name](self.params[name], folded)
        return y.reshape(T, -1, *y.shape[1:]), True


def simulate(graph: Graph, *xs: torch.Tensor, T: int, sequence: bool = False) -> SimResult:
    """Run the multi-step reference simulation of ``graph`` (see :class:`Program`)."""
    return Program(graph).snn(*xs, T=T, sequence=sequence)
