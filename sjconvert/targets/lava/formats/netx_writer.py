"""Write a chain :class:`~.network.LoihiNet` as NetX HDF5 with h5py alone (no Lava import),
as ``lava.lib.dl.netx.hdf5.Network`` reads it. The schema is in ``docs/lava.md``.

NetX describes a chain of layers: each population reads the one before it through one
synapse, with one bias per channel, starting from zero (:func:`chain_problems` names what
else is refused; the process-graph format takes any of it). Axis convention: the file stores
shapes, strides, paddings and dilations in PyTorch order (``[C, H, W]``, ``[H, W]``) and conv
weights as ``[out, in/groups, kH, kW]``; NetX reverses them to Lava's ``(x, y, f)`` and
flips the kernel, which Lava's convolution flips back, so the stored PyTorch correlation
kernel is what runs. ``flatten`` before a dense layer makes NetX transpose ``(W, H, C)``
back to ``C, H, W`` and flatten, PyTorch's order.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np

from ....errors import EmitError
from ....ir.io import atomic_write
from ..network import LoihiNet, Neuron, Synapse
from .layout import lava_groups

# File-format keys (NetX names), in one place.
LAYER = "layer"
TYPE = "type"
SHAPE = "shape"
WEIGHT = "weight"
BIAS = "bias"
NEURON = "neuron"
NEURON_KEYS = ("type", "iDecay", "vDecay", "vThMant", "refDelay", "gradedSpike")
SIGMA_OUTPUT = "sigma_output"
CONV_KEYS = ("stride", "padding", "dilation", "groups")
NETX_EXP = 6


def netx_dense_weights(weight: np.ndarray) -> tuple[np.ndarray, int]:
    """The integer weights a NetX dense layer really uses, and their right shift ``k``.

    NetX (``netx.utils.optimize_weight_bits``) scales the weights up by ``2^k`` to use 8
    bits and sets the weight exponent ``−k``; Lava's ``Dense`` then clips them to 8 bits
    for their sign mode and drops the bits below the precision NetX declared. The synapse
    adds ``⌊(W' s) / 2^k⌋``. For integer weights within ``[-128, 127]`` of mixed sign this
    is exact (``W' s / 2^k = W s``).
    """
    w = np.asarray(weight, np.int64)
    hi, lo = int(w.max()), int(w.min())
    if hi == 0 and lo == 0:
        raise ValueError("an all-zero weight matrix cannot be written for NetX")
    signed = int(not (hi < 0 or lo >= 0))
    if hi < 0:
        scale = -256 / lo
    elif lo >= 0:
        scale = 255 / hi
    else:
        scale = min(127 / hi if hi > 0 else np.inf, -128 / lo)
    shift = int(np.floor(np.log2(scale))) + signed
    n = 8
    while n > 0 and np.any(w % (1 << n)):
        n -= 1
    num_bits = 8 - shift - (n - signed)
    w = w << shift if shift >= 0 else w >> -shift
    # Lava's Dense decides its own sign mode from the shifted weights, then clips/truncates
    inhibitory = int(w.max()) <= 0 and int(w.min()) < 0
    mixed = int(not inhibitory and int(w.min()) < 0)
    if inhibitory:
        w = -w
    w = np.clip(w, -256 * mixed, 255)
    cut = 8 - num_bits + mixed
    w = (w >> cut) << cut
    return (-w if inhibitory else w), shift


def _channel_bias(bias: np.ndarray) -> np.ndarray | None:
    """The bias as one value per channel, or None when it varies within a channel."""
    b = np.asarray(bias, np.int64)
    per = b.reshape(b.shape[0], -1) if b.ndim > 1 else b.reshape(-1, 1)
    return per[:, 0] if np.all(per == per[:, :1]) else None


def chain_problems(net: LoihiNet) -> list[str]:
    """What keeps ``net`` from being a NetX file (empty: it is one)."""
    out, prev = [], net.input
    for name, n in net.neurons.items():
        syns = net.into(name)
        if len(syns) != 1 or syns[0].src != prev:
            out.append(f"{name} reads {[s.src for s in syns]}, not only {prev}")
        if len(net.shapes[name]) == 2 or any(s.weight.ndim == 3 for s in syns):
            out.append(f"{name}: 1-D convolution")
        if n.model != "sigma" and _channel_bias(n.bias) is None:
            out.append(f"{name}: a bias that varies within a channel")
        if n.v:
            out.append(f"{name}: an initial membrane")
        if n.model == "sdnn" and n.spike_exp != NETX_EXP:
            out.append(f"{name}: spike exponent {n.spike_exp} (NetX: {NETX_EXP})")
        prev = name
    return out


def _neuron(group: h5py.Group, n: Neuron) -> None:
    g = group.create_group(NEURON)
    if n.model == "cuba":
        values = ("CUBA", n.du + 1, n.dv, n.vth, 1, False)
        for key, value in zip(NEURON_KEYS, values, strict=True):
            g.create_dataset(key, data=np.bytes_(value) if isinstance(value, str) else value)
        return
    g.create_dataset("type", data=np.bytes_("SDNN"))
    g.create_dataset("vThMant", data=n.vth)
    g.create_dataset("gradedSpike", data=True)
    if n.model == "sigma":
        g.create_dataset(SIGMA_OUTPUT, data=True)


def _layer(group: h5py.Group, syn: Synapse, n: Neuron, shape: tuple[int, ...]) -> None:
    if syn.kind == "conv":
        weight, groups = lava_groups(syn.weight, syn.groups)
        syn = replace(syn, weight=weight, groups=groups)
    group.create_dataset(TYPE, data=np.bytes_(syn.kind))
    group.create_dataset(SHAPE, data=np.asarray(shape, np.int64))
    if syn.kind == "dense":
        try:
            netx_dense_weights(syn.weight)
        except ValueError as exc:
            raise EmitError(f"layer {syn.name}: {exc}") from None
        group.create_dataset("inFeatures", data=syn.weight.shape[1])
        group.create_dataset("outFeatures", data=syn.weight.shape[0])
    else:
        for key in CONV_KEYS:
            group.create_dataset(key, data=np.asarray(getattr(syn, key), np.int64))
    group.create_dataset(WEIGHT, data=np.asarray(syn.weight, np.float32))
    bias = _channel_bias(n.bias)
    if n.model != "sigma" and np.any(bias):
        group.create_dataset(BIAS, data=np.asarray(bias, np.float32))
    _neuron(group, n)


def write_netx(net: LoihiNet, path: str | os.PathLike[str]) -> Path:
    """Write the chain ``net`` to ``path`` atomically; returns the path. Raises
    :class:`~sjconvert.errors.EmitError` naming what NetX cannot hold."""
    problems = chain_problems(net)
    if problems:
        raise EmitError(
            f"NetX holds a chain of layers: {'; '.join(problems)} (use --format procgraph)"
        )
    path = Path(path)

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as f:
            layers = f.create_group(LAYER)
            first = layers.create_group("0")
            first.create_dataset(TYPE, data=np.bytes_("input"))
            first.create_dataset(SHAPE, data=np.asarray(net.input_shape, np.int64))
            i, prev = 1, net.input_shape
            for name, n in net.neurons.items():
                (syn,) = net.into(name)
                if syn.kind == "dense" and len(prev) > 1:
                    layers.create_group(str(i)).create_dataset(TYPE, data=np.bytes_("flatten"))
                    i += 1
                _layer(layers.create_group(str(i)), syn, n, net.shapes[name])
                prev = net.shapes[name]
                i += 1

    atomic_write(path, write)
    return path
