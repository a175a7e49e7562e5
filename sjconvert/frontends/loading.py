"""Loading user models and data, with one clear error for each kind of bad input.

Models: a state dict plus an architecture ``package.module:Class`` (loaded with
``weights_only=True``), or a whole pickled ``nn.Module`` — unpickling runs code from the
file, so that needs ``trust=True`` — or an ONNX file (``.onnx``, see
:mod:`sjconvert.frontends.onnx`). Data: ``.npz`` / ``.pt`` files holding ``x`` (and ``y``),
or ``package.module:function`` returning an iterable of batches.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import pickle
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..exec import dist
from .onnx import load_onnx


def import_object(spec: str) -> Any:
    """Import ``package.module:attr`` from the current directory or PYTHONPATH."""
    if ":" not in spec:
        raise InputError(f"{spec!r} is not of the form package.module:name")
    mod_name, _, attr = spec.partition(":")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
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


def _torch_load(path: Path, weights_only: bool) -> Any:
    # torch.save writes a zip archive (legacy format: a pickle, protocol >= 2, first byte
    # 0x80). Anything else is refused before an unpickler misreads it.
    with open(path, "rb") as f:
        head = f.read(1)
    if head != b"\x80" and not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a torch file (neither a zip archive nor a pickle)")
    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only)
    except pickle.UnpicklingError as exc:
        if weights_only and "weights_only" in str(exc):
            raise
        raise InputError(f"{path}: not a torch file ({str(exc).splitlines()[0]})") from None
    except Exception as exc:  # the unpicklers raise KeyError, IndexError, ... on bad bytes
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: not a torch file ({first})") from None


def _check_file(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if not p.is_file():
        raise InputError(f"{p}: not a file")
    if not os.access(p, os.R_OK):
        raise InputError(f"{p}: not readable")
    return p


def load_model(
    path: str | os.PathLike[str], arch: str | None = None, trust: bool = False
) -> nn.Module:
    """Load a model from ``path`` (see module docstring); ``.onnx`` files are imported."""
    p = _check_file(path)
    if p.suffix.lower() == ".onnx":
        return load_onnx(p)
    if arch is not None:
        cls = import_object(arch)
        try:
            model = cls()
        except Exception as exc:
            raise InputError(f"cannot construct {arch}() without arguments ({exc})") from None
        if not isinstance(model, nn.Module):
            raise InputError(f"{arch} is not a torch.nn.Module class")
        try:
            state = _torch_load(p, weights_only=True)
        except pickle.UnpicklingError:
            raise InputError(
                f"{p}: holds a pickled object, not a state dict; with --arch save "
                "model.state_dict(), or drop --arch and pass --trust if you trust the file"
            ) from None
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise InputError(f"{p}: holds a {type(state).__name__}, not a state dict")
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            detail = " ".join(str(exc).split())[:300]
            raise InputError(f"{p}: state dict does not fit {arch} ({detail})") from None
        return model.eval()
    try:
        obj = _torch_load(p, weights_only=True)
    except pickle.UnpicklingError:
        if not trust:
            raise InputError(
                f"{p}: holds a pickled model; unpickling runs code from the file, so pass "
                "--trust (API: trust=True) if you trust it, or save a state_dict and pass "
                "--arch package.module:Class"
            ) from None
        obj = _torch_load(p, weights_only=False)
    if isinstance(obj, nn.Module):
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
    offset: int | None = 0


def as_batches(data: Iterable[Any]) -> Iterator[Batch]:
    """Batches from an iterable of :class:`Batch`, ``(x, y)`` pairs or bare inputs ``x``."""
    for item in data:
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
    as it is and its batches are dealt out by number."""

    def __init__(
        self,
        name: str,
        arrays: tuple[Any, Any] | None = None,
        fn: Any = None,
        batch_size: int = 256,
    ) -> None:
        self.name, self.arrays, self.fn, self.batch_size = name, arrays, fn, batch_size

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
        try:
            xt = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
        except (TypeError, ValueError):
            raise InputError(f"{self.name}: batch {index} is not numeric") from None
        if not xt.is_floating_point():
            xt = xt.float()
        if xt.numel() == 0:
            raise InputError(f"{self.name}: batch {index} is empty")
        if not torch.isfinite(xt).all():
            raise InputError(f"{self.name}: batch {index} holds NaN or Inf")
        yt = None if y is None else torch.as_tensor(np.asarray(y))
        if yt is not None and yt.ndim == 2 and yt.shape[0] == xt.shape[0] and yt.shape[1] > 1:
            yt = yt.argmax(1)  # one-hot (or score) labels
        yt = None if yt is None else yt.long().reshape(-1)
        if yt is not None and yt.shape[0] != xt.shape[0]:
            raise InputError(
                f"{self.name}: batch {index} has {xt.shape[0]} inputs but {yt.shape[0]} labels"
            )
        return Batch(xt.float(), yt, index, offset)

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


def load_data(spec: str, batch_size: int = 256) -> DataSource:
    """Open a data set: ``.npz`` / ``.pt`` (keys ``x``, optional ``y``) or ``pkg.mod:function``."""
    p = Path(spec)
    if p.suffix in (".npz", ".pt", ".pth") or p.exists():
        p = _check_file(p)
        if p.suffix == ".npz":
            try:
                with np.load(p) as f:
                    data = {k: f[k] for k in f.files}
            except (ValueError, OSError, zipfile.BadZipFile):
                raise InputError(f"{p}: not an .npz file") from None
        else:
            data = _torch_load(p, weights_only=True)
            if isinstance(data, (tuple, list)) and len(data) == 2:
                data = {"x": data[0], "y": data[1]}
            if isinstance(data, torch.Tensor):
                data = {"x": data}
        if not isinstance(data, dict) or "x" not in data:
            raise InputError(f"{p}: holds no array 'x'")
        x, y = np.asarray(data["x"]), data.get("y")
        if x.ndim < 2 or len(x) == 0:
            raise InputError(f"{p}: 'x' is empty or has no batch axis (shape {list(x.shape)})")
        if y is not None and len(np.asarray(y)) != len(x):
            raise InputError(f"{p}: 'x' has {len(x)} samples but 'y' has {len(np.asarray(y))}")
        return DataSource(
            str(p), arrays=(x, None if y is None else np.asarray(y)), batch_size=batch_size
        )
    fn = import_object(spec)
    if not callable(fn):
        raise InputError(f"{spec} is not callable")
    return DataSource(spec, fn=fn, batch_size=batch_size)
