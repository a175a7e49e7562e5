"""How a discrete-time IR network maps onto NIR's continuous-time nodes (``docs/nir.md``).

NIR neurons are ODEs; a simulator with step ``dt`` integrates them with forward Euler. With
the IR's per-step equations this gives the mapping (the one SpikingJelly's ``nir_exchange``
and snnTorch use, ``dt = 1e-4`` s by default)::

    IR IF(V_th, V_r)           ↔  NIR IF(r = 1/dt, v_threshold = V_th, v_reset = V_r)
                                  (v += dt·r·I = I)
    IR LIF(τ, decay_input)     ↔  NIR LIF(tau = τ·dt, r = 1 if decay_input else τ,
                                          v_leak = V_r, v_threshold, v_reset = V_r)
                                  (v += dt/tau·(v_leak − v + r·I))
    IR Readout                 ↔  NIR I(r = 1/dt)          (v += I)

NIR stores one value per neuron: per-channel IR values are broadcast over the spatial axes
on export and collapsed back on import. A grouped convolution (depthwise: one group per
channel) is written as the dense convolution it equals (:func:`dense_groups`: NIR's type
inference gives a grouped ``Conv2d`` the input channels of one group, and several NIR
consumers refuse groups), marked in its metadata and grouped again on import
(:func:`grouped`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import UnsupportedOpError

DT = 1e-4  # seconds per step: the default of SpikingJelly's nir_exchange, snnTorch and NIR
RTOL = 1e-5


def full(value: Any, shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
    """A scalar or a per-channel (first per-sample axis) value broadcast to ``shape``.
    Neuron parameters use float64, so scalars such as ``v_threshold = 0.7`` survive a
    round trip exactly."""
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 1:
        arr = arr.reshape(-1, *([1] * (len(shape) - 1)))
    return np.ascontiguousarray(np.broadcast_to(arr, shape), dtype=dtype)


def collapse(value: Any, what: str) -> float | np.ndarray:
    """The inverse of :func:`full`: a scalar if all values agree, else one value per channel
    (axis 0). Raises :class:`UnsupportedOpError` when values vary within a channel."""
    arr = np.asarray(value)
    if arr.size == 0:
        raise UnsupportedOpError(f"{what} is empty")
    flat = arr.reshape(-1)
    if np.all(flat == flat[0]):
        return float(flat[0])
    per = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    if arr.ndim >= 1 and np.all(per == per[:, :1]):
        return per[:, 0].copy()
    raise UnsupportedOpError(
        f"{what} varies within a channel; the IR holds one value per channel at most"
    )


def uniform(value: Any, what: str) -> float:
    """The single value of an array that must hold one value everywhere."""
    out = collapse(value, what)
    if isinstance(out, np.ndarray):
        raise UnsupportedOpError(f"{what} must be the same for every neuron")
    return out


def close(a: Any, b: Any) -> bool:
    return bool(np.allclose(a, b, rtol=RTOL, atol=0.0))


def dense_groups(weight: Any, groups: int) -> np.ndarray:
    """The dense weight ``[C_out, C_in, *k]`` of a convolution with ``groups`` groups and
    weight ``[C_out, C_in/groups, *k]``: group ``g``'s block on the diagonal, zeros
    elsewhere (the same outputs, exactly)."""
    w = np.asarray(weight)
    out, per_in = w.shape[:2]
    per_out = out // groups
    dense = np.zeros((out, per_in * groups, *w.shape[2:]), w.dtype)
    for g in range(groups):
        rows, cols = slice(g * per_out, (g + 1) * per_out), slice(g * per_in, (g + 1) * per_in)
        dense[rows, cols] = w[rows]
    return dense


def grouped(weight: Any, groups: int, what: str) -> np.ndarray:
    """The inverse of :func:`dense_groups`; a weight with values off the diagonal blocks is
    refused (it is not a grouped convolution)."""
    w = np.asarray(weight)
    out, channels = w.shape[:2]
    if groups < 1 or out % groups or channels % groups:
        raise UnsupportedOpError(f"{what}: {groups} groups do not divide {out}x{channels}")
    per_out, per_in = out // groups, channels // groups
    blocks = [
        w[g * per_out : (g + 1) * per_out, g * per_in : (g + 1) * per_in] for g in range(groups)
    ]
    small = np.concatenate(blocks)
    if not np.array_equal(dense_groups(small, groups), w):
        raise UnsupportedOpError(f"{what}: weights outside its {groups} groups are not zero")
    return small
