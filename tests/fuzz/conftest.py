"""Fixtures of the fuzz suite: the seed corpus, built once per session with sjconvert's own
writers, and the fast in-process runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from . import harness, seeds

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return seeds.build(tmp_path_factory.mktemp("seeds"))


@pytest.fixture(scope="module")
def cli() -> Iterator[CliRunner]:
    """In-process runs from the repository root (``--arch tests.fuzz.models:Tiny``), with a
    short read limit so a file that hangs libhdf5 costs seconds, not minutes."""
    with pytest.MonkeyPatch.context() as mp, harness.fast_cli() as runner:
        mp.chdir(REPO)
        mp.setenv("SJCONVERT_READ_TIMEOUT", "10")
        yield runner
