"""Measure a Loihi 2 network built by :func:`~.lava.build_lava` on labelled data
(``to-lava --verify``): accuracy of the ANN, the float SNN and our fixed-point simulator
through the one accuracy loop (:func:`~sjconvert.exec.evaluate.evaluate`, with our
fixed-point simulator and Lava's as executors), and Lava against our fixed point, message
for message, on the first samples."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..exec.data_layout import batch_steps
from ..exec.evaluate import evaluate
from ..exec.reference import SimResult, Simulator
from ..frontends.loading import load_data
from ..ir.graph import Graph
from ..targets.lava.build import LoihiExport, predict_fixed_point
from ..targets.lava.verification import LavaCheck, check_in_lava, merged
from .lava import LavaBuild

__all__ = ["FixedPointRun", "LavaRun", "VerifyData", "load_verify_data", "verify_lava"]

BATCH = 256  # samples per accuracy batch


@dataclass
class VerifyData:
    """Labelled ``--verify`` data, sample-major (``[N, ...]`` direct inputs, ``[N, T, ...]``
    sequences: :meth:`fit` says which for a graph)."""

    x: np.ndarray
    y: np.ndarray
    sequence: bool = False

    def fit(self, snn: Graph) -> VerifyData:
        """This data as ``snn`` takes it (direct inputs or sequences)."""
        return VerifyData(self.x, self.y, batch_steps(snn, self.x.shape) is not None)

    def __len__(self) -> int:
        return len(self.x)

    def lava_count(self, lava_samples: int) -> int:
        """How many samples Lava runs."""
        return min(lava_samples, len(self))

    def batches(self, n: int | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The first ``n`` samples (all by default) in batches of :data:`BATCH`."""
        end = len(self) if n is None else n
        return [
            (torch.from_numpy(np.ascontiguousarray(self.x[i : min(i + BATCH, end)])),
             torch.from_numpy(np.asarray(self.y[i : min(i + BATCH, end)])))
            for i in range(0, end, BATCH)
        ]  # fmt: skip


def load_verify_data(spec: str, time_major: bool = False) -> VerifyData:
    """Labelled data for ``--verify``: arrays ``x`` and ``y`` (read before any work;
    :meth:`VerifyData.fit` matches them to the network)."""
    ds = load_data(spec, time_major=time_major)
    if ds.arrays is None or ds.arrays[1] is None:
        raise InputError(f"{spec}: --verify needs arrays x and labels y")
    x, y = ds.arrays
    return VerifyData(np.asarray(x, np.float32), np.asarray(y))


class FixedPointRun:
    """Our fixed-point simulation of an export as an executor of
    :func:`~sjconvert.exec.evaluate.evaluate` (its prediction at the last step)."""

    def __init__(self, exp: LoihiExport, graph: Graph) -> None:
        self.exp, self.graph = exp, graph
        self.predictions: list[np.ndarray] = []  # per batch, in order

    def predict(self, x: np.ndarray, sequence: bool) -> np.ndarray:
        pred = predict_fixed_point(self.exp, x, sequence)
        self.predictions.append(pred)
        return pred

    def run(
        self, x: torch.Tensor, T: int, sequence: bool | None = None, keep: Any = None
    ) -> SimResult:
        pred = self.predict(x.numpy(), bool(sequence))
        classes = int(np.prod(self.exp.graph.torch_shape_out()))
        one_hot = torch.nn.functional.one_hot(torch.from_numpy(pred), classes).float()
        steps = sorted(set(range(1, T + 1) if keep is None else keep))
        return SimResult({"y": one_hot.expand(len(steps), *one_hot.shape)}, steps=steps)


class LavaRun(FixedPointRun):
    """Lava's simulator on an export as an executor; each run's :class:`LavaCheck` (Lava
    against our fixed point on the same samples) is kept in :attr:`checks`."""

    def __init__(
        self,
        exp: LoihiExport,
        graph: Graph,
        progress: Callable[[int], None] | None = None,
        unroll: bool = False,
    ) -> None:
        super().__init__(exp, graph)
        self.progress, self.unroll = progress, unroll
        self.checks: list[LavaCheck] = []

    def predict(self, x: np.ndarray, sequence: bool) -> np.ndarray:
        pg = self.exp.graph
        xs = pg.schedule(pg.encode(x), sequence=sequence)
        check = check_in_lava(self.exp, xs, self.progress, self.unroll)
        self.checks.append(check)
        return pg.predict_trace(check.lava)


def verify_lava(
    build: LavaBuild,
    data: VerifyData,
    lava_samples: int,
    progress: Callable[[int], None] | None = None,
    unroll: bool = False,
) -> dict[str, Any]:
    """Accuracies (ANN, float SNN, fixed point on all of ``data``; fixed point and Lava on
    the first ``lava_samples``) and Lava against the fixed point on those samples: message
    agreement per population, output state, predictions."""
    exp, snn, steps = build.export, build.snn, build.export.steps
    data = data.fit(snn)
    ann = Simulator(build.ann) if build.ann is not None and not data.sequence else None
    ref = evaluate(Simulator(snn), data.batches(), T=[steps], ann=ann)
    fixed_run = FixedPointRun(exp, snn)
    fixed = evaluate(fixed_run, data.batches(), T=[steps])
    result: dict[str, Any] = {
        "samples": len(data),
        "steps": steps,
        "format": exp.format,
        "snn_float": ref.snn[steps],
        "fixed_point": fixed.snn[steps],
        "fixed_point_seconds": fixed.seconds,
    }
    if ann is not None:
        result["ann"] = ref.ann
    k = data.lava_count(lava_samples)
    if k > 0:
        lava = LavaRun(exp, snn, progress, unroll)
        on_lava = evaluate(lava, data.batches(k), T=[steps])
        check = merged(exp.graph, lava.checks)  # one per batch of BATCH samples
        same = float(np.mean(np.concatenate(fixed_run.predictions)[:k] == data.y[:k]))
        result["lava"] = _lava_report(check, k, on_lava.snn[steps], same)
    return result


def _lava_report(check: LavaCheck, k: int, accuracy: float, fixed: float) -> dict[str, Any]:
    extra = (
        {}
        if check.twin_equals_network is None
        else {"twin_equals_network": check.twin_equals_network}
    )
    return {
        "samples": k,
        "samples_compared": int(check.lava.state.shape[1]),  # Lava's state: [T, N, ...]
        "network": check.network,
        **extra,
        "seconds": check.lava.seconds,  # Lava's runs, summed
        "wall_seconds": check.wall_seconds,
        "workers": check.workers,
        "build_seconds": check.lava.extra["build_seconds"],
        "actors": "threads" if check.lava.extra.get("threads") else "processes",
        "samples_per_minute": 60 * k / max(check.wall_seconds, 1e-9),
        "accuracy": accuracy,
        "fixed_point_accuracy": fixed,
        "spike_agreement": check.agreement.layers,
        "state_equal": check.agreement.state_equal,
        "prediction_agreement": check.agreement.predictions,
    }
