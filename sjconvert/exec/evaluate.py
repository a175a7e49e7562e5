"""The one accuracy loop: run an executor over labelled batches for ``max(T)`` steps (one
run gives every T) and score its predictions per T against the labels, or against the
ANN's predictions when the data has none. Batches are sample-major (direct inputs
``[N, ...]`` or sequences ``[N, T, ...]``, see :mod:`.data_layout`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from ..errors import InputError
from ..ir.graph import Graph
from . import dist
from .cost import E_AC, E_MAC, macs, static_macs
from .data_layout import batch_steps, model_input
from .reference import SimResult, Simulator
from .workload import Workload, workload

DEFAULT_STEPS = (4, 8, 16, 32)  # for direct input; a sequence runs its own length


class Executor(Protocol):
    """Anything that runs a spiking graph like the reference simulator does."""

    graph: Graph

    def run(
        self, *xs: Any, T: int, sequence: bool | None = None, keep: Any = None
    ) -> SimResult: ...


@dataclass
class Cost:
    """Per inference (one sample) after T steps: spikes, synaptic operations (accumulates,
    spikes × fan-out) and the energy estimate; the static synapses' and the ANN's
    multiply-accumulates (:mod:`.cost`); the work that is not spike-driven and the share of
    all operations that is (:mod:`.workload`)."""

    spikes: dict[int, float]
    synops: dict[int, float]
    macs_static: float
    ann_macs: float
    work: Workload | None = None

    def energy(self, t: int) -> float:
        """Joules per inference after ``t`` steps: accumulates at ``E_AC``; static MACs,
        dense MACs and nonlinear evaluations (each step) at ``E_MAC``."""
        if self.work is None:
            return E_AC * self.synops[t] + E_MAC * self.macs_static
        w = self.work
        return E_AC * self.synops[t] + E_MAC * (w.static_ops + t * (w.dense_macs + w.evaluations))

    def spike_driven(self, t: int) -> float | None:
        """Share of the operations after ``t`` steps that is spike-driven."""
        return None if self.work is None else self.work.fraction(t, self.synops[t])

    @property
    def ann_energy(self) -> float:
        return E_MAC * self.ann_macs

    def to_dict(self) -> dict[str, Any]:
        return {
            "spikes": {str(t): v for t, v in self.spikes.items()},
            "synops": {str(t): v for t, v in self.synops.items()},
            "macs_static": self.macs_static,
            "energy_joules": {str(t): self.energy(t) for t in self.synops},
            "ann_macs": self.ann_macs,
            "ann_energy_joules": self.ann_energy,
            "pj_per_accumulate": E_AC * 1e12,
            "pj_per_mac": E_MAC * 1e12,
            "spike_driven_fraction": {str(t): self.spike_driven(t) for t in self.synops},
            "workload": None if self.work is None else self.work.to_dict(),
        }


@dataclass
class Evaluation:
    """Accuracy per T (and the ANN's), spikes per sample, cost per T, timing."""

    samples: int
    steps: list[int]
    snn: dict[int, float]
    ann: float | None
    labelled: bool
    spikes_per_sample: float
    seconds: float
    per_layer_spikes: dict[str, float] = field(default_factory=dict)
    cost: Cost | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "metric": "accuracy" if self.labelled else "agreement_with_ann",
            "ann": self.ann,
            "snn": {str(t): a for t, a in self.snn.items()},
            "spikes_per_sample": self.spikes_per_sample,
            "spikes_per_sample_per_layer": self.per_layer_spikes,
            "cost_per_sample": None if self.cost is None else self.cost.to_dict(),
            "seconds": self.seconds,
        }


def time_steps(T: int | Iterable[int]) -> list[int]:
    """Sorted distinct time steps from one T or several; each must be a positive integer."""
    steps = sorted({int(t) for t in ([T] if isinstance(T, int) else T)})
    if not steps or steps[0] < 1:
        raise InputError(f"time steps must be positive integers, got {steps}")
    return steps


def _check_labels(y: torch.Tensor | None, classes: int) -> None:
    """Labels must name classes the model has (``0 <= y < classes``)."""
    if y is None or not y.numel():
        return
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= classes:
        bad = low if low < 0 else high
        raise InputError(
            f"label {bad} is not a class of the model, which has {classes} "
            f"(labels 0..{classes - 1})"
        )


def correct(pred: Any, reference: Any) -> int:
    """How many predicted classes equal the reference classes (labels, or another model's
    predictions): every accuracy in sjconvert is counted here."""
    a = torch.as_tensor(np.asarray(pred)).reshape(-1)
    b = torch.as_tensor(np.asarray(reference)).reshape(-1)
    return int((a == b).sum())


def accuracy(model: Simulator, batches: Iterable[tuple[Any, Any]]) -> float | None:
    """The accuracy of a rate-coded graph (an ANN) on labelled direct-input batches ``(x,
    y)``, merged over the shards of a sharded run; None without samples."""
    hits = torch.zeros(2, dtype=torch.float64)
    for x, y in batches:
        pred = model.rate(torch.as_tensor(x), keep=set())[model.graph.outputs[0]].argmax(-1)
        hits += torch.tensor([correct(pred, y), len(pred)], dtype=torch.float64)
    right, n = (int(v) for v in dist.all_sum(hits))
    return right / n if n else None


def evaluate(
    snn: Executor,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor | None]],
    T: int | Sequence[int] | None = None,
    ann: Simulator | None = None,
    progress: Callable[[int], None] | None = None,
) -> Evaluation:
    """Score ``snn`` at every T in ``T`` on ``(x, y)`` batches (``y`` may be None). ``T``
    None: :data:`DEFAULT_STEPS` for a direct input, the data's length for sequences."""
    steps = None if T is None else time_steps(T)
    hits: dict[int, int] = {}
    ann_correct, ann_n, n, labelled = 0, 0, 0, None
    layer_spikes: dict[str, float] = {}
    per_t: torch.Tensor | None = None  # spikes, synops up to each T
    start = time.perf_counter()
    for x, y in batches:
        if steps is None:
            steps = time_steps(batch_steps(snn.graph, x.shape) or DEFAULT_STEPS)
        xs, seq = model_input(snn.graph, x, steps[-1])
        labelled = y is not None if labelled is None else labelled
        ref = y
        if ann is not None and not seq:  # an ANN rates a direct input only
            ann_pred = ann.rate(x, keep=set())[ann.graph.outputs[0]].argmax(-1)
            ref = ann_pred if ref is None else ref
            ann_correct += correct(ann_pred, ref)
            ann_n += int(x.shape[0])
        if ref is None:
            raise InputError("data has no labels 'y' and there is no source ANN to agree with")
        res = snn.run(xs, T=steps[-1], sequence=seq, keep=steps)
        _check_labels(y, res.output.shape[-1])
        pred = res.output.argmax(-1)
        for i, t in enumerate(steps):
            hits[t] = hits.get(t, 0) + correct(pred[i], ref)
        for k, v in res.spikes.items():
            layer_spikes[k] = layer_spikes.get(k, 0.0) + v
        per_t = _cumulative(res, steps) + (0.0 if per_t is None else per_t)
        n += int(x.shape[0])
        if progress:
            progress(int(x.shape[0]))
    steps = steps or time_steps(DEFAULT_STEPS)  # a shard without batches counts nothing
    per_t = torch.zeros(2, len(steps), dtype=torch.float64) if per_t is None else per_t
    local = [n, ann_n, ann_correct, *(hits.get(t, 0) for t in steps)]
    n, ann_n, ann_correct, *right = (int(v) for v in dist.all_sum(torch.tensor(local).double()))
    if n == 0:
        raise InputError("evaluation data is empty")
    layer_spikes = _merged(layer_spikes)
    labelled = _agreed(labelled)
    per_t = dist.all_sum(per_t) / n
    return Evaluation(
        n,
        steps,
        {t: h / n for t, h in zip(steps, right, strict=True)},
        ann_correct / ann_n if ann_n else None,
        bool(labelled),
        sum(layer_spikes.values()) / n,
        time.perf_counter() - start,
        {k: v / n for k, v in layer_spikes.items()},
        _cost(snn, steps, per_t),
    )


def _cumulative(res: SimResult, steps: list[int]) -> torch.Tensor:
    """Spikes and synaptic operations summed over the batch and layers up to each T."""
    out = torch.zeros(2, len(steps), dtype=torch.float64)
    for row, table in enumerate((res.spikes_at, res.synops)):
        for v in table.values():
            out[row] += v.double().sum(1)[[res.at(t) for t in steps]]
    return out


def _cost(snn: Executor, steps: list[int], per_t: torch.Tensor) -> Cost | None:
    """The cost per T of an executor that counts synaptic operations."""
    graph = getattr(snn, "graph", None)
    if graph is None:
        return None
    spikes = {t: float(v) for t, v in zip(steps, per_t[0], strict=True)}
    synops = {t: float(v) for t, v in zip(steps, per_t[1], strict=True)}
    return Cost(spikes, synops, float(static_macs(graph)), float(macs(graph)), workload(graph))


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
