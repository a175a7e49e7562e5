"""Write a :class:`~sjconvert.sim.fixed_point.LoihiNet` as NetX HDF5 with h5py alone (no Lava
import), as ``lava.lib.dl.netx.hdf5.Network`` reads it. The schema is in ``docs/lava.md``.

Axis convention (the only place it is handled): the file stores shapes, strides, paddings
and dilations in PyTorch order (``[C, H, W]``, ``[H, W]``) and conv weights as
``[out, in/groups, kH, kW]``; NetX reverses them to Lava's ``(x, y, f)`` = ``(W, H, C)``
and flips the kernel, which Lava's convolution flips back, so the stored PyTorch
correlation kernel is what runs. A 1-D input ``[n]`` feeds a dense layer; ``flatten``
before a dense layer makes NetX transpose ``(W, H, C)`` back to ``C, H, W`` and flatten,
which is PyTorch's flatten order.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from ...errors import EmitError
from ...ir.graph import Graph
from ...ir.io import atomic_write
from .fixed_point import LoihiLayer, LoihiNet, netx_dense_weights
from .lower import lower

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


def torch_to_netx_shape(shape: tuple[int, ...]) -> np.ndarray:
    """What NetX stores for a per-sample shape: ``[C, H, W]`` (it reverses it to WHC)."""
    return np.asarray(shape, np.int64)


def _neuron(group: h5py.Group, layer: LoihiLayer) -> None:
    n = group.create_group(NEURON)
    if layer.neuron == "cuba":
        values = ("CUBA", layer.i_decay, layer.v_decay, layer.vth, 1, False)
        for key, value in zip(NEURON_KEYS, values, strict=True):
            n.create_dataset(key, data=np.bytes_(value) if isinstance(value, str) else value)
        return
    n.create_dataset("type", data=np.bytes_("SDNN"))
    n.create_dataset("vThMant", data=layer.vth)
    n.create_dataset("gradedSpike", data=True)
    if layer.neuron == "sigma":
        n.create_dataset(SIGMA_OUTPUT, data=True)


def _layer(group: h5py.Group, layer: LoihiLayer) -> None:
    group.create_dataset(TYPE, data=np.bytes_(layer.kind))
    group.create_dataset(SHAPE, data=torch_to_netx_shape(layer.shape))
    if layer.kind == "dense":
        try:
            netx_dense_weights(layer.weight)
        except ValueError as exc:
            raise EmitError(f"layer {layer.name}: {exc}") from None
        group.create_dataset("inFeatures", data=layer.weight.shape[1])
        group.create_dataset("outFeatures", data=layer.weight.shape[0])
    else:
        for key in CONV_KEYS:
            group.create_dataset(key, data=np.asarray(getattr(layer, key), np.int64))
    group.create_dataset(WEIGHT, data=np.asarray(layer.weight, np.float32))
    if layer.bias is not None and layer.neuron != "sigma":
        group.create_dataset(BIAS, data=np.asarray(layer.bias, np.float32))
    _neuron(group, layer)


def write_netx(net: LoihiNet | Graph, path: str | os.PathLike[str]) -> Path:
    """Write ``net`` (a :class:`LoihiNet`, or a quantised graph that is lowered first) to
    ``path`` atomically; returns the path."""
    if isinstance(net, Graph):
        net = lower(net)
    path = Path(path)

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as f:
            layers = f.create_group(LAYER)
            first = layers.create_group("0")
            first.create_dataset(TYPE, data=np.bytes_("input"))
            first.create_dataset(SHAPE, data=torch_to_netx_shape(net.input_shape))
            i = 1
            prev = net.input_shape
            for layer in net.layers:
                if layer.kind == "dense" and len(prev) > 1:
                    layers.create_group(str(i)).create_dataset(TYPE, data=np.bytes_("flatten"))
                    i += 1
                _layer(layers.create_group(str(i)), layer)
                prev = layer.shape
                i += 1

    atomic_write(path, write)
    return path
