"""Per-channel histograms of a layer's ANN activations, mergeable by adding counts: the
percentile each channel's threshold starts from."""

from __future__ import annotations

import math

import torch

PER_OCTAVE = 16
LOW = 2.0**-16
BINS = 1 + 24 * PER_OCTAVE  # zeros (and values below LOW), then 24 octaves above LOW


def channel_histogram(z: torch.Tensor) -> torch.Tensor:
    """Counts of ``z`` (``[n, C, ...]``) per channel in log-spaced bins (:data:`BINS`)."""
    c = z.shape[1]
    flat = z.transpose(0, 1).reshape(c, -1)
    b = torch.floor((torch.log2(flat.clamp(min=LOW)) - math.log2(LOW)) * PER_OCTAVE) + 1
    b = torch.where(flat > LOW, b.clamp_(1, BINS - 1), torch.zeros_like(b)).long()
    b += torch.arange(c).reshape(-1, 1) * BINS
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
