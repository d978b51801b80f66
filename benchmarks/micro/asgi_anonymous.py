"""CPU per anonymous request (no cookie, the session untouched) through Starlette.

docs/benchmarks.md (*Hot-path changes*): the ASGI middleware's path for a request without
a session cookie. One ``GET`` route answering ``ok``, called in-process
(``await app(scope, receive, send)``), bare and behind each session middleware::

    python -m benchmarks.micro.asgi_anonymous --calls 20000 --repeat 5

prints CPU µs per request for each (best of ``--repeat`` runs of ``--calls`` requests) and
the difference to the bare application.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteCookieSessions
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from benchmarks._harness import CookieJar, asgi_request
from benchmarks.micro._timing import best_cpu_us
from sessionary import NullObserver, SessionConfig
from sessionary.integrations.asgi import SessionMiddleware
from sessionary.stores import AsyncMemoryStore

Build = Callable[[], Any]


async def _anonymous(_: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def _app(*middleware: Middleware) -> Starlette:
    return Starlette(routes=[Route("/anonymous", _anonymous)], middleware=list(middleware))


def _sessionary() -> Starlette:
    config = SessionConfig(secret_keys=[secrets.token_bytes(32)])
    return _app(
        Middleware(
            SessionMiddleware, store=AsyncMemoryStore(), config=config, observer=NullObserver()
        )
    )


def _starlette_cookie() -> Starlette:
    return _app(Middleware(StarletteCookieSessions, secret_key=secrets.token_hex(32)))


APPS: dict[str, Build] = {
    "bare": _app,
    "sessionary": _sessionary,
    "starlette-cookie": _starlette_cookie,
}


async def measure(*, calls: int, repeat: int) -> dict[str, float]:
    """CPU µs per anonymous request of each application."""
    results = {}
    for name, build in APPS.items():
        app = build()
        jar = CookieJar()

        async def once(app: Any = app, jar: CookieJar = jar) -> None:
            reply = await asgi_request(app, "GET", "/anonymous", jar)
            assert reply.status == 200
            assert not reply.set_cookies

        results[name] = await best_cpu_us(once, calls=calls, repeat=repeat)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    results = asyncio.run(measure(calls=args.calls, repeat=args.repeat))
    bare = results["bare"]
    for name, micros in results.items():
        print(f"{name}: {micros:.1f} µs per request ({micros - bare:+.1f} µs vs bare)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
