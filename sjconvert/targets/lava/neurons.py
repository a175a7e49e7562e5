"""Loihi 2 neuron models, bit-accurate with Lava's ``fixed_pt`` process models.

* CUBA (``PyLifModelBitAcc``), per step with input ``a`` (``dec``: 12-bit decay)::

      u = wrap(dec(u, δ_i) + a·2⁶)        (±2²⁴ once past ±2²³, as Lava)
      v = clip23(dec(v, δ_v) + u + b·2⁶);   s = v > θ·2⁶;   v ← 0 where s

* sigma-delta with ReLU (``PySigmaDeltaModelFixed``, NetX ``SDNN``: spike and state
  exponents 6)::

      σ += a;  act = max(σ + b·2¹², 0);  δ = act − act_prev + r
      e = δ if |δ| ≥ θ·2¹² else 0;  r = δ − e;  act_prev = act;  message = e >> 6

* sigma (``PySigmaModelFixed``, NetX ``sigma_output``): ``σ += a``, sent as it is.
"""

from __future__ import annotations

import numpy as np

DECAY_UNITY = 4096
STATE_SHIFT = 6
SD_SHIFT = 12
UV_MAX = 1 << 23


def decay(x: np.ndarray, d: int) -> np.ndarray:
    prod = x * (DECAY_UNITY - d)
    return np.sign(prod) * (np.abs(prod) >> 12)


def wrap(x: np.ndarray, bits: int) -> np.ndarray:
    base = 1 << bits
    return (x + base // 2) % base - base // 2


def wrap_once(u: np.ndarray) -> np.ndarray:
    """Lava's current overflow: subtract (add) 2²⁴ once above 2²³ (at or below −2²³)."""
    out = np.where(u > UV_MAX, u - 2 * UV_MAX, u)
    return np.where(out <= -UV_MAX, u + 2 * UV_MAX, out)


class Cuba:
    """CUBA LIF state of one layer over a batch; ``state`` is the voltage."""

    def __init__(self, shape: tuple[int, ...], vth: int, i_decay: int, v_decay: int, bias):
        self.u = np.zeros(shape, np.int64)
        self.state = np.zeros(shape, np.int64)
        self.vth, self.i_decay, self.v_decay, self.bias = vth, i_decay, v_decay, bias

    def step(self, a: np.ndarray) -> np.ndarray:
        self.u = wrap_once(decay(self.u, self.i_decay) + wrap(a << STATE_SHIFT, 32))
        v = decay(self.state, self.v_decay) + self.u + (self.bias << STATE_SHIFT)
        v = np.clip(v, -UV_MAX + 1, UV_MAX - 1)
        s = v > (self.vth << STATE_SHIFT)
        v[s] = 0
        self.state = v
        return s.astype(np.int64)


class SigmaDelta:
    """Sigma-delta ReLU neurons of one layer; ``state`` is the sigma accumulator."""

    def __init__(self, shape: tuple[int, ...], vth: int, bias) -> None:
        self.state = np.zeros(shape, np.int64)
        self.act = np.zeros(shape, np.int64)
        self.residue = np.zeros(shape, np.int64)
        self.vth, self.bias = vth << SD_SHIFT, bias << SD_SHIFT

    def step(self, a: np.ndarray) -> np.ndarray:
        self.state = self.state + a
        act = np.maximum(self.state + self.bias, 0)
        delta = act - self.act + self.residue
        sent = np.where(np.abs(delta) >= self.vth, delta, 0)
        self.residue = delta - sent
        self.act = act
        return sent >> STATE_SHIFT


class Sigma:
    """Sigma (integrating) output neurons; ``state`` is the accumulated input."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.state = np.zeros(shape, np.int64)

    def step(self, a: np.ndarray) -> np.ndarray:
        self.state = self.state + a
        return self.state
