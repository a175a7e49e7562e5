"""Build a Lava-DL (``lava.lib.dl.slayer``) module from a chain :class:`LoihiNet` of CUBA
layers: IF, LIF and ParametricLIF neurons with hard reset, and integrating readouts.

Needs lava-dl (the Python 3.10 environment). Each layer becomes a ``slayer.block.cuba``
``Dense`` or ``Conv`` block (a ``Flatten`` block before a dense layer that reads a conv),
holding our integer weights as ``w / 2⁶`` — slayer's own state scale, so its fixed-point
forward computes the same integers as Lava (``threshold = θ_q / 2⁶``, decays as 12-bit
integers). Slayer's default weight hook rounds mantissas to even values; the blocks get an
identity hook instead so odd mantissas survive. ``delay_shift`` (slayer's default) delays
each block's output by one step, as each Lava synapse does. Slayer's CUBA neuron has no
bias, so biased layers are refused; sigma-delta layers are written as NetX only.

The module takes ``[N, *input_shape, T]`` integer messages (NXT, see :mod:`.layout`) and
returns the last block's spikes in the same layout; :func:`run_tnx` takes and returns
SpikingJelly's ``[T, N, ...]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ....errors import EmitError
from ..network import LoihiNet, Neuron, Synapse
from ..quantising.cuba import DECAY_UNITY
from .layout import nxt_to_tnx, tnx_to_nxt
from .netx_writer import chain_problems

W_SCALE = 1 << 6


def _identity(x: Any) -> Any:
    return x


def _params(n: Neuron) -> dict[str, Any]:
    return {
        "threshold": n.vth / W_SCALE,
        "current_decay": (n.du + 1) / DECAY_UNITY,
        "voltage_decay": n.dv / DECAY_UNITY,
    }


def _block(syn: Synapse, n: Neuron) -> Any:
    from lava.lib.dl import slayer

    if n.model != "cuba":
        raise EmitError(f"layer {syn.dst}: Lava-DL blocks are built for CUBA layers only")
    if np.any(n.bias):
        raise EmitError(f"layer {syn.dst}: slayer's CUBA neuron has no bias")
    w = torch.tensor(np.asarray(syn.weight, np.float64) / W_SCALE, dtype=torch.float32)
    if syn.kind == "dense":
        block = slayer.block.cuba.Dense(_params(n), w.shape[1], w.shape[0], pre_hook_fx=_identity)
        block.synapse.weight.data = w.reshape(*w.shape, 1, 1, 1)
        return block
    block = slayer.block.cuba.Conv(
        _params(n),
        syn.weight.shape[1] * syn.groups,
        syn.weight.shape[0],
        tuple(syn.weight.shape[2:]),
        stride=syn.stride,
        padding=syn.padding,
        dilation=syn.dilation,
        groups=syn.groups,
        pre_hook_fx=_identity,
    )
    block.synapse.weight.data = w.unsqueeze(-1)
    return block


def to_lava_dl(net: LoihiNet) -> Any:
    """A ``torch.nn.Sequential`` of slayer CUBA blocks computing ``net`` (see the module
    docstring); raises :class:`~sjconvert.errors.EmitError` naming a layer it cannot hold."""
    from lava.lib.dl import slayer

    problems = chain_problems(net)
    if problems:
        raise EmitError(f"Lava-DL blocks form a chain of layers: {'; '.join(problems)}")
    blocks, prev = [], net.input_shape
    for name, n in net.neurons.items():
        (syn,) = net.into(name)
        if syn.kind == "dense" and len(prev) > 1:
            blocks.append(slayer.block.cuba.Flatten())
        blocks.append(_block(syn, n))
        prev = net.shapes[name]
    return torch.nn.Sequential(*blocks).eval()


def run_tnx(module: Any, x: Any) -> Any:
    """Run a Lava-DL module on ``[T, N, ...]`` messages; the spikes come back ``[T, N, ...]``."""
    return nxt_to_tnx(module(tnx_to_nxt(x)))
