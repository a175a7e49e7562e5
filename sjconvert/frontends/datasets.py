"""Reading a data file as users save them, into inputs ``x`` and labels ``y``.

A data file holds named arrays (:func:`named_arrays`):

* ``.npz`` — its arrays (each header checked first, :func:`.datafiles.read_npz`);
* ``.npy`` — one array, the inputs;
* ``.pt`` / ``.pth`` (``torch.save``) — a tensor or array, a dict of them, an ``(x, y)``
  pair, or, unpickled only with ``trust`` (unpickling runs code from the file), a
  ``TensorDataset`` or any other pickled ``(x, y)`` / dict;
* ``.pkl`` / ``.pickle`` (``pickle.dump``) — the same objects, only with ``trust``.

Which arrays are ``x`` and ``y`` (:func:`pick`): the ones named by ``x_key`` / ``y_key``;
else ``x`` and ``y``; else a file's only array; else, of exactly two arrays, the one with
a sample axis and per-sample values beside one of class labels (one value per sample). Any
other file is refused naming the arrays it holds.
"""

from __future__ import annotations

import os
import pickle
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from .datafiles import check_npy_header, read_npz

PICKLES = (".pkl", ".pickle")


def importable_cwd() -> None:
    """Make modules in the working directory importable (as ``python`` run there does), for
    ``--arch mynet:MyNet`` and for unpickling a model whose class lives in ``./mynet.py``."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())


def _is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except zipfile.BadZipFile:  # e.g. "zipfiles that span multiple disks are not supported"
        return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def torch_load(path: Path, weights_only: bool) -> Any:
    """``torch.load`` on the CPU. Anything but a torch file (a zip archive, or a pickle whose
    first byte is ``0x80``) is refused before an unpickler misreads it; a file that fails
    to load is one :class:`InputError` (``pickle.UnpicklingError`` with ``weights_only``,
    which callers turn into the need for ``trust``)."""
    with open(path, "rb") as f:
        head = f.read(1)
    if head != b"\x80" and not _is_zip(path):
        raise InputError(f"{path}: not a torch file (neither a zip archive nor a pickle)")
    if not weights_only:
        importable_cwd()
    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only)
    except pickle.UnpicklingError as exc:
        if weights_only and "weights_only" in str(exc):
            raise
        raise InputError(f"{path}: not a torch file ({_first_line(exc)})") from None
    except Exception as exc:  # the unpicklers raise KeyError, IndexError, ... on bad bytes
        raise InputError(f"{path}: not a torch file ({_first_line(exc)})") from None


def _unpickle(path: Path) -> Any:
    importable_cwd()
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except Exception as exc:
        raise InputError(f"{path}: not a readable pickle ({_first_line(exc)})") from None


def _read_npy(path: Path) -> np.ndarray:
    try:
        with open(path, "rb") as f:
            check_npy_header(f, path.stat().st_size, str(path), "the array")
        return np.load(path, allow_pickle=False)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: not a readable .npy file ({_first_line(exc)})") from None


def _object(path: Path, trust: bool) -> Any:
    """The object a torch or pickle file holds (unpickled only with ``trust``)."""
    if path.suffix.lower() in PICKLES:
        if not trust:
            raise InputError(
                f"{path}: a pickle; unpickling runs code from the file, so pass --trust (API: "
                "trust=True) if you trust it, or save the arrays with numpy.savez"
            )
        return _unpickle(path)
    try:
        return torch_load(path, weights_only=True)
    except pickle.UnpicklingError:
        if not trust:
            raise InputError(
                f"{path}: holds pickled Python objects (a TensorDataset, say); unpickling runs "
                "code from the file, so pass --trust (API: trust=True) if you trust it, or "
                "save the tensors alone: torch.save({'x': x, 'y': y}, ...)"
            ) from None
        return torch_load(path, weights_only=False)


def _as_named(obj: Any, path: Path) -> dict[str, Any]:
    """The arrays of a loaded object, by name (a pair or a dataset's tensors: ``x``, ``y``)."""
    tensors = getattr(obj, "tensors", None)  # torch.utils.data.TensorDataset
    if isinstance(tensors, tuple):
        obj = tensors
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        return {"x": obj}
    if isinstance(obj, (tuple, list)) and len(obj) in (1, 2):
        return dict(zip(("x", "y"), obj, strict=False))
    if isinstance(obj, Mapping):
        return {str(k): v for k, v in obj.items()}
    raise InputError(
        f"{path}: holds a {type(obj).__name__}; a data file holds x (and y): an array, a dict "
        "of arrays, an (x, y) pair or a TensorDataset"
    )


def named_arrays(path: Path, trust: bool = False) -> dict[str, Any]:
    """The arrays a data file holds, by name (see the module docstring)."""
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return read_npz(path)
    if suffix == ".npy":
        return {"x": _read_npy(path)}
    return _as_named(_object(path, trust), path)


def _describe(arrays: Mapping[str, Any]) -> str:
    parts = []
    for name, value in arrays.items():
        shape = getattr(value, "shape", None)
        dtype = str(getattr(value, "dtype", type(value).__name__)).removeprefix("torch.")
        parts.append(f"{name} {list(shape)} {dtype}" if shape is not None else f"{name} {dtype}")
    return ", ".join(parts) or "nothing"


def _ndim(value: Any) -> int:
    return len(getattr(value, "shape", ()))


def _pair(arrays: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(x, y)`` names of two arrays when one is per-sample inputs and the other labels."""
    if len(arrays) != 2:
        return None
    (a, va), (b, vb) = arrays.items()
    for (xn, xv), (yn, yv) in (((a, va), (b, vb)), ((b, vb), (a, va))):
        if _ndim(xv) >= 2 and _ndim(yv) == 1 and len(xv) == len(yv):
            return xn, yn
    return None


def pick(
    arrays: Mapping[str, Any], where: str, x_key: str | None = None, y_key: str | None = None
) -> tuple[Any, Any]:
    """``(x, y or None)`` among a file's arrays (see the module docstring)."""
    holds = f"its arrays: {_describe(arrays)}"
    for key, flag in ((x_key, "--x-key"), (y_key, "--y-key")):
        if key is not None and key not in arrays:
            raise InputError(f"{where}: holds no array {key!r} ({flag}); {holds}")
    pair = _pair(arrays)
    if x_key is None:
        if "x" in arrays:
            x_key = "x"
        elif len(arrays) == 1:
            x_key = next(iter(arrays))
        elif pair is not None:
            x_key, y_key = pair if y_key is None else (pair[0], y_key)
        else:
            raise InputError(
                f"{where}: holds no array 'x' and no unambiguous inputs; {holds}; name the "
                "inputs with --x-key (and the labels with --y-key)"
            )
    if y_key is None and "y" in arrays and x_key != "y":
        y_key = "y"
    if y_key is None and pair is not None and pair[0] == x_key:
        y_key = pair[1]
    return arrays[x_key], None if y_key is None else arrays[y_key]
