"""A spiking graph as Loihi sees it: populations of neurons and the synapses between them.

:class:`Paths` is the float network :func:`.paths.lower` derives from an IR graph (one
synapse per linear path, biases gathered per population); the quantisers
(:mod:`.quantize`, :mod:`.sdnn`) turn it into a :class:`LoihiNet` with integer weights and
Loihi neuron parameters, which the writers emit as a Lava process graph
(:func:`.emit.procgraph`) or, for a chain, as NetX HDF5 (:mod:`.netx`). Shapes and weights
are in PyTorch order here; Lava's order appears only in the emitted process graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...ir import nodes as ir

Ints = tuple[int, ...]
MODELS = ("cuba", "sdnn", "sigma")


@dataclass(frozen=True, eq=False)
class Synapse:
    """``dst += W ⋆ src``: a ``conv`` (kernel ``[C_out, C_in/g, *k]`` with its geometry) or a
    ``dense`` matrix ``[n_out, n_in]`` over ``src`` flattened in PyTorch order. ``path``
    names the IR nodes it stands for."""

    name: str
    src: str
    dst: str
    kind: str
    weight: np.ndarray
    stride: Ints = ()
    padding: Ints = ()
    dilation: Ints = ()
    groups: int = 1
    path: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Population:
    """The neurons of IR node ``name`` (IF, LIF or Readout) with the constant part of their
    input, ``bias`` (float, per neuron)."""

    name: str
    node: ir.Node
    shape: Ints
    bias: np.ndarray


@dataclass(frozen=True, eq=False)
class Paths:
    """The float network: populations in topological order, synapses, one input and the
    output population."""

    input: str
    input_shape: Ints
    populations: dict[str, Population]
    synapses: tuple[Synapse, ...]
    output: str

    def into(self, dst: str) -> list[Synapse]:
        return [s for s in self.synapses if s.dst == dst]


@dataclass(frozen=True, eq=False)
class Neuron:
    """Loihi parameters of a population. ``cuba`` (Lava ``LIF``: ``du``/``dv`` as Lava takes
    them, threshold and bias mantissas, bias exponent, initial voltage ``v``), ``sdnn``
    (``SigmaDelta`` ReLU: delta threshold, bias mantissa, exponents) or ``sigma`` (readout
    integrator; ``bias`` is the offset added to its state)."""

    model: str
    vth: int = 0
    du: int = 4095
    dv: int = 0
    bias: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    bias_exp: int = 6
    v: int = 0
    spike_exp: int = 0
    state_exp: int = 6

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"neuron model must be one of {MODELS}, not {self.model!r}")


@dataclass(frozen=True, eq=False)
class LoihiNet:
    """The quantised network: integer synapses, Loihi neurons per population, the input
    scale (messages ``round(x·scale)``) and the per-population quantisation facts."""

    input: str
    input_shape: Ints
    input_scale: float
    shapes: dict[str, Ints]
    neurons: dict[str, Neuron]
    synapses: tuple[Synapse, ...]
    output: str
    facts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        paths: Paths,
        input_scale: float,
        neurons: dict[str, Neuron],
        synapses: list[Synapse],
        facts: dict[str, Any],
    ) -> LoihiNet:
        """The network of the lowered ``paths`` with its quantised populations."""
        shapes = {n: p.shape for n, p in paths.populations.items()}
        return cls(
            paths.input,
            paths.input_shape,
            input_scale,
            shapes,
            neurons,
            tuple(synapses),
            paths.output,
            facts,
        )

    @property
    def model(self) -> str:
        """``sdnn`` for a sigma-delta network (its readout is a ``sigma``), else ``cuba``."""
        models = {n.model for n in self.neurons.values()}
        return "sdnn" if models & {"sdnn", "sigma"} else "cuba"

    @property
    def delta_input(self) -> bool:
        """Sigma-delta networks take their input once, as a change."""
        return self.model == "sdnn"

    def into(self, dst: str) -> list[Synapse]:
        return [s for s in self.synapses if s.dst == dst]

    def depth(self) -> int:
        """Synapses on the longest path from the input to the output."""
        hops = {self.input: 0}
        for name in self.neurons:
            hops[name] = 1 + max(hops[s.src] for s in self.into(name))
        return hops[self.output]
