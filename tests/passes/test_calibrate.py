"""Calibration summaries: fixed size, mergeable, accurate quantiles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sjconvert.errors import InputError
from sjconvert.passes import ActivationSummary, parse_mode, statistic
from sjconvert.passes.calibrate import REL_ERROR

REL = REL_ERROR + 1e-9


def _relu_like(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.relu(torch.randn(n, generator=g) * torch.rand(n, generator=g) * 3)


def test_summary_size_does_not_grow_with_data() -> None:
    s = ActivationSummary()
    size = s.hist.nbytes
    for seed in range(20):
        s.update(_relu_like(50_000, seed))
    assert s.hist.nbytes == size and s.count == 1_000_000


@pytest.mark.parametrize("q", [0.5, 0.9, 0.999, 0.9999, 1.0])
def test_quantile_within_relative_error(q: float) -> None:
    x = _relu_like(200_000, 3)
    s = ActivationSummary()
    s.update(x)
    exact = float(np.quantile(x.numpy(), q, method="inverted_cdf"))
    got = s.quantile(q)
    assert abs(got - exact) <= REL * exact


def test_merge_equals_summary_of_union() -> None:
    a, b = _relu_like(10_000, 1), _relu_like(7_000, 2) * 5
    sa, sb, su = ActivationSummary(), ActivationSummary(), ActivationSummary()
    sa.update(a)
    sb.update(b)
    su.update(torch.cat([a, b]))
    m = sa.merge(sb)
    assert m.count == su.count and m.nonpositive == su.nonpositive and m.max == su.max
    np.testing.assert_array_equal(m.hist, su.hist)
    assert sa.count == 10_000  # merge does not change its inputs


def test_quantile_counts_zeros() -> None:
    s = ActivationSummary()
    s.update(torch.cat([torch.zeros(900), torch.linspace(1, 2, 100)]))
    assert s.quantile(0.5) == 0.0
    assert abs(s.quantile(0.99) - 1.899) <= REL * 1.9
    assert statistic(s, "max") == 2.0 and statistic(s, 0.5) == 1.0


def test_parse_mode() -> None:
    assert parse_mode("max") == ("max", 1.0)
    assert parse_mode("99.9%") == ("percentile", pytest.approx(0.999))
    assert parse_mode("0.7") == ("scale", 0.7) and parse_mode(1.0) == ("scale", 1.0)
    for bad in ["abc", "150%", "1.5", "0", "-0.1", "nan"]:
        with pytest.raises(InputError, match="not understood"):
            parse_mode(bad)
