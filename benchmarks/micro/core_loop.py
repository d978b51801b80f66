"""A fixed number of requests through the core and the manager, for instruction counts.

``time.process_time`` on a shared machine is noisy; the number of instructions a request
executes is not. This runs ``REQUESTS`` requests of one workload against the stub store of
``benchmarks._cpu`` (no Redis, no framework), so that ``valgrind`` can count them::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python -m benchmarks.micro.core_loop anonymous 1200
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python -m benchmarks.micro.core_loop anonymous 200

The difference of the two "Collected" totals divided by 1 000 is the instructions per request
(start-up cancels out).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets

from benchmarks._cpu import _stub_and_cookie, _use
from sessionary import NullObserver, SessionConfig
from sessionary._async.manager import AsyncSessionManager
from sessionary.config import CookieOptions

WORKLOADS = ("anonymous", "read", "write", "login")


async def run(workload: str, requests: int) -> None:
    """``requests`` requests of ``workload`` (each: open, use the session, commit)."""
    config = SessionConfig(secret_keys=[secrets.token_bytes(32)], cookie=CookieOptions())
    stub, cookie = await _stub_and_cookie(config)
    manager = AsyncSessionManager(stub, config, observer=NullObserver())
    cookies = [] if workload == "anonymous" else [cookie]
    for index in range(requests):
        cycle = await manager.open(cookies, client="127.0.0.1")
        _use(workload, cycle.session, index)
        await manager.commit(cycle)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("workload", choices=WORKLOADS)
    parser.add_argument("requests", type=int)
    args = parser.parse_args(argv)
    asyncio.run(run(args.workload, args.requests))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
