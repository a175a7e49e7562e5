"""Loading user models and data, with one clear error for each kind of bad input.

Models: a state dict plus an architecture ``package.module:Class`` or a factory call with
literal arguments, ``package.module:factory(num_classes=10)`` (loaded with
``weights_only=True``), or a whole pickled ``nn.Module`` — unpickling runs code from the
file, so that needs ``trust=True`` — or an ONNX file (``.onnx``, see
:mod:`sjconvert.frontends.onnx`); a pickled model's classes import from the working
directory. Data: data files as users save them (:mod:`.datasets`: ``.npz``, ``.npy``,
``.pt``, pickles with ``trust``) or ``package.module:function`` returning an iterable of
batches; samples on axis 0, or time-major ``[T, N, ...]`` sequences with ``time_major``
(see :mod:`sjconvert.exec.data_layout`); the API also takes one batch (an array, or an
``(x, y)`` pair).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import pickle
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..exec import dist
from ..exec.data_layout import count_mismatch, sample_major
from ..ir.graph import Graph
from ..ir.hdf5 import check_readable
from .arch import parse_arch
from .datafiles import (
    check_labels,
    check_state_dict,
    check_tensors,
    check_x,
    real_array,
    warn_unscaled,
)
from .datasets import importable_cwd, named_arrays, pick, torch_load
from .onnx import load_onnx


def import_object(spec: str) -> Any:
    """Import ``package.module:attr`` from the current directory or PYTHONPATH."""
    if ":" not in spec:
        raise InputError(f"{spec!r} is not of the form package.module:name")
    mod_name, _, attr = spec.partition(":")
    importable_cwd()
    try:
        module = importlib.import_module(mod_name)
    except ImportError as exc:
        raise InputError(f"cannot import module {mod_name!r} ({exc})") from None
    try:
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise InputError(f"module {mod_name!r} has no attribute {attr!r}") from None
    return obj


def load_model(
    path: str | os.PathLike[str], arch: str | None = None, trust: bool = False
) -> nn.Module | Graph:
    """Load a model from ``path`` (see module docstring); an ``.onnx`` file is imported
    straight into an IR :class:`Graph` (:func:`.onnx.load_onnx`)."""
    p = check_readable(path)
    if p.suffix.lower() == ".onnx":
        return load_onnx(p)
    if arch is not None:
        name, args, kwargs = parse_arch(arch)
        factory = import_object(name)
        call = arch if args or kwargs else f"{arch}()"
        try:
            model = factory(*args, **kwargs)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InputError(f"cannot construct {call} ({first})") from None
        if not isinstance(model, nn.Module):
            raise InputError(f"{call} does not return a torch.nn.Module")
        try:
            state = torch_load(p, weights_only=True)
        except pickle.UnpicklingError:
            raise InputError(
                f"{p}: holds a pickled object, not a state dict; with --arch save "
                "model.state_dict(), or drop --arch and pass --trust if you trust the file"
            ) from None
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise InputError(f"{p}: holds a {type(state).__name__}, not a state dict")
        check_state_dict(state, str(p))
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            detail = " ".join(str(exc).split())[:300]
            raise InputError(f"{p}: state dict does not fit {arch} ({detail})") from None
        return model.eval()
    try:
        obj = torch_load(p, weights_only=True)
    except pickle.UnpicklingError:
        if not trust:
            raise InputError(
                f"{p}: holds a pickled model; unpickling runs code from the file, so pass "
                "--trust (API: trust=True) if you trust it, or save a state_dict and pass "
                "--arch package.module:Class"
            ) from None
        obj = torch_load(p, weights_only=False)
    if isinstance(obj, nn.Module):
        check_tensors(obj.state_dict().items(), str(p))
        return obj.eval()
    if isinstance(obj, dict):
        raise InputError(f"{p}: holds a state dict; pass --arch package.module:Class")
    raise InputError(f"{p}: holds a {type(obj).__name__}, not a model")


@dataclass
class Batch:
    """One batch: inputs ``x``, labels ``y`` (or None), its number in the data set and the
    data-set index of its first sample (None when a sharded source cannot know it)."""

    x: torch.Tensor
    y: torch.Tensor | None
    index: int = 0
    offset: int | None = None


def _one_batch(data: Any) -> bool:
    """Whether ``data`` is one batch: an array (or tensor) of inputs, or an ``(x, y)`` pair
    of inputs ``[N, ...]`` and ``N`` labels."""
    arrays = (torch.Tensor, np.ndarray)
    if isinstance(data, arrays):
        return True
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        return False
    x, y = data
    return (
        isinstance(x, arrays) and x.ndim >= 2 and isinstance(y, arrays) and y.ndim == 1
    ) and len(x) == len(y)


def as_batches(data: Iterable[Any] | Any) -> Iterator[Batch]:
    """Batches from an iterable of :class:`Batch`, ``(x, y)`` pairs or bare inputs ``x`` —
    or from one batch: an array of inputs or one ``(x, y)`` pair."""
    for item in [data] if _one_batch(data) else data:
        if isinstance(item, Batch):
            yield item
        elif isinstance(item, (tuple, list)):
            y = None if len(item) < 2 or item[1] is None else torch.as_tensor(item[1])
            yield Batch(torch.as_tensor(item[0]).float(), y)
        else:
            yield Batch(torch.as_tensor(item).float(), None)


class DataSource:
    """Re-iterable batches ``Batch(x, y)`` from arrays or a user function.

    In a sharded run (:mod:`sjconvert.exec.dist`) each process iterates its own batches:
    batch ``b`` belongs to rank ``b % world``. A function that takes ``rank`` and
    ``world_size`` keyword arguments is called with them and must return only its shard
    (for example a DataLoader with a ``DistributedSampler``); any other function is called
    as it is and its batches are dealt out by number. Samples are on axis 0 (``arrays``
    hold them so; a function's time-major batches are swapped with ``time_major``)."""

    def __init__(
        self,
        name: str,
        arrays: tuple[Any, Any] | None = None,
        fn: Any = None,
        batch_size: int = 256,
        time_major: bool = False,
    ) -> None:
        self.name, self.arrays, self.fn, self.batch_size = name, arrays, fn, batch_size
        self.time_major = time_major

    def __iter__(self) -> Iterator[Batch]:
        return self.batches(dist.current())

    def batches(self, shard: dist.Shard) -> Iterator[Batch]:
        """The batches of ``shard`` (every batch for a single process)."""
        if self.arrays is not None:
            x, y = self.arrays
            for b, i in enumerate(range(0, len(x), self.batch_size)):
                if shard.owns(b):
                    sl = slice(i, i + self.batch_size)
                    yield self._check(x[sl], None if y is None else y[sl], b, i)
            return
        if shard.world > 1 and _takes_shard(self.fn):
            for b, item in enumerate(self.fn(rank=shard.rank, world_size=shard.world)):
                yield self._check(*_split(item), b, None)
            return
        offset = 0
        for b, item in enumerate(self.fn()):
            x, y = _split(item)
            if shard.owns(b):
                yield self._check(x, y, b, offset)
            offset += len(x) if hasattr(x, "__len__") else 0

    def _check(self, x: Any, y: Any, index: int, offset: int | None = 0) -> Batch:
        """A batch as tensors; a function's batches are validated here (array files were
        validated whole by :func:`load_data`)."""
        if self.fn is not None:
            what = f"{self.name}: batch {index}"
            if index == 0:
                warn_unscaled(real_array(x, what), f"{self.name}: 'x'")
            x = sample_major(check_x(x, what), self.time_major)
            y = None if y is None else check_labels(y, len(x), f"{what} labels 'y'")
        yt = None if y is None else torch.as_tensor(y)
        return Batch(torch.as_tensor(x).float(), yt, index, offset)

    def fingerprint(self) -> tuple[Any, ...]:
        """What every process of a sharded run must agree on: for arrays the sample count,
        per-sample shape, labels and a digest of the first batch; for a function its name."""
        if self.arrays is None:
            return ("function", self.name)
        x, y = self.arrays
        head = np.ascontiguousarray(np.asarray(x[: self.batch_size]))
        digest = hashlib.sha1(head.tobytes()).hexdigest()
        return ("arrays", len(x), tuple(np.shape(x)[1:]), y is not None, digest)

    def first(self) -> Batch:
        """The data set's first batch (whatever the shard: an example input)."""
        for b in self.batches(dist.Shard()):
            return b
        raise InputError(f"{self.name}: data is empty")


def _split(item: Any) -> tuple[Any, Any]:
    """``(x, y)`` from a batch given as ``x``, ``(x, y)`` or ``{"x": ..., "y": ...}``."""
    if isinstance(item, dict):
        return item.get("x"), item.get("y")
    if isinstance(item, (tuple, list)):
        return (item[0], item[1] if len(item) > 1 else None) if item else (None, None)
    return item, None


def _takes_shard(fn: Any) -> bool:
    """Whether a data function takes ``rank`` and ``world_size`` keyword arguments."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "rank" in params and "world_size" in params


DATA_SUFFIXES = (".npz", ".npy", ".pt", ".pth", ".pkl", ".pickle")


def load_data(
    spec: str | os.PathLike[str],
    batch_size: int = 256,
    time_major: bool = False,
    *,
    x_key: str | None = None,
    y_key: str | None = None,
    trust: bool = False,
) -> DataSource:
    """Open a data set: a data file (:mod:`.datasets`: ``.npz``, ``.npy``, ``.pt``; pickles
    and pickled datasets with ``trust``; ``x_key`` / ``y_key`` name its arrays) or
    ``pkg.mod:function``. Array files are validated whole (:mod:`.datafiles`) before a
    batch is read. With ``time_major``, ``x`` is ``[T, N, ...]`` and batches split its
    axis 1."""
    p = Path(spec)
    if p.suffix.lower() in DATA_SUFFIXES or p.exists():
        p = check_readable(p)
        x, y = pick(named_arrays(p, trust), str(p), x_key, y_key)
        x = real_array(x, f"{p}: 'x'")
        warn_unscaled(x, f"{p}: 'x'")
        x = _sample_major(p, check_x(x, f"{p}: 'x'"), time_major)
        if y is not None:
            y = real_array(y, f"{p}: labels 'y'")
            n_y = len(y) if y.ndim else 0
            if n_y != len(x):
                raise InputError(f"{p}: {count_mismatch(x.shape, n_y, time_major)}")
            y = check_labels(y, len(x), f"{p}: labels 'y'")
        return DataSource(str(p), arrays=(x, y), batch_size=batch_size)
    fn = import_object(str(spec))
    if not callable(fn):
        raise InputError(f"{spec} is not callable")
    return DataSource(str(spec), fn=fn, batch_size=batch_size, time_major=time_major)


def _sample_major(path: Path, x: np.ndarray, time_major: bool) -> np.ndarray:
    """The file's ``x`` with samples on axis 0 (see :func:`sample_major`)."""
    try:
        return sample_major(x, time_major)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
