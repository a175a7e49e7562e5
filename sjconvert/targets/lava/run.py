"""Run many samples through a Lava network built once (``Loihi2SimCfg(select_tag="fixed_pt")``).

Needs lava-nc (and lava-dl for NetX files): the Python 3.10 environment; nothing else in
sjconvert imports this module. The network — a process-graph artifact
(:mod:`.procgraph_loader`) or a NetX file — is built and compiled once; samples run back to
back, ``period = T + 1`` steps each. After each period a ``lava.proc.io.reset.Reset``
process per state Var (neuron ``u``/``v``, ``sigma``/``act``/``residue``, synapse buffers)
writes its initial value, so every sample starts as in a fresh network; the extra, idle
step keeps the output monitor from reading a Var while it is reset. Arrays are in Lava's
layout, ``[T, N, *shape]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.io.source import RingBuffer as Source
from lava.proc.monitor.process import Monitor

from . import procgraph_loader as loader

STATE_VAR = {"LIF": "v", "SigmaDelta": "sigma", "Sigma": "sigma"}


class Recorder(AbstractProcess):
    """Records every message it receives and saves them, ``[steps, *shape]``, to ``path``
    after the last step (Lava's sink ``RingBuffer`` reads back through the runtime at a few
    seconds per hundred thousand values)."""

    def __init__(self, *, shape: tuple[int, ...], steps: int, path: str) -> None:
        super().__init__(shape=shape, steps=steps, path=path)
        self.a_in = InPort(shape=shape)


@implements(proc=Recorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyRecorder(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params: dict[str, Any]) -> None:
        super().__init__(proc_params)
        self.path, steps = proc_params["path"], proc_params["steps"]
        self.buffer = np.zeros((steps, *proc_params["shape"]), np.int32)

    def run_spk(self) -> None:
        self.buffer[self.time_step - 1] = self.a_in.recv()
        if self.time_step == len(self.buffer):
            np.save(self.path, self.buffer)


def long_input(x: np.ndarray, period: int) -> np.ndarray:
    """``[T, N, ...]`` per-sample messages → ``[N·period, ...]`` back to back (idle steps
    after each sample get zeros)."""
    steps, n = x.shape[:2]
    out = np.zeros((n, period, *x.shape[2:]), np.int32)
    out[:, :steps] = np.moveaxis(x, 1, 0)
    return out.reshape(n * period, *x.shape[2:])


def per_sample(a: np.ndarray, n: int, period: int, steps: int) -> np.ndarray:
    """``[N·period, ...]`` recorded over the long run → ``[steps, N, ...]``."""
    return np.moveaxis(a.reshape(n, period, *a.shape[1:])[:, :steps], 0, 1)


def _netx(path: str) -> tuple[Any, dict[str, Any], list[Any], Any]:
    """A NetX network: ``(network, neurons by layer index, leaf processes, input port)``."""
    from lava.lib.dl import netx

    net = netx.hdf5.Network(net_config=path, input_message_bits=24)
    neurons = {str(i): layer.neuron for i, layer in enumerate(net.layers)}
    leaves = [p for layer in net.layers for p in (layer.synapse, layer.neuron) if p is not None]
    return net, neurons, leaves, net.inp


def run_batched(
    path: str, x: np.ndarray, workdir: str, chunk: int = 10, report: Any = None
) -> dict[str, np.ndarray]:
    """Run ``x`` (``[T, N, *input shape]`` integers) through the artifact or NetX file at
    ``path``; returns every population's messages ``[T, N, *shape]`` (keyed by process
    name, or NetX layer index; recorded into ``workdir``), ``state`` (the output's state
    Var) and timings."""
    steps, n = x.shape[:2]
    period = steps + 1
    start = time.perf_counter()
    if path.endswith(".npz"):
        graph, arrays = loader.load(path)
        procs, feeds = loader.build(graph, arrays)
        neurons = {
            k: procs[k] for k, p in graph["processes"].items() if p["class"] in loader.NEURONS
        }
        leaves = list(procs.values())
        out = procs[graph["outputs"]["y"]["process"]]
    else:
        _, neurons, leaves, port = _netx(path)
        feeds = {"x": [(port, None)]}
        out = list(neurons.values())[-1]
    loader.add_resets(leaves, period)
    src = Source(data=np.moveaxis(long_input(x, period), 0, -1))
    for p, reshape in next(iter(feeds.values())):
        (src.s_out.reshape(tuple(reshape)) if reshape else src.s_out).connect(p)
    files = {name: os.path.join(workdir, f"{i}.npy") for i, name in enumerate(neurons)}
    models = {}
    for name, proc in neurons.items():
        rec = Recorder(shape=proc.s_out.shape, steps=n * period, path=files[name])
        proc.s_out.connect(rec.a_in)
        models[rec] = PyRecorder
    cfg = Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map=models)
    var = STATE_VAR[type(out).__name__]
    monitor = Monitor()
    monitor.probe(getattr(out, var), n * period)
    built = time.perf_counter()
    try:
        for done in range(0, n, chunk):
            k = min(chunk, n - done)
            src.run(condition=RunSteps(num_steps=k * period), run_cfg=cfg)
            if report:
                report(done + k, n)
        state = np.asarray(monitor.get_data()[out.name][var]).reshape(n * period, *out.s_out.shape)
    finally:
        src.stop()
    result = {f"spikes/{k}": per_sample(np.load(f), n, period, steps) for k, f in files.items()}
    result["state"] = per_sample(state, n, period, steps)
    result["build_seconds"] = np.float64(built - start)
    result["seconds"] = np.float64(time.perf_counter() - start)
    return result


def main(argv: list[str] | None = None) -> None:
    """``python -m sjconvert.targets.lava.run NET X.npz OUT.npz``: run ``x`` (``[T, N,
    ...]``, Lava layout) through NET (``.lpg.npz`` or NetX) and save every population's
    messages and the output state to OUT.npz, printing ``progress DONE TOTAL`` lines (the
    ``to-lava --verify`` subprocess in the Lava environment)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("net")
    parser.add_argument("inputs")
    parser.add_argument("output")
    args = parser.parse_args(argv)

    def report(done: int, total: int) -> None:
        print(f"progress {done} {total}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        res = run_batched(args.net, np.load(args.inputs)["x"], tmp, report=report)
    tmp = f"{args.output}.part.npz"
    np.savez(tmp, **res)
    os.replace(tmp, args.output)


if __name__ == "__main__":
    main(sys.argv[1:])
