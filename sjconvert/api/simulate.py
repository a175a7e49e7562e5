"""The Python API behind ``sjconvert simulate``: accuracy of a spiking graph at every T."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import InputError
from ..exec.data_layout import batch_steps
from ..exec.evaluate import DEFAULT_STEPS, Evaluation, evaluate, time_steps
from ..exec.reference import Simulator
from ..frontends.loading import as_batches, load_data
from ..ir.graph import Graph
from ..targets.cupy import to_cupy
from ..targets.nir.lossy import LossyReport
from .convert import agree
from .memory import check_memory

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
    max_memory: int | None = None,
) -> Evaluation:
    """Simulate ``snn`` for ``max(T)`` steps on ``data`` (batches, ``(x, y)`` pairs, or a
    data set named as the CLI takes it) and report accuracy at every T — against the labels,
    or against the ANN's predictions when the data has none — beside the ANN's.

    Data is sample-major: a direct input ``[N, ...]`` or sequences ``[N, T, ...]`` (see
    :mod:`sjconvert.exec.data_layout`); a data set named by a string may be time-major
    ``[T, N, ...]`` with ``time_major``. ``T`` None: 4, 8, 16, 32 for a direct input, the
    data's length for sequences. The ANN's accuracy is measured on direct inputs only.

    Before it runs, an executor that estimates its memory is checked against ``max_memory``
    bytes (default: the memory available; :mod:`.memory`)."""
    if isinstance(data, (str, os.PathLike)):
        data = load_data(data, time_major=time_major)
    agree(snn, data)
    sim = executor(snn, backend)
    batches = _checked_first(sim, as_batches(data), T, max_memory)
    ann_sim = None if ann is None else Simulator(ann)
    try:
        return evaluate(sim, batches, T, ann_sim, progress)
    except InputError as exc:
        source = getattr(data, "name", None)
        raise InputError(
            f"{source}: {exc}"
            if source and ("empty" in str(exc) or "label" in str(exc))
            else str(exc)
        ) from None


def _checked_first(
    sim: Any, batches: Iterable[Any], T: int | Sequence[int] | None, limit: int | None
) -> Iterable[tuple[Any, Any]]:
    """The batches as ``(x, y)``, the memory of a run on the first checked before any runs
    (its steps: the largest T, else the data's own length or the default steps)."""
    for i, b in enumerate(batches):
        if i == 0:
            given = None if T is None else time_steps(T)[-1]
            own = batch_steps(sim.graph, b.x.shape)
            check_memory(sim, int(b.x.shape[0]), given or own or max(DEFAULT_STEPS), limit)
        yield b.x, b.y


def measure_lossy(
    original: Graph, mapped: Graph, data: Iterable[Any], T: Sequence[int], ann: Graph | None = None
) -> LossyReport:
    """Simulate a graph before and after lossy mappings and report the accuracy change per T."""
    batches = list(as_batches(data))
    before = simulate(original, batches, T, ann=ann)
    after = simulate(mapped, batches, T, ann=ann)
    metric = "accuracy" if before.labelled else "agreement_with_ann"
    return LossyReport(before.samples, metric, before.snn, after.snn)
