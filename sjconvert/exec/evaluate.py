"""The one accuracy loop: run an executor over labelled batches for ``max(T)`` steps (one
run gives every T) and score its predictions per T against the labels, or against the
ANN's predictions when the data has none."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from ..errors import InputError
from . import dist
from .reference import SimResult, Simulator


class Executor(Protocol):
    """Anything that runs a spiking graph like the reference simulator does."""

    def run(self, *xs: Any, T: int) -> SimResult: ...


@dataclass
class Evaluation:
    """Accuracy per T (and the ANN's), spikes per sample, timing."""

    samples: int
    steps: list[int]
    snn: dict[int, float]
    ann: float | None
    labelled: bool
    spikes_per_sample: float
    seconds: float
    per_layer_spikes: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "metric": "accuracy" if self.labelled else "agreement_with_ann",
            "ann": self.ann,
            "snn": {str(t): a for t, a in self.snn.items()},
            "spikes_per_sample": self.spikes_per_sample,
            "spikes_per_sample_per_layer": self.per_layer_spikes,
            "seconds": self.seconds,
        }


def time_steps(T: int | Iterable[int]) -> list[int]:
    """Sorted distinct time steps from one T or several; each must be a positive integer."""
    steps = sorted({int(t) for t in ([T] if isinstance(T, int) else T)})
    if not steps or steps[0] < 1:
        raise InputError(f"time steps must be positive integers, got {steps}")
    return steps


def evaluate(
    snn: Executor,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor | None]],
    T: int | Sequence[int],
    ann: Simulator | None = None,
    progress: Callable[[int], None] | None = None,
) -> Evaluation:
    """Score ``snn`` at every T in ``T`` on ``(x, y)`` batches (``y`` may be None)."""
    steps = time_steps(T)
    correct = dict.fromkeys(steps, 0)
    ann_correct, n, labelled = 0, 0, None
    layer_spikes: dict[str, float] = {}
    start = time.perf_counter()
    for x, y in batches:
        labelled = y is not None if labelled is None else labelled
        ref = y
        if ann is not None:
            ann_pred = ann.rate(x, keep=set())[ann.graph.outputs[0]].argmax(-1)
            ref = ann_pred if ref is None else ref
            ann_correct += int((ann_pred == ref).sum())
        if ref is None:
            raise InputError("data has no labels 'y' and there is no source ANN to agree with")
        res = snn.run(x, T=steps[-1])
        pred = res.output.argmax(-1)
        for t in steps:
            correct[t] += int((pred[t - 1] == ref).sum())
        for k, v in res.spikes.items():
            layer_spikes[k] = layer_spikes.get(k, 0.0) + v
        n += int(x.shape[0])
        if progress:
            progress(int(x.shape[0]))
    counts = dist.all_sum(torch.tensor([n, ann_correct, *correct.values()], dtype=torch.float64))
    n, ann_correct, *hits = (int(v) for v in counts)
    if n == 0:
        raise InputError("evaluation data is empty")
    layer_spikes = _merged(layer_spikes)
    labelled = _agreed(labelled)
    return Evaluation(
        n,
        steps,
        {t: h / n for t, h in zip(steps, hits, strict=True)},
        None if ann is None else ann_correct / n,
        bool(labelled),
        sum(layer_spikes.values()) / n,
        time.perf_counter() - start,
        {k: v / n for k, v in layer_spikes.items()},
    )


def _merged(spikes: dict[str, float]) -> dict[str, float]:
    """Spike totals summed over the shards of a sharded run (integer-valued: exact)."""
    out: dict[str, float] = {}
    for part in dist.gather(spikes):
        for k, v in part.items():
            out[k] = out.get(k, 0.0) + v
    return out


def _agreed(labelled: bool | None) -> bool | None:
    """Whether the data is labelled, as every shard that saw data says."""
    seen = {v for v in dist.gather(labelled) if v is not None}
    if len(seen) > 1:
        raise InputError("some batches have labels 'y' and some do not")
    return next(iter(seen), None)
