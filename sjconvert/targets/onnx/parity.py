"""Run exported ONNX models in ONNX Runtime beside the reference simulator and measure
their agreement (:mod:`sjconvert.verify`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import onnx

from ...exec.data_layout import is_sequence, model_input
from ...exec.parity import Agreement, ParityMeter, reference_run
from ...ir.graph import Graph
from .runtime import run_steps, run_unrolled, session


def verify_onnx(
    graph: Graph,
    model: onnx.ModelProto,
    data: Iterable[Any],
    T: int,
    progress: Callable[[int], None] | None = None,
) -> Agreement:
    """Parity of ``model`` (unrolled or step, as exported by :mod:`.export`) with the
    reference simulation of ``graph`` for ``T`` steps on every batch of ``data``
    (sample-major: direct input ``[N, ...]``, or sequences ``[N, T', ...]`` for a graph
    whose input is a sequence; an unrolled model then takes them step-major ``[T·N, ...]``
    and a step model one step at a time)."""
    form = {p.key: p.value for p in model.metadata_props}.get("sjconvert.form", "unrolled")
    seq = is_sequence(graph)
    sess = session(model)
    meter = ParityMeter()
    for b in data:
        x = np.asarray(model_input(graph, b.x, T).numpy())  # [N, ...] or [T, N, ...]
        ref_rates, ref_counts, _ = reference_run(graph, x, T)
        counts: dict[str, Any]
        if form == "step":
            rates_t, trains = run_steps(sess, model, x, T, sequence=seq)
            rates = rates_t[-1]
            counts = {k: v.reshape(T, v.shape[1], -1).sum((0, 2)) for k, v in trains.items()}
        else:
            rates, counts = run_unrolled(sess, x.reshape(-1, *x.shape[2:]) if seq else x)
        meter.update(ref_rates[-1], rates, ref_counts, counts or None, b.y)
        if progress:
            progress(int(b.x.shape[0]))
    return meter.result()
