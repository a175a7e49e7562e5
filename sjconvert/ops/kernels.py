"""Stateless ops and rate models in torch, written once and registered per node class.

Every torch-based executor calls these: the reference simulator, the NumPy/CuPy graph (its
synapses, through DLPack), the exported torch module (Lynxi, ONNX) and calibration. A kernel
takes the node's prepared parameters (:func:`prepare`) and its inputs ``[B, ...]``, where
``B`` is a batch or time and batch folded together (``T·N``); it never reads ``x.ndim`` or
``x.shape`` (per-channel values are shaped once, from the graph's shapes), so torch.fx and
the ONNX exporter can trace it. A rate model is a stateful node's ANN-mode view.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..ir import nodes as ir
from ..ir.nodes.pools import adaptive_windows

Params = dict[str, Any]
Kernel = Callable[[Params, list[torch.Tensor]], torch.Tensor]


@dataclass(frozen=True)
class Entry:
    fn: Kernel
    channels: tuple[str, ...] = ()  # fields broadcast per channel over axis 1
    prepared: Callable[[Params], Params] | None = None  # parameters fitted to the shapes


KERNELS: dict[type[ir.Node], Entry] = {}
RATES: dict[type[ir.Node], Entry] = {}


def _register(
    table: dict[type[ir.Node], Entry],
    classes: Sequence[type[ir.Node]],
    channels: tuple[str, ...],
    prepared: Callable[[Params], Params] | None = None,
) -> Callable[[Kernel], Kernel]:
    def deco(fn: Kernel) -> Kernel:
        for cls in classes:
            if cls in table:
                raise ValueError(f"a kernel for {cls.__name__} is already registered")
            table[cls] = Entry(fn, channels, prepared)
        return fn

    return deco


def kernel(
    *classes: type[ir.Node],
    channels: tuple[str, ...] = (),
    prepared: Callable[[Params], Params] | None = None,
) -> Callable[[Kernel], Kernel]:
    """Register the torch kernel of one or more stateless node classes (``prepared``: the
    parameters fitted once to the input shapes, after :func:`prepare`)."""
    return _register(KERNELS, classes, channels, prepared)


def rate(*classes: type[ir.Node], channels: tuple[str, ...] = ()) -> Callable[[Kernel], Kernel]:
    """Register the rate model (ANN-mode view) of one or more stateful node classes."""
    return _register(RATES, classes, channels)


def entry(node: ir.Node, rate_mode: bool = False) -> Entry | None:
    """The kernel of ``node`` (its rate model for a stateful node when ``rate_mode``)."""
    if rate_mode and type(node) in RATES:
        return RATES[type(node)]
    return KERNELS.get(type(node))


def channel_view(value: Any, rank: int) -> np.ndarray:
    """A per-channel array ``[C]`` as ``[C, 1, ...]`` for axis 1 of a rank-``rank`` batch
    (a scalar stays a 0-d array). The one broadcast helper every executor uses."""
    arr = np.asarray(value)
    return arr if arr.ndim == 0 else arr.reshape(-1, *([1] * (rank - 2)))


def prepare(
    node: ir.Node,
    in_shapes: Sequence[tuple[int, ...]],
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    rate_mode: bool = False,
    share: bool = False,
) -> Params:
    """Parameters as tensors, once before any batch runs; per-channel fields of the kernel
    are shaped for the input rank (from the per-sample input shapes, also given to the
    kernel as ``in_shapes``: static sizes a kernel may use where it must reshape)."""
    found = entry(node, rate_mode)
    channels = found.channels if found else ()
    rank = len(in_shapes[0]) + 1 if in_shapes else 1
    out: Params = {"node": node, "in_shapes": [tuple(int(n) for n in s) for s in in_shapes]}
    for key, value in node.params().items():
        if key in channels:
            value = channel_view(value, rank)
        if isinstance(value, np.ndarray):
            value = _tensor(value, dtype, device, share)
        out[key] = value
    return found.prepared(out) if found and found.prepared and in_shapes else out


_NUMPY = {torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64)}


def _tensor(arr: np.ndarray, dtype: torch.dtype, device: Any, share: bool) -> torch.Tensor:
    """``arr`` as a tensor: with ``share``, a read-only (frozen IR) array of the same dtype on
    the CPU is wrapped, not copied — the caller promises never to write to it (a VGG's
    classifier is 400 MB a copy)."""
    same = arr.dtype == _NUMPY.get(dtype)
    if share and same and not arr.flags.writeable and torch.device(device or "cpu").type == "cpu":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "not writable": never written here
            return torch.from_numpy(arr)
    return torch.tensor(arr, dtype=dtype, device=device)


@kernel(ir.Linear)
def _linear(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return F.linear(xs[0], p["weight"], p["bias"])


def _live_taps(size: int, k: int, pad: int, stride: int) -> tuple[int, int] | None:
    """The kernel taps ``[lo, hi]`` along one axis that ever meet the input (the others
    meet only padding), where dropping the rest keeps a symmetric padding ``pad - lo`` and
    the output size; None where nothing is dropped or that does not hold."""
    out = (size + 2 * pad - k) // stride + 1
    lo, hi = max(0, pad - (out - 1) * stride), min(k - 1, pad + size - 1)
    width, new_pad = hi - lo + 1, pad - lo
    if width == k or width < 1 or (size + 2 * new_pad - width) // stride + 1 != out:
        return None
    return lo, hi


def _crop_conv(p: Params) -> Params:
    """A convolution whose kernel overhangs its input (a 7×7 kernel on a 2×2 map, 5×5 on
    1×1) with the taps that only ever meet zero padding dropped: the same sum of the same
    products, without the work on padding (torch's depthwise path pays it per tap)."""
    if any(d != 1 for d in p["dilation"]):
        return p
    weight, pads = p["weight"], list(p["padding"])
    sizes = p["in_shapes"][0][1:]
    for axis, size in enumerate(sizes):
        k = weight.shape[2 + axis]
        taps = _live_taps(size, k, pads[axis], p["stride"][axis])
        if taps is not None:
            weight = weight.narrow(2 + axis, taps[0], taps[1] - taps[0] + 1)
            pads[axis] -= taps[0]
    if weight is p["weight"]:
        return p
    return {**p, "weight": weight.contiguous(), "padding": tuple(pads)}


@kernel(ir.Conv1d, ir.Conv2d, prepared=_crop_conv)
def _conv(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    fn = F.conv1d if isinstance(p["node"], ir.Conv1d) else F.conv2d
    return fn(xs[0], p["weight"], p["bias"], p["stride"], p["padding"], p["dilation"], p["groups"])


@kernel(ir.BatchNorm)
def _bn(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return F.batch_norm(xs[0], p["mean"], p["var"], p["gamma"], p["beta"], False, 0.0, p["eps"])


@kernel(ir.ReLU)
def _relu(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    a = p["max_value"]
    return torch.relu(xs[0]) if a is None else torch.clamp(xs[0], 0.0, a)


@kernel(ir.AvgPool1d, ir.AvgPool2d)
def _avgpool(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    fn = F.avg_pool1d if isinstance(p["node"], ir.AvgPool1d) else F.avg_pool2d
    extra = () if fn is F.avg_pool1d else (p["divisor_override"],)
    k, s, pad = p["kernel_size"], p["stride"], p["padding"]
    return fn(xs[0], k, s, pad, p["ceil_mode"], p["count_include_pad"], *extra)


@kernel(ir.MaxPool1d, ir.MaxPool2d)
def _maxpool(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    fn = F.max_pool1d if isinstance(p["node"], ir.MaxPool1d) else F.max_pool2d
    return fn(xs[0], p["kernel_size"], p["stride"], p["padding"], p["dilation"], p["ceil_mode"])


@kernel(ir.AdaptiveAvgPool1d, ir.AdaptiveAvgPool2d)
def _adaptive(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    """Where every output size divides the input's, the plain pool with windows ``n / o``;
    otherwise each output cell's window sum (row sums first) divided by its size. Both are
    fixed slices of the per-sample shape, so exporters (ONNX) take every case."""
    node, x = p["node"], xs[0]
    spatial = p["in_shapes"][0][1:]
    plain = node.as_plain(spatial)
    if plain is not None:
        fn = F.avg_pool1d if node.dims == 1 else F.avg_pool2d
        return fn(x, plain.kernel_size, plain.stride)
    sizes = []
    for axis, (n, o) in enumerate(zip(spatial, node.output_size, strict=True), start=2):
        spans = adaptive_windows(n, o)
        x = torch.cat([x.narrow(axis, a, b - a).sum(axis, keepdim=True) for a, b in spans], axis)
        sizes.append([b - a for a, b in spans])
    cells = sizes[0] if node.dims == 1 else [[h * w for w in sizes[1]] for h in sizes[0]]
    return x / torch.tensor(cells, dtype=torch.float32).to(x)


@kernel(ir.Flatten)
def _flatten(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return torch.flatten(xs[0], p["start_dim"], p["end_dim"])


@kernel(ir.Reshape)
def _reshape(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return xs[0].reshape(-1, *p["shape"])


@kernel(ir.Transpose)
def _transpose(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return xs[0].permute(0, *p["dims"])


@kernel(ir.Slice)
def _slice(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return xs[0].narrow(p["dim"], p["start"], p["stop"] - p["start"])


@kernel(ir.Add)
def _add(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    out = xs[0] + xs[1]
    for x in xs[2:]:
        out = out + x
    return out


@kernel(ir.Concat)
def _concat(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat(xs, dim=p["dim"])


@kernel(ir.Scale, channels=("factor",))
def _scale(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return xs[0] * p["factor"]


@kernel(ir.Softmax)
def _softmax(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    fn = F.log_softmax if p["log"] else F.softmax
    return fn(xs[0], dim=p["dim"])


@kernel(ir.Dropout, ir.Identity, ir.Readout, ir.Input)
def _identity(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return xs[0]


@kernel(ir.Threshold, channels=("threshold",))
def _threshold(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return (xs[0] >= p["threshold"]).to(xs[0].dtype)


RATE_CODED = tuple(c for c in ir.NODE_TYPES.values() if c.rate_coded)


@rate(*RATE_CODED, channels=("v_threshold",))
def _rate_coded(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    """``clamp(X / V_th, 0, B)``: the firing rate of a neuron with a constant input (``B``:
    the most spikes it emits in one step, 1 but for a bursting SignedIF; ``−B`` the lower
    bound of a ``bipolar`` neuron). Registered for every class with the ``rate_coded``
    trait, so trait and model cannot disagree."""
    b = float(p.get("max_spikes", 1))
    low = -b if p["node"].bipolar else 0.0
    return torch.clamp(xs[0] / p["v_threshold"], low, b)


@rate(ir.LI)
def _rate_li(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    """The fixed point ``V = X + v_leak`` of a constant input."""
    return xs[0] + p["v_leak"]


@rate(ir.Delay, ir.Accumulate, ir.Difference)
def _rate_delay(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return xs[0]
