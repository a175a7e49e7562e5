"""The backends of :func:`sjconvert.parity`, each a small adapter over its target's own
functions: prepared once from the spiking graph and T, then run batch by batch.

A runner takes a direct input ``x`` ``[N, ...]`` and returns the rates ``[N, classes]`` after
T steps and the spikes per sample ``[N]`` of each neuron layer (None where the executor does
not report them). A backend that cannot run here raises :class:`Skipped` (a package or a
device is missing); one that cannot express the graph raises the target's own
:class:`~sjconvert.errors.UnsupportedOpError` / :class:`~sjconvert.errors.EmitError`.
"""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import EmitError, InputError
from ..exec.module import SpikingNet
from ..exec.parity import train_events
from ..exec.reference import SimResult, Simulator
from ..ir.graph import Graph
from ..targets.cupy import to_cupy
from ..targets.lava.build import predict_fixed_point, to_loihi
from ..targets.lava.fixed_point.simulator import Trace
from ..targets.lava.fixed_point.simulator import simulate as simulate_fixed_point
from ..targets.lava.running.launcher import lava_python, run_lava
from ..targets.lynxi import to_lynxi, torch_dtype
from ..targets.nir import read as read_nir
from ..targets.nir import write as write_nir

Counts = dict[str, np.ndarray] | None
Runner = Callable[[np.ndarray], tuple[np.ndarray, Counts]]


class Skipped(Exception):
    """The backend cannot run here; the message says what is missing."""


def needs(extra: str, *packages: str) -> None:
    """Raise :class:`Skipped` naming the packages of ``extra`` that cannot be imported."""
    missing = [p for p in packages if importlib.util.find_spec(p) is None]
    if missing:
        raise Skipped(f"needs {', '.join(missing)}: pip install 'sjconvert[{extra}]'")


def _result(res: SimResult) -> tuple[np.ndarray, Counts]:
    return res.output[-1].numpy(), {k: v.numpy() for k, v in res.counts.items()}


def reference(snn: Graph, T: int) -> Runner:
    """The torch reference simulator itself."""
    sim = Simulator(snn)
    return lambda x: _result(sim.run(torch.from_numpy(x), T=T, keep=(T,)))


def arrays(backend: str) -> Callable[[Graph, int], Runner]:
    """The cupy target's simulation graph over NumPy (CPU) or CuPy (a CUDA GPU) arrays."""

    def prepare(snn: Graph, T: int) -> Runner:
        try:
            sim = to_cupy(snn, backend)
        except InputError as exc:  # CuPy or a CUDA device missing
            raise Skipped(str(exc)) from None
        return lambda x: _result(sim.run(x, T=T, keep=(T,)))

    return prepare


def onnx_unrolled(snn: Graph, T: int) -> Runner:
    """The T-unrolled ONNX model (float32) in ONNX Runtime."""
    needs("onnx", "onnx", "onnxruntime")
    from ..targets.onnx.export import export_unrolled
    from ..targets.onnx.runtime import run_unrolled, session

    sess = session(export_unrolled(snn, T, counts=True))
    return lambda x: run_unrolled(sess, x)


def onnx_step(snn: Graph, T: int) -> Runner:
    """The stateful single-step ONNX model run T times in ONNX Runtime."""
    needs("onnx", "onnx", "onnxruntime")
    from ..targets.onnx.export import export_step
    from ..targets.onnx.runtime import run_steps, session

    model = export_step(snn, counts=True)
    sess = session(model)

    def run(x: np.ndarray) -> tuple[np.ndarray, Counts]:
        rates, trains = run_steps(sess, model, x, T)
        return rates[-1], train_events(trains)

    return run


def lynxi(dtype: str) -> Callable[[Graph, int], Runner]:
    """The Lynxi module (checked: rank ≤ 4, no in-place op) run in torch, with its spike
    count outputs."""

    def prepare(snn: Graph, T: int) -> Runner:
        to_lynxi(snn, T, dtype)  # refuses what Lynxi's compiler cannot take
        net = SpikingNet(snn, T, torch_dtype(dtype), counts=True).eval()
        layers = net.neurons

        def run(x: np.ndarray) -> tuple[np.ndarray, Counts]:
            with torch.no_grad():
                out = net(torch.from_numpy(x).to(torch_dtype(dtype)))
            outs = out if isinstance(out, tuple) else (out,)
            counts = {k: c.float().numpy() for k, c in zip(layers, outs[1:], strict=True)}
            return outs[0].float().numpy(), counts

        return run

    return prepare


def lynxi_onnx(dtype: str) -> Callable[[Graph, int], Runner]:
    """The Lynxi module exported to ONNX (as ``to-lynxi`` writes it) in ONNX Runtime."""

    def prepare(snn: Graph, T: int) -> Runner:
        needs("onnx", "onnx", "onnxruntime")
        from ..targets.onnx.export import export_unrolled
        from ..targets.onnx.runtime import run_unrolled, session

        to_lynxi(snn, T, dtype)
        model = export_unrolled(snn, T, dtype=dtype, counts=True)
        sess = session(model)
        return lambda x: run_unrolled(sess, x)

    return prepare


def nir_round_trip(snn: Graph, T: int) -> Runner:
    """Export to NIR, write the file, read it back and simulate the imported graph."""
    with tempfile.TemporaryDirectory() as tmp:
        graph = read_nir(write_nir(Path(tmp) / "net.nir", snn))
    sim = Simulator(graph)
    return lambda x: _result(sim.run(torch.from_numpy(x), T=T, keep=(T,)))


class Loihi:
    """The spiking graph quantised and lowered for Loihi 2 (as ``to-lava`` does), run in our
    bit-accurate fixed-point simulator and, on the first samples, in Lava's own simulator
    (through the Lava environment)."""

    def __init__(self, snn: Graph, T: int, x_max: float) -> None:
        self.T = T
        self.exp = to_loihi(snn, T, x_max=x_max)
        self.graph = self.exp.graph

    def messages(self, x: np.ndarray) -> np.ndarray:
        """Float input ``[N, ...]`` as the ``[T, N, ...]`` integer messages the source sends."""
        return self.graph.schedule(self.graph.encode(x))

    def predictions(self, x: np.ndarray) -> np.ndarray:
        """Classes from the fixed-point simulation."""
        return predict_fixed_point(self.exp, x)

    def fixed_point(self, x: np.ndarray) -> Trace:
        return simulate_fixed_point(self.graph, self.messages(x))

    def lava(self, x: np.ndarray) -> Trace:
        """Lava's fixed-point simulation of the written network, or :class:`Skipped`."""
        try:
            lava_python()
        except EmitError as exc:
            raise Skipped(str(exc)) from None
        name = "net.lpg.npz" if self.exp.format == "procgraph" else "net.net"
        with tempfile.TemporaryDirectory() as tmp:
            path = self.exp.write(Path(tmp) / name)[0]
            return run_lava(path, self.messages(x), self.graph.populations())


def message_counts(res: Any) -> dict[str, np.ndarray]:
    """Events per sample ``[N]`` of each Loihi layer (spikes, or graded sigma-delta messages
    by magnitude) from its rasters ``[T, N, ...]``, counted as every executor counts them."""
    return train_events({k: np.asarray(v) for k, v in res.spikes.items()})


def runners(lynxi_dtype: str = "float32") -> dict[str, Callable[[Graph, int], Runner]]:
    """Every backend compared with the torch reference through rates and spike counts, by
    name (the Lynxi module and its ONNX in ``lynxi_dtype``)."""
    return {
        "torch": reference,
        "numpy": arrays("numpy"),
        "cupy": arrays("cupy"),
        "onnx-unrolled": onnx_unrolled,
        "onnx-step": onnx_step,
        "lynxi": lynxi(lynxi_dtype),
        "lynxi-onnx": lynxi_onnx(lynxi_dtype),
        "nir": nir_round_trip,
    }
