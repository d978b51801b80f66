"""A second application instance for the cache tests: reads one cookie in a loop.

Run as ``python -m tests.cache_reader URL PREFIX SECRET_HEX COOKIE SECONDS BOUND_MS [MODE]``:
it builds its own ``CachingStore`` and ``SessionManager`` (the same secret as the test's),
reads until the session is served from its cache, prints ``READY``, waits for a line on its
standard input (so that several readers start together), then reads for ``SECONDS`` and
prints one line per read: the read's start (``time.monotonic()``, the same clock in
every process on the machine) and the user it found, or ``-``.

``MODE`` ``write``: before reading, the reader writes ``n = "mine"`` into the session itself,
and each line has the value of ``n`` it found instead of the user; a last line
``STATS <hits> <filled> <loads from Redis>`` counts how its reads were answered.
"""

from __future__ import annotations

import sys
import time

from sessionary import SessionManager
from sessionary.stores import CachingStore, RedisStore
from sessionary.testing import session_config


def main(
    url: str,
    prefix: str,
    secret: str,
    cookie: str,
    seconds: str,
    bound_ms: str,
    mode: str = "user",
) -> None:
    store = CachingStore(RedisStore.from_url(url, prefix=prefix), staleness_ms=float(bound_ms))
    manager = SessionManager(store, session_config(secret_keys=[bytes.fromhex(secret)]))
    header = f"{manager.config.cookie.name}={cookie}"

    def read() -> str:
        cycle = manager.open([header])
        found = cycle.session.user_id if mode == "user" else cycle.session.get("n")
        manager.commit(cycle)
        return "-" if found is None else str(found)

    deadline = time.monotonic() + 10
    while not store.stats.get("hit") and time.monotonic() < deadline:
        read()
    print("READY" if store.stats.get("hit") else "NEVER-HIT", flush=True)
    sys.stdin.readline()
    if mode == "write":
        cycle = manager.open([header])
        cycle.session["n"] = "mine"
        manager.commit(cycle)
    lines = []
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        started = time.monotonic()
        lines.append(f"{started:.6f} {read()}")
    if mode == "write":
        stats = store.stats
        loads = sum(stats.get(k, 0) for k in ("miss", "miss_touch", "bypass"))
        lines.append(f"STATS {stats.get('hit', 0)} {stats.get('filled', 0)} {loads}")
    print("\n".join(lines), flush=True)
    store.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
