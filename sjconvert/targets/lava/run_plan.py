"""How a Lava check splits its samples: into groups (one Lava run each, the network built
and compiled once per run) and how many runs go at once, each pinned to a CPU of its own.

A Lava run hosts its actors as threads of one process (:mod:`.running.large_networks`),
and they take turns holding the GIL: one run uses one CPU well and two badly (GoogLeNet,
2 samples: 37 s pinned to one CPU against 47 s free on two, six times fewer context
switches). So a check runs up to one group per CPU at once, while memory allows: each run
holds Lava's network (about :data:`RUN_BYTES`, :data:`PROCESS_BYTES` per Lava process and
:data:`WEIGHT_COPIES` times the artifact's arrays: :func:`run_bytes`) and every
population's messages for its group (int32, every step): Lava's in its run, ours and
Lava's in the check.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from .formats.procgraph import ProcGraph

GROUP = 10  # samples per Lava run at most
MESSAGE_BUDGET = 4 << 30  # bytes of messages (ours and Lava's) held for one group at most
MEMORY_SHARE = 0.75  # of the memory available when a check starts, for its Lava runs
# One Lava run's memory besides messages: RUN_BYTES + PROCESS_BYTES per Lava process
# (measured 2026-12-07: DenseNet-121's 2603 processes, one sample, 2.94 GB peak resident
# with its 0.24 GB of messages; the estimate gives 2.93 GB)
RUN_BYTES = 1 << 30
PROCESS_BYTES = 700 << 10
# and its arrays (weights, biases, thresholds) about 4 times over: measured 2026-12-07, a
# 4096-4096-4096-10 MLP against a 4096-1024-1024-10 one (134 MB against 21 MB of int32
# weights, 6 processes each): 0.97 GB against 0.52 GB peak resident, 3.9 bytes per byte.
# PROCESS_BYTES was fitted on DenseNet-121 with its 0.3 GB of weights inside it, so its
# estimate is now 4.1 GB against the 2.94 measured: on the safe side
WEIGHT_COPIES = 4


@dataclass(frozen=True)
class RunPlan:
    """``group`` samples per Lava run; ``cpus[i % len(cpus)]`` runs the ``i``-th group,
    ``len(cpus)`` runs at a time."""

    group: int
    cpus: tuple[int, ...]

    @property
    def workers(self) -> int:
        return len(self.cpus)


def message_bytes(pg: ProcGraph, steps: int) -> int:
    """Bytes of every population's messages for one sample of ``steps`` steps, ours and
    Lava's (int32)."""
    procs = pg.graph["processes"]
    neurons = sum(int(np.prod(procs[p]["args"]["shape"])) for p in pg.populations())
    return max(1, 2 * 4 * steps * neurons)


def run_bytes(pg: ProcGraph) -> int:
    """Bytes one Lava run of ``pg`` holds besides its messages: its processes and its
    arrays (DenseNet-161's 4927 processes and 1.45 GB of weights: about 10 GB)."""
    arrays = sum(a.nbytes for a in pg.arrays.values())
    return RUN_BYTES + PROCESS_BYTES * len(pg.graph["processes"]) + WEIGHT_COPIES * arrays


def group_size(pg: ProcGraph, steps: int, most: int = GROUP) -> int:
    """Samples per Lava run when runs go one at a time: ``most``, fewer where every
    population's messages over ``steps`` would pass :data:`MESSAGE_BUDGET` (GoogLeNet's
    84 steps of 10 samples held 7 GiB)."""
    return max(1, min(most, MESSAGE_BUDGET // message_bytes(pg, steps)))


def plan_runs(
    pg: ProcGraph,
    n: int,
    steps: int,
    most: int = GROUP,
    cpus: list[int] | None = None,
    memory: int | None = None,
) -> RunPlan:
    """Groups and CPUs for ``n`` samples of ``steps`` steps: as many runs at once as there
    are CPUs (``os.sched_getaffinity``), samples, and room in ``memory`` bytes (by default
    :data:`MEMORY_SHARE` of what is available); groups of at most :func:`group_size`,
    spread evenly over the runs. A run holds its group's messages once in Lava's process
    and twice in this one (ours and Lava's, read back to compare). CPUs are taken from an
    offset set by this process's id, so that checks started side by side do not all pin
    to the first CPU."""
    cpus = sorted(os.sched_getaffinity(0)) if cpus is None else list(cpus)
    memory = int(MEMORY_SHARE * available_memory()) if memory is None else memory
    per_sample = message_bytes(pg, steps) * 3 // 2  # and Lava's again, in the Lava run
    per_run = run_bytes(pg)
    largest = group_size(pg, steps, most)
    fit = memory // (per_run + per_sample)
    workers = max(1, min(len(cpus), n, fit))
    room = max(1, (memory // workers - per_run) // per_sample)
    group = max(1, min(largest, math.ceil(n / workers), room))
    workers = min(workers, math.ceil(n / group))
    start = os.getpid() % len(cpus)
    return RunPlan(group, tuple(cpus[(start + i) % len(cpus)] for i in range(workers)))


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``, else free pages)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
