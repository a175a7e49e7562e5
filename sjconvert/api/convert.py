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
from ..passes.expectation import expectation
from ..passes.layerwise import (
    ANYTIME,
    Calibration,
    LayerProgress,
    Plan,
    Reduce,
    Setting,
    calibrate_layers,
    identity,
)
from ..passes.normalise import NEURONS, SPIKING
from ..passes.pools import accumulate_pools
from .files import read_with_source

Progress = Callable[[int], None]
DEFAULT_T = "any"
DEFAULT_BURST = 4
DEFAULT_BIPOLAR_BURST = 16  # docs/transformers.md, "Burst size"
GRANULARITIES = ("channel", "layer")
CALIB_STEPS = 4  # docs/low_t.md, "Calibration steps": 8 cost twice as much for the same accuracy


@dataclass
class Conversion:
    """Result of :func:`ann2snn`: the SNN graph, the captured ANN and per-layer facts."""

    snn: Graph
    ann: Graph
    scales: dict[str, float]
    calib_samples: int
    seconds: float
    calibration: Calibration | None = None


def ann2snn(
    model: nn.Module | Graph | str | os.PathLike[str],
    calib: Iterable[Any] | str,
    mode: str | float = "99.9%",
    maxpool: str = "cumulative",
    spiking_output: bool = False,
    progress: Progress | None = None,
    arch: str | None = None,
    trust: bool = False,
    T: int | str | None = DEFAULT_T,
    granularity: str = "channel",
    v_init: float = 0.5,
    search: bool = False,
    bias: bool = False,
    v_search: bool = True,
    refine_samples: int = 512,
    neuron: str = "signed",
    burst: int | None = None,
    calib_steps: int = CALIB_STEPS,
    bipolar_burst: int = DEFAULT_BIPOLAR_BURST,
    bipolar_mode: str | float | None = None,
    layer_progress: LayerProgress | None = None,
    reduce: Reduce = identity,
) -> Conversion:
    """Convert a ReLU ANN to a spiking network (capture → prepare → calibrate → normalise →
    calibrate layer by layer).

    ``model`` is a module, a captured graph, or a file as the CLI takes it (state dict with
    ``arch``, pickled module with ``trust=True``, or an IR file). ``calib`` yields batches
    (tensors, ``(x, y)`` pairs or :class:`Batch`) or names a data set as the CLI does
    (``.npz`` / ``.pt`` / ``package.module:function``); it is streamed once and only a
    fixed-size summary per layer is kept.

    ``neuron``: ``"signed"`` (:class:`~sjconvert.ir.nodes.SignedIF`, default, with bursts
    of up to ``burst`` spikes per step: :data:`DEFAULT_BURST` unless given) or ``"if"``.
    Values a synapse reads from a non-spiking op (GELU, LayerNorm, attention) travel as
    bipolar bursts of up to ``bipolar_burst`` spikes, their range set by the ``bipolar_mode``
    statistic of ``|x|`` (``mode`` unless given; ``docs/transformers.md``).
    ``T="any"`` (default) calibrates for every T from 1 to 64: the first
    ``refine_samples`` calibration samples drive :func:`~sjconvert.passes.layerwise.
    calibrate_layers`, which simulates the network once for ``calib_steps`` steps and fits,
    per channel (``granularity="channel"``) or per layer, a threshold (``search``), a
    per-step input bias (``bias``) and an initial membrane (``v_search``: a correction that
    fades with t) against the objective over T = 1…64. ``T=N`` fits threshold and bias for
    that one T instead (simulating N steps). ``T=None`` is the plain conversion of Rueckauer
    et al. (2017) with ``mode`` alone. ``v_init`` is the initial membrane as a fraction of
    the threshold (0.5: half-threshold start) before the fit. ``reduce`` sums a tensor
    across calibration shards (identity: one process); ``layer_progress(name, done, total)``
    follows the layer calibration.
    """
    kind = parse_mode(mode)
    bipolar_mode = mode if bipolar_mode is None else bipolar_mode
    parse_mode(bipolar_mode)
    steps, targets = _steps(T, calib_steps)
    if granularity not in GRANULARITIES:
        raise InputError(f"granularity {granularity!r} unknown; use one of {GRANULARITIES}")
    if neuron not in NEURONS:
        raise InputError(f"neuron {neuron!r} unknown; use one of {list(NEURONS)}")
    burst = (DEFAULT_BURST if neuron == "signed" else 1) if burst is None else burst
    if burst < 1 or (burst > 1 and neuron != "signed"):
        raise InputError(f"burst must be >= 1 (and > 1 only with signed neurons), got {burst}")
    if bipolar_burst < 1:
        raise InputError(f"bipolar_burst must be >= 1, got {bipolar_burst}")
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
    relus = [n for n, node in prepared if isinstance(node, SPIKING)]
    signed = {n for n in relus if isinstance(prepared.nodes[n], ir.Encode)}
    count = 0
    kept: list[tuple[int, torch.Tensor]] = []

    def stream() -> Iterable[torch.Tensor]:
        nonlocal count
        for b in _chain(first, it):
            x = _checked(prepared, b.x)
            offset = count if b.offset is None else b.offset  # global in a sharded run
            if offset < refine_samples:
                kept.append((offset, x[: refine_samples - offset]))
            count += int(b.x.shape[0])
            yield x

    agree(ann, calib)
    stats = calibrate(prepared, stream(), relus, progress, signed)
    count = int(dist.all_sum(torch.tensor(count)))
    refine_x = _refine_samples(kept, refine_samples)
    cumulative = maxpool == "cumulative"
    cal = None
    if steps is None:
        plain = partial(
            relu_to_if,
            stats=stats,
            mode=mode,
            lam={n: statistic(stats[n], bipolar_mode) for n in signed},
            spiking_output=spiking_output,
            v_init=v_init,
            neuron=neuron,
            burst=burst,
            bipolar_burst=bipolar_burst,
        )
        pools = [accumulate_pools] if cumulative else []
        snn = run_pipeline(prepared, [plain, *pools, expectation])
    else:
        setting = Setting(
            neuron,
            burst,
            steps,
            targets,
            search,
            bias,
            v_search,
            granularity == "channel",
            v_init,
            bipolar_burst,
        )
        layerwise = partial(
            _layerwise,
            x=refine_x,
            lam0={n: statistic(stats[n], bipolar_mode if n in signed else mode) for n in relus},
            plan=Plan(setting, quantile=_quantile(kind)),
            cumulative=cumulative,
            spiking_output=spiking_output,
            reduce=reduce,
            progress=layer_progress,
            found=(found := []),
        )
        snn = run_pipeline(prepared, [layerwise])
        cal = found[0]
    lam = dict(snn.meta["normalisation"]["lambda"])
    snn = snn.with_meta(
        calibration={"samples": count, "refine_samples": min(count, refine_samples)},
        normalisation={
            **snn.meta["normalisation"],
            "mode": str(mode),
            "target_T": T if steps is not None else None,
            "calibration_steps": steps,
            "search": search and steps is not None,
            "bias_correction": bias and steps is not None,
            "v_search": v_search and steps is not None,
            "layers": {} if cal is None else {n: f.report for n, f in cal.layers.items()},
        },
    )
    return Conversion(snn, ann, lam, count, time.perf_counter() - start, cal)


def _steps(T: int | str | None, calib_steps: int) -> tuple[int | None, tuple[int, ...]]:
    """``(steps simulated, T of the objective)`` for a target ``T`` (None: no layer
    calibration)."""
    if T is None:
        return None, ()
    if T == "any":
        if calib_steps < 1:
            raise InputError(f"calibration steps must be a positive integer, got {calib_steps}")
        return calib_steps, ANYTIME
    if isinstance(T, str) or T < 1:
        raise InputError(f"target T must be 'any' or a positive integer, got {T!r}")
    return int(T), (int(T),)


def _quantile(kind: tuple[str, float]) -> float:
    return kind[1] if kind[0] == "percentile" else 1.0


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


PLAIN = {"T": None, "v_init": 0.0, "neuron": "if", "maxpool": "pre"}
"""Options of the plain conversion (Rueckauer et al. 2017) that chips without signed or
bursting neurons, cumulative pooling or a fitted start take (Loihi 2, NIR)."""


def is_plain(snn: Graph) -> bool:
    """Whether ``snn`` uses none of the anytime mechanisms (:data:`PLAIN` made it, or it
    came from elsewhere)."""
    calibrated = snn.meta.get("normalisation", {}).get("target_T") is not None
    special = any(n.signed or isinstance(n, (ir.Accumulate, ir.Difference)) for _, n in snn)
    return not calibrated and not special


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
