"""Lava's fixed-point synapse processes, bit-accurate and batched, built from an artifact's
constructor arguments (Lava layout, see :mod:`.layout`).

* ``Dense`` (``PyDenseModelBitAcc``): on the first step the weights are fixed for their
  sign mode (``sign_mode``, else taken from the weights: all ≥ 0 excitatory, all ≤ 0
  inhibitory, otherwise mixed): inhibitory weights are negated, clipped to ``[−256, 255]``
  (mixed) or ``[0, 255]``, and the low ``8 − num_weight_bits + mixed`` bits are dropped.
  Each step ``a = (W·s)`` wraps to int32 and shifts by ``weight_exp`` (right shifts
  floor). Binary messages (``num_message_bits = 0``) count any non-zero value as 1.
  ``weights = 2m, weight_exp = −1, sign_mode = MIXED`` is exact for every ``m ∈ [−128, 127]``.
* ``Conv`` (``PyConvModelFixed``): ``weight_exp`` and ``num_weight_bits`` are ignored and the
  weights are not clipped; the kernel ``(C_out, kx, ky, C_in/g)`` is flipped (a true
  convolution over ``(x, y, f)``). Lava 0.10 convolves with scipy in float64, casts to int32
  and wraps the sums to signed 24 bits.

Both send, at step ``t``, the sum computed from their input at step ``t − 1 − delay``:
``delay`` is 0 for Lava's ``Dense`` and ``Conv``, the argument of its ``DelayDense``
(``delays``, one value) and of our ``DelayConv`` (``delay``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..formats.procgraph_processes import MAX_DELAY
from .neuron_models import wrap

MIXED, EXCITATORY, INHIBITORY = 1, 2, 3
EXACT_F32 = 1 << 24  # float32 sums are exact below this


def dense_weights(
    w: np.ndarray, num_weight_bits: int = 8, sign_mode: int | None = None
) -> np.ndarray:
    """The integer weights Lava's fixed-point ``Dense`` really uses (see module docstring)."""
    w = np.asarray(w, np.int64)
    if not sign_mode:
        sign_mode = EXCITATORY if w.min() >= 0 else (INHIBITORY if w.max() <= 0 else MIXED)
    mixed, inhibitory = int(sign_mode == MIXED), sign_mode == INHIBITORY
    if inhibitory:
        w = -w
    w = np.clip(w, -256 * mixed, 255)
    cut = 8 - num_weight_bits + mixed
    w = (w >> cut) << cut
    return -w if inhibitory else w


def _matmul(x: np.ndarray, w: torch.Tensor, wsum: float) -> np.ndarray:
    """``x @ w`` of integers, in float32 while exact, else float64 (exact below 2⁵³)."""
    exact32 = wsum * max(1, int(np.abs(x).max(initial=0))) < EXACT_F32
    dt = torch.float32 if exact32 else torch.float64
    return np.rint((torch.tensor(x, dtype=dt) @ w.to(dt)).numpy()).astype(np.int64)


def synaptic_delay(args: dict[str, Any]) -> int:
    """The delay in steps a synapse process adds to the one-step hop (one value)."""
    delays = np.unique(np.asarray(args.get("delays", args.get("delay", 0)), np.int64))
    if delays.size != 1 or not 0 <= int(delays[0]) <= MAX_DELAY:
        raise ValueError(f"synaptic delays must be one value in [0, {MAX_DELAY}]")
    return int(delays[0])


class Dense:
    def __init__(self, args: dict[str, Any], weights: np.ndarray) -> None:
        self.delay = synaptic_delay(args)
        w = dense_weights(weights, int(args.get("num_weight_bits", 8)), args.get("sign_mode"))
        self.exp = int(args.get("weight_exp", 0))
        self.graded = int(args.get("num_message_bits", 0)) > 0
        self.w = torch.tensor(w.T, dtype=torch.float64)
        self.wsum = float(np.abs(w).sum(1).max(initial=0))

    def __call__(self, s: np.ndarray) -> np.ndarray:
        s = s.reshape(s.shape[0], -1)
        if not self.graded:
            s = (s != 0).astype(np.int64)
        acc = wrap(_matmul(s, self.w, self.wsum), 32)
        return acc << self.exp if self.exp > 0 else acc >> -self.exp


class Conv:
    def __init__(self, args: dict[str, Any], weight: np.ndarray) -> None:
        self.delay = synaptic_delay(args)
        w = np.asarray(weight, np.int64)[:, ::-1, ::-1].transpose(0, 3, 2, 1)  # → torch order
        self.w = torch.tensor(w.copy(), dtype=torch.float64)
        self.stride = tuple(args.get("stride", (1, 1)))[::-1]
        self.padding = tuple(args.get("padding", (0, 0)))[::-1]
        self.dilation = tuple(args.get("dilation", (1, 1)))[::-1]
        self.groups = int(args.get("groups", 1))
        self.in_shape = tuple(args["input_shape"])
        self.graded = int(args.get("num_message_bits", 0)) > 0
        self.wsum = float(self.w.abs().reshape(len(self.w), -1).sum(1).max())

    def __call__(self, s: np.ndarray) -> np.ndarray:
        if not self.graded:
            s = (s != 0).astype(np.int64)
        exact32 = self.wsum * max(1, int(np.abs(s).max(initial=0))) < EXACT_F32
        dt = torch.float32 if exact32 else torch.float64
        x = np.ascontiguousarray(s.reshape(-1, *self.in_shape).transpose(0, 3, 2, 1))
        y = F.conv2d(
            torch.tensor(x, dtype=dt),
            self.w.to(dt),
            None,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
        )
        return wrap(np.rint(y.numpy()).astype(np.int64), 24).transpose(0, 3, 2, 1)


MODELS = {"Dense": Dense, "Conv": Conv, "DelayDense": Dense, "DelayConv": Conv}
WEIGHTS = {"Dense": "weights", "DelayDense": "weights", "Conv": "weight", "DelayConv": "weight"}
