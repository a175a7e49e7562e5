"""Quantise a float network (:class:`~.network.Paths`) for Loihi 2 CUBA neurons (Lava
``LIF``): 8-bit signed weight mantissas, 13-bit bias mantissas (exponent 6), a 17-bit
threshold mantissa, 12-bit decays. The shared core (:func:`normalised`,
:func:`population_scale`, :func:`quantize_synapses`, :func:`facts`) also serves the
sigma-delta quantiser (:mod:`.sdnn`).

Per population with threshold ``θ`` per channel, hard reset to ``V_r`` and incoming
synapses ``W_k`` from sources sending messages ``m_k`` per unit (the graph input:
``round(x·σ)``, so ``m = σ``; spikes: 1)::

    θ' = θ − V_r,  V' = V − V_r     (Loihi resets to 0: the membrane is shifted by V_r —
                                     exact for IF and both LIF forms)
    W̃_k = W_k / (θ'·τ_in),  b̃ = b / (θ'·τ_in)      (τ_in = τ with decay_input, else 1)
    K = ⌊min(127·m_k / max|W̃_k|,  4095 / max|b̃|,  VTH_MAX)⌋     (state units per θ';
                                      float32 rounding gets a relative slack of 10⁻⁶)
    W_q = round(K·W̃_k / m_k),   b_q = round(K·b̃),   v₀ = round(K·(v_init − V_r)/θ')·2⁶
    vth = round(α·K) − 1 (IF: ``v`` stays a multiple of 2⁶, so ``v > vth·2⁶`` is exactly
    SpikingJelly's ``v ≥ αK``); round(α·K) for LIF; du = 4095 (no current state),
    dv = round(4096/τ) (LIF, ParametricLIF's ``decay`` = 1/τ) or 0 (IF)

``α = 1`` for neurons that already reset hard. Soft reset has no CUBA form:
``reset="exact"`` refuses it (naming every such node), ``reset="hard"`` maps it to a hard
reset to 0 with the threshold factor ``α`` — a rate-code correction
(``docs/lava.md`` measures it; :mod:`.tune` picks ``α`` on calibration data). A
:class:`Readout` becomes a non-spiking integrator (``vth = VTH_MAX``) with ``K`` bounded so
that ``T`` steps cannot reach it. Per-layer errors (relative RMS of weights and bias,
threshold and decay) go to :attr:`LoihiNet.facts`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ....errors import PassError
from ....ir import nodes as ir
from ...registry import Registry
from ..network import LoihiNet, Neuron, Paths, Population, Synapse
from .shared import (
    Incoming,
    bias_error,
    channels,
    facts,
    normalised,
    population_scale,
    quantize_synapses,
)

VTH_MAX = (1 << 17) - 1
BIAS_MAX = (1 << 12) - 1
DECAY_UNITY = 4096
MIN_LEVELS = 8
SLACK = 1e-6  # float32 weights on an integer grid must not lose a level to rounding
RESETS = ("exact", "hard")


def voltage_decay(leak: float) -> int:
    """12-bit voltage decay for a leak ``1/τ`` per step: ``round(4096/τ)`` (IF: 0)."""
    return min(DECAY_UNITY - 1, round(DECAY_UNITY * leak))


@dataclass(frozen=True)
class Cuba:
    """How one IF/LIF/Readout node maps to CUBA (see the module docstring)."""

    div: np.ndarray
    v0: float
    leak: float
    exact_if: bool
    alpha: float


@dataclass(frozen=True)
class Options:
    """What a CUBA form depends on besides its node: the channel count, the reset policy
    and the threshold factor for soft-reset neurons."""

    n: int
    reset: str
    alpha: float


FORMS: Registry[Options, Cuba | str] = Registry("lava-cuba")
"""The CUBA form of each neuron class (a class without one is refused by name)."""


@FORMS.register(ir.Readout)
def _readout(name: str, node: ir.Readout, opt: Options) -> Cuba | str:
    return Cuba(np.ones(opt.n), 0.0, 0.0, False, 1.0)


def _reset_form(name: str, node: ir.Node, opt: Options, leak: float) -> Cuba | str:
    """The shared part of IF and LIF: shifted threshold, start and soft-reset policy."""
    soft = node.reset_mode == "soft"
    if soft and opt.reset == "exact":
        return f"{name}: soft reset (reset by subtraction) has no Loihi form"
    v_r = 0.0 if soft else float(node.v_reset)
    theta = channels(node.v_threshold, opt.n) - v_r
    if np.any(theta <= 0):
        return f"{name}: threshold {node.v_threshold} at or below the reset {v_r}"
    v0 = np.unique((channels(node.v_init, opt.n) - v_r) / theta)
    if len(v0) > 1 and opt.reset == "exact":
        return f"{name}: an initial membrane that differs per channel"
    if leak and node.decay_input:
        theta = theta / leak
    start = float(v0[0]) if len(v0) == 1 else 0.0
    return Cuba(theta, start, leak, leak == 0.0, opt.alpha if soft else 1.0)


@FORMS.register(ir.IF)
def _if(name: str, node: ir.IF, opt: Options) -> Cuba | str:
    return _reset_form(name, node, opt, 0.0)


@FORMS.register(ir.LIF)
def _lif(name: str, node: ir.LIF, opt: Options) -> Cuba | str:
    leak = float(node.decay) if node.decay is not None else 1.0 / float(node.tau)
    return _reset_form(name, node, opt, leak)


def cuba_of(name: str, node: ir.Node, n: int, reset: str, alpha: float) -> Cuba | str:
    """The mapping of ``node`` (``n`` channels), or why it has none."""
    entry = FORMS.get(node)
    if entry is None:
        return f"{name}: {node.op} has no Loihi CUBA form"
    return entry.emit(name, node, Options(n, reset, alpha))


def _cuba_population(
    pop: Population, incoming: list[Incoming], cuba: Cuba, steps: int
) -> tuple[Neuron, list[Synapse], dict[str, Any]]:
    readout = isinstance(pop.node, ir.Readout)
    b = normalised(pop.bias, cuba.div)
    bounds = [VTH_MAX / cuba.alpha]
    if np.any(b):
        bounds.append(BIAS_MAX / float(np.abs(b).max()))
    if readout:
        per = sum(np.abs(i.w).reshape(len(i.w), -1).sum(1) * i.bound for i in incoming)
        reach = float(np.max(per + np.abs(b).reshape(len(b), -1).max(1)))
        bounds.append(VTH_MAX / (steps * max(reach, 1e-30)))
    k = float(math.floor(population_scale(incoming, bounds) * (1 + SLACK)))
    syns, report = quantize_synapses(incoming, k, MIN_LEVELS)
    bq = np.rint(b * k).astype(np.int64)
    shift = 1 if cuba.exact_if else 0
    vth = VTH_MAX if readout else max(0, round(cuba.alpha * k) - shift)
    v0 = round(k * cuba.v0) << 6 if cuba.exact_if else round(k * cuba.v0 * 64)
    dv = voltage_decay(cuba.leak) if cuba.leak else 0
    neuron = Neuron("cuba", vth=vth, du=DECAY_UNITY - 1, dv=dv, bias=bq, v=v0)
    errors = {
        "bias": bias_error(b, bq, 1 / k),
        "threshold": 0.0 if readout else abs((vth + shift) / (cuba.alpha * k) - 1.0),
        "decay": abs(dv / DECAY_UNITY / cuba.leak - 1.0) if cuba.leak else 0.0,
    }
    return neuron, syns, facts(pop.node, neuron, k, report, errors)


def quantize_cuba(
    paths: Paths,
    input_scale: float,
    steps: int,
    x_max: float = 1.0,
    reset: str = "exact",
    alpha: float = 1.0,
) -> LoihiNet:
    """Quantise ``paths`` for CUBA neurons (see the module docstring); ``input_scale`` maps
    the input to integer messages, ``x_max`` bounds ``|x|`` (the readout's range) and
    ``steps`` is the number of steps the network will run."""
    if reset not in RESETS:
        raise PassError(f"reset must be one of {RESETS}, got {reset!r}")
    maps = {n: cuba_of(n, p.node, p.shape[0], reset, alpha) for n, p in paths.populations.items()}
    refused = [m for m in maps.values() if isinstance(m, str)]
    if refused:
        raise PassError(
            f"no Loihi CUBA equivalent (reset='hard' approximates): {'; '.join(refused)}"
        )
    neurons, synapses, report = {}, [], {}
    for name, pop in paths.populations.items():
        cuba = maps[name]
        incoming = [
            Incoming(
                s,
                normalised(s.weight, cuba.div),
                input_scale if s.src == paths.input else 1.0,
                x_max if s.src == paths.input else 1.0,
            )
            for s in paths.into(name)
        ]
        try:
            neurons[name], syns, report[name] = _cuba_population(pop, incoming, cuba, steps)
        except ValueError as exc:
            raise PassError(f"{name}: {exc}") from None
        synapses += syns
    return LoihiNet.of(paths, input_scale, neurons, synapses, report)
