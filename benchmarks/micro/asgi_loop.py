"""Starlette requests through sessionary's ASGI middleware, a fixed number, for instruction counts.

The whole request as ``benchmarks.compare`` sends it (the same Starlette app, routes and
in-process ASGI client), against the memory store so that no network wait or Redis work is
counted: what the adapter, the core and the manager execute per request. Like
:mod:`benchmarks.micro.core_loop`, run it twice under ``valgrind`` and subtract::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python -m benchmarks.micro.asgi_loop read 1200
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python -m benchmarks.micro.asgi_loop read 200

The difference of the two "Collected" totals divided by 1 000 is the instructions per request.
``--eager`` mounts the middleware without ``lazy=True`` (the default configuration; the
benchmark's variant loads lazily so that its "untouched" workload makes no store call).
"""

from __future__ import annotations

import argparse
import asyncio

from benchmarks import _asgi_variants
from benchmarks._harness import CookieJar, asgi_request
from sessionary._async.memory import AsyncMemoryStore

ROUTES = {
    "anonymous": ("GET", "/anonymous"),
    "untouched": ("GET", "/anonymous"),  # the signed-in cookie on a route that never reads
    "read": ("GET", "/read"),
    "write": ("POST", "/write"),
    "login": ("POST", "/login"),
}
WORKLOADS = tuple(ROUTES)


async def run(workload: str, requests: int, *, eager: bool = False) -> None:
    """``requests`` requests of ``workload``, each answered 200 (one sign-in first)."""
    app = _asgi_variants.sessionary_app(AsyncMemoryStore(), lazy=not eager)
    jar = CookieJar()
    if workload != "anonymous":
        await asgi_request(app, "POST", "/login", jar)
    method, path = ROUTES[workload]
    for _ in range(requests):
        reply = await asgi_request(
            app, method, path, CookieJar() if workload == "anonymous" else jar
        )
        if reply.status != 200:
            msg = f"{method} {path}: HTTP {reply.status}"
            raise RuntimeError(msg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("workload", choices=WORKLOADS)
    parser.add_argument("requests", type=int)
    parser.add_argument("--eager", action="store_true", help="mount without lazy=True")
    args = parser.parse_args(argv)
    asyncio.run(run(args.workload, args.requests, eager=args.eager))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
