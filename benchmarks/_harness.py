"""Shared machinery of the comparison benchmark: in-process requests, cookie jars, timing.

Requests never touch a socket: ASGI applications are called as ``await app(scope, receive,
send)`` and WSGI applications as ``app(environ, start_response)``, so what is measured is the
framework, the session layer and Redis, not the network stack of the client and server.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import redis

Message = MutableMapping[str, Any]
ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


# ----------------------------------------------------------------------------- cookies
class CookieJar:
    """The cookies one virtual browser holds (no domain/path logic: one site)."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def header(self) -> str | None:
        """The ``Cookie`` request header, or ``None`` with no cookie."""
        if not self.cookies:
            return None
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def update(self, set_cookie_values: Iterable[str]) -> None:
        """Apply the response's ``Set-Cookie`` headers (deletions included)."""
        for line in set_cookie_values:
            pair, _, attributes = line.partition(";")
            name, _, value = pair.strip().partition("=")
            lowered = attributes.lower().replace(" ", "")
            expired = "max-age=0" in lowered or "expires=thu,01jan1970" in lowered
            if expired or value in ("", '""', "''"):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def copy(self) -> CookieJar:
        """An independent jar with the same cookies."""
        jar = CookieJar()
        jar.cookies = dict(self.cookies)
        return jar


# --------------------------------------------------------------------------- requests
@dataclass
class Reply:
    """Status, ``Set-Cookie`` values and body of one response."""

    status: int
    set_cookies: list[str]
    body: bytes


async def asgi_request(app: ASGIApp, method: str, path: str, jar: CookieJar) -> Reply:
    """One HTTP request through the ASGI interface; the jar is updated from the response."""
    raw_path, _, query = path.partition("?")
    headers = [(b"host", b"bench")]
    cookie = jar.header()
    if cookie is not None:
        headers.append((b"cookie", cookie.encode("latin-1")))
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 443),
    }
    status = 0
    set_cookies: list[str] = []
    body: list[bytes] = []

    received = False

    async def receive() -> Message:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # Like a server: nothing more until the client goes (Quart listens all along and
        # cancels the listener when its response is done).
        await asyncio.Event().wait()
        raise AssertionError  # pragma: no cover - the wait above never ends

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            set_cookies.extend(
                v.decode("latin-1") for k, v in message.get("headers", ()) if k == b"set-cookie"
            )
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await app(scope, receive, send)
    jar.update(set_cookies)
    return Reply(status, set_cookies, b"".join(body))


def wsgi_request(app: WSGIApp, method: str, path: str, jar: CookieJar) -> Reply:
    """One HTTP request through the WSGI interface; the jar is updated from the response."""
    raw_path, _, query = path.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": raw_path,
        "QUERY_STRING": query,
        "SERVER_NAME": "bench",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "bench",
        "CONTENT_LENGTH": "0",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    cookie = jar.header()
    if cookie is not None:
        environ["HTTP_COOKIE"] = cookie
    status = 0
    set_cookies: list[str] = []

    def start_response(
        status_line: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], object]:
        nonlocal status
        status = int(status_line.split(" ", 1)[0])
        set_cookies[:] = [v for k, v in headers if k.lower() == "set-cookie"]
        return lambda _chunk: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    jar.update(set_cookies)
    return Reply(status, set_cookies, body)


# ------------------------------------------------------------------------ measurement
@dataclass
class Sample:
    """Raw figures of one measured batch (one variant, one workload, one round)."""

    requests: int
    seconds: float
    latencies: list[float]
    commands: int | None
    round_trips: int | None
    client_cpu_s: float
    """CPU time of this process (framework, session layer and redis-py: all in process)."""
    redis_cpu_s: float | None
    """CPU time of the Redis server (``INFO cpu``; meaningful on a Redis used by nothing else)."""


@dataclass
class Counters:
    """Where Redis work is counted: the server's ``INFO commandstats`` and client counters."""

    admin: redis.Redis | None
    round_trips: Callable[[], int] | None = None

    def server_commands(self) -> int | None:
        """Commands Redis executed so far (Lua-internal ones included), ``INFO`` excluded."""
        if self.admin is None:
            return None
        stats = self.admin.info("commandstats")
        return sum(
            int(entry["calls"])
            for name, entry in stats.items()
            if name not in ("cmdstat_info", "cmdstat_ping")
        )

    def server_cpu(self) -> float | None:
        """CPU seconds the Redis server has used so far (user + system)."""
        if self.admin is None:
            return None
        info = self.admin.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def snapshot(self) -> Snapshot:
        """Every counter, now."""
        return Snapshot(
            self.server_commands(),
            self.round_trips() if self.round_trips else None,
            time.process_time(),
            self.server_cpu(),
        )


@dataclass
class Snapshot:
    """Counter values at one instant."""

    commands: int | None
    round_trips: int | None
    client_cpu: float
    redis_cpu: float | None

    def until(
        self, after: Snapshot, requests: int, seconds: float, latencies: list[float]
    ) -> Sample:
        """The sample between this snapshot and ``after``."""
        return Sample(
            requests,
            seconds,
            latencies,
            _delta(after.commands, self.commands),
            _delta(after.round_trips, self.round_trips),
            after.client_cpu - self.client_cpu,
            None
            if after.redis_cpu is None or self.redis_cpu is None
            else after.redis_cpu - self.redis_cpu,
        )


def _delta(after: int | None, before: int | None) -> int | None:
    return None if after is None or before is None else after - before


async def measure_async(
    one_request: Callable[[int], Awaitable[None]],
    *,
    requests: int,
    concurrency: int,
    counters: Counters,
) -> Sample:
    """``requests`` calls of ``one_request(client)`` from ``concurrency`` asyncio clients."""
    latencies: list[float] = []
    per_client = max(1, requests // concurrency)

    async def client(index: int) -> None:
        for _ in range(per_client):
            started = time.perf_counter()
            await one_request(index)
            latencies.append(time.perf_counter() - started)

    before = counters.snapshot()
    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    return before.until(counters.snapshot(), per_client * concurrency, elapsed, latencies)


def measure_threads(
    one_request: Callable[[int], None],
    *,
    requests: int,
    concurrency: int,
    counters: Counters,
) -> Sample:
    """``requests`` calls of ``one_request(client)`` from ``concurrency`` threads."""
    latencies: list[float] = []
    per_client = max(1, requests // concurrency)
    gate = threading.Barrier(concurrency + 1)
    errors: list[BaseException] = []

    def client(index: int) -> None:
        mine: list[float] = []
        gate.wait()
        try:
            for _ in range(per_client):
                started = time.perf_counter()
                one_request(index)
                mine.append(time.perf_counter() - started)
        except BaseException as exc:  # reported by the caller's thread
            errors.append(exc)
        latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    before = counters.snapshot()
    started = time.perf_counter()
    gate.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    after = counters.snapshot()
    if errors:
        raise errors[0]
    return before.until(after, per_client * concurrency, elapsed, latencies)


@dataclass
class Row:
    """One line of the results table: a variant under a workload, all rounds merged."""

    variant: str
    framework: str
    workload: str
    requests: int
    req_per_s: float
    p50_us: float
    p99_us: float
    p999_us: float
    redis_commands_per_request: float | None
    round_trips_per_request: float | None
    client_cpu_us: float
    redis_cpu_us: float | None
    vs_baseline: float | None = None
    vs_raw: float | None = None
    samples: list[float] = field(default_factory=list)


def _percentile(ordered: list[float], fraction: float) -> float:
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index] * 1e6


def merge(variant: str, framework: str, workload: str, samples: list[Sample]) -> Row:
    """Merge rounds: median throughput, pooled latencies, summed Redis counts."""
    latencies = sorted(lat for s in samples for lat in s.latencies)
    total = sum(s.requests for s in samples)
    rates = [s.requests / s.seconds for s in samples]
    commands = [s.commands for s in samples]
    trips = [s.round_trips for s in samples]
    return Row(
        variant=variant,
        framework=framework,
        workload=workload,
        requests=total,
        req_per_s=round(statistics.median(rates), 1),
        p50_us=round(_percentile(latencies, 0.50), 1),
        p99_us=round(_percentile(latencies, 0.99), 1),
        p999_us=round(_percentile(latencies, 0.999), 1),
        redis_commands_per_request=(
            None if None in commands else round(sum(c or 0 for c in commands) / total, 2)
        ),
        round_trips_per_request=(
            None if None in trips else round(sum(t or 0 for t in trips) / total, 2)
        ),
        client_cpu_us=round(sum(s.client_cpu_s for s in samples) / total * 1e6, 1),
        redis_cpu_us=(
            None
            if any(s.redis_cpu_s is None for s in samples)
            else round(sum(s.redis_cpu_s or 0.0 for s in samples) / total * 1e6, 1)
        ),
        samples=[round(r, 1) for r in rates],
    )
