"""The Litestar variants: the benchmark's routes as Litestar handlers, with each session layer.

* ``no-session``: the same paths, no session (the baseline).
* ``sessionary-redis``: :mod:`sessionary.integrations.litestar` (``lazy=True``, as on
  Starlette).
* ``litestar-server-side-redis``: Litestar's own ``ServerSideSessionConfig`` on its
  ``RedisStore``. Litestar has no rotation call: login is ``clear_session()`` then
  ``set_session()``, which stores the data under a new ID and leaves the old record to
  expire; logout is ``clear_session()``.

Every handler reads the session through ``request.session`` (Litestar's own API; sessionary's
mounted ``lazy=True`` is loaded on that first use), so the same handlers serve both libraries.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, MutableMapping
from typing import Any

import redis
from litestar import Litestar, Request, Response, get, post
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.stores.redis import RedisStore as LitestarRedisStore
from tests.redis_counting import AsyncCountingRedis

from benchmarks._harness import Counters
from benchmarks._variants import PROFILE, RACE_PAUSE_S, RAW_TTL_S, USER, Variant
from sessionary import NullObserver, SessionConfig
from sessionary.config import CookieOptions
from sessionary.integrations.asgi import load_session
from sessionary.integrations.litestar import SessionaryConfig, SessionaryPlugin
from sessionary.sansio.session import Session
from sessionary.stores import AsyncRedisStore

AnyRequest = Request[Any, Any, Any]


def _text(value: object) -> Response[str]:
    return Response(str(value), media_type="text/plain")


async def _session_of(request: AnyRequest) -> MutableMapping[str, Any]:
    """``request.session``; sessionary's (``lazy=True``) is loaded on this first use."""
    value = request.session
    return await load_session(request) if isinstance(value, Session) else value


async def _read_and_pause(request: AnyRequest) -> MutableMapping[str, Any]:
    """The race routes: read the session, then the handler's work (a pause)."""
    session = await _session_of(request)
    session.get("count")
    await asyncio.sleep(RACE_PAUSE_S)
    return session


async def _login(request: AnyRequest) -> MutableMapping[str, Any]:
    session = await _session_of(request)
    if isinstance(session, Session):
        session.login(USER)
        return session
    request.clear_session()  # Litestar: a new ID on the next store, the old record expires
    request.set_session({**session, "user": USER})
    return request.session


@get("/anonymous")
async def anonymous() -> Response[str]:
    return _text("ok")


@get("/read")
async def read(request: AnyRequest) -> Response[str]:
    return _text((await _session_of(request)).get("count", 0))


@post("/write", status_code=200)
async def write(request: AnyRequest) -> Response[str]:
    session = await _session_of(request)
    session["count"] = session.get("count", 0) + 1
    return _text(session["count"])


@post("/login", status_code=200)
async def login(request: AnyRequest) -> Response[str]:
    session = await _login(request)
    session["count"] = 0
    session["profile"] = PROFILE
    return _text("ok")


@post("/race/write", status_code=200)
async def race_write(request: AnyRequest) -> Response[str]:
    session = await _read_and_pause(request)
    session[request.query_params["k"]] = 1
    return _text("ok")


@post("/race/logout", status_code=200)
async def race_logout(request: AnyRequest) -> Response[str]:
    session = await _read_and_pause(request)
    if isinstance(session, Session):
        session.logout()
    else:
        request.clear_session()
    return _text("ok")


@get("/dump")
async def dump(request: AnyRequest) -> Response[str]:
    return _text(",".join(sorted(await _session_of(request))))


@post("/fill", status_code=200)
async def fill(request: AnyRequest) -> Response[str]:
    (await _session_of(request))["data"] = "x" * int(request.query_params["n"])
    return _text("ok")


HANDLERS = [anonymous, read, write, login, race_write, race_logout, dump, fill]


@get(["/anonymous", "/read"])
async def constant_get() -> Response[str]:
    return _text("ok")


@post(["/write", "/login"], status_code=200)
async def constant_post() -> Response[str]:
    return _text("ok")


def _app(**options: Any) -> Litestar:
    return Litestar(HANDLERS, logging_config=None, openapi_config=None, **options)


def litestar_variants(url: str, prefix: str, admin: redis.Redis) -> list[Variant]:
    """Litestar with no session, with sessionary, and with its own server-side sessions."""
    ours = AsyncCountingRedis.from_url(url)
    theirs = AsyncCountingRedis.from_url(url)
    assert isinstance(ours, AsyncCountingRedis)
    assert isinstance(theirs, AsyncCountingRedis)
    config = SessionConfig(secret_keys=[secrets.token_bytes(32)], cookie=CookieOptions())
    store = AsyncRedisStore(ours, prefix=f"syl-{prefix}")
    sessions = SessionaryConfig(store=store, config=config, observer=NullObserver(), lazy=True)
    own = ServerSideSessionConfig(store="sessions", max_age=RAW_TTL_S, renew_on_access=True)
    own_store = LitestarRedisStore(theirs, namespace=f"lss-{prefix}")
    baseline = Litestar([constant_get, constant_post], logging_config=None, openapi_config=None)
    count: Callable[[AsyncCountingRedis], Callable[[], int]] = lambda c: lambda: c.round_trips  # noqa: E731
    return [
        Variant("no-session", "litestar", "asgi", baseline, Counters(admin), False, baseline=True),
        Variant(
            "sessionary-redis",
            "litestar",
            "asgi",
            _app(plugins=[SessionaryPlugin(sessions)]),
            Counters(admin, count(ours)),
            server_side=True,
            closers=[ours.aclose],
            redis_prefix=f"syl-{prefix}",
        ),
        Variant(
            "litestar-server-side-redis",
            "litestar",
            "asgi",
            _app(middleware=[own.middleware], stores={"sessions": own_store}),
            Counters(admin, count(theirs)),
            server_side=True,
            closers=[theirs.aclose],
            redis_prefix=f"lss-{prefix}",
        ),
    ]
