"""Time-axis layouts: SpikingJelly's multi-step ``TNX`` (``[T, N, ...]``) and Lava-DL's
``NXT`` (``[N, ..., T]``).

Data helpers move the axis (NumPy arrays and torch tensors alike)::

    nxt = tnx_to_nxt(x)     # x[t, n, ...] → nxt[n, ..., t]
    tnx = nxt_to_tnx(nxt)   # the inverse

IR nodes never hold a time axis: only data crosses between the layouts, at the Lava-DL
boundary (:mod:`.lava_dl`).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

Data = TypeVar("Data", np.ndarray, torch.Tensor)


def _move(x: Data, src: int, dst: int) -> Data:
    return torch.movedim(x, src, dst) if isinstance(x, torch.Tensor) else np.moveaxis(x, src, dst)


def tnx_to_nxt(x: Data) -> Data:
    """``[T, N, ...]`` → ``[N, ..., T]``."""
    return _move(x, 0, -1)


def nxt_to_tnx(x: Data) -> Data:
    """``[N, ..., T]`` → ``[T, N, ...]``."""
    return _move(x, -1, 0)
