"""The ASGI variants: Starlette applications with each session library (or none).

* ``no-session``: the same routes, no session at all (the baseline).
* ``sessionary-memory`` / ``sessionary-redis``: :mod:`sessionary.integrations.asgi`.
* ``sessionary-redis-cached``: the same over ``AsyncCachingStore`` (the local cache in front
  of Redis, docs/cache.md; default staleness bound), with its own key prefix.
* ``starsessions-redis``: starsessions' middleware and its ``RedisStore``.
* ``starlette-cookie``: Starlette's signed-cookie ``SessionMiddleware`` (client side).
* ``raw-redis-py``: no middleware; each handler does the minimal Redis work by hand with an
  opaque ID cookie (``HGETALL``; ``HSET`` + ``EXPIRE`` in one pipeline to write).
"""

from __future__ import annotations

import asyncio
import inspect
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import redis
import redis.asyncio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteCookieSessions
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from tests.redis_counting import AsyncCountingRedis

from benchmarks._harness import Counters
from benchmarks._variants import PROFILE, RACE_PAUSE_S, RAW_TTL_S, USER, Variant
from sessionary import NullObserver, SessionConfig
from sessionary.backends.redis._async.cache import DEFAULT_STALENESS_MS
from sessionary.config import CookieOptions
from sessionary.integrations.asgi import SessionMiddleware, get_session, load_session
from sessionary.stores import AsyncCachingStore, AsyncMemoryStore, AsyncRedisStore
from sessionary.stores.base import AsyncSessionStore

Handler = Callable[[Request], Awaitable[Response]]
SessionOf = Callable[[Request], Awaitable[MutableMapping[str, Any]]]
Hook = Callable[[Request, MutableMapping[str, Any]], Awaitable[None] | None]


def _ok() -> PlainTextResponse:
    return PlainTextResponse("ok")


_PATHS = (
    ("/anonymous", "GET"),
    ("/read", "GET"),
    ("/write", "POST"),
    ("/login", "POST"),
    ("/race/write", "POST"),
    ("/race/logout", "POST"),
    ("/dump", "GET"),
    ("/fill", "POST"),
)


def routes(*handlers: Handler) -> list[Route]:
    """The benchmark's routes, handlers given in :mod:`benchmarks._variants`' table order."""
    return [
        Route(path, handler, methods=[method])
        for (path, method), handler in zip(_PATHS, handlers, strict=True)
    ]


async def _call(hook: Hook, request: Request, session: MutableMapping[str, Any]) -> None:
    """Run a login/logout hook; a library whose rotation API is a coroutine gives one."""
    result = hook(request, session)
    if inspect.isawaitable(result):
        await result


def session_routes(session_of: SessionOf, login: Hook, logout: Hook) -> list[Route]:
    """The benchmark routes over a library's session, given how to get, rotate and end it."""

    async def anonymous(_: Request) -> Response:
        return _ok()

    async def read(request: Request) -> Response:
        session = await session_of(request)
        return PlainTextResponse(str(session.get("count", 0)))

    async def write(request: Request) -> Response:
        session = await session_of(request)
        session["count"] = session.get("count", 0) + 1
        return PlainTextResponse(str(session["count"]))

    async def do_login(request: Request) -> Response:
        session = await session_of(request)
        await _call(login, request, session)
        session["count"] = 0
        session["profile"] = PROFILE
        return _ok()

    async def race_write(request: Request) -> Response:
        session = await session_of(request)
        session.get("count")
        await asyncio.sleep(RACE_PAUSE_S)
        session[request.query_params["k"]] = 1
        return _ok()

    async def race_logout(request: Request) -> Response:
        session = await session_of(request)
        session.get("count")
        await asyncio.sleep(RACE_PAUSE_S)
        await _call(logout, request, session)
        return _ok()

    async def dump(request: Request) -> Response:
        session = await session_of(request)
        return PlainTextResponse(",".join(sorted(session)))

    async def fill(request: Request) -> Response:
        session = await session_of(request)
        session["data"] = "x" * int(request.query_params["n"])
        return _ok()

    return routes(anonymous, read, write, do_login, race_write, race_logout, dump, fill)


def _baseline_routes() -> list[Route]:
    async def constant(_: Request) -> Response:
        return _ok()

    return [
        Route(path, constant, methods=["GET", "POST"])
        for path in ("/anonymous", "/read", "/write", "/login")
    ]


# ------------------------------------------------------------------------- sessionary
async def _scope_session(request: Request) -> MutableMapping[str, Any]:
    return await load_session(request)  # lazy=True: loaded when a route asks


def _sessionary_login(request: Request, _: MutableMapping[str, Any]) -> None:
    get_session(request).login(USER)


def _sessionary_logout(request: Request, _: MutableMapping[str, Any]) -> None:
    get_session(request).logout()


def sessionary_app(store: AsyncSessionStore, *, lazy: bool = True) -> SessionMiddleware:
    """Starlette inside sessionary's ASGI middleware (``lazy``: loaded on first use)."""
    app = Starlette(routes=session_routes(_scope_session, _sessionary_login, _sessionary_logout))
    config = SessionConfig(secret_keys=[secrets.token_bytes(32)], cookie=CookieOptions())
    return SessionMiddleware(app, store=store, config=config, observer=NullObserver(), lazy=lazy)


async def sessionary_variants(
    url: str, prefix: str, admin: redis.Redis, staleness_ms: float = DEFAULT_STALENESS_MS
) -> list[Variant]:
    """sessionary with the memory store, the Redis store, and the Redis store cached."""
    return [
        Variant(
            "sessionary-memory",
            "starlette",
            "asgi",
            sessionary_app(AsyncMemoryStore()),
            Counters(admin),
            server_side=True,
        ),
        await _redis_variant("sessionary-redis", url, f"sya-{prefix}", admin),
        await _redis_variant(
            "sessionary-redis-cached", url, f"syc-{prefix}", admin, cached=staleness_ms
        ),
    ]


async def _redis_variant(
    name: str, url: str, key_prefix: str, admin: redis.Redis, *, cached: float | None = None
) -> Variant:
    """The Redis store, or (``cached``: the staleness bound in ms) the local cache over it."""
    client = AsyncCountingRedis.from_url(url)
    assert isinstance(client, AsyncCountingRedis)
    inner = AsyncRedisStore(client, prefix=key_prefix)
    await inner.warm_up()
    store: AsyncSessionStore = (
        inner if cached is None else AsyncCachingStore(inner, staleness_ms=cached)
    )
    return Variant(
        name,
        "starlette",
        "asgi",
        sessionary_app(store),
        # Round trips on the store's own client. With the cache, the tracking connection's
        # pings (left out of the command count, like every PING) and the invalidations
        # Redis pushes to it are in the server's CPU figure.
        Counters(admin, lambda: client.round_trips),
        server_side=True,
        closers=[client.aclose] if cached is None else [store.aclose, client.aclose],
        redis_prefix=key_prefix,
    )


# ----------------------------------------------------------------------- starsessions
def starsessions_variant(url: str, prefix: str, admin: redis.Redis) -> Variant:
    """starsessions (explicit ``load_session``) with its Redis store."""
    from starsessions import (  # noqa: PLC0415 - optional dependency
        SessionMiddleware as StarSessions,
    )
    from starsessions import is_loaded, load_session, regenerate_session_id  # noqa: PLC0415
    from starsessions.stores.redis import RedisStore  # noqa: PLC0415

    client = AsyncCountingRedis.from_url(url)
    assert isinstance(client, AsyncCountingRedis)

    async def session_of(request: Request) -> MutableMapping[str, Any]:
        if not is_loaded(request):
            await load_session(request)
        return request.session

    def login(request: Request, session: MutableMapping[str, Any]) -> None:
        regenerate_session_id(request)
        session["user"] = USER

    def logout(_: Request, session: MutableMapping[str, Any]) -> None:
        session.clear()

    app = Starlette(
        routes=session_routes(session_of, login, logout),
        middleware=[
            Middleware(
                StarSessions,
                store=RedisStore(connection=client, prefix=f"sss-{prefix}:"),
                lifetime=RAW_TTL_S,
                rolling=True,
            )
        ],
    )
    return Variant(
        "starsessions-redis",
        "starlette",
        "asgi",
        app,
        Counters(admin, lambda: client.round_trips),
        server_side=True,
        closers=[client.aclose],
        redis_prefix=f"sss-{prefix}",
    )


# -------------------------------------------------------------------- Starlette cookie
def starlette_cookie_variant(admin: redis.Redis) -> Variant:
    """Starlette's own signed-cookie sessions (no server-side state)."""

    async def session_of(request: Request) -> MutableMapping[str, Any]:
        return request.session

    def login(_: Request, session: MutableMapping[str, Any]) -> None:
        session["user"] = USER  # nothing to rotate: the whole session is the cookie

    def logout(_: Request, session: MutableMapping[str, Any]) -> None:
        session.clear()

    app = Starlette(
        routes=session_routes(session_of, login, logout),
        middleware=[Middleware(StarletteCookieSessions, secret_key=secrets.token_hex(32))],
    )
    return Variant("starlette-cookie", "starlette", "asgi", app, Counters(admin), False)


# ------------------------------------------------------------------------ raw redis-py
def raw_variant(url: str, prefix: str, admin: redis.Redis) -> Variant:
    """Handlers doing the minimal Redis work by hand: the practical limit."""
    client = AsyncCountingRedis.from_url(url)
    assert isinstance(client, AsyncCountingRedis)
    cookie = "sid"

    def key_of(request: Request) -> str | None:
        sid = request.cookies.get(cookie)
        return f"raa-{prefix}:{sid}" if sid else None

    async def load(request: Request) -> dict[bytes, bytes]:
        key = key_of(request)
        return dict(await client.hgetall(key)) if key else {}  # type: ignore[arg-type]

    async def store(key: str, fields: dict[Any, Any]) -> None:
        async with client.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.expire(key, RAW_TTL_S)
            await pipe.execute()
        client.sent.append("PIPELINE")  # pipelines bypass execute_command: one round trip

    async def anonymous(_: Request) -> Response:
        return _ok()

    async def read(request: Request) -> Response:
        data = await load(request)
        return PlainTextResponse(data.get(b"count", b"0").decode())

    async def write(request: Request) -> Response:
        key = key_of(request)
        assert key is not None
        data = await client.hgetall(key)
        count = int(data.get(b"count", b"0")) + 1
        await store(key, {"count": count})
        return PlainTextResponse(str(count))

    async def login(request: Request) -> Response:
        old = key_of(request)
        data = await client.hgetall(old) if old else {}
        sid = secrets.token_urlsafe(32)
        fields: dict[Any, Any] = dict(data)
        fields.update({"user": USER, "count": 0, "profile": repr(PROFILE)})
        key = f"raa-{prefix}:{sid}"
        async with client.pipeline(transaction=False) as pipe:
            if old:
                pipe.delete(old)
            pipe.hset(key, mapping=fields)
            pipe.expire(key, RAW_TTL_S)
            await pipe.execute()
        client.sent.append("PIPELINE")
        response = _ok()
        response.set_cookie(cookie, sid, httponly=True, secure=True, samesite="lax")
        return response

    async def race_write(request: Request) -> Response:
        key = key_of(request)
        assert key is not None
        await client.hgetall(key)
        await asyncio.sleep(RACE_PAUSE_S)
        await store(key, {request.query_params["k"]: 1})
        return _ok()

    async def race_logout(request: Request) -> Response:
        key = key_of(request)
        assert key is not None
        await client.hgetall(key)
        await asyncio.sleep(RACE_PAUSE_S)
        await client.delete(key)
        response = _ok()
        response.delete_cookie(cookie)
        return response

    async def dump(request: Request) -> Response:
        data = await load(request)
        return PlainTextResponse(",".join(sorted(k.decode() for k in data)))

    async def fill(request: Request) -> Response:
        key = key_of(request)
        assert key is not None
        await store(key, {"data": "x" * int(request.query_params["n"])})
        return _ok()

    app = Starlette(
        routes=routes(anonymous, read, write, login, race_write, race_logout, dump, fill)
    )
    return Variant(
        "raw-redis-py",
        "starlette",
        "asgi",
        app,
        Counters(admin, lambda: client.round_trips),
        server_side=True,
        closers=[client.aclose],
        raw=True,
        redis_prefix=f"raa-{prefix}",
    )


def baseline_variant(admin: redis.Redis) -> Variant:
    """Starlette with no session at all."""
    app = Starlette(routes=_baseline_routes())
    return Variant("no-session", "starlette", "asgi", app, Counters(admin), False, baseline=True)


async def asgi_variants(
    url: str, prefix: str, admin: redis.Redis, staleness_ms: float = DEFAULT_STALENESS_MS
) -> list[Variant]:
    """Every ASGI variant, baseline first (``staleness_ms``: the cached variant's bound)."""
    return [
        baseline_variant(admin),
        *await sessionary_variants(url, prefix, admin, staleness_ms),
        starsessions_variant(url, prefix, admin),
        starlette_cookie_variant(admin),
        raw_variant(url, prefix, admin),
    ]
