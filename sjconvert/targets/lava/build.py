"""Build a Loihi 2 network from a spiking graph: lower, quantise and emit it
(:func:`to_loihi`) and write it (:meth:`LoihiExport.write`); the CUBA threshold factor
chosen on data (:func:`choose_alpha`); predictions of our fixed-point simulator
(:func:`predict_fixed_point`)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...errors import EmitError, InputError, PassError, UnsupportedOpError
from ...exec.reference import Simulator
from ...ir.files import atomic_write
from ...ir.graph import Graph
from .fixed_point.simulator import simulate
from .formats import procgraph_loader, procgraph_processes
from .formats.emit_procgraph import procgraph
from .formats.netx_writer import chain_problems, write_netx
from .formats.procgraph import ProcGraph
from .lowering.pipeline import amplify, balance
from .lowering.populations import lower
from .network import LoihiNet, Paths
from .quantising.cuba import quantize_cuba
from .quantising.graded import FORMS as GRADED
from .quantising.graded import graded_problems, quantize_graded
from .quantising.sigma_delta import NETX_SPIKE_EXP, quantize_sdnn
from .threshold_factor import AlphaChoice, soft_reset, tune_alpha

INPUT_MAX = 127  # graded input messages: 8-bit signed
NEURON_MODELS = ("auto", "graded", "cuba", "sdnn")
FORMATS = ("auto", "netx", "procgraph")
LOADER = Path(procgraph_loader.__file__)
STANDALONE = (LOADER, Path(procgraph_processes.__file__))  # written beside every artifact
CHUNK = 256  # samples per fixed-point batch


def choose_model(snn: Graph) -> str:
    """``graded`` (our ``GradedIF``, exact) when every neuron has a graded form — the signed
    and soft-reset IF neurons of ANN conversions —, else ``cuba`` (SpikingJelly-trained
    SNNs: hard-reset IF, LIF)."""
    neurons = [node for _, node in snn if node.spiking and node.stateful]
    graded = all(GRADED.get(n) is not None and n.reset_mode == "soft" for n in neurons)
    return "graded" if graded else "cuba"


@dataclass(frozen=True)
class LoihiExport:
    """A quantised network, the process graph that runs it (the artifact itself, or the
    graph NetX builds from our NetX file), its file format and time steps."""

    net: LoihiNet
    graph: ProcGraph
    format: str
    steps: int

    def write(self, path: str | os.PathLike[str]) -> list[Path]:
        """Write the network to ``path`` (NetX HDF5, or the ``.lpg.npz`` artifact with the
        standalone loader ``procgraph_loader.py`` and our processes
        ``procgraph_processes.py`` beside it), each file atomically; returns the files. An
        error or interrupt removes the helper files this call created."""
        path = Path(path)
        if self.format == "netx":
            return [write_netx(self.net, path)]
        made: list[Path] = []
        try:
            for src in STANDALONE:
                dst = path.parent / src.name
                if not dst.exists():
                    made.append(dst)
                atomic_write(dst, lambda tmp, src=src: shutil.copyfile(src, tmp))
            atomic_write(path, self.graph.save, suffix=".npz")
        except BaseException:
            for f in made:
                f.unlink(missing_ok=True)
            raise
        return [path, *(path.parent / src.name for src in STANDALONE)]


def _timed(paths: Paths) -> Paths:
    """``paths`` with its latency: the synapses on its longest path (not balanced)."""
    return replace(paths, latency=paths.stages()[paths.output])


def _quantise(
    paths: Paths, model: str, steps: int, x_max: float, netx: bool, **cuba: Any
) -> LoihiNet:
    scale = INPUT_MAX / x_max
    if model == "sdnn":
        return quantize_sdnn(paths, scale, spike_exp=NETX_SPIKE_EXP if netx else 0)
    return quantize_cuba(paths, scale, steps, x_max, **cuba)


def check_loihi(snn: Graph, model: str = "auto") -> tuple[str, int]:
    """``(mapping, latency)`` ``snn`` gets on Loihi 2, from lowering (and balancing) alone,
    nothing quantised: a second for any network. Raises
    :class:`~sjconvert.errors.UnsupportedOpError` / :class:`~sjconvert.errors.PassError`
    naming what Loihi 2 cannot run."""
    if model not in NEURON_MODELS:
        raise InputError(f"neuron model must be one of {NEURON_MODELS}, got {model!r}")
    paths = lower(snn)
    model = choose_model(snn) if model == "auto" else model
    if model == "graded":
        refused = graded_problems(paths)
        if refused:
            raise PassError("; ".join(refused))
        return model, balance(amplify(paths)).latency
    pools = [p.node.op for p in paths.populations.values() if p.role == "relay"]
    if pools:
        raise UnsupportedOpError(
            f"max pooling ({len(pools)} pool(s)) runs on Loihi 2 with the graded neurons only "
            f"(--neuron auto or graded), not --neuron {model}"
        )
    return model, _timed(paths).latency


def to_loihi(
    snn: Graph,
    steps: int,
    x_max: float = 1.0,
    reset: str = "hard",
    model: str = "auto",
    fmt: str = "auto",
    alpha: float = 1.0,
) -> LoihiExport:
    """Lower ``snn`` to populations and synapses, quantise (input ``|x| <= x_max`` →
    ``[-127, 127]``) for CUBA or sigma-delta neurons (``model``; ``auto``:
    :func:`choose_model`) and emit it as NetX (``fmt``; a chain only) or a process graph
    (``auto``: NetX when the network is a NetX chain)."""
    if model not in NEURON_MODELS:
        raise InputError(f"neuron model must be one of {NEURON_MODELS}, got {model!r}")
    if fmt not in FORMATS:
        raise InputError(f"format must be one of {FORMATS}, got {fmt!r}")
    if x_max <= 0:
        raise InputError(f"the input range must be positive, got max |x| = {x_max}")
    paths = lower(snn)
    model = choose_model(snn) if model == "auto" else model
    if model == "graded":
        if fmt == "netx":
            raise EmitError(
                "NetX holds Lava's neurons only; graded neurons need --format procgraph"
            )
        net = quantize_graded(balance(amplify(paths)), INPUT_MAX / x_max)
        return LoihiExport(net, procgraph(net, steps), "procgraph", steps)
    check_loihi(snn, model)
    paths = _timed(paths)
    target_t = snn.meta.get("normalisation", {}).get("target_T")
    if model == "sdnn" and target_t is not None:
        raise EmitError(
            f"this SNN was calibrated for rate-coded IF neurons at T={target_t} (clipped rates, "
            "shifted biases); the sigma-delta mapping needs the plain conversion: give the ANN "
            "with --calib, or convert with `sjconvert ann2snn --T 0 --v-init 0`"
        )
    options = {"reset": reset, "alpha": alpha}
    run = steps + paths.latency
    net = _quantise(paths, model, run, x_max, fmt != "procgraph", **options)
    problems = [] if fmt == "procgraph" else chain_problems(net)
    if fmt == "netx" and problems:
        raise EmitError(f"NetX holds a chain of layers: {'; '.join(problems)}")
    if fmt == "auto":
        fmt = "procgraph" if problems else "netx"
        if problems:
            net = _quantise(paths, model, run, x_max, False, **options)
    return LoihiExport(net, procgraph(net, steps, netx=fmt == "netx"), fmt, steps)


def predict_fixed_point(exp: LoihiExport, x: np.ndarray, sequence: bool = False) -> np.ndarray:
    """Predictions of the fixed-point network on float input ``x``, in chunks."""
    pg, axis = exp.graph, int(sequence)
    out = []
    for i in range(0, x.shape[axis], CHUNK):
        part = x[:, i : i + CHUNK] if sequence else x[i : i + CHUNK]
        xs = pg.schedule(pg.encode(part), sequence=sequence)
        out.append(pg.predict_trace(simulate(pg, xs, record=[pg.output["process"]])))
    return np.concatenate(out)


def choose_alpha(
    snn: Graph,
    ann: Graph | None,
    x: np.ndarray,
    y: np.ndarray | None,
    steps: int,
    x_max: float,
    model: str,
) -> AlphaChoice | None:
    """The CUBA threshold factor (:mod:`.tune`) when ``model`` maps soft-reset neurons to
    CUBA, chosen against the labels ``y`` or else the ANN's predictions; None when there is
    nothing to tune or nothing to tune against."""
    model = choose_model(snn) if model == "auto" else model
    paths = _timed(lower(snn))
    if model != "cuba" or not soft_reset(paths):
        return None
    if y is None:
        if ann is None:
            return None
        y = Simulator(ann).rate(torch.as_tensor(x))[ann.outputs[0]].argmax(-1).numpy()
    return tune_alpha(paths, x, y, steps, INPUT_MAX / x_max, x_max)
