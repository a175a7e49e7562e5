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
a channel's buffer needs no file: :class:`PrivateSegment` is anonymous memory, with the
``buf``, ``close`` and ``unlink`` Lava uses.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from lava.magma.runtime.message_infrastructure import shared_memory_manager as lava_shm
from lava.magma.runtime.message_infrastructure.multiprocessing import MultiProcessing

# Per actor: its model's Python frames (a model's ``run`` loop is shallow) and its channel
# threads'. Virtual size; a thread commits the pages it touches.
ACTOR_STACK_BYTES = 4 << 20


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
    anonymous memory (no file, no descriptor), closed as Lava closes its segments."""

    def __init__(self, size: int) -> None:
        self.size, self.name = size, None
        self._mmap = mmap.mmap(-1, max(size, 1))
        self.buf = memoryview(self._mmap)

    def close(self) -> None:
        self.buf.release()
        self._mmap.close()

    def unlink(self) -> None:
        """Nothing to remove: no file backs it."""


def _private_segment(self: lava_shm.SharedMemoryManager, size: int) -> PrivateSegment:
    segment = PrivateSegment(size)
    self._shared_memory_handles.append(segment)  # closed by the manager's shutdown
    return segment


@contextlib.contextmanager
def lava_actors_as_threads() -> Iterator[None]:
    """Within the block, Lava's runtimes start their actors as threads, and their channels
    live in private memory (see the module)."""
    build_actor = MultiProcessing.build_actor
    create = lava_shm.SharedMemoryManager.create_shared_memory
    MultiProcessing.build_actor = _build_thread_actor  # type: ignore[method-assign]
    lava_shm.SharedMemoryManager.create_shared_memory = _private_segment  # type: ignore
    try:
        yield
    finally:
        MultiProcessing.build_actor = build_actor  # type: ignore[method-assign]
        lava_shm.SharedMemoryManager.create_shared_memory = create  # type: ignore
