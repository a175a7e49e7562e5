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
MODELS = ("cuba", "sdnn", "sigma", "graded")
ROLES = ("neuron", "relay", "max")
MAX_DELAY = 63  # Loihi 2's synaptic delay: 6 bits (Lava's DelayDense checks the same)


@dataclass(frozen=True, eq=False)
class Synapse:
    """``dst += W ⋆ src``: a ``conv`` (kernel ``[C_out, C_in/g, *k]`` with its geometry) or a
    ``dense`` matrix ``[n_out, n_in]`` over ``src`` flattened in PyTorch order. ``path``
    names the IR nodes it stands for. ``delay``: steps added to its one-step hop (Loihi 2's
    synaptic delay), set when a pipeline is balanced. ``exact``: the weights are already
    integers in units of the source's messages (inside a max tree), never re-quantised."""

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
    delay: int = 0
    exact: bool = False


@dataclass(frozen=True, eq=False)
class Population:
    """The neurons of IR node ``name`` with the constant part of their input, ``bias``
    (float, per neuron). ``role``: ``neuron`` (an IF, SignedIF, LIF or Readout node);
    ``relay``, the value of a linear path held for a max pool (``node`` is the MaxPool),
    ``feeds`` the population the pool's output alone drives (whose start and threshold the
    relay may take over) and ``padded`` whether a window reads padding; ``max``, one level
    of a max pool's ReLU tree, ``group`` channels per pooled channel; ``part_of`` the IR
    node and first channel when the node's neurons are split per concatenated part."""

    name: str
    node: ir.Node
    shape: Ints
    bias: np.ndarray
    role: str = "neuron"
    feeds: str | None = None
    padded: bool = False
    group: int = 1
    part_of: tuple[str, int] | None = None  # (IR node, first channel): one concat part of it

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"population role must be one of {ROLES}, not {self.role!r}")


@dataclass(frozen=True, eq=False)
class Paths:
    """The float network: populations in topological order, synapses, one input and the
    output population."""

    input: str
    input_shape: Ints
    populations: dict[str, Population]
    synapses: tuple[Synapse, ...]
    output: str
    latency: int = 0

    def into(self, dst: str) -> list[Synapse]:
        return [s for s in self.synapses if s.dst == dst]

    def stages(self) -> dict[str, int]:
        """The step at which each population's first input arrives (the input: 0): one
        step per synapse hop plus its delay, along the longest path. In a balanced network
        (:func:`~.lowering.pipeline.balance`) population ``P``'s Loihi step ``stage + t``
        is the simulator's step ``t``."""
        out = {self.input: 0}
        for name in self.populations:
            out[name] = max(out[s.src] + 1 + s.delay for s in self.into(name))
        return out


@dataclass(frozen=True, eq=False)
class Neuron:
    """Loihi parameters of a population. ``cuba`` (Lava ``LIF``: ``du``/``dv`` as Lava takes
    them, threshold and bias mantissas, bias exponent, initial voltage ``v``), ``sdnn``
    (``SigmaDelta``: delta threshold, bias mantissa, exponents, ``act_mode`` 1 ReLU or 0
    identity), ``sigma`` (readout integrator; ``bias`` is the offset added to its state,
    ``step_bias`` the one added per input step) or ``graded`` (our ``GradedIF``: threshold,
    bias and initial membrane per channel, ``max_spikes``, ``negative`` and ``start``, see
    :mod:`.formats.procgraph_processes`)."""

    model: str
    vth: Any = 0
    du: int = 4095
    dv: int = 0
    bias: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    bias_exp: int = 6
    v: Any = 0
    spike_exp: int = 0
    state_exp: int = 6
    act_mode: int = 1
    step_bias: np.ndarray | None = None
    max_spikes: int = 1
    negative: int = 0
    start: int = 0

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
    helpers: frozenset[str] = frozenset()  # relay and max-tree populations
    latency: int = 0  # steps from an input step to the output (a balanced pipeline)

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
        helpers = frozenset(n for n, p in paths.populations.items() if p.role != "neuron")
        return cls(
            paths.input,
            paths.input_shape,
            input_scale,
            shapes,
            neurons,
            tuple(synapses),
            paths.output,
            facts,
            helpers,
            paths.latency,
        )

    @property
    def model(self) -> str:
        """The mapping of the network's neurons: ``graded`` (ours), ``sdnn`` (a sigma-delta
        network) or ``cuba``."""
        mine = [n for k, n in self.neurons.items() if k not in self.helpers]
        models = {n.model for n in mine}
        if "graded" in models or any(n.step_bias is not None for n in mine):
            return "graded"
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
