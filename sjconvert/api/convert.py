"""The Python API behind ``sjconvert ann2snn`` and every target command's MODEL argument."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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
    parse_mode,
    relu_to_if,
    replace_maxpool,
    run_pipeline,
    statistic,
)
from ..passes.refine import V_GRID, refine
from .files import read_with_source

Progress = Callable[[int], None]
DEFAULT_T = 8
GRANULARITIES = ("channel", "layer")


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

    agree(ann, calib)
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
    if isinstance(calib, str):
        calib = load_data(calib)
    if isinstance(model, nn.Module):
        first = next(iter(as_batches(calib)), None)
        if first is None:
            raise InputError(f"{getattr(calib, 'name', 'calibration data')}: data is empty")
        model = capture(model, example_input(model, first.x))
        if any(node.spiking for _, node in model):  # SpikingJelly SNNs, ann2snn outputs
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
