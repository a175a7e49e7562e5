"""Neuron nodes (defined per time step) and the membrane readout. Each neuron's step is one
program in :mod:`sjconvert.ops.neurons`, which every executor runs or generates code from."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from .base import Node, check_channels, check_scalar_or_array, per_channel


@dataclass(frozen=True, eq=False)
class _Neuron(Node):
    """A spiking neuron layer: element-wise, with a membrane carried over time steps."""

    spiking: ClassVar[bool] = True
    stateful: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        check_channels(self, shapes[0], "v_threshold", "v_init")

    @property
    def reset_mode(self) -> str:
        return "soft" if getattr(self, "v_reset", None) is None else "hard"


def check_neuron(node: Any) -> None:
    """The checks every neuron with a threshold, a reset and a start membrane shares."""
    check_scalar_or_array(node.v_threshold, "v_threshold", positive=True)
    check_scalar_or_array(node.v_init, "v_init", positive=False)
    if node.v_reset is not None and not math.isfinite(node.v_reset):
        raise ValueError("v_reset must be finite or None")


@dataclass(frozen=True, eq=False)
class _BurstNeuron(_Neuron):
    """A soft-reset neuron that emits up to ``max_spikes`` signed spikes per step (the
    fields and checks :class:`SignedIF` and ``BipolarIF`` share; their rules differ)."""

    rate_coded: ClassVar[bool] = True
    signed: ClassVar[bool] = True
    v_threshold: Any = per_channel(1.0)
    v_init: Any = per_channel(0.0)
    max_spikes: int = 1

    @property
    def v_reset(self) -> None:
        return None

    def validate(self) -> None:
        object.__setattr__(self, "max_spikes", int(self.max_spikes))
        if self.max_spikes < 1:
            name = type(self).__name__
            raise ValueError(f"{name} max_spikes must be >= 1, got {self.max_spikes}")
        check_neuron(self)


@dataclass(frozen=True, eq=False)
class IF(_Neuron):
    """Integrate-and-fire neuron, per step t (V[-1] = v_init; Θ(x) = 1 if x >= 0 else 0)::

        H[t] = V[t-1] + X[t]
        S[t] = Θ(H[t] − V_th)
        V[t] = H[t] − V_th·S[t]                        (soft reset, v_reset is None)
        V[t] = H[t]·(1 − S[t]) + V_reset·S[t]          (hard reset)

    ``v_threshold`` and ``v_init`` are scalars or per-channel (axis 1) arrays.
    """

    rate_coded: ClassVar[bool] = True
    v_threshold: Any = per_channel(1.0)
    v_reset: float | None = None
    v_init: Any = per_channel(0.0)

    def validate(self) -> None:
        check_neuron(self)


@dataclass(frozen=True, eq=False)
class SignedIF(_BurstNeuron):
    """Signed integrate-and-fire neuron with spike memory and bursts of up to ``B =
    max_spikes`` spikes per step, per step t (V[-1] = v_init, C[-1] = 0)::

        H[t] = V[t-1] + X[t]
        S[t] = min(⌊H[t] / V_th⌋, B)                  if H[t] >= V_th
             = −min(⌈−H[t] / V_th⌉, C[t-1], B)        if H[t] < 0
             = 0                                      otherwise          (an integer)
        V[t] = H[t] − V_th·S[t]                                          (soft reset)
        C[t] = C[t-1] + S[t]                                             (net spikes so far)

    A negative spike takes back an earlier positive one when the membrane falls below 0, so
    while ``|X[t]| <= B·V_th`` the net count after t steps is
    ``C[t] = max(0, ⌊(v_init + Σ_{t' ≤ t} X[t']) / V_th⌋)``: the ReLU of the *cumulative*
    input, quantised, whatever order the input arrived in (Wang et al. 2022, "Signed neuron
    with memory"). With ``v_init = V_th/2`` the floor rounds. ``B > 1`` gives burst (graded)
    spikes: ``B·t + 1`` levels after t steps instead of ``t + 1`` (Li & Zeng 2022, "Efficient
    and accurate conversion of spiking neural network with burst spikes"). Its rate model is
    ``clamp(X / V_th, 0, B)``. Each of the ``|S[t]|`` spikes counts as one event.
    """


@dataclass(frozen=True, eq=False)
class LIF(_Neuron):
    """Leaky integrate-and-fire neuron (SpikingJelly semantics), per step t::

        decay_input:     H[t] = V[t-1] + (X[t] − (V[t-1] − V_r)) / τ
        not decay_input: H[t] = V[t-1] − (V[t-1] − V_r) / τ + X[t]

    with ``V_r = v_reset`` (0 for soft reset), then spike and reset as :class:`IF`.
    When ``decay`` is set (ParametricLIF, ``decay = sigmoid(w) = 1/τ``) the charge multiplies
    by ``decay`` instead of dividing by ``τ`` — the same math, kept for bit-exact parity.
    """

    rate_coded: ClassVar[bool] = True
    tau: float = 2.0
    v_threshold: Any = per_channel(1.0)
    v_reset: float | None = 0.0
    decay_input: bool = True
    v_init: Any = per_channel(0.0)
    decay: float | None = None

    def validate(self) -> None:
        if not (math.isfinite(self.tau) and self.tau >= 1.0):
            raise ValueError(f"LIF tau must be finite and >= 1, got {self.tau}")
        if self.decay is not None and not math.isclose(self.decay * self.tau, 1.0, rel_tol=1e-5):
            raise ValueError(f"LIF decay {self.decay} must equal 1/tau ({1 / self.tau})")
        check_neuron(self)


@dataclass(frozen=True, eq=False)
class Readout(Node):
    """Non-spiking integrator read out as a running mean: ``V[t] = V[t-1] + X[t]``,
    ``Y[t] = V[t] / (t + 1)`` for ``t = 0, 1, …`` (V[-1] = 0). Only at graph outputs."""

    readout: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
