"""The micro-benchmarks behind docs/benchmarks.md's analysis figures run (tiny counts).

They check that each script still produces its figure, not the figure's value.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import redis
from benchmarks.micro import (
    asgi_anonymous,
    asgi_loop,
    browser_login_memory,
    cache,
    cluster_spread,
    core_loop,
    live_sessions,
    load_calls,
    load_path,
    mapped_errors,
    ping_loop,
    pool_load,
    record_auth,
    replica_reads,
    rls_overhead,
    sweeper,
)


def test_mapped_errors_reports_both_forms(capsys: pytest.CaptureFixture[str]) -> None:
    assert mapped_errors.main(["--loops", "200", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "as class:" in out
    assert "as @contextmanager:" in out


def test_ping_loop_reports_one_and_ten_at_a_time(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ping_loop.main(["--redis-url", redis_url, "--calls", "20", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "one at a time:" in out
    assert "10 at a time:" in out


@pytest.mark.parametrize(
    ("script", "lines"),
    [
        pytest.param(pool_load, [f"with {name}:" for name in pool_load.POOLS], id="pool_load"),
        pytest.param(
            load_path,
            ["HGETALL: ", "load, read path: ", "load, load script: "],
            id="load_path",
        ),
    ],
)
def test_store_load_scripts_report_each_line_and_clean_up(
    script: Any,
    lines: list[str],
    redis_url: str,
    key_prefix: str,
    redis_admin: redis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    command = ["--redis-url", redis_url, "--calls", "20", "--repeat", "1", "--prefix", key_prefix]
    assert script.main(command) == 0
    out = capsys.readouterr().out
    for line in lines:
        assert line in out
    assert list(redis_admin.scan_iter(match=f"{key_prefix}*")) == []


def test_record_auth_reports_read_and_write(capsys: pytest.CaptureFixture[str]) -> None:
    assert record_auth.main(["--calls", "50", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "record MAC per read:" in out
    assert "record MAC per write:" in out


def test_cache_reports_hot_reads_and_staleness(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--redis-url", redis_url, "--calls", "20", "--repeat", "1", "--trials", "3"]
    assert cache.main(argv) == 0
    out = capsys.readouterr().out
    assert "hot read, bare Redis store:" in out
    assert "hot read, with the cache:" in out
    assert "reads served after the 5 ms bound: 0" in out


def test_asgi_anonymous_reports_each_application(capsys: pytest.CaptureFixture[str]) -> None:
    assert asgi_anonymous.main(["--calls", "50", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    for name in asgi_anonymous.APPS:
        assert f"{name}: " in out


def test_browser_login_memory_reports_and_cleans_up(
    redis_url: str, redis_admin: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert browser_login_memory.main(["--redis-url", redis_url, "--sessions", "2"]) == 0
    out = capsys.readouterr().out
    assert "session hash:" in out
    assert "B MEMORY USAGE on average over 2 " in out
    assert list(redis_admin.scan_iter(match="mem-*")) == []


def test_core_loop_runs_each_workload() -> None:
    for workload in core_loop.WORKLOADS:
        assert core_loop.main([workload, "3"]) == 0


def test_rls_overhead_measures_both_schemas_and_drops_them(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--url", postgres_url, "--tenants", "20", "--sessions", "200", "--ops", "40"]
    assert rls_overhead.main([*args, "--rounds", "2", "--tenants-per-round", "3"]) == 0
    out = capsys.readouterr().out
    assert "{'rls': 10, 'plain': 200}" in out  # the policy applies to the application role
    assert "| row-level security (tenant_isolation) |" in out
    assert "overhead (median of the rounds' ratios):" in out
    with psycopg.connect(postgres_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'bench\\_%'"
        ).fetchone()
    assert left == (0,)


@pytest.mark.parametrize("mode", ["load", "hgetall"])
def test_load_calls_runs_either_mode_and_cleans_up(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis, mode: str
) -> None:
    argv = ["--redis-url", redis_url, "--mode", mode, "--calls", "5", "--prefix", key_prefix]
    assert load_calls.main(argv) == 0
    assert list(redis_admin.scan_iter(match=f"{key_prefix}*")) == []


def test_sweeper_drains_its_backlog_and_cleans_up(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--redis-url", redis_url, "--sessions", "30", "--prefix", key_prefix]
    assert sweeper.main(argv) == 0
    out = capsys.readouterr().out
    assert "swept 30 expirations in 1 passes" in out
    assert "expirations/s: " in out
    assert list(redis_admin.scan_iter(match=f"{key_prefix}*")) == []


@pytest.mark.slow
def test_cluster_spread_reports_every_primary(capsys: pytest.CaptureFixture[str]) -> None:
    assert cluster_spread.main(["--requests", "60", "--sessions", "10", "--concurrency", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("primary 127.0.0.1:") == 3


@pytest.mark.slow
def test_replica_reads_reports_both_modes(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--reads", "60", "--sessions", "10", "--concurrency", "2", "--repeat", "1"]
    assert replica_reads.main(argv) == 0
    out = capsys.readouterr().out
    assert "primary: best " in out
    assert "HGETALL primaries 0, replicas 60" in out
    assert "fallbacks {}" in out


def test_live_sessions_reports_both_sizes_and_cleans_up(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--redis-url", redis_url, "--few", "20", "--many", "40", "--requests", "60"]
    assert live_sessions.main([*argv, "--rounds", "1", "--prefix", key_prefix]) == 0
    out = capsys.readouterr().out
    assert "20 live sessions (few): " in out
    assert "40 live sessions (many): " in out
    assert "ratio few/many, ops/s: " in out
    assert list(redis_admin.scan_iter(match=f"{key_prefix}*")) == []


def test_asgi_loop_runs_each_workload_lazy_and_eager() -> None:
    for workload in asgi_loop.WORKLOADS:
        assert asgi_loop.main([workload, "3"]) == 0
        assert asgi_loop.main([workload, "3", "--eager"]) == 0
