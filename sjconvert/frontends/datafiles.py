"""Validation of user data and weights before anything uses them.

* ``.npz`` files: every member's ``.npy`` header is read first; a member holding Python
  objects, or declaring more than :data:`MAX_DATA_BYTES` or more bytes than it stores, is
  refused before numpy allocates anything.
* Inputs ``x``: real numbers (bool, integer or float; complex, text and objects refused)
  that fit float32 — a float64 ``1e300`` is refused rather than becoming Inf — and finite.
* Labels ``y``: integer class indices ``0 <= y`` (an integer-valued float is accepted), or
  one-hot / score rows ``[N, C]``; NaN, ``0.5`` and ``-1`` are refused naming the problem.
  The accuracy loop (:func:`sjconvert.exec.evaluate.evaluate`) bounds them by the model's
  classes once its output size is known.
* State dicts and whole modules: every tensor real (complex refused, never cast with a
  warning) and every floating tensor finite, named by its key.
"""

from __future__ import annotations

import warnings
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError, SjconvertWarning

MAX_DATA_BYTES = 8 << 30
FLOAT32_MAX = float(np.finfo(np.float32).max)
REAL_KINDS = "biuf"
# what zipfile, zlib and numpy's .npy parser raise on damaged or crafted bytes
NPZ_ERRORS = (
    ValueError,
    OSError,
    EOFError,
    KeyError,
    SyntaxError,
    RuntimeError,
    NotImplementedError,
    zipfile.BadZipFile,
    zlib.error,
)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def check_npy_header(fp: Any, stored: int, where: str, name: str) -> None:
    """Read one ``.npy`` header from ``fp`` and refuse what numpy would unpickle or allocate
    beyond the ``stored`` bytes (or :data:`MAX_DATA_BYTES`)."""
    fmt = np.lib.format
    version = fmt.read_magic(fp)
    header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, _, dtype = header(fp)
    if dtype.hasobject:
        raise InputError(f"{where}: {name} holds Python objects (refused)")
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared > min(MAX_DATA_BYTES, stored):
        raise InputError(
            f"{where}: {name} declares shape {list(shape)} ({declared} bytes) "
            f"but stores {stored} bytes (limit {MAX_DATA_BYTES >> 30} GiB)"
        )


def _check_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> None:
    """Read one ``.npz`` member's header (see :func:`check_npy_header`)."""
    with z.open(info) as fp:
        check_npy_header(fp, info.file_size, where, f"array {info.filename!r}")


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file, each header checked before its data is read."""
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                _check_member(z, info, str(path))
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except NPZ_ERRORS as exc:
        raise InputError(f"{path}: not a readable .npz file ({_first_line(exc)})") from None


def real_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a NumPy array of real numbers (refuses complex, text, objects)."""
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            raise InputError(f"{what} holds complex numbers (dtype {value.dtype}); give real data")
        value = value.detach().cpu()
        value = value.float() if value.dtype == torch.bfloat16 else value
        value = value.numpy()
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError, OverflowError, RuntimeError) as exc:
        raise InputError(f"{what} is not a numeric array ({_first_line(exc)})") from None
    if arr.dtype.kind == "c":
        raise InputError(f"{what} holds complex numbers (dtype {arr.dtype}); give real data")
    if arr.dtype.kind not in REAL_KINDS:
        raise InputError(f"{what} is not a numeric array (dtype {arr.dtype})")
    return arr


def check_x(value: Any, what: str) -> np.ndarray:
    """Inputs ``[N, ...]`` as float32, refused unless real, finite and in float32's range."""
    x = real_array(value, what)
    if x.ndim < 2 or x.size == 0:
        raise InputError(f"{what} is empty or has no batch axis (shape {list(x.shape)})")
    if x.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            if not np.isfinite(x).all():
                raise InputError(f"{what} holds NaN or Inf")
            peak = float(np.abs(x).max())
        if peak > FLOAT32_MAX:
            raise InputError(f"{what} holds {peak:.3g}, beyond float32 (max {FLOAT32_MAX:.3g})")
    return x.astype(np.float32, copy=False)


def warn_unscaled(x: np.ndarray, what: str) -> None:
    """Warn (:class:`SjconvertWarning`) when inputs are integers beyond 0/1, such as uint8
    images 0..255 that were never scaled: the model sees them as they are."""
    if x.dtype.kind in "ui" and x.size and int(x.max()) > 1:
        warnings.warn(
            f"{what} holds integers up to {int(x.max())} ({x.dtype}), used as they are; "
            "if the model was trained on scaled data, scale them the same way (images: "
            "often x / 255)",
            SjconvertWarning,
            stacklevel=2,
        )


def check_labels(value: Any, n: int, what: str) -> np.ndarray:
    """Labels as int64 class indices ``[n]`` (one-hot or score rows ``[n, C]`` → argmax)."""
    y = real_array(value, what)
    if y.ndim == 2 and y.shape[0] == n and y.shape[1] > 1:
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise InputError(f"{what} (one-hot / score rows) holds NaN or Inf")
        return y.argmax(1).astype(np.int64)
    y = y.reshape(-1) if y.ndim == 2 and y.shape[1:] == (1,) else y
    if y.ndim != 1 or y.shape[0] != n:
        raise InputError(f"{what} has shape {list(y.shape)}; expected {n} class indices")
    if y.dtype.kind == "b":
        raise InputError(f"{what} holds booleans; labels are integer class indices")
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            raise InputError(f"{what} holds {y[bad][0].item()}; labels are integer class indices")
    if n and float(y.min()) < 0:
        raise InputError(f"{what} holds {y.min().item()}; class indices are >= 0")
    if n and float(y.max()) > 2**31:
        raise InputError(f"{what} holds {y.max().item()}; not a class index")
    return y.astype(np.int64)


def check_tensors(named: Iterable[tuple[str, Any]], where: str) -> None:
    """Every tensor of a state dict or module is real, and finite where floating."""
    for key, value in named:
        if not isinstance(value, torch.Tensor):
            continue
        if value.is_complex():
            raise InputError(f"{where}: '{key}' holds complex numbers ({value.dtype}); refused")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise InputError(f"{where}: '{key}' holds NaN or Inf")


def check_state_dict(state: dict[Any, Any], where: str) -> None:
    """A state dict: string keys, tensor values (real, finite); a module's extra state
    (``*._extra_state``) may be any value ``weights_only`` loading allows."""
    for key, value in state.items():
        if not isinstance(key, str):
            raise InputError(f"{where}: state dict key {key!r} is not a string")
        if not isinstance(value, torch.Tensor) and not key.endswith("_extra_state"):
            raise InputError(f"{where}: '{key}' holds a {type(value).__name__}, not a tensor")
    check_tensors(state.items(), where)
