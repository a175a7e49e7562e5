"""Calibration: stream batches through the ANN once, keep a fixed-size summary per layer.

:class:`ActivationSummary` is a histogram over the float32 bit pattern: a positive float's
bits, read as an integer, grow with its value, so ``bits >> SHIFT`` puts it in one of
``2^(23 - SHIFT)`` equal-width buckets per octave (64 for SHIFT = 17), over the whole float
range. Zeros and negative values share bucket 0. The summary also keeps the exact count and
maximum. Its size never grows with the data, two summaries merge by adding counts (so
calibration can be sharded), and any quantile comes back within a relative error of
``2^-(24 - SHIFT)`` (0.8 %). One update is a shift, a clamp, a bincount and a max; the
bincount dominates (about 1.4 ns per value on 2 cores, a quarter of what a log-spaced
sketch with masked selection cost here).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import InputError
from ..exec import dist
from ..exec.reference import Simulator
from ..ir.graph import Graph

SHIFT = 17
NBINS = 1 << (31 - SHIFT)
REL_ERROR = 2.0 ** -(24 - SHIFT)


def _bucket_value(i: int) -> float:
    """Midpoint of bucket ``i`` (a float32 built from the middle bit pattern)."""
    bits = np.array([(i << SHIFT) | (1 << (SHIFT - 1))], dtype=np.int32)
    return float(bits.view(np.float32)[0])


@dataclass
class ActivationSummary:
    """Mergeable fixed-size summary of the values a layer produced."""

    count: int = 0
    max: float = 0.0
    hist: np.ndarray = field(default_factory=lambda: np.zeros(NBINS, np.int64))

    @property
    def nonpositive(self) -> int:
        """Values in bucket 0: zeros, negatives (and positives below 1.2e-38)."""
        return int(self.hist[0])

    def update(self, x: torch.Tensor) -> None:
        x = x.detach().reshape(-1).to(torch.float32).contiguous()
        if not x.numel():
            return
        idx = torch.bitwise_right_shift(x.view(torch.int32), SHIFT).clamp_(min=0)
        self.hist += torch.bincount(idx, minlength=NBINS).numpy()
        self.count += x.numel()
        self.max = max(self.max, float(x.max()))

    def reduced(self) -> ActivationSummary:
        """The summary of every shard's data in a sharded run (exact: counts add, the
        maximum is a maximum); itself in a single process."""
        totals = dist.all_sum(torch.from_numpy(np.append(self.hist, self.count)))
        peak = float(dist.all_max(torch.tensor(self.max, dtype=torch.float64)))
        return ActivationSummary(int(totals[-1]), peak, totals[:-1].numpy().copy())

    def merge(self, other: ActivationSummary) -> ActivationSummary:
        """The summary of both data sets (neither input is changed)."""
        return ActivationSummary(
            self.count + other.count, max(self.max, other.max), self.hist + other.hist
        )

    def quantile(self, q: float) -> float:
        """Value below which a fraction ``q`` of all values lies (non-positive ones count as
        0): the bucket's midpoint, capped at the exact maximum."""
        if self.count == 0:
            raise ValueError("empty summary")
        rank = q * self.count
        if rank <= self.nonpositive:
            return 0.0
        i = min(int(np.searchsorted(np.cumsum(self.hist), rank)), NBINS - 1)
        return min(_bucket_value(i), self.max)


def calibrate(
    graph: Graph,
    batches: Iterable[torch.Tensor],
    nodes: list[str],
    progress: Callable[[int], None] | None = None,
    signed: Collection[str] = (),
) -> dict[str, ActivationSummary]:
    """Run ``graph`` in ANN mode over ``batches`` and summarise the outputs of ``nodes``
    (of their magnitudes ``|x|`` for the nodes in ``signed``).

    Memory is one batch's activations plus one fixed-size summary per node.
    """
    program = Simulator(graph)
    summaries = {n: ActivationSummary() for n in nodes}
    seen = 0

    def observe(name: str, value: torch.Tensor) -> None:
        if name in summaries:
            summaries[name].update(value.abs() if name in signed else value)

    for x in batches:
        x = torch.as_tensor(x)
        if x.numel() == 0:
            continue
        if not torch.isfinite(x).all():
            raise InputError(f"calibration batch {seen} holds NaN or Inf")
        program.rate(x, keep=set(), observe=observe)
        seen += 1
        if progress:
            progress(int(x.shape[0]))
    if int(dist.all_sum(torch.tensor(seen))) == 0:
        raise InputError("calibration data is empty")
    return {n: s.reduced() for n, s in summaries.items()}


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
