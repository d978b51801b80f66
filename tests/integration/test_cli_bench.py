"""``sessionary bench`` against the memory store, the local Redis and a Redis Cluster."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from rich.console import Console

from sessionary.cli._bench_run import BenchPlan, parse_mix, run_bench, schedule
from sessionary.cli.bench import _print_report, _progress_bar, _RedisSide, _report
from sessionary.cli.commands import cli
from tests.cluster import RedisClusterNodes
from tests.scripted_stores import FailingStore
from tests.services import free_port

# Store round trips per operation: load and touch 1; create 1; commit/rotate/destroy 2.
ROUND_TRIPS = {"create": 1, "load": 1, "touch": 1, "commit": 2, "rotate": 2, "destroy": 2}


def bench(*args: str) -> Any:
    result = CliRunner().invoke(cli, ["bench", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def check_counts(report: dict[str, Any], requests: int) -> None:
    ops = report["ops"]
    assert report["operations"] == requests == sum(op["count"] for op in ops.values())
    assert report["errors"] == {}
    assert report["store_hit_rate"] == 1.0
    round_trips = sum(ROUND_TRIPS[name] * op["count"] for name, op in ops.items())
    assert sum(report["store_calls"].values()) == round_trips
    assert report["store_round_trips_per_op"] == pytest.approx(round_trips / requests)
    for op in ops.values():
        if op["count"]:
            assert 0 < op["p50_ms"] <= op["p99_ms"] <= op["p999_ms"] <= op["max_ms"]
    touches = ops["touch"]["count"] if "touch" in ops else 0
    assert report["store_calls"].get("load:touched", 0) <= touches


def test_memory_store_table_adds_up() -> None:
    report = bench("memory://", "-n", "600", "-c", "4", "--sessions", "40")
    check_counts(report, 600)
    assert set(report["ops"]) == set(ROUND_TRIPS)
    assert report["ops"]["load"]["count"] == 360  # 60 % of a deterministic schedule
    assert report["redis"] is None


def test_the_table_is_printed() -> None:
    result = CliRunner().invoke(cli, ["bench", "memory", "-n", "300", "-c", "2", "--sessions", "5"])
    assert result.exit_code == 0, result.output
    for text in ("sessionary bench", "operation", "p999 ms", "total", "300 operations"):
        assert text in result.output
    assert "store hit rate 100.0%" in result.output


def test_duration_bound_and_custom_mix() -> None:
    report = bench("memory://", "-d", "0.3", "--mix", "load=3,commit=1", "-c", "2")
    assert 0.3 <= report["elapsed_s"] < 5
    assert report["operations"] > 0
    assert set(report["ops"]) == {"load", "commit", "create"}
    assert report["ops"]["create"]["count"] == 0


def test_local_redis_counts_commands_and_cleans_up(redis_url: str) -> None:
    report = bench(redis_url, "-n", "400", "-c", "4", "--sessions", "30")
    check_counts(report, 400)
    commands = report["redis"]["by_command"]
    # Every store call is an HGETALL (a read) or an EVALSHA (a write; other clients of a
    # shared server can only add).
    assert commands["evalsha"] + commands["hgetall"] >= report["store_round_trips_per_op"]
    assert report["redis"]["commands_per_op"] >= commands["evalsha"] + commands["hgetall"]
    ops = report["ops"]
    assert report["redis"]["keys_removed"] == 30 + ops["create"]["count"] - ops["destroy"]["count"]
    admin = redis.Redis.from_url(redis_url)
    try:
        assert not list(admin.scan_iter(match=f"{report['prefix']}:*"))
    finally:
        admin.close()


@pytest.mark.parametrize("op", ["load", "commit", "rotate"])
def test_commands_per_op_are_exact_on_a_private_redis(private_redis: str, op: str) -> None:
    report = bench(private_redis, "--mix", f"{op}=1", "-n", "200", "-c", "4", "--sessions", "40")
    check_counts(report, 200)
    redis_side = report["redis"]
    commands = redis_side["by_command"]
    # The load is one HGETALL (no script), a write one EVALSHA: nothing else from the client.
    assert commands["hgetall"] == 1
    assert commands.get("evalsha", 0) == ROUND_TRIPS[op] - 1
    assert sum(commands.values()) == pytest.approx(redis_side["commands_per_op"])


@pytest.mark.slow
def test_cluster_spreads_and_cleans_every_primary(redis_cluster: RedisClusterNodes) -> None:
    host, port = redis_cluster.startup_nodes[0]
    report = bench(f"redis+cluster://{host}:{port}", "-n", "200", "-c", "4", "--sessions", "30")
    check_counts(report, 200)
    commands = report["redis"]["by_command"]
    assert commands["evalsha"] + commands["hgetall"] >= report["store_round_trips_per_op"]
    ops = report["ops"]
    assert report["redis"]["keys_removed"] == 30 + ops["create"]["count"] - ops["destroy"]["count"]
    primaries = report["redis"]["by_primary"]
    assert len(primaries) == 3
    assert all(p["commands"] > 0 and p["keys"] > 0 for p in primaries)  # spread over all three
    assert sum(p["keys"] for p in primaries) == report["redis"]["keys_removed"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["memory://", "-n", "0"], "1<=x<=10000000"),
        (["memory://", "-n", "100000000"], "1<=x<=10000000"),
        (["memory://", "-d", "86400"], "0<x<=3600"),
        (["memory://", "-c", "5000"], "1<=x<=1024"),
        (["memory://", "--sessions", "1000000"], "1<=x<=100000"),
        (["memory://", "--mix", "load=abc"], "the weight must be an integer"),
        (["memory://", "--mix", "fly=1"], "unknown operation 'fly'"),
        (["memory://", "--mix", "load=0"], "at least one operation"),
        (["memory://", "--mix", "load=1,load=2"], "load appears twice"),
        (["mysql://localhost"], "invalid Redis URL"),
    ],
)
def test_bad_input_is_refused_clearly(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["bench", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_unreachable_redis_is_a_clear_error() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = CliRunner().invoke(cli, ["bench", url, "-n", "10"])
    assert result.exit_code == 1
    assert f"cannot use {url}" in result.output
    assert "Traceback" not in result.output


# ------------------------------------------------------------------ the runner itself
def test_schedule_interleaves_by_weight() -> None:
    order = schedule({"load": 3, "commit": 1})
    assert sorted(order) == ["commit", "load", "load", "load"]
    assert order.count("commit") == 1
    assert schedule({"create": 1}) == ["create"]
    assert parse_mix(" Load=2 , commit=0") == {"load": 2, "commit": 0}


@pytest.mark.anyio
async def test_store_errors_are_counted_by_type() -> None:
    store = FailingStore(fail_load=True)  # creates work, every load fails
    plan = BenchPlan({"load": 1, "create": 1}, concurrency=2, requests=20, sessions=4)
    result = await run_bench(store, plan)
    assert result.total == 20
    assert result.errors == {"StoreUnavailableError": 10}
    assert result.ops["create"].latency.count == 10
    assert result.hit_rate == 0.0


@pytest.mark.anyio
async def test_errors_are_printed_under_the_table() -> None:
    plan = BenchPlan({"load": 1, "create": 1}, concurrency=2, requests=20, sessions=4)
    result = await run_bench(FailingStore(fail_load=True), plan)
    console = Console(record=True, width=120)
    _print_report(console, _report(result, _RedisSide("memory", "p"), "memory"))
    text = console.export_text()
    assert "errors: StoreUnavailableError 10" in text
    assert "store hit rate 0.0%" in text


def _rendered_progress(plan: BenchPlan, done: int) -> str:
    output = io.StringIO()
    console = Console(file=output, force_terminal=True, width=100)
    with _progress_bar(console, plan) as update:
        update(done)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.getvalue())


def test_progress_bar_counts_seconds_for_a_duration_and_ops_for_a_count() -> None:
    by_time = _rendered_progress(BenchPlan(parse_mix("load=1"), 1, None, 3.0, 1, 1), 40)
    assert "0/3 s" in by_time
    assert "ops" not in by_time
    by_count = _rendered_progress(BenchPlan(parse_mix("load=1"), 1, 100, None, 1, 1), 40)
    assert "40/100 ops" in by_count
