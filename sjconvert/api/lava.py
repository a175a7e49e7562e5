"""The Python API behind ``sjconvert to-lava``: a model — an SNN file taken as it is, or an
ANN converted first — to a Loihi 2 network (:func:`build_lava`), written atomically
(:meth:`LavaBuild.write`); measured on data by :mod:`.lava_verify`.

Everything that can make the run fail is found before the work that costs: the options,
the Lava environment when Lava will run (:func:`require_lava`), and, for an ANN, whether
its converted network maps to Loihi 2 at all — checked on a conversion of two samples
without calibration, which has the same structure as the real one, before the real one
runs."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..frontends.loading import DataSource, load_data, load_model
from ..ir.graph import Graph
from ..ir.io import is_ir_file
from ..targets.lava.build import (
    FORMATS,
    NEURON_MODELS,
    LoihiExport,
    check_loihi,
    choose_alpha,
    to_loihi,
)
from ..targets.lava.running.launcher import require_lava
from .convert import open_snn
from .files import read_with_source

CUBA_SDNN = {"T": None, "v_init": 0.0, "neuron": "if"}
"""The conversion ``--neuron cuba`` / ``sdnn`` take from an ANN: plain IF neurons, no
layer calibration (CUBA needs ``V[-1] = 0``; sigma-delta reads the ANN's activations)."""

__all__ = ["LavaBuild", "build_lava", "input_max", "parse_alpha", "require_lava"]


def parse_alpha(text: str | float) -> float | None:
    """``--alpha``: a number in (0, 1], or None for ``auto``."""
    if text == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"--alpha takes 'auto' or a number, got {text!r}") from None
    if not 0 < value <= 1:
        raise InputError(f"--alpha must be in (0, 1], got {value}")
    return value


def input_max(batches: Iterable[Any]) -> float:
    """``max |x|`` over a data set's batches."""
    return max(float(np.abs(np.asarray(b.x)).max()) for b in batches)


@dataclass
class LavaBuild:
    """A Loihi 2 network ready to write: the export, the SNN it stands for and its source
    ANN, the threshold factor and the accuracy per factor it was chosen on, and what was
    done to the model on the way (``notes``)."""

    export: LoihiExport
    snn: Graph
    ann: Graph | None
    alpha: float
    alpha_calibration: dict[str, float] | None = None
    notes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def write(self, path: str | os.PathLike[str]) -> list[Path]:
        """Write the network (see :meth:`LoihiExport.write`); returns the files."""
        self.files = self.export.write(path)
        return self.files

    def report(self) -> dict[str, Any]:
        """What ``to-lava --json`` prints (before verification)."""
        net, pg = self.export.net, self.export.graph
        return {
            "output": [str(f) for f in self.files],
            "format": self.export.format,
            "neuron": net.model,
            "input_steps": self.export.steps,
            "latency": net.latency,
            "run_steps": self.export.steps + net.latency,
            "clock": "Loihi steps: input steps, then the latency until the output is read",
            "processes": pg.process_table(),
            "notes": self.notes,
            "alpha": self.alpha,
            "alpha_calibration": self.alpha_calibration,
            "input_scale": net.input_scale,
            "layers": net.facts,
        }


def build_lava(
    model: Any,
    calib: str | DataSource | None = None,
    steps: int = 32,
    *,
    reset: str = "hard",
    neuron: str = "auto",
    fmt: str = "auto",
    alpha: str | float = "auto",
    arch: str | None = None,
    trust: bool = False,
    time_major: bool = False,
) -> LavaBuild:
    """Quantise an SNN — or an ANN, converted first on ``calib`` — for Loihi 2.

    A spiking IR file (an ``ann2snn`` output) is taken as it is; an ANN gets ``ann2snn``'s
    default conversion, or the plain one (:data:`CUBA_SDNN`) for ``neuron`` ``cuba`` /
    ``sdnn``, whose neurons cannot run the default's signed, calibrated ones — an SNN file
    with those is then converted again from its stored source ANN, and the notes say so.
    ``alpha="auto"`` picks the CUBA threshold factor on the first calibration batch."""
    fixed = parse_alpha(alpha)
    if neuron not in NEURON_MODELS or fmt not in FORMATS:
        bad = f"--neuron {neuron!r}" if neuron not in NEURON_MODELS else f"--format {fmt!r}"
        raise InputError(
            f"{bad} unknown; use --neuron {'|'.join(NEURON_MODELS)}, --format {'|'.join(FORMATS)}"
        )
    data = load_data(calib, time_major=time_major) if isinstance(calib, str) else calib
    options = CUBA_SDNN if neuron in ("cuba", "sdnn") else {}
    loaded, source = _load(model, arch, trust)
    notes: list[str] = []
    if _spiking(loaded):
        snn, ann = loaded, source
        if options and _calibrated(snn):
            snn, ann = _reconvert(snn, source, data, neuron, notes)
    else:
        snn, ann = _convert(loaded, data, options, neuron)
    x_max = 1.0 if data is None else input_max(data)
    factor, table = (
        (fixed, None) if fixed is not None else _alpha(snn, ann, data, steps, x_max, neuron)
    )
    exp = to_loihi(snn, steps, x_max=x_max, reset=reset, model=neuron, fmt=fmt, alpha=factor)
    return LavaBuild(exp, snn, ann, factor, table, notes)


def _load(model: Any, arch: str | None, trust: bool) -> tuple[Any, Graph | None]:
    """``(the model, the ANN stored with it)``: a file read once (an IR file's graph, or
    a module), anything else as it is."""
    if isinstance(model, (str, os.PathLike)):
        if is_ir_file(model):
            return read_with_source(model)
        return load_model(model, arch=arch, trust=trust), None
    return model, None


def _spiking(model: Any) -> bool:
    return isinstance(model, Graph) and any(node.spiking for _, node in model)


def _calibrated(snn: Graph) -> bool:
    """Signed neurons or a layer calibration: what CUBA and sigma-delta cannot run."""
    target = snn.meta.get("normalisation", {}).get("target_T")
    return target is not None or any(node.signed for _, node in snn)


def _reconvert(
    snn: Graph, source: Graph | None, data: DataSource | None, neuron: str, notes: list[str]
) -> tuple[Graph, Graph | None]:
    if source is None or data is None:
        raise InputError(
            f"signed or calibrated neurons have no --neuron {neuron} form: use --neuron auto "
            "(graded, exact), or give the ANN's calibration data (--calib) to convert again"
        )
    notes.append(f"converted again from the stored ANN with plain IF neurons for --neuron {neuron}")
    return open_snn(source, data, **CUBA_SDNN)


def _convert(
    model: Any, data: DataSource | None, options: dict[str, Any], neuron: str
) -> tuple[Graph, Graph | None]:
    """The conversion of an ANN, after a two-sample conversion without calibration (the
    same structure in seconds) showed Loihi 2 can run it. A module that already spikes
    (a SpikingJelly SNN) is only captured."""
    if data is None:
        raise InputError(
            "MODEL is not a converted SNN: give calibration data (--calib) to convert it first"
        )
    probe = [torch.as_tensor(data.first().x[:2])]
    dry, ann = open_snn(model, probe, **{**options, "T": None, "mode": "max"})
    if ann is None:  # captured, not converted
        return dry, None
    check_loihi(dry, neuron)
    del dry, ann  # not held while the real conversion runs (a VGG's weights twice over)
    return open_snn(model, data, **options)


def _alpha(
    snn: Graph, ann: Graph | None, data: DataSource | None, steps: int, x_max: float, model: str
) -> tuple[float, dict[str, float] | None]:
    """The threshold factor picked on the first calibration batch (1 without data or need)."""
    if data is None:
        return 1.0, None
    batch = data.first()
    y = None if batch.y is None else batch.y.numpy()
    choice = choose_alpha(snn, ann, batch.x.numpy(), y, steps, x_max, model)
    if choice is None:
        return 1.0, None
    return choice.alpha, {str(a): acc for a, acc in choice.accuracy.items()}
