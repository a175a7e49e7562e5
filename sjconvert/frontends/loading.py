"""Loading user models and data, with one clear error for each kind of bad input.

Models: a state dict plus an architecture ``package.module:Class`` (loaded with
``weights_only=True``), or a whole pickled ``nn.Module`` — unpickling runs code from the
file, so that needs ``trust=True`` — or an ONNX file (``.onnx``, see
:mod:`sjconvert.frontends.onnx`). Data: ``.npz`` / ``.pt`` files holding ``x`` (and ``y``),
or ``package.module:function`` returning an iterable of batches; samples on axis 0, or
time-major ``[T, N, ...]`` sequences with ``time_major`` (see
:mod:`sjconvert.exec.data_layout`).
"""

from __future__ import annotations

import importlib
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
from ..exec.data_layout import count_mismatch, sample_major
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
    x: torch.Tensor
    y: torch.Tensor | None


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
    """Re-iterable batches ``Batch(x, y)`` from arrays or a user function, samples on axis 0
    (``arrays`` hold them so; a function's time-major batches are swapped with
    ``time_major``)."""

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
        if self.arrays is not None:
            x, y = self.arrays
            for i in range(0, len(x), self.batch_size):
                yield self._check(
                    x[i : i + self.batch_size], None if y is None else y[i : i + self.batch_size], i
                )
            return
        for i, item in enumerate(self.fn()):
            if isinstance(item, dict):
                item = (item.get("x"), item.get("y"))
            x, y = item if isinstance(item, (tuple, list)) else (item, None)
            yield self._check(x, y, i, self.time_major)

    def _check(self, x: Any, y: Any, index: int, time_major: bool = False) -> Batch:
        try:
            xt = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
        except (TypeError, ValueError):
            raise InputError(f"{self.name}: batch {index} is not numeric") from None
        xt = sample_major(xt, time_major)
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
            mismatch = count_mismatch(xt.shape, yt.shape[0], time_major)
            raise InputError(f"{self.name}: batch {index}: {mismatch}")
        return Batch(xt.float(), yt)

    def first(self) -> Batch:
        for b in self:
            return b
        raise InputError(f"{self.name}: data is empty")


def load_data(spec: str, batch_size: int = 256, time_major: bool = False) -> DataSource:
    """Open a data set: ``.npz`` / ``.pt`` (keys ``x``, optional ``y``) or ``pkg.mod:function``.
    With ``time_major``, ``x`` is ``[T, N, ...]`` and batches split its axis 1."""
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
        x = _sample_major(p, x, time_major)
        if y is not None and len(np.asarray(y)) != len(x):
            raise InputError(f"{p}: {count_mismatch(x.shape, len(np.asarray(y)), time_major)}")
        return DataSource(
            str(p), arrays=(x, None if y is None else np.asarray(y)), batch_size=batch_size
        )
    fn = import_object(spec)
    if not callable(fn):
        raise InputError(f"{spec} is not callable")
    return DataSource(spec, fn=fn, batch_size=batch_size, time_major=time_major)


def _sample_major(path: Path, x: np.ndarray, time_major: bool) -> np.ndarray:
    """The file's ``x`` with samples on axis 0 (see :func:`sample_major`)."""
    try:
        return sample_major(x, time_major)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
