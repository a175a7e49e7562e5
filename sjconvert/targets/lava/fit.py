"""Loihi 2 fit report for a NetX HDF5 network (read with h5py alone).

Per layer: neurons, synapses (connections), stored weights, fan-in, fan-out, weight bits,
and the neuro-cores it needs under the per-core limits below; layers that exceed a core are
named with what would make them fit (splitting over cores, lower weight precision).

Limits (``docs/lava.md``, "Loihi 2 fit report"): Intel's Loihi 2 brief (2021) gives 128
neuro-cores, up to 1 M neurons and 120 M synapses per chip; spread evenly that is
``NEURONS_PER_CORE = 2^20 / 128 = 8192`` neurons and ``SYNAPSES_PER_CORE = 120 M / 128``
synapses at 8-bit weights per core. Synaptic memory is taken as ``SYNAPSES_PER_CORE · 8``
bits, so a layer with fewer weight bits fits more synapses. Connections are counted
without weight sharing (a convolution stores one synapse per connection), the
conservative reading.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .netx_check import NetxLayer, read_netx

CORES_PER_CHIP = 128
NEURONS_PER_CORE = (1 << 20) // CORES_PER_CHIP
SYNAPSES_PER_CORE = 120_000_000 // CORES_PER_CHIP
SYNAPSE_BITS_PER_CORE = SYNAPSES_PER_CORE * 8


@dataclass
class LayerFit:
    index: int
    kind: str
    neuron: str
    neurons: int
    synapses: int
    weights: int
    fan_in: int
    fan_out: int
    weight_bits: int
    cores: int
    limit: str  # what sets the core count: "neurons", "synapses" or ""
    advice: str


def weight_bits(w: np.ndarray) -> int:
    """Signed bits the integer mantissas need: ``⌈log2(max|w| + 1)⌉ + 1``."""
    m = float(np.max(np.abs(w))) if w.size else 0.0
    return max(1, math.ceil(math.log2(m + 1)) + 1)


def _geometry(layer: NetxLayer) -> tuple[int, int, int]:
    """(neurons, fan-in, fan-out) of a checked layer."""
    w = layer.weight
    if layer.kind == "dense":
        return math.prod(layer.shape), w.shape[1], w.shape[0]
    spread = w.shape[0] / layer.groups * math.prod(w.shape[2:]) / math.prod(layer.stride)
    return math.prod(layer.shape), math.prod(w.shape[1:]), math.ceil(spread)


def fit_report(path: str | os.PathLike[str]) -> list[LayerFit]:
    """The per-layer fit of the NetX file at ``path`` (see the module docstring), read
    through the validation step :func:`.netx_check.read_netx`."""
    rows = []
    for layer in read_netx(path):
        neurons, fan_in, fan_out = _geometry(layer)
        synapses = neurons * fan_in
        bits = weight_bits(layer.weight)
        by_neurons = math.ceil(neurons / NEURONS_PER_CORE)
        by_synapses = math.ceil(synapses * bits / SYNAPSE_BITS_PER_CORE)
        cores = max(by_neurons, by_synapses, 1)
        limit = "" if cores == 1 else ("neurons" if by_neurons >= by_synapses else "synapses")
        rows.append(
            LayerFit(
                layer.index,
                layer.kind,
                layer.neuron,
                neurons,
                synapses,
                int(layer.weight.size),
                fan_in,
                fan_out,
                bits,
                cores,
                limit,
                _advice(cores, limit, synapses, bits),
            )
        )
    return rows


def _advice(cores: int, limit: str, synapses: int, bits: int) -> str:
    if cores == 1:
        return ""
    text = f"split over {cores} neuro-cores"
    if limit == "synapses" and bits > 1:
        lower = max(1, bits // 2)
        fewer = max(1, math.ceil(synapses * lower / SYNAPSE_BITS_PER_CORE))
        text += f", or {fewer} with {lower}-bit weights"
    if cores > CORES_PER_CHIP:
        text += f"; more than one chip ({math.ceil(cores / CORES_PER_CHIP)} chips)"
    return text


def summary(rows: list[LayerFit]) -> dict[str, Any]:
    cores = sum(r.cores for r in rows)
    return {
        "layers": [asdict(r) for r in rows],
        "cores": cores,
        "chips": math.ceil(cores / CORES_PER_CHIP),
        "limits": {
            "cores_per_chip": CORES_PER_CHIP,
            "neurons_per_core": NEURONS_PER_CORE,
            "synapses_per_core_8bit": SYNAPSES_PER_CORE,
            "source": "Intel Loihi 2 brief (2021): 128 cores, 1 M neurons, 120 M synapses/chip",
        },
        "exceeding": [r.index for r in rows if r.cores > 1],
    }
