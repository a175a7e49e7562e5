"""Build a Lava-DL (``lava.lib.dl.slayer``) module from a :class:`LoihiNet` (CUBA layers).

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

from ...errors import EmitError
from .fixed_point import DECAY_UNITY, LoihiLayer, LoihiNet
from .layout import nxt_to_tnx, tnx_to_nxt

W_SCALE = 1 << 6


def _identity(x: Any) -> Any:
    return x


def _params(layer: LoihiLayer) -> dict[str, Any]:
    return {
        "threshold": layer.vth / W_SCALE,
        "current_decay": layer.i_decay / DECAY_UNITY,
        "voltage_decay": layer.v_decay / DECAY_UNITY,
    }


def _block(layer: LoihiLayer) -> Any:
    from lava.lib.dl import slayer

    if layer.neuron != "cuba":
        raise EmitError(f"layer {layer.name}: Lava-DL blocks are built for CUBA layers only")
    if layer.bias is not None and np.any(layer.bias):
        raise EmitError(f"layer {layer.name}: slayer's CUBA neuron has no bias")
    w = torch.tensor(np.asarray(layer.weight, np.float64) / W_SCALE, dtype=torch.float32)
    if layer.kind == "dense":
        block = slayer.block.cuba.Dense(
            _params(layer), w.shape[1], w.shape[0], pre_hook_fx=_identity
        )
        block.synapse.weight.data = w.reshape(*w.shape, 1, 1, 1)
        return block
    block = slayer.block.cuba.Conv(
        _params(layer),
        layer.weight.shape[1] * layer.groups,
        layer.weight.shape[0],
        tuple(layer.weight.shape[2:]),
        stride=layer.stride,
        padding=layer.padding,
        dilation=layer.dilation,
        groups=layer.groups,
        pre_hook_fx=_identity,
    )
    block.synapse.weight.data = w.unsqueeze(-1)
    return block


def to_lava_dl(net: LoihiNet) -> Any:
    """A ``torch.nn.Sequential`` of slayer CUBA blocks computing ``net`` (see the module
    docstring); raises :class:`~sjconvert.errors.EmitError` naming a layer it cannot hold."""
    from lava.lib.dl import slayer

    blocks = []
    prev = net.input_shape
    for layer in net.layers:
        if layer.kind == "dense" and len(prev) > 1:
            blocks.append(slayer.block.cuba.Flatten())
        blocks.append(_block(layer))
        prev = layer.shape
    return torch.nn.Sequential(*blocks).eval()


def run_tnx(module: Any, x: Any) -> Any:
    """Run a Lava-DL module on ``[T, N, ...]`` messages; the spikes come back ``[T, N, ...]``."""
    return nxt_to_tnx(module(tnx_to_nxt(x)))
