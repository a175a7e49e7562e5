"""``sjconvert parity``: one network on every backend against the torch reference, as one
table or one JSON document; a CI gate with ``--require``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ...api.parity import parity
from ...api.plots import plot_parity
from ...api.report import BACKENDS
from ..app import (
    ArchOpt,
    BatchOpt,
    DataKeys,
    JsonOpt,
    ModelArg,
    TrustOpt,
    XKeyOpt,
    YKeyOpt,
    _progress,
    _run,
    app,
    check_plot,
    err,
    out,
    parse_steps,
    written,
)
from ..exits import CHECK_FAILED, check_failed
from ..render import parity_table


@app.command("parity")
def parity_command(
    model: ModelArg,
    data: Annotated[
        str, typer.Option(help="Data: .npz/.pt with x (and y), or package.module:function.")
    ],
    backends: Annotated[
        str,
        typer.Option(help=f"Comma-separated backends among {', '.join(BACKENDS)}."),
    ] = ",".join(BACKENDS),
    steps: Annotated[
        str, typer.Option("-T", "--T", help="Time steps, one or a comma list, e.g. 4,8.")
    ] = "8",
    require: Annotated[
        str | None,
        typer.Option(
            help="Thresholds, e.g. spikes=1.0,predictions=0.999,rate_error=1e-5 "
            f"(BACKEND.NAME for one backend); any miss exits {CHECK_FAILED}."
        ),
    ] = None,
    lava_samples: Annotated[int, typer.Option(min=0, help="Samples run in Lava.")] = 2,
    lynxi_dtype: Annotated[
        str, typer.Option(help="dtype of the Lynxi module and its ONNX: float32 or float16.")
    ] = "float32",
    plot: Annotated[
        Path | None,
        typer.Option(
            help="Write a plot of the report (.png, .pdf or .svg; needs the plot extra: "
            "matplotlib)."
        ),
    ] = None,
    arch: ArchOpt = None,
    trust: TrustOpt = False,
    batch_size: BatchOpt = 256,
    x_key: XKeyOpt = None,
    y_key: YKeyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run MODEL on every backend and compare each with the torch reference: spike-count
    agreement (per layer), prediction agreement, accuracy, largest rate error, run time.
    Backends whose package or device is missing are listed as skipped, with the reason."""

    def body() -> bool:
        check_plot(plot, [model, data])
        ds = DataKeys(x_key, y_key, trust).open(data, batch_size)
        names = [b.strip() for b in backends.split(",") if b.strip()]
        total = len(names) * len(parse_steps(steps))
        with _progress("parity", total, json_out) as advance:
            report = parity(
                model,
                ds,
                names,
                parse_steps(steps),
                require,
                lava_samples=lava_samples,
                lynxi_dtype=lynxi_dtype,
                arch=arch,
                trust=trust,
                progress=lambda label: advance(1),
            )
        if plot is not None:
            written(lambda: plot_parity(report, plot, title=f"{model.name} on {data}"))
        if json_out:
            out.print_json(json.dumps(report.to_dict() | ({"plot": str(plot)} if plot else {})))
        else:
            out.print(parity_table(report, title=f"{model.name} on {data}"))
            if plot is not None:
                out.print(f"wrote the plot to {plot}", highlight=False)
            for line in report.failures:
                err.print(f"[bold red]parity:[/] {line}", highlight=False, soft_wrap=True)
        return report.passed

    if not _run(body):
        raise check_failed()
