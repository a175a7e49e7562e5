"""Layer-wise calibration of a converted SNN for good accuracy at every T (or one target T):
a calibration stage that simulates the network once, layer by layer, and returns fitted
parameters (:mod:`.engine`, :mod:`.fit`), applied by pure ``Graph -> Graph`` passes
(:mod:`.apply`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from ...ir.graph import Graph
from ..normalise import cap
from .apply import add_bias, bias_carrier, calibrated, convert, layers
from .engine import Engine
from .fit import ANYTIME, GRID, Reduce, Setting
from .plan import Calibration, LayerFit, LayerProgress, Plan, identity


def calibrate_layers(
    prepared: Graph,
    x: torch.Tensor,
    lam0: Mapping[str, float],
    plan: Plan,
    cumulative: bool = True,
    spiking_output: bool = False,
    reduce: Reduce = identity,
    progress: LayerProgress | None = None,
    samples: int | None = None,
) -> tuple[Graph, Graph, Calibration]:
    """Calibrate the conversion of ``prepared`` (layer-wise ``lam0`` per ReLU) on samples
    ``x`` (this shard's; ``samples``: how many all shards hold together) and return the
    calibrated SNN, the ANN with its shifted biases and the fitted parameters."""
    s = plan.setting
    lam = {n: _usable(prepared, n, v) for n, v in lam0.items()}
    # the engine's graph carries values in units of λ₀ (burst 1): it runs each neuron layer
    # itself, with the fitted thresholds and bursts
    snn = convert(prepared, lam, s.v0, s.neuron, 1, cumulative, spiking_output, 1)
    targets = layers(prepared, snn)
    engine = Engine(prepared, snn, lam, targets, plan, reduce)
    cal = engine.run(x, samples or len(x), progress)
    out, ann = calibrated(prepared, cal, targets, s, cumulative, spiking_output)
    return out, ann, cal


def _usable(prepared: Graph, name: str, value: float) -> float:
    """λ₀ as ``relu_to_if`` uses it: 1 where the statistic is not positive, at most a cap."""
    v = float(value) if np.isfinite(value) and value > 0 else 1.0
    return float(cap(prepared.nodes[name], np.asarray(v)))


__all__ = [
    "ANYTIME",
    "GRID",
    "Calibration",
    "LayerFit",
    "LayerProgress",
    "Plan",
    "Reduce",
    "Setting",
    "add_bias",
    "bias_carrier",
    "calibrate_layers",
    "identity",
]
