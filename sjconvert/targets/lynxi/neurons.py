"""IF / LIF neurons and the membrane readout as rank-≤3, in-place-free torch modules.

Multi-step (:meth:`Neuron.forward`): the input is the folded ``[T·N, ...]`` batch (or the
static ``[N, ...]`` current, the same every step); it is viewed as ``[T, N, F]`` (3-D, as in
SpikingJelly's Lynxi neurons), the T steps are unrolled and the spikes come back as
``[T·N, ...]``. Single-step (:meth:`Neuron.step`): ``(x[t], V[t-1]) -> (S[t], V[t])``.

The float operations follow :mod:`sjconvert.sim.neurons` one by one, so float32 spikes are
bit-identical to the reference simulator given the same input currents::

    IF   H = V + X
    LIF  decay_input:  H = V + (X − (V − V_r)) / τ     else:  H = V − (V − V_r) / τ + X
         (``· decay`` instead of ``/ τ`` when the node holds ``decay``; ``V − V_r`` only
         when ``V_r ≠ 0``)
    fire S = Θ(H − V_th)  as  H >= V_th
    soft V = H − V_th·S            hard  V = H·(1 − S) + V_reset·S
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ...ir import nodes as ir
from .layers import register_all


def per_feature(value: Any, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """A scalar, or a per-channel (axis 1) array spread over the flattened features ``[F]``."""
    arr = np.asarray(value, dtype=np.float32)
    if arr.ndim == 0:
        return torch.tensor(float(arr), dtype=dtype)
    return torch.tensor(np.repeat(arr, math.prod(shape[1:])), dtype=dtype)


class Neuron(nn.Module):
    """An IF or LIF layer of per-sample shape ``shape`` run for ``T`` steps."""

    def __init__(
        self, node: ir.IF | ir.LIF, shape: tuple[int, ...], T: int, dtype: torch.dtype
    ) -> None:
        super().__init__()
        self.node, self.shape, self.T = node, tuple(shape), T
        self.features = math.prod(shape)
        self.leak = isinstance(node, ir.LIF)
        self.v_r = 0.0 if node.v_reset is None else float(node.v_reset)
        self.register_buffer("v_threshold", per_feature(node.v_threshold, shape, dtype))
        self.register_buffer("v_init", per_feature(node.v_init, shape, dtype))
        self.zero_init = not np.any(np.asarray(node.v_init))
        self.temporal = True  # False: the input is the static [N, ...] current

    def initial(self, n: int) -> torch.Tensor:
        """The membrane before step 0 for a batch of ``n``: ``[n, *shape]``."""
        return self.v_init.expand(n, self.features).reshape(n, *self.shape)

    def charge(self, x: torch.Tensor, v: torch.Tensor | None) -> torch.Tensor:
        """``H[t]`` from ``X[t]`` and ``V[t-1]`` (``None``: the initial membrane)."""
        if v is None:
            if self.zero_init and not self.leak:
                return x  # H = 0 + X
            v = self.v_init
        if not self.leak:
            return v + x
        node = self.node
        tmp = v - self.v_r if self.v_r else v
        if node.decay_input:
            tmp = x - tmp
            tmp = tmp / node.tau if node.decay is None else tmp * node.decay
            return v + tmp
        tmp = tmp / node.tau if node.decay is None else tmp * node.decay
        return (v - tmp) + x

    def fire(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(S[t], V[t])`` from ``H[t]``."""
        s = (h >= self.v_threshold).to(h.dtype)
        if self.node.v_reset is None:
            return s, h - s * self.v_threshold
        return s, h * (1.0 - s) + s * self.v_r

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """All T steps: ``x`` is ``[T·N, *shape]`` (``static`` is False) or ``[N, *shape]``."""
        static = not self.temporal
        xs = x.reshape(-1, self.features) if static else x.reshape(self.T, -1, self.features)
        v: torch.Tensor | None = None
        spikes = []
        for t in range(self.T):
            s, v = self.fire(self.charge(xs if static else xs[t], v))
            spikes.append(s)
        return torch.cat(spikes, 0).reshape(-1, *self.shape)

    def step(self, x: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step on ``[N, *shape]``: ``(S[t], V[t])`` from ``X[t]`` and ``V[t-1]``."""
        n = x.shape[0]
        s, v = self.fire(self.charge(x.reshape(n, -1), v.reshape(n, -1)))
        return s.reshape(x.shape), v.reshape(x.shape)


class Readout(nn.Module):
    """Membrane readout: ``V[t] = V[t-1] + X[t]``; the rate is ``V[T-1] / T`` ``[N, ...]``.

    ``V`` is summed in ``acc_dtype``: float64 reproduces the reference simulator (torch's
    CPU cumsum accumulates float32 in double) bit for bit; a Lynxi module sums in its own
    dtype."""

    def __init__(self, shape: tuple[int, ...], T: int, acc_dtype: torch.dtype) -> None:
        super().__init__()
        self.shape, self.T, self.acc_dtype = tuple(shape), T, acc_dtype
        self.features = math.prod(shape)
        self.temporal = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.temporal:  # a constant input: its running mean is itself
            return x
        xs = x.reshape(self.T, -1, self.features).to(self.acc_dtype)
        acc = xs[0]
        for t in range(1, self.T):
            acc = acc + xs[t]
        return (acc.to(x.dtype) / float(self.T)).reshape(-1, *self.shape)

    def step(
        self, x: torch.Tensor, acc: torch.Tensor, t: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(V[t] / (t + 1), V[t])`` from ``X[t]``, ``V[t-1]`` (in ``acc_dtype``) and the
        step index ``t`` (a float tensor)."""
        acc = acc + x.to(self.acc_dtype)
        return acc.to(x.dtype) / (t + 1.0), acc


@register_all("IF", "LIF")
def neuron(name: str, node: ir.IF | ir.LIF, ctx: Any) -> nn.Module:
    m = Neuron(node, ctx.graph.shapes[name], ctx.T, ctx.dtype)
    m.temporal = ctx.temporal_input(name)
    return m


@register_all("Readout")
def readout(name: str, node: ir.Readout, ctx: Any) -> nn.Module:
    m = Readout(ctx.graph.shapes[name], ctx.T, ctx.acc_dtype)
    m.temporal = ctx.temporal_input(name)
    return m
