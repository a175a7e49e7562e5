"""The Lava processes of ours a process graph may use, standalone (numpy and lava-nc only,
like :mod:`procgraph_loader`, which copies it next to an artifact).

Each one's fixed-point dynamics is one numpy function here, batched over any leading axes;
the Lava process model (``Loihi2SimCfg(select_tag="fixed_pt")``) and sjconvert's
fixed-point simulator both call it, so they agree bit for bit by construction.

* ``GradedIF`` — integrate-and-fire with soft reset, graded (burst) spikes and optionally
  signed ones, per step (``t`` counts steps since the network started)::

      v ← v + a + (v_init if t = 0)
      if t ≥ start:                                       (before: integrate only)
          v ← v + bias
          s = min(⌊v / vth⌋, B)                 if v ≥ vth
            = −min(⌈−v / vth⌉, c, B)            if v < 0 and negative = 1 (memory)
            = −min(⌈−v / vth⌉, B)               if v < 0 and negative = 2 (relay)
            = 0                                 otherwise
          v ← v − vth·s;  c ← c + s
      v ← clip(v, ±(2²³ − 1));  send s (a graded spike, 24 bits)

  SpikingJelly's soft-reset IF is ``B = 1, negative = 0``; sjconvert's ``SignedIF`` is
  ``negative = 1`` with its burst ``B``; ``vth = 1, negative = 2, B = 2²³ − 1`` relays its
  input (plus bias) exactly. ``vth``, ``bias`` and ``v_init`` are per neuron; ``start``
  holds a population back until its pipeline stage is reached (Loihi 2 runs its neurons
  from the first step; a synapse hop costs one step).
* ``DelayConv`` — Lava's ``Conv`` whose sums arrive ``delay`` steps later (Loihi 2's
  synaptic delay, 0…63; Lava's own ``DelayDense`` covers dense synapses).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

STATE_LIMIT = (1 << 23) - 1
GRADED_STATE = ("v", "c", "t")
MAX_DELAY = 63


def graded_if_step(
    state: dict[str, np.ndarray], a: np.ndarray, p: dict[str, Any]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One step of ``GradedIF`` (see the module docstring): ``state`` holds ``v``, ``c``
    (arrays) and ``t`` (steps so far, shape ``(1,)``); ``p`` the parameters ``vth``,
    ``bias``, ``v_init`` (broadcastable), ``max_spikes``, ``negative`` and ``start``."""
    v = np.asarray(state["v"], np.int64) + np.asarray(a, np.int64)
    c, t = np.asarray(state["c"], np.int64), int(np.asarray(state["t"]).reshape(-1)[0])
    if t == 0:
        v = v + np.asarray(p["v_init"], np.int64)
    s = np.zeros_like(v)
    if t >= int(p["start"]):
        vth, burst = np.asarray(p["vth"], np.int64), int(p["max_spikes"])
        v = v + np.asarray(p["bias"], np.int64)
        up = np.minimum(v // vth, burst)
        down = np.minimum(-(v // vth), burst)  # ⌈−v / vth⌉ for v < 0
        if int(p["negative"]) == 1:
            down = np.minimum(down, c)
        negative = -down if int(p["negative"]) else 0
        s = np.where(v >= vth, up, np.where(v < 0, negative, 0))
        v = v - vth * s
        c = c + s
    v = np.clip(v, -STATE_LIMIT, STATE_LIMIT)
    t_next = np.full(np.shape(state["t"]), min(t + 1, 1 << 30), np.int64)
    return s, {"v": v, "c": c, "t": t_next}


def delayed(history: np.ndarray, value: np.ndarray) -> np.ndarray:
    """A synaptic delay line: ``history`` holds the ``delay + 1`` sums still to send,
    oldest first (``history[0]`` is sent this step, before the new sum is computed);
    returns it with the oldest dropped and ``value`` appended."""
    return np.concatenate([history[1:], np.asarray(value)[None].astype(history.dtype)])


@cache
def lava_classes() -> dict[str, tuple[type, type]]:
    """``{class name: (Lava Process, its fixed_pt ProcessModel)}`` for our processes; Lava
    is imported here, on first use."""
    from lava.magma.core.decorator import implements, requires, tag
    from lava.magma.core.model.py.model import PyLoihiProcessModel
    from lava.magma.core.model.py.ports import PyInPort, PyOutPort
    from lava.magma.core.model.py.type import LavaPyType
    from lava.magma.core.process.ports.ports import InPort, OutPort
    from lava.magma.core.process.process import AbstractProcess
    from lava.magma.core.process.variable import Var
    from lava.magma.core.resources import CPU
    from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
    from lava.proc.conv import utils
    from lava.proc.conv.models import AbstractPyConvModel
    from lava.proc.conv.process import Conv

    class GradedIF(AbstractProcess):
        """sjconvert's graded integrate-and-fire neurons (``procgraph_processes``)."""

        def __init__(
            self, *, shape: tuple[int, ...], vth: Any = 1, bias: Any = 0, v_init: Any = 0,
            max_spikes: int = 1, negative: int = 0, start: int = 0, name: str | None = None,
        ) -> None:  # fmt: skip
            super().__init__(
                shape=shape, max_spikes=int(max_spikes), negative=int(negative),
                start=int(start), name=name,
            )  # fmt: skip
            self.a_in = InPort(shape=shape)
            self.s_out = OutPort(shape=shape)
            for key, value in (("vth", vth), ("bias", bias), ("v_init", v_init)):
                setattr(self, key, Var(shape=shape, init=np.broadcast_to(value, shape).copy()))
            self.v = Var(shape=shape, init=0)
            self.c = Var(shape=shape, init=0)
            self.t = Var(shape=(1,), init=0)

    @implements(proc=GradedIF, protocol=LoihiProtocol)
    @requires(CPU)
    @tag("fixed_pt")
    class PyGradedIFModel(PyLoihiProcessModel):
        a_in = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
        s_out = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
        vth = LavaPyType(np.ndarray, np.int32, precision=24)
        bias = LavaPyType(np.ndarray, np.int32, precision=24)
        v_init = LavaPyType(np.ndarray, np.int32, precision=24)
        v = LavaPyType(np.ndarray, np.int32, precision=24)
        c = LavaPyType(np.ndarray, np.int32, precision=24)
        t = LavaPyType(np.ndarray, np.int32, precision=32)

        def run_spk(self) -> None:
            p = {"vth": self.vth, "bias": self.bias, "v_init": self.v_init}
            p.update({k: self.proc_params[k] for k in ("max_spikes", "negative", "start")})
            state = {"v": self.v, "c": self.c, "t": self.t}
            s, new = graded_if_step(state, self.a_in.recv(), p)
            for key, value in new.items():
                getattr(self, key)[:] = value
            self.s_out.send(s.astype(np.int32))

    class DelayConv(Conv):
        """Lava's ``Conv`` with its sums delayed ``delay`` more steps."""

        def __init__(self, *, delay: int = 0, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.a_hist = Var(shape=(int(delay) + 1, *self.output_shape), init=0)

    @implements(proc=DelayConv, protocol=LoihiProtocol)
    @requires(CPU)
    @tag("fixed_pt")
    class PyDelayConvModel(AbstractPyConvModel):  # PyConvModelFixed, delayed
        s_in = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
        a_out = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
        a_buf = LavaPyType(np.ndarray, np.int32, precision=24)
        weight = LavaPyType(np.ndarray, np.int32, precision=8)
        a_hist = LavaPyType(np.ndarray, np.int32, precision=24)

        def run_spk(self) -> None:
            self.a_out.send(self.a_hist[0])
            bits = self.num_message_bits.item()
            s_in = self.s_in.recv() if bits > 0 else self.s_in.recv().astype(bool)
            a = utils.conv(
                s_in, self.weight, self.kernel_size, self.stride, self.padding, self.dilation,
                self.groups[0],
            )  # fmt: skip
            self.a_hist = delayed(self.a_hist, utils.signed_clamp(a, bits=24))

    return {"GradedIF": (GradedIF, PyGradedIFModel), "DelayConv": (DelayConv, PyDelayConvModel)}
