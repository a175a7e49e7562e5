"""Run exported ONNX models in ONNX Runtime beside the reference simulator and measure
their agreement (:mod:`sjconvert.verify`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import onnx

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
    reference simulation of ``graph`` for ``T`` steps on every batch of ``data`` (direct
    input ``[N, ...]``)."""
    form = {p.key: p.value for p in model.metadata_props}.get("sjconvert.form", "unrolled")
    sess = session(model)
    meter = ParityMeter()
    for b in data:
        x = b.x.numpy()
        ref_rates, ref_counts, _ = reference_run(graph, x, T)
        counts: dict[str, Any]
        if form == "step":
            rates_t, trains = run_steps(sess, model, x, T)
            rates = rates_t[-1]
            counts = {k: v.reshape(T, v.shape[1], -1).sum((0, 2)) for k, v in trains.items()}
        else:
            rates, counts = run_unrolled(sess, x)
        meter.update(ref_rates[-1], rates, ref_counts, counts or None, b.y)
        if progress:
            progress(int(b.x.shape[0]))
    return meter.result()
