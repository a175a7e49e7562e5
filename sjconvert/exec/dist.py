"""Sharded runs on torch.distributed: which shard this process is, and the reductions that
make a sharded run equal a single-process one.

A run is sharded when a process group is initialised — by the CLI under ``torchrun``
(:func:`init_from_env`), or by the user before calling the Python API. Data is split by
batch: batch ``b`` belongs to rank ``b % world`` (every data form, see
:mod:`sjconvert.frontends.loading`). Results are reduced exactly:

* integer statistics (histogram counts, correct predictions, spike counts held as float64)
  are summed with :func:`all_sum` — integer sums do not depend on the order;
* float statistics are kept per batch and summed in batch order by :func:`ordered_sum`, so
  every rank gets the very floats a single process computes.

A rank that dies or disagrees (other data, another model) makes the others fail with one
:class:`~sjconvert.errors.DistributedError` line, never a hang: collectives run under the
process group's timeout (``SJCONVERT_DIST_TIMEOUT`` seconds when the CLI initialises it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from ..errors import DistributedError, InputError

DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Shard:
    """This process's place in the run: ``rank`` of ``world`` processes."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """The process that prints and writes (rank 0)."""
        return self.rank == 0

    def owns(self, batch: int) -> bool:
        """Whether batch number ``batch`` of a data set belongs to this shard."""
        return batch % self.world == self.rank


def current() -> Shard:
    """The shard of this process: rank and world size of the initialised process group, or
    a single process."""
    if dist.is_available() and dist.is_initialized():
        return Shard(dist.get_rank(), dist.get_world_size())
    return Shard()


_DESTROY_IS_SAFE = tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 4)


def requested() -> bool:
    """Whether the environment describes a process group to join (``WORLD_SIZE > 1``)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env() -> Shard:
    """Join the process group ``torchrun`` (or SLURM with the same variables) describes:
    ``WORLD_SIZE > 1`` in the environment; NCCL when this process has a CUDA device (and
    ``SJCONVERT_DIST_BACKEND`` does not say otherwise), else gloo."""
    if not requested() or not dist.is_available() or dist.is_initialized():
        return current()
    backend = os.environ.get("SJCONVERT_DIST_BACKEND") or (
        "nccl" if torch.cuda.is_available() else "gloo"
    )
    timeout = float(os.environ.get("SJCONVERT_DIST_TIMEOUT", DEFAULT_TIMEOUT))
    try:
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout))
    except (RuntimeError, ValueError) as exc:
        raise DistributedError(f"cannot join the process group ({_first(exc)})") from None
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return current()


def close() -> None:
    """Leave the process group (after the last collective). torch before 2.4 can hang in
    ``destroy_process_group`` on the rank that hosts the store once a peer has exited (seen
    with gloo, torch 2.3.1, about one run in five): there the group is left to the process
    exit instead."""
    if dist.is_available() and dist.is_initialized() and _DESTROY_IS_SAFE:
        dist.destroy_process_group()


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _device() -> torch.device:
    return torch.device("cuda") if dist.get_backend() == "nccl" else torch.device("cpu")


def _collective(what: str, fn: Any, *args: Any) -> Any:
    """Run a collective; a dead or diverging peer becomes one DistributedError line."""
    try:
        return fn(*args)
    except (RuntimeError, dist.DistBackendError) as exc:
        shard = current()
        raise DistributedError(
            f"rank {shard.rank} of {shard.world}: {what} failed — another process died or "
            f"timed out ({_first(exc)})"
        ) from None


def all_sum(t: torch.Tensor) -> torch.Tensor:
    """The sum of ``t`` over all ranks (a copy; ``t`` itself unchanged). Exact for integer
    values (int64, or float64 holding integers below 2⁵³)."""
    if current().world == 1:
        return t.clone()
    out = t.detach().clone().to(_device())
    _collective("summing results", dist.all_reduce, out, dist.ReduceOp.SUM)
    return out.to(t.device)


def all_max(t: torch.Tensor) -> torch.Tensor:
    """The element-wise maximum of ``t`` over all ranks."""
    if current().world == 1:
        return t.clone()
    out = t.detach().clone().to(_device())
    _collective("taking a maximum", dist.all_reduce, out, dist.ReduceOp.MAX)
    return out.to(t.device)


def gather(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order."""
    shard = current()
    if shard.world == 1:
        return [obj]
    out: list[Any] = [None] * shard.world
    _collective("exchanging results", dist.all_gather_object, out, obj)
    return out


def ordered_sum(partials: Mapping[int, Any]) -> Any:
    """The sum over all ranks of per-batch partial results ``{batch: value}``, added in batch
    order: the floats a single process adding the same batches in order computes."""
    merged: dict[int, Any] = {}
    for part in gather(dict(partials)):
        merged.update(part)
    if not merged:
        raise InputError("no data reached any process")
    total = None
    for key in sorted(merged):
        total = merged[key] if total is None else total + merged[key]
    return total


def agree(what: str, value: Any) -> None:
    """Every rank must hold the same ``value`` (a fingerprint of its data or model); raise
    :class:`InputError` naming the ranks that differ from rank 0."""
    values = gather(value)
    differ = [r for r, v in enumerate(values) if v != values[0]]
    if differ:
        raise InputError(
            f"ranks {differ} see different {what} than rank 0 ({values[differ[0]]!r} vs "
            f"{values[0]!r}): every process must be given the same model and data"
        )
