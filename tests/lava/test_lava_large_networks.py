"""Networks of thousands of Lava processes (DenseNet-121: 662 populations and their synapses).

Lava 0.10's compiler walks the process graph with one Python frame per connected process,
so a network of more than ~1000 Lava processes (DenseNet-121: 662 populations and their
synapses) raised ``RecursionError`` in the ``to-lava --verify`` subprocess.
:func:`~sjconvert.targets.lava.running.in_lava.with_deep_stack` is how that subprocess runs.
No Lava process is started here: the walk is Lava's own, over a chain of `Dense` processes
that is never run (a run would spawn one OS process each).

Lava forks one OS process per process (~25 MB each once running), so such a network runs
with Lava's actors as threads of one process
(:mod:`~sjconvert.targets.lava.running.large_networks`): the same compiler, models, channels
and sync protocol, so the same messages; and Lava's channels keep no file descriptor open."""

import itertools
import os
import subprocess
import sys
import threading
from multiprocessing.managers import BaseManager
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from lava.magma.compiler.compiler_graphs import find_processes
from lava.proc.dense.process import Dense

from sjconvert import ann2snn
from sjconvert.targets.lava.build import to_loihi
from sjconvert.targets.lava.running import in_lava
from sjconvert.targets.lava.running.in_lava import with_deep_stack
from sjconvert.targets.lava.running.large_networks import (
    ThreadActor,
    check_system_limits,
    lava_actors_as_threads,
)
from tests.lava.parity import export_parity
from tests.lava.test_lava_graded_in_lava import PoolNet

pytestmark = pytest.mark.lava

CHAIN = 1100  # past Python's default limit of 1000 frames


@pytest.fixture(scope="module")
def chain() -> list[Dense]:
    procs = [Dense(weights=np.ones((1, 1))) for _ in range(CHAIN)]
    for a, b in itertools.pairwise(procs):
        a.a_out.connect(b.s_in)
    return procs


def test_default_limit_is_too_small_for_lavas_walk(chain: list[Dense]) -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        with pytest.raises(RecursionError):
            find_processes(chain[0])
    finally:
        sys.setrecursionlimit(limit)


def test_deep_stack_finds_every_process_and_restores_the_limit(chain: list[Dense]) -> None:
    limit = sys.getrecursionlimit()
    found = with_deep_stack(find_processes, chain[0])
    assert len(found) == CHAIN and set(map(id, found)) == set(map(id, chain))
    assert sys.getrecursionlimit() == limit


def test_deep_stack_hands_errors_to_the_caller() -> None:
    def fail(message: str) -> None:
        raise ValueError(message)

    with pytest.raises(ValueError, match="from the lava thread"):
        with_deep_stack(fail, "from the lava thread")


@pytest.mark.parametrize("threads", [True, False], ids=["threads", "forked"])
def test_lava_hosted_either_way_matches_our_fixed_point(tmp_path, monkeypatch, threads):
    """Max-pool trees, a residual skip with a delay and a concat, with Lava's actors as
    threads (the default) or forked processes: every population's messages at every step
    and the output state equal our fixed point's."""
    built: list[ThreadActor] = []
    start = ThreadActor.start
    monkeypatch.setattr(ThreadActor, "start", lambda self: (built.append(self), start(self)))
    servers: list[BaseManager] = []  # Lava's shared-memory manager forks a server process
    serve = BaseManager.start
    monkeypatch.setattr(BaseManager, "start", lambda self: (servers.append(self), serve(self)))
    x = np.random.default_rng(5).normal(0, 1, (16, 2, 10, 10)).astype(np.float32)
    snn = ann2snn(PoolNet().eval(), [torch.from_numpy(x)]).snn
    exp = to_loihi(snn, 3, x_max=float(np.abs(x).max()))
    ours = export_parity(exp, exp.graph.encode(x[:3]), tmp_path, threads)
    assert ours.spikes[exp.graph.output["process"]][exp.net.latency :].any()
    if threads:  # every process, the source, the harness
        assert len(built) > len(exp.graph.processes)
        assert all(not actor.is_alive() for actor in built)  # stopped with the run
        assert not servers  # no process to outlive a run killed by a signal
    else:
        assert not built and servers


def test_thread_hosted_channels_hold_no_file_descriptor():
    """Under ``lava_actors_as_threads`` a channel's buffer is private memory: no open file
    and usable; Lava's own segments hold two descriptors each (what DenseNet-121's 20 000
    ran out of)."""
    from lava.magma.runtime.message_infrastructure.shared_memory_manager import (
        SharedMemoryManager,
    )

    def open_files() -> int:
        return len(os.listdir("/proc/self/fd"))

    smm = SharedMemoryManager()
    smm.start()
    try:
        before = open_files()
        with lava_actors_as_threads():
            kept = [smm.create_shared_memory(64) for _ in range(40)]
        assert open_files() - before < 5  # the manager's connections come and go
        for i, segment in enumerate(kept):
            segment.buf[:2] = bytes([i, 255 - i])
        assert all(bytes(s.buf[:2]) == bytes([i, 255 - i]) for i, s in enumerate(kept))
        plain = [smm.create_shared_memory(64) for _ in range(40)]
        assert open_files() - before >= 80 and len(plain) == 40
    finally:
        smm.shutdown()  # closes every segment, the private ones too


def _channels(smm, n: int) -> list:
    from lava.magma.compiler.channels.pypychannel import PyPyChannel

    made = [
        PyPyChannel(SimpleNamespace(smm=smm), f"a{i}", f"b{i}", (3,), np.int32, 2) for i in range(n)
    ]
    for channel in made:
        channel.src_port.start()
        channel.dst_port.start()
    return made


def test_thread_hosted_channels_add_no_thread_and_no_memory_map():
    """Each Lava channel holds two ``multiprocessing`` semaphores (mapped files) and starts a
    thread per port, each runtime error queue three locks: DenseNet-121's 2603 Lava
    processes ran 42 877 threads and passed Linux's 65 530 maps per process. Under
    ``lava_actors_as_threads`` a channel's ports hand messages over in the caller's thread
    and its buffer is ordinary memory: no thread, no mapping; messages keep their order and
    a full channel still blocks its writer's ``probe``."""
    from lava.magma.runtime import runtime as lava_runtime
    from lava.magma.runtime.message_infrastructure.shared_memory_manager import (
        SharedMemoryManager,
    )

    def maps() -> int:
        with open("/proc/self/maps") as f:
            return sum(1 for _ in f)

    smm = SharedMemoryManager()
    smm.start()
    threads, before = threading.active_count(), maps()
    try:
        with lava_actors_as_threads():
            ours = _channels(smm, 100) + [lava_runtime.Queue() for _ in range(50)]
        assert maps() - before < 10 and threading.active_count() == threads
        send, recv = ours[0].src_port, ours[0].dst_port
        assert not recv.probe()
        send.send(np.array([1, 2, 3]))
        send.send(np.array([4, 5, 6]))
        assert recv.probe() and not send.probe()  # two slots, both full
        assert recv.recv().tolist() == [1, 2, 3] and send.probe()
        assert recv.recv().tolist() == [4, 5, 6] and not recv.probe()
        before = maps()
        plain = _channels(smm, 100)
        assert maps() - before >= 200 and threading.active_count() >= threads + 200
    finally:
        for channel in ours[:100] + locals().get("plain", []):
            channel.src_port.join()
            channel.dst_port.join()
        smm.shutdown()


def test_a_thread_hosted_message_wakes_a_waiting_selector():
    """A reader waiting in Lava's ``CspSelector`` is woken by the writer's own thread."""
    from lava.magma.compiler.channels.pypychannel import CspSelector
    from lava.magma.runtime.message_infrastructure.shared_memory_manager import (
        SharedMemoryManager,
    )

    smm = SharedMemoryManager()
    smm.start()
    try:
        with lava_actors_as_threads():
            (channel,) = _channels(smm, 1)
        got: list = []
        reader = threading.Thread(
            target=lambda: got.append(CspSelector().select((channel.dst_port, lambda: "msg")))
        )
        reader.start()
        reader.join(0.2)
        assert reader.is_alive()  # nothing sent yet
        channel.src_port.send(np.array([7, 8, 9]))
        reader.join(5)
        assert got == ["msg"] and channel.dst_port.recv().tolist() == [7, 8, 9]
    finally:
        smm.shutdown()


def test_too_many_processes_for_the_system_limits_are_refused_first(tmp_path):
    """A thread-hosted run that would pass ``vm.max_map_count`` or ``kernel.pid_max`` is
    refused before Lava compiles, with the limit, the need and how to raise it."""
    (tmp_path / "vm").mkdir()
    (tmp_path / "kernel").mkdir()
    (tmp_path / "vm" / "max_map_count").write_text("65530\n")
    (tmp_path / "kernel" / "pid_max").write_text("32768\n")
    check_system_limits(2603, str(tmp_path))  # DenseNet-121, within Linux's defaults
    with pytest.raises(RuntimeError, match=r"30000 Lava processes need about 90000 memory maps"):
        check_system_limits(30000, str(tmp_path))
    (tmp_path / "vm" / "max_map_count").write_text("262144\n")
    check_system_limits(30000, str(tmp_path))
    (tmp_path / "kernel" / "pid_max").write_text("16384\n")
    with pytest.raises(RuntimeError, match=r"30000 threads .*sysctl -w kernel.pid_max=32768"):
        check_system_limits(30000, str(tmp_path))


def test_a_failed_run_is_stopped_quietly_or_abandoned(monkeypatch):
    """After a run raised, Lava's ``stop`` may raise too, or wait forever on actors that
    never started: neither may hide the run's own error or hold the subprocess."""

    class Failing:
        def stop(self) -> None:
            raise RuntimeError("the runtime never started")

    class Hanging:
        def stop(self) -> None:
            threading.Event().wait()

    in_lava._stop_failed_run(Failing())  # returns: the stop's own error is dropped
    monkeypatch.setattr(in_lava, "STOP_FAILED_SECONDS", 0.2)
    in_lava._stop_failed_run(Hanging())  # returns after the limit


PINNED = """
import os, threading
from sjconvert.targets.lava.running.in_lava import pin_to
cpu = max(os.sched_getaffinity(0))
pin_to(cpu)
done = threading.Event()
late = threading.Thread(target=done.wait)
late.start()
cpus = {
    tid: open(f"/proc/self/task/{tid}/status").read().split("Cpus_allowed_list:")[1].split()[0]
    for tid in os.listdir("/proc/self/task")
}
done.set()
print(cpu, len(cpus), sorted(set(cpus.values())))
"""


def test_a_pinned_lava_run_keeps_every_thread_on_its_cpu() -> None:
    """``in_lava --cpu N``: the threads started at import (OpenBLAS's) and every thread
    started after (Lava's actors) run on CPU N only."""
    env = {**os.environ, "PYTHONPATH": str(in_lava.__file__).rsplit("/sjconvert/", 1)[0]}
    out = subprocess.run(
        [sys.executable, "-c", PINNED], capture_output=True, text=True, env=env, check=True
    ).stdout.split(maxsplit=2)
    cpu, threads, allowed = int(out[0]), int(out[1]), out[2].strip()
    assert threads >= 2 and allowed == f"['{cpu}']"
