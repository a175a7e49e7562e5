"""Run mutants through the real command line and hold every run to the product rule.

Each mutant gets its own folder holding only its input files; the command runs in-process
(Typer's ``CliRunner``) and must end with a documented exit code that is not a bug
(0, 2, 3, 4, 5), print no traceback, print exactly one ``error:`` line on stderr when it
fails, and leave in the folder only its inputs (and its output, when it succeeded) — no
temporary file. Used by ``tests/fuzz/test_fuzz.py`` (bounded budget) and
``benchmarks/fuzz.py`` (longer campaigns).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
import typer.main
import typer.testing
from typer.testing import CliRunner, Result

from sjconvert.cli.main import app

from . import mutate_h5, mutate_other, seeds

ALLOWED = {0, 2, 3, 4, 5}
Make = Callable[[Path, Path, random.Random], str]
Command = Callable[[Path, Path, dict[str, Path]], tuple[list[str], set[str]]]


@dataclass(frozen=True)
class Format:
    """A reader under test: its seed, mutator, command, and share of the budget."""

    name: str
    seed: str
    suffix: str
    make: Make
    command: Command
    share: int


@dataclass
class Campaign:
    """What one format's run found."""

    name: str
    mutants: int = 0
    seconds: float = 0.0
    exit_codes: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def _inspect(m: Path, work: Path, s: dict[str, Path]) -> tuple[list[str], set[str]]:
    return ["inspect", str(m), "--json"], set()


def _simulate_ir(m: Path, work: Path, s: dict[str, Path]) -> tuple[list[str], set[str]]:
    return ["simulate", str(m), "--data", str(s["npz"]), "-T", "2", "--json"], set()


def _fit(m: Path, work: Path, s: dict[str, Path]) -> tuple[list[str], set[str]]:
    return ["fit", str(m), "--json"], set()


def _from_nir(m: Path, work: Path, s: dict[str, Path]) -> tuple[list[str], set[str]]:
    return ["from-nir", str(m), "-o", str(work / "out.sjir")], {"out.sjir"}


def _capture(m: Path, work: Path, s: dict[str, Path]) -> tuple[list[str], set[str]]:
    return ["capture", str(m), "--data", str(s["npz"]), "-o", str(work / "out.sjir")], {"out.sjir"}


def _capture_state(m: Path, work: Path, s: dict[str, Path]) -> tuple[list[str], set[str]]:
    args, out = _capture(m, work, s)
    return [*args, "--arch", seeds.ARCH], out


def _simulate_data(m: Path, work: Path, s: dict[str, Path]) -> tuple[list[str], set[str]]:
    return ["simulate", str(s["ir"]), "--data", str(m), "-T", "2", "--json"], set()


ONNX_IMPORT = importlib.util.find_spec("onnx") is not None
FORMATS = [
    Format("ir", "ir_zoo", ".sjir", mutate_h5.mutate_hdf5, _inspect, 20),
    Format("ir-simulate", "ir", ".sjir", mutate_h5.mutate_hdf5, _simulate_ir, 6),
    Format("netx-cuba", "netx_cuba", ".net", mutate_h5.mutate_hdf5, _fit, 10),
    Format("netx-sdnn", "netx_sdnn", ".net", mutate_h5.mutate_hdf5, _fit, 6),
    Format("procgraph", "procgraph", ".lpg.npz", mutate_other.mutate_archive, _fit, 8),
    Format("nir", "nir", ".nir", mutate_h5.mutate_hdf5, _from_nir, 16),
    Format("onnx", "onnx", ".onnx", mutate_other.mutate_onnx, _capture, 10),
    Format("npz", "npz", ".npz", mutate_other.mutate_npz, _simulate_data, 14),
    Format("pt-data", "pt", ".pt", mutate_other.mutate_pt_data, _simulate_data, 8),
    Format("state-dict", "state", ".pt", mutate_other.mutate_state, _capture_state, 10),
]
if not ONNX_IMPORT:  # an environment without the ONNX import chain cannot import ONNX
    FORMATS = [f for f in FORMATS if f.name != "onnx"]


def problems(result: Result, work: Path, inputs: set[str], outputs: set[str]) -> list[str]:
    """How a run broke the product rule (empty when it did not)."""
    found = []
    code = result.exit_code
    if code not in ALLOWED:
        found.append(f"exit code {code}")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        found.append(f"escaped {type(result.exception).__name__}: {result.exception}")
    if "Traceback" in result.output:
        found.append("traceback printed")
    if code != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        if len(lines) != 1 or not lines[0].startswith("error:") or result.stdout.strip():
            found.append("not exactly one error line on stderr")
    left = {p.name for p in work.iterdir()}
    want = inputs | (outputs if code == 0 else set())
    if left != want:
        found.append(f"files left {sorted(left)}, expected {sorted(want)}")
    return found


@contextmanager
def fast_cli() -> Iterator[CliRunner]:
    """A runner for many short in-process runs: the Click command built once (Typer builds
    it on every ``invoke``) and one torch thread (tiny tensors; threads only contend)."""
    threads = torch.get_num_threads()
    original = typer.testing._get_command
    typer.testing._get_command = functools.cache(typer.main.get_command)
    torch.set_num_threads(1)
    try:
        yield CliRunner()
    finally:
        typer.testing._get_command = original
        torch.set_num_threads(threads)


def run_format(
    fmt: Format, corpus: dict[str, Path], root: Path, count: int, seed: int, runner: CliRunner
) -> Campaign:
    """``count`` mutants of one format through its command (see the module docstring)."""
    result = Campaign(fmt.name)
    start = time.perf_counter()
    for i in range(count):
        r = random.Random(f"{fmt.name}:{seed}:{i}")
        work = root / fmt.name / str(i)
        work.mkdir(parents=True)
        mutant = work / f"m{fmt.suffix}"
        what = fmt.make(corpus[fmt.seed], mutant, r)
        args, outputs = fmt.command(mutant, work, corpus)
        run = runner.invoke(app, args)
        result.mutants += 1
        result.exit_codes[run.exit_code] += 1
        found = problems(run, work, {mutant.name}, outputs)
        if found:
            result.failures.append(f"{fmt.name} #{i} ({what}): {'; '.join(found)}\n{run.output}")
        else:
            shutil.rmtree(work)
    result.seconds = time.perf_counter() - start
    return result


def budget(total: int) -> dict[str, int]:
    """Mutants per format for a campaign of about ``total`` (by each format's share)."""
    shares = sum(f.share for f in FORMATS)
    scale = float(os.environ.get("SJCONVERT_FUZZ_SCALE", "1"))
    return {f.name: max(1, round(total * scale * f.share / shares)) for f in FORMATS}
