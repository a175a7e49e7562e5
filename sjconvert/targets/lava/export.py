"""The Python API behind ``sjconvert to-lava``: prepare, quantise and lower a spiking graph,
then measure it (ANN, float SNN, our fixed-point simulator, Lava on a subset)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...errors import EmitError, InputError, UnsupportedOpError
from ...exec.data_layout import model_input
from ...exec.reference import Simulator
from ...ir.graph import Graph
from ...passes import remove_identities, run_pipeline
from .fixed_point import LoihiNet, run
from .lower import REGISTRY, lower
from .netx import write_netx
from .pool import foldable, fuse_avgpool
from .quantize import quantize_loihi
from .sdnn import quantize_sdnn
from .verify import compare, predict, run_lava

INPUT_MAX = 127  # graded input messages: 8-bit signed


NEURON_MODELS = ("auto", "cuba", "sdnn")


def choose_model(snn: Graph) -> str:
    """``cuba`` when every neuron already is a hard-reset-to-0 neuron starting from 0
    (SpikingJelly-trained SNNs), else ``sdnn`` (ANN conversions: soft-reset IF)."""
    exact = all(
        node.v_reset == 0.0 and not np.any(np.asarray(node.v_init))
        for _, node in snn
        if node.spiking and node.stateful
    )
    return "cuba" if exact else "sdnn"


def to_loihi(
    snn: Graph, steps: int, x_max: float = 1.0, reset: str = "hard", model: str = "auto"
) -> tuple[Graph, LoihiNet]:
    """Drop inference identities (Dropout, Identity), fold pooling, quantise (input
    ``|x| <= x_max`` → ``[-127, 127]``) for CUBA or sigma-delta neurons (``model``;
    ``auto``: :func:`choose_model`) and lower."""
    if model not in NEURON_MODELS:
        raise InputError(f"neuron model must be one of {NEURON_MODELS}, got {model!r}")
    missing = [
        f"{snn.where(n)} ({node.op})"
        for n, node in snn
        if REGISTRY.get(node) is None and not foldable(node) and not node.identity
    ]
    if missing:
        raise UnsupportedOpError(
            f"NetX (a chain of dense/conv layers) cannot express {', '.join(missing)}; "
            f"supported: {', '.join(REGISTRY.ops())} and foldable average pooling"
        )
    if x_max <= 0:
        raise InputError(f"the input range must be positive, got max |x| = {x_max}")
    model = choose_model(snn) if model == "auto" else model
    target_t = snn.meta.get("normalisation", {}).get("target_T")
    if model == "sdnn" and target_t is not None:
        raise EmitError(
            f"this SNN was calibrated for rate-coded IF neurons at T={target_t} (clipped rates, "
            "shifted biases); the sigma-delta mapping needs the plain conversion: give the ANN "
            "with --calib, or convert with `sjconvert ann2snn --T 0 --v-init 0`"
        )
    quantise = (
        partial(quantize_sdnn, input_scale=INPUT_MAX / x_max)
        if model == "sdnn"
        else partial(
            quantize_loihi, input_scale=INPUT_MAX / x_max, steps=steps, x_max=x_max, reset=reset
        )
    )
    q = run_pipeline(snn, [remove_identities, fuse_avgpool, quantise])
    net = lower(q)
    settle = len(net.layers) + 1
    if model == "sdnn" and steps < settle:
        raise InputError(
            f"a sigma-delta network of {len(net.layers)} layers settles after {settle} steps "
            f"(one per layer and the input): use T >= {settle}, got {steps}"
        )
    return q, net


def input_max(batches: Iterable[Any]) -> float:
    """``max |x|`` over a data set's batches."""
    return max(float(np.abs(np.asarray(b.x)).max()) for b in batches)


def _accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(pred == y))


def measure_loihi(
    net: LoihiNet,
    snn: Graph,
    ann: Graph | None,
    x: np.ndarray,
    y: np.ndarray,
    steps: int,
    lava_samples: int,
) -> dict[str, Any]:
    """Accuracies (ANN, float SNN, fixed point on all of ``x``; fixed point and Lava on the
    first ``lava_samples``) and per-layer spike agreement between Lava and fixed point.
    ``x`` is sample-major: a direct input ``[N, ...]`` or sequences ``[N, T', ...]``
    (``T' >= steps``)."""
    xs, seq = model_input(snn, np.asarray(x, np.float32), steps)  # [N, ...] or [T, N, ...]
    xt = torch.as_tensor(np.ascontiguousarray(xs))
    result: dict[str, Any] = {"samples": len(x), "steps": steps}
    if ann is not None and not seq:
        result["ann"] = _accuracy(Simulator(ann).rate(xt)[ann.outputs[0]].argmax(-1).numpy(), y)
    result["snn_float"] = _accuracy(
        Simulator(snn).run(xt, T=steps, sequence=seq).output[-1].argmax(-1).numpy(), y
    )
    start = time.perf_counter()
    ours = run(net, net.encode(xs), steps, sequence=seq)
    result["fixed_point_seconds"] = time.perf_counter() - start
    result["fixed_point"] = _accuracy(predict(net, ours), y)
    if lava_samples <= 0:
        return result
    k = min(lava_samples, len(x))
    first = xs[:, :k] if seq else xs[:k]
    sub = run(net, net.encode(first), steps, sequence=seq)
    start = time.perf_counter()
    lava = run_lava_path(net, first, steps, sequence=seq)
    parity = compare(net, sub, lava)
    result["lava"] = {
        "samples": k,
        "seconds": time.perf_counter() - start,
        "accuracy": _accuracy(predict(net, lava), y[:k]),
        "fixed_point_accuracy": _accuracy(predict(net, sub), y[:k]),
        "spike_agreement": parity.layers,
        "voltage_equal": parity.voltage_equal,
        "prediction_agreement": parity.predictions_equal,
    }
    return result


def run_lava_path(net: LoihiNet, x: np.ndarray, steps: int, sequence: bool = False) -> Any:
    """Write ``net`` to a temporary NetX file and run ``x`` through it in Lava: a direct
    input ``[N, ...]`` or, with ``sequence``, ``[T, N, ...]``."""
    messages = net.encode(x) if sequence else net.schedule(net.encode(x), steps)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_netx(net, Path(tmp) / "net.net")
        return run_lava(path, messages, steps)
