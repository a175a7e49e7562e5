"""A SpikingJelly SNN sample: trained with surrogate gradients on spike-encoded digits.

It needs SpikingJelly 2.0 (the full environment), so it lives apart from
:mod:`samples.models`, which the lean environment imports.
"""

from __future__ import annotations

import torch
from spikingjelly.activation_based import functional, layer, neuron, surrogate
from torch import nn

__all__ = ["DigitsSNN"]

TAU = 2.0


class DigitsSNN(nn.Module):
    """A multi-step SNN for 8×8 digits encoded as spike trains: input ``[T, N, 1, 8, 8]``
    (SpikingJelly's time-major layout), output spikes ``[T, N, 10]``; the class is the output
    neuron that fires most.

    ``Conv2d(1→16, 3×3) → IF → AvgPool 2 → Flatten → Dropout(0.2) → Linear(256→64) → LIF →
    Linear(64→10) → LIF``, no biases. Every neuron resets hard to 0 (``v_reset=0``); the LIF
    layers do not decay their input (``decay_input=False``), as in SpikingJelly's Lava flow:
    ``H[t] = V[t-1] − V[t-1]/τ + X[t]`` with ``τ = 2``; the IF layer ``H[t] = V[t-1] + X[t]``;
    both fire ``S[t] = Θ(H[t] − 1)`` and set ``V[t] = H[t]·(1 − S[t])``.
    """

    def __init__(self, channels: int = 16, hidden: int = 64, num_classes: int = 10) -> None:
        super().__init__()
        grad = surrogate.ATan()
        self.net = nn.Sequential(
            layer.Conv2d(1, channels, 3, padding=1, bias=False),
            neuron.IFNode(v_reset=0.0, surrogate_function=grad, detach_reset=True),
            layer.AvgPool2d(2),  # 8x8 -> 4x4
            layer.Flatten(),
            layer.Dropout(0.2),
            layer.Linear(channels * 4 * 4, hidden, bias=False),
            neuron.LIFNode(
                tau=TAU, decay_input=False, v_reset=0.0, surrogate_function=grad, detach_reset=True
            ),
            layer.Linear(hidden, num_classes, bias=False),
            neuron.LIFNode(
                tau=TAU, decay_input=False, v_reset=0.0, surrogate_function=grad, detach_reset=True
            ),
        )
        functional.set_step_mode(self, "m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output spikes ``[T, N, num_classes]`` for input spikes ``[T, N, 1, 8, 8]``."""
        return self.net(x)
