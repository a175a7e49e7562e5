"""The fuzz campaign on a bounded budget: about :data:`TOTAL` mutants across every reader
(IR, NetX, NIR, ONNX, ``.npz`` and ``.pt`` data, state dicts), each run through the real
command line and held to the product rule (:mod:`.harness`): no traceback, a documented
exit code that is not a bug, one error line, no file left behind.

``SJCONVERT_FUZZ_SCALE`` multiplies the budget and ``SJCONVERT_FUZZ_SEED`` picks other
mutants (``benchmarks/fuzz.py`` runs longer campaigns and stores their counts).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from . import harness

pytestmark = pytest.mark.fuzz
TOTAL = 2200


@pytest.mark.parametrize("fmt", harness.FORMATS, ids=lambda f: f.name)
def test_mutants_are_refused_cleanly_or_accepted(
    fmt: harness.Format, corpus: dict[str, Path], cli: CliRunner, tmp_path: Path
) -> None:
    count = harness.budget(TOTAL)[fmt.name]
    seed = int(os.environ.get("SJCONVERT_FUZZ_SEED", "0"))
    result = harness.run_format(fmt, corpus, tmp_path, count, seed, cli)
    codes = dict(sorted(result.exit_codes.items()))
    print(f"\n{fmt.name}: {result.mutants} mutants in {result.seconds:.1f} s, exit codes {codes}")
    assert result.mutants == count
    assert not result.failures, "\n\n".join(result.failures[:5])
    assert result.exit_codes[2] > 0, "the mutator produced no invalid file"


def test_seeds_are_accepted(corpus: dict[str, Path], cli: CliRunner, tmp_path: Path) -> None:
    """Every unmutated seed passes its command (so refusals come from the mutations)."""
    for fmt in harness.FORMATS:
        work = tmp_path / fmt.name
        work.mkdir()
        seed = work / f"m{fmt.suffix}"
        seed.write_bytes(corpus[fmt.seed].read_bytes())
        args, outputs = fmt.command(seed, work, corpus)
        result = cli.invoke(harness.app, args)
        assert result.exit_code == 0, f"{fmt.name}: {result.output}"
        assert harness.problems(result, work, {seed.name}, outputs) == []
