"""Candidates for one neuron layer's steps on the CPU, measured side by side (issue 23):

* ``op by op``: the step program op by op over cache-sized chunks (``compile_inplace``, the
  path without a C compiler);
* ``fused C``: the program rendered as C and compiled once (:mod:`sjconvert.exec.fused`),
  what the simulators use;
* ``TorchInductor``: ``torch.compile`` of the program unrolled over the block's steps
  (``run_pure``), the other code generator the issue names;
* ``torch per step``: one whole-tensor torch op per program op and step (SpikingJelly's
  torch backend does this), for scale.

Each is checked bit for bit against the fused kernel. Times are the best of ``--repeats``
runs of a block of T steps, alternated, in CPU seconds with one torch thread; the Inductor
row also gives its compile time. ``python -m benchmarks.neuron_step --json FILE``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sjconvert.exec.arrays import Arrays, Stateful
from sjconvert.ir import nodes as ir
from sjconvert.ops import run_pure, step_program

SHAPE = (8, 96, 16, 16)  # a MobileNetV2-sized layer at 32×32, a chunk of 8 samples


def _layers() -> dict[str, ir.Node]:
    th = np.linspace(0.5, 1.5, SHAPE[1]).astype(np.float32)
    return {"SignedIF, bursts of 4": ir.SignedIF(th, th / 2, max_spikes=4), "IF": ir.IF(th, None)}


def _start(value: Any) -> torch.Tensor:
    """A register's start value spread over one sample's features ``[1, F]``."""
    arr = np.broadcast_to(np.asarray(value, np.float32).reshape(-1, 1, 1), SHAPE[1:])
    return torch.tensor(np.ascontiguousarray(arr).reshape(1, -1))


def _inductor(node: ir.Node, T: int) -> tuple[Callable[[torch.Tensor], Any], float]:
    prog = step_program(node)
    feats = int(np.prod(SHAPE[1:]))
    chans = {k: torch.tensor(np.repeat(v, feats // len(v))) for k, v in prog.channels.items()}
    consts = {**prog.scalars, **chans}
    init = {r: _start(prog.init[r]).expand(SHAPE[0], feats) for r in prog.state}

    def block(x: torch.Tensor) -> torch.Tensor:
        regs = dict(init)
        out = []
        for t in range(T):
            regs["x"] = x[t]
            run_pure(prog, regs, consts)
            out.append(regs[prog.output])
        return torch.stack(out)

    compiled = torch.compile(block, dynamic=False)
    x = torch.zeros(T, SHAPE[0], feats)
    start = time.process_time()
    compiled(x)
    return compiled, time.process_time() - start


def candidates(node: ir.Node, x: torch.Tensor, T: int) -> dict[str, Callable[[], Any]]:
    fused = Stateful(node, Arrays(torch, torch.float32))
    plain = Stateful(node, Arrays(torch, torch.float32))
    plain.fused = None
    out = {
        "fused C": lambda: fused(x, T, False, None)[0],
        "op by op": lambda: plain(x, T, False, None)[0],
    }
    flat = x.reshape(T, SHAPE[0], -1)
    try:
        fn, seconds = _inductor(node, T)
        out["TorchInductor"] = lambda: fn(flat).reshape(x.shape)
        out["_compile"] = seconds
    except Exception as exc:  # no C++ compiler, or Inductor refusing the graph
        out["_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    prog, regs = step_program(node), {}
    consts = {k: torch.tensor(v).reshape(-1, 1, 1) for k, v in prog.channels.items()}
    consts.update(prog.scalars)

    def per_step() -> torch.Tensor:
        regs.clear()
        regs.update({r: _start(prog.init[r]).reshape(1, *SHAPE[1:]) for r in prog.state})
        ys = []
        for t in range(T):
            regs["x"] = x[t]
            run_pure(prog, regs, consts)
            ys.append(regs[prog.output])
        return torch.stack(ys)

    out["torch per step"] = per_step
    return out


def measure(fns: dict[str, Any], repeats: int) -> dict[str, Any]:
    runs = {k: f for k, f in fns.items() if not k.startswith("_")}
    want = runs["fused C"]()
    row: dict[str, Any] = {k: v for k, v in fns.items() if k.startswith("_")}
    row["identical"] = {k: bool(torch.equal(f(), want)) for k, f in runs.items()}
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for k, f in runs.items():
            t = time.process_time()
            f()
            best[k] = min(best[k], time.process_time() - t)
    row["ms"] = {k: round(1e3 * v, 2) for k, v in best.items()}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-T", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    x = torch.randn(args.T, *SHAPE, generator=torch.Generator().manual_seed(0)) * 0.7
    rows = {
        name: measure(candidates(node, x, args.T), args.repeats) for name, node in _layers().items()
    }
    for name, r in rows.items():
        print(name, r)
    if args.json:
        meta = {"T": args.T, "shape": SHAPE, "torch": torch.__version__, "load": os.getloadavg()}
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
