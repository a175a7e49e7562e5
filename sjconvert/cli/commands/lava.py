"""``sjconvert to-lava``: write a Loihi 2 network for Lava — NetX HDF5 for a chain, or a
self-contained Lava process graph (``.lpg.npz`` plus its loader) for any graph — optionally
verified against Lava's own simulator; ``sjconvert fit``: its Loihi 2 fit report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from ...api import PLAIN, is_plain, open_snn
from ...errors import InputError
from ...exec.data_layout import model_input
from ...frontends.loading import DataSource, load_data
from ...ir.graph import Graph
from ...targets.lava.export import calibrate_alpha, input_max, measure_loihi, to_loihi
from ...targets.lava.fit import fit_report, summary
from ..app import ArchOpt, JsonOpt, ModelArg, TimeMajorOpt, TrustOpt, _progress, _run, app, out
from ..paths import check_outputs


def _pct(v: Any) -> str:
    return "-" if v is None else f"{v:.2%}"


def _quant_table(output: Path, facts: dict[str, Any]) -> Table:
    t = Table(title=f"{output}: quantisation per population", title_justify="left")
    cols = ("population", "neuron", "synapses", "θ", "scale", "weight", "bias", "θ err", "decay")
    for col in cols:
        t.add_column(col, justify="left" if col in ("population", "neuron") else "right")
    for name, f in facts.items():
        e = f["error"]
        t.add_row(
            name,
            f"{f['neuron']}→{f['model']}",
            str(len(f["synapses"])),
            str(f["vth"]),
            f"{f['scale']:.4g}",
            _pct(e["weight"]),
            _pct(e["bias"]),
            _pct(e["threshold"]),
            _pct(e["decay"]),
        )
    return t


def _verify_tables(verify: dict[str, Any]) -> list[Table]:
    acc = Table(
        title=f"accuracy at T={verify['steps']} on {verify['samples']} samples",
        title_justify="left",
    )
    lava = verify.get("lava", {})
    cols = ("ANN", "float SNN", "fixed point", "Lava (first k)", "fixed point (first k)")
    for col in cols:
        acc.add_column(col, justify="right")
    cells = [verify.get("ann"), verify["snn_float"], verify["fixed_point"]]
    acc.add_row(*map(_pct, [*cells, lava.get("accuracy"), lava.get("fixed_point_accuracy")]))
    if not lava:
        return [acc]
    twin = ", unrolled twin" if lava["network"] == "unrolled twin" else ""
    par = Table(
        title=f"Lava vs fixed point on k = {lava['samples']} samples "
        f"({lava['samples_per_minute']:.0f} samples/min{twin})",
        title_justify="left",
    )
    par.add_column("population")
    par.add_column("spike agreement", justify="right")
    for name, a in lava["spike_agreement"].items():
        par.add_row(name, f"{a:.2%}")
    par.add_row("output state", "equal" if lava["state_equal"] else "DIFFERENT")
    par.add_row("predictions", f"{lava['prediction_agreement']:.2%}")
    if "twin_equals_network" in lava:
        par.add_row(
            "twin = network (ours)", "equal" if lava["twin_equals_network"] else "DIFFERENT"
        )
    return [acc, par]


def _verify_data(
    spec: str, snn: Graph, steps: int, time_major: bool
) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(x, y, sequence)`` of labelled ``--verify`` data as the executors take it:
    ``[N, ...]`` for a direct input, ``[T, N, ...]`` for sequences (see
    :func:`~sjconvert.exec.data_layout.model_input`)."""
    ds = load_data(spec, time_major=time_major)
    if ds.arrays is None or ds.arrays[1] is None:
        raise InputError(f"{spec}: --verify needs arrays x and labels y")
    x, y = ds.arrays
    xs, seq = model_input(snn, np.asarray(x, np.float32), steps)
    return np.ascontiguousarray(xs), np.asarray(y), seq


@app.command("to-lava")
def to_lava(
    model: ModelArg,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="File to write: NetX HDF5 or .lpg.npz.")
    ],
    calib: Annotated[
        str | None,
        typer.Option(
            help="Calibration data (.npz/.pt/pkg.mod:fn): converts an ANN first, sets the "
            "input range and the CUBA threshold factor."
        ),
    ] = None,
    steps: Annotated[int, typer.Option("-T", "--T", min=1, help="Time steps the net runs.")] = 32,
    reset: Annotated[
        str,
        typer.Option(
            help="hard: map soft reset (and per-channel v_init) to Loihi's hard reset to 0 "
            "(lossy, threshold factor --alpha); exact: refuse them."
        ),
    ] = "hard",
    neuron: Annotated[
        str,
        typer.Option(
            help="auto: CUBA for hard-reset SNNs, sigma-delta for converted ANNs; "
            "cuba: rate-coded CUBA LIF; sdnn: sigma-delta ReLU with a sigma readout."
        ),
    ] = "auto",
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="auto: NetX for a chain of layers, else procgraph; netx; procgraph: a Lava "
            "process graph (.lpg.npz) for any graph, with procgraph_loader.py beside it.",
        ),
    ] = "auto",
    alpha: Annotated[
        str,
        typer.Option(
            help="CUBA threshold factor for soft-reset neurons: auto (picked on --calib "
            "data) or a number in (0, 1]."
        ),
    ] = "auto",
    verify: Annotated[
        str | None,
        typer.Option(help="Labelled data: measure accuracy and run Lava's simulator on it."),
    ] = None,
    lava_samples: Annotated[
        int, typer.Option(min=0, help="Samples of --verify data to run in Lava (0: none).")
    ] = 200,
    lava_unroll: Annotated[
        bool,
        typer.Option(
            help="Run Lava on the network's twin with every convolution as a dense matrix "
            "(2.5-4x faster; our simulator checks the twin equals the network)."
        ),
    ] = False,
    arch: ArchOpt = None,
    trust: TrustOpt = False,
    time_major: TimeMajorOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Quantise an SNN (or an ANN, converted first) to Loihi 2 fixed point and write it."""

    def body() -> None:
        check_outputs([output], [model, calib, verify])
        fixed = _parse_alpha(alpha)
        data = None if calib is None else load_data(calib, time_major=time_major)
        # an ANN is converted to plain IF neurons without the rate-code calibration of
        # ann2snn's default (the sigma-delta mapping reads the ANN's activations; CUBA needs
        # V[-1] = 0; Loihi has no signed or bursting neurons)
        snn, ann = open_snn(model, data, arch=arch, trust=trust, **PLAIN)
        if not is_plain(snn) and ann is not None and data:
            snn, ann = open_snn(ann, data, **PLAIN)  # plain conversion of the source
        x_max = 1.0 if data is None else input_max(data)
        factor, table = (
            (fixed, None) if fixed is not None else _alpha(snn, ann, data, steps, x_max, neuron)
        )
        exp = to_loihi(snn, steps, x_max=x_max, reset=reset, model=neuron, fmt=fmt, alpha=factor)
        files = exp.write(output)
        report: dict[str, Any] = {
            "output": [str(f) for f in files],
            "format": exp.format,
            "neuron": exp.net.model,
            "alpha": factor,
            "alpha_calibration": table,
            "input_scale": exp.net.input_scale,
            "layers": exp.net.facts,
        }
        if verify is not None:
            x, y, seq = _verify_data(verify, snn, steps, time_major)
            k = min(lava_samples, x.shape[1] if seq else len(x))
            with _progress("Lava", k, json_out) as advance:
                report["verify"] = measure_loihi(
                    exp, snn, ann, x, y, lava_samples, advance, sequence=seq, unroll=lava_unroll
                )
        if json_out:
            out.print_json(json.dumps(report, default=float))
            return
        out.print(_quant_table(output, exp.net.facts))
        for table_ in _verify_tables(report["verify"]) if verify is not None else []:
            out.print(table_)
        tuned = f", threshold factor α = {factor:g}" if table else ""
        out.print(
            f"wrote {', '.join(report['output'])} ({exp.format}, {len(exp.net.neurons)} "
            f"populations, {len(exp.net.synapses)} synapses, {exp.net.model} neurons{tuned})"
        )

    _run(body)


def _parse_alpha(text: str) -> float | None:
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


def _alpha(
    snn: Any, ann: Any, data: DataSource | None, steps: int, x_max: float, model: str
) -> tuple[float, dict[str, float] | None]:
    """The threshold factor picked on the calibration data (1 without data or need)."""
    if data is None:
        return 1.0, None
    batch = data.first()
    y = None if batch.y is None else batch.y.numpy()
    choice = calibrate_alpha(snn, ann, batch.x.numpy(), y, steps, x_max, model)
    if choice is None:
        return 1.0, None
    return choice.alpha, {str(a): acc for a, acc in choice.accuracy.items()}


@app.command()
def fit(
    network: Annotated[
        Path, typer.Argument(help="Network written by to-lava: NetX HDF5 or .lpg.npz.")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Loihi 2 fit report: per population neurons, synapses, fan-in/out, weight bits, cores."""

    def body() -> None:
        rows = fit_report(network)
        info = summary(rows)
        # to-lava refuses every non-spiking op (Registry.refusal), so all that reaches a chip
        # is spike-driven, at every T (docs/transformers.md)
        info["spike_driven_fraction"] = 1.0
        if json_out:
            out.print_json(json.dumps(info))
            return
        t = Table(title=f"{network}: Loihi 2 fit", title_justify="left")
        cols = ("layer", "type", "neuron", "neurons", "synapses", "fan-in", "fan-out", "bits")
        for col in (*cols, "cores", "to fit"):
            t.add_column(
                col, justify="left" if col in ("layer", "type", "neuron", "to fit") else "right"
            )
        for r in rows:
            t.add_row(
                r.name,
                r.kind,
                r.neuron,
                str(r.neurons),
                str(r.synapses),
                str(r.fan_in),
                str(r.fan_out),
                str(r.weight_bits),
                str(r.cores),
                r.advice,
            )
        out.print(t)
        lim = info["limits"]
        out.print(
            f"{info['cores']} neuro-cores on {info['chips']} chip(s); limits per core: "
            f"{lim['neurons_per_core']} neurons, {lim['synapses_per_core_8bit']} 8-bit synapses "
            f"({lim['source']}); spike-driven: 100 % of operations at every T (to-lava "
            "refuses non-spiking ops)"
        )

    _run(body)
