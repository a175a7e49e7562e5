"""Calibration: stream batches through the ANN once, keep a fixed-size summary per layer.

:class:`ActivationSummary` is a relative-error histogram sketch (in the manner of DDSketch):
positive values fall into log-spaced bins, ``BINS_PER_OCTAVE`` per factor of two over
``[2^LOW, 2^HIGH)``, plus an exact count of non-positive values and the exact maximum.
Its size never grows with the data, two summaries merge by adding counts (so calibration
can be sharded), and any quantile is returned within a relative error of
``2^(1/(2·BINS_PER_OCTAVE)) − 1`` (about 0.5 %).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import InputError
from ..ir.graph import Graph

BINS_PER_OCTAVE = 64
LOW, HIGH = -40, 40
NBINS = (HIGH - LOW) * BINS_PER_OCTAVE


@dataclass
class ActivationSummary:
    """Mergeable fixed-size summary of the values a layer produced."""

    count: int = 0
    nonpositive: int = 0
    max: float = 0.0
    hist: np.ndarray = field(default_factory=lambda: np.zeros(NBINS, np.int64))

    def update(self, x: torch.Tensor) -> None:
        x = x.detach().reshape(-1)
        pos = x[x > 0]
        self.count += x.numel()
        self.nonpositive += x.numel() - pos.numel()
        if pos.numel():
            self.max = max(self.max, float(pos.max()))
            idx = torch.log2(pos).mul_(BINS_PER_OCTAVE).floor_()
            idx = idx.clamp_(LOW * BINS_PER_OCTAVE, HIGH * BINS_PER_OCTAVE - 1)
            idx = idx.sub_(LOW * BINS_PER_OCTAVE).to(torch.int64)
            self.hist += torch.bincount(idx, minlength=NBINS).numpy()

    def merge(self, other: ActivationSummary) -> ActivationSummary:
        """The summary of both data sets (neither input is changed)."""
        return ActivationSummary(
            self.count + other.count,
            self.nonpositive + other.nonpositive,
            max(self.max, other.max),
            self.hist + other.hist,
        )

    def quantile(self, q: float) -> float:
        """Value below which a fraction ``q`` of all values lies (non-positive ones count as
        0); the geometric midpoint of the bin, capped at the exact maximum."""
        if self.count == 0:
            raise ValueError("empty summary")
        rank = q * self.count
        if rank <= self.nonpositive:
            return 0.0
        i = int(np.searchsorted(np.cumsum(self.hist), rank - self.nonpositive))
        i = min(i, NBINS - 1)
        value = 2.0 ** ((i + 0.5) / BINS_PER_OCTAVE + LOW)
        return min(value, self.max)

    def to_dict(self) -> dict[str, object]:
        nz = np.nonzero(self.hist)[0]
        return {
            "count": self.count,
            "nonpositive": self.nonpositive,
            "max": self.max,
            "bins": nz.tolist(),
            "counts": self.hist[nz].tolist(),
        }


def calibrate(
    graph: Graph,
    batches: Iterable[torch.Tensor],
    nodes: list[str],
    progress: Callable[[int], None] | None = None,
) -> dict[str, ActivationSummary]:
    """Run ``graph`` in ANN mode over ``batches`` and summarise the outputs of ``nodes``.

    Memory is one batch's activations plus one fixed-size summary per node.
    """
    from ..sim.reference import Program

    program = Program(graph)
    summaries = {n: ActivationSummary() for n in nodes}
    seen = 0
    for x in batches:
        x = torch.as_tensor(x)
        if x.numel() == 0:
            continue
        if not torch.isfinite(x).all():
            raise InputError(f"calibration batch {seen} holds NaN or Inf")
        values = program.ann(x, keep=set(nodes))
        for n in nodes:
            summaries[n].update(values[n])
        seen += 1
        if progress:
            progress(int(x.shape[0]))
    if seen == 0:
        raise InputError("calibration data is empty")
    return summaries


def parse_mode(mode: str | float) -> tuple[str, float]:
    """``"max"`` → max; ``"99.9%"`` → percentile 0.999; a number in (0, 1] → scale·max."""
    text = str(mode).strip()
    try:
        if text == "max":
            return "max", 1.0
        if text.endswith("%"):
            p = float(text[:-1]) / 100.0
            if 0.0 < p <= 1.0:
                return "percentile", p
        else:
            s = float(text)
            if 0.0 < s <= 1.0 and math.isfinite(s):
                return "scale", s
    except ValueError:
        pass
    raise InputError(
        f"normalisation mode {text!r} not understood: use 'max', a percentile such as "
        "'99.9%', or a scale in (0, 1]"
    )


def statistic(summary: ActivationSummary, mode: str | float) -> float:
    """The layer's normalisation factor λ for ``mode`` (see :func:`parse_mode`)."""
    kind, value = parse_mode(mode)
    if kind == "percentile":
        return summary.quantile(value)
    return summary.max * value
