"""The in-process benchmark script runs end to end and counts round trips correctly.

This checks the script, not the speed: figures are printed by the script, never asserted.
"""

from __future__ import annotations

import json

import pytest
from benchmarks import asgi_inprocess


def test_benchmark_reports_every_workload_with_the_round_trip_budget(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--redis", redis_url, "--requests", "40", "--concurrency", "2", "--warmup", "2"]
    assert asgi_inprocess.main([*argv, "--json"]) == 0
    rows = {(r["workload"], r["store"]): r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {
        ("anonymous", "memory"),
        ("read", "memory"),
        ("write", "memory"),
        ("anonymous", "redis"),
        ("read", "redis"),
        ("write", "redis"),
        ("raw-read", "redis-py"),
        ("raw-write", "redis-py"),
    }
    assert rows["anonymous", "redis"]["round_trips_per_request"] == 0
    assert rows["read", "redis"]["round_trips_per_request"] == 1
    assert rows["write", "redis"]["round_trips_per_request"] == 2
    assert rows["read", "memory"]["round_trips_per_request"] is None
    assert all(r["requests"] == 40 and r["req_per_s"] > 0 for r in rows.values())

    assert asgi_inprocess.main(argv) == 0
    table = capsys.readouterr().out
    assert "vs raw" in table
    assert "raw-write" in table


def test_benchmark_rejects_nonsense_arguments() -> None:
    with pytest.raises(SystemExit):
        asgi_inprocess.parse_args(["--requests", "0"])
