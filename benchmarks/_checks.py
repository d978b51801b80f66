"""Correctness under concurrency and Redis memory per session, for every server-side variant.

* **Lost updates**: one session, 50 requests at once, each reading the session, pausing
  (the handler's work) and setting its *own* key. Every acknowledged key should be there
  afterwards; each missing one is a lost update.
* **Resurrections**: one session, writers racing a logout (all read, pause, then write or
  end the session). Afterwards the *old* cookie must find no session; when it finds one,
  a writer brought the logged-out session back.
* **Memory**: ``MEMORY USAGE`` of the keys one logged-in session with an ``n``-byte value
  creates, against the JSON size of the session's data (the payload).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import orjson
import redis

from benchmarks._harness import CookieJar, Reply, asgi_request, wsgi_request
from benchmarks._variants import PROFILE, USER, Variant

RACE_WRITERS = 50


class Driver:
    """Sends requests to ASGI variants directly and to WSGI variants on worker threads."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self.pool = pool

    async def send(self, variant: Variant, method: str, path: str, jar: CookieJar) -> Reply:
        """One request, concurrent with the caller's other requests."""
        if variant.interface == "asgi":
            return await asgi_request(variant.app, method, path, jar)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, wsgi_request, variant.app, method, path, jar)


@contextmanager
def driver() -> Iterator[Driver]:
    """A driver with enough threads for the widest race."""
    with ThreadPoolExecutor(max_workers=RACE_WRITERS + 8) as pool:
        yield Driver(pool)


@dataclass
class RaceRow:
    """Race outcomes of one variant."""

    variant: str
    framework: str
    writes: int
    acknowledged: int
    lost_updates: int
    logout_trials: int
    resurrections: int


async def _keys(drive: Driver, variant: Variant, jar: CookieJar) -> set[str]:
    body = (await drive.send(variant, "GET", "/dump", jar.copy())).body.decode()
    return {k for k in body.split(",") if k}


async def lost_updates(drive: Driver, variant: Variant) -> tuple[int, int]:
    """(acknowledged writes, lost ones) for 50 concurrent writers of distinct keys."""
    jar = CookieJar()
    await drive.send(variant, "POST", "/login", jar)
    names = [f"race-{i:02d}" for i in range(RACE_WRITERS)]
    replies = await asyncio.gather(
        *(drive.send(variant, "POST", f"/race/write?k={n}", jar.copy()) for n in names)
    )
    acknowledged = {n for n, r in zip(names, replies, strict=True) if r.status == 200}
    present = await _keys(drive, variant, jar)
    return len(acknowledged), len(acknowledged - present)


async def resurrections(drive: Driver, variant: Variant, trials: int, writers: int) -> int:
    """Trials in which the session was found again with the old cookie after a logout."""
    found = 0
    for _ in range(trials):
        jar = CookieJar()
        await drive.send(variant, "POST", "/login", jar)
        requests = [
            drive.send(variant, "POST", f"/race/write?k=after-{i}", jar.copy())
            for i in range(writers)
        ]
        requests.insert(writers // 2, drive.send(variant, "POST", "/race/logout", jar.copy()))
        await asyncio.gather(*requests)
        if await _keys(drive, variant, jar):
            found += 1
    return found


async def race_rows(variants: list[Variant], trials: int, writers: int) -> list[RaceRow]:
    """Both races for every server-side variant."""
    rows = []
    with driver() as drive:
        for variant in variants:
            if not variant.server_side:
                continue
            acknowledged, lost = await lost_updates(drive, variant)
            resurrected = await resurrections(drive, variant, trials, writers)
            rows.append(
                RaceRow(
                    variant.name,
                    variant.framework,
                    RACE_WRITERS,
                    acknowledged,
                    lost,
                    trials,
                    resurrected,
                )
            )
    return rows


def _decode(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class MemoryRow:
    """Redis memory of one session of one variant."""

    variant: str
    framework: str
    payload_bytes: int
    memory_usage_bytes: int
    keys: int
    """Keys created or grown by the session."""
    encoding: str
    """Encoding of the keys it created."""

    @property
    def overhead_bytes(self) -> int:
        """Bytes beyond the payload."""
        return self.memory_usage_bytes - self.payload_bytes


def payload_size(fill: int) -> int:
    """JSON size of the data a logged-in benchmark session holds with an ``fill``-byte value."""
    data = {"user": USER, "count": 0, "profile": PROFILE, "data": "x" * fill}
    return len(orjson.dumps(data))


def _usage(admin: redis.Redis, pattern: str) -> dict[bytes, int]:
    return {
        key: int(admin.memory_usage(key, samples=0) or 0)
        for key in admin.scan_iter(match=pattern, count=1000)
    }


async def memory_rows(
    variants: list[Variant], admin: redis.Redis, sizes: tuple[int, ...]
) -> list[MemoryRow]:
    """Memory per session for every variant that keeps sessions in Redis.

    The user already has a session (so a per-user structure, such as sessionary's user
    index, exists); each measured session's figure is the growth of *all* the variant's
    keys, so per-user and per-bucket entries a session adds are counted with it.
    """
    rows = []
    with driver() as drive:
        for variant in variants:
            if variant.redis_prefix is None:
                continue
            pattern = f"{variant.redis_prefix}:*"
            server = variant.counters.admin or admin  # a variant may run on its own server
            await drive.send(variant, "POST", "/login", CookieJar())  # the user's first session
            for size in sizes:
                before = _usage(server, pattern)
                jar = CookieJar()
                await drive.send(variant, "POST", "/login", jar)
                await drive.send(variant, "POST", f"/fill?n={size}", jar)
                after = _usage(server, pattern)
                new = set(after) - set(before)
                changed = new | {k for k in before if after.get(k) != before[k]}
                encodings = sorted({_decode(server.object("encoding", key)) for key in new})
                rows.append(
                    MemoryRow(
                        variant.name,
                        variant.framework,
                        payload_size(size),
                        sum(after.values()) - sum(before.values()),
                        len(changed),
                        "+".join(encodings),
                    )
                )
    return rows
