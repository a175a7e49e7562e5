"""Quantise a balanced network (:func:`~..lowering.pipeline.balance`) for our ``GradedIF``
neurons (:mod:`..formats.procgraph_processes`): the default conversion's signed IF neurons
with bursts, soft-reset IF neurons, per-channel thresholds and initial membranes, max-pool
relays and trees, and the readout.

Per graded population with threshold ``θ_c`` per channel and incoming synapses ``W_k``
from sources sending messages ``m`` per unit (spike counts: 1; the input ``round(x·σ)``:
``σ``; a relay: its scale, per channel)::

    W̃ = W / θ_c,  b̃ = b / θ_c,  v₀ = v_init / θ_c                (per output channel c)
    K_c = ⌊min(min_{k, i} 127·m_i / |W̃_k[c, i]|,  K_MAX)⌋          (state units per θ)
    W_q = round(K_c·W̃ / m),  b_q = round(K_c·b̃),  v_init_q = round(K_c·v₀),  vth_c = K_c

``GradedIF`` then runs SpikingJelly's signed (or soft-reset) IF on these integers from its
pipeline stage on (``start``). A **relay** quantises like the neuron its pool feeds, whose
threshold and initial membrane move into it (that neuron then takes the relay's scale and
the tree's ±1 weights as they are; a delay relay, :mod:`..lowering.pipeline`, reads its
source through an exact identity, so its messages are the source's own); the **tree**
levels are Lava ``SigmaDelta`` ReLU neurons with threshold 0 and exponents 0, exact on
integers; the **readout** is a Lava ``Sigma`` with one scale for all classes, its bias
added once per input step at the read (``step_bias``). ``K_MAX = 2¹⁵`` keeps bursts of
input within the 24-bit state.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ....errors import PassError
from ....ir import nodes as ir
from ...registry import Registry
from ..network import LoihiNet, Neuron, Paths, Population, Synapse
from .shared import WEIGHT_MAX, bias_error, channels, facts

K_MAX = 1 << 15
SLACK = 1e-6
RELAY_BURST = (1 << 23) - 1
Scale = float | np.ndarray


def message_scale(syn: Synapse, m: Scale, src_shape: tuple[int, ...]) -> Scale:
    """The source's message scale per weight entry of ``syn`` (broadcastable to it)."""
    m = np.asarray(m, np.float64)
    if m.ndim == 0:
        return float(m)
    if syn.kind == "dense":
        return np.repeat(m, int(np.prod(src_shape[1:])))[None]
    co, cig = syn.weight.shape[:2]
    rows = (np.arange(co) // (co // syn.groups))[:, None] * cig + np.arange(cig)[None, :]
    return m[rows].reshape(co, cig, *([1] * (syn.weight.ndim - 2)))


def _col(k: np.ndarray, ndim: int) -> np.ndarray:
    """A per-output-channel array as ``[C, 1, ...]`` for a rank-``ndim`` array."""
    return np.asarray(k, np.float64).reshape(-1, *([1] * (ndim - 1)))


class Quantiser:
    """The float network, the message scale of every source quantised so far and each
    population's pipeline stage."""

    def __init__(self, paths: Paths, input_scale: float) -> None:
        self.paths, self.stages = paths, paths.stages()
        self.m: dict[str, Scale] = {paths.input: input_scale}

    def shape(self, name: str) -> tuple[int, ...]:
        p = self.paths
        return p.input_shape if name == p.input else p.populations[name].shape

    def incoming(self, name: str, theta: np.ndarray) -> list[tuple[Synapse, np.ndarray, Scale]]:
        """``(synapse, W / θ per output channel, message scale per entry)`` into ``name``."""
        out = []
        for s in self.paths.into(name):
            m = message_scale(s, self.m[s.src], self.shape(s.src))
            out.append((s, s.weight / _col(theta, s.weight.ndim), m))
        return out

    def scale(self, incoming: list, cap: np.ndarray) -> np.ndarray:
        """Per output channel the largest integer ``K`` (at most ``cap``) with every
        ``round(K·W̃/m)`` within 8 bits; the source's message scale, exactly, through an exact
        synapse (after a max pool, into a delay relay)."""
        k = np.asarray(cap, np.float64).copy()
        for s, w, m in incoming:
            per = np.broadcast_to(m, w.shape).reshape(len(w), -1)
            if s.exact:  # the source's scale on the entries that carry it
                live = np.abs(w).reshape(len(w), -1) > 0
                k = np.minimum(k, np.where(live, per, np.inf).min(1))
                continue
            size = np.abs(w).reshape(len(w), -1)  # in place below: one temporary less each
            np.maximum(size, 1e-30, out=size)
            ratio = WEIGHT_MAX * per
            ratio /= size
            k = np.minimum(k, np.floor(ratio.min(1) * (1 + SLACK)))
        return np.maximum(k, 1.0)

    def synapses(
        self, incoming: list, k: np.ndarray
    ) -> tuple[list[Synapse], dict[str, dict[str, float]]]:
        """Integer synapses ``round(K·W̃/m)`` (exact ones as they are) with their errors."""
        out, report = [], {}
        for s, w, m in incoming:
            q = np.asarray(s.weight, np.float64) if s.exact else _rounded(_col(k, w.ndim), w, m)
            err = 0.0 if s.exact else _error(q, m, _col(k, w.ndim), w)
            levels = int(max(q.max(), -q.min()))
            out.append(replace(s, weight=q.astype(np.int64)))
            report[s.name] = {"weight": err, "levels": levels}
        return out, report


def _rounded(k: np.ndarray, w: np.ndarray, m: Scale) -> np.ndarray:
    """``round(K·W̃/m)``, computed in place (the same operations, one array)."""
    q = k * w
    q /= m
    return np.rint(q, out=q)


def _error(q: np.ndarray, m: Scale, k: np.ndarray, w: np.ndarray) -> float:
    """``rms(q·m/K − W̃) / rms(W̃)``, computed in place (the same operations, one array)."""
    back = q * m
    back /= k
    back -= w
    ref = float(np.sqrt(np.mean(np.square(w)))) or 1.0
    return float(np.sqrt(np.mean(np.square(back, out=back)))) / ref


Mapped = tuple[Neuron, list[Synapse], dict[str, Any], Scale]
FORMS: Registry[Quantiser, Mapped] = Registry("lava-graded")
"""The graded form of each neuron class; a class without one is refused by name."""


def _graded(
    q: Quantiser, pop: Population, theta: np.ndarray, v0: np.ndarray, burst: int, negative: int
) -> Mapped:
    """A ``GradedIF`` population (see the module docstring); its messages are counts."""
    n = len(theta)
    b = pop.bias / _col(theta, pop.bias.ndim)
    incoming = q.incoming(pop.name, theta)
    reach = np.abs(b).reshape(n, -1).max(1) + np.abs(v0)
    k = q.scale(incoming, np.minimum(K_MAX, RELAY_BURST / 4 / np.maximum(reach, 1e-30)))
    if not incoming:
        raise PassError(f"{pop.name}: a population without synapses")  # graded_problems
    syns, report = q.synapses(incoming, k)
    bq = np.rint(_col(k, b.ndim) * b).astype(np.int64)
    neuron = Neuron(
        "graded", vth=k.astype(np.int64), bias=bq, v=np.rint(k * v0).astype(np.int64),
        max_spikes=burst, negative=negative, start=q.stages[pop.name],
    )  # fmt: skip
    errors = {"bias": bias_error(b, bq, 1 / _col(k, b.ndim)), "threshold": 0.0, "decay": 0.0}
    return neuron, syns, facts(pop.node, neuron, k, report, errors), 1.0


def _folded(q: Quantiser, pop: Population) -> tuple[np.ndarray, np.ndarray]:
    """``(θ, v₀ in θ units)`` of a neuron: nothing moved when a relay took them over."""
    n = pop.shape[0]
    relay = [r for r in q.paths.populations.values() if r.feeds == pop.name]
    if relay:
        return np.ones(n), np.zeros(n)
    theta = channels(pop.node.v_threshold, n)
    return theta, channels(pop.node.v_init, n) / theta


@FORMS.register(ir.SignedIF)
def _signed(name: str, node: ir.SignedIF, q: Quantiser) -> Mapped:
    pop = q.paths.populations[name]
    return _graded(q, pop, *_folded(q, pop), node.max_spikes, 1)


@FORMS.register(ir.IF)
def _if(name: str, node: ir.IF, q: Quantiser) -> Mapped:
    if node.reset_mode != "soft":
        raise PassError(f"{name}: hard reset has no graded form (use --neuron cuba)")
    pop = q.paths.populations[name]
    return _graded(q, pop, *_folded(q, pop), 1, 0)


@FORMS.register(ir.Readout)
def _readout(name: str, node: ir.Readout, q: Quantiser) -> Mapped:
    """A Lava ``Sigma`` with one scale for every class; the bias is added at the read."""
    pop = q.paths.populations[name]
    incoming = q.incoming(name, np.ones(pop.shape[0]))
    incoming = [(replace(s, exact=False), w, m) for s, w, m in incoming]
    k = float(q.scale(incoming, np.full(pop.shape[0], float(K_MAX))).min())
    syns, report = q.synapses(incoming, np.full(pop.shape[0], k))
    bq = np.rint(k * pop.bias).astype(np.int64)
    neuron = Neuron("sigma", step_bias=bq)
    errors = {"bias": bias_error(pop.bias, bq, 1 / k), "threshold": 0.0, "decay": 0.0}
    return neuron, syns, facts(node, neuron, k, report, errors), k


def _relay(q: Quantiser, pop: Population) -> Mapped:
    """A relay holding a pool's input in the units of the neuron it feeds (its threshold
    and initial membrane moved here), sending its value per step exactly."""
    n = pop.shape[0]
    target = q.paths.populations.get(pop.feeds or "")
    if pop.padded and target is None:
        raise PassError(f"{pop.name}: a padded max pool must feed one neuron alone on Loihi 2")
    theta, v0 = np.ones(n), np.zeros(n)
    if target is not None and target.node.spiking:
        theta = channels(target.node.v_threshold, n)
        v0 = channels(target.node.v_init, n) / theta
    neuron, syns, fact, _ = _graded(q, pop, theta, v0, RELAY_BURST, 2)
    k = np.asarray(neuron.vth, np.float64)  # its messages: the value in K_c units
    return replace(neuron, vth=np.ones(n, np.int64)), syns, {**fact, "vth": 1}, k


def _max_level(q: Quantiser, pop: Population) -> Mapped:
    """A ReLU tree level: Lava's ``SigmaDelta``, threshold 0, exponents 0, no bias."""
    (syn,) = q.paths.into(pop.name)
    pooled_channels = pop.shape[0] // pop.group
    pooled = np.broadcast_to(np.asarray(q.m[syn.src], np.float64), (q.shape(syn.src)[0],))
    pooled = pooled.reshape(pooled_channels, -1)[:, 0]
    neuron = Neuron("sdnn", vth=0, bias=np.zeros(1, np.int64), spike_exp=0, state_exp=0)
    m = np.repeat(pooled, pop.group)
    report = {syn.name: {"weight": 0.0, "levels": int(np.abs(syn.weight).max())}}
    errors = {"bias": 0.0, "threshold": 0.0, "decay": 0.0}
    fact = facts(pop.node, neuron, m, report, errors)
    return neuron, [replace(syn, weight=np.asarray(syn.weight, np.int64))], fact, m


def graded_problems(paths: Paths) -> list[str]:
    """What keeps ``paths`` from its graded form, every population named: a neuron with no
    graded form, a population no synapse feeds, a padded max pool read by more than one
    neuron. Structural only (no weight is read), so :func:`~..build.check_loihi` finds it on
    the uncalibrated network before the real conversion."""
    found = []
    for name, pop in paths.populations.items():
        if pop.role == "neuron" and FORMS.get(pop.node) is None:
            found.append(f"{name}: {pop.node.op} has no graded Loihi form (use --neuron cuba)")
        elif pop.role in ("neuron", "relay") and not paths.into(name):
            found.append(f"{name}: a population without synapses")
        elif pop.role == "relay" and pop.padded and pop.feeds not in paths.populations:
            found.append(f"{name}: a padded max pool must feed one neuron alone on Loihi 2")
    return found


def quantize_graded(paths: Paths, input_scale: float) -> LoihiNet:
    """Quantise a balanced ``paths`` for ``GradedIF`` neurons (the module docstring);
    ``input_scale`` maps the input to integer messages."""
    refused = graded_problems(paths)
    if refused:
        raise PassError("; ".join(refused))
    q = Quantiser(paths, input_scale)
    neurons, synapses, report = {}, [], {}
    for name, pop in paths.populations.items():
        if pop.role == "max":
            mapped = _max_level(q, pop)
        elif pop.role == "relay":
            mapped = _relay(q, pop)
        else:
            mapped = FORMS.get(pop.node).emit(name, pop.node, q)
        neurons[name], syns, report[name], q.m[name] = mapped
        synapses += syns
    return LoihiNet.of(paths, input_scale, neurons, synapses, report)
