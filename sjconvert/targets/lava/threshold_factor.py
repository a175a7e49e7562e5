"""Pick the CUBA threshold factor ``α`` for soft-reset (rate-coded) neurons mapped to Loihi's
hard reset (:mod:`.quantize`).

A hard-reset IF with constant input ``x`` and threshold ``θ`` fires at ``1/⌈θ/x⌉`` per
step: a staircase below ``x/θ`` whose lowest, coarsest steps hold most activations after a
99.9th-percentile normalisation, so few spikes arrive in ``T`` steps and the residual
charge lost at every reset biases every rate down. Lowering every threshold by one factor
``α < 1`` is a gain ``1/α``: finer rates, clipping only for the top of the range. ``α`` is
chosen on calibration data with our fixed-point simulator (the exact Loihi arithmetic):
the accuracy of every ``α`` in :data:`GRID`, and among the best the middle of the plateau
(a per-layer search, or the largest tied ``α``, overfits the calibration samples;
``docs/lava.md`` has the measurements).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fixed_point.simulator import simulate
from .formats.emit_procgraph import procgraph
from .network import Paths
from .quantising.cuba import quantize_cuba

GRID = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
SAMPLES = 200


def soft_reset(paths: Paths) -> bool:
    """Whether some population resets by subtraction (a converted ANN's IF neurons)."""
    return any(p.node.spiking and p.node.reset_mode == "soft" for p in paths.populations.values())


@dataclass(frozen=True)
class AlphaChoice:
    alpha: float
    accuracy: dict[float, float]


def tune_alpha(
    paths: Paths,
    x: np.ndarray,
    targets: np.ndarray,
    steps: int,
    input_scale: float,
    x_max: float,
    grid: tuple[float, ...] = GRID,
) -> AlphaChoice:
    """The threshold factor for ``paths`` at ``steps`` steps, from the agreement of the
    fixed-point network's predictions with ``targets`` (labels, or the ANN's predictions)
    on up to :data:`SAMPLES` samples of ``x``."""
    x, targets = x[:SAMPLES], np.asarray(targets)[:SAMPLES]
    accuracy = {}
    for alpha in grid:
        run = steps + paths.latency
        net = quantize_cuba(paths, input_scale, run, x_max, reset="hard", alpha=alpha)
        pg = procgraph(net, steps)
        trace = simulate(pg, pg.schedule(pg.encode(x)), record=[pg.output["process"]])
        accuracy[alpha] = float(np.mean(pg.predict_trace(trace) == targets))
    best = max(accuracy.values())
    tied = [a for a in grid if accuracy[a] == best]
    return AlphaChoice(tied[len(tied) // 2], accuracy)
