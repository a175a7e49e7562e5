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
the ``buf``, ``close`` and ``unlink`` Lava uses.

**Thread primitives.** Each channel also holds two ``multiprocessing`` semaphores, and the
runtime a ``multiprocessing.Queue`` per process for its build errors: each semaphore and
each of a queue's three locks is a file mapped into memory. With thousands of processes and
channels, these mappings, the segments' and the threads' stacks passed Linux's default limit
of 65 530 memory maps per process (``vm.max_map_count``; DenseNet-121: "OSError: [Errno 12]
Cannot allocate memory" in a ``SemLock``, as Lava's runtime started). Between threads of
one process, ``threading.Semaphore`` and ``queue.Queue`` do the same work with no file.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from lava.magma.compiler.channels import pypychannel
from lava.magma.runtime import runtime as lava_runtime
from lava.magma.runtime.message_infrastructure import shared_memory_manager as lava_shm
from lava.magma.runtime.message_infrastructure.multiprocessing import MultiProcessing

# Per actor: its model's Python frames (a model's ``run`` loop is shallow) and its channel
# threads'. Virtual size; a thread commits the pages it touches.
ACTOR_STACK_BYTES = 4 << 20
# Memory maps per Lava process when actors are threads (Lava's port threads' stacks)
MAPS_PER_PROCESS = 34
# Threads per Lava process when actors are threads (its own and its channel ports')
THREADS_PER_PROCESS = 17


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


@contextlib.contextmanager
def lava_actors_as_threads() -> Iterator[None]:
    """Within the block, Lava's runtimes start their actors as threads, their channels live
    in private memory, and their semaphores and error queues are threads' (see the module)."""
    patches = [
        (MultiProcessing, "build_actor", _build_thread_actor),
        (lava_shm.SharedMemoryManager, "create_shared_memory", _private_segment),
        (pypychannel, "Semaphore", threading.Semaphore),
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
    gives every channel port a thread, about :data:`THREADS_PER_PROCESS` per Lava process,
    each an id under ``kernel.pid_max`` (system-wide) and a stack and guard page, two of the
    ``vm.max_map_count`` maps of one process (about :data:`MAPS_PER_PROCESS` in all).
    Measured on DenseNet-121: 2603 Lava processes, 42 877 threads, 87 376 maps."""
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
