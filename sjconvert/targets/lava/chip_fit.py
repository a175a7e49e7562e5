"""Loihi 2 fit report for a network written by ``to-lava``: a NetX HDF5 file (read with h5py
alone) or a process-graph artifact (``.lpg.npz``, numpy alone).

Per population (NetX: per layer): neurons, synapses (connections), fan-in, fan-out, weight
bits, and the neuro-cores it needs under the per-core limits below; populations that exceed
a core are named with what would make them fit (splitting over cores, lower weight
precision). In a process graph a population's fan-in sums every synapse into it — residual
skips and concatenated parts included — and its fan-out every synapse reading it.

Limits (``docs/lava.md``, "Loihi 2 fit report"): Intel's Loihi 2 brief (2021) gives 128
neuro-cores, up to 1 M neurons and 120 M synapses per chip; spread evenly that is
``NEURONS_PER_CORE = 2^20 / 128 = 8192`` neurons and ``SYNAPSES_PER_CORE = 120 M / 128``
synapses at 8-bit weights per core. Synaptic memory is taken as ``SYNAPSES_PER_CORE · 8``
bits, so a population with fewer weight bits fits more synapses. Connections are counted
without weight sharing (a convolution stores one synapse per connection, a dense matrix
every entry), the conservative reading.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .fixed_point.procgraph_reader import read_procgraph
from .fixed_point.synapse_models import synaptic_delay
from .formats.netx_reader import read_netx
from .formats.procgraph import ProcGraph

CORES_PER_CHIP = 128
NEURONS_PER_CORE = (1 << 20) // CORES_PER_CHIP
SYNAPSES_PER_CORE = 120_000_000 // CORES_PER_CHIP
SYNAPSE_BITS_PER_CORE = SYNAPSES_PER_CORE * 8


@dataclass
class LayerFit:
    name: str
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
    ours: bool = False  # its neuron process, or a synapse into it, is sjconvert's
    delay: int = 0  # the longest synaptic delay into it (steps)


def weight_bits(w: np.ndarray) -> int:
    """Signed bits the integer mantissas need: ``⌈log2(max|w| + 1)⌉ + 1``."""
    m = float(np.max(np.abs(w))) if w.size else 0.0
    return max(1, math.ceil(math.log2(m + 1)) + 1)


def _conv_fan(w: np.ndarray, groups: int, stride: np.ndarray) -> tuple[int, int]:
    """``(fan-in, fan-out)`` of a convolution with kernel ``[C_out, C_in/g, *k]``."""
    k = math.prod(w.shape[2:])
    fan_out = math.ceil(w.shape[0] / groups * k / float(np.prod(stride)))
    return w.shape[1] * k, fan_out


def _row(
    name: str, kind: str, neuron: str, neurons: int, fan: tuple[int, int], ws: list[np.ndarray]
) -> LayerFit:
    fan_in, fan_out = fan
    synapses = neurons * fan_in
    bits = max((weight_bits(w) for w in ws), default=1)
    by_neurons = math.ceil(neurons / NEURONS_PER_CORE)
    by_synapses = math.ceil(synapses * bits / SYNAPSE_BITS_PER_CORE)
    cores = max(by_neurons, by_synapses, 1)
    limit = "" if cores == 1 else ("neurons" if by_neurons >= by_synapses else "synapses")
    size = sum(int(w.size) for w in ws)
    advice = _advice(cores, limit, synapses, bits)
    return LayerFit(
        name, kind, neuron, neurons, synapses, size, fan_in, fan_out, bits, cores, limit, advice
    )


def _netx_rows(path: str | os.PathLike[str]) -> list[LayerFit]:
    """Rows of a NetX file, read through its validation step :func:`.netx_check.read_netx`."""
    rows = []
    for layer in read_netx(path):
        w = layer.weight
        if layer.kind == "dense":
            fan = (w.shape[1], w.shape[0])
        else:
            fan = _conv_fan(w, layer.groups, np.asarray(layer.stride))
        neurons = math.prod(layer.shape)
        rows.append(_row(str(layer.index), layer.kind, layer.neuron, neurons, fan, [w]))
    return rows


def _synapse_fan(pg: ProcGraph, spec: dict[str, Any]) -> tuple[int, int, np.ndarray]:
    args = spec["args"]
    if spec["class"] in ("Dense", "DelayDense"):
        w = np.asarray(pg.array(args["weights"]), np.int64)
        if args.get("weight_exp") == -1:  # the exact 2m encoding: mantissas m
            w = w // 2
        return w.shape[1], w.shape[0], w
    w = np.asarray(pg.array(args["weight"]))
    w = w.transpose(0, 3, 1, 2)  # (C_out, kx, ky, C_in/g) → [C_out, C_in/g, kx, ky]
    fan_in, fan_out = _conv_fan(w, int(args.get("groups", 1)), np.asarray(args["stride"]))
    return fan_in, fan_out, w


def _procgraph_rows(pg: ProcGraph) -> list[LayerFit]:
    source, into = pg.wiring()
    fans = {s: _synapse_fan(pg, pg.processes[s]) for s in source}
    table = pg.process_table()
    rows = []
    for name in pg.populations():
        syns = into[name]
        fan_in = sum(fans[s][0] for s in syns)
        fan_out = sum(fans[s][1] for s, src in source.items() if src == name)
        kinds = "+".join(pg.processes[s]["class"].lower() for s in syns)
        neurons = math.prod(pg.processes[name]["args"]["shape"])
        ws = [fans[s][2] for s in syns]
        row = _row(name, kinds, pg.processes[name]["class"], neurons, (fan_in, fan_out), ws)
        row.ours = table[name]["ours"] or table[name]["ours_synapses"]
        row.delay = max((synaptic_delay(pg.processes[s]["args"]) for s in syns), default=0)
        rows.append(row)
    return rows


def fit_report(path: str | os.PathLike[str]) -> list[LayerFit]:
    """The per-population fit of the network at ``path`` (see the module docstring): a
    process graph (an ``.npz`` zip, whatever its name) or a NetX file."""
    return _procgraph_rows(read_procgraph(path)) if _is_zip(path) else _netx_rows(path)


def latency(path: str | os.PathLike[str]) -> int | None:
    """The latency a process graph records (None for NetX, which records none)."""
    return read_procgraph(path).latency if _is_zip(path) else None


def _is_zip(path: str | os.PathLike[str]) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return Path(path).suffix == ".npz"  # the reader names what is wrong


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


def summary(rows: list[LayerFit], steps: int | None = None) -> dict[str, Any]:
    """The report: rows, cores and chips, the limits used, the populations over one core,
    which run a process of ours, and the latency (``steps``) where the file records it."""
    cores = sum(r.cores for r in rows)
    return {
        "latency": steps,
        "ours": [r.name for r in rows if r.ours],
        "layers": [asdict(r) for r in rows],
        "cores": cores,
        "chips": math.ceil(cores / CORES_PER_CHIP),
        "limits": {
            "cores_per_chip": CORES_PER_CHIP,
            "neurons_per_core": NEURONS_PER_CORE,
            "synapses_per_core_8bit": SYNAPSES_PER_CORE,
            "source": "Intel Loihi 2 brief (2021): 128 cores, 1 M neurons, 120 M synapses/chip",
        },
        "exceeding": [r.name for r in rows if r.cores > 1],
    }
