"""Lava's runtime with its actors as threads of one OS process (opt-in, for large networks).

Lava 0.10 runs every process of a network — each population, each synapse, the source and
our harness — as a forked OS process (``MultiProcessing.build_actor``), about 25 MB of
private memory each once running: GoogLeNet's 328 processes held 8.3 GB, and DenseNet-121's
(662 populations, more than 1500 processes) cannot fit in 24 GB. :func:`lava_actors_as_threads`
builds the same actors as threads: Lava's compiler, process models, channels (shared-memory
buffers and semaphores) and Loihi sync protocol are unchanged, so the same messages flow in
the same order; only what hosts each actor differs. Every Var array a model owns is a fresh
copy made by Lava's builder (``PyProcessBuilder.build``), so models share no mutable state.
"""

from __future__ import annotations

import contextlib
import os
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

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


@contextlib.contextmanager
def lava_actors_as_threads() -> Iterator[None]:
    """Within the block, Lava's runtimes start their actors as threads (see the module)."""
    original = MultiProcessing.build_actor
    MultiProcessing.build_actor = _build_thread_actor  # type: ignore[method-assign]
    try:
        yield
    finally:
        MultiProcessing.build_actor = original  # type: ignore[method-assign]
