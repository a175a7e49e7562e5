"""``sjconvert to-onnx`` and ``sjconvert to-lynxi``: export an SNN for ONNX runtimes or Lynxi
chips, optionally checked against the reference simulator in ONNX Runtime (``--verify``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ...api import open_snn
from ...errors import InputError
from ...exec.data_layout import is_sequence
from ...frontends.loading import load_data
from ...ir.io import atomic_write, save
from ...targets.lynxi import compile_lynxi, require_sdk
from ...targets.lynxi import to_lynxi as build_module
from ...targets.onnx import require_onnx
from ..app import (
    ArchOpt,
    BatchOpt,
    JsonOpt,
    ModelArg,
    TimeMajorOpt,
    TrustOpt,
    _progress,
    _run,
    _size,
    app,
    out,
)
from ..paths import check_outputs

LYNXI_FILES = ("model.sjir", "lynxi.onnx", "lynxi.json")
CalibOpt = Annotated[
    str | None,
    typer.Option(help="Calibration data, when MODEL is an ANN to convert first (.npz/.pt)."),
]
SequenceOpt = Annotated[
    bool,
    typer.Option(
        "--sequence",
        help="Take a [T·N, ...] step-major input instead of the direct [N, ...] one (the "
        "default for a model whose input is a sequence, e.g. a multi-step SpikingJelly SNN).",
    ),
]
VerifyOpt = Annotated[
    str | None,
    typer.Option(
        help="Data (.npz/.pt with x, optional y): run the export in ONNX Runtime beside the "
        "reference simulator and print the parity table."
    ),
]


def parity_table(rows: dict[str, Any], T: int, title: str) -> Table:
    """One row per executor: prediction / spike-count agreement, max rate error, accuracy."""
    t = Table(title=f"{title} (T={T}), against the reference simulator", title_justify="left")
    for col in (
        "executor",
        "samples",
        "prediction agreement",
        "spike-count agreement",
        "max rate error",
        "accuracy (ref → this)",
    ):
        t.add_column(col, justify="left" if col == "executor" else "right")
    for name, p in rows.items():
        spikes = (
            "n/a" if p.spike_count_agreement is None else f"{100 * p.spike_count_agreement:.3f} %"
        )
        acc = (
            ""
            if p.accuracy is None
            else f"{100 * p.accuracy_reference:.2f} % → {100 * p.accuracy:.2f} %"
        )
        t.add_row(
            name,
            str(p.samples),
            f"{100 * p.prediction_agreement:.2f} %",
            spikes,
            f"{p.max_rate_error:.3g}",
            acc,
        )
    return t


def _snn(
    model: Path, calib: str | None, arch: str | None, trust: bool, quiet: bool, time_major: bool
) -> Any:
    data = None if calib is None else load_data(calib, time_major=time_major)
    with _progress("converting", None if data is None else _size(data), quiet) as advance:
        return open_snn(model, data, arch=arch, trust=trust, progress=advance)


def _verify(
    graph: Any,
    models: dict[str, Any],
    data: str,
    T: int,
    batch: int,
    quiet: bool,
    time_major: bool,
) -> dict[str, Any]:
    from ...targets.onnx.parity import verify_onnx  # needs onnxruntime (optional)

    ds = load_data(data, batch, time_major)
    rows = {}
    for name, model in models.items():
        with _progress(f"verifying {name}", _size(ds), quiet) as advance:
            rows[name] = verify_onnx(graph, model, ds, T, advance)
    return rows


def _report(
    rows: dict[str, Any], summary: dict[str, Any], T: int, title: str, json_out: bool
) -> None:
    if json_out:
        summary["verify"] = {k: p.to_dict() for k, p in rows.items()}
        out.print_json(json.dumps(summary))
        return
    for key, value in summary.items():
        out.print(f"{key}: {value}", highlight=False)
    if rows:
        out.print(parity_table(rows, T, title))


def _sequence(snn: Any, sequence: bool) -> bool:
    """Whether the export takes sequences: ``--sequence``, or the graph's input is one."""
    return sequence or is_sequence(snn)


@app.command("to-onnx")
def to_onnx(
    model: ModelArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="ONNX file to write.")],
    form: Annotated[
        str,
        typer.Option(
            help="unrolled: the T-step model (rates out); step: the stateful single-step model."
        ),
    ] = "unrolled",
    steps: Annotated[
        int,
        typer.Option("-T", "--T", min=1, help="Time steps: unrolled, and run by --verify."),
    ] = 8,
    dtype: Annotated[str, typer.Option(help="float32 or float16 (unrolled only).")] = "float32",
    sequence: SequenceOpt = False,
    verify: VerifyOpt = None,
    calib: CalibOpt = None,
    arch: ArchOpt = None,
    trust: TrustOpt = False,
    batch_size: BatchOpt = 256,
    time_major: TimeMajorOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Export an SNN to ONNX (opset 17): [bold]--form unrolled -T N[/] or [bold]--form step[/].
    Both carry per-layer spike outputs; the step model's initial state is in its metadata."""

    def body() -> None:
        check_outputs([output], [model, calib, verify])
        require_onnx()
        from ...targets.onnx.export import export_step, export_unrolled, save_onnx

        if form not in ("unrolled", "step"):
            raise InputError(f"--form is unrolled or step, got {form!r}")
        step = form == "step"
        if step and (dtype != "float32" or sequence):
            raise InputError(
                "--form step is float32 only and takes one step's input per call (no --sequence)"
            )
        snn, _ = _snn(model, calib, arch, trust, json_out, time_major)
        seq = False if step else _sequence(snn, sequence)
        T = steps
        onnx_model = (
            export_step(snn, counts=True)
            if step
            else export_unrolled(snn, T, dtype=dtype, sequence=seq, counts=True)
        )
        rows = {}
        if verify is not None:
            label = f"ONNX Runtime {'step' if step else 'unrolled'} {dtype}"
            rows = _verify(snn, {label: onnx_model}, verify, T, batch_size, json_out, time_major)
        save_onnx(onnx_model, output)
        summary = {
            "output": str(output),
            "form": "step" if step else f"unrolled T={T}",
            "dtype": dtype,
            "inputs": [i.name for i in onnx_model.graph.input],
            "outputs": [o.name for o in onnx_model.graph.output],
        }
        _report(rows, summary, T, output.name, json_out)

    _run(body)


@app.command("to-lynxi")
def to_lynxi(
    model: ModelArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder to write.")],
    T: Annotated[
        int, typer.Option("-T", "--T", min=1, help="Time steps unrolled in the module.")
    ] = 4,
    dtype: Annotated[str, typer.Option(help="float16 (native) or float32.")] = "float16",
    sequence: SequenceOpt = False,
    compile_: Annotated[
        bool, typer.Option("--compile", help="Compile with lyngor (Lynxi's SDK) too.")
    ] = False,
    verify: VerifyOpt = None,
    calib: CalibOpt = None,
    arch: ArchOpt = None,
    trust: TrustOpt = False,
    batch_size: BatchOpt = 256,
    time_major: TimeMajorOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Build the Lynxi module (rank ≤ 4, no in-place op, [N, ...] in, rates out), check it,
    and write model.sjir, lynxi.onnx and lynxi.json to a folder ([bold]--compile[/]: also
    the lyngor build in compiled/)."""

    def body() -> None:
        files = [output / name for name in LYNXI_FILES]
        check_outputs(files, [model, calib, verify], folder=output)
        require_onnx(purpose="to-lynxi (it writes and checks lynxi.onnx)")
        from ...targets.onnx.export import export_unrolled, save_onnx

        if compile_:
            require_sdk()  # before any work: one line saying what is missing
        snn, ann = _snn(model, calib, arch, trust, json_out, time_major)
        seq = _sequence(snn, sequence)
        module = build_module(snn, T, dtype, seq)
        lynxi_onnx = export_unrolled(snn, T, dtype=dtype, sequence=seq)
        rows = {}
        if verify is not None:
            dtypes = ["float32"] + (["float16"] if dtype == "float16" else [])
            checked = {
                f"ONNX Runtime {d}": export_unrolled(snn, T, dtype=d, sequence=seq, counts=True)
                for d in dtypes
            }
            rows = _verify(snn, checked, verify, T, batch_size, json_out, time_major)
        output.mkdir(parents=True, exist_ok=True)
        shape = list(snn.shapes[snn.inputs[0]])
        lead = "T·N" if seq else "N"
        info = {
            "T": T,
            "dtype": dtype,
            "input": {"name": snn.inputs[0], "shape": [lead, *shape]},
            "outputs": list(snn.outputs),
            "rank_max": 4,
            "inplace_ops": 0,
        }
        save(files[0], snn, source=ann)
        save_onnx(lynxi_onnx, files[1])
        atomic_write(files[2], lambda tmp: tmp.write_text(json.dumps(info, indent=2) + "\n"))
        summary: dict[str, Any] = {
            "output": str(output),
            "T": T,
            "dtype": dtype,
            "checked": "rank <= 4 and no in-place op (torch.fx and ONNX)",
        }
        if compile_:
            rows_in = batch_size * T if seq else batch_size
            net = compile_lynxi(
                module, output / "compiled", (rows_in, *shape), dtype, snn.inputs[0]
            )
            summary["compiled"] = str(net)
        _report(rows, summary, T, f"{output.name}/lynxi.onnx", json_out)

    _run(body)
