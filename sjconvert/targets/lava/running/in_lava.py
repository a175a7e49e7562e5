"""Run many samples through a Lava network built once (``Loihi2SimCfg(select_tag="fixed_pt")``).

Needs lava-nc (and lava-dl for NetX files): the Python 3.10 environment; nothing else in
sjconvert imports this module. The network — a process-graph artifact
(:mod:`.procgraph_loader`) or a NetX file — is built and compiled once; samples run back to
back, ``T`` steps each. One :class:`Harness` process watches it: it records every
population's messages, reads the output's state Var after every step (as a ``Monitor``
would), and after the last step of each sample writes every state Var (neuron ``u``/``v``,
``sigma``/``act``/``residue``, synapse buffers) back to its initial value — after reading,
so no idle step is needed — so every sample starts as in a fresh network. One process
instead of a sink, a ``Reset`` and a monitor per Var: Lava's simulator pays for every
process at every step. Arrays are in Lava's layout, ``[T, N, *shape]``.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from typing import Any

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyRefPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, RefPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.io.source import RingBuffer as Source

from ..formats import procgraph_loader as loader
from . import exact_conv
from .large_networks import check_system_limits, lava_actors_as_threads

# Lava 0.10's compiler walks the process graph recursively, one Python frame per connected
# process (``compiler_graphs.find_processes``; ``flatten_list_recursive`` one per list
# element), so a network of more than ~1000 Lava processes (DenseNet-121: 662 populations and
# their synapses) passes Python's default limit of 1000 frames. Its runs get these instead.
LAVA_RECURSION_LIMIT = 100_000
LAVA_STACK_BYTES = 512 << 20  # virtual; a thread commits only the pages it touches
# Lava's actors are threads of one OS process by default (:mod:`.large_networks`): measured
# 2026-12-07 on the census's random-weight ResNet-18 and GoogLeNet (2 samples, every step),
# 8.1 s and 64 s as threads against 9.3 s and 111 s forked, each forked process holding
# ~25 MB (GoogLeNet's 328: 8.3 GB). ``threads=False`` (``--actors processes``) forks them.
# Messages a Lava channel buffers when actors are threads (Lava's default: 64, kept for
# forked runs). Under the Loihi protocol every port sends once per step and its reader takes
# it in the same step; 64 buffers of every population's output held 16.9 GB for
# DenseNet-121. Forked runs keep 64: GoogLeNet and Inception v3 stalled in the census with
# 2 (not diagnosed), and GoogLeNet's 50-sample parity was measured with 64.
THREADED_COMPILE_CONFIG = {"pypy_channel_size": 2}
# How long a run that raised may take to stop before its actors are abandoned
STOP_FAILED_SECONDS = 60

STATE_VAR = {"LIF": "v", "SigmaDelta": "sigma", "Sigma": "sigma", "GradedIF": "c"}


class Harness(AbstractProcess):
    """Records ``in<i>`` (messages of ``shapes[i]``), reads ``state`` after every step and
    writes ``values[j]`` to ``ref<j>`` after every ``period`` steps; after ``steps`` steps
    it saves ``spikes/<names[i]>`` and ``state`` to ``path`` (``.npz``), per sample:
    ``[period, steps // period, ...]``."""

    def __init__(
        self,
        *,
        shapes: list[tuple[int, ...]],
        names: list[str],
        state: Any,
        resets: list[tuple[Any, int]],
        steps: int,
        period: int,
        path: str,
    ) -> None:
        values = [v for _, v in resets]
        super().__init__(
            shapes=shapes, names=names, state_shape=state.shape, values=values, steps=steps,
            period=period, path=path,
        )  # fmt: skip
        for i, shape in enumerate(shapes):
            setattr(self, f"in{i}", InPort(shape=shape))
        self.state = RefPort(state.shape)
        self.state.connect_var(state)
        for j, (var, _) in enumerate(resets):
            setattr(self, f"ref{j}", RefPort(var.shape))
            getattr(self, f"ref{j}").connect_var(var)


class PyHarness(PyLoihiProcessModel):
    """The model of :class:`Harness` (ports declared per instance by :func:`harness_model`)."""

    def __init__(self, proc_params: dict[str, Any]) -> None:
        super().__init__(proc_params)
        p = proc_params
        self.buffers = [np.zeros((p["steps"], *s), np.int32) for s in p["shapes"]]
        self.states = np.zeros((p["steps"], *p["state_shape"]), np.int64)

    def run_spk(self) -> None:
        for i, buf in enumerate(self.buffers):
            buf[self.time_step - 1] = getattr(self, f"in{i}").recv()

    def post_guard(self) -> bool:
        return True

    def run_post_mgmt(self) -> None:
        t, p = self.time_step, self.proc_params
        self.states[t - 1] = np.asarray(self.state.read()).reshape(self.states.shape[1:])
        if t % p["period"] == 0:
            for j, value in enumerate(p["values"]):
                ref = getattr(self, f"ref{j}")
                ref.write(np.zeros(ref._shape, ref._d_type) + value)
                ref.wait()
        if t == p["steps"]:  # written as read back: no copy of the messages is made
            n = p["steps"] // p["period"]
            spikes = {
                f"spikes/{name}": _per_sample(b, n, p["period"])
                for name, b in zip(p["names"], self.buffers, strict=True)
            }
            np.savez(p["path"], state=_per_sample(self.states, n, p["period"]), **spikes)


def harness_model(harness: Harness) -> type:
    """A process model class with one typed port per port of ``harness``."""
    n_in, n_ref = len(harness.proc_params["shapes"]), len(harness.proc_params["values"])
    ports = {f"in{i}": LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24) for i in range(n_in)}
    ports.update({f"ref{j}": LavaPyType(PyRefPort.VEC_DENSE, int) for j in range(n_ref)})
    ports["state"] = LavaPyType(PyRefPort.VEC_DENSE, int)
    cls = type("PyHarnessInstance", (PyHarness,), ports)
    return tag("fixed_pt")(requires(CPU)(implements(proc=Harness, protocol=LoihiProtocol)(cls)))


def _netx(path: str) -> tuple[dict[str, Any], list[Any], Any, Any]:
    """A NetX network: ``(neurons by layer index, leaf processes, input port, network)``."""
    from lava.lib.dl import netx

    net = netx.hdf5.Network(net_config=path, input_message_bits=24)
    neurons = {str(i): layer.neuron for i, layer in enumerate(net.layers)}
    leaves = [p for layer in net.layers for p in (layer.synapse, layer.neuron) if p is not None]
    return neurons, leaves, net.inp, net


def _initial(proc: Any, var: str) -> int:
    init = np.unique(np.asarray(getattr(proc, var).init))  # one value per Var
    if init.size > 1:
        raise ValueError(f"{proc.name}: per-neuron initial {var} cannot be reset")
    return int(init[0]) if init.size else 0


def run_batched(path: str, x: np.ndarray, workdir: str, **kwargs: Any) -> dict[str, np.ndarray]:
    """:func:`record_batched`, read back: every array of its record."""
    with np.load(record_batched(path, x, workdir, **kwargs)) as f:
        return {k: f[k] for k in f.files}


def record_batched(
    path: str,
    x: np.ndarray,
    workdir: str,
    chunk: int = 10,
    report: Any = None,
    scipy_conv: bool = False,
    threads: bool = True,
) -> str:
    """Run ``x`` (``[T, N, *input shape]`` integers) through the artifact or NetX file at
    ``path``; returns the ``.npz`` file in ``workdir`` that holds every population's
    messages ``[T, N, *shape]`` (``spikes/<name>``: process name, or NetX layer index, in
    population order), ``state`` (the output's state Var) and timings (``seconds``,
    ``build_seconds``, ``threads``).
    Lava's ``Conv`` models compute with :func:`.exact_conv.conv` (bit for bit Lava's
    ``conv_scipy``; 20× faster on a 64-channel 3 × 3 layer) unless ``scipy_conv``.
    ``threads``: host Lava's actors as threads of this process (:mod:`.large_networks`)
    rather than as forked processes."""
    steps, n = x.shape[:2]
    start = time.perf_counter()
    ours: dict[Any, type] = {}
    if path.endswith(".npz"):
        graph, arrays = loader.load(path)
        procs, feeds = loader.build(graph, arrays)
        ours = loader.models(procs)
        neurons = {k: procs[k] for k in procs if graph["processes"][k]["class"] in loader.NEURONS}
        leaves, (targets,) = list(procs.values()), feeds.values()
        out = procs[graph["outputs"]["y"]["process"]]
    else:
        neurons, leaves, port, _ = _netx(path)
        targets, out = [(port, None)], list(neurons.values())[-1]
    long = np.moveaxis(x, 1, 0).reshape(n * steps, *x.shape[2:])
    src = Source(data=np.moveaxis(long, 0, -1))
    for p, reshape in targets:
        (src.s_out.reshape(tuple(reshape)) if reshape else src.s_out).connect(p)
    resets = [
        (getattr(p, v), _initial(p, v)) for p in leaves for v in loader.STATE[type(p).__name__]
    ]
    record = os.path.join(workdir, "record.npz")
    harness = Harness(
        shapes=[p.s_out.shape for p in neurons.values()],
        names=[str(name) for name in neurons],
        state=getattr(out, STATE_VAR[type(out).__name__]),
        resets=resets,
        steps=n * steps,
        period=steps,
        path=record,
    )
    for i, proc in enumerate(neurons.values()):
        proc.s_out.connect(getattr(harness, f"in{i}"))
    cfg = Loihi2SimCfg(
        select_tag="fixed_pt", exception_proc_model_map={harness: harness_model(harness), **ours}
    )
    built = time.perf_counter()
    processes = len(leaves) + 2  # with the source and the harness
    if threads:
        check_system_limits(processes)
    if not scipy_conv:
        exact_conv.use_in_lava(threads)
    hosts = lava_actors_as_threads() if threads else contextlib.nullcontext()
    compile_config = dict(THREADED_COMPILE_CONFIG) if threads else None
    with hosts, loader.linear_process_discovery():
        try:
            for done in range(0, n, chunk):
                k = min(chunk, n - done)
                src.run(RunSteps(num_steps=k * steps), cfg, compile_config=compile_config)
                if report:
                    report(done + k, n)
        except BaseException:
            _stop_failed_run(src)
            raise
        src.stop()
    timings = {
        "build_seconds": built - start,
        "threads": threads,
        "seconds": time.perf_counter() - start,
    }
    with zipfile.ZipFile(record, "a") as z:  # beside the messages, which are not read back
        for key, value in timings.items():
            with z.open(f"{key}.npy", "w") as f:
                np.lib.format.write_array(f, np.asarray(value))
    return record


def _stop_failed_run(src: AbstractProcess) -> None:
    """Stop a run that raised, giving up after :data:`STOP_FAILED_SECONDS`: a runtime that
    failed while starting can leave actors that Lava's ``stop`` waits for forever."""

    def stop() -> None:  # the run's own error is the one to report
        with contextlib.suppress(Exception):
            src.stop()

    stopper = threading.Thread(target=stop, name="lava-stop", daemon=True)
    stopper.start()
    stopper.join(STOP_FAILED_SECONDS)


def _per_sample(a: np.ndarray, n: int, steps: int) -> np.ndarray:
    """``[N·steps, ...]`` recorded over the long run → ``[steps, N, ...]``."""
    return np.moveaxis(a.reshape(n, steps, *a.shape[1:]), 0, 1)


def with_deep_stack(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in a thread with a :data:`LAVA_STACK_BYTES` stack, under a
    recursion limit of at least :data:`LAVA_RECURSION_LIMIT` (restored afterwards): room for
    Lava's recursive graph walks on networks of thousands of processes. Exceptions are
    re-raised in the caller."""
    outcome: list[tuple[bool, Any]] = []

    def call() -> None:
        try:
            outcome.append((True, fn(*args, **kwargs)))
        except BaseException as err:  # handed to the caller unchanged
            outcome.append((False, err))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, LAVA_RECURSION_LIMIT))
    try:
        size = threading.stack_size(LAVA_STACK_BYTES)
        try:
            worker = threading.Thread(target=call, name="lava", daemon=True)
            worker.start()
        finally:
            threading.stack_size(size)  # Lava's own threads get the usual stacks
        worker.join()
    finally:
        sys.setrecursionlimit(limit)
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def pin_to(cpu: int) -> None:
    """Run every thread of this process, and every thread it starts, on ``cpu`` only. Lava's
    actors as threads take turns holding the GIL: on one CPU a hand-off is a switch, across
    two it is a wake-up on the other (measured on GoogLeNet, 2 samples: 37 s pinned against
    47 s, with 6× fewer context switches and the other CPU free)."""
    for tid in os.listdir("/proc/self/task"):  # threads started at import (OpenBLAS's)
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(tid), {cpu})


def main(argv: list[str] | None = None) -> None:
    """``python -m sjconvert.targets.lava.running.in_lava NET X.npz OUT.npz``: run ``x`` (``[T, N,
    ...]``, Lava layout) through NET (``.lpg.npz`` or NetX) and save every population's
    messages and the output state to OUT.npz, printing ``progress DONE TOTAL`` lines (the
    ``to-lava --verify`` subprocess in the Lava environment)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("net")
    parser.add_argument("inputs")
    parser.add_argument("output")
    parser.add_argument(
        "--scipy-conv", action="store_true", help="Lava's own (slow) convolution loop"
    )
    parser.add_argument(
        "--actors",
        choices=["processes", "threads"],
        default="threads",
        help="how Lava's actors are hosted: threads of this process, or forked processes",
    )
    parser.add_argument(
        "--cpu", type=int, default=None, help="run on this CPU only (os.sched_setaffinity)"
    )
    args = parser.parse_args(argv)
    threads = args.actors == "threads"
    if args.cpu is not None:
        pin_to(args.cpu)

    def report(done: int, total: int) -> None:
        print(f"progress {done} {total}", flush=True)

    failure = None
    beside = os.path.dirname(os.path.abspath(args.output))  # os.replace stays in one folder
    with tempfile.TemporaryDirectory(dir=beside) as tmp:
        x = np.load(args.inputs)["x"]
        try:
            record = with_deep_stack(
                record_batched, args.net, x, tmp, report=report, scipy_conv=args.scipy_conv,
                threads=threads,
            )  # fmt: skip
            os.replace(record, args.output)
        except Exception:
            failure = traceback.format_exc()
    if failure is not None:  # the actors and manager of a failed run must not hold the exit
        sys.stderr.write(failure)
        sys.stderr.flush()
        for child in multiprocessing.active_children():
            child.kill()
        os._exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
