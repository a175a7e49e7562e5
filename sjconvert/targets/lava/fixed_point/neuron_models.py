"""Loihi 2 neuron models, bit-accurate with Lava's ``fixed_pt`` process models, batched over
samples and built from the constructor arguments of an artifact (:mod:`.procgraph_loader`).

* ``LIF`` (CUBA, ``PyLifModelBitAcc``), per step with input ``a`` (``dec(x, d)`` is
  ``sign(x)·(|x·(4096 − d)| >> 12)``)::

      u = wrap_once(dec(u, du + 1) + a·2⁶)       (±2²⁴ once past ±2²³, as Lava)
      v = clip(dec(v, dv) + u + bias_mant·2^bias_exp, ±(2²³ − 1))
      s = v > vth·2⁶;   v ← 0 where s

  Lava adds 1 to ``du`` (``du = 4095`` forgets the current) but not to ``dv``.
* ``SigmaDelta`` with ReLU (``PySigmaDeltaModelFixed``); the constructor scales ``vth`` and
  ``bias`` by ``2^(spike_exp + state_exp)``::

      σ += a;  act = max(σ + bias', 0);  δ = act − act_prev + r
      e = δ if |δ| ≥ vth' else 0;  r = δ − e;  act_prev = act;  message = e >> state_exp

* ``Sigma`` (``PySigmaModelFixed``): ``σ += a``, sent as it is.
* ``GradedIF`` (ours, :mod:`..formats.procgraph_processes`): its one step function, the
  very code its Lava process model runs.

Each model's ``state`` is what a Lava ``Monitor`` reads after the step (``v``, ``sigma``).

``step(None)`` is a step in which no message arrived. A model that can prove the step
changes nothing (it sent nothing last step and nothing drives it) returns zeros without
computing; otherwise it computes the step on a zero input. The proofs are in each model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..formats.procgraph_processes import graded_if_step

DECAY_UNITY = 4096
STATE_SHIFT = 6
UV_MAX = 1 << 23


def decay(x: np.ndarray, d: int) -> np.ndarray:
    prod = x * (DECAY_UNITY - d)
    return np.sign(prod) * (np.abs(prod) >> 12)


def wrap(x: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap of integers to ``bits`` signed bits (a no-op inside the range)."""
    half = 1 << (bits - 1)
    if x.size == 0 or (x.max() < half and x.min() >= -half):
        return x
    return ((x + half) & ((half << 1) - 1)) - half


def wrap_once(u: np.ndarray) -> np.ndarray:
    """Lava's current overflow: subtract (add) 2²⁴ once above 2²³ (at or below −2²³)."""
    out = np.where(u > UV_MAX, u - 2 * UV_MAX, u)
    return np.where(out <= -UV_MAX, u + 2 * UV_MAX, out)


def _full(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, np.int64), shape).copy()


class LIF:
    """CUBA LIF neurons of one population over a batch; ``state`` is the voltage."""

    def __init__(self, args: dict[str, Any], n: int) -> None:
        shape = (n, *args["shape"])
        self.u, self.state = _full(args.get("u", 0), shape), _full(args.get("v", 0), shape)
        self.du, self.dv = int(args.get("du", 0)), int(args.get("dv", 0))
        mant = np.asarray(args.get("bias_mant", 0), np.int64)
        exp = np.asarray(args.get("bias_exp", 0), np.int64)
        self.bias = np.where(exp >= 0, mant << np.maximum(exp, 0), mant >> np.maximum(-exp, 0))
        self.vth = int(args.get("vth", 10)) << STATE_SHIFT

    def step(self, a: np.ndarray | None) -> np.ndarray:
        if a is None:  # currents and voltages decay and biases drive it: always computed
            a = np.zeros_like(self.u)
        self.u = wrap_once(decay(self.u, self.du + 1) + wrap(a << STATE_SHIFT, 32))
        v = np.clip(decay(self.state, self.dv) + self.u + self.bias, 1 - UV_MAX, UV_MAX - 1)
        s = v > self.vth
        v[s] = 0
        self.state = v
        return s.astype(np.int64)


class SigmaDelta:
    """Sigma-delta neurons of one population; ``state`` is the sigma accumulator."""

    def __init__(self, args: dict[str, Any], n: int) -> None:
        shape = (n, *args["shape"])
        k = int(args.get("spike_exp", 0)) + int(args.get("state_exp", 0))
        self.vth = int(args["vth"]) << k
        self.bias = np.asarray(args.get("bias", 0), np.int64) << k
        self.relu = int(args.get("act_mode", 1)) == 1
        self.shift = int(args.get("state_exp", 0))
        self.state = np.zeros(shape, np.int64)
        self.act = np.zeros(shape, np.int64)
        self.residue = np.zeros(shape, np.int64)
        self.zero = np.zeros(shape, np.int64)
        self.quiet = False

    def step(self, a: np.ndarray | None) -> np.ndarray:
        # quiet: it has stepped and sent nothing, so every |δ| < vth was kept as residue;
        # with no input σ and act stay, δ = residue again, and again nothing is sent
        if a is None:
            if self.quiet:
                return self.zero
            a = self.zero
        self.state = self.state + a
        act = self.state + self.bias
        act = np.maximum(act, 0) if self.relu else act
        delta = act - self.act + self.residue
        sent = np.where(np.abs(delta) >= self.vth, delta, 0)
        self.residue = delta - sent
        self.act = act
        out = sent >> self.shift
        self.quiet = not sent.any()
        return out


class Sigma:
    """Sigma (integrating) output neurons; ``state`` is the accumulated input."""

    def __init__(self, args: dict[str, Any], n: int) -> None:
        self.state = np.zeros((n, *args["shape"]), np.int64)

    def step(self, a: np.ndarray | None) -> np.ndarray:
        if a is not None:
            self.state = self.state + a
        return self.state


class GradedIF:
    """Our graded integrate-and-fire neurons; ``state`` is the net spike count ``c``."""

    def __init__(self, args: dict[str, Any], n: int) -> None:
        shape = (n, *args["shape"])
        self.p: dict[str, Any] = {k: args.get(k, 0) for k in ("bias", "v_init", "start")}
        self.p.update(vth=args.get("vth", 1), max_spikes=args.get("max_spikes", 1))
        self.p["negative"] = args.get("negative", 0)
        self.zero = np.zeros(shape, np.int64)
        self.st = {"v": self.zero, "c": self.zero, "t": np.zeros(1, np.int64)}
        self.unbiased = not np.any(self.p["bias"])
        self.quiet = False

    def step(self, a: np.ndarray | None) -> np.ndarray:
        # quiet: last step ran the spiking rule (t ≥ start) and sent nothing, so v was left
        # as it was; with no input and no bias v stays, the rule gives 0 again, c stays
        if a is None:
            if self.quiet:
                self.st["t"] = np.minimum(self.st["t"] + 1, 1 << 30)
                return self.zero
            a = self.zero
        spiking = int(self.st["t"][0]) >= int(self.p["start"])
        s, self.st = graded_if_step(self.st, a, self.p)
        self.quiet = spiking and self.unbiased and not s.any()
        return s

    @property
    def state(self) -> np.ndarray:
        return self.st["c"]


MODELS = {"LIF": LIF, "SigmaDelta": SigmaDelta, "Sigma": Sigma, "GradedIF": GradedIF}
STATE_VAR = {"LIF": "v", "SigmaDelta": "sigma", "Sigma": "sigma", "GradedIF": "c"}
