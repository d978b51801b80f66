"""The micro-benchmarks behind docs/benchmarks.md's analysis figures run (tiny counts).

They check that each script still produces its figure, not the figure's value.
"""

from __future__ import annotations

import psycopg
import pytest
import redis
from benchmarks.micro import (
    asgi_anonymous,
    browser_login_memory,
    cache,
    core_loop,
    mapped_errors,
    ping_loop,
    pool_load,
    record_auth,
    rls_overhead,
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


def test_pool_load_reports_each_pool_and_cleans_up(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["--redis-url", redis_url, "--calls", "20", "--repeat", "1", "--prefix", key_prefix]
    assert pool_load.main(command) == 0
    out = capsys.readouterr().out
    for name in pool_load.POOLS:
        assert f"with {name}:" in out
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
