"""The Lava process graph, sjconvert's side: build one from PyTorch-layout integer layers,
read and write its ``.lpg.npz`` artifact (format: :mod:`.procgraph_loader`).

Every layout conversion happens here, once, through :mod:`.layout`: the stored arguments
are exactly what the Lava constructors take, so the standalone loader, Lava and our
fixed-point simulator all read the same numbers.

* ``Dense`` weight mantissas ``m ∈ [−128, 127]`` are written as ``weights = 2m``,
  ``weight_exp = −1``, ``sign_mode = MIXED`` (Lava drops the low bit of mixed-sign weights
  and would misclip an all-negative matrix in its inhibitory mode); a Dense reading a
  ``[C, H, W]`` (or ``[C, L]``) population reads it through a reshape to ``(n,)`` with its
  columns permuted to Lava's flattening (:func:`~.layout.flat_order`).
* ``Conv``: flipped ``(C_out, kx, ky, C_in/g)`` kernels, ``weight_exp = 0``; Conv1d runs over
  ``(L, 1, C)``.
* Graded messages (the input, sigma-delta) need ``num_message_bits = 24`` on the synapse.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ....errors import InputError
from . import procgraph_loader as loader
from .layout import (
    flat_order,
    from_lava,
    lava_groups,
    lava_kernel,
    lava_pair,
    lava_shape,
    to_lava,
)

MIXED = 1
GRADED_BITS = 24
OUTPUT_STATE = {"LIF": "v", "SigmaDelta": "sigma", "Sigma": "sigma", "GradedIF": "c"}
INPUT_LIMIT = 1 << 23


@dataclass
class ProcGraph:
    """A process graph: the JSON document and its arrays (see :mod:`.procgraph_loader`)."""

    graph: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.graph:
            self.graph = {
                "format": loader.FORMAT,
                "version": loader.VERSION,
                "inputs": {},
                "processes": {},
                "connections": [],
                "outputs": {},
                "meta": {},
            }

    # -- reading ------------------------------------------------------------------------
    @property
    def processes(self) -> dict[str, dict[str, Any]]:
        return self.graph["processes"]

    @property
    def input(self) -> dict[str, Any]:
        (spec,) = self.graph["inputs"].values()
        return spec

    @property
    def output(self) -> dict[str, Any]:
        return self.graph["outputs"]["y"]

    def populations(self) -> list[str]:
        return [n for n, p in self.processes.items() if p["class"] in loader.NEURONS]

    def process_table(self) -> dict[str, dict[str, Any]]:
        """Per population its process class and whether it is Lava's or ours
        (:data:`~.procgraph_loader.OURS`), with the synapse processes into it."""
        _, into = self.wiring()
        return {
            name: {
                "process": self.processes[name]["class"],
                "ours": self.processes[name]["class"] in loader.OURS,
                "synapses": sorted({self.processes[s]["class"] for s in into[name]}),
                "ours_synapses": any(self.processes[s]["class"] in loader.OURS for s in into[name]),
            }
            for name in self.populations()
        }

    def torch_shape(self, name: str) -> tuple[int, ...]:
        spec = self.graph["inputs"].get(name) or self.processes[name]
        return tuple(spec["torch_shape"])

    def array(self, value: Any) -> Any:
        """An argument with its ``"@key"`` array reference resolved."""
        if isinstance(value, str) and value.startswith("@"):
            return self.arrays[value[1:]]
        return value

    def wiring(self) -> tuple[dict[str, str], dict[str, list[str]]]:
        """``(source of each synapse, synapses into each neuron)``."""
        source: dict[str, str] = {}
        into: dict[str, list[str]] = {n: [] for n in self.populations()}
        for conn in self.graph["connections"]:
            src, dst = conn[0], conn[1].split(".")[0]
            name = src[6:] if src.startswith("input:") else src.split(".")[0]
            if dst in into:
                into[dst].append(name)
            else:
                source[dst] = name
        return source, into

    def offset(self) -> np.ndarray:
        """What is added to the output state (Lava layout): a sigma readout's offset, and
        its bias once per input step."""
        out = np.zeros(1, np.int64)
        for key, times in (("offset", 1), ("bias", self.input_steps or 0)):
            ref = self.output.get(key)
            if ref is not None:
                out = out + times * np.asarray(self.array(ref), np.int64)
        return out

    @property
    def input_steps(self) -> int | None:
        """Steps that carry input (the run lasts this plus the latency); None where the
        graph does not say (every step carries input)."""
        steps = self.graph["meta"].get("input_steps")
        return None if steps is None else int(steps)

    @property
    def latency(self) -> int:
        """Steps from an input to the output (0: read at the last input step)."""
        return int(self.graph["meta"].get("latency", 0))

    def predict_trace(self, trace: Any) -> np.ndarray:
        """Class per sample from a run (our simulator's or Lava's ``Trace``). A spiking
        CUBA output population votes with its spike counts over the run (as the float
        SNN's rate readout does), ties broken by the final state; any other output by its
        final state (a sigma's sum, a graded population's net spike count; a CUBA readout
        that never spikes ranks by its voltage too)."""
        state = from_lava(
            np.asarray(trace.state[-1], np.int64) + self.offset(), self.torch_shape_out()
        )
        score = state.reshape(len(state), -1)
        spiking = self.output["state"] == "v"  # a CUBA LIF population; a sigma sends sums
        spikes = trace.spikes.get(self.output["process"]) if spiking else None
        if spikes is None:
            return score.argmax(-1)
        counts = from_lava(np.abs(np.asarray(spikes, np.int64)).sum(0), self.torch_shape_out())
        rank = score.argsort(-1).argsort(-1)  # the state orders classes of equal counts
        return (counts.reshape(len(counts), -1) * score.shape[-1] + rank).argmax(-1)

    def torch_shape_out(self) -> tuple[int, ...]:
        return self.torch_shape(self.output["process"])

    # -- input -------------------------------------------------------------------------
    def encode(self, x: np.ndarray) -> np.ndarray:
        """Float input ``[..., *input shape]`` → graded integer messages (24-bit signed)."""
        q = np.rint(np.asarray(x, np.float64) * float(self.input["scale"]))
        return np.clip(q, 1 - INPUT_LIMIT, INPUT_LIMIT - 1).astype(np.int64)

    def schedule(
        self, xq: np.ndarray, steps: int | None = None, sequence: bool = False
    ) -> np.ndarray:
        """Integer input ``[N, ...]`` (``[T', N, ...]`` with ``sequence``) as the
        ``[steps, N, *Lava shape]`` messages the source sends: every input step, or once;
        zeros for the latency after them. ``steps`` defaults to the whole run (input
        steps plus latency)."""
        if steps is None:
            steps = int(self.graph["meta"]["steps"])
        carry = steps if self.input_steps is None else min(steps, self.input_steps)
        xq = np.asarray(xq, np.int64)
        out = np.zeros((steps, *xq.shape[sequence:]), np.int64)
        if sequence:
            out[: min(carry, len(xq))] = xq[:carry]
        elif self.input["schedule"] == "once":
            out[0] = xq
        else:
            out[:carry] = xq
        return to_lava(out, lead=2)

    # -- building -----------------------------------------------------------------------
    def add_array(self, key: str, value: np.ndarray) -> str:
        """Store ``value`` under ``key``; returns its reference ``"@key"``."""
        self.arrays[key] = np.ascontiguousarray(value)
        return "@" + key

    def _field(self, key: str, value: Any, shape: tuple[int, ...]) -> Any:
        """A scalar stays a scalar; per-channel or PyTorch-shaped integers become a full
        Lava-shaped int32 array."""
        v = np.asarray(value, np.int64)
        if v.ndim == 0:
            return int(v)
        if v.ndim == 1 and len(shape) > 1:
            v = v.reshape(-1, *([1] * (len(shape) - 1)))
        full = np.broadcast_to(v, shape)
        if np.all(full == full.flat[0]):
            return int(full.flat[0])
        return self.add_array(key, to_lava(full, lead=0).astype(np.int32))

    def add_input(self, name: str, shape: tuple[int, ...], scale: float, once: bool) -> None:
        self.graph["inputs"][name] = {
            "shape": list(lava_shape(shape)),
            "torch_shape": list(shape),
            "scale": float(scale),
            "schedule": "once" if once else "every_step",
        }

    def add_neuron(self, name: str, cls: str, shape: tuple[int, ...], **args: Any) -> None:
        """A population; array-like ``args`` (bias, initial state) are PyTorch-shaped or
        per channel."""
        fields = {k: self._field(f"{name}.{k}", v, shape) for k, v in args.items()}
        self.processes[name] = {
            "class": cls,
            "args": {"shape": list(lava_shape(shape)), **fields},
            "torch_shape": list(shape),
        }

    def _source(self, src: str) -> str:
        return f"input:{src}" if src in self.graph["inputs"] else f"{src}.s_out"

    def add_dense(
        self,
        name: str,
        src: str,
        dst: str,
        weights: np.ndarray,
        graded: bool,
        weight_exp: int | None = None,
        delay: int = 0,
    ) -> None:
        """``weights``: ``[n_out, n_in]`` in PyTorch's flattening of ``src``: 8-bit
        mantissas written as ``2m`` (``weight_exp=None``), or weights Lava takes as they
        are with the given exponent (NetX's encoding). ``delay`` > 0: Lava's
        ``DelayDense``."""
        w = np.asarray(weights, np.int64)
        shape = self.torch_shape(src)
        opt = {}
        if len(shape) > 1:
            w = w[:, flat_order(shape)]
            opt = {"reshape": [int(np.prod(shape))]}
        args: dict[str, Any] = {"num_weight_bits": 8}
        if weight_exp is None:
            args.update(weights=self.add_array(f"{name}.weights", (2 * w).astype(np.int32)))
            args.update(weight_exp=-1, sign_mode=MIXED)
        else:
            args.update(weights=self.add_array(f"{name}.weights", w.astype(np.int32)))
            args.update(weight_exp=int(weight_exp))
        args["num_message_bits"] = GRADED_BITS if graded else 0
        if delay:
            args["delays"] = int(delay)
        self.processes[name] = {"class": "DelayDense" if delay else "Dense", "args": args}
        self._connect(name, src, dst, opt)

    def add_conv(
        self, name: str, src: str, dst: str, conv: Any, graded: bool, delay: int = 0
    ) -> None:
        """``conv``: integer kernel ``[C_out, C_in/g, *k]`` and its ``stride``,
        ``padding``, ``dilation`` (PyTorch order) and ``groups``; ``delay`` > 0: our
        ``DelayConv``."""
        weight, groups = lava_groups(conv.weight, int(conv.groups))
        args = {
            "weight": self.add_array(f"{name}.weight", lava_kernel(weight).astype(np.int32)),
            "input_shape": list(lava_shape(self.torch_shape(src))),
            "padding": list(lava_pair(conv.padding, 0)),
            "stride": list(lava_pair(conv.stride, 1)),
            "dilation": list(lava_pair(conv.dilation, 1)),
            "groups": groups,
            "weight_exp": 0,
            "num_weight_bits": 8,
            "num_message_bits": GRADED_BITS if graded else 0,
        }
        if delay:
            args["delay"] = int(delay)
        self.processes[name] = {"class": "DelayConv" if delay else "Conv", "args": args}
        self._connect(name, src, dst, {})

    def _connect(self, name: str, src: str, dst: str, opt: dict[str, Any]) -> None:
        first = [self._source(src), f"{name}.s_in"]
        self.graph["connections"].append([*first, opt] if opt else first)
        self.graph["connections"].append([f"{name}.a_out", f"{dst}.a_in"])

    def set_output(
        self, name: str, offset: np.ndarray | None = None, bias: np.ndarray | None = None
    ) -> None:
        """The output: ``name``'s state Var after the last step, plus ``offset`` once and
        ``bias`` per input step (a readout's bias that its Lava process does not add)."""
        shape = self.torch_shape(name)
        refs: dict[str, Any] = {}
        for key, value in (("offset", offset), ("bias", bias)):
            refs[key] = None
            if value is not None and np.any(value):
                full = np.broadcast_to(np.asarray(value, np.int64).reshape(shape), shape)
                refs[key] = self.add_array(f"{name}.{key}", to_lava(full, lead=0))
        var = OUTPUT_STATE[self.processes[name]["class"]]
        self.graph["outputs"]["y"] = {"process": name, "state": var, **refs}

    # -- files --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        loader.save(str(path), self.graph, self.arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ProcGraph:
        """Read an artifact; bad files raise :class:`~sjconvert.errors.InputError`."""
        if not os.path.isfile(path):
            raise InputError(f"{path}: no such file")
        try:
            graph, arrays = loader.load(str(path))
        except ValueError as exc:
            raise InputError(str(exc)) from None
        return cls(graph, arrays)
