"""Nodes that carry a nonlinear op through time with an exact limit at every step
(expectation compensation, ``docs/transformers.md``):

``Compensate(f(RunningMean(X)))`` emits, summed over the steps so far, ``(t+1)·f(X̄_t)``:
the running mean of its output is ``f`` of the running mean of its input at every ``t``,
for any function ``f`` (the shape of ``Difference(MaxPool(Accumulate(X)))``, which gives
cumulative max pooling). :class:`Encode` marks, in an ANN, where such a value travels as
spikes; conversion turns it into a :class:`BipolarIF` neuron.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .base import Node
from .neurons import _BurstNeuron


@dataclass(frozen=True, eq=False)
class RunningMean(Node):
    """Running mean over time (non-spiking): ``Y[t] = (1/(t+1))·Σ_{t' ≤ t} X[t']``."""

    stateful: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    linear: ClassVar[bool] = True
    keeps_scale: ClassVar[bool] = True
    accumulated: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class Compensate(Node):
    """Expectation compensation (non-spiking): ``Y[t] = (t+1)·X[t] − t·X[t−1]``, so that
    ``Σ_{t' ≤ t} Y[t'] = (t+1)·X[t]``: a value whose running mean is ``X[t]`` at every step.
    The inverse of :class:`RunningMean`."""

    stateful: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    linear: ClassVar[bool] = True
    keeps_scale: ClassVar[bool] = True
    accumulated: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class Encode(Node):
    """In an ANN, ``Y = X``: the value travels as spikes from here (it feeds a synapse).
    Conversion replaces it with a :class:`BipolarIF` neuron of threshold ``λ/B`` (``λ``: a
    statistic of ``|X|``), as it replaces a ReLU with a neuron."""

    elementwise: ClassVar[bool] = True
    becomes_neuron: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class BipolarIF(_BurstNeuron):
    """Bipolar burst integrate-and-fire neuron: up to ``B = max_spikes`` spikes of either
    sign per step, per step t (V[-1] = v_init)::

        H[t] = V[t-1] + X[t]
        S[t] = max(min(⌊H[t] / V_th⌋, B), −B)                            (an integer)
        V[t] = H[t] − V_th·S[t]                                          (soft reset)

    With ``v_init = V_th/2`` the floor rounds: while the input's running sum moves by at
    most ``B·V_th`` per step, ``V_th·Σ S`` stays within ``V_th/2`` of ``v_init + Σ X``, so
    the running mean of its spikes is that of its input within ``V_th/(2(t+1))``, of either
    sign (the signed multi-threshold neuron of expectation compensation, Huang et al. 2024,
    "Towards high-performance spiking transformers from ANN to SNN conversion"). Its rate
    model is ``clamp(X / V_th, −B, B)``. Each of the ``|S[t]|`` spikes counts as one event.
    """

    bipolar: ClassVar[bool] = True
