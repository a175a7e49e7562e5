"""The Python API behind ``sjconvert parity``: one spiking network run on every backend,
each compared with the torch reference simulator on the same data (one meter,
:class:`~sjconvert.exec.parity.ParityMeter`), in one report with one JSON schema.

Per backend and T, a row: spike-count agreement (overall and per layer), prediction
agreement, accuracy, largest rate error and run time — or why it did not run (``skipped``:
a package or device is missing here; ``unsupported``: the target cannot express this
network; ``failed``: it raised an error while running). Requirements such as
``spikes=1.0,predictions=0.999`` (``loihi.predictions=0.9`` for one backend) turn the report
into a CI gate: :attr:`ParityReport.passed`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch

from ..errors import InputError, SjconvertError
from ..exec import dist
from ..exec.evaluate import accuracy, time_steps
from ..exec.parity import ParityMeter, reference_run
from ..exec.reference import Simulator
from ..exec.shapes import with_shapes
from ..frontends.loading import as_batches, load_data
from ..ir.graph import Graph
from ..passes.options import PLAIN
from ..targets.lava.running.launcher import compare
from ..targets.lynxi import torch_dtype
from .backends import Loihi, Runner, Skipped, message_counts, runners
from .convert import is_plain, open_snn
from .report import BACKENDS, ParityReport, Row, check, parse_requirements

Data = list[tuple[np.ndarray, np.ndarray | None]]


def parity(
    model: Any,
    data: Iterable[Any] | str,
    backends: Sequence[str] | None = None,
    T: int | Sequence[int] = 8,
    require: str | dict[str, float] | None = None,
    *,
    lava_samples: int = 2,
    lynxi_dtype: str = "float32",
    arch: str | None = None,
    trust: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ParityReport:
    """Run ``model`` (a spiking graph or IR file; an ANN is converted on ``data`` first) on
    every backend in ``backends`` (default: all of :data:`BACKENDS`) for each T on the
    direct inputs of ``data``, and compare each with the torch reference. ``lava_samples``
    inputs run in Lava; ``progress`` is called with each row's label before it runs."""
    steps, names = time_steps(T), _backends(backends)
    requirements = parse_requirements(require)
    torch_dtype(lynxi_dtype)  # a bad dtype is bad input, not an unsupported backend
    batches = list(as_batches(load_data(data) if isinstance(data, (str, os.PathLike)) else data))
    if not batches:
        raise InputError(f"{getattr(data, 'name', 'parity data')}: data is empty")
    snn, ann = open_snn(model, batches, arch=arch, trust=trust)
    xs = [(b.x.numpy(), None if b.y is None else b.y.numpy()) for b in batches]
    table = runners(lynxi_dtype)
    rows: list[Row] = []
    for t in steps:
        refs = [reference_run(snn, x, t)[:2] for x, _ in xs]
        for name in names:
            if progress:
                progress(f"{name} T={t}")
            if name in table:
                rows.append(_compare(name, table[name], snn, t, xs, refs))
            elif name == "loihi" or "loihi" not in names:  # one Loihi build for both rows
                rows += _loihi_rows(snn, ann, t, xs, batches, names, lava_samples)
    labelled = all(dist.gather(all(y is not None for _, y in xs)))
    return ParityReport(
        steps,
        int(dist.all_sum(torch.tensor(sum(len(x) for x, _ in xs)))),
        labelled,
        accuracy(Simulator(ann), xs) if labelled and ann is not None else None,
        rows,
        requirements,
        check(rows, requirements),
        neurons_per_layer(snn),
    )


def neurons_per_layer(graph: Graph) -> dict[str, int]:
    """Neurons of each spiking layer (its output size per sample)."""
    shapes = with_shapes(graph).shapes
    return {n: int(np.prod(shapes[n])) for n, node in graph if node.spiking and node.stateful}


def _backends(backends: Sequence[str] | None) -> list[str]:
    chosen = list(BACKENDS if not backends else dict.fromkeys(backends))
    unknown = [b for b in chosen if b not in BACKENDS]
    if unknown:
        raise InputError(f"unknown backend(s) {', '.join(unknown)}; use {', '.join(BACKENDS)}")
    return chosen


def _layers(ref: dict[str, np.ndarray], counts: dict[str, np.ndarray] | None) -> tuple[Any, Any]:
    """The layers both sides report (a round trip may rename some), or (None, None)."""
    common = [k for k in ref if counts is not None and k in counts]
    if not common or counts is None:
        return None, None
    return {k: ref[k] for k in common}, {k: counts[k] for k in common}


def _compare(
    name: str,
    prepare: Callable[[Graph, int], Runner],
    snn: Graph,
    T: int,
    xs: Data,
    refs: list[tuple[np.ndarray, dict[str, np.ndarray]]],
) -> Row:
    start = time.perf_counter()
    try:
        run = prepare(snn, T)
    except Skipped as exc:
        return Row(name, T, "skipped", reason=str(exc))
    except SjconvertError as exc:
        return Row(name, T, "unsupported", reason=str(exc))
    prepared, seconds, meter = time.perf_counter() - start, 0.0, ParityMeter()
    try:
        for (x, y), (ref_rates, ref_counts) in zip(xs, refs, strict=True):
            start = time.perf_counter()
            rates, counts = run(x)
            seconds += time.perf_counter() - start
            meter.update(ref_rates[-1], rates, *_layers(ref_counts, counts), y)
    except SjconvertError as exc:
        return Row(name, T, "failed", reason=str(exc))
    agreement = meter.reduced().result()
    return Row(name, T, "ok", agreement=agreement, seconds=seconds, prepare_seconds=prepared)


def _loihi_rows(
    snn: Graph,
    ann: Graph | None,
    T: int,
    xs: Data,
    batches: list[Any],
    names: list[str],
    lava_samples: int,
) -> list[Row]:
    """The ``loihi`` row (fixed-point simulator against the float SNN it was lowered from)
    and the ``lava`` row (Lava against the fixed-point simulator), those asked for."""
    graph, against = snn, "torch reference"
    if not is_plain(snn) and ann is not None:
        # as to-lava: the Loihi mappings take the plain conversion of the source ANN
        graph, _ = open_snn(ann, batches, **PLAIN)
        against = "torch reference of the plain conversion (as to-lava)"
    wanted = [n for n in ("loihi", "lava") if n in names]
    start = time.perf_counter()
    try:
        chip = Loihi(graph, T, max(float(np.abs(x).max()) for x, _ in xs))
    except SjconvertError as exc:
        return [Row(n, T, "unsupported", reason=str(exc)) for n in wanted]
    prepared = time.perf_counter() - start
    rows = []
    if "loihi" in wanted:
        meter, start = ParityMeter(), time.perf_counter()
        for x, y in xs:
            ref = reference_run(graph, x, T)[0][-1].argmax(-1)
            meter.update_predictions(ref, chip.predictions(x), y)
        seconds = time.perf_counter() - start
        agreement = meter.reduced().result()
        rows.append(Row("loihi", T, "ok", against, "", agreement, seconds, prepared))
    if "lava" in wanted:
        rows.append(_lava_row(chip, T, xs, lava_samples))
    return rows


def _lava_row(chip: Loihi, T: int, xs: Data, samples: int) -> Row:
    against = "Loihi fixed-point simulator"
    if samples <= 0:
        return Row("lava", T, "skipped", against, "lava_samples is 0")
    x = np.concatenate([x for x, _ in xs])[:samples]
    ys = [y for _, y in xs]
    y = None if any(v is None for v in ys) else np.concatenate(ys)[:samples]
    ours = chip.fixed_point(x)
    start = time.perf_counter()
    try:
        lava = chip.lava(x)
    except Skipped as exc:
        return Row("lava", T, "skipped", against, str(exc))
    except SjconvertError as exc:
        return Row("lava", T, "failed", against, str(exc))
    seconds = time.perf_counter() - start
    meter = ParityMeter()
    pg = chip.graph
    meter.update_predictions(pg.predict_trace(ours), pg.predict_trace(lava), y)
    mine = message_counts(ours)
    meter.update_counts(mine, dict(zip(mine, message_counts(lava).values(), strict=True)))
    same = all(dist.gather(compare(pg, ours, lava).state_equal))  # each rank's first samples
    k = int(dist.all_sum(torch.tensor(len(x))))
    note = f"{k} sample(s); output state {'equal' if same else 'DIFFERENT'}"
    return Row("lava", T, "ok", against, note, meter.reduced().result(), seconds)
