"""benchmarks/region_latency.py: a Redis an RTT away costs a request its round trips.

The script behind docs/deploy.md's latency budget runs (tiny counts), and what it measures
is the budget: a request waits at least one RTT per store round trip, and one that touches
no store does not wait for the proxy at all. Only lower bounds on the slow kinds are
asserted: a loaded machine adds time, it cannot take the RTT away.
"""

from __future__ import annotations

import pytest
from benchmarks import region_latency

RTT_MS = 60.0


def test_the_round_trip_budget_across_regions(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--redis-url", redis_url, "--rtt-ms", f"{RTT_MS:g}", "--requests", "5"]
    assert region_latency.main(argv) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    p50 = {(float(row[0]), row[1]): float(row[2]) for row in rows}
    assert {rtt for rtt, _ in p50} == {0.0, RTT_MS}  # the baseline is always measured
    waits = {"anonymous": 0, "read": 1, "write": 2, "login": 2}  # docs/concepts.md's budget
    for kind, trips in waits.items():
        assert p50[RTT_MS, kind] >= trips * RTT_MS, kind
    assert p50[RTT_MS, "anonymous"] < RTT_MS  # no store call: the proxy is never waited for
