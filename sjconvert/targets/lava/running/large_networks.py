"""Lava's runtime for networks of thousands of processes (opt-in, or above a size).

**Actors as threads.** Lava 0.10 runs every process of a network — each population, each
synapse, the source and our harness — as a forked OS process (``MultiProcessing.build_actor``),
about 25 MB of private memory each once running: GoogLeNet's 328 processes held 8.3 GB, and
DenseNet-121's (662 populations, more than 1500 processes) cannot fit in 24 GB.
:func:`lava_actors_as_threads` builds the same actors as threads: Lava's compiler, process
models, channel ports and semaphores and Loihi sync protocol are unchanged, so the same
messages flow in the same order; only what hosts each actor (and each channel's buffer,
below) differs.
Every Var array a model owns is a fresh copy made by Lava's builder
(``PyProcessBuilder.build``), so models share no mutable state.

**Channels in private memory.** Each Lava channel is a shared-memory segment created in the
launching process (``SharedMemoryManager.create_shared_memory``), holding two file
descriptors for its life (Python's and its ``mmap``'s): DenseNet-121's channels (data
ports, the runtime's command ports, our harness's reference ports) passed the limit of
20 000 open files ("Too many open files"). When every actor is a thread of this process,
a channel's buffer needs no file: :class:`PrivateSegment` is ordinary process memory, with
the ``buf``, ``close`` and ``unlink`` Lava uses, and Lava's shared-memory manager starts no
server process.

**Thread primitives.** Each channel also holds two ``multiprocessing`` semaphores, and the
runtime a ``multiprocessing.Queue`` per process for its build errors: each semaphore and
each of a queue's three locks is a file mapped into memory. With thousands of processes and
channels, these mappings, the segments' and the threads' stacks passed Linux's default limit
of 65 530 memory maps per process (``vm.max_map_count``; DenseNet-121: "OSError: [Errno 12]
Cannot allocate memory" in a ``SemLock``, as Lava's runtime started). Between threads of
one process, ``queue.Queue`` does the same work with no file.

**Ports without threads.** Lava's channel ports each start a thread that waits on the
channel's ``req`` (or ``ack``) semaphore and, when it is released, counts the message in
(or the slot free) and wakes the reader's selector: about 16 threads per Lava process, a
message handed from the writer to that thread and on to the reader. DenseNet-121's 2603
Lava processes ran 42 877 threads, and stepping one sample used 4439 s of the kernel's time
switching them in 60 minutes (294 s of user time) without finishing. Between threads of one
process the writer can do that counting itself: :class:`Handoff` is the ``req`` and ``ack``
whose ``release`` runs the port's callback at once, in the releasing thread, and
:class:`ThreadSendPort` / :class:`ThreadRecvPort` are Lava's ports with that callback and
no thread. The callbacks' bodies are Lava's (``_ack_callback``, ``_req_callback``), so the
order of messages on every channel and what each selector sees are unchanged.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from lava.magma.compiler.channels import pypychannel
from lava.magma.runtime import runtime as lava_runtime
from lava.magma.runtime.message_infrastructure import shared_memory_manager as lava_shm
from lava.magma.runtime.message_infrastructure.multiprocessing import MultiProcessing

# Per actor: its model's Python frames (a model's ``run`` loop is shallow; its ports start no
# thread). Virtual size; a thread commits the pages it touches.
ACTOR_STACK_BYTES = 4 << 20
# Memory maps per Lava process when actors are threads (its thread's stack and guard page,
# and its share of the runtime's; DenseNet-121: 6671 maps for 2603 Lava processes)
MAPS_PER_PROCESS = 3
# Threads per Lava process when actors are threads and ports have none (its actor's;
# DenseNet-121: 2609 threads for 2603 Lava processes)
THREADS_PER_PROCESS = 1


class ThreadActor(threading.Thread):
    """A Lava actor as a thread, with :class:`SystemProcess`'s ``exception`` and ``join``:
    ``exception`` is ``(error, traceback text)`` once the target raised."""

    def __init__(self, target: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        super().__init__(target=target, kwargs=kwargs, daemon=True)
        self._parent_pid = os.getpid()  # MultiProcessing.stop joins the actors it started
        self._error: tuple[BaseException, str] | None = None

    def run(self) -> None:
        try:
            super().run()
        except Exception as err:  # Lava's runtime reads it through ``exception``
            self._error = (err, traceback.format_exc())

    @property
    def exception(self) -> tuple[BaseException, str] | None:
        return self._error


def _build_thread_actor(
    self: MultiProcessing, target_fn: Callable[..., Any], builder: Any, exception_q: Any = None
) -> ThreadActor:
    actor = ThreadActor(target_fn, {"builder": builder, "exception_q": exception_q})
    size = threading.stack_size(ACTOR_STACK_BYTES)
    try:
        actor.start()
    finally:
        threading.stack_size(size)
    self._actors.append(actor)
    return actor


class PrivateSegment:
    """A channel's buffer for actors that are threads of one process: ``size`` bytes of
    process memory (no file, no descriptor, no mapping of its own), released as Lava closes
    its segments."""

    def __init__(self, size: int) -> None:
        self.size, self.name = size, None
        self.buf = memoryview(bytearray(max(size, 1)))

    def close(self) -> None:
        self.buf.release()

    def unlink(self) -> None:
        """Nothing to remove: no file backs it."""


def _private_segment(self: lava_shm.SharedMemoryManager, size: int) -> PrivateSegment:
    segment = PrivateSegment(size)
    self._shared_memory_handles.append(segment)  # closed by the manager's shutdown
    return segment


def _no_manager_process(self: lava_shm.SharedMemoryManager) -> None:
    """Lava's ``start``, with no segment to serve: no server process is forked (one that
    outlived a run killed by a signal, as OpenBLAS's abort did)."""


def _close_private_segments(self: lava_shm.SharedMemoryManager) -> None:
    for segment in self._shared_memory_handles:
        segment.close()
    self._shared_memory_handles.clear()


class Handoff:
    """A channel's ``req`` or ``ack`` semaphore between threads of one process: ``release``
    runs the callback its port registered (the work Lava's port thread did on acquiring)."""

    def __init__(self, value: int = 0) -> None:
        self.on_release: Callable[[], None] = _unregistered

    def release(self) -> None:
        self.on_release()


def _unregistered() -> None:
    raise RuntimeError("a Lava channel was released before its port was built")


class ThreadSendPort(pypychannel.CspSendPort):
    """Lava's send port with no thread: a message read by the receiver frees its slot at
    once (the body of ``CspSendPort._ack_callback``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._semaphore = threading.BoundedSemaphore(self._size)
        self._ack.on_release = self._acknowledged

    def start(self) -> None:
        self._array = _slots(self)

    def _acknowledged(self) -> None:
        if self._done:
            return
        not_full = self.probe()
        self._semaphore.release()
        if self.observer and not not_full:
            self.observer()


class ThreadRecvPort(pypychannel.CspRecvPort):
    """Lava's receive port with no thread: a message sent is counted in at once (the body of
    ``CspRecvPort._req_callback``). Its queue exists from construction, so a message sent
    before the receiving actor has started its ports waits there."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue = pypychannel.CspRecvQueue(self._size)
        self._req.on_release = self._delivered

    def start(self) -> None:
        if self._dtype == 4:  # as Lava's start: LavaCDataType.INT32
            self._dtype = np.int32
        self._array = _slots(self)

    def _delivered(self) -> None:
        if self._done:
            return
        not_empty = self.probe()
        self._queue.put_nowait(0)
        if self.observer and not not_empty:
            self.observer()


def _slots(port: pypychannel.CspSendPort | pypychannel.CspRecvPort) -> list[np.ndarray]:
    """The channel buffer's ``size`` message slots, as Lava's ``start`` makes them."""
    n = port._nbytes
    return [
        np.ndarray(port._shape, port._dtype, buffer=port._shm.buf[n * i : n * (i + 1)])
        for i in range(port._size)
    ]


@contextlib.contextmanager
def lava_actors_as_threads() -> Iterator[None]:
    """Within the block, Lava's runtimes start their actors as threads, their channels live
    in private memory, their ports hand messages over without threads, and their error
    queues are threads' (see the module)."""
    patches = [
        (MultiProcessing, "build_actor", _build_thread_actor),
        (lava_shm.SharedMemoryManager, "create_shared_memory", _private_segment),
        (lava_shm.SharedMemoryManager, "start", _no_manager_process),
        (lava_shm.SharedMemoryManager, "shutdown", _close_private_segments),
        (pypychannel, "Semaphore", Handoff),
        (pypychannel, "CspSendPort", ThreadSendPort),
        (pypychannel, "CspRecvPort", ThreadRecvPort),
        (lava_runtime, "Queue", queue.Queue),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def check_system_limits(processes: int, proc_sys: str = "/proc/sys") -> None:
    """Refuse, before Lava compiles, a thread-hosted run that would pass a Linux limit: Lava
    process's actor is a thread, each an id under ``kernel.pid_max`` (system-wide) and a stack
    and guard page, two of the ``vm.max_map_count`` maps of one process. Measured on
    DenseNet-121 (2603 Lava processes) with Lava's port threads: 42 877 threads, 87 376 maps;
    without them 2609 threads and 6671 maps, within Linux's defaults."""
    limits = (
        ("vm/max_map_count", "memory maps in one process", MAPS_PER_PROCESS),
        ("kernel/pid_max", "threads (process ids, system-wide)", THREADS_PER_PROCESS),
    )
    for key, what, per_process in limits:
        try:
            with open(os.path.join(proc_sys, key)) as f:
                limit = int(f.read())
        except (OSError, ValueError):
            continue  # not Linux, or not readable: nothing to check against
        need = per_process * processes
        if need > limit:
            name = key.replace("/", ".")
            raise RuntimeError(
                f"{processes} Lava processes need about {need} {what} and this system "
                f"allows {limit} ({name}); raise it with "
                f"`sudo sysctl -w {name}={1 << (need - 1).bit_length()}`, "
                "or skip Lava with --lava-samples 0"
            )
