"""``sjconvert to-onnx`` and ``sjconvert to-lynxi``: export an SNN for ONNX runtimes or Lynxi
chips, optionally checked against the reference simulator in ONNX Runtime (``--verify``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ...api import open_snn
from ...api.exports import check_onnx_form, export_onnx, verify_exports
from ...api.lynxi import LYNXI_FILES, build_lynxi, lynxi_checks, write_lynxi
from ...targets.lynxi import require_sdk, torch_dtype
from ...targets.onnx import require_onnx
from ..app import (
    ArchOpt,
    BatchOpt,
    DataKeys,
    JsonOpt,
    ModelArg,
    TimeMajorOpt,
    TrustOpt,
    XKeyOpt,
    YKeyOpt,
    _progress,
    _run,
    _size,
    app,
    out,
)
from ..paths import check_outputs
from ..render import parity_table

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


def _snn(model: Path, calib: str | None, arch: str | None, keys: DataKeys, quiet: bool) -> Any:
    data = None if calib is None else keys.open(calib)
    with _progress("converting", None if data is None else _size(data), quiet) as advance:
        return open_snn(model, data, arch=arch, trust=keys.trust, progress=advance)


def _verify(
    snn: Any, models: dict[str, Any], spec: str, T: int, batch: int, quiet: bool, keys: DataKeys
) -> Any:
    """The parity report of the exported ``models`` on the ``--verify`` data."""
    ds = keys.open(spec, batch)
    total = None if _size(ds) is None else _size(ds) * len(models)  # type: ignore[operator]
    with _progress("verifying", total, quiet) as advance:
        return verify_exports(snn, models, ds, T, advance)


def _report(report: Any, summary: dict[str, Any], title: str, json_out: bool) -> None:
    if json_out:
        if report is not None:
            summary["verify"] = {r.backend: r.to_dict() for r in report.rows}
        out.print_json(json.dumps(summary))
        return
    for key, value in summary.items():
        out.print(f"{key}: {value}", highlight=False)
    if report is not None:
        out.print(parity_table(report, title=title))


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
    x_key: XKeyOpt = None,
    y_key: YKeyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Export an SNN to ONNX (opset 17): [bold]--form unrolled -T N[/] or [bold]--form step[/].
    Both carry per-layer spike outputs; the step model's initial state is in its metadata."""

    def body() -> None:
        check_outputs([output], [model, calib, verify])
        check_onnx_form(form, dtype, sequence)
        from ...targets.onnx.export import save_onnx  # needs onnx (optional)

        keys = DataKeys(x_key, y_key, trust, time_major)
        snn, _ = _snn(model, calib, arch, keys, json_out)
        onnx_model = export_onnx(snn, steps, form, dtype, sequence)
        report = None
        if verify is not None:
            label = f"ONNX Runtime {form} {dtype}"
            report = _verify(snn, {label: onnx_model}, verify, steps, batch_size, json_out, keys)
        save_onnx(onnx_model, output)
        summary = {
            "output": str(output),
            "form": "step" if form == "step" else f"unrolled T={steps}",
            "dtype": dtype,
            "inputs": [i.name for i in onnx_model.graph.input],
            "outputs": [o.name for o in onnx_model.graph.output],
        }
        _report(report, summary, f"{output.name} against the reference simulator", json_out)

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
    x_key: XKeyOpt = None,
    y_key: YKeyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Build the Lynxi module (rank ≤ 4, no in-place op, [N, ...] in, rates out), check it,
    and write model.sjir, lynxi.onnx and lynxi.json to a folder ([bold]--compile[/]: also
    the lyngor build in compiled/)."""

    def body() -> None:
        files = [output / name for name in LYNXI_FILES]
        check_outputs(files, [model, calib, verify], folder=output)
        require_onnx(purpose="to-lynxi (it writes and checks lynxi.onnx)")
        torch_dtype(dtype)
        if compile_:
            require_sdk()  # before any work: one line saying what is missing
        keys = DataKeys(x_key, y_key, trust, time_major)
        snn, ann = _snn(model, calib, arch, keys, json_out)
        built = build_lynxi(snn, T, dtype, sequence)
        report = None
        if verify is not None:
            checks = lynxi_checks(snn, T, dtype, sequence)
            report = _verify(snn, checks, verify, T, batch_size, json_out, keys)
        done = write_lynxi(built, output, ann, compile_, batch_size)
        summary: dict[str, Any] = {
            "output": str(output),
            "T": T,
            "dtype": dtype,
            "checked": "rank <= 4 and no in-place op (torch.fx and ONNX)",
        }
        if done.compiled is not None:
            summary["compiled"] = str(done.compiled)
        title = f"{output.name}/lynxi.onnx against the reference simulator"
        _report(report, summary, title, json_out)

    _run(body)
