"""The quantisation core every Loihi neuron mapping shares (:mod:`.cuba`,
:mod:`.sigma_delta`): weights normalised per output channel, one state scale per population
that every synapse into it fits in 8 bits with, integer synapses and the per-population
facts (:attr:`~..network.LoihiNet.facts`).

For a population with incoming synapses ``W_k`` (already divided by the neuron's threshold
per output channel, :func:`normalised`) from sources sending messages ``m_k`` per unit::

    K = min(min_k 127·m_k / max|W_k|,  bounds)      (:func:`population_scale`)
    W_q = round(K·W_k / m_k)                         (:func:`quantize_synapses`)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ....ir import nodes as ir
from ..network import Neuron, Synapse

WEIGHT_MAX = 127


def channels(value: Any, n: int) -> np.ndarray:
    """A scalar or per-channel value as ``n`` floats."""
    arr = np.asarray(value, np.float64).reshape(-1)
    return np.broadcast_to(arr, (n,)) if arr.size > 1 else np.full(n, float(arr[0]))


def normalised(w: np.ndarray, div: np.ndarray) -> np.ndarray:
    """``w / div`` with one divisor per output channel (axis 0; float64)."""
    return np.asarray(w, np.float64) / div.reshape((-1,) + (1,) * (np.ndim(w) - 1))


def quantize_weights(w: np.ndarray, scale: float | np.ndarray) -> tuple[np.ndarray, float]:
    """``(round(w·scale) as int64, relative RMS error)``; ``scale`` is a scalar or one
    value per output channel (axis 0)."""
    s = np.asarray(scale, np.float64)
    s = s.reshape((-1,) + (1,) * (np.ndim(w) - 1)) if s.ndim else s
    q = np.rint(np.asarray(w, np.float64) * s)
    ref = float(np.sqrt(np.mean(np.square(w)))) or 1.0
    err = float(np.sqrt(np.mean(np.square(q / s - w)))) / ref
    return q.astype(np.int64), err


@dataclass(frozen=True)
class Incoming:
    """A synapse as its population's quantiser sees it: weights in units of the neuron's
    threshold, the message scale ``m`` of its source and the bound of its values."""

    syn: Synapse
    w: np.ndarray
    m: float
    bound: float


def population_scale(incoming: list[Incoming], bounds: list[float]) -> float:
    """The largest state scale ``K`` every synapse fits in 8 bits with, and ``bounds``."""
    fit = [WEIGHT_MAX * i.m / max(float(np.abs(i.w).max()), 1e-30) for i in incoming]
    return min(fit + bounds)


def quantize_synapses(
    incoming: list[Incoming], k: float | np.ndarray, min_levels: int = 1
) -> tuple[list[Synapse], dict[str, dict[str, float]]]:
    """Integer synapses ``round(K·W̃/m)`` (``K`` a scalar or one per output channel) and
    each one's error and levels; raises ``ValueError`` when the largest weight gets fewer
    than ``min_levels`` levels."""
    out, report = [], {}
    for i in incoming:
        wq, err = quantize_weights(i.w, np.asarray(k, np.float64) / i.m)
        out.append(replace(i.syn, weight=wq))
        report[i.syn.name] = {"weight": err, "levels": int(np.abs(wq).max())}
    levels = max(r["levels"] for r in report.values())
    if levels < min_levels:
        raise ValueError(
            f"weights do not fit: the bias, threshold or readout range leave {levels} levels"
        )
    return out, report


def facts(
    node: ir.Node,
    neuron: Neuron,
    k: float | np.ndarray,
    synapses: dict[str, dict[str, float]],
    errors: dict[str, float],
) -> dict[str, Any]:
    """One population's entry of :attr:`LoihiNet.facts` (the same for every model)."""
    scale = np.asarray(k, np.float64)
    return {
        "neuron": node.op,
        "model": neuron.model,
        "vth": int(np.max(neuron.vth)),
        "du": int(neuron.du),
        "dv": int(neuron.dv),
        "scale": float(scale.min()),
        "synapses": synapses,
        "error": {"weight": max(s["weight"] for s in synapses.values()), **errors},
    }


def bias_error(b: np.ndarray, bq: np.ndarray, unit: float | np.ndarray) -> float:
    """Relative RMS error of the integer bias ``bq`` in units of ``unit``."""
    ref = float(np.sqrt(np.mean(np.square(b))))
    return 0.0 if ref == 0 else float(np.sqrt(np.mean(np.square(bq * unit - b)))) / ref
