"""Load and run a Lava process-graph artifact (``*.lpg.npz``) with numpy and lava-nc alone.

This file is standalone: it imports nothing from sjconvert, and Lava only when a graph is
built. Copy it next to an artifact (``sjconvert to-lava --format procgraph`` does) and::

    import procgraph_loader as lpg
    graph, arrays = lpg.load("net.lpg.npz")
    spikes, states = lpg.run(graph, arrays, x)   # x: [steps, *input shape] integers

or ``python procgraph_loader.py net.lpg.npz [x.npz]``. **Format** (version 1): one ``.npz``
file; the entry ``__graph__`` holds a JSON document, every other entry is an array that the
document references as ``"@<key>"``::

    {"format": "lava-procgraph", "version": 1,
     "inputs": {"x": {"shape": [8, 8, 1], "torch_shape": [1, 8, 8], "scale": 127.0,
                      "schedule": "every_step"}},
     "processes": {"c0": {"class": "Conv", "args": {"weight": "@c0.weight", ...}},
                   "n0": {"class": "LIF", "args": {"shape": [8, 8, 16], "vth": 80, ...},
                          "torch_shape": [16, 8, 8]}, ...},
     "connections": [["input:x", "c0.s_in"], ["c0.a_out", "n0.a_in"],
                     ["n2.s_out", "d3.s_in", {"reshape": [1024]}], ...],
     "outputs": {"y": {"process": "n4", "state": "v", "offset": null}},
     "meta": {"steps": 16, ...}}

* ``args`` are the keyword arguments of the Lava constructor, already in Lava's layout
  (shapes ``(x, y, f)``, flipped ``Conv`` kernels, ``Dense`` columns in the order of the
  reshaped source), so this loader converts nothing. Enums are integers.
* Classes: ``Dense``, ``Conv`` (``lava.proc``), ``LIF``, ``SigmaDelta``, ``Sigma``.
* Several connections into one ``a_in`` are summed by Lava: residual adds, skips,
  concatenation (one synapse per concatenated part).
* ``inputs.x.schedule``: ``every_step`` (rate coding: send ``round(x·scale)`` each step) or
  ``once`` (sigma-delta: at the first step, zeros after). ``outputs.y``: the readout's
  state Var after the last step, plus ``offset`` (an array reference or null), is the output.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tokenize import TokenError
from typing import Any
from zipfile import BadZipFile

import numpy as np

FORMAT, VERSION, READS = "lava-procgraph", 2, (1, 2)
SYNAPSES = ("Dense", "Conv", "DelayDense", "DelayConv")
NEURONS = ("LIF", "SigmaDelta", "Sigma", "GradedIF")
OURS = ("GradedIF", "DelayConv")  # procgraph_processes.py: Process + fixed_pt model of ours
STATE = {
    "LIF": ("u", "v"),
    "SigmaDelta": ("sigma", "act", "residue"),
    "Sigma": ("sigma",),
    "GradedIF": ("v", "c", "t"),
    "Dense": ("a_buff",),
    "DelayDense": ("a_buff",),
    "Conv": ("a_buf",),
    "DelayConv": ("a_buf", "a_hist"),
}
PORTS = {"s_in", "a_in", "s_out", "a_out"}


def load(path: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(graph, arrays)`` of an artifact; ``ValueError`` (one line) for anything else."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        graph = json.loads(str(arrays.pop("__graph__")))
    except (OSError, ValueError, KeyError, EOFError, SyntaxError, BadZipFile, TokenError) as exc:
        raise ValueError(f"{path}: not a {FORMAT} file ({exc})") from None
    if not isinstance(graph, dict) or graph.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file")
    if graph.get("version") not in READS:
        raise ValueError(
            f"{path}: {FORMAT} version {graph.get('version')}, this loader reads {READS}"
        )
    problems = _problems(graph, arrays)
    if problems:
        raise ValueError(f"{path}: {'; '.join(problems)}")
    return graph, arrays


def _problems(graph: dict[str, Any], arrays: dict[str, np.ndarray]) -> list[str]:
    out = []
    procs = graph.get("processes", {})
    for name, spec in procs.items():
        if spec.get("class") not in SYNAPSES + NEURONS:
            out.append(f"process {name}: unknown class {spec.get('class')!r}")
        for v in spec.get("args", {}).values():
            if isinstance(v, str) and v.startswith("@") and v[1:] not in arrays:
                out.append(f"process {name}: missing array {v}")
    for conn in graph.get("connections", []):
        for end in conn[:2]:
            proc, _, port = str(end).partition(".")
            known = proc in procs and port in PORTS
            if not (known or (proc.startswith("input:") and proc[6:] in graph["inputs"])):
                out.append(f"connection {conn[:2]}: unknown end {end!r}")
    return out


def save(path: str, graph: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write ``graph`` (JSON-able) and its arrays as one compressed ``.npz``."""
    with open(path, "wb") as f:  # a file object: numpy adds no ".npz" to the name
        np.savez_compressed(f, __graph__=np.array(json.dumps(graph)), **arrays)


def _ours() -> Any:
    """Our processes: ``procgraph_processes.py`` beside this file (in sjconvert, or next to
    an artifact), loaded by its path whatever ``sys.path`` holds."""
    name = "procgraph_processes"
    if __package__:
        return importlib.import_module(f"{__package__}.{name}")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        if spec is None or spec.loader is None:
            raise ImportError(f"{name}.py must be beside {__file__}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # Lava's process models are looked up by module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _lava() -> dict[str, Any]:
    from lava.proc.conv.process import Conv
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.lif.process import LIF
    from lava.proc.sdn.process import ActivationMode, Sigma, SigmaDelta
    from lava.utils.weightutils import SignMode

    classes = {"Dense": Dense, "Conv": Conv, "LIF": LIF, "SigmaDelta": SigmaDelta, "Sigma": Sigma}
    classes["DelayDense"] = DelayDense
    ours = _ours().lava_classes()
    classes.update({k: proc for k, (proc, _) in ours.items()})
    models = {proc: model for proc, model in ours.values()}
    return {
        "classes": classes,
        "models": models,
        "enums": {"sign_mode": SignMode, "act_mode": ActivationMode},
    }


def models(procs: dict[str, Any]) -> dict[Any, type]:
    """The process models of our processes among ``procs`` (Lava's run configuration takes
    them as ``exception_proc_model_map``; Lava finds the models of its own)."""
    table = _lava()["models"]
    return {p: table[type(p)] for p in procs.values() if type(p) in table}


def _arg(key: str, value: Any, arrays: dict[str, np.ndarray], enums: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("@"):
        value = arrays[value[1:]]
    if key in enums:
        value = enums[key](value)
    if key in ("shape", "input_shape"):
        value = tuple(value)
    return value


def build(graph: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """Create every process and connection; returns ``(processes, feeds)``: ``feeds`` maps
    each graph input to the ``(in-port, reshape or None)`` pairs it drives."""
    lava = _lava()
    procs = {}
    for name, spec in graph["processes"].items():
        args = {k: _arg(k, v, arrays, lava["enums"]) for k, v in spec["args"].items()}
        cls = lava["classes"][spec["class"]]
        if spec["class"] == "Sigma":  # its constructor takes no name
            procs[name] = cls(**args)
            procs[name].name = name
        else:
            procs[name] = cls(name=name, **args)
    feeds: dict[str, list] = {k: [] for k in graph["inputs"]}
    for conn in graph["connections"]:
        src, dst, opt = conn[0], conn[1], (conn[2] if len(conn) > 2 else {})
        proc, port = dst.split(".")
        dst_port = getattr(procs[proc], port)
        if src.startswith("input:"):
            feeds[src[6:]].append((dst_port, opt.get("reshape")))
            continue
        proc, port = src.split(".")
        src_port = getattr(procs[proc], port)
        if "reshape" in opt:
            src_port = src_port.reshape(tuple(opt["reshape"]))
        src_port.connect(dst_port)
    return procs, feeds


def add_resets(procs, period: int) -> list:
    """One ``lava.proc.io.reset.Reset`` per state Var of each process in ``procs``, writing
    its initial value after the last step of every ``period`` steps: samples run back to
    back in one long run, each from the state a fresh network starts in. Initial states
    must be one value per process."""
    from lava.proc.io.reset import Reset

    resets = []
    for proc in procs:
        for var in STATE[type(proc).__name__]:
            init = np.unique(np.asarray(getattr(proc, var).init))
            if init.size > 1:
                raise ValueError(f"{proc.name}: per-neuron initial {var} cannot be reset")
            r = Reset(
                reset_value=int(init[0]) if init.size else 0, interval=period, offset=period - 1
            )
            r.connect_var(getattr(proc, var))
            resets.append(r)
    return resets


def attach(graph: dict, procs: dict, feeds: dict, x: np.ndarray, record=None, states=()):
    """A source for ``x`` (``[steps, *input shape]``, one graph input), sinks on the
    ``s_out`` of every neuron in ``record`` (default: all), a monitor per ``(process, var)``
    in ``states``. Returns ``(source, sinks, monitors)``."""
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.monitor.process import Monitor

    (name,) = graph["inputs"]
    src = Source(data=np.moveaxis(np.asarray(x, np.int32), 0, -1))
    for port, reshape in feeds[name]:
        (src.s_out.reshape(tuple(reshape)) if reshape else src.s_out).connect(port)
    if record is None:
        record = [n for n, p in graph["processes"].items() if p["class"] in NEURONS]
    sinks = {}
    for n in record:
        sinks[n] = Sink(shape=procs[n].s_out.shape, buffer=len(x))
        procs[n].s_out.connect(sinks[n].a_in)
    monitors = {}
    for n, var in states:
        monitors[(n, var)] = Monitor()  # one probe per monitor: several fail to compile
        monitors[(n, var)].probe(getattr(procs[n], var), len(x))
    return src, sinks, monitors


def find_processes(proc: Any, seen_procs: list | None = None) -> list:
    """Every process connected to ``proc`` through any port, ``proc`` included: Lava 0.10's
    ``compiler_graphs.find_processes`` (``seen_procs``: processes already found) in linear
    time. Lava's recursive walk keeps what it has seen in a list and extends it with each
    callee's whole result, about cubic in the number of processes: 268 s of DenseNet-121's
    compile (2603 processes), 0.06 s here, the same set (in the order reached)."""
    seen = {id(p): p for p in seen_procs or ()}
    seen[id(proc)] = proc
    todo = deque([proc])
    while todo:
        current = todo.popleft()
        ports = current.in_ports.members + current.var_ports.members
        for port in ports + current.out_ports.members + current.ref_ports.members:
            for other in port.get_src_ports() + port.get_dst_ports():
                if id(other.process) not in seen:
                    seen[id(other.process)] = other.process
                    todo.append(other.process)
    return list(seen.values())


@contextmanager
def linear_process_discovery() -> Iterator[None]:
    """Within the block, Lava's compiler finds a network's processes with
    :func:`find_processes`."""
    from lava.magma.compiler import compiler_graphs

    saved, compiler_graphs.find_processes = compiler_graphs.find_processes, find_processes
    try:
        yield
    finally:
        compiler_graphs.find_processes = saved


def run(graph: dict, arrays: dict, x: np.ndarray, record=None, states=(), period=None):
    """Build, run ``len(x)`` steps in ``Loihi2SimCfg(select_tag="fixed_pt")`` and return
    ``({process: [steps, *shape]} messages, {(process, var): [steps, *shape]} states)``;
    ``period``: reset every state after each ``period`` steps (samples back to back; end
    each sample with one idle step when monitoring a state, as a ``Reset`` and a ``Monitor``
    act in the same phase)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    procs, feeds = build(graph, arrays)
    if period:
        add_resets(procs.values(), period)
    src, sinks, monitors = attach(graph, procs, feeds, x, record, states)
    cfg = Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map=models(procs))
    try:
        with linear_process_discovery():
            src.run(condition=RunSteps(num_steps=len(x)), run_cfg=cfg)
        spikes = {n: np.moveaxis(s.data.get(), -1, 0).astype(np.int64) for n, s in sinks.items()}
        st = {}
        for (n, var), m in monitors.items():
            data = np.asarray(m.get_data()[n][var])
            st[(n, var)] = data.reshape(len(x), *procs[n].s_out.shape).astype(np.int64)
    finally:
        src.stop()
    return spikes, st


def main(argv: list[str]) -> None:
    """``python procgraph_loader.py NET.lpg.npz [X.npz]``: run ``x`` (``[steps, *input
    shape]`` integers; default: zeros for ``meta.steps``) and print each population's
    message count and the output."""
    graph, arrays = load(argv[0])
    (spec,) = graph["inputs"].values()
    steps = int(graph.get("meta", {}).get("steps", 8))
    x = np.load(argv[1])["x"] if len(argv) > 1 else np.zeros((steps, *spec["shape"]), np.int32)
    out = graph["outputs"]["y"]
    spikes, st = run(graph, arrays, x, states=[(out["process"], out["state"])])
    for name, s in spikes.items():
        print(f"{name}: {list(s.shape[1:])}, {int(np.count_nonzero(s))} messages")
    y = st[(out["process"], out["state"])][-1].reshape(-1)
    if out.get("offset"):
        y = y + arrays[out["offset"][1:]].reshape(-1)
    print("output:", y.tolist())


if __name__ == "__main__":
    main(sys.argv[1:])
