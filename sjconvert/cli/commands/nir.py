"""``sjconvert to-nir`` and ``sjconvert from-nir``: the NIR exchange format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ...api import PLAIN, measure_lossy, open_snn
from ...errors import InputError
from ...ir.io import save as save_ir
from ...targets.nir import DT, read, save
from ...targets.nir import lossy as lossy_maps
from ...targets.nir import to_nir as export
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
    _run,
    app,
    err,
    out,
    parse_steps,
)
from ..exits import CHECK_FAILED, check_failed
from ..paths import check_outputs
from ..render import graph_table

MAX_LOSS = 0.02  # the accuracy (or agreement) a --lossy mapping may cost at any measured T
DtOpt = Annotated[
    float | None,
    typer.Option(help="Seconds per simulation step in the NIR file (default 1e-4)."),
]


@app.command("to-nir")
def to_nir(
    model: ModelArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="NIR file to write.")],
    calib: Annotated[
        str | None,
        typer.Option(help="Calibration data, when MODEL is an ANN to convert first."),
    ] = None,
    lossy: Annotated[
        list[str] | None,
        typer.Option(
            help="Allow a lossy mapping (repeatable): soft-reset-as-hard, v-init-as-reset, "
            "maxpool-as-avgpool. Needs --data: the accuracy change is measured."
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(help="Evaluation data for measuring what --lossy changes."),
    ] = None,
    steps: Annotated[
        str, typer.Option("-T", "--T", help="Time steps for the --lossy measurement.")
    ] = "32",
    max_loss: Annotated[
        float,
        typer.Option(
            help="Largest accuracy drop --lossy may cause at any measured T (0.02: two "
            f"points); a larger one writes nothing and exits {CHECK_FAILED}."
        ),
    ] = MAX_LOSS,
    accept_loss: Annotated[
        bool, typer.Option("--accept-loss", help="Write the file whatever --lossy costs.")
    ] = False,
    dt: DtOpt = None,
    arch: ArchOpt = None,
    trust: TrustOpt = False,
    batch_size: BatchOpt = 256,
    time_major: TimeMajorOpt = False,
    x_key: XKeyOpt = None,
    y_key: YKeyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Export a converted SNN to a NIR graph (refusing, by node, what NIR cannot hold)."""

    def body() -> bool:
        ts = parse_steps(steps)
        if not 0.0 <= max_loss <= 1.0:
            raise InputError(f"--max-loss is an accuracy drop in [0, 1], got {max_loss}")
        check_outputs([output], [model, calib, data])
        keys = DataKeys(x_key, y_key, trust, time_major)
        calib_data = None if calib is None else keys.open(calib, batch_size)
        # NIR's neurons spike 0/1 from rest and its graphs hold no cumulative pooling: an
        # ANN takes the plain conversion (IF neurons from 0, max pooling of the current)
        snn, ann = open_snn(model, calib_data, arch=arch, trust=trust, **PLAIN)
        chosen = lossy_maps.parse(lossy or [])
        nir_graph = export(snn, dt or DT, chosen)  # refuses before anything is measured
        mapped, changed = lossy_maps.apply(snn, chosen)
        report = None
        if changed:
            if data is None:
                raise InputError("--lossy changes the network: give --data to measure it")
            report = measure_lossy(snn, mapped, keys.open(data, batch_size), ts, ann)
        if report is not None and not accept_loss:
            t, drop = report.worst()
            if drop > max_loss:
                before, after = report.before[t], report.after[t]
                err.print(
                    f"[bold red]error:[/] --lossy drops the {report.metric} by {drop:.4f} at "
                    f"T={t} ({before:.4f} -> {after:.4f}), more than --max-loss {max_loss:g}; "
                    f"{output} is not written (--accept-loss writes it anyway)",
                    highlight=False,
                    soft_wrap=True,
                )
                return False
        save(output, nir_graph)
        summary = {
            "output": str(output),
            "dt": dt or DT,
            "lossy": dict(changed),
            "accuracy_change": None if report is None else report.to_dict(),
        }
        if json_out:
            out.print_json(json.dumps(summary))
            return True
        out.print(graph_table(snn, title=f"{model.name} → {output}"))
        for key, names in changed.items():
            out.print(f"lossy {key}: {lossy_maps.LOSSY[key].doc} ({len(names)} node(s))")
        for line in [] if report is None else report.lines():
            out.print(f"accuracy change {line}")
        out.print(f"wrote {output}")
        return True

    if not _run(body):
        raise check_failed()


@app.command("from-nir")
def from_nir(
    nir_file: Annotated[Path, typer.Argument(help="NIR file (.nir) to import.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="IR file to write.")],
    dt: DtOpt = None,
) -> None:
    """Import a NIR graph into an IR file the simulator and every target take."""

    def body() -> None:
        check_outputs([output], [nir_file])
        graph = read(nir_file, dt)
        save_ir(output, graph)
        out.print(graph_table(graph, title=f"{nir_file.name} → {output}"))
        out.print(f"wrote {output}")

    _run(body)
