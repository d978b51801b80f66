"""The Quart variants: the benchmark's routes as Quart views over ``quart.session``.

* ``no-session``: the same paths, no session interface in use (the baseline).
* ``sessionary-redis``: :mod:`sessionary.integrations.quart`.
* ``quart-session-redis``: Quart-Session 3 (``SESSION_TYPE = "redis"``) on an injected
  client. It has no rotation call: login stores the user under the same ID; logout empties
  the session, which it turns into a delete.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

import redis
from quart import Quart, request, session
from tests.redis_counting import AsyncCountingRedis

from benchmarks._harness import Counters
from benchmarks._variants import PROFILE, RACE_PAUSE_S, RAW_TTL_S, USER, Variant
from sessionary import NullObserver, SessionConfig
from sessionary.config import CookieOptions
from sessionary.integrations.quart import Sessionary
from sessionary.stores import AsyncRedisStore

Hook = Callable[[Any], None]


def _routes(app: Quart, login: Hook, logout: Hook) -> Quart:
    """The benchmark's routes over ``quart.session``; ``login``/``logout`` take the session."""

    @app.get("/anonymous")
    async def anonymous() -> str:
        return "ok"

    @app.get("/read")
    async def read() -> str:
        return str(session.get("count", 0))

    @app.post("/write")
    async def write() -> str:
        session["count"] = session.get("count", 0) + 1
        return str(session["count"])

    @app.post("/login")
    async def do_login() -> str:
        login(session)
        session["count"] = 0
        session["profile"] = PROFILE
        return "ok"

    @app.post("/race/write")
    async def race_write() -> str:
        session.get("count")
        await asyncio.sleep(RACE_PAUSE_S)
        session[request.args["k"]] = 1
        return "ok"

    @app.post("/race/logout")
    async def race_logout() -> str:
        session.get("count")
        await asyncio.sleep(RACE_PAUSE_S)
        logout(session)
        return "ok"

    @app.get("/dump")
    async def dump() -> str:
        return ",".join(sorted(session))

    @app.post("/fill")
    async def fill() -> str:
        session["data"] = "x" * int(request.args["n"])
        return "ok"

    return app


def _baseline() -> Quart:
    app = Quart(__name__)

    @app.route("/<path:_>", methods=["GET", "POST"])
    async def constant(_: str) -> str:
        return "ok"

    return app


def _quart_session_login(current: Any) -> None:
    current["user"] = USER


def quart_variants(url: str, prefix: str, admin: redis.Redis) -> list[Variant]:
    """Quart with no session, with sessionary, and with Quart-Session (where installed)."""
    ours = AsyncCountingRedis.from_url(url)
    assert isinstance(ours, AsyncCountingRedis)
    config = SessionConfig(secret_keys=[secrets.token_bytes(32)], cookie=CookieOptions())
    store = AsyncRedisStore(ours, prefix=f"syq-{prefix}")
    app = _routes(Quart(__name__), lambda s: s.login(USER), lambda s: s.logout())
    Sessionary(app, store=store, config=config, observer=NullObserver())
    variants = [
        Variant("no-session", "quart", "asgi", _baseline(), Counters(admin), False, baseline=True),
        Variant(
            "sessionary-redis",
            "quart",
            "asgi",
            app,
            Counters(admin, lambda: ours.round_trips),
            server_side=True,
            closers=[ours.aclose],
            redis_prefix=f"syq-{prefix}",
        ),
    ]
    try:
        from quart_session import (  # type: ignore[import-untyped]  # noqa: PLC0415
            Session as QuartSession,
        )
    except ImportError:
        return variants
    theirs = AsyncCountingRedis.from_url(url)
    assert isinstance(theirs, AsyncCountingRedis)
    other = _routes(Quart(__name__), _quart_session_login, lambda s: s.clear())
    other.config.update(
        SESSION_TYPE="redis",
        SESSION_REDIS=theirs,
        SESSION_KEY_PREFIX=f"qss-{prefix}:",
        PERMANENT_SESSION_LIFETIME=RAW_TTL_S,
    )
    QuartSession(other)
    variants.append(
        Variant(
            "quart-session-redis",
            "quart",
            "asgi",
            other,
            Counters(admin, lambda: theirs.round_trips),
            server_side=True,
            closers=[theirs.aclose],
            redis_prefix=f"qss-{prefix}",
        )
    )
    return variants
