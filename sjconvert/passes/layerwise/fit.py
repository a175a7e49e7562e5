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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ...exec.arrays import run_node
from ...ir import nodes as ir
from ..options import ANY_T, ConversionOptions

ANYTIME = (1, 2, 4, 8, 16, 32, 64)  # the T of the default objective
GRID = tuple(2.0 ** (k / 4) for k in range(-6, 2))  # threshold scales, 0.35 … 1.19
EPSILON = 1e-3
V_RANGE = (0.0, 1.0)
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
    """What one layer's fit does: the neuron (``"if"``, ``"signed"`` or ``"bipolar"``, bursts
    of up to ``burst`` spikes), the steps simulated, the T of the objective, which
    corrections are on."""

    neuron: str
    burst: int
    steps: int
    targets: tuple[int, ...]
    search: bool = True
    bias: bool = True
    fading: bool = True
    channelwise: bool = True
    v0: float = 0.5
    bipolar_burst: int = 1
    bipolar_headroom: int = 1

    @property
    def spike_cap(self) -> int:
        """Most spikes per step: ``burst``, times the headroom for a bipolar neuron (whose
        threshold is still its scale over ``burst``)."""
        return self.burst * (self.bipolar_headroom if self.neuron == "bipolar" else 1)

    @classmethod
    def from_options(cls, options: ConversionOptions) -> Setting:
        """The fit that ``options`` ask for (``T`` any: :data:`ANYTIME`, simulating
        ``calib_steps``; ``T = N``: that T, simulating N steps)."""
        steps = options.steps
        if steps is None:
            raise ValueError("options with T=None ask for no layer calibration")
        return cls(
            neuron=options.neuron,
            burst=options.max_spikes,
            steps=steps,
            targets=ANYTIME if options.T == ANY_T else (steps,),
            search=options.search,
            bias=options.bias,
            fading=options.v_search,
            channelwise=options.granularity == "channel",
            v0=options.v_init,
            bipolar_burst=options.bipolar_burst,
            bipolar_headroom=options.bipolar_headroom,
        )

    def node(self, c: Choice) -> ir.Node:
        """The neuron layer of choice ``c`` (per-channel threshold and initial membrane)."""
        theta, v_init = c.theta.numpy(), (c.v * c.theta).numpy()
        if self.neuron == "bipolar":
            return ir.BipolarIF(v_threshold=theta, v_init=v_init, max_spikes=self.spike_cap)
        if self.neuron == "signed":
            return ir.SignedIF(v_threshold=theta, v_init=v_init, max_spikes=self.burst)
        return ir.IF(v_threshold=theta, v_init=v_init)


def estimates(s: Setting, x: torch.Tensor, static: bool, c: Choice) -> torch.Tensor:
    """``ẑ_t`` for ``t = 1..steps`` (``[T, r, C]``) of neurons driven by ``x + β``."""
    spikes, _ = run_node(s.node(c), x + c.beta, s.steps, static=static)
    t = torch.arange(1, s.steps + 1, dtype=spikes.dtype).reshape(-1, 1, 1)
    return spikes.cumsum_(0).mul_(c.theta).div_(t)


def error_sums(
    s: Setting, x: torch.Tensor, static: bool, z: torch.Tensor, choices: list[Choice]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Σ_r e, Σ_r e²)`` of ``e = z − ẑ_t``, ``[K, T, C]``: one simulation per choice."""
    e1, e2 = [], []
    for c in choices:
        err = z - estimates(s, x, static, c)
        e1.append(err.sum(1))
        e2.append(err.square_().sum(1))
    return torch.stack(e1), torch.stack(e2)


def converged_sse(
    z: torch.Tensor, c: Choice, t: int, burst: int = 1, bipolar: bool = False
) -> torch.Tensor:
    """``Σ_r (z − ẑ_t)²`` per channel of the converged neuron at a long ``t`` (module doc;
    a bipolar neuron's count may be negative)."""
    low = -t * burst if bipolar else 0
    n = torch.floor(c.v + t * (z + c.beta) / c.theta).clamp_(low, t * burst)
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
    """Thresholds ``θ = base·g/B`` (``g`` in :data:`GRID`, or 1 without search; ``B``
    spikes per step at most) with ``B·θ`` at most ``cap``, starting at ``v0`` with no shift;
    the first is ``g = 1``."""
    grid = (1.0, *(g for g in GRID if g != 1.0)) if s.search else (1.0,)
    zero, v = torch.zeros_like(base), torch.full_like(base, s.v0)
    return [Choice(torch.minimum(base * g, cap) / s.burst, v, zero) for g in grid]


def objective(mse: dict[int, torch.Tensor], power: torch.Tensor) -> torch.Tensor:
    """``Σ_T log(MSE_T + ε·P)`` per channel."""
    return sum(torch.log(m.clamp(min=0) + EPSILON * power + 1e-12) for m in mse.values())


def predicted(
    e1: torch.Tensor, e2: torch.Tensor, n: float, fit: tuple[torch.Tensor, torch.Tensor], s: Setting
) -> dict[int, torch.Tensor]:
    """Per simulated target T, the MSE after shifting the estimates by ``β + γ/T``: the error
    distribution moves, its spread stays."""
    beta, gamma = fit
    out = {}
    for t in s.targets:
        if t <= s.steps:
            m = e1[t - 1] / n
            out[t] = e2[t - 1] / n - m**2 + (m - beta - gamma / t) ** 2
    return out


def simulated(
    e2: torch.Tensor, n: float, long: dict[int, torch.Tensor], s: Setting
) -> dict[int, torch.Tensor]:
    """Per target T, the MSE: simulated, or of the converged neuron (``long``)."""
    return {t: (e2[t - 1] if t <= s.steps else long[t]) / n for t in s.targets}


def take(options: list[Choice], index: torch.Tensor) -> Choice:
    """Per channel ``c``, option ``index[c]``."""
    fields = {}
    for f in ("theta", "v", "beta"):
        stack = torch.stack([getattr(o, f) for o in options])
        fields[f] = stack.gather(0, index[None])[0]
    return Choice(**fields)


def best(score: torch.Tensor, channelwise: bool) -> torch.Tensor:
    """The option with the least score ``[K, C]`` per channel, or for the whole layer."""
    return score.argmin(0) if channelwise else score.sum(1).argmin().expand(score.shape[1])


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
    target ``z`` (``[r, C]``). A correction is kept only where, simulated, it lowers the
    objective."""
    options = candidates(base, cap, s)
    e1, e2 = (reduce(t) for t in error_sums(s, x, static, z, options))
    n = max(float(reduce(torch.tensor([float(z.shape[0])]))[0]), 1.0)
    power = reduce(z.square().sum(0)) / n

    def long(c: Choice) -> dict[int, torch.Tensor]:
        bipolar = s.neuron == "bipolar"
        return {
            t: reduce(converged_sse(z, c, t, s.spike_cap, bipolar))
            for t in s.targets
            if t > s.steps
        }

    fits = [regression(e1[k] / n, s) for k in range(len(options))]
    fixed = [corrected(c, *f) for c, f in zip(options, fits, strict=True)]
    scores = []
    for k, c in enumerate(fixed):
        mse = {**predicted(e1[k], e2[k], n, fits[k], s), **long(c)}
        scores.append(objective(mse, power))
    k = best(torch.stack(scores), s.channelwise)
    plain, choice = take(options, k), take(fixed, k)
    e2_plain = e2.gather(0, k.reshape(1, 1, -1).expand(1, *e2.shape[1:]))[0]
    before = simulated(e2_plain, n, long(plain), s)
    _, f2 = (reduce(t) for t in error_sums(s, x, static, z, [choice]))
    after = simulated(f2[0], n, long(choice), s)
    keep = best(torch.stack([objective(before, power), objective(after, power)]), s.channelwise)
    final = take([plain, choice], keep)
    report = {
        "mse_before": _mean(simulated(e2[0], n, long(options[0]), s)),
        "mse_after": _mean({t: torch.where(keep > 0, after[t], before[t]) for t in after}),
        "scale": float((final.theta * s.burst / base).mean()),
        "corrected": float(keep.double().mean()),
        "simulations": len(options) + 1,
    }
    return final, report


def _mean(mse: dict[int, torch.Tensor]) -> dict[str, float]:
    """Mean squared error per target T, averaged over channels (units of λ₀²)."""
    return {str(t): float(m.mean()) for t, m in mse.items()}
