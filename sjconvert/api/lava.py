"""The Python API behind ``sjconvert to-lava``: a model (or an SNN file) to a Loihi 2 network
(:func:`build_lava`), written atomically (:meth:`LavaBuild.write`), and measured on labelled
data (:func:`verify_lava`): accuracy of the ANN, the float SNN and our fixed-point
simulator through the one accuracy loop (:func:`~sjconvert.exec.evaluate.evaluate`), and
Lava's simulator against our fixed point, message for message, on the first samples."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..exec.data_layout import batch_steps
from ..exec.evaluate import evaluate
from ..exec.reference import SimResult, Simulator
from ..frontends.loading import DataSource, load_data
from ..ir.graph import Graph
from ..targets.lava.build import LoihiExport, choose_alpha, predict_fixed_point, to_loihi
from ..targets.lava.verification import LavaCheck, check_in_lava
from .convert import PLAIN, is_plain, open_snn

BATCH = 256  # samples per accuracy batch


def parse_alpha(text: str | float) -> float | None:
    """``--alpha``: a number in (0, 1], or None for ``auto``."""
    if text == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"--alpha takes 'auto' or a number, got {text!r}") from None
    if not 0 < value <= 1:
        raise InputError(f"--alpha must be in (0, 1], got {value}")
    return value


def input_max(batches: Iterable[Any]) -> float:
    """``max |x|`` over a data set's batches."""
    return max(float(np.abs(np.asarray(b.x)).max()) for b in batches)


@dataclass
class LavaBuild:
    """A Loihi 2 network ready to write: the export, the SNN it stands for and its source
    ANN, the threshold factor and the accuracy per factor it was chosen on."""

    export: LoihiExport
    snn: Graph
    ann: Graph | None
    alpha: float
    alpha_calibration: dict[str, float] | None = None
    files: list[Path] = field(default_factory=list)

    def write(self, path: str | os.PathLike[str]) -> list[Path]:
        """Write the network (see :meth:`LoihiExport.write`); returns the files."""
        self.files = self.export.write(path)
        return self.files

    def report(self) -> dict[str, Any]:
        """What ``to-lava --json`` prints (before verification)."""
        net = self.export.net
        return {
            "output": [str(f) for f in self.files],
            "format": self.export.format,
            "neuron": net.model,
            "alpha": self.alpha,
            "alpha_calibration": self.alpha_calibration,
            "input_scale": net.input_scale,
            "layers": net.facts,
        }


def build_lava(
    model: Any,
    calib: str | DataSource | None = None,
    steps: int = 32,
    *,
    reset: str = "hard",
    neuron: str = "auto",
    fmt: str = "auto",
    alpha: str | float = "auto",
    arch: str | None = None,
    trust: bool = False,
    time_major: bool = False,
) -> LavaBuild:
    """Quantise an SNN — or an ANN, converted first on ``calib`` — for Loihi 2.

    An ANN is converted to plain IF neurons without the rate-code calibration of
    ``ann2snn``'s default (the sigma-delta mapping reads the ANN's activations; CUBA needs
    ``V[-1] = 0``); an SNN converted with the default is converted again from its stored
    source ANN when ``calib`` is given. ``alpha="auto"`` picks the CUBA threshold factor
    on the first calibration batch (1 without data or need)."""
    fixed = parse_alpha(alpha)
    data = load_data(calib, time_major=time_major) if isinstance(calib, str) else calib
    snn, ann = open_snn(model, data, arch=arch, trust=trust, **PLAIN)
    if not is_plain(snn) and ann is not None and data:
        snn, ann = open_snn(ann, data, **PLAIN)  # the plain conversion of the source
    x_max = 1.0 if data is None else input_max(data)
    factor, table = (
        (fixed, None) if fixed is not None else _alpha(snn, ann, data, steps, x_max, neuron)
    )
    exp = to_loihi(snn, steps, x_max=x_max, reset=reset, model=neuron, fmt=fmt, alpha=factor)
    return LavaBuild(exp, snn, ann, factor, table)


def _alpha(
    snn: Graph, ann: Graph | None, data: DataSource | None, steps: int, x_max: float, model: str
) -> tuple[float, dict[str, float] | None]:
    """The threshold factor picked on the first calibration batch (1 without data or need)."""
    if data is None:
        return 1.0, None
    batch = data.first()
    y = None if batch.y is None else batch.y.numpy()
    choice = choose_alpha(snn, ann, batch.x.numpy(), y, steps, x_max, model)
    if choice is None:
        return 1.0, None
    return choice.alpha, {str(a): acc for a, acc in choice.accuracy.items()}


@dataclass
class VerifyData:
    """Labelled ``--verify`` data, sample-major (``[N, ...]`` direct inputs, ``[N, T, ...]``
    sequences)."""

    x: np.ndarray
    y: np.ndarray
    sequence: bool

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


def load_verify_data(spec: str, snn: Graph, time_major: bool = False) -> VerifyData:
    """Labelled data for ``--verify``: arrays ``x`` and ``y`` that fit ``snn``'s input."""
    ds = load_data(spec, time_major=time_major)
    if ds.arrays is None or ds.arrays[1] is None:
        raise InputError(f"{spec}: --verify needs arrays x and labels y")
    x, y = ds.arrays
    x = np.asarray(x, np.float32)
    return VerifyData(x, np.asarray(y), batch_steps(snn, x.shape) is not None)


class FixedPointRun:
    """Our fixed-point simulation of an export as an executor of
    :func:`~sjconvert.exec.evaluate.evaluate` (its prediction at the last step)."""

    def __init__(self, exp: LoihiExport, graph: Graph) -> None:
        self.exp, self.graph = exp, graph

    def predict(self, x: np.ndarray, sequence: bool) -> np.ndarray:
        return predict_fixed_point(self.exp, x, sequence)

    def run(self, x: torch.Tensor, T: int, sequence: bool | None = None) -> SimResult:
        pred = self.predict(x.numpy(), bool(sequence))
        classes = int(np.prod(self.exp.graph.torch_shape_out()))
        one_hot = torch.nn.functional.one_hot(torch.from_numpy(pred), classes).float()
        return SimResult({"y": one_hot.expand(T, *one_hot.shape)})


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
    ann = Simulator(build.ann) if build.ann is not None and not data.sequence else None
    ref = evaluate(Simulator(snn), data.batches(), T=[steps], ann=ann)
    fixed = evaluate(FixedPointRun(exp, snn), data.batches(), T=[steps])
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
        same = evaluate(FixedPointRun(exp, snn), data.batches(k), T=[steps])
        result["lava"] = _lava_report(lava.checks[0], k, on_lava.snn[steps], same.snn[steps])
    return result


def _lava_report(check: LavaCheck, k: int, accuracy: float, fixed: float) -> dict[str, Any]:
    extra = (
        {}
        if check.twin_equals_network is None
        else {"twin_equals_network": check.twin_equals_network}
    )
    return {
        "samples": k,
        "network": check.network,
        **extra,
        "seconds": check.lava.seconds,
        "build_seconds": check.lava.extra["build_seconds"],
        "samples_per_minute": 60 * k / check.lava.seconds,
        "accuracy": accuracy,
        "fixed_point_accuracy": fixed,
        "spike_agreement": check.agreement.layers,
        "state_equal": check.agreement.state_equal,
        "prediction_agreement": check.agreement.predictions,
    }
