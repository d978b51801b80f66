"""The CPU cost of record authentication per read and per write (the record MAC).

Every record the core reads is checked against its keyed BLAKE2b MAC
(:mod:`sessionary.sansio.record_auth`) and every write seals the next version. This times
that work alone, on the record the ``cpu`` section of ``benchmarks.compare`` uses (the
benchmark's logged-in session: a user, a counter and a small profile, device information
from a browser login), through the core's own code (``ServerRecord``)::

    python -m benchmarks.micro.record_auth --calls 20000

prints µs per read (one check) and per write (the check of the record read, then the seal
of the version written): the best of ``--repeat`` runs of ``--calls`` calls.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from collections.abc import Callable

from benchmarks._cpu import logged_in_load
from sessionary import AsyncSessionManager, SessionConfig
from sessionary.config import CookieOptions
from sessionary.sansio.ops import StoredSession
from sessionary.sansio.server_record import ServerRecord
from sessionary.stores import AsyncMemoryStore


async def _logged_in_record() -> tuple[ServerRecord, StoredSession]:
    """The benchmark's logged-in record, as the memory store returns it, and the record side
    of a request that found it (same key ring, storage key and generation)."""
    config = SessionConfig(secret_keys=[secrets.token_bytes(32)], cookie=CookieOptions())
    store = AsyncMemoryStore()
    load = await logged_in_load(store, config)  # creates it through a real manager
    found = await store.load(load)
    assert found.record is not None
    core = AsyncSessionManager(store, config).core
    record = ServerRecord(core, key=load.key)
    if not record.authentic(found.record):
        raise AssertionError("the benchmark's record must carry its own MAC")
    return record, found.record


def _best_us(body: Callable[[], object], *, calls: int, repeat: int) -> float:
    for _ in range(min(200, calls)):
        body()
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(calls):
            body()
        best = min(best, (time.process_time() - started) / calls)
    return best * 1e6


def measure(*, calls: int, repeat: int) -> dict[str, float]:
    """CPU µs per read and per write spent on the record MAC."""
    record, stored = asyncio.run(_logged_in_record())
    changed = {"count": b"1"}

    def read() -> None:
        record.authentic(stored)

    def write() -> None:
        record.authentic(stored)
        record.seal_update(
            stored,
            changed,
            (),
            digest=stored.meta.digest,
            deadline=None,
            user=None,
            auth_time=None,
            binding=None,
        )

    return {
        "read": _best_us(read, calls=calls, repeat=repeat),
        "write": _best_us(write, calls=calls, repeat=repeat),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    for name, micros in measure(calls=args.calls, repeat=args.repeat).items():
        print(f"record MAC per {name}: {micros:.2f} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
