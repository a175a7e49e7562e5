"""Parity between the reference simulator and another executor (ONNX Runtime, a chip, ...).

For N samples run by both, with rates ``r`` ``[N, classes]`` and per-layer spike counts
``c_l`` ``[N]`` (spikes of layer ``l`` per sample over the T steps)::

    prediction agreement  = mean_n [argmax r_ref[n] = argmax r[n]]
    spike-count agreement = mean_{n, l} [c_ref,l[n] = c_l[n]]     (exact equality)
    max rate error        = max_{n, k} |r_ref[n, k] − r[n, k]|

:class:`ParityMeter` accumulates them over batches (an executor whose outputs are not rates,
a fixed-point chip model say, gives predictions alone: its rate error is ``None``);
:func:`reference_run` gives the reference side, with per-sample counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..ir.graph import Graph
from ..ops import events
from . import dist
from .evaluate import correct
from .reference import Simulator


@dataclass
class Agreement:
    """Agreement of one executor with the reference on ``samples`` samples."""

    samples: int
    prediction_agreement: float
    spike_count_agreement: float | None
    max_rate_error: float | None
    spikes_reference: float = 0.0
    spikes_other: float = 0.0
    layers: dict[str, float] = field(default_factory=dict)
    accuracy_reference: float | None = None
    accuracy: float | None = None
    layer_spikes_reference: dict[str, float] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        """Every rate and every spike count equal."""
        return self.max_rate_error == 0.0 and self.spike_count_agreement in (None, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "prediction_agreement": self.prediction_agreement,
            "spike_count_agreement": self.spike_count_agreement,
            "max_rate_error": self.max_rate_error,
            "spikes_per_sample_reference": self.spikes_reference,
            "spikes_per_sample": self.spikes_other,
            "spike_count_agreement_per_layer": self.layers,
            "spikes_per_sample_per_layer_reference": self.layer_spikes_reference,
            "accuracy_reference": self.accuracy_reference,
            "accuracy": self.accuracy,
            "identical": self.identical,
        }


class ParityMeter:
    """Streams batches of (reference, other) results into a :class:`Agreement`."""

    def __init__(self) -> None:
        self.n = 0
        self.agree = 0
        self.max_err: float | None = None
        self.equal: dict[str, int] = {}
        self.layer_spikes: dict[str, float] = {}
        self.spikes = [0.0, 0.0]
        self.correct = [0, 0]
        self.labelled = True

    def update(
        self,
        ref_rates: Any,
        rates: Any,
        ref_counts: dict[str, Any] | None = None,
        counts: dict[str, Any] | None = None,
        labels: Any = None,
    ) -> None:
        a, b = np.asarray(ref_rates, np.float64), np.asarray(rates, np.float64)
        if a.shape != b.shape:
            raise ValueError(f"rates of shape {a.shape} and {b.shape} cannot be compared")
        self.max_err = max(self.max_err or 0.0, float(np.abs(a - b).max(initial=0.0)))
        self.update_predictions(a.argmax(-1), b.argmax(-1), labels)
        if ref_counts is not None and counts is not None:
            self.update_counts(ref_counts, counts)

    def update_predictions(self, ref_pred: Any, pred: Any, labels: Any = None) -> None:
        """Predicted classes ``[N]`` of both sides (for executors without rates)."""
        a, b = np.asarray(ref_pred).reshape(-1), np.asarray(pred).reshape(-1)
        self.n += a.shape[0]
        self.agree += int((a == b).sum())
        if labels is None:
            self.labelled = False
        else:
            self.correct[0] += correct(a, labels)
            self.correct[1] += correct(b, labels)

    def update_counts(self, ref_counts: dict[str, Any], counts: dict[str, Any]) -> None:
        """Spikes per sample ``[N]`` per layer of both sides (the layers of ``ref_counts``)."""
        for layer, c_ref in ref_counts.items():
            c_ref, c = np.asarray(c_ref), np.asarray(counts[layer])
            self.equal[layer] = self.equal.get(layer, 0) + int((c_ref == c).sum())
            self.layer_spikes[layer] = self.layer_spikes.get(layer, 0.0) + float(c_ref.sum())
            self.spikes[0] += float(c_ref.sum())
            self.spikes[1] += float(c.sum())

    def reduced(self) -> ParityMeter:
        """This meter merged over the processes of a sharded run (each counted its own
        batches; every count is an integer, so the merge is exact). Itself in one process."""
        if dist.current().world == 1:
            return self
        merged = ParityMeter()
        for part in dist.gather(vars(self)):
            merged.n += part["n"]
            merged.agree += part["agree"]
            if part["max_err"] is not None:
                merged.max_err = max(merged.max_err or 0.0, part["max_err"])
            for k, v in part["equal"].items():
                merged.equal[k] = merged.equal.get(k, 0) + v
            for k, v in part["layer_spikes"].items():
                merged.layer_spikes[k] = merged.layer_spikes.get(k, 0.0) + v
            merged.spikes = [a + b for a, b in zip(merged.spikes, part["spikes"], strict=True)]
            merged.correct = [a + b for a, b in zip(merged.correct, part["correct"], strict=True)]
            merged.labelled = merged.labelled and (part["labelled"] or part["n"] == 0)
        return merged

    def result(self) -> Agreement:
        n = max(self.n, 1)
        layers = {k: v / n for k, v in self.equal.items()}
        acc = [c / n for c in self.correct] if self.labelled and self.n else [None, None]
        return Agreement(
            self.n,
            self.agree / n,
            (sum(self.equal.values()) / (n * len(layers))) if layers else None,
            self.max_err,
            self.spikes[0] / n,
            self.spikes[1] / n,
            layers,
            acc[0],
            acc[1],
            {k: v / n for k, v in self.layer_spikes.items()},
        )


def train_events(trains: dict[str, Any]) -> dict[str, Any]:
    """Events per sample ``[N]`` of each layer from its spike trains ``[T, N, ...]``
    (:func:`~sjconvert.ops.events` summed over the steps)."""
    return {k: events(v, v.shape[0], math.prod(v.shape[2:])).sum(0) for k, v in trains.items()}


def reference_run(
    graph: Graph, x: Any, T: int, sequence: bool | None = None, trains: bool = False
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Simulate ``graph`` on ``x``: ``(running rates [T, N, ...] of the first output,
    {layer: spikes per sample [N]}, {layer: spike trains [T, N, ...]} if ``trains``)``."""
    kept: dict[str, list[torch.Tensor]] = {}
    spiking = {n for n, node in graph if node.spiking and node.stateful}

    def observe(name: str, value: torch.Tensor, temporal: bool) -> None:
        if name in spiking:
            kept.setdefault(name, []).append(value.clone())

    res = Simulator(graph).run(
        torch.as_tensor(np.asarray(x)), T=T, sequence=sequence, observe=observe if trains else None
    )
    counts = {k: v.numpy() for k, v in res.counts.items()}
    return res.output.numpy(), counts, {k: torch.cat(v).numpy() for k, v in kept.items()}
