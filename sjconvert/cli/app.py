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
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import __version__
from ..api import ConversionOptions, read_with_source
from ..api import ann2snn as convert
from ..api import simulate as run_simulation
from ..api.plots import plot_format, plot_simulation
from ..errors import InputError
from ..exec import dist
from ..exec.memory import parse_size
from ..frontends.capture import capture as trace
from ..frontends.capture import example_input
from ..frontends.loading import DataSource, load_data, load_model
from ..ir.graph import Graph
from ..ir.io import save
from .exits import DEBUG, EXIT_CODES, OneLineErrors, err
from .exits import run_body as _run
from .options import with_conversion_options
from .paths import check_outputs
from .render import graph_rows, graph_table, results_table, spike_driven_by_t, spiking_work

app = typer.Typer(
    cls=OneLineErrors,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    help="Convert trained PyTorch models to spiking networks, simulate and inspect them.",
    epilog="Exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items()) + ".",
)
# Piped output gets a wide fixed width so tables do not fold at 80 columns.
out = Console() if sys.stdout.isatty() else Console(width=160)


def _version(show: bool) -> None:
    if show:
        out.print(f"sjconvert {__version__}", highlight=False)
        raise typer.Exit(0)


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an internal error.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Convert trained PyTorch models to spiking networks, simulate and inspect them."""
    DEBUG["on"] = DEBUG["on"] or debug


def check_plot(plot: Path | None, inputs: list[Any]) -> None:
    """A ``--plot`` file is an output like any other, checked before any work: an image
    type matplotlib writes, not an input, in an existing folder."""
    if plot is not None:
        plot_format(plot)
        check_outputs([plot], inputs)


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


def _calibrated_for(target: int | str | None) -> str:
    if target is None:
        return ""
    return ", calibrated for every T" if target == "any" else f", calibrated for T={target}"


def parse_steps(text: str) -> list[int]:
    """``-T 4,8,16`` as a list of time steps, each a positive integer."""
    parts = [p.strip() for p in text.split(",")]
    try:
        steps = [int(p) for p in parts]
    except ValueError:
        steps = []
    if not steps or min(steps) < 1:
        raise InputError(f"-T takes positive integers separated by commas, got {text!r}")
    return steps


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
    bool,
    typer.Option(
        help="Allow unpickling a whole nn.Module or a pickled data set (a TensorDataset, "
        "(x, y) in a .pkl): unpickling runs code from the file."
    ),
]
XKeyOpt = Annotated[
    str | None,
    typer.Option(
        help="The inputs' array in data files.",
        show_default="x, else the only array, else the per-sample array beside the labels",
    ),
]
YKeyOpt = Annotated[
    str | None,
    typer.Option(help="The labels' array in data files.", show_default="y, else the 1-D array"),
]


@dataclass(frozen=True)
class DataKeys:
    """How a command reads its data files: array names, trust, time-major layout."""

    x_key: str | None = None
    y_key: str | None = None
    trust: bool = False
    time_major: bool = False

    def open(self, spec: str, batch_size: int = 256) -> DataSource:
        """The data set ``spec`` read as the command's options say."""
        return load_data(
            spec,
            batch_size,
            self.time_major,
            x_key=self.x_key,
            y_key=self.y_key,
            trust=self.trust,
        )


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
@with_conversion_options
def ann2snn(
    model: ModelArg,
    calib: Annotated[
        str, typer.Option(help="Calibration data: .npz/.pt with x, or package.module:function.")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="IR file to write.")],
    options: ConversionOptions,
    arch: ArchOpt = None,
    trust: TrustOpt = False,
    batch_size: BatchOpt = 256,
    x_key: XKeyOpt = None,
    y_key: YKeyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Convert an ANN (CNN or transformer) into an SNN, calibrated on CALIB for every T."""

    def body() -> None:
        check_outputs([output], [model, calib])
        data = DataKeys(x_key, y_key, trust).open(calib, batch_size)
        with (
            _progress("calibrating", _size(data), json_out) as advance,
            _layers(json_out) as layer_done,
        ):
            conv = convert(
                model,
                data,
                options,
                progress=advance,
                arch=arch,
                trust=trust,
                layer_progress=layer_done,
            )
        written(lambda: save(output, conv.snn, source=conv.ann))
        summary = {
            "output": str(output),
            "options": conv.options.to_dict(),
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
            f"samples (mode {options.mode}, {options.granularity}-wise"
            + _calibrated_for(options.T)
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
    x_key: XKeyOpt = None,
    y_key: YKeyOpt = None,
    trust: TrustOpt = False,
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
            help="Write a plot (.png, .pdf or .svg): accuracy, spikes and energy against T, "
            "firing rate per layer (needs the plot extra: matplotlib)."
        ),
    ] = None,
    max_memory: Annotated[
        str | None,
        typer.Option(
            help="Refuse, before it starts, a run estimated to need more memory than this "
            "(8G, 512M).",
            show_default="the memory available",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Simulate the SNN for max(T) steps and print accuracy at every T beside the ANN's."""

    def body() -> None:
        ts = None if steps is None else parse_steps(steps)
        limit = None if max_memory is None else _memory_limit(max_memory)
        check_plot(plot, [ir_file, data])
        snn, ann = read_with_source(ir_file)
        ds = DataKeys(x_key, y_key, trust, time_major).open(data, batch_size)
        with _progress("simulating", _size(ds), json_out) as advance:
            res = run_simulation(
                snn, ds, ts, ann=ann, progress=advance, backend=backend, max_memory=limit
            )
        if plot is not None:
            written(lambda: plot_simulation(res, plot, snn, title=f"{ir_file.name} on {data}"))
        if json_out:
            out.print_json(json.dumps(res.to_dict() | ({"plot": str(plot)} if plot else {})))
            return
        out.print(results_table(res, title=f"{ir_file.name} on {data}"))
        if plot is not None:
            out.print(f"wrote the plot to {plot}", highlight=False)

    _run(body)


def _memory_limit(value: str) -> int:
    try:
        return parse_size(value)
    except InputError as e:
        raise InputError(f"--max-memory: {e}") from None


@app.command()
def inspect(
    ir_file: Annotated[Path, typer.Argument(help="IR file to show.")],
    source: Annotated[
        bool, typer.Option(help="Show the source ANN stored beside the SNN.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Print the graph as a table: node, op, inputs, shape, parameters, threshold (the whole
    file is validated first, as every command does)."""

    def body() -> None:
        graph, ann = read_with_source(ir_file)  # the whole file, validated as every command does
        if source and ann is None:
            raise InputError(f"{ir_file}: holds no source ANN (--source)")
        g = ann if source else graph
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
    x_key: XKeyOpt = None,
    y_key: YKeyOpt = None,
) -> None:
    """Trace a model (ANN or SpikingJelly SNN) into an IR file without converting it."""

    def body() -> None:
        check_outputs([output], [model, data])
        net = load_model(model, arch=arch, trust=trust)
        if isinstance(net, Graph):
            g = net
        else:
            x = DataKeys(x_key, y_key, trust, time_major).open(data, 1 << 30).first().x
            g = trace(net, example_input(net, x, len(x)))
        written(lambda: save(output, g))
        out.print(graph_table(g, title=f"{model.name} → {output}"))

    _run(body)
