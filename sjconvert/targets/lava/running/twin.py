"""A twin of a process graph that Lava simulates faster (``to-lava --lava-unroll``): every
``Conv`` process replaced by a ``Dense`` holding the same integer weights."""

from __future__ import annotations

import copy

import numpy as np

from ..fixed_point import synapse_models as synapses
from ..formats.procgraph import MIXED, ProcGraph

UNROLL_LIMIT = 1 << 24  # matrix entries (int32: 64 MB)


def unrolled(pg: ProcGraph, limit: int = UNROLL_LIMIT) -> ProcGraph:
    """A twin of ``pg`` with every ``Conv`` (``DelayConv``) process replaced by a ``Dense``
    (Lava's ``DelayDense``, the same delay) holding the same integer weights (each
    input–output pair meets at most one kernel tap, so the matrix is 8-bit) — the same sums
    as long as they stay within the convolution's 24 bits. Lava simulates a Dense far faster
    than its scipy convolution, called once per channel pair and step (2.5–4× on the digits
    CNN, ~50× on ResNet-18's 512-channel layers); convs whose matrix would hold more than
    ``limit`` entries stay convs."""
    twin = ProcGraph(copy.deepcopy(pg.graph), dict(pg.arrays))
    for name, spec in pg.processes.items():
        args = {k: pg.array(v) for k, v in spec["args"].items()}
        shape = tuple(args.get("input_shape", ()))
        n = int(np.prod(shape))
        if spec["class"] not in ("Conv", "DelayConv") or n * _out_size(pg, name) > limit:
            continue
        conv = synapses.Conv({**args, "num_message_bits": 24}, args["weight"])
        matrix = conv(np.eye(n, dtype=np.int64).reshape(n, *shape)).reshape(n, -1).T
        del twin.arrays[f"{name}.weight"]
        bits = int(args["num_message_bits"])
        dense = {
            "weights": twin.add_array(f"{name}.weights", (2 * matrix).astype(np.int32)),
            "weight_exp": -1, "sign_mode": MIXED, "num_weight_bits": 8,
            "num_message_bits": bits,
        }  # fmt: skip
        if conv.delay:
            dense["delays"] = conv.delay
        twin.processes[name] = {"class": "DelayDense" if conv.delay else "Dense", "args": dense}
        for conn in twin.graph["connections"]:
            if conn[1] == f"{name}.s_in":
                conn[2:] = [{"reshape": [n]}]
            elif conn[0] == f"{name}.a_out":
                dst = twin.processes[conn[1].split(".")[0]]["args"]["shape"]
                conn[2:] = [{"reshape": list(dst)}]
    return twin


def _out_size(pg: ProcGraph, name: str) -> int:
    """Neurons the synapse ``name`` drives (its destination's size)."""
    dst = next(c[1] for c in pg.graph["connections"] if c[0] == f"{name}.a_out")
    return int(np.prod(pg.processes[dst.split(".")[0]]["args"]["shape"]))
