"""In-process ASGI benchmark: requests/s and Redis commands per request, read vs write.

Drives a Starlette application wrapped in sessionary's ``SessionMiddleware`` directly
through the ASGI interface (no sockets between client and app, so the session layer and
Redis are what is measured) and compares it with the raw redis-py limit: the same Redis
work done by hand with no framework, no middleware and no session logic.

Workloads (one session per virtual client, ``--concurrency`` clients at a time):

* ``anonymous``: no cookie, the handler does not touch the session (0 Redis commands).
* ``read``: the handler reads one value of an existing session (1 command: the load script).
* ``write``: the handler increments a counter (2 commands: load + conditional update).
* ``raw-read`` / ``raw-write``: ``HGETALL`` / ``HGETALL`` + ``HSET`` with redis-py.

Two counts per request: *round trips* (writes the client made, counted on its connections:
a pipeline, or a read's ``HGETALL`` with its epoch ``GET``, is one)
and *server commands* (``INFO commandstats`` deltas, which include the commands a Lua
script runs inside Redis).
Run::

    python -m benchmarks.asgi_inprocess --redis redis://127.0.0.1:6379/0 --requests 5000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import sys
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass
from typing import Any

import redis
import redis.asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from tests.redis_counting import AsyncCountingRedis

import sessionary
from benchmarks._harness import CookieJar, Counters, Reply, asgi_request, measure_async, merge
from sessionary import SessionConfig
from sessionary.config import CookieOptions
from sessionary.integrations.asgi import SessionMiddleware, get_session
from sessionary.stores import AsyncMemoryStore, AsyncRedisStore
from sessionary.stores.base import AsyncSessionStore

COOKIE = "__Host-session"
Message = MutableMapping[str, Any]


# ------------------------------------------------------------------------ the application
async def _anonymous(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def _read(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(request.session.get("count", 0)))


async def _write(request: Request) -> PlainTextResponse:
    session = request.session
    session["count"] = session.get("count", 0) + 1
    return PlainTextResponse(str(session["count"]))


async def _login(request: Request) -> PlainTextResponse:
    session = get_session(request)
    session.login(f"user-{uuid.uuid4().hex[:8]}")
    session["count"] = 0
    session["profile"] = {"name": "Ada", "roles": ["reader", "writer"], "theme": "dark"}
    return PlainTextResponse("ok")


def build_app(store: AsyncSessionStore) -> SessionMiddleware:
    """The benchmarked stack: Starlette routing inside sessionary's middleware."""
    app = Starlette(
        routes=[
            Route("/anonymous", _anonymous),
            Route("/read", _read),
            Route("/write", _write, methods=["POST"]),
            Route("/login", _login, methods=["POST"]),
        ]
    )
    config = SessionConfig(secret_keys=[secrets.token_bytes(32)], cookie=CookieOptions())
    return SessionMiddleware(app, store=store, config=config, observer=sessionary.NullObserver())


def _logged_in_jar(reply: Reply, jar: CookieJar) -> CookieJar:
    if reply.status != 200 or COOKIE not in jar.cookies:
        msg = "the login response set no session cookie"
        raise RuntimeError(msg)
    return jar


# --------------------------------------------------------------------------- measurement
@dataclass
class Result:
    """One workload's measurement."""

    workload: str
    store: str
    requests: int
    seconds: float
    req_per_s: float
    p50_us: float
    p99_us: float
    round_trips_per_request: float | None
    server_commands_per_request: float | None


async def measure(
    workload: str,
    store_label: str,
    one_request: Callable[[int], Awaitable[None]],
    *,
    requests: int,
    concurrency: int,
    counters: Counters,
) -> Result:
    """Run ``requests`` calls of ``one_request(client_index)`` from ``concurrency`` clients."""
    sample = await measure_async(
        one_request, requests=requests, concurrency=concurrency, counters=counters
    )
    row = merge(workload, store_label, workload, [sample])
    return Result(
        workload=workload,
        store=store_label,
        requests=sample.requests,
        seconds=round(sample.seconds, 3),
        req_per_s=row.req_per_s,
        p50_us=row.p50_us,
        p99_us=row.p99_us,
        round_trips_per_request=row.round_trips_per_request,
        server_commands_per_request=row.redis_commands_per_request,
    )


async def bench_sessionary(
    store: AsyncSessionStore, label: str, args: argparse.Namespace, counters: Counters
) -> list[Result]:
    """The three sessionary workloads on one store."""
    app = build_app(store)
    jars = []
    for _ in range(args.concurrency):
        jar = CookieJar()
        jars.append(_logged_in_jar(await asgi_request(app, "POST", "/login", jar), jar))

    async def anonymous(_: int) -> None:
        await asgi_request(app, "GET", "/anonymous", CookieJar())

    async def read(index: int) -> None:
        await asgi_request(app, "GET", "/read", jars[index])

    async def write(index: int) -> None:
        await asgi_request(app, "POST", "/write", jars[index])

    results = []
    for name, handler in (("anonymous", anonymous), ("read", read), ("write", write)):
        for _ in range(args.warmup):
            await handler(0)
        results.append(
            await measure(
                name,
                label,
                handler,
                requests=args.requests,
                concurrency=args.concurrency,
                counters=counters,
            )
        )
    return results


async def bench_raw(url: str, args: argparse.Namespace, admin: redis.Redis) -> list[Result]:
    """The raw redis-py limit: the same hash reads and writes, no session layer at all."""
    client = AsyncCountingRedis.from_url(url)
    assert isinstance(client, AsyncCountingRedis)
    counters = Counters(admin, lambda: client.round_trips)
    prefix = f"sessionary-bench-raw-{uuid.uuid4().hex[:8]}"
    keys = [f"{prefix}:{i}" for i in range(args.concurrency)]
    for key in keys:
        await client.hset(key, mapping={"count": 0, "profile": '{"name": "Ada"}'})
        await client.expire(key, 600)

    async def raw_read(index: int) -> None:
        await client.hgetall(keys[index])

    async def raw_write(index: int) -> None:
        record = await client.hgetall(keys[index])
        await client.hset(keys[index], "count", int(record[b"count"]) + 1)

    results = []
    try:
        for name, handler in (("raw-read", raw_read), ("raw-write", raw_write)):
            for _ in range(args.warmup):
                await handler(0)
            results.append(
                await measure(
                    name,
                    "redis-py",
                    handler,
                    requests=args.requests,
                    concurrency=args.concurrency,
                    counters=counters,
                )
            )
    finally:
        await client.delete(*keys)
        await client.aclose()
    return results


async def run(args: argparse.Namespace) -> list[Result]:
    """All workloads: memory store, Redis store and the raw redis-py limit."""
    results = await bench_sessionary(AsyncMemoryStore(), "memory", args, Counters(None))
    if args.redis:
        admin = redis.Redis.from_url(args.redis)
        prefix = f"sessionary-bench-{uuid.uuid4().hex[:8]}"
        client = AsyncCountingRedis.from_url(args.redis)
        assert isinstance(client, AsyncCountingRedis)
        store = AsyncRedisStore(client, prefix=prefix)
        try:
            await store.warm_up()
            counters = Counters(admin, lambda: client.round_trips)
            results += await bench_sessionary(store, "redis", args, counters)
            results += await bench_raw(args.redis, args, admin)
        finally:
            await client.aclose()
            leftovers = list(admin.scan_iter(match=f"{prefix}:*", count=1000))
            if leftovers:
                admin.delete(*leftovers)
            admin.close()
    return results


def _per_request(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render(results: list[Result], args: argparse.Namespace) -> str:
    """A plain-text table with ratios against the raw redis-py limit."""
    raw = {r.workload.removeprefix("raw-"): r.req_per_s for r in results if r.store == "redis-py"}
    lines = [
        f"sessionary {sessionary.__version__} · Python {platform.python_version()} · "
        f"{platform.machine()} · {os.cpu_count()} CPUs · {args.requests} requests/workload · "
        f"concurrency {args.concurrency}",
        "",
        f"{'workload':<10} {'store':<9} {'req/s':>8} {'p50 µs':>7} {'p99 µs':>7} "
        f"{'round trips':>11} {'server cmds':>11} {'vs raw':>7}",
    ]
    for r in results:
        ratio = ""
        if r.store == "redis" and r.workload in raw:
            ratio = f"{r.req_per_s / raw[r.workload]:.2f}x"
        lines.append(
            f"{r.workload:<10} {r.store:<9} {r.req_per_s:>8.0f} {r.p50_us:>7.0f} "
            f"{r.p99_us:>7.0f} {_per_request(r.round_trips_per_request):>11} "
            f"{_per_request(r.server_commands_per_request):>11} {ratio:>7}"
        )
    lines.append("")
    lines.append(
        "round trips: writes the client made per request; server cmds: commands Redis "
        "executed per request, including those inside Lua scripts; vs raw: req/s relative "
        "to the same work done with bare redis-py."
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--redis",
        default=os.environ.get("SESSIONARY_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis URL ('' to benchmark the memory store only)",
    )
    parser.add_argument("--requests", type=int, default=5000, help="requests per workload")
    parser.add_argument("--concurrency", type=int, default=1, help="concurrent clients")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests first")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--requests and --concurrency must be positive, --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table (or JSON)."""
    args = parse_args(argv)
    results = asyncio.run(run(args))
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        print(render(results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
