"""Run exported SNNs in ONNX Runtime (CPU), the independent executor for parity checks."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort

from ...errors import InputError
from .export import initial_state


def session(model: onnx.ModelProto, threads: int = 0) -> ort.InferenceSession:
    """A CPU session for ``model`` (``threads`` intra-op threads; 0: ONNX Runtime's choice)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _input_dtype(sess: ort.InferenceSession) -> np.dtype:
    kind = sess.get_inputs()[0].type
    return np.dtype(np.float16) if "float16" in kind else np.dtype(np.float32)


def run_unrolled(
    sess: ort.InferenceSession, x: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(rates [N, ...] of the first output, {layer: spikes per sample [N]})`` of an
    unrolled model (layers only when it was exported with ``counts``)."""
    names = [o.name for o in sess.get_outputs()]
    feed = {sess.get_inputs()[0].name: np.asarray(x).astype(_input_dtype(sess))}
    outs = dict(zip(names, sess.run(None, feed), strict=True))
    counts = {k.split("/", 1)[1]: v for k, v in outs.items() if k.startswith("spikes/")}
    return outs[names[0]].astype(np.float32), counts


def run_steps(
    sess: ort.InferenceSession,
    model: onnx.ModelProto,
    x: np.ndarray,
    T: int,
    sequence: bool = False,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Run a step model ``T`` steps on the direct input ``x`` ``[N, ...]`` (or, with
    ``sequence``, ``x[t]`` of ``[T, N, ...]`` at step ``t``): the rates of the first output
    after every step ``[T, N, ...]`` and per-layer spikes ``[T, N, ...]``."""
    if T < 1:
        raise InputError(f"T must be >= 1, got {T}")
    if sequence and len(x) < T:
        raise InputError(f"the sequence holds {len(x)} steps; cannot run T={T} steps")
    state = initial_state(model, int(x.shape[1 if sequence else 0]))
    names = [o.name for o in sess.get_outputs()]
    feed_names = [i.name for i in sess.get_inputs()]
    rates, spikes = [], {}
    for t in range(T):
        feed = {feed_names[0]: np.ascontiguousarray(x[t]) if sequence else x, **state}
        outs = dict(zip(names, sess.run(None, feed), strict=True))
        state = {k: outs[f"{k}:next"] for k in feed_names[1:]}
        rates.append(outs[names[0]])
        for k, v in outs.items():
            if k.startswith("spikes:"):
                spikes.setdefault(k.split(":", 1)[1], []).append(v)
    return np.stack(rates), {k: np.stack(v) for k, v in spikes.items()}
