"""Lava 0.10's compiler walks the process graph with one Python frame per connected process,
so a network of more than ~1000 Lava processes (DenseNet-121: 662 populations and their
synapses) raised ``RecursionError`` in the ``to-lava --verify`` subprocess.
:func:`~sjconvert.targets.lava.running.in_lava.with_deep_stack` is how that subprocess runs.
No Lava process is started here: the walk is Lava's own, over a chain of `Dense` processes
that is never run (a run would spawn one OS process each)."""

import itertools
import sys

import numpy as np
import pytest
from lava.magma.compiler.compiler_graphs import find_processes
from lava.proc.dense.process import Dense

from sjconvert.targets.lava.running.in_lava import with_deep_stack

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
