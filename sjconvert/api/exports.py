"""The Python API behind ``sjconvert to-onnx`` (:func:`export_onnx`) and the ``--verify`` of
``to-onnx`` and ``to-lynxi``: exported ONNX models run in ONNX Runtime against the reference
simulator on a data set (:func:`verify_exports`: one row per model, in the report
:func:`sjconvert.parity` gives). The ONNX packages are optional; every function that needs
them says so in one line. The Lynxi folder: :mod:`.lynxi`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import InputError
from ..exec.data_layout import is_sequence
from ..frontends.loading import as_batches, load_data
from ..ir.graph import Graph
from ..targets.lynxi import torch_dtype
from ..targets.onnx import require_onnx
from .report import ParityReport, Row

FORMS = ("unrolled", "step")
Progress = Callable[[int], None]


def export_onnx(
    snn: Graph, T: int = 8, form: str = "unrolled", dtype: str = "float32", sequence: bool = False
) -> Any:
    """The ONNX model (opset 17) of ``snn``: ``form="unrolled"`` runs ``T`` steps (rates out;
    ``sequence``: a ``[T·N, ...]`` step-major input, the default for a graph whose input is
    a sequence), ``form="step"`` one step with its state as inputs and outputs (float32,
    one step's input per call). Both carry per-layer spike counts."""
    check_onnx_form(form, dtype, sequence)
    from ..targets.onnx.export import export_step, export_unrolled

    if form == "step":
        return export_step(snn, counts=True)
    seq = sequence or is_sequence(snn)
    return export_unrolled(snn, T, dtype=dtype, sequence=seq, counts=True)


def check_onnx_form(form: str, dtype: str, sequence: bool) -> None:
    """Refuse an export :func:`export_onnx` cannot make, before any work; the ONNX packages
    must be installed."""
    if form not in FORMS:
        raise InputError(f"--form is unrolled or step, got {form!r}")
    if form == "step" and (dtype != "float32" or sequence):
        raise InputError(
            "--form step is float32 only and takes one step's input per call (no --sequence)"
        )
    torch_dtype(dtype)
    require_onnx()


def verify_exports(
    snn: Graph,
    models: Mapping[str, Any],
    data: Iterable[Any] | str,
    T: int,
    progress: Progress | None = None,
    time_major: bool = False,
) -> ParityReport:
    """Run each exported ONNX model of ``models`` (label → model) in ONNX Runtime beside the
    reference simulation of ``snn`` for ``T`` steps on ``data`` (batches, one tensor or
    ``(x, y)`` pair, or a data set named as the CLI takes it), one row per model.
    ``progress`` counts the samples each model has run."""
    require_onnx(purpose="--verify (ONNX Runtime)")
    from ..targets.onnx.parity import verify_onnx

    named = isinstance(data, (str, os.PathLike))
    source = load_data(data, time_major=time_major) if named else data
    batches = list(as_batches(source))
    if not batches:
        raise InputError(f"{getattr(source, 'name', 'verification data')}: data is empty")
    rows = []
    for label, model in models.items():
        start = time.perf_counter()
        agreement = verify_onnx(snn, model, batches, T, progress)
        seconds = time.perf_counter() - start
        rows.append(Row(label, T, "ok", agreement=agreement, seconds=seconds))
    first = rows[0].agreement
    samples = 0 if first is None else first.samples
    labelled = first is not None and first.accuracy is not None
    return ParityReport([T], samples, labelled, None, rows)
