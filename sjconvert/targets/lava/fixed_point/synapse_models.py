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


class _Weights:
    """Integer weights as float tensors, converted once per dtype: float32 while every sum is
    exact (below 2²⁴), else float64 (exact below 2⁵³). Sums of integers computed exactly
    are integers, so no rounding is needed before the cast back. Weights below 2²⁴ (all
    8-bit ones) are kept in float32 only, and a float64 copy is made the first time a sum
    needs it (never, on a dry run of zeros): a large network's weights are not held in
    float64 whole."""

    def __init__(self, w: np.ndarray, fan_in_axes: tuple[int, ...]) -> None:
        small = w.size == 0 or max(int(w.max()), -int(w.min())) < EXACT_F32
        self._w32 = torch.from_numpy(np.array(w, np.float32, order="C")) if small else None
        self._w64 = None if small else torch.from_numpy(np.array(w, np.float64, order="C"))
        whole = self._w64 if self._w32 is None else self._w32
        self.wsum = _largest_fan_in_sum(whole, fan_in_axes) if whole.numel() else 0.0

    def exact_dtype(self, s: np.ndarray) -> torch.dtype:
        big = max(1, int(np.abs(s).max(initial=0)))
        return torch.float32 if self.wsum * big < EXACT_F32 else torch.float64

    def of(self, dt: torch.dtype) -> torch.Tensor:
        if dt == torch.float64:
            if self._w64 is None:
                self._w64 = self._w32.to(torch.float64)  # exact: integers below 2²⁴
            return self._w64
        if self._w32 is None:
            self._w32 = self._w64.to(torch.float32)
        return self._w32


def _largest_fan_in_sum(w: torch.Tensor, fan_in_axes: tuple[int, ...]) -> float:
    """``max_o Σ_fan-in |w|``, in float64 (exact: integers below 2⁵³), by blocks of output
    units of about 2²² weights (no float64 copy of ``w`` whole)."""
    (out_axis,) = set(range(w.ndim)) - set(fan_in_axes)
    step = max(1, (1 << 22) // max(1, w.numel() // w.shape[out_axis]))
    return max(
        float(part.abs().sum(fan_in_axes, dtype=torch.float64).max())
        for part in w.split(step, out_axis)
    )


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
        self.w = _Weights(w.T, (0,))

    def __call__(self, s: np.ndarray) -> np.ndarray:
        s = s.reshape(s.shape[0], -1)
        if not self.graded:
            s = (s != 0).astype(np.int64)
        dt = self.w.exact_dtype(s)
        acc = (torch.from_numpy(np.asarray(s)).to(dt) @ self.w.of(dt)).to(torch.int64).numpy()
        acc = wrap(acc, 32)
        return acc << self.exp if self.exp > 0 else acc >> -self.exp


class Conv:
    def __init__(self, args: dict[str, Any], weight: np.ndarray) -> None:
        self.delay = synaptic_delay(args)
        w = np.asarray(weight, np.int64)[:, ::-1, ::-1].transpose(0, 3, 2, 1)  # → torch order
        self.w = _Weights(w, (1, 2, 3))
        self.stride = tuple(args.get("stride", (1, 1)))[::-1]
        self.padding = tuple(args.get("padding", (0, 0)))[::-1]
        self.dilation = tuple(args.get("dilation", (1, 1)))[::-1]
        self.groups = int(args.get("groups", 1))
        self.in_shape = tuple(args["input_shape"])
        self.graded = int(args.get("num_message_bits", 0)) > 0

    def __call__(self, s: np.ndarray) -> np.ndarray:
        if not self.graded:
            s = (s != 0).astype(np.int64)
        dt = self.w.exact_dtype(s)
        x = torch.from_numpy(np.asarray(s).reshape(-1, *self.in_shape)).permute(0, 3, 2, 1)
        y = F.conv2d(
            x.to(dt, memory_format=torch.contiguous_format),
            self.w.of(dt),
            None,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
        )
        y = y.permute(0, 3, 2, 1).to(torch.int64, memory_format=torch.contiguous_format)
        return wrap(y.numpy(), 24)


MODELS = {"Dense": Dense, "Conv": Conv, "DelayDense": Dense, "DelayConv": Conv}
WEIGHTS = {"Dense": "weights", "DelayDense": "weights", "Conv": "weight", "DelayConv": "weight"}
