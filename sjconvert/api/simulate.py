"""The Python API behind ``sjconvert simulate``: accuracy of a spiking graph at every T."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import InputError
from ..exec.evaluate import Evaluation, evaluate
from ..exec.reference import Simulator
from ..frontends.loading import as_batches, load_data
from ..ir.graph import Graph
from ..targets.cupy import to_cupy
from ..targets.nir.lossy import LossyReport
from .convert import agree

BACKENDS = ("torch", "numpy", "cupy")


def executor(snn: Graph, backend: str = "torch") -> Any:
    """The simulator of ``snn`` for ``backend``: ``torch`` (the reference), ``numpy`` or
    ``cupy`` (the simulation over arrays of :func:`sjconvert.targets.cupy.to_cupy`)."""
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; use {', '.join(BACKENDS)}")
    return Simulator(snn) if backend == "torch" else to_cupy(snn, backend)


def simulate(
    snn: Graph,
    data: Iterable[Any] | str,
    T: int | Sequence[int] | None = None,
    ann: Graph | None = None,
    progress: Callable[[int], None] | None = None,
    backend: str = "torch",
    time_major: bool = False,
) -> Evaluation:
    """Simulate ``snn`` for ``max(T)`` steps on ``data`` (batches, ``(x, y)`` pairs, or a
    data set named as the CLI takes it) and report accuracy at every T — against the labels,
    or against the ANN's predictions when the data has none — beside the ANN's.

    Data is sample-major: a direct input ``[N, ...]`` or sequences ``[N, T, ...]`` (see
    :mod:`sjconvert.exec.data_layout`); a data set named by a string may be time-major
    ``[T, N, ...]`` with ``time_major``. ``T`` None: 4, 8, 16, 32 for a direct input, the
    data's length for sequences. The ANN's accuracy is measured on direct inputs only."""
    if isinstance(data, (str, os.PathLike)):
        data = load_data(data, time_major=time_major)
    agree(snn, data)
    batches = ((b.x, b.y) for b in as_batches(data))
    ann_sim = None if ann is None else Simulator(ann)
    try:
        return evaluate(executor(snn, backend), batches, T, ann_sim, progress)
    except InputError as exc:
        source = getattr(data, "name", None)
        raise InputError(
            f"{source}: {exc}"
            if source and ("empty" in str(exc) or "label" in str(exc))
            else str(exc)
        ) from None


def measure_lossy(
    original: Graph, mapped: Graph, data: Iterable[Any], T: Sequence[int], ann: Graph | None = None
) -> LossyReport:
    """Simulate a graph before and after lossy mappings and report the accuracy change per T."""
    batches = list(as_batches(data))
    before = simulate(original, batches, T, ann=ann)
    after = simulate(mapped, batches, T, ann=ann)
    metric = "accuracy" if before.labelled else "agreement_with_ann"
    return LossyReport(before.samples, metric, before.snn, after.snn)
