"""Run a NetX HDF5 network in Lava's CPU simulator (``Loihi2SimCfg(select_tag="fixed_pt")``).

Needs lava-nc and lava-dl (the Python 3.10 environment); nothing else in sjconvert imports
this module. Each sample runs in a freshly built network, so it starts from zero state as
the fixed-point simulator does. Arrays use PyTorch axis order; the Lava ``(W, H, C)`` order
is converted here with :func:`whc`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
from lava.lib.dl import netx
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.io.sink import RingBuffer as Sink
from lava.proc.io.source import RingBuffer
from lava.proc.monitor.process import Monitor

RUN_CFG = Loihi2SimCfg(select_tag="fixed_pt")


def whc(shape_or_array: np.ndarray, lead: int = 0, trail: int = 0) -> np.ndarray:
    """Reverse the ``C, H, W`` axes of an array (after ``lead``, before ``trail`` axes)."""
    a = np.asarray(shape_or_array)
    axes = list(range(a.ndim))
    mid = axes[lead : a.ndim - trail]
    return a.transpose(axes[:lead] + mid[::-1] + axes[a.ndim - trail :])


@dataclass
class LavaResult:
    """Per layer messages ``[T, N, *shape]``, the last layer's voltage (or sigma), and the
    seconds spent in ``run`` (compiling and starting included, building excluded)."""

    spikes: list[np.ndarray]
    voltage: np.ndarray
    seconds: float


def _run_one(path: str, x: np.ndarray, steps: int) -> tuple[list[np.ndarray], np.ndarray, float]:
    """One sample ``x`` (``[T', *input_shape]`` integers, zeros after T') through the net."""
    net = netx.hdf5.Network(net_config=path, input_message_bits=24)
    data = np.zeros((steps, *net.inp.shape), np.int32)
    data[: len(x)] = whc(x, lead=1).reshape(len(x), *net.inp.shape)[:steps]
    src = RingBuffer(data=np.moveaxis(data, 0, -1))
    src.s_out.connect(net.inp)
    sinks = []
    for layer in net.layers:
        sinks.append(Sink(shape=layer.shape, buffer=steps))
        layer.neuron.s_out.connect(sinks[-1].a_in)
    monitor = Monitor()  # one probe per monitor: several make Lava's compiler fail
    last = net.layers[-1].neuron
    state = "v" if hasattr(last, "v") else "sigma"  # CUBA voltage, or (sigma-)delta sigma
    monitor.probe(getattr(last, state), steps)
    try:
        start = time.perf_counter()
        net.run(condition=RunSteps(num_steps=steps), run_cfg=RUN_CFG)
        seconds = time.perf_counter() - start
        data_out = monitor.get_data()
        rasters = [np.moveaxis(sink.data.get(), -1, 0) for sink in sinks]
    finally:
        net.stop()
    spikes = [whc(r, lead=1).astype(np.int64) for r in rasters]
    v = np.asarray(data_out[last.name][state]).reshape(steps, *net.layers[-1].shape)
    return spikes, whc(v, lead=1).astype(np.int64), seconds


def run_netx(path: str | os.PathLike[str], x: np.ndarray, steps: int) -> LavaResult:
    """Run input messages ``x`` (``[T', N, *input_shape]`` integers, zeros after ``T'``)
    for ``steps`` steps, one sample at a time; outputs are stacked over samples on axis 1."""
    per = [_run_one(str(path), x[:, i], steps) for i in range(x.shape[1])]
    spikes = [np.stack([p[0][i] for p in per], 1) for i in range(len(per[0][0]))]
    return LavaResult(spikes, np.stack([p[1] for p in per], 1), sum(p[2] for p in per))


def main(argv: list[str] | None = None) -> None:
    """``python -m sjconvert.targets.lava.run NET X.npz OUT.npz --steps T``: run the integer
    input ``x`` of X.npz and save ``spikes_<i>`` per layer and ``voltage`` to OUT.npz (the
    ``to-lava --verify`` subprocess in the Lava environment)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("net")
    parser.add_argument("inputs")
    parser.add_argument("output")
    parser.add_argument("--steps", type=int, required=True)
    args = parser.parse_args(argv)
    res = run_netx(args.net, np.load(args.inputs)["x"], args.steps)
    arrays = {f"spikes_{i}": s for i, s in enumerate(res.spikes)}
    np.savez_compressed(args.output, voltage=res.voltage, seconds=res.seconds, **arrays)


if __name__ == "__main__":
    main()
