"""Fitting one neuron layer's corrections from its recorded input current and the ANN's
activations: pure tensor functions. Every statistic taken over samples is a sum, passed
through the ``reduce`` hook before anything is fitted from it, so shards of the calibration
data merge by adding them.

Notation, in units of the layer's λ₀ (its layer-wise normalisation scale): rows ``r`` are the
kept (sample, position) pairs, ``c`` the channels; ``X[t, r, c]`` the recorded input current
and ``z[r, c] = a/λ₀`` the ANN activation. A neuron with threshold ``θ``, initial membrane
``v·θ`` and input ``X + β`` spikes ``N_t`` times (net) in ``t`` steps; its estimate of ``z``
is ``ẑ_t = θ·N_t/t``. Per channel, :func:`fit_layer`

1. scores every threshold ``θ = b_c·s`` (``b_c``: the channel's percentile of ``z``; ``s``
   from :data:`GRID`) by simulating the neuron on the recorded current for ``t = 1..T_sim``;
2. models each candidate's mean error ``m_t = E[z − ẑ_t]`` as ``β + γ/t`` (weighted least
   squares over the simulated t, each octave of t weighing the same): ``β`` is a per-step
   input shift (a bias: it acts at every t), ``γ`` moves the initial membrane by ``γ/θ``,
   whose effect on the rate, ``γ/t``, fades as t grows;
3. keeps the ``s`` that minimises the objective over the whole T range,
   ``Σ_T log(MSE_T + ε·P)`` (``P``: the channel's mean ``z²``; ``ε`` keeps negligible
   errors from dominating), with the corrected ``MSE_T`` predicted from the sums for a
   simulated T and, for a longer T, computed from the converged neuron
   ``N_T = clamp(⌊v + T·(z + β)/θ⌋, 0, T)``;
4. simulates the chosen threshold with its corrections once more and refits ``β, γ`` on
   what remains.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ...exec.arrays import run_node
from ...ir import nodes as ir

GRID = tuple(2.0 ** (k / 4) for k in range(-6, 2))  # threshold scales, 0.35 … 1.19
EPSILON = 1e-3
V_RANGE = (0.0, 1.0)
NeuronClass = type[ir.IF] | type[ir.SignedIF]
Reduce = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Choice:
    """Per channel: threshold ``θ`` (units of λ₀), initial membrane ``v`` (fraction of θ) and
    per-step input shift ``β`` (units of λ₀)."""

    theta: torch.Tensor
    v: torch.Tensor
    beta: torch.Tensor


@dataclass(frozen=True)
class Setting:
    """What one layer's fit does: the neuron, the steps simulated, the T of the objective,
    which corrections are on."""

    cls: NeuronClass
    steps: int
    targets: tuple[int, ...]
    search: bool = True
    bias: bool = True
    fading: bool = True
    channelwise: bool = True
    v0: float = 0.5


def estimates(cls: NeuronClass, x: torch.Tensor, static: bool, c: Choice, steps: int) -> torch.Tensor:
    """``ẑ_t`` for ``t = 1..steps`` (``[T, r, C]``) of neurons driven by ``x + β``."""
    node = cls(v_threshold=c.theta.numpy(), v_init=(c.v * c.theta).numpy())
    s, _ = run_node(node, x + c.beta, steps, static=static)
    t = torch.arange(1, steps + 1, dtype=s.dtype).reshape(-1, 1, 1)
    return s.cumsum_(0).mul_(c.theta).div_(t)


def error_sums(
    s: Setting, x: torch.Tensor, static: bool, z: torch.Tensor, choices: list[Choice]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Σ_r e, Σ_r e²)`` of ``e = z − ẑ_t``, ``[K, T, C]``: one simulation per choice."""
    e1, e2 = [], []
    for c in choices:
        err = z - estimates(s.cls, x, static, c, s.steps)
        e1.append(err.sum(1))
        e2.append(err.square_().sum(1))
    return torch.stack(e1), torch.stack(e2)


def converged_sse(z: torch.Tensor, c: Choice, t: int) -> torch.Tensor:
    """``Σ_r (z − ẑ_t)²`` per channel of the converged neuron at a long ``t`` (module doc)."""
    n = torch.floor(c.v + t * (z + c.beta) / c.theta).clamp_(0, t)
    return (z - c.theta * n / t).square_().sum(0)


def regression(m: torch.Tensor, s: Setting) -> tuple[torch.Tensor, torch.Tensor]:
    """``(β, γ)`` minimising ``Σ_t w_t (m_t − β − γ/t)²`` over the simulated steps with
    ``w_t = 1/t`` (mean errors ``m[t − 1, C]``); a lone target T fits ``β`` alone."""
    steps = list(range(1, s.steps + 1)) if len(s.targets) > 1 else [s.steps]
    t = torch.tensor(steps, dtype=m.dtype).reshape(-1, 1)
    m, w = m[[k - 1 for k in steps]], 1.0 / t
    sw, swu, swuu = w.sum(), (w / t).sum(), (w / t / t).sum()
    swm, swmu = (w * m).sum(0), (w * m / t).sum(0)
    zero = torch.zeros_like(swm)
    bias, fading = s.bias, s.fading and len(steps) > 1
    if bias and fading:
        det = sw * swuu - swu * swu
        return (swuu * swm - swu * swmu) / det, (sw * swmu - swu * swm) / det
    if bias:
        return swm / sw, zero
    if fading:
        return zero, swmu / swuu
    return zero, zero


def corrected(c: Choice, beta: torch.Tensor, gamma: torch.Tensor) -> Choice:
    """``c`` with ``β`` added to its input shift and ``γ/θ`` to its initial membrane."""
    return Choice(c.theta, (c.v + gamma / c.theta).clamp(*V_RANGE), c.beta + beta)


def candidates(base: torch.Tensor, cap: torch.Tensor, s: Setting) -> list[Choice]:
    """Thresholds ``θ = base·g`` (``g`` in :data:`GRID`, or 1 without search), at most
    ``cap``, starting at ``v0`` with no shift; the first is ``g = 1``."""
    grid = (1.0, *(g for g in GRID if g != 1.0)) if s.search else (1.0,)
    zero = torch.zeros_like(base)
    return [Choice(torch.minimum(base * g, cap), torch.full_like(base, s.v0), zero) for g in grid]


def score(
    e1: torch.Tensor,
    e2: torch.Tensor,
    n: float,
    power: torch.Tensor,
    fits: list[tuple[torch.Tensor, torch.Tensor]],
    long: dict[int, torch.Tensor],
    s: Setting,
) -> torch.Tensor:
    """The objective ``[K, C]`` of every candidate after its corrections ``fits[k] = (β, γ)``;
    ``long[t]`` holds the converged SSE ``[K, C]`` for each target T beyond the simulated
    steps."""
    out = torch.zeros(e1.shape[0], e1.shape[2], dtype=e1.dtype)
    for k, (beta, gamma) in enumerate(fits):
        m = e1[k] / n
        for t in s.targets:
            if t <= s.steps:
                shift = beta + gamma / t
                mse = e2[k, t - 1] / n - m[t - 1] ** 2 + (m[t - 1] - shift) ** 2
            else:
                mse = long[t][k] / n
            out[k] += torch.log(mse.clamp(min=0) + EPSILON * power + 1e-12)
    return out


def fit_layer(
    s: Setting,
    x: torch.Tensor,
    static: bool,
    z: torch.Tensor,
    base: torch.Tensor,
    cap: torch.Tensor,
    reduce: Reduce,
) -> tuple[Choice, dict[str, Any]]:
    """Fit one layer's threshold, initial membrane and input shift per channel (module doc)
    on kept rows: current ``x`` (``[T, r, C]``, or ``[r, C]`` when ``static``) and ANN
    target ``z`` (``[r, C]``)."""
    choices = candidates(base, cap, s)
    e1, e2 = (reduce(t) for t in error_sums(s, x, static, z, choices))
    n = float(reduce(torch.tensor([float(z.shape[0])]))[0])
    power = reduce(z.square().sum(0)) / max(n, 1.0)
    fits = [regression(e1[k] / max(n, 1.0), s) for k in range(len(choices))]
    fixed = [corrected(c, b, g) for c, (b, g) in zip(choices, fits, strict=True)]
    long = {
        t: reduce(torch.stack([converged_sse(z, c, t) for c in fixed]))
        for t in s.targets
        if t > s.steps
    }
    rates = score(e1, e2, max(n, 1.0), power, fits, long, s)
    choice, _ = pick(rates, fixed, s.channelwise)
    f1, f2 = (reduce(t) for t in error_sums(s, x, static, z, [choice]))
    beta, gamma = regression(f1[0] / max(n, 1.0), s)
    report = {
        "mse_before": _mse(e2[0], n, s, {t: v[0] for t, v in long.items()}, choices[0], z),
        "mse_after": _mse(f2[0], n, s, {}, choice, z, reduce),
        "scale": float((choice.theta / base).mean()),
        "simulations": len(choices) + 1,
    }
    return corrected(choice, beta, gamma), report


def pick(rates: torch.Tensor, options: list[Choice], channelwise: bool) -> tuple[Choice, torch.Tensor]:
    """The best option per channel (or one for the whole layer) and the chosen indices."""
    best = rates.argmin(0) if channelwise else rates.sum(1).argmin().expand(rates.shape[1])
    stack = {f: torch.stack([getattr(o, f) for o in options]) for f in ("theta", "v", "beta")}
    return Choice(**{f: v.gather(0, best[None])[0] for f, v in stack.items()}), best


def _mse(
    e2: torch.Tensor,
    n: float,
    s: Setting,
    long: dict[int, torch.Tensor],
    c: Choice,
    z: torch.Tensor,
    reduce: Reduce | None = None,
) -> dict[str, float]:
    """Mean squared error per target T, averaged over channels (units of λ₀²)."""
    out = {}
    for t in s.targets:
        if t <= s.steps:
            sse = e2[t - 1]
        elif t in long:
            sse = long[t]
        else:
            sse = converged_sse(z, c, t)
            sse = reduce(sse) if reduce else sse
        out[str(t)] = float(sse.sum()) / (max(n, 1.0) * e2.shape[-1])
    return out


def channel_histogram(z: torch.Tensor) -> torch.Tensor:
    """Counts of ``z`` (``[n, C, ...]``) per channel in log-spaced bins (:data:`BINS`)."""
    c = z.shape[1]
    flat = z.transpose(0, 1).reshape(c, -1)
    b = torch.floor((torch.log2(flat.clamp(min=LOW)) - math.log2(LOW)) * PER_OCTAVE) + 1
    b = torch.where(flat > LOW, b.clamp_(1, BINS - 1), torch.zeros_like(b)).long()
    b += torch.arange(c).reshape(-1, 1) * BINS
    return torch.bincount(b.reshape(-1), minlength=c * BINS).reshape(c, BINS)


def channel_quantile(hist: torch.Tensor, q: float) -> torch.Tensor:
    """Per channel, the value below which a fraction ``q`` of the counts lies (the bin's
    geometric middle; 0 when that is the bin of zeros)."""
    cum = hist.cumsum(1).double()
    rank = (q * cum[:, -1:]).clamp(min=1)
    b = (cum < rank).sum(1)
    value = LOW * 2.0 ** ((b.double() - 0.5) / PER_OCTAVE)
    return torch.where(b > 0, value, torch.zeros_like(value)).float()


PER_OCTAVE = 16
LOW = 2.0**-16
BINS = 1 + 24 * PER_OCTAVE  # zeros, then 24 octaves above LOW
