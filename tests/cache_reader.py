"""A second application instance for the cache tests: reads one cookie in a loop.

Run as ``python -m tests.cache_reader URL PREFIX SECRET_HEX COOKIE SECONDS BOUND_MS``: it
builds its own ``CachingStore`` and ``SessionManager`` (the same secret as the test's), reads
until the session is served from its cache, prints ``READY``, waits for a line on its
standard input (so that several readers start together), then reads for ``SECONDS`` and
prints one line per read: the read's start (``time.monotonic()``, the same clock in
every process on the machine) and the user it found, or ``-``.
"""

from __future__ import annotations

import sys
import time

from sessionary import SessionManager
from sessionary.stores import CachingStore, RedisStore
from sessionary.testing import session_config


def main(url: str, prefix: str, secret: str, cookie: str, seconds: str, bound_ms: str) -> None:
    store = CachingStore(RedisStore.from_url(url, prefix=prefix), staleness_ms=float(bound_ms))
    manager = SessionManager(store, session_config(secret_keys=[bytes.fromhex(secret)]))
    header = f"{manager.config.cookie.name}={cookie}"

    def read() -> str:
        cycle = manager.open([header])
        user = cycle.session.user_id
        manager.commit(cycle)
        return "-" if user is None else str(user)

    deadline = time.monotonic() + 10
    while not store.stats.get("hit") and time.monotonic() < deadline:
        read()
    print("READY" if store.stats.get("hit") else "NEVER-HIT", flush=True)
    sys.stdin.readline()
    lines = []
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        started = time.monotonic()
        lines.append(f"{started:.6f} {read()}")
    print("\n".join(lines), flush=True)
    store.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
