"""Redis memory of one session created by a browser login through the ASGI adapter.

docs/benchmarks.md (*Hot-path changes*): a login sent with a desktop Chrome ``User-Agent``
records the device in the session hash; the field must stay small enough for Redis's
compact hash encoding (``hash-max-listpack-value``, 64 bytes by default)::

    python -m benchmarks.micro.browser_login_memory --redis-url redis://127.0.0.1:6379/0

prints, for ``--sessions`` logins of one user, the ``MEMORY USAGE`` and encoding of each
session hash (their mean), the growth of the user's index per session, and the size of
each field's value in one session hash. Every key it
created is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import uuid
from collections.abc import MutableMapping
from typing import Any

import redis
import redis.asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from benchmarks._variants import PROFILE, USER
from benchmarks.micro._timing import DEFAULT_REDIS_URL
from sessionary import NullObserver, SessionConfig
from sessionary.integrations.asgi import SessionMiddleware, get_session
from sessionary.stores import AsyncRedisStore

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


async def _login(request: Request) -> PlainTextResponse:
    session = get_session(request)
    session.login(USER)
    session["count"] = 0
    session["profile"] = PROFILE
    return PlainTextResponse("ok")


async def _log_in(app: SessionMiddleware) -> None:
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "https",
        "path": "/login",
        "headers": [(b"host", b"bench"), (b"user-agent", CHROME.encode())],
        "client": ("203.0.113.7", 50000),
    }
    statuses: list[int] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(int(message["status"]))

    await app(scope, receive, send)
    assert statuses == [200], statuses


async def measure(url: str, sessions: int) -> dict[str, object]:
    """Mean ``MEMORY USAGE`` of a session hash, its encodings, index bytes per session."""
    prefix = f"mem-{uuid.uuid4().hex[:8]}"
    client = redis.asyncio.Redis.from_url(url)
    store = AsyncRedisStore(client, prefix=prefix)
    config = SessionConfig(secret_keys=[secrets.token_bytes(32)])
    app = SessionMiddleware(
        Starlette(routes=[Route("/login", _login, methods=["POST"])]),
        store=store,
        config=config,
        observer=NullObserver(),
    )
    admin = redis.Redis.from_url(url)
    try:
        for _ in range(sessions):
            await _log_in(app)
        hashes: list[bytes] = []
        others: list[bytes] = []
        for key in admin.scan_iter(match=f"{prefix}*"):
            (hashes if admin.type(key) == b"hash" else others).append(key)
        usage: list[int] = [int(admin.memory_usage(key, samples=0) or 0) for key in hashes]
        encodings = sorted({admin.object("encoding", key).decode() for key in hashes})
        fields: dict[bytes, bytes] = admin.hgetall(hashes[0])  # type: ignore[assignment]
        sizes = {
            name.decode("latin-1").replace("\xff", "\\xff"): len(value)
            for name, value in fields.items()
        }
        index = sum([int(admin.memory_usage(key, samples=0) or 0) for key in others])
        return {
            "hashes": len(hashes),
            "mean": sum(usage) / len(usage),
            "encodings": encodings,
            "other_keys_per_session": index / sessions,
            "fields": sizes,
        }
    finally:
        for key in admin.scan_iter(match=f"{prefix}*"):
            admin.delete(key)
        admin.close()
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--sessions", type=int, default=10)
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.redis_url, args.sessions))
    print(
        f"session hash: {result['mean']:.0f} B MEMORY USAGE on average over {result['hashes']} "
        f"({', '.join(result['encodings'])}); "  # type: ignore[arg-type]
        f"other keys: {result['other_keys_per_session']:.0f} B per session"
    )
    fields = result["fields"]
    assert isinstance(fields, dict)
    print(
        "fields of one session hash (value bytes): "
        + ", ".join(
            f"{name} {size} B" for name, size in sorted(fields.items(), key=lambda kv: -kv[1])
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
