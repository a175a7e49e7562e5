"""Reference simulation of the stateful nodes NIR graphs bring (:mod:`sjconvert.ir.nodes.dynamics`):
CubaLIF, LI and Delay run all steps of a block in one call and carry their state to the
next block; Threshold, LI and Delay also get rate-mode (ANN) kernels for shape inference.

CubaLIF follows SpikingJelly's ``cuba_lif_step`` operation order (``I·α + X``, then
``V·β + I``), so spikes are bit-identical to ``CUBALIFNode``.
"""

from __future__ import annotations

from typing import Any

import torch

from ..ir import nodes as ir
from .torch_ops import channel_view, kernel

STATEFUL = (ir.CubaLIF, ir.LI, ir.Delay)
State = Any


def _per_step(x: torch.Tensor, static: bool, T: int) -> torch.Tensor:
    return x.unsqueeze(0).expand(T, *x.shape) if static else x


def _cuba(node: ir.CubaLIF, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
    shape = x.shape[1:]
    th = channel_view(node.v_threshold, len(shape), x.dtype)
    if state is None:
        v0 = channel_view(node.v_init, len(shape), x.dtype)
        v = torch.full(shape, v0, dtype=x.dtype) if isinstance(v0, float) else v0.expand(shape)
        state = (torch.zeros(shape, dtype=x.dtype), v.clone())
    i, v = state
    out = torch.empty_like(x)
    for t in range(x.shape[0]):
        i = i * node.c_decay + x[t]
        h = v * node.v_decay + i
        s = (h >= th).to(x.dtype)
        v = h - s * th if node.v_reset is None else torch.where(s > 0, node.v_reset, h)
        out[t] = s
    return out, (i, v)


def _li(node: ir.LI, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
    v = torch.full(x.shape[1:], node.v_leak, dtype=x.dtype) if state is None else state
    out = torch.empty_like(x)
    for t in range(x.shape[0]):
        v = v + (x[t] - (v - node.v_leak)) / node.tau
        out[t] = v
    return out, v


def _delay(node: ir.Delay, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
    if state is None:
        state = x.new_zeros((node.steps, *x.shape[1:]))
    line = torch.cat([state, x])
    return line[: x.shape[0]].clone(), line[x.shape[0] :].clone()


def run_stateful(
    node: ir.Node, x: torch.Tensor, T: int, static: bool, state: State = None
) -> tuple[torch.Tensor, State]:
    """Run ``T`` steps of a stateful node on ``x`` (``[N, ...]`` when ``static``, else
    ``[T, N, ...]``), continuing from ``state``; returns ``[T, N, ...]`` and the new state."""
    step = {ir.CubaLIF: _cuba, ir.LI: _li, ir.Delay: _delay}[type(node)]
    return step(node, _per_step(x, static, T), state)  # type: ignore[operator]


@kernel(ir.Threshold)
def _threshold(p: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
    th = channel_view(p["threshold"], xs[0].ndim, xs[0].dtype)
    return (xs[0] >= th).to(xs[0].dtype)


@kernel(ir.LI)
def _li_rate(p: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
    """Rate view: the fixed point ``V = X + v_leak`` of a constant input."""
    return xs[0] + p["v_leak"]


@kernel(ir.Delay)
def _delay_rate(p: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
    return xs[0]
