"""Per-channel histograms of a layer's ANN activations, mergeable by adding counts: the
percentile each channel's threshold starts from."""

from __future__ import annotations

import math

import torch

PER_OCTAVE = 16
LOW = 2.0**-16
BINS = 1 + 24 * PER_OCTAVE  # zeros (and values below LOW), then 24 octaves above LOW


def channel_histogram(z: torch.Tensor) -> torch.Tensor:
    """Counts of ``z`` (``[n, C, ...]``) per channel in log-spaced bins (:data:`BINS`).

    In place on one temporary (a layer's activations are the largest tensors here): the bin
    of each value, offset by its channel's ``c · BINS``, then one ``bincount``."""
    c = z.shape[1]
    b = z.clamp(min=LOW).log2_().sub_(math.log2(LOW)).mul_(PER_OCTAVE).floor_().add_(1)
    b = b.clamp_(1, BINS - 1).masked_fill_(~(z > LOW), 0).long()
    b += (torch.arange(c) * BINS).reshape(1, c, *([1] * (z.ndim - 2)))
    return torch.bincount(b.reshape(-1), minlength=c * BINS).reshape(c, BINS)


def channel_quantile(hist: torch.Tensor, q: float) -> torch.Tensor:
    """Per channel, the value below which a fraction ``q`` of the counts lies, rounded up to
    its bin's upper edge (within 4.4 %; at least the maximum for ``q = 1``); 0 when that is
    the bin of zeros."""
    cum = hist.cumsum(1).double()
    rank = (q * cum[:, -1:]).clamp(min=1)
    b = (cum < rank).sum(1)
    value = LOW * 2.0 ** (b.double() / PER_OCTAVE)
    return torch.where(b > 0, value, torch.zeros_like(value)).float()


def positions(shape: tuple[int, ...], rows: int, samples: int) -> torch.Tensor:
    """Evenly spaced positions per sample (the same for every channel and sample), enough
    for about ``rows`` rows per channel over ``samples`` samples."""
    size = math.prod(shape[1:])
    per = min(size, max(1, -(-rows // max(samples, 1))))
    return torch.linspace(0, size - 1, per).round().long()


def rows_at(v: torch.Tensor, temporal: bool, pos: torch.Tensor) -> torch.Tensor:
    """``[(T,) n, C, ...]`` at the kept positions as rows ``[(T,) n·P, C]``."""
    lead = 2 if temporal else 1
    c = v.shape[lead]
    flat = v.reshape(*v.shape[: lead + 1], -1)[..., pos]  # [(T,) n, C, P]
    flat = flat.movedim(lead, -1)  # [(T,) n, P, C]
    return flat.reshape(*v.shape[: lead - 1], -1, c)
