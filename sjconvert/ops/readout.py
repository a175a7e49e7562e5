"""What every executor reports, written once: the event count of a spiking layer and the
running mean a graph output is read as. Torch tensors (also while traced for export), NumPy
and CuPy arrays all go through these functions, so every executor, exporter and verifier
sums the same values in the same order and precision.

* **Event count** per step and sample, ``E[t, n] = Σ_i |S[t, n, i]|·w_i`` (``w``: a weight
  per element, e.g. its fan-out; 1 by default). A signed spike counts one event, a burst of
  ``k`` spikes ``k``. Summed in :data:`ACCUMULATOR` after widening: every term is an integer
  (or an integer times a fan-out), so the count is exact in any summation order.
* **Readout.** A graph output is read after step ``t`` as the running mean
  ``M[t] = (Σ_{t' ≤ t} Y[t']) / (t + 1)``. The sum is carried in :data:`ACCUMULATOR`, one
  step after the other (``A[t] = A[t-1] + Y[t]``, never a parallel scan), and the mean is
  rounded once to the values' dtype. Executors keep only ``A`` (memory flat in T) and
  compute ``M`` at the steps someone asked for.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

import numpy as np
import torch

#: the one precision running sums (readouts) and event counts are carried in
ACCUMULATOR = "float64"


def _numpy_like(x: Any) -> bool:
    """A NumPy or CuPy array (else a torch tensor, or a proxy of one while traced)."""
    return isinstance(x, (np.ndarray, np.generic)) or type(x).__module__.startswith("cupy")


def widen(x: Any) -> Any:
    """``x`` in :data:`ACCUMULATOR` (a torch tensor, or a NumPy / CuPy array)."""
    return x.astype(ACCUMULATOR) if _numpy_like(x) else x.to(getattr(torch, ACCUMULATOR))


def narrow(x: Any, dtype: Any) -> Any:
    """``x`` rounded once to ``dtype`` (a torch dtype for a tensor, else a NumPy dtype)."""
    return x.astype(dtype) if _numpy_like(x) else x.to(dtype)


def events(s: Any, steps: int, features: int, weight: Any = None) -> Any:
    """``Σ_i |S_i|·w_i`` per step and sample, ``[steps, N]`` in :data:`ACCUMULATOR`, of a
    temporal spike value ``s`` (``[steps, N, ...]`` or folded ``[steps·N, ...]``) with
    ``features`` elements per sample; ``weight``: one factor per element (its per-sample
    shape, in ``s``'s array type) or None."""
    a = widen(abs(s)).reshape(steps, -1, features)
    if weight is not None:
        a = a * widen(weight).reshape(1, 1, features)
    return a.sum(2)


def accumulate(total: Any, y: Any) -> Any:
    """``A = A + Y`` for one step (``total`` None before the first step)."""
    wide = widen(y)
    return wide if total is None else total + wide


def mean(total: Any, steps: Any, dtype: Any) -> Any:
    """The running mean ``A / steps`` rounded once to ``dtype`` (``steps``: a number, or a
    tensor holding it in a traced step model)."""
    return narrow(total / steps, dtype)


def running_sum(
    total: Any, ys: Any, t0: int, keep: Container[int] = (), steps: int | None = None
) -> tuple[Any, dict[int, Any]]:
    """Add the values ``ys`` ``[steps, N, ...]`` of steps ``t0, t0 + 1, …`` one step at a
    time: the new sum, and the means after the steps in ``keep`` (counted from 1) that fall
    in this block, rounded to ``ys``'s dtype. ``steps``: ``len(ys)`` (given while traced)."""
    means = {}
    for i in range(ys.shape[0] if steps is None else steps):
        total = accumulate(total, ys[i])
        if t0 + i + 1 in keep:
            means[t0 + i + 1] = mean(total, t0 + i + 1, ys.dtype)
    return total, means


def static_means(y: Any, t0: int, steps: int, keep: Container[int] = ()) -> dict[int, Any]:
    """The means of a value that is the same ``y`` at every step: ``y`` itself (``k·y`` is
    exact in :data:`ACCUMULATOR` for ``k < 2²⁹``, and so is its division by ``k``)."""
    return {t: y for t in range(t0 + 1, t0 + steps + 1) if t in keep}
