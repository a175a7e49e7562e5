"""Bit-accurate fixed-point model of a Loihi 2 feed-forward network (Lava ``fixed_pt``).

A :class:`LoihiNet` is what ``sjconvert`` writes as NetX HDF5: a chain of synapse layers
(``dense`` / ``conv``), each followed by CUBA neurons with integer parameters. Axis order is
PyTorch's (``[C, H, W]``, weights ``[out, in, kH, kW]``); the Lava axis reversal lives in
:mod:`sjconvert.targets.lava.netx` only.

Per step ``t = 0, 1, …`` and layer ``l`` (integers; ``s_0`` is the graded integer input),
following Lava's ``PyDenseModelBitAcc``, ``PyConvModelFixed`` and ``PyLifModelBitAcc``::

    a_l[t] = syn_l(s_{l-1}[t-1])                 (each synapse delays by one step; a[0] = 0)
    u_l[t] = wrap(dec(u_l[t-1], δ_i) + a_l[t]·2⁶)     (±2²⁴ once past ±2²³, as Lava)
    v_l[t] = clip23(dec(v_l[t-1], δ_v) + u_l[t] + b_l·2⁶)
    s_l[t] = v_l[t] > θ_l·2⁶ ;   v_l[t] ← 0 where s_l[t]       (hard reset)

with ``dec(x, δ) = sign(x(4096 − δ))·(|x(4096 − δ)| >> 12)``. ``syn`` of a dense layer is
``⌊(W' s) / 2^k⌋`` with ``(W', k)`` from :func:`netx_dense_weights` (NetX's weight
optimisation followed by Lava's 8-bit clip and truncation); a conv layer is the plain integer
correlation wrapped to 24 bits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

DECAY_UNITY = 4096
VTH_MAX = (1 << 17) - 1
BIAS_RANGE = (-(1 << 12), (1 << 12) - 1)
STATE_SHIFT = 6
_UV_MAX = 1 << 23


@dataclass(frozen=True, eq=False)
class Layer:
    """One synapse + CUBA neuron layer with integer parameters (PyTorch axis order).

    ``weight`` is ``[out, in]`` (dense) or ``[out, in/groups, kH, kW]`` (conv); ``bias`` the
    bias mantissa per output channel (exponent 6); ``vth`` the threshold mantissa;
    ``i_decay`` / ``v_decay`` the 12-bit current / voltage decays (4096 = forget all).
    """

    name: str
    kind: str
    weight: np.ndarray
    in_shape: tuple[int, ...]
    shape: tuple[int, ...]
    vth: int
    i_decay: int = DECAY_UNITY
    v_decay: int = 0
    bias: np.ndarray | None = None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def __post_init__(self) -> None:
        if self.kind not in ("dense", "conv"):
            raise ValueError(f"layer {self.name}: kind must be dense or conv, not {self.kind}")
        if not 0 <= self.vth <= VTH_MAX:
            raise ValueError(f"layer {self.name}: threshold mantissa {self.vth} outside 17 bits")
        if not (0 <= self.i_decay <= DECAY_UNITY and 0 <= self.v_decay < DECAY_UNITY):
            raise ValueError(f"layer {self.name}: decays must be 12-bit")
        if self.bias is not None and (
            self.bias.min() < BIAS_RANGE[0] or self.bias.max() > BIAS_RANGE[1]
        ):
            raise ValueError(f"layer {self.name}: bias mantissa outside 13 bits")


@dataclass(frozen=True, eq=False)
class LoihiNet:
    """A chain of :class:`Layer` fed by integer input ``round(x · input_scale)``."""

    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]
    input_scale: float = 1.0
    meta: dict = field(default_factory=dict)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Float input ``[..., *input_shape]`` → graded integer messages (24-bit signed)."""
        q = np.rint(np.asarray(x, np.float64) * self.input_scale)
        return np.clip(q, -_UV_MAX, _UV_MAX - 1).astype(np.int64)


def netx_dense_weights(weight: np.ndarray) -> tuple[np.ndarray, int]:
    """The integer weights a NetX dense layer really uses, and their right shift ``k``.

    NetX (``netx.utils.optimize_weight_bits``) scales the weights up by ``2^k`` to use 8
    bits and sets the weight exponent ``−k``; Lava's ``Dense`` then clips them to 8 bits
    for their sign mode and drops the bits below the precision NetX declared. The synapse
    adds ``⌊(W' s) / 2^k⌋``. For integer weights within ``[-128, 127]`` of mixed sign this
    is exact (``W' s / 2^k = W s``).
    """
    w = np.asarray(weight, np.int64)
    hi, lo = int(w.max()), int(w.min())
    if hi == 0 and lo == 0:
        raise ValueError("an all-zero weight matrix cannot be written for NetX")
    signed = int(not (hi < 0 or lo >= 0))
    if hi < 0:
        scale = -256 / lo
    elif lo >= 0:
        scale = 255 / hi
    else:
        scale = min(127 / hi if hi > 0 else np.inf, -128 / lo)
    shift = int(np.floor(np.log2(scale))) + signed
    n = 8
    while n > 0 and np.any(w % (1 << n)):
        n -= 1
    num_bits = 8 - shift - (n - signed)
    w = w << shift if shift >= 0 else w >> -shift
    # Lava's Dense decides its own sign mode from the shifted weights, then clips/truncates
    inhibitory = int(w.max()) <= 0 and int(w.min()) < 0
    mixed = int(not inhibitory and int(w.min()) < 0)
    if inhibitory:
        w = -w
    w = np.clip(w, -256 * mixed, 255)
    cut = 8 - num_bits + mixed
    w = (w >> cut) << cut
    return (-w if inhibitory else w), shift


def _decay(x: np.ndarray, decay: int) -> np.ndarray:
    prod = x * (DECAY_UNITY - decay)
    return np.sign(prod) * (np.abs(prod) >> 12)


def _wrap(x: np.ndarray, bits: int) -> np.ndarray:
    base = 1 << bits
    return (x + base // 2) % base - base // 2


def _wrap_once(u: np.ndarray) -> np.ndarray:
    """Lava's current overflow: subtract (add) 2²⁴ once above 2²³ (at or below −2²³)."""
    out = np.where(u > _UV_MAX, u - 2 * _UV_MAX, u)
    return np.where(out <= -_UV_MAX, u + 2 * _UV_MAX, out)


class _Synapse:
    """A layer's synaptic operator over a batch ``[N, *in_shape]`` of integer messages."""

    def __init__(self, layer: Layer) -> None:
        self.layer = layer
        if layer.kind == "dense":
            w, self.shift = netx_dense_weights(layer.weight)
            self.w = torch.tensor(w, dtype=torch.float64)
        else:
            self.w = torch.tensor(np.asarray(layer.weight, np.int64), dtype=torch.float64)

    def __call__(self, s: np.ndarray) -> np.ndarray:
        x = torch.tensor(s, dtype=torch.float64)
        lay = self.layer
        if lay.kind == "dense":
            acc = np.rint((x.reshape(x.shape[0], -1) @ self.w.T).numpy()).astype(np.int64)
            return acc >> self.shift if self.shift >= 0 else acc << -self.shift
        y = F.conv2d(x, self.w, None, lay.stride, lay.padding, lay.dilation, lay.groups)
        return _wrap(np.rint(y.numpy()).astype(np.int64), 24)


@dataclass
class FixedPointResult:
    """Spikes ``[T, N, *shape]`` (bool) per layer and the last layer's voltage ``[T, N, …]``."""

    spikes: dict[str, np.ndarray]
    voltage: np.ndarray

    @property
    def counts(self) -> np.ndarray:
        """Output spike counts ``[N, *shape]`` of the last layer."""
        return next(reversed(self.spikes.values())).sum(0)


def run(net: LoihiNet, x: np.ndarray, steps: int, sequence: bool = False) -> FixedPointResult:
    """Simulate ``steps`` steps of ``net`` on integer input.

    ``x`` is ``[N, *input_shape]`` (sent every step) or, with ``sequence``, ``[T, N, ...]``
    (zeros after its last step). The recorded voltage is after the spike reset, as Lava's
    monitor reads it.
    """
    x = np.asarray(x, np.int64)
    n = x.shape[1] if sequence else x.shape[0]
    syn = [_Synapse(layer) for layer in net.layers]
    u = [np.zeros((n, *lay.shape), np.int64) for lay in net.layers]
    v = [np.zeros_like(a) for a in u]
    pending = [np.zeros_like(a) for a in u]  # what each synapse sends next step
    bias = [
        np.zeros(1, np.int64)
        if lay.bias is None
        else np.asarray(lay.bias, np.int64).reshape(-1, *([1] * (len(lay.shape) - 1)))
        for lay in net.layers
    ]
    spikes = {lay.name: np.zeros((steps, n, *lay.shape), bool) for lay in net.layers}
    volt = np.zeros((steps, n, *net.layers[-1].shape), np.int64)
    for t in range(steps):
        inp = (x[t] if t < len(x) else np.zeros_like(x[0])) if sequence else x
        for i, lay in enumerate(net.layers):
            a = pending[i]
            pending[i] = syn[i](inp)
            u[i] = _wrap_once(_decay(u[i], lay.i_decay) + _wrap(a << STATE_SHIFT, 32))
            vv = _decay(v[i], lay.v_decay) + u[i] + (bias[i] << STATE_SHIFT)
            vv = np.clip(vv, -_UV_MAX + 1, _UV_MAX - 1)
            s = vv > (lay.vth << STATE_SHIFT)
            vv[s] = 0
            v[i] = vv
            spikes[lay.name][t] = s
            inp = s.astype(np.int64)
        volt[t] = v[-1]
    return FixedPointResult(spikes, volt)
