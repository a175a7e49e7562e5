"""Where samples and time steps sit in data, and what the executors take.

Data — ``.npz`` / ``.pt`` files, data functions, API batches — is *sample-major*: axis 0
holds the samples, and batching splits it. Labels ``y`` are ``[N]`` in every form.

* direct input: ``x`` is ``[N, *shape]``, one value per sample, presented at every step;
* sequence: ``x`` is ``[N, T, *shape]``, one value per sample and step, as event-camera
  datasets store frames.

SpikingJelly's multi-step convention is *time-major*, ``[T, N, *shape]``; ``--time-major``
(``time_major=True``) reads it by swapping the first two axes once, when the data is loaded
(:func:`sample_major`). Either form runs on any graph; the form a graph was made for is
recorded on its input (``sequence``: a multi-step SpikingJelly model, as captured), which
the executors assume when not told and exports take by default. :func:`batch_steps` reads
which form a batch has; the executors take ``[N, *shape]`` or ``[T, N, *shape]``
(:func:`model_input`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch

from ..errors import InputError
from ..ir.graph import Graph

Array = TypeVar("Array", np.ndarray, torch.Tensor)


def is_sequence(graph: Graph) -> bool:
    """Whether the graph's inputs are sequences ``[T, N, ...]`` (recorded on its inputs)."""
    return any(getattr(graph.nodes[n], "sequence", False) for n in graph.inputs)


def sample_major(x: Array, time_major: bool) -> Array:
    """``x`` with samples on axis 0: time-major ``[T, N, ...]`` data has its first two
    axes swapped (a view, nothing is copied); other data is returned as it is."""
    if not time_major:
        return x
    if x.ndim < 3:
        raise InputError(
            f"time-major data is [T, N, ...] with per-step values; 'x' has shape {list(x.shape)}"
        )
    return x.swapaxes(0, 1)


def count_mismatch(x_shape: Sequence[int], labels: int, time_major: bool) -> str:
    """Why ``x`` (sample-major) and ``y`` disagree, with a hint when ``x`` looks time-major."""
    msg = f"'x' has {x_shape[0]} samples but 'y' has {labels}"
    if not time_major and len(x_shape) >= 3 and x_shape[1] == labels:
        msg += (
            f"; 'x' looks time-major [T={x_shape[0]}, N={labels}, ...] (SpikingJelly's "
            "multi-step layout): pass --time-major (API: time_major=True)"
        )
    return msg


def _dims(shape: Sequence[int]) -> str:
    return ", ".join(map(str, shape))


def batch_steps(graph: Graph, shape: Sequence[int]) -> int | None:
    """The steps held by a sample-major batch of ``shape`` for ``graph``'s input (per-step
    shape ``s``): None for a direct input ``[N, *s]``, ``T`` for sequences ``[N, T, *s]``.
    Any other shape is refused with one line naming the forms."""
    want = tuple(graph.nodes[graph.inputs[0]].shape)  # type: ignore[attr-defined]
    got = tuple(int(d) for d in shape)
    if len(got) == len(want) + 1 and got[1:] == want:
        return None
    if len(got) == len(want) + 2 and got[2:] == want:
        return got[1]
    s = _dims(want)
    sequences = (
        f"[N, T, {s}] (sequences, sample-major as event datasets store frames) or "
        f"[T, N, {s}] (sequences, time-major, with --time-major)"
    )
    direct = f"[N, {s}] (a direct input, the same at every step)"
    forms = f"{sequences}, or {direct}" if is_sequence(graph) else f"{direct}, {sequences}"
    raise InputError(
        f"data 'x' of shape {list(got)} fits none of the model's input forms: {forms}; "
        f"per-step input shape [{s}]{layout_hint(got[1:], want)}"
    )


def layout_hint(sample: Sequence[int], want: Sequence[int]) -> str:
    """A hint when per-sample data of shape ``sample`` is the wanted channels-first shape
    ``want`` (``[C, ...]``) with its channels last (``[..., C]``, as NHWC images are), else
    ''."""
    sample, want = tuple(sample), tuple(want)
    if len(want) < 2 or len(sample) != len(want) or sample == want:
        return ""
    if sample != (*want[1:], want[0]):
        return ""
    names = {
        3: ("NHWC", "NCHW", "x.transpose(0, 3, 1, 2)"),
        2: ("NLC", "NCL", "x.transpose(0, 2, 1)"),
    }
    seen, need, fix = names.get(len(want), ("channels last", "channels first", "move axis -1 to 1"))
    return (
        f"; it looks channels-last ({seen}, [N, {_dims(sample)}]) while the model takes "
        f"channels first ({need}, [N, {_dims(want)}]): transpose it, e.g. {fix}"
    )


def model_input(graph: Graph, x: Array, T: int) -> tuple[Array, bool]:
    """A sample-major batch as the executors take it, and whether it is a sequence:
    ``[N, *s]`` for a direct input, or the first ``T`` steps of sequences as
    ``[T, N, *s]`` (a view). Sequences shorter than ``T`` steps are refused."""
    steps = batch_steps(graph, x.shape)
    if steps is None:
        return x, False
    if steps < T:
        raise InputError(f"the data holds sequences of {steps} steps; cannot run T={T} steps")
    return x[:, :T].swapaxes(0, 1), True
