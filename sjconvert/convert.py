"""The Python API behind ``sjconvert ann2snn`` and ``sjconvert simulate``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import InputError
from .ir import nodes as ir
from .ir.capture import capture
from .ir.graph import Graph
from .loading import Batch, load_data, load_model
from .passes import (
    PREPARE,
    calibrate,
    fold_scales,
    parse_mode,
    relu_to_if,
    replace_maxpool,
    run_pipeline,
    statistic,
)
from .passes.refine import V_GRID, refine
from .sim.reference import Program

Progress = Callable[[int], None]
DEFAULT_T = 8
GRANULARITIES = ("channel", "layer")


def _batches(data: Iterable[Any]) -> Iterable[Batch]:
    for item in data:
        if isinstance(item, Batch):
            yield item
        elif isinstance(item, (tuple, list)):
            yield Batch(
                torch.as_tensor(item[0]).float(),
                None if len(item) < 2 else torch.as_tensor(item[1]),
            )
        else:
            yield Batch(torch.as_tensor(item).float(), None)


@dataclass
class Conversion:
    """Result of :func:`ann2snn`: the SNN graph, the captured ANN and per-layer facts."""

    snn: Graph
    ann: Graph
    scales: dict[str, float]
    calib_samples: int
    seconds: float


def ann2snn(
    model: nn.Module | Graph | str | os.PathLike[str],
    calib: Iterable[Any] | str,
    mode: str | float = "99.9%",
    maxpool: str = "pre",
    spiking_output: bool = False,
    progress: Progress | None = None,
    arch: str | None = None,
    trust: bool = False,
    T: int | None = DEFAULT_T,
    granularity: str = "channel",
    v_init: float = 0.5,
    search: bool = True,
    bias: bool = True,
    v_search: bool = True,
    refine_samples: int = 512,
) -> Conversion:
    """Convert a ReLU ANN to an IF SNN (capture → prepare → calibrate → normalise →
    calibrate layer by layer for ``T`` steps).

    ``model`` is a module, a captured graph, or a file as the CLI takes it (state dict with
    ``arch``, pickled module with ``trust=True``, or an IR file). ``calib`` yields batches
    (tensors, ``(x, y)`` pairs or :class:`Batch`) or names a data set as the CLI does
    (``.npz`` / ``.pt`` / ``package.module:function``); it is streamed once and only a
    fixed-size summary per layer is kept.

    With a target ``T`` (default 8), the first ``refine_samples`` calibration samples also
    drive :func:`sjconvert.passes.refine.refine`: per-channel (``granularity="channel"``) or
    per-layer λ from those samples, a threshold search (``search``) and bias correction
    (``bias``) against the ANN at T steps. ``v_init`` is the initial membrane as a fraction
    of the threshold (0.5: half-threshold start); with ``v_search`` each layer picks its own
    from :data:`sjconvert.passes.refine.V_GRID` by the same error. ``T=None`` gives the plain
    layer-wise conversion of Rueckauer et al. (2017) with ``mode`` alone.
    """
    kind = parse_mode(mode)
    if granularity not in GRANULARITIES:
        raise InputError(f"granularity {granularity!r} unknown; use one of {GRANULARITIES}")
    if T is not None and T < 1:
        raise InputError(f"target T must be a positive integer, got {T}")
    if not 0.0 <= v_init < 1.0:
        raise InputError(f"v_init is a fraction of the threshold in [0, 1), got {v_init}")
    if isinstance(calib, str):
        calib = load_data(calib)
    if isinstance(model, (str, os.PathLike)):
        model = _open_model(Path(model), arch, trust)
    start = time.perf_counter()
    it = iter(_batches(calib))
    first = next(it, None)
    if first is None:
        source = getattr(calib, "name", None)
        raise InputError(
            f"{source}: calibration data is empty" if source else "calibration data is empty"
        )
    ann = model if isinstance(model, Graph) else capture(model, first.x[:2])
    if any(node.spiking for _, node in ann):
        raise InputError("the model already has spiking neurons; ann2snn converts ReLU ANNs")
    prepared = run_pipeline(ann, [*PREPARE, partial(replace_maxpool, policy=maxpool)])
    prepared = prepared.with_meta(maxpool=maxpool)
    relus = [n for n, node in prepared if isinstance(node, ir.ReLU)]
    count = 0
    kept: list[torch.Tensor] = []

    def stream() -> Iterable[torch.Tensor]:
        nonlocal count
        for b in _chain(first, it):
            x = _checked(prepared, b.x)
            if count < refine_samples:
                kept.append(x[: refine_samples - count])
            count += int(b.x.shape[0])
            yield x

    stats = calibrate(prepared, stream(), relus, progress)
    if T is None:
        snn = run_pipeline(
            prepared,
            [
                partial(
                    relu_to_if,
                    stats=stats,
                    mode=mode,
                    spiking_output=spiking_output,
                    v_init=v_init,
                )
            ],
        )
        report: dict[str, Any] = {}
    else:
        lam0 = {n: statistic(stats[n], mode) for n in relus}
        refine_pass = partial(
            _refined,
            x=torch.cat(kept),
            lam=lam0,
            T=T,
            mode=kind,
            channelwise=granularity == "channel",
            search=search,
            bias=bias,
            v_init=v_init,
            v_grid=V_GRID if v_search else (),
            spiking_output=spiking_output,
            report=(report := {}),
        )
        snn = run_pipeline(prepared, [refine_pass])
    lam = dict(snn.meta["normalisation"]["lambda"])
    snn = snn.with_meta(
        calibration={"samples": count, "refine_samples": min(count, refine_samples)},
        normalisation={
            **snn.meta["normalisation"],
            "mode": str(mode),
            "target_T": T,
            "search": search and T is not None,
            "bias_correction": bias and T is not None,
            "layers": report,
        },
    )
    return Conversion(snn, ann, lam, count, time.perf_counter() - start)


def _refined(graph: Graph, report: dict[str, Any], **options: Any) -> Graph:
    """Pipeline form of :func:`refine` (its per-layer report goes to ``report``)."""
    result = refine(graph, **options)
    report.update(result.layers)
    return result.snn


def _open_model(path: Path, arch: str | None, trust: bool) -> nn.Module | Graph:
    """A model file, or the ANN stored in an IR file (its source graph if it has one)."""
    from .ir.io import is_ir_file, load, load_source

    if is_ir_file(path):
        return load_source(path) or load(path)
    return load_model(path, arch=arch, trust=trust)


def open_snn(
    model: nn.Module | Graph | str | os.PathLike[str],
    calib: Iterable[Any] | str | None = None,
    *,
    arch: str | None = None,
    trust: bool = False,
    progress: Progress | None = None,
    **options: Any,
) -> tuple[Graph, Graph | None]:
    """``(snn, source ann or None)`` for a target command's MODEL argument.

    An IR file or graph that already spikes is used as it is (with the ANN stored beside it).
    Anything else — an ANN IR file, a model file, a module — is captured; a model with
    spiking neurons (SpikingJelly-style) is taken as captured, an ANN is converted by
    :func:`ann2snn` on ``calib`` with ``options`` (``mode``, ``maxpool``, ...). ``calib`` is
    required unless MODEL is a spiking IR file (its first batch is the example input)."""
    from .ir.io import is_ir_file, load, load_source

    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if is_ir_file(path):
            graph = load(path)
            if any(node.spiking for _, node in graph):
                return graph, load_source(path)
            model = load_source(path) or graph
        else:
            model = load_model(path, arch=arch, trust=trust)
    if isinstance(model, Graph) and any(node.spiking for _, node in model):
        return model, None
    if calib is None:
        raise InputError(
            "MODEL is not a converted SNN: give calibration data (--calib) to convert it first"
        )
    if isinstance(calib, str):
        calib = load_data(calib)
    if isinstance(model, nn.Module):
        first = next(iter(_batches(calib)), None)
        if first is None:
            raise InputError(f"{getattr(calib, 'name', 'calibration data')}: data is empty")
        model = capture(model, first.x[:2])
        if any(node.spiking for _, node in model):  # e.g. SpikingJelly ann2snn output
            return run_pipeline(model, [fold_scales]), None
    conv = ann2snn(model, calib, progress=progress, **options)
    return conv.snn, conv.ann


def _chain(first: Batch, rest: Iterable[Batch]) -> Iterable[Batch]:
    yield first
    yield from rest


def _checked(graph: Graph, x: torch.Tensor) -> torch.Tensor:
    (name,) = graph.inputs
    want = graph.nodes[name].shape  # type: ignore[attr-defined]
    if tuple(x.shape[1:]) != tuple(want):
        raise InputError(
            f"data batch of shape {list(x.shape)} does not fit input "
            f"'{name}' of shape [N, {', '.join(map(str, want))}]"
        )
    return x


@dataclass
class Evaluation:
    """Accuracy per T (and the ANN's), spikes per sample, timing."""

    samples: int
    steps: list[int]
    snn: dict[int, float]
    ann: float | None
    labelled: bool
    spikes_per_sample: float
    seconds: float
    per_layer_spikes: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "metric": "accuracy" if self.labelled else "agreement_with_ann",
            "ann": self.ann,
            "snn": {str(t): a for t, a in self.snn.items()},
            "spikes_per_sample": self.spikes_per_sample,
            "spikes_per_sample_per_layer": self.per_layer_spikes,
            "seconds": self.seconds,
        }


def evaluate(
    snn: Graph,
    data: Iterable[Any],
    steps: Sequence[int] = (4, 8, 16, 32),
    ann: Graph | None = None,
    progress: Progress | None = None,
    backend: str = "torch",
) -> Evaluation:
    """Simulate ``snn`` for ``max(steps)`` steps on ``data`` (one run gives every T) and
    compare with the labels, or with the ANN's predictions when the data has no labels.
    ``backend``: ``torch`` (the reference simulator), ``numpy`` or ``cupy`` (the simulation
    graph of :func:`sjconvert.targets.cupy.to_cupy`)."""
    steps = sorted({int(t) for t in steps})
    if not steps or steps[0] < 1:
        raise InputError(f"time steps must be positive integers, got {steps}")
    t_max = steps[-1]
    if backend not in ("torch", "numpy", "cupy"):
        raise InputError(f"unknown backend {backend!r}; use torch, numpy or cupy")
    if backend == "torch":
        snn_prog: Any = Program(snn)
    else:
        from .targets.cupy import to_cupy

        snn_prog = to_cupy(snn, backend)
    ann_prog = Program(ann) if ann is not None else None
    correct = dict.fromkeys(steps, 0)
    ann_correct, n, spikes, labelled = 0, 0, 0.0, None
    layer_spikes: dict[str, float] = {}
    start = time.perf_counter()
    for b in _batches(data):
        x = _checked(snn, b.x)
        if labelled is None:
            labelled = b.y is not None
        ref = b.y
        if ann_prog is not None:
            ann_pred = ann_prog.ann(x, keep=set())[ann.outputs[0]].argmax(-1)
            if ref is None:
                ref = ann_pred
            ann_correct += int((ann_pred == ref).sum())
        if ref is None:
            raise InputError("data has no labels 'y' and the IR file holds no source ANN")
        res = snn_prog.snn(x, T=t_max)
        pred = res.output.argmax(-1)
        for t in steps:
            correct[t] += int((pred[t - 1] == ref).sum())
        for k, v in res.spikes.items():
            layer_spikes[k] = layer_spikes.get(k, 0.0) + v
        spikes += sum(res.spikes.values())
        n += int(x.shape[0])
        if progress:
            progress(int(x.shape[0]))
    if n == 0:
        source = getattr(data, "name", None)
        raise InputError(
            f"{source}: evaluation data is empty" if source else "evaluation data is empty"
        )
    return Evaluation(
        n,
        steps,
        {t: correct[t] / n for t in steps},
        None if ann_prog is None else ann_correct / n,
        bool(labelled),
        spikes / n,
        time.perf_counter() - start,
        {k: v / n for k, v in layer_spikes.items()},
    )
