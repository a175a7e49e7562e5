"""Nodes that NIR graphs from other frameworks bring: a current-based LIF neuron, a leaky
integrator, a stateless threshold and a delay line (all per step ``t``; ``docs/nir.md``
maps them to NIR's continuous-time nodes)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from .base import Node, check_channels, check_scalar_or_array, per_channel
from .neurons import _Neuron, check_neuron


@dataclass(frozen=True, eq=False)
class CubaLIF(_Neuron):
    """Current-based LIF neuron (SpikingJelly ``CUBALIFNode``), per step t (I[-1] = 0,
    V[-1] = v_init)::

        I[t] = α·I[t-1] + X[t]                    (α = c_decay)
        H[t] = β·V[t-1] + I[t]                    (β = v_decay)
        S[t] = Θ(H[t] − V_th)

    then soft or hard reset of ``H`` as :class:`~.neurons.IF`. Its rate model (ANN view)
    is ``clamp(X / V_th, 0, 1)``, as for the LIF.
    """

    rate_coded: ClassVar[bool] = True
    c_decay: float = 0.5
    v_decay: float = 0.75
    v_threshold: Any = per_channel(1.0)
    v_reset: float | None = 0.0
    v_init: Any = per_channel(0.0)

    def validate(self) -> None:
        for name in ("c_decay", "v_decay"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value < 1.0):
                raise ValueError(f"CubaLIF {name} must be in [0, 1), got {value}")
        check_neuron(self)


@dataclass(frozen=True, eq=False)
class LI(Node):
    """Leaky integrator (non-spiking; its output is the membrane), per step t
    (V[-1] = v_leak)::

        V[t] = V[t-1] + (X[t] − (V[t-1] − v_leak)) / τ
    """

    stateful: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    tau: float = 2.0
    v_leak: float = 0.0

    def validate(self) -> None:
        if not (math.isfinite(self.tau) and self.tau >= 1.0):
            raise ValueError(f"LI tau must be finite and >= 1, got {self.tau}")
        if not math.isfinite(self.v_leak):
            raise ValueError("LI v_leak must be finite")


@dataclass(frozen=True, eq=False)
class Threshold(Node):
    """Stateless step: ``Y = Θ(X − θ)`` (1 where ``X >= θ``), θ scalar or per channel."""

    elementwise: ClassVar[bool] = True
    threshold: Any = per_channel(0.0)

    def validate(self) -> None:
        check_scalar_or_array(self.threshold, "threshold", positive=False)

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        check_channels(self, shapes[0], "threshold")


@dataclass(frozen=True, eq=False)
class Delay(Node):
    """Delay line of ``steps`` time steps: ``Y[t] = X[t − steps]`` (0 for ``t < steps``)."""

    stateful: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    linear: ClassVar[bool] = True
    steps: int = 1

    def validate(self) -> None:
        object.__setattr__(self, "steps", int(self.steps))
        if self.steps < 0:
            raise ValueError(f"Delay steps must be >= 0, got {self.steps}")


@dataclass(frozen=True, eq=False)
class Accumulate(Node):
    """Running sum over time (non-spiking): ``Y[t] = Σ_{t' ≤ t} X[t']``. With
    :class:`Difference` after a max pool it pools *cumulative* values:
    ``Difference(MaxPool(Accumulate(X)))`` makes ``Σ_{t' ≤ t} Y[t'] = MaxPool(Σ_{t' ≤ t} X[t'])``
    at every t, the max pooling of a neuron's net spike count (or cumulative current)."""

    cumulative: ClassVar[bool] = True
    stateful: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    linear: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class Difference(Node):
    """Change per step (non-spiking): ``Y[t] = X[t] − X[t-1]`` with ``X[-1] = 0``; the inverse
    of :class:`Accumulate`."""

    cumulative: ClassVar[bool] = True
    stateful: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    linear: ClassVar[bool] = True
