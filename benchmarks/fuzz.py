"""Fuzz campaign over every reader, through the real command line (``tests/fuzz/``).

Run: ``.venv/bin/python -m benchmarks.fuzz [--total 2200] [--seed 0] [--json out.json]``
(default JSON: ``docs/benchmark_fuzz.json``). Prints, per format, the mutants run, the
seconds they took, how they ended (exit codes) and how many broke the product rule (no
traceback, a documented exit code other than 70, one error line, no file left behind —
:mod:`tests.fuzz.harness`); failing mutants stay in the work folder printed at the end.
The CI test (``tests/fuzz/test_fuzz.py``) runs the same campaign at ``--total 2200``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.fuzz import harness, seeds

OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmark_fuzz.json"


def campaign(total: int, seed: int, root: Path) -> list[harness.Campaign]:
    corpus_dir = root / "seeds"
    corpus_dir.mkdir()
    corpus = seeds.build(corpus_dir)
    counts = harness.budget(total)
    os.environ.setdefault("SJCONVERT_READ_TIMEOUT", "10")
    with harness.fast_cli() as runner:
        return [
            harness.run_format(fmt, corpus, root / "work", counts[fmt.name], seed, runner)
            for fmt in harness.FORMATS
        ]


def table(results: list[harness.Campaign]) -> Table:
    t = Table(title="fuzz campaign: mutants per format through the CLI", title_justify="left")
    for col in ("format", "mutants", "seconds", "exit codes", "rule broken"):
        t.add_column(col, justify="left" if col in ("format", "exit codes") else "right")
    for c in results:
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(c.exit_codes.items()))
        t.add_row(c.name, str(c.mutants), f"{c.seconds:.1f}", codes, str(len(c.failures)))
    t.add_row(
        "all",
        str(sum(c.mutants for c in results)),
        f"{sum(c.seconds for c in results):.1f}",
        "",
        str(sum(len(c.failures) for c in results)),
    )
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=2200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=OUT)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sjconvert-fuzz-"))
    start = time.perf_counter()
    results = campaign(args.total, args.seed, root)
    wall = time.perf_counter() - start
    Console(width=160).print(table(results))
    report = {
        "command": f"python -m benchmarks.fuzz --total {args.total} --seed {args.seed}",
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
            "python": platform.python_version(),
        },
        "seconds_with_seed_corpus": round(wall, 1),
        "formats": {
            c.name: {
                "mutants": c.mutants,
                "seconds": round(c.seconds, 1),
                "exit_codes": {str(k): v for k, v in sorted(c.exit_codes.items())},
                "rule_broken": len(c.failures),
            }
            for c in results
        },
        "failures": [f.splitlines()[0] for c in results for f in c.failures][:50],
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}; work folder {root}")


if __name__ == "__main__":
    main()
