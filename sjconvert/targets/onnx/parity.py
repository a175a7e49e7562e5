"""Run exported ONNX models in ONNX Runtime beside the reference simulator and measure
their agreement (:mod:`sjconvert.verify`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import onnx

from ...errors import InputError
from ...exec.data_layout import model_input
from ...exec.parity import Agreement, ParityMeter, reference_run, train_events
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
    (sample-major: direct input ``[N, ...]`` or sequences ``[N, T', ...]``). A step model
    takes them one step at a time; an unrolled model exported for sequences takes them
    step-major ``[T·N, ...]`` (a direct input repeated every step)."""
    props = {p.key: p.value for p in model.metadata_props}
    form = props.get("sjconvert.form", "unrolled")
    takes_sequence = form == "unrolled" and props.get("sjconvert.sequence") == "true"
    sess = session(model)
    meter = ParityMeter()
    for b in data:
        x, seq = model_input(graph, b.x.numpy(), T)  # [N, ...] or [T, N, ...]
        if seq and form == "unrolled" and not takes_sequence:
            raise InputError(
                "the ONNX model was exported for a direct input [N, ...]; sequence data needs "
                "an export for sequences (--sequence)"
            )
        ref_rates, ref_counts, _ = reference_run(graph, x, T, sequence=seq)
        counts: dict[str, Any]
        if form == "step":
            rates_t, trains = run_steps(sess, model, x, T, sequence=seq)
            rates = rates_t[-1]
            counts = train_events(trains)
        else:
            if takes_sequence:
                steps = x if seq else np.broadcast_to(x, (T, *x.shape))
                x = steps.reshape(-1, *steps.shape[2:])  # step-major [T·N, ...]
            rates, counts = run_unrolled(sess, x)
        meter.update(ref_rates[-1], rates, ref_counts, counts or None, b.y)
        if progress:
            progress(int(b.x.shape[0]))
    return meter.result()
