"""Fixtures for the target tests: the bundled samples converted once per session."""

from __future__ import annotations

import numpy as np
import pytest

from sjconvert.ir.graph import Graph
from tests.targets.snn_graphs import converted


@pytest.fixture(scope="session")
def samples() -> dict[str, tuple[Graph, dict[str, np.ndarray]]]:
    """name -> (SNN converted with default settings, test arrays) for both samples."""
    return {name: converted(name) for name in ("digits", "mnist1d")}
