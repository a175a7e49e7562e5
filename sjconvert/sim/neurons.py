"""Neuron dynamics fused over time: one call runs all T steps of a layer in place.

The float operation order follows SpikingJelly's torch path exactly, so spikes are
bit-identical to its multi-step forward (see ``tests/sim/test_spikingjelly_parity.py``).
"""

from __future__ import annotations

import torch

from ..ir import nodes as ir
from .torch_ops import channel_view


def _state(node: ir.IF | ir.LIF, shape: torch.Size, dtype: torch.dtype) -> torch.Tensor:
    v0 = channel_view(node.v_init, len(shape), dtype)
    if isinstance(v0, float):
        return torch.full(shape, v0, dtype=dtype)
    return v0.expand(shape).clone()


def run_neuron(
    node: ir.IF | ir.LIF, x: torch.Tensor, T: int, static: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``T`` steps of ``node``.

    Parameters
    ----------
    x
        Input current: ``[N, ...]`` when ``static`` (the same current every step, the
        direct-input case) or ``[T, N, ...]``.

    Returns
    -------
    spikes ``[T, N, ...]`` (0/1 in ``x.dtype``) and the final membrane ``V[T-1]``.
    """
    shape = x.shape if static else x.shape[1:]
    dtype = x.dtype
    v = _state(node, shape, dtype)
    th = channel_view(node.v_threshold, len(shape), dtype)
    neg_th = -th
    out = torch.empty((T, *shape), dtype=dtype)
    fired = torch.empty(shape, dtype=torch.bool)
    leak = isinstance(node, ir.LIF)
    v_r = 0.0 if node.v_reset is None else float(node.v_reset)
    tmp = torch.empty(shape, dtype=dtype)
    for t in range(T):
        xt = x if static else x[t]
        if not leak:
            v.add_(xt)  # H = V + X
        elif node.decay_input:  # H = V + (X - (V - V_r)) / tau
            torch.sub(v, v_r, out=tmp) if v_r else tmp.copy_(v)
            torch.sub(xt, tmp, out=tmp)
            tmp.div_(node.tau) if node.decay is None else tmp.mul_(node.decay)
            v.add_(tmp)
        else:  # H = V - (V - V_r) / tau + X
            torch.sub(v, v_r, out=tmp) if v_r else tmp.copy_(v)
            tmp.div_(node.tau) if node.decay is None else tmp.mul_(node.decay)
            v.sub_(tmp)
            v.add_(xt)
        torch.ge(v, th, out=fired)  # S = Θ(H - V_th)
        st = out[t]
        st.copy_(fired)
        if node.v_reset is None:  # V = H - V_th S
            if isinstance(th, float):
                v.add_(st, alpha=neg_th)
            else:
                v.addcmul_(st, neg_th)
        else:  # V = H (1 - S) + V_reset S
            v.masked_fill_(fired, v_r)
    return out, v
