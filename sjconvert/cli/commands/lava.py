"""``sjconvert to-lava``: write a NetX HDF5 network for Lava / Loihi 2, optionally verified
against Lava's own simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ...api import open_snn
from ...errors import InputError
from ...frontends.loading import load_data
from ...targets.lava.export import input_max, measure_loihi, to_loihi
from ...targets.lava.fit import fit_report, summary
from ...targets.lava.netx import write_netx
from ..app import ArchOpt, JsonOpt, ModelArg, TrustOpt, _run, app, out


def _tables(output: Path, q: Any, report: dict[str, Any]) -> list[Table]:
    quant = Table(title=f"{output}: quantisation per layer", title_justify="left")
    for col in ("layer", "neuron", "θ mantissa", "scale", "weight err", "bias err", "θ err"):
        quant.add_column(col, justify="right" if col != "layer" else "left")
    for name, f in q.meta["loihi"]["layers"].items():
        e = f["error"]
        quant.add_row(
            name,
            f.get("model", "cuba"),
            str(f["vth"]),
            f"{f['scale']:.4g}",
            f"{e['weight']:.2%}",
            f"{e['bias']:.2%}",
            f"{e['threshold']:.2%}",
        )
    tables = [quant]
    verify = report.get("verify")
    if verify:
        acc = Table(
            title=f"accuracy at T={verify['steps']} on {verify['samples']} samples",
            title_justify="left",
        )
        for col in ("ANN", "float SNN", "fixed point", "Lava (subset)", "fixed point (subset)"):
            acc.add_column(col, justify="right")
        lava = verify.get("lava", {})
        cells = [verify.get("ann"), verify["snn_float"], verify["fixed_point"]]
        cells += [lava.get("accuracy"), lava.get("fixed_point_accuracy")]
        acc.add_row(*("-" if c is None else f"{c:.2%}" for c in cells))
        tables.append(acc)
        if lava:
            par = Table(
                title=f"Lava vs fixed point on {lava['samples']} samples", title_justify="left"
            )
            par.add_column("layer")
            par.add_column("spike agreement", justify="right")
            for name, a in lava["spike_agreement"].items():
                par.add_row(name, f"{a:.2%}")
            par.add_row("output voltage", "equal" if lava["voltage_equal"] else "DIFFERENT")
            tables.append(par)
    return tables


@app.command("to-lava")
def to_lava(
    model: ModelArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="NetX HDF5 file to write.")],
    calib: Annotated[
        str | None,
        typer.Option(
            help="Calibration data (.npz/.pt/pkg.mod:fn): converts an ANN first, and "
            "sets the input range."
        ),
    ] = None,
    steps: Annotated[int, typer.Option("-T", "--T", min=1, help="Time steps the net runs.")] = 32,
    reset: Annotated[
        str,
        typer.Option(
            help="hard: map soft reset / v_init to Loihi's hard reset to 0 "
            "(approximate); exact: refuse them."
        ),
    ] = "hard",
    neuron: Annotated[
        str,
        typer.Option(
            help="auto: CUBA for hard-reset SNNs, sigma-delta for converted ANNs; "
            "cuba: rate-coded CUBA LIF; sdnn: sigma-delta ReLU with a sigma readout."
        ),
    ] = "auto",
    verify: Annotated[
        str | None,
        typer.Option(help="Labelled data: measure accuracy and run Lava's simulator on a subset."),
    ] = None,
    lava_samples: Annotated[
        int, typer.Option(min=0, help="Samples of --verify data to run in Lava.")
    ] = 4,
    arch: ArchOpt = None,
    trust: TrustOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Quantise an SNN (or an ANN, converted first) to Loihi 2 fixed point and write NetX."""

    def body() -> None:
        data = None if calib is None else load_data(calib)
        # an ANN is converted to plain IF neurons without the rate-code calibration of
        # ann2snn's default (the sigma-delta mapping reads the ANN's activations; CUBA needs
        # V[-1] = 0; Loihi has no signed or bursting neurons)
        plain = {"T": None, "v_init": 0.0, "neuron": "if", "maxpool": "pre"}
        snn, ann = open_snn(model, data, arch=arch, trust=trust, **plain)
        if snn.meta.get("normalisation", {}).get("target_T") and ann is not None and data:
            snn, ann = open_snn(ann, data, **plain)  # plain conversion of the source
        x_max = 1.0 if data is None else input_max(data)
        q, net = to_loihi(snn, steps, x_max=x_max, reset=reset, model=neuron)
        write_netx(net, output)
        report: dict[str, Any] = {
            "output": str(output),
            "layers": q.meta["loihi"]["layers"],
            "input_scale": net.input_scale,
            "neuron": net.layers[0].neuron,
        }
        if verify is not None:
            ds = load_data(verify)
            if ds.arrays is None or ds.arrays[1] is None:
                raise InputError(f"{verify}: --verify needs arrays x and labels y")
            x, y = ds.arrays
            report["verify"] = measure_loihi(net, snn, ann, x, y, steps, lava_samples)
        if json_out:
            out.print_json(json.dumps(report, default=float))
            return
        for table in _tables(output, q, report):
            out.print(table)
        out.print(f"wrote {output} ({len(net.layers)} layers, {report['neuron']} neurons)")

    _run(body)


@app.command()
def fit(
    network: Annotated[Path, typer.Argument(help="NetX HDF5 network written by to-lava.")],
    json_out: JsonOpt = False,
) -> None:
    """Loihi 2 fit report: per layer neurons, synapses, fan-in/out, weight bits, cores."""

    def body() -> None:
        rows = fit_report(network)
        info = summary(rows)
        if json_out:
            out.print_json(json.dumps(info))
            return
        t = Table(title=f"{network}: Loihi 2 fit", title_justify="left")
        cols = ("layer", "type", "neuron", "neurons", "synapses", "fan-in", "fan-out", "bits")
        for col in (*cols, "cores", "to fit"):
            t.add_column(col, justify="left" if col in ("type", "neuron", "to fit") else "right")
        for r in rows:
            t.add_row(
                str(r.index),
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
            f"({lim['source']})"
        )

    _run(body)
