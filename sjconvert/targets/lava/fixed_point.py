"""Bit-accurate fixed-point model of a Loihi 2 feed-forward network (Lava ``fixed_pt``).

A :class:`LoihiNet` is what ``sjconvert`` writes as NetX HDF5: a chain of synapse layers
(``dense`` / ``conv``), each followed by Loihi neurons with integer parameters (CUBA,
sigma-delta or sigma; their dynamics are in :mod:`.neurons`). Axis order is
PyTorch's (``[C, H, W]``, weights ``[out, in, kH, kW]``); the Lava axis reversal lives in
:mod:`sjconvert.targets.lava.netx` only.

Per step ``t = 0, 1, …`` and layer ``l`` (``s_0`` is the graded integer input)::

    a_l[t] = syn_l(s_{l-1}[t-1])       (each synapse delivers one step late; a_l[0] = 0)
    s_l[t] = neuron_l(a_l[t])

``syn`` of a dense layer is ``⌊(W' s) / 2^k⌋`` with ``(W', k)`` from
:func:`netx_dense_weights` (NetX's weight optimisation followed by Lava's 8-bit clip and
truncation, as ``PyDenseModelBitAcc``); a conv layer is the plain integer correlation
wrapped to 24 bits (``PyConvModelFixed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .neurons import DECAY_UNITY, UV_MAX, Cuba, Sigma, SigmaDelta, wrap

NEURON_KINDS = ("cuba", "sdnn", "sigma")
VTH_MAX = (1 << 17) - 1
BIAS_RANGE = (-(1 << 12), (1 << 12) - 1)


@dataclass(frozen=True, eq=False)
class LoihiLayer:
    """One synapse + neuron layer with integer parameters (PyTorch axis order).

    ``weight`` is ``[out, in]`` (dense) or ``[out, in/groups, kH, kW]`` (conv); ``bias`` the
    bias mantissa per output channel (exponent 6); ``vth`` the threshold mantissa;
    ``i_decay`` / ``v_decay`` the 12-bit current / voltage decays (4096 = forget all).
    ``neuron`` is ``cuba``, ``sdnn`` (sigma-delta ReLU: ``vth`` is the delta threshold,
    ``bias`` 16-bit) or ``sigma`` (output integrator; ``bias`` is not sent to Lava, it is the
    offset :func:`~sjconvert.targets.lava.verify.predict` adds to the read-out sigma).
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
    neuron: str = "cuba"

    def __post_init__(self) -> None:
        if self.neuron not in NEURON_KINDS:
            raise ValueError(f"layer {self.name}: neuron must be one of {NEURON_KINDS}")
        if self.kind not in ("dense", "conv"):
            raise ValueError(f"layer {self.name}: kind must be dense or conv, not {self.kind}")
        if not 0 <= self.vth <= VTH_MAX:
            raise ValueError(f"layer {self.name}: threshold mantissa {self.vth} outside 17 bits")
        if not (0 <= self.i_decay <= DECAY_UNITY and 0 <= self.v_decay < DECAY_UNITY):
            raise ValueError(f"layer {self.name}: decays must be 12-bit")
        if (
            self.neuron == "cuba"
            and self.bias is not None
            and (self.bias.min() < BIAS_RANGE[0] or self.bias.max() > BIAS_RANGE[1])
        ):
            raise ValueError(f"layer {self.name}: bias mantissa outside 13 bits")


@dataclass(frozen=True, eq=False)
class LoihiNet:
    """A chain of :class:`LoihiLayer` fed by integer input ``round(x · input_scale)``."""

    input_shape: tuple[int, ...]
    layers: tuple[LoihiLayer, ...]
    input_scale: float = 1.0
    meta: dict = field(default_factory=dict)

    @property
    def delta_input(self) -> bool:
        """Sigma-delta networks take their input as changes: ``x`` once, then zeros."""
        return self.layers[0].neuron == "sdnn"

    def schedule(self, x: np.ndarray, steps: int) -> np.ndarray:
        """Integer input ``[N, ...]`` as the ``[T, N, ...]`` messages the network gets:
        the same every step (CUBA, rate coding), or once (sigma-delta)."""
        x = np.asarray(x, np.int64)
        if self.delta_input:
            return x[None]
        return np.broadcast_to(x, (steps, *x.shape))

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Float input ``[..., *input_shape]`` → graded integer messages (24-bit signed)."""
        q = np.rint(np.asarray(x, np.float64) * self.input_scale)
        return np.clip(q, -UV_MAX, UV_MAX - 1).astype(np.int64)


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


class _Synapse:
    """A layer's synaptic operator over a batch ``[N, *in_shape]`` of integer messages."""

    def __init__(self, layer: LoihiLayer) -> None:
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
        return wrap(np.rint(y.numpy()).astype(np.int64), 24)


@dataclass
class FixedPointResult:
    """Spikes ``[T, N, *shape]`` (bool) per layer and the last layer's voltage ``[T, N, …]``."""

    spikes: dict[str, np.ndarray]
    voltage: np.ndarray
    seconds: float = 0.0  # for Lava runs: time inside Lava's run (see ``run_netx``)

    @property
    def counts(self) -> np.ndarray:
        """Output spike counts ``[N, *shape]`` of the last layer."""
        return next(reversed(self.spikes.values())).sum(0)


def _neuron(layer: LoihiLayer, n: int) -> Cuba | SigmaDelta | Sigma:
    shape = (n, *layer.shape)
    bias = (
        np.zeros(1, np.int64)
        if layer.bias is None or layer.neuron == "sigma"
        else np.asarray(layer.bias, np.int64).reshape(-1, *([1] * (len(layer.shape) - 1)))
    )
    if layer.neuron == "cuba":
        return Cuba(shape, layer.vth, layer.i_decay, layer.v_decay, bias)
    if layer.neuron == "sdnn":
        return SigmaDelta(shape, layer.vth, bias)
    return Sigma(shape)


def run(net: LoihiNet, x: np.ndarray, steps: int, sequence: bool = False) -> FixedPointResult:
    """Simulate ``steps`` steps of ``net`` on integer input.

    ``x`` is ``[N, *input_shape]`` (scheduled by :meth:`LoihiNet.schedule`) or, with
    ``sequence``, ``[T, N, ...]`` (zeros after its last step). ``spikes`` holds each
    layer's messages (0/1 for CUBA, graded for sigma-delta); the recorded state of the last
    layer (CUBA voltage after the reset, or sigma) is what Lava's monitor reads.
    """
    x = np.asarray(x, np.int64) if sequence else net.schedule(x, steps)
    n = x.shape[1]
    syn = [_Synapse(layer) for layer in net.layers]
    neurons = [_neuron(layer, n) for layer in net.layers]
    pending = [np.zeros((n, *lay.shape), np.int64) for lay in net.layers]
    spikes = {lay.name: np.zeros((steps, n, *lay.shape), np.int64) for lay in net.layers}
    volt = np.zeros((steps, n, *net.layers[-1].shape), np.int64)
    for t in range(steps):
        inp = x[t] if t < len(x) else np.zeros_like(x[0])
        for i, lay in enumerate(net.layers):
            a = pending[i]  # each synapse delivers one step late
            pending[i] = syn[i](inp)
            inp = neurons[i].step(a)
            spikes[lay.name][t] = inp
        volt[t] = neurons[-1].state
    return FixedPointResult(spikes, volt)
