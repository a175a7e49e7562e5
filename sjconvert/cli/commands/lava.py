"""``sjconvert to-lava``: write a Loihi 2 network for Lava — NetX HDF5 for a chain, or a
self-contained Lava process graph (``.lpg.npz`` plus its loader) for any graph — optionally
verified against Lava's own simulator; ``sjconvert fit``: its Loihi 2 fit report. Both are
thin: the work is :mod:`sjconvert.api.lava` and :mod:`sjconvert.targets.lava.chip_fit`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ...api.lava import build_lava, require_lava
from ...api.lava_verify import load_verify_data, verify_lava
from ...targets.lava.chip_fit import fit_report, latency, summary
from ..app import ArchOpt, JsonOpt, ModelArg, TimeMajorOpt, TrustOpt, _progress, _run, app, out
from ..paths import check_outputs


def _pct(v: Any) -> str:
    return "-" if v is None else f"{v:.2%}"


def _quant_table(output: Path, facts: dict[str, Any], procs: dict[str, Any]) -> Table:
    t = Table(title=f"{output}: quantisation per population", title_justify="left")
    cols = ("population", "neuron", "process", "synapses", "θ", "scale", "weight", "bias")
    for col in (*cols, "θ err", "decay"):
        t.add_column(col, justify="left" if col in cols[:3] else "right")
    for name, f in facts.items():
        e, p = f["error"], procs.get(name, {})
        t.add_row(
            name,
            f["neuron"],
            f"{p.get('process', '-')} ({'ours' if p.get('ours') else 'Lava'})",
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
        title=f"accuracy at T={verify['steps']} input steps on {verify['samples']} samples "
        "(simulator: zero latency; Loihi: read after the latency)",
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
        f"({lava['samples_per_minute']:.1f} samples/min, {lava['workers']} Lava "
        f"run{'s' if lava['workers'] > 1 else ''} at once{twin})",
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
    steps: Annotated[
        int,
        typer.Option(
            "-T",
            "--T",
            min=1,
            help="Input steps; the run lasts T plus the network's latency (reported).",
        ),
    ] = 32,
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
            help="auto: graded (our GradedIF, exact) for converted ANNs, CUBA for hard-reset "
            "SNNs; graded; cuba: rate-coded CUBA LIF; sdnn: sigma-delta ReLU (both from a "
            "plain conversion)."
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
            "(our simulator checks the twin equals the network)."
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
        data = None if verify is None else load_verify_data(verify, time_major)
        if data is not None and data.lava_count(lava_samples) > 0:
            require_lava()  # before any work; the error names --lava-samples 0
        build = build_lava(
            model, calib, steps, reset=reset, neuron=neuron, fmt=fmt, alpha=alpha,
            arch=arch, trust=trust, time_major=time_major,
        )  # fmt: skip
        verified = None
        if data is not None:
            with _progress("Lava", data.lava_count(lava_samples), json_out) as advance:
                verified = verify_lava(build, data, lava_samples, advance, lava_unroll)
        build.write(output)  # only once everything asked for has run
        report = build.report()
        if verified is not None:
            report["verify"] = verified
        if json_out:
            out.print_json(json.dumps(report, default=float))
            return
        exp = build.export
        out.print(_quant_table(output, exp.net.facts, report["processes"]))
        for table_ in _verify_tables(report["verify"]) if verify is not None else []:
            out.print(table_)
        tuned = f", threshold factor α = {build.alpha:g}" if build.alpha_calibration else ""
        for note in build.notes:
            out.print(f"note: {note}")
        ours = sum(p["ours"] for p in report["processes"].values())
        out.print(
            f"wrote {', '.join(report['output'])} ({exp.format}, {len(exp.net.neurons)} "
            f"populations ({ours} of our processes), {len(exp.net.synapses)} synapses, "
            f"{exp.net.model} neurons{tuned}); Loihi clock: {report['input_steps']} input "
            f"steps + latency {report['latency']} = {report['run_steps']} steps"
        )

    _run(body)


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
        info = summary(rows, latency(network))
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
                f"{r.neuron} ({'ours' if r.ours else 'Lava'})",
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
        timing = "" if info["latency"] is None else f"; latency {info['latency']} steps"
        out.print(
            f"{len(rows) - len(info['ours'])} populations on Lava's processes, "
            f"{len(info['ours'])} on ours (Process + fixed_pt model, procgraph_processes.py)"
            f"{timing}"
        )
        out.print(
            f"{info['cores']} neuro-cores on {info['chips']} chip(s); limits per core: "
            f"{lim['neurons_per_core']} neurons, {lim['synapses_per_core_8bit']} 8-bit synapses "
            f"({lim['source']}); spike-driven: 100 % of operations at every T (to-lava "
            "refuses non-spiking ops)"
        )

    _run(body)
