"""The Python API behind ``sjconvert ann2snn`` and every target command's MODEL argument."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import InputError
from ..exec import dist
from ..frontends.capture import capture, example_input
from ..frontends.loading import Batch, as_batches, load_data, load_model
from ..ir import nodes as ir
from ..ir.graph import Graph
from ..ir.io import is_ir_file
from ..passes import (
    PREPARE,
    calibrate,
    fold_scales,
    relu_to_if,
    replace_maxpool,
    run_pipeline,
    statistic,
)
from ..passes.expectation import expectation
from ..passes.layerwise import (
    Calibration,
    LayerProgress,
    Plan,
    Reduce,
    Setting,
    calibrate_layers,
    identity,
)
from ..passes.options import ConversionOptions
from ..passes.pools import accumulate_pools
from .files import read_with_source

Progress = Callable[[int], None]


@dataclass
class Conversion:
    """Result of :func:`ann2snn`: the SNN graph, the captured ANN, per-layer facts and the
    options it was made with."""

    snn: Graph
    ann: Graph
    scales: dict[str, float]
    calib_samples: int
    seconds: float
    calibration: Calibration | None = None
    options: ConversionOptions = field(default_factory=ConversionOptions)


def ann2snn(
    model: nn.Module | Graph | str | os.PathLike[str],
    calib: Iterable[Any] | str,
    options: ConversionOptions | None = None,
    *,
    progress: Progress | None = None,
    arch: str | None = None,
    trust: bool = False,
    layer_progress: LayerProgress | None = None,
    reduce: Reduce = identity,
    **changes: Any,
) -> Conversion:
    """Convert an ANN (CNN or transformer) to a spiking network (capture → prepare →
    calibrate → normalise → calibrate layer by layer).

    ``model`` is a module, a captured graph, or a file as the CLI takes it (state dict with
    ``arch``, pickled module with ``trust=True``, or an IR file). ``calib`` yields batches
    (tensors, ``(x, y)`` pairs or :class:`Batch`), is one tensor or ``(x, y)`` pair (one
    batch), or names a data set as the CLI does (``.npz`` / ``.pt`` / ``.npy`` /
    ``package.module:function``); it is streamed once and only a fixed-size summary per
    layer is kept.

    The conversion follows ``options`` (:class:`~sjconvert.passes.options.
    ConversionOptions`, defaults if None) with ``changes`` applied: option names as
    keywords, e.g. ``ann2snn(model, data, mode="max", T=None)``. With the default ``T="any"``
    the first ``refine_samples`` calibration samples drive :func:`~sjconvert.passes.
    layerwise.calibrate_layers`, which simulates the network once for ``calib_steps`` steps
    and fits, per channel or per layer, a threshold (``search``), a per-step input bias
    (``bias``) and an initial membrane (``v_search``: a correction that fades with t)
    against the objective over T = 1…64; ``T=N`` fits them for that one T (simulating N
    steps); ``T=None`` is the plain conversion of Rueckauer et al. (2017) with ``mode``
    alone. ``reduce`` sums a tensor across calibration shards (identity: one process);
    ``layer_progress(name, done, total)`` follows the layer calibration.
    """
    opts = (options or ConversionOptions()).replace(**changes)
    if isinstance(calib, (str, os.PathLike)):
        calib = load_data(calib)
    if isinstance(model, (str, os.PathLike)):
        model = _open_model(Path(model), arch, trust)
    start = time.perf_counter()
    it = iter(as_batches(calib))
    first = next(it, None)
    if first is None:
        source = getattr(calib, "name", None)
        raise InputError(
            f"{source}: calibration data is empty" if source else "calibration data is empty"
        )
    ann = model if isinstance(model, Graph) else capture(model, first.x[:2])
    if any(node.spiking for _, node in ann):
        raise InputError("the model already has spiking neurons; ann2snn converts ReLU ANNs")
    prepared = run_pipeline(ann, [*PREPARE, partial(replace_maxpool, policy=opts.maxpool)])
    prepared = prepared.with_meta(maxpool=opts.maxpool)
    relus = [n for n, node in prepared if node.becomes_neuron]
    signed = {n for n in relus if isinstance(prepared.nodes[n], ir.Encode)}
    count = 0
    kept: list[tuple[int, torch.Tensor]] = []

    def stream() -> Iterable[torch.Tensor]:
        nonlocal count
        for b in _chain(first, it):
            x = _checked(prepared, b.x)
            offset = count if b.offset is None else b.offset  # global in a sharded run
            if offset < opts.refine_samples:
                kept.append((offset, x[: opts.refine_samples - offset]))
            count += int(b.x.shape[0])
            yield x

    agree(ann, calib)
    stats = calibrate(prepared, stream(), relus, progress, signed)
    count = int(dist.all_sum(torch.tensor(count)))
    cumulative = opts.maxpool == "cumulative"
    cal = None
    if opts.steps is None:
        plain = partial(
            relu_to_if,
            stats=stats,
            mode=opts.mode,
            spiking_output=opts.spiking_output,
            v_init=opts.v_init,
            neuron=opts.neuron,
            burst=opts.max_spikes,
            lam={n: statistic(stats[n], opts.bipolar_range_mode) for n in signed},
            bipolar_burst=opts.bipolar_burst,
            bipolar_headroom=opts.bipolar_headroom,
        )
        pools = [accumulate_pools] if cumulative else []
        snn = run_pipeline(prepared, [plain, *pools, expectation])
    else:
        layerwise = partial(
            _layerwise,
            x=_refine_samples(kept, opts.refine_samples),
            lam0={
                n: statistic(stats[n], opts.bipolar_range_mode if n in signed else opts.mode)
                for n in relus
            },
            plan=Plan(Setting.from_options(opts), quantile=opts.quantile),
            cumulative=cumulative,
            spiking_output=opts.spiking_output,
            reduce=reduce,
            progress=layer_progress,
            found=(found := []),
        )
        snn = run_pipeline(prepared, [layerwise])
        cal = found[0]
    lam = dict(snn.meta["normalisation"]["lambda"])
    snn = _recorded(snn, opts, count, cal)
    return Conversion(snn, ann, lam, count, time.perf_counter() - start, cal, opts)


def _recorded(snn: Graph, opts: ConversionOptions, count: int, cal: Calibration | None) -> Graph:
    """``snn`` with the options and calibration facts in its metadata."""
    layered = opts.steps is not None
    return snn.with_meta(
        calibration={"samples": count, "refine_samples": min(count, opts.refine_samples)},
        normalisation={
            **snn.meta["normalisation"],
            "mode": str(opts.mode),
            "target_T": opts.T if layered else None,
            "calibration_steps": opts.steps,
            "search": opts.search and layered,
            "bias_correction": opts.bias and layered,
            "v_search": opts.v_search and layered,
            "layers": {} if cal is None else {n: f.report for n, f in cal.layers.items()},
        },
    )


def _layerwise(graph: Graph, found: list[Calibration], **options: Any) -> Graph:
    """Pipeline form of :func:`calibrate_layers` (its fitted parameters go to ``found``)."""
    snn, _, cal = calibrate_layers(graph, **options)
    found.append(cal)
    return snn


def _refine_samples(kept: list[tuple[int, torch.Tensor]], refine_samples: int) -> torch.Tensor:
    """The first ``refine_samples`` calibration samples in data-set order. In a sharded run
    every rank gathers them all (they are few) and runs the same layer calibration on them,
    so the converted network is the single-process one exactly; the calibration
    histograms, a pass over all the data, are what the ranks share out."""
    parts = sorted((p for rank in dist.gather(kept) for p in rank), key=lambda p: p[0])
    if not parts:
        raise InputError("calibration data is empty")
    return torch.cat([x for _, x in parts])[:refine_samples]


def agree(graph: Graph, data: Any) -> None:
    """In a sharded run every process must hold the same model and data set."""
    if dist.current().world > 1:
        dist.agree("models", graph.fingerprint())
        if hasattr(data, "fingerprint"):
            dist.agree("data", data.fingerprint())


def _open_model(path: Path, arch: str | None, trust: bool) -> nn.Module | Graph:
    """A model file, or the ANN stored in an IR file (its source graph if it has one)."""
    if is_ir_file(path):
        graph, source = read_with_source(path)
        return source or graph
    return load_model(path, arch=arch, trust=trust)


def is_plain(snn: Graph) -> bool:
    """Whether ``snn`` uses none of the anytime mechanisms (:data:`PLAIN` made it, or it
    came from elsewhere)."""
    calibrated = snn.meta.get("normalisation", {}).get("target_T") is not None
    special = any(n.signed or n.cumulative for _, n in snn)
    return not calibrated and not special


def open_snn(
    model: nn.Module | Graph | str | os.PathLike[str],
    calib: Iterable[Any] | str | None = None,
    *,
    arch: str | None = None,
    trust: bool = False,
    progress: Progress | None = None,
    options: ConversionOptions | None = None,
    **changes: Any,
) -> tuple[Graph, Graph | None]:
    """``(snn, source ann or None)`` for a target command's MODEL argument.

    An IR file or graph that already spikes is used as it is (with the ANN stored beside it).
    Anything else — an ANN IR file, a model file, a module — is captured; a model with
    spiking neurons (SpikingJelly-style) is taken as captured, an ANN is converted by
    :func:`ann2snn` on ``calib`` with ``options`` and ``changes`` (``mode="max"``, ``**PLAIN``,
    ...): validated before anything is loaded. ``calib`` is
    required unless MODEL is a spiking IR file (its first batch is the example input)."""
    opts = (options or ConversionOptions()).replace(**changes)
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if is_ir_file(path):
            graph, source = read_with_source(path)
            if any(node.spiking for _, node in graph):
                return graph, source
            model = source or graph
        else:
            model = load_model(path, arch=arch, trust=trust)
    if isinstance(model, Graph) and any(node.spiking for _, node in model):
        return model, None
    if calib is None:
        raise InputError(
            "MODEL is not a converted SNN: give calibration data (--calib) to convert it first"
        )
    if isinstance(calib, (str, os.PathLike)):
        calib = load_data(calib)
    if isinstance(model, nn.Module):
        first = next(iter(as_batches(calib)), None)
        if first is None:
            raise InputError(f"{getattr(calib, 'name', 'calibration data')}: data is empty")
        model = capture(model, example_input(model, first.x))
        if any(node.spiking for _, node in model):  # SpikingJelly SNNs, ann2snn outputs
            return run_pipeline(model, [fold_scales]), None
    conv = ann2snn(model, calib, opts, progress=progress)
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
