"""Neuron dynamics fused over time: one call runs all T steps of a layer in place.

The float operation order follows SpikingJelly's torch path exactly, so spikes are
bit-identical to its multi-step forward (see ``tests/sim/test_spikingjelly_parity.py``).

Speed: the batch is cut into chunks of at most ``CHUNK`` elements and each chunk runs all
T steps before the next, so the membrane stays in cache and each step reads its input and
writes its spikes once (about 3.7× faster than whole-tensor steps on a [32, 2000, 32, 40]
layer; chunks stay below torch's parallel grain size, where thread start-up dominates).
"""

from __future__ import annotations

import math

import torch

from ..ir import nodes as ir
from .threads import executor
from .torch_ops import channel_view

CHUNK = 32768


def _state(
    node: ir.IF | ir.LIF, shape: torch.Size, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    v0 = channel_view(node.v_init, len(shape), dtype, device)
    if isinstance(v0, float):
        return torch.full(shape, v0, dtype=dtype, device=device)
    return v0.expand(shape).clone()


def _steps(
    node: ir.IF | ir.LIF,
    v: torch.Tensor,
    x: torch.Tensor,
    out: torch.Tensor,
    static: bool,
    th: torch.Tensor | float,
) -> None:
    """All steps for one chunk: ``v`` [n, ...] is updated in place, spikes go to ``out``."""
    leak = isinstance(node, ir.LIF)
    v_r = 0.0 if node.v_reset is None else float(node.v_reset)
    tmp = torch.empty_like(v) if leak else v
    fired = (
        torch.empty(v.shape, dtype=torch.bool, device=v.device) if node.v_reset is not None else v
    )
    for t in range(out.shape[0]):
        xt = x if static else x[t]
        if not leak:
            v.add_(xt)  # H = V + X
        else:
            if v_r:
                torch.sub(v, v_r, out=tmp)
            else:
                tmp.copy_(v)
            if node.decay_input:  # H = V + (X - (V - V_r)) / tau
                torch.sub(xt, tmp, out=tmp)
                tmp.div_(node.tau) if node.decay is None else tmp.mul_(node.decay)
                v.add_(tmp)
            else:  # H = V - (V - V_r) / tau + X
                tmp.div_(node.tau) if node.decay is None else tmp.mul_(node.decay)
                v.sub_(tmp)
                v.add_(xt)
        st = out[t]
        if node.v_reset is None:  # S = Θ(H - V_th); V = H - V_th S
            torch.ge(v, th, out=st)
            if isinstance(th, float):
                v.sub_(st, alpha=th)
            else:
                v.addcmul_(st, th, value=-1.0)
        else:  # V = H (1 - S) + V_reset S
            torch.ge(v, th, out=fired)
            st.copy_(fired)
            v.masked_fill_(fired, v_r)


def run_neuron(
    node: ir.IF | ir.LIF,
    x: torch.Tensor,
    T: int,
    static: bool,
    v0: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``T`` steps of ``node``.

    Parameters
    ----------
    x
        Input current: ``[N, ...]`` when ``static`` (the same current every step, the
        direct-input case) or ``[T, N, ...]``.
    v0
        Membrane to start from (continuing an earlier run); ``node.v_init`` when None.

    Returns
    -------
    spikes ``[T, N, ...]`` (0/1 in ``x.dtype``) and the final membrane ``V[T-1]``.
    """
    shape = x.shape if static else x.shape[1:]
    dtype = x.dtype
    x = x.contiguous()
    v = _state(node, shape, dtype, x.device) if v0 is None else v0.clone()
    th = channel_view(node.v_threshold, len(shape), dtype, x.device)
    out = torch.empty((T, *shape), dtype=dtype, device=x.device)
    per_sample = math.prod(shape[1:])
    # on a GPU one chunk: whole-tensor steps (chunks only pay on CPU caches)
    step = shape[0] if x.is_cuda else max(1, CHUNK // max(1, per_sample))
    starts = list(range(0, shape[0], step))

    def run(group: list[int]) -> None:
        for i in group:
            sl = slice(i, i + step)
            _steps(node, v[sl], x[sl] if static else x[:, sl], out[:, sl], static, th)

    workers = min(torch.get_num_threads(), len(starts))
    if workers <= 1:
        run(starts)
    else:  # torch ops release the GIL: chunks run in parallel threads
        groups = [starts[k::workers] for k in range(workers)]
        list(executor(workers).map(run, groups))
    return out, v
