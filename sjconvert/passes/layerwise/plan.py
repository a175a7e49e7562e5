"""What the layer-wise calibration engine is given and returns: its plan, the layers it
fits, their fitted parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .fit import Setting

LayerProgress = Callable[[str, int, int], None]
CHUNK_ELEMENTS = 1 << 24  # values of one chunk's widest temporal tensor
KEEP_BYTES = 1 << 29  # at most: currents kept from a fit to its run; carried values alive


def identity(t: torch.Tensor) -> torch.Tensor:
    """The default reduce hook: one process holds all samples."""
    return t


@dataclass(frozen=True)
class Plan:
    """How the engine runs: the fit setting (neuron, steps, target T, corrections), the
    percentile of each channel's threshold base, kept rows per channel, chunking."""

    setting: Setting
    quantile: float = 0.999
    rows: int = 512
    chunk: int | None = None
    keep_bytes: int = KEEP_BYTES


@dataclass
class LayerFit:
    """One layer's fitted parameters: per channel, the threshold ``θ`` (units of λ₀), the
    initial membrane (fraction of θ) and the per-step input shift (ANN units)."""

    threshold: np.ndarray
    v_init: np.ndarray
    shift: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)


@dataclass
class Calibration:
    """The fitted layers (neurons and readouts), λ₀ and what the engine did."""

    layers: dict[str, LayerFit]
    lam0: dict[str, float]
    counters: dict[str, int]


@dataclass(frozen=True)
class Layer:
    """What the caller knows about one target (a neuron layer or a readout): the ANN node
    whose value it reproduces, the node whose bias shifts its input (None: no such bias),
    whether its λ may be per channel, its cap (a capped ReLU's ``max_value``) and whether it
    is a bipolar neuron (an Encode's: values of either sign)."""

    ann: str
    carrier: str | None
    channelwise: bool
    cap: float | None = None
    bipolar: bool = False
