"""Max pooling on Loihi 2: a tree of ReLU populations over the pool's window.

Every max pool of a converted network pools *cumulative* values (``ann2snn``'s default,
:func:`sjconvert.passes.pools.accumulate_pools`): the pooled value after step ``t`` is
``M[t] = max_window A[t]`` with ``A[t] = Σ_{t' ≤ t} X[t']``, and the neuron after it gets
``ΔM[t] = M[t] − M[t−1]``. A Lava ``SigmaDelta`` ReLU neuron holds ``σ = Σ a`` and sends
the changes of ``relu(σ)`` exactly (threshold 0, exponents 0), so on cumulative values it
computes ``relu`` and a network of them computes the max exactly::

    max(u, v) = relu(u − v) + relu(v) − relu(−v)

One tree level pairs the values of the level before: per pair three ReLU channels
``[u − v, v, −v]`` (their signed sum is the pair's max), per odd value two, ``[w, −w]``
(whose difference is ``w``: it waits one step with the others). ``⌈log₂ k⌉`` levels reduce
a window of ``k`` taps to one value, each level one population (``group`` channels per
pooled channel) and one synapse hop; the first reads the pool's input through a grouped
convolution over the window, the others through 1×1 grouped convolutions.

Padding and ``ceil_mode`` windows read zeros where PyTorch reads −∞: harmless when the
pooled value only reaches a ReLU-like neuron after a start offset moved into the relay
(``relu(max(S ∪ {0})) = relu(max S)``; :mod:`.populations` folds it); ``ceil_mode`` extends
the kernel by ``s − 1`` leading zero taps with the padding grown by as much, so Lava's
symmetric padding yields PyTorch's output size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ....ir.nodes.pools import pooled_size

Ints = tuple[int, ...]


def tree(taps: int) -> tuple[list[np.ndarray], np.ndarray]:
    """The levels of a max tree over ``taps`` values: one coefficient matrix
    ``[channels, previous channels]`` per level (level 1 reads the taps), and the readout
    vector over the last level's channels whose dot product is the max."""
    values = list(np.eye(taps))
    levels = []
    while len(values) > 1:
        rows: list[np.ndarray] = []
        out: list[np.ndarray] = []
        for i in range(0, len(values) - 1, 2):
            u, v = values[i], values[i + 1]
            out.append((len(rows), (1.0, 1.0, -1.0)))
            rows += [u - v, v, -v]
        if len(values) % 2:
            out.append((len(rows), (1.0, -1.0)))
            rows += [values[-1], -values[-1]]
        levels.append(np.stack(rows))
        values = []
        for first, signs in out:
            vec = np.zeros(len(rows))
            vec[first : first + len(signs)] = signs
            values.append(vec)
    return levels, values[0]


@dataclass(frozen=True)
class Window:
    """The first level's convolution over a pool's input: kernel, stride, padding (Lava's
    symmetric padding, ``ceil_mode`` folded in), the output size and whether any window
    reads padding."""

    kernel: Ints
    lead: Ints  # leading zero taps per axis (ceil mode)
    stride: Ints
    padding: Ints
    out: Ints
    padded: bool


def window(kernel: Ints, stride: Ints, padding: Ints, ceil: bool, size: Ints) -> Window | str:
    """The :class:`Window` of a max pool over ``size``, or why Lava's convolution cannot
    express it."""
    lead, pads, outs, padded = [], [], [], any(padding)
    for k, s, p, n in zip(kernel, stride, padding, size, strict=True):
        want = pooled_size(n, k, s, p, 1, ceil)
        e = 0
        if (n + 2 * p - k) // s + 1 != want:
            e, padded = s - 1, True
        if (n + 2 * (p + e) - (k + e)) // s + 1 != want:
            return f"no symmetric padding gives the {'ceil' if ceil else 'floor'}-mode size"
        lead.append(e)
        pads.append(p + e)
        outs.append(want)
    full = tuple(k + e for k, e in zip(kernel, lead, strict=True))
    return Window(full, tuple(lead), tuple(stride), tuple(pads), tuple(outs), padded)


def first_kernel(level: np.ndarray, win: Window, channels: int) -> np.ndarray:
    """The grouped kernel ``[C·m, 1, *k]`` of level 1 over the window's taps (row-major
    over the kernel, after the leading zero taps)."""
    m = len(level)
    taps = level.reshape(m, *(k - e for k, e in zip(win.kernel, win.lead, strict=True)))
    w = np.zeros((m, *win.kernel))
    w[(slice(None), *(slice(e, None) for e in win.lead))] = taps
    return np.tile(w[:, None], (channels, 1, *([1] * len(win.kernel))))


def next_kernel(level: np.ndarray, channels: int, dims: int) -> np.ndarray:
    """The grouped 1×1 kernel ``[C·m, m_prev, 1, ...]`` of a later level."""
    return np.tile(level.reshape(*level.shape, *([1] * dims)), (channels, 1, *([1] * dims)))


def readout(vector: np.ndarray, channels: int, dims: int) -> np.ndarray:
    """The dense 1×1 kernel ``[C, C·m]`` reading each channel's max off the last level."""
    m = len(vector)
    w = np.zeros((channels, channels * m, *([1] * dims)))
    for c in range(channels):
        w[(c, slice(c * m, (c + 1) * m), *([0] * dims))] = vector
    return w


def levels_needed(taps: int) -> int:
    """Tree levels (synapse hops) for ``taps`` values."""
    return math.ceil(math.log2(taps)) if taps > 1 else 0
