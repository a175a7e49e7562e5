"""Helpers for users' own test suites (pytest or any runner that reports AssertionError).

::

    from sjconvert.testing import assert_parity

    def test_my_snn_runs_the_same_everywhere():
        assert_parity("build/my.sjir", "data/test.npz", backends=["numpy", "onnx-unrolled"])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .api.parity import parity
from .api.report import ParityReport

__all__ = ["assert_parity"]


def assert_parity(
    model: Any,
    data: Iterable[Any] | str,
    backends: Sequence[str] = ("numpy", "onnx-unrolled", "onnx-step"),
    T: int | Sequence[int] = 8,
    require: str | dict[str, float] = "spikes=0.99,predictions=1.0",
    allow_skipped: bool = False,
    **options: Any,
) -> ParityReport:
    """Run :func:`sjconvert.parity` and raise ``AssertionError`` listing every requirement a
    backend misses, every backend that failed or cannot express the network, and (unless
    ``allow_skipped``) every backend skipped for a missing package or device. Returns the
    report for further checks. The default requirement allows 1 % of (sample, layer) spike
    counts to differ: ONNX Runtime sums convolutions in another order than torch, so a
    membrane within an ulp of a threshold can fire one step apart (``docs/parity.md``)."""
    report = parity(model, data, backends, T, require, **options)
    problems = list(report.failures)
    for row in report.rows:
        if row.status == "unsupported" or (row.status == "skipped" and not allow_skipped):
            problems.append(f"{row.backend} T={row.steps}: {row.status}: {row.reason}")
    if problems:
        raise AssertionError("parity: " + "; ".join(problems))
    return report
