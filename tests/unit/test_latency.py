"""The bench's latency histogram: quantiles within 1 %, constant memory, merging."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionary.cli._latency import LatencyHistogram


def exact_quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    rank = max(1, -(-q * len(ordered) // 1))
    return ordered[int(rank) - 1]


@given(
    st.lists(st.floats(min_value=1e-6, max_value=10.0), min_size=1, max_size=300),
    st.sampled_from([0.0, 0.5, 0.9, 0.99, 0.999, 1.0]),
)
def test_quantiles_are_within_one_percent(samples: list[float], q: float) -> None:
    histogram = LatencyHistogram()
    for sample in samples:
        histogram.record(sample)
    expected = exact_quantile(samples, q)
    assert histogram.quantile(q) == pytest.approx(expected, rel=0.0101)
    assert histogram.count == len(samples)
    assert histogram.mean == pytest.approx(sum(samples) / len(samples))


def test_empty_tiny_and_merged() -> None:
    empty = LatencyHistogram()
    assert empty.quantile(0.99) == 0.0
    assert empty.mean == 0.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        empty.quantile(1.5)
    tiny = LatencyHistogram()
    tiny.record(0.0)
    tiny.record(1e-9)
    assert tiny.quantile(1.0) == 1e-9
    big = LatencyHistogram()
    for _ in range(10_000):
        big.record(0.001)
    big.record(2.0)
    assert len(big._buckets) == 2
    tiny.merge(big)
    assert tiny.count == 10_003
    assert tiny.maximum == 2.0
    assert tiny.minimum == 0.0
    assert tiny.quantile(0.5) == pytest.approx(0.001, rel=0.0101)
