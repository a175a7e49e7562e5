"""The ``sjconvert`` command line (Typer). Commands are thin: they call the library, and this
module (with :mod:`.exits`) alone turns errors into a one-line message and an exit code
(:data:`.exits.EXIT_CODES`, also printed by ``sjconvert --help`` and listed in the README):

====  ===========================================================================
0     success
1     ``parity``: a backend missed a ``--require`` threshold or failed to run
2     bad input: a missing, unreadable or invalid file, model, data set or option, an
      output that is an input or a folder; also command-line usage errors (Click)
3     the model cannot be captured, or a target cannot express some of its nodes
4     a conversion pass refused the graph (its message names the pass)
5     a target failed to emit its output
70    internal error: a bug in sjconvert (``--debug`` shows the traceback)
6     a sharded run (torchrun) failed: another process died, timed out or could not join
130   interrupted (Ctrl-C), at any moment including start-up
143   terminated (SIGTERM)
====  ===========================================================================

Every command checks its outputs against its inputs first (:mod:`.paths`); outputs are
written atomically and temporary files are removed on error and interrupt
(:mod:`sjconvert.ir.files`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..api import CALIB_STEPS, DEFAULT_BURST, read_ir, read_with_source
from ..api import ann2snn as convert
from ..api import simulate as run_simulation
from ..api.plots import plot_simulation
from ..errors import InputError
from ..exec import dist
from ..frontends.capture import capture as trace
from ..frontends.capture import example_input
from ..frontends.loading import load_data, load_model
from ..ir.graph import Graph
from ..ir.io import save
from .exits import DEBUG, EXIT_CODES, err
from .exits import run_body as _run
from .paths import check_outputs
from .render import graph_rows, graph_table, results_table, spike_driven_by_t, spiking_work

app = typer.Typer(
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    help="Convert trained PyTorch models to spiking networks, simulate and inspect them.",
    epilog="Exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items()) + ".",
)
# Piped output gets a wide fixed width so tables do not fold at 80 columns.
out = Console() if sys.stdout.isatty() else Console(width=160)


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an internal error.")
    ] = False,
) -> None:
    """Convert trained PyTorch models to spiking networks, simulate and inspect them."""
    DEBUG["on"] = DEBUG["on"] or debug


def shard_quiet(shard: dist.Shard) -> None:
    """In a sharded run only rank 0 prints results and progress (errors stay visible)."""
    if not shard.main:
        out.file = open(os.devnull, "w")  # noqa: SIM115  (for the life of the process)
        err.quiet = True


def written(write: Callable[[], Any]) -> None:
    """Write an output: by rank 0 alone in a sharded run (its writes are atomic)."""
    if dist.current().main:
        write()


@contextmanager
def _progress(label: str, total: int | None, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A Rich progress bar on stderr counting samples (hidden with --json or when quiet)."""
    if quiet or not err.is_terminal:  # a non-interactive Progress still prints a newline
        yield lambda n: None
        return
    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    with bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@contextmanager
def _layers(quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A Rich progress bar on stderr over the layers the calibration fits, naming the last."""
    if quiet or not err.is_terminal:
        yield lambda name, done, total: None
        return
    bar = Progress(
        TextColumn("calibrating layers"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=err,
        transient=True,
    )
    with bar:
        task = bar.add_task("", total=None)
        yield lambda name, done, total: bar.update(
            task, completed=done, total=total, description=name
        )


def parse_target(text: str) -> int | str | None:
    """``-T any`` (every T), ``-T N`` (one T) or ``-T 0`` (no layer calibration)."""
    if text.strip() == "any":
        return "any"
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"-T takes 'any' or a non-negative integer, got {text!r}") from None
    if value < 0:
        raise InputError(f"-T takes 'any' or a non-negative integer, got {text!r}")
    return value or None


def _calibrated_for(target: int | str | None) -> str:
    if target is None:
        return ""
    return ", calibrated for every T" if target == "any" else f", calibrated for T={target}"


def parse_steps(text: str) -> list[int]:
    """``-T 4,8,16`` as a list of time steps."""
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise InputError(f"-T takes comma-separated integers, got {text!r}") from None


def _size(data: Any) -> int | None:
    return None if data.arrays is None else len(data.arrays[0])


ModelArg = Annotated[
    Path,
    typer.Argument(
        help="Model: state dict (with --arch), pickled nn.Module (with --trust), ONNX file, "
        "or IR file."
    ),
]
ArchOpt = Annotated[
    str | None,
    typer.Option(
        help="Model class as package.module:Class, or a factory call with literal arguments "
        "('torchvision.models:resnet18(num_classes=10)'), for a state dict."
    ),
]
TrustOpt = Annotated[
    bool, typer.Option(help="Allow unpickling a whole nn.Module (runs code from the file).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
BatchOpt = Annotated[int, typer.Option(min=1, help="Batch size for .npz/.pt data.")]
TimeMajorOpt = Annotated[
    bool,
    typer.Option(
        "--time-major",
        help="DATA's x is time-major [T, N, ...] (SpikingJelly's multi-step layout) instead "
        "of sample-major [N, T, ...] (as event datasets store frames).",
    ),
]


@app.command()
def ann2snn(
    model: ModelArg,
    calib: Annotated[
        str, typer.Option(help="Calibration data: .npz/.pt with x, or package.module:function.")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="IR file to write.")],
    mode: Annotated[
        str,
        typer.Option(help="Normalisation: max, a percentile such as 99.9%, or a scale in (0, 1]."),
    ] = "99.9%",
    maxpool: Annotated[
        str,
        typer.Option(
            help="Max pooling: cumulative (pool the current before the neuron, over "
            "cumulative values where it is spike-driven), pre (the per-step current), error "
            "(refuse), avg (average pooling instead), spike (max over spikes)."
        ),
    ] = "cumulative",
    spiking_output: Annotated[
        bool,
        typer.Option(help="Make the last layer spike instead of integrating (membrane readout)."),
    ] = False,
    steps: Annotated[
        str,
        typer.Option(
            "-T",
            "--T",
            help="Target time steps: 'any' calibrates for every T from 1 to 64; N for T=N "
            "alone; 0 for the plain rate-norm conversion (no layer calibration).",
        ),
    ] = "any",
    neuron: Annotated[
        str, typer.Option(help="Neuron: signed (negative spikes take back over-firing) or if.")
    ] = "signed",
    burst: Annotated[
        int | None,
        typer.Option(
            min=1, help=f"Most spikes a signed neuron emits in one step [default: {DEFAULT_BURST}]."
        ),
    ] = None,
    granularity: Annotated[
        str, typer.Option(help="Normalisation per 'channel' or per 'layer'.")
    ] = "channel",
    v_init: Annotated[
        float,
        typer.Option(help="Initial membrane as a fraction of the threshold (0.5: half)."),
    ] = 0.5,
    search: Annotated[
        bool, typer.Option(help="Search each layer's threshold scale against the ANN.")
    ] = False,
    bias: Annotated[
        bool, typer.Option(help="Fit a per-step bias (an input shift at every t) per channel.")
    ] = False,
    v_search: Annotated[
        bool,
        typer.Option(help="Fit each channel's initial membrane (a correction fading with t)."),
    ] = True,
    refine_samples: Annotated[
        int, typer.Option(min=1, help="Calibration samples used for layer calibration.")
    ] = 512,
    calib_steps: Annotated[
        int, typer.Option(min=1, help="Steps simulated by the layer calibration (with -T any).")
    ] = CALIB_STEPS,
    arch: ArchOpt = None,
    trust: TrustOpt = False,
    batch_size: BatchOpt = 256,
    json_out: JsonOpt = False,
) -> None:
    """Convert a ReLU ANN into an SNN, calibrated on CALIB for every T (or for --T N)."""

    def body() -> None:
        check_outputs([output], [model, calib])
        data = load_data(calib, batch_size)
        target = parse_target(steps)
        with (
            _progress("calibrating", _size(data), json_out) as advance,
            _layers(json_out) as layer_done,
        ):
            conv = convert(
                model,
                data,
                mode=mode,
                maxpool=maxpool,
                spiking_output=spiking_output,
                progress=advance,
                arch=arch,
                trust=trust,
                T=target,
                granularity=granularity,
                v_init=v_init,
                search=search,
                bias=bias,
                v_search=v_search,
                refine_samples=refine_samples,
                neuron=neuron,
                burst=burst,
                calib_steps=calib_steps,
                layer_progress=layer_done,
            )
        written(lambda: save(output, conv.snn, source=conv.ann))
        summary = {
            "output": str(output),
            "mode": mode,
            "target_T": target,
            "neuron": neuron,
            "burst": burst,
            "granularity": granularity,
            "calibration_samples": conv.calib_samples,
            "seconds": round(conv.seconds, 3),
            "lambda": conv.scales,
            "dropped": list(conv.snn.meta.get("dropped", [])),
        }
        if json_out:
            out.print_json(json.dumps(summary))
            return
        out.print(graph_table(conv.snn, title=f"{model.name} → {output}"))
        for note in summary["dropped"]:
            out.print(f"note: output {note} is not part of the SNN")
        out.print(
            f"converted in {conv.seconds:.2f} s on {conv.calib_samples} calibration "
            f"samples (mode {mode}, {granularity}-wise"
            + _calibrated_for(target)
            + f"); wrote {output}"
        )

    _run(body)


@app.command()
def simulate(
    ir_file: Annotated[Path, typer.Argument(help="IR file written by ann2snn (or capture).")],
    data: Annotated[
        str,
        typer.Option(help="Evaluation data: .npz/.pt with x and y, or package.module:function."),
    ],
    steps: Annotated[
        str | None,
        typer.Option(
            "-T",
            "--T",
            help="Comma-separated time steps, e.g. 4,8,16,32 (default: 4,8,16,32 for a "
            "direct input, the data's length for sequences).",
        ),
    ] = None,
    batch_size: BatchOpt = 256,
    time_major: TimeMajorOpt = False,
    backend: Annotated[
        str,
        typer.Option(
            help="Simulator: torch (reference), numpy (simulation graph on the CPU) or cupy "
            "(the graph on a CUDA GPU with fused neuron kernels)."
        ),
    ] = "torch",
    plot: Annotated[
        Path | None,
        typer.Option(
            help="Write a PNG: accuracy, spikes and energy against T, firing rate per layer "
            "(needs the plot extra: matplotlib)."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Simulate the SNN for max(T) steps and print accuracy at every T beside the ANN's."""

    def body() -> None:
        ts = None if steps is None else parse_steps(steps)
        snn, ann = read_with_source(ir_file)
        ds = load_data(data, batch_size, time_major)
        with _progress("simulating", _size(ds), json_out) as advance:
            res = run_simulation(snn, ds, ts, ann=ann, progress=advance, backend=backend)
        if plot is not None:
            plot_simulation(res, plot, snn, title=f"{ir_file.name} on {data}")
        if json_out:
            out.print_json(json.dumps(res.to_dict()))
        else:
            out.print(results_table(res, title=f"{ir_file.name} on {data}"))

    _run(body)


@app.command()
def inspect(
    ir_file: Annotated[Path, typer.Argument(help="IR file to show.")],
    source: Annotated[
        bool, typer.Option(help="Show the source ANN stored beside the SNN.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Print the graph as a table: node, op, inputs, shape, parameters, threshold."""

    def body() -> None:
        g = read_ir(ir_file, "source" if source else "graph")
        if json_out:
            work = spiking_work(g)
            shares = None if work is None else spike_driven_by_t(work)
            info = {"outputs": list(g.outputs), "nodes": graph_rows(g), "spike_driven": shares}
            out.print_json(json.dumps(info))
        else:
            out.print(graph_table(g, title=str(ir_file)))

    _run(body)


@app.command()
def capture(
    model: ModelArg,
    data: Annotated[
        str,
        typer.Option(
            help="Example input: .npz/.pt with x, or package.module:function "
            "([N, T, ...] sequences, or [T, N, ...] with --time-major, for multi-step "
            "SpikingJelly models)."
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="IR file to write.")],
    arch: ArchOpt = None,
    trust: TrustOpt = False,
    time_major: TimeMajorOpt = False,
) -> None:
    """Trace a model (ANN or SpikingJelly SNN) into an IR file without converting it."""

    def body() -> None:
        check_outputs([output], [model, data])
        net = load_model(model, arch=arch, trust=trust)
        if isinstance(net, Graph):
            g = net
        else:
            x = load_data(data, batch_size=1 << 30, time_major=time_major).first().x
            g = trace(net, example_input(net, x, len(x)))
        written(lambda: save(output, g))
        out.print(graph_table(g, title=f"{model.name} → {output}"))

    _run(body)
