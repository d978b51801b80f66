"""A request's latency when Redis is far away: the round-trip budget across regions, measured.

An application in one region whose Redis primary is in another pays the network's round-trip
time (RTT) for each store round trip of a request. This script puts a loopback TCP proxy
that delays every byte by half the chosen RTT in each direction between a real Redis and
sessionary's ASGI middleware (the Starlette app of ``benchmarks/asgi_inprocess.py``, driven
in process through httpx), then times requests one after the other, for each RTT::

    python -m benchmarks.region_latency --rtt-ms 20,80,150 --requests 40

Four kinds of request: ``anonymous`` (no cookie, a page that never touches the session),
``read`` (a signed-in page that reads it), ``write`` (a signed-in ``+1``) and ``login``
(an anonymous visitor signs in). For each RTT and kind it prints the median and the 90th
percentile of the wall time in milliseconds and, for an added RTT, how many round trips
the request waited for: its median minus the median of the same kind without added latency
(the first row, always measured: this machine's own time per request), divided by the RTT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import statistics
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2
import redis

from benchmarks.asgi_inprocess import COOKIE, build_app
from sessionary.stores import AsyncRedisStore

KINDS = ("anonymous", "read", "write", "login")
_CHUNK = 65536


# ------------------------------------------------------------------ the added-latency proxy
async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay_s`` after it arrived, in order."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def receive() -> None:
        while data := await reader.read(_CHUNK):
            queue.put_nowait((time.monotonic() + delay_s, data))
        queue.put_nowait((0.0, b""))

    receiving = asyncio.create_task(receive())
    try:
        while True:
            due, data = await queue.get()
            if not data:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
    finally:
        receiving.cancel()
        with contextlib.suppress(Exception):
            writer.close()


@dataclass
class LatencyProxy:
    """A TCP proxy on 127.0.0.1 delaying each direction by half of ``rtt_ms``."""

    upstream: tuple[str, int]
    rtt_ms: float
    port: int = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        one_way = self.rtt_ms / 2000
        with contextlib.suppress(asyncio.CancelledError):  # the proxy stopping
            await asyncio.gather(
                _pump(reader, up_writer, one_way),
                _pump(up_reader, writer, one_way),
                return_exceptions=True,
            )

    @contextlib.contextmanager
    def running(self) -> Iterator[int]:
        """Serve on a thread of its own (its own event loop); yields the port."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        server: list[asyncio.Server] = []

        async def start() -> None:
            server.append(await asyncio.start_server(self._serve, "127.0.0.1", 0))
            self.port = server[0].sockets[0].getsockname()[1]
            started.set()

        thread = threading.Thread(target=loop.run_forever, name="latency-proxy", daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(start(), loop).result(10)
        started.wait(10)
        try:
            yield self.port
        finally:

            async def stop() -> None:
                server[0].close()
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

            asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()


# ------------------------------------------------------------------ the application
# The in-process benchmark's application: /anonymous, /read, /write (+1), /login.


def _via(redis_url: str, port: int) -> str:
    parts = urlsplit(redis_url)
    auth = parts.netloc.rpartition("@")[0]
    netloc = f"{auth}@127.0.0.1:{port}" if auth else f"127.0.0.1:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@contextlib.asynccontextmanager
async def _client(app: Any) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="https://app.example") as c:
        yield c


async def _sign_in(client: httpx2.AsyncClient) -> str:
    response = await client.post("/login")
    cookie = response.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
    client.cookies.clear()
    return cookie


async def _time_kind(
    client: httpx2.AsyncClient, kind: str, cookie: str, requests: int
) -> list[float]:
    headers = {"Cookie": f"{COOKIE}={cookie}"}
    times = []
    for _ in range(requests):
        client.cookies.clear()
        started = time.perf_counter()
        if kind == "anonymous":
            response = await client.get("/anonymous")
        elif kind == "read":
            response = await client.get("/read", headers=headers)
        elif kind == "write":
            response = await client.post("/write", headers=headers)
        else:
            response = await client.post("/login")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return times


async def measure(
    redis_url: str, rtt_ms: float, requests: int, prefix: str
) -> dict[str, list[float]]:
    """Wall-clock milliseconds of ``requests`` requests of each kind, through the proxy."""
    host = urlsplit(redis_url).hostname or "127.0.0.1"
    port = urlsplit(redis_url).port or 6379
    with LatencyProxy((host, port), rtt_ms).running() as proxy_port:
        store = AsyncRedisStore.from_url(_via(redis_url, proxy_port), prefix=prefix, timeout=10)
        try:
            async with _client(build_app(store)) as client:
                cookie = await _sign_in(client)
                for kind in KINDS:  # warm up: connections, scripts, the store's clock
                    await _time_kind(client, kind, cookie, 2)
                return {kind: await _time_kind(client, kind, cookie, requests) for kind in KINDS}
        finally:
            await store.aclose()


def _cleanup(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    """Print the table (see the module)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rtt-ms", default="0,20,80", help="comma-separated RTTs to add")
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args(argv)
    rtts = [0.0, *(rtt for value in args.rtt_ms.split(",") if (rtt := float(value)) > 0)]
    prefix = f"bench-region-{secrets.token_hex(3)}"
    print(f"{'RTT ms':>7} {'request':>10} {'p50 ms':>8} {'p90 ms':>8} {'round trips':>12}")
    base: dict[str, float] = {}
    try:
        for rtt in rtts:
            figures = asyncio.run(measure(args.redis_url, rtt, args.requests, prefix))
            for kind in KINDS:
                times = sorted(figures[kind])
                p50 = statistics.median(times)
                p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
                base.setdefault(kind, p50)
                trips = f"{(p50 - base[kind]) / rtt:.2f}" if rtt else "-"
                print(f"{rtt:7g} {kind:>10} {p50:8.1f} {p90:8.1f} {trips:>12}")
    finally:
        _cleanup(args.redis_url, prefix)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
