"""redis-py's CPU per ``PING``, one call at a time against ten at a time.

docs/benchmarks.md (*Read*): awaiting calls one by one costs the event loop a park and a
wake-up per call; ten concurrent calls (``asyncio.gather``) share them. ::

    python -m benchmarks.micro.ping_loop --redis-url redis://127.0.0.1:6390/0

prints CPU µs per call for both: the best of ``--repeat`` runs of ``--calls`` calls.
"""

from __future__ import annotations

import asyncio

import redis.asyncio

from benchmarks.micro._timing import best_cpu_us, run_micro


async def measure(url: str, *, calls: int, repeat: int, batch: int) -> dict[str, float]:
    """CPU µs per ``PING``: sequential, and ``batch`` at a time."""
    client = redis.asyncio.Redis.from_url(url)
    try:

        async def one() -> None:
            await client.ping()

        async def several() -> None:
            await asyncio.gather(*(client.ping() for _ in range(batch)))

        rounds = max(1, calls // batch)
        return {
            "one at a time": await best_cpu_us(one, calls=calls, repeat=repeat),
            f"{batch} at a time": await best_cpu_us(
                several, calls=rounds, repeat=repeat, per_call=batch
            ),
        }
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    options = {"batch": 10}
    return run_micro(
        argv, __doc__, measure, options=options, label="PING, {name}", unit="µs CPU per call"
    )


if __name__ == "__main__":
    raise SystemExit(main())
