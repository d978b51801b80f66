"""Live read-through migration from legacy session libraries, against real Redis.

Every legacy record here is written by the real library in the same test (starsessions'
middleware, Flask-Session's interface, Starlette's ``SessionMiddleware``, each driven by
its framework's test client); sessionary's manager then meets the legacy cookie.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, cast

import flask
import pytest
import redis
import redis.asyncio
from flask_session import Session as FlaskSession
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessions
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starsessions import SessionAutoloadMiddleware
from starsessions import SessionMiddleware as StarSessions
from starsessions.stores.redis import RedisStore as StarRedisStore

from sessionary import (
    AsyncLegacyMigration,
    AsyncSessionManager,
    EventName,
    LegacyMigration,
    SessionConfig,
)
from sessionary.backends.legacy import (
    AsyncFlaskSessionSource,
    AsyncStarletteCookieSource,
    AsyncStarsessionsSource,
    FlaskSessionSource,
)
from sessionary.exceptions import StoreUnavailableError
from sessionary.integrations.flask import FlaskSession as SessionaryFlaskSession
from sessionary.integrations.flask import Sessionary
from sessionary.sansio.cycle import SessionCycle
from sessionary.stores import AsyncRedisStore, RedisStore
from sessionary.testing import CapturingObserver, session_config
from tests.concurrency import async_gather
from tests.services import free_port

pytestmark = pytest.mark.anyio

OLD_SECRET = "the-old-secret-key-of-the-legacy-app"
LIFETIME_S = 3600
DEEP = 70  # nesting deeper than sessionary's codec limit (64): not representable


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def later(hours: float = 1) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours)


def by_user(data: Any) -> Any:
    return data.get("_user_id")


# ---------------------------------------------------------------------- legacy writers
def starsessions_cookie(url: str, prefix: str, data: dict[str, object]) -> str:
    """Sign in through a starsessions app on Redis; the cookie it set."""

    async def login(request: Request) -> PlainTextResponse:
        request.session.update(data)
        return PlainTextResponse("ok")

    connection = redis.asyncio.Redis.from_url(url)
    store = StarRedisStore(connection=connection, prefix=prefix)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await connection.aclose()  # in the loop of the test client, which used it

    app = Starlette(
        lifespan=lifespan,
        routes=[Route("/login", login, methods=["POST"])],
        middleware=[
            Middleware(StarSessions, store=store, lifetime=LIFETIME_S, cookie_https_only=False),
            Middleware(SessionAutoloadMiddleware),
        ],
    )
    with TestClient(app) as client:
        response = client.post("/login")
        assert response.status_code == 200
        return str(response.cookies["session"])


def flask_session_cookie(
    url: str, prefix: str, data: dict[str, object], *, signer: bool = False
) -> str:
    """Sign in through a Flask-Session 0.8 app on Redis (msgpack); the cookie it set."""
    app = flask.Flask(__name__)
    client = redis.Redis.from_url(url)
    app.config.update(
        SECRET_KEY=OLD_SECRET,
        SESSION_TYPE="redis",
        SESSION_REDIS=client,
        SESSION_KEY_PREFIX=prefix,
        SESSION_USE_SIGNER=signer,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(seconds=LIFETIME_S),
    )
    if signer:  # deprecated in 0.8, still what many deployments run
        with pytest.warns(DeprecationWarning, match="use_signer"):
            FlaskSession(app)
    else:
        FlaskSession(app)

    @app.post("/login")
    def login() -> str:
        flask.session.update(data)
        return "ok"

    browser = app.test_client()
    assert browser.post("/login").status_code == 200
    client.close()
    cookie = browser.get_cookie("session")
    assert cookie is not None
    return cookie.value


def starlette_cookie(data: dict[str, object], secret: str = OLD_SECRET) -> str:
    """Sign in through Starlette's signed-cookie ``SessionMiddleware``; the cookie it set."""

    async def login(request: Request) -> PlainTextResponse:
        request.session.update(data)
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[Route("/login", login, methods=["POST"])],
        middleware=[Middleware(StarletteSessions, secret_key=secret)],
    )
    with TestClient(app) as client:
        response = client.post("/login")
        return str(response.cookies["session"])


# ---------------------------------------------------------------------- sessionary side
@pytest.fixture
def config() -> SessionConfig:
    return session_config()


@pytest.fixture
async def store(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> AsyncIterator[AsyncRedisStore]:
    store = AsyncRedisStore.from_url(redis_url, prefix=key_prefix)
    yield store
    await store.aclose()


@pytest.fixture
async def legacy_redis(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@dataclass(frozen=True)
class Starsessions:
    """A starsessions app's sessions on the test Redis, and the legacy source reading them."""

    url: str
    prefix: str
    source: AsyncStarsessionsSource

    def cookie(self, data: dict[str, object]) -> str:
        """Sign in through the starsessions app with ``data``; the cookie it set."""
        return starsessions_cookie(self.url, self.prefix, data)


@pytest.fixture
def star(redis_url: str, key_prefix: str, legacy_redis: redis.asyncio.Redis) -> Starsessions:
    prefix = f"{key_prefix}:star."
    return Starsessions(redis_url, prefix, AsyncStarsessionsSource(legacy_redis, prefix=prefix))


def make_manager(
    store: AsyncRedisStore, config: SessionConfig, migration: AsyncLegacyMigration
) -> tuple[AsyncSessionManager, CapturingObserver]:
    observer = CapturingObserver()
    return AsyncSessionManager(store, config, observer=observer, legacy=migration), observer


async def request(
    manager: AsyncSessionManager, cookies: list[str], handler: Callable[[SessionCycle], None]
) -> str | None:
    """One request with these ``Cookie`` values; the sessionary cookie the response sets."""
    cycle = await manager.open(cookies)
    handler(cycle)
    update = await manager.commit(cycle)
    if update.set_cookie is None:
        return None
    return update.set_cookie.split(";", 1)[0].split("=", 1)[1]


def max_age(set_cookie: str) -> int:
    for part in set_cookie.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "max-age":
            return int(value)
    raise AssertionError(set_cookie)


def session_keys(admin: redis.Redis, key_prefix: str) -> list[bytes]:
    return [k for k in admin.scan_iter(match=f"{key_prefix}:s:*") if not k.endswith(b":lk")]


# ---------------------------------------------------------------------- starsessions
async def test_starsessions_session_migrates_signed_in_with_its_data(
    key_prefix: str,
    redis_admin: redis.Redis,
    store: AsyncRedisStore,
    config: SessionConfig,
    star: Starsessions,
) -> None:
    old = star.cookie({"_user_id": "42", "cart": [1, 2]})
    assert redis_admin.exists(star.prefix + old)
    source = star.source
    migration = AsyncLegacyMigration(source, until=later(), user_id=by_user)
    manager, observer = make_manager(store, config, migration)

    seen: dict[str, object] = {}

    def look(cycle: SessionCycle) -> None:
        seen.update(cycle.session, user=cycle.session.user_id)

    cycle = await manager.open([f"session={old}"])
    look(cycle)
    update = await manager.commit(cycle)
    assert seen == {"_user_id": "42", "cart": [1, 2], "user": "42"}
    assert update.set_cookie is not None
    assert 0 < max_age(update.set_cookie) <= LIFETIME_S  # the remaining lifetime, not more
    assert not redis_admin.exists(star.prefix + old)  # the old ID is dead at once
    [event] = observer.of(EventName.MIGRATED)
    assert event.detail == {"source": "starsessions", "outcome": "created"}
    assert event.user == "42"
    new = update.set_cookie.split(";", 1)[0].split("=", 1)[1]

    # the new cookie is an ordinary sessionary session from now on: no migration
    seen.clear()
    assert await request(manager, [f"{config.cookie.name}={new}"], look) is None
    assert seen == {"_user_id": "42", "cart": [1, 2], "user": "42"}
    assert len(observer.of(EventName.MIGRATED)) == 1
    assert len(session_keys(redis_admin, key_prefix)) == 1


async def test_the_old_cookie_is_dead_once_the_grace_is_over(
    store: AsyncRedisStore,
    config: SessionConfig,
    star: Starsessions,
) -> None:
    old = star.cookie({"_user_id": "42"})
    source = star.source
    migration = AsyncLegacyMigration(source, until=later(), user_id=by_user, grace=0)
    manager, _ = make_manager(store, config, migration)
    users: list[str | None] = []

    def who(cycle: SessionCycle) -> None:
        users.append(cycle.session.user_id)

    assert await request(manager, [f"session={old}"], who) is not None
    assert await request(manager, [f"session={old}"], who) is None  # a replayed old cookie
    assert users == ["42", None]


async def test_a_value_the_codec_cannot_represent_is_reported_never_dropped_silently(
    redis_admin: redis.Redis,
    store: AsyncRedisStore,
    config: SessionConfig,
    star: Starsessions,
) -> None:
    data = {"_user_id": "42", "deep": nested(DEEP), "cart": [1]}
    old = star.cookie(data)
    source = star.source
    manager, observer = make_manager(
        store, config, AsyncLegacyMigration(source, until=later(), user_id=by_user)
    )
    seen: dict[str, object] = {}
    await request(manager, [f"session={old}"], lambda cycle: seen.update(cycle.session))
    assert seen == {"_user_id": "42", "cart": [1]}
    [event] = observer.of(EventName.MIGRATED)
    assert event.detail["dropped"] == ["deep"]

    # strict: nothing migrates, the legacy record stays for the old application
    old = star.cookie(data)
    strict = AsyncLegacyMigration(source, until=later(), user_id=by_user, strict=True)
    manager, observer = make_manager(store, config, strict)
    users: list[str | None] = []
    await request(manager, [f"session={old}"], lambda c: users.append(c.session.user_id))
    assert users == [None]
    assert redis_admin.exists(star.prefix + old)
    [event] = observer.of(EventName.MIGRATED)
    assert event.detail == {"source": "starsessions", "outcome": "refused", "dropped": ["deep"]}


async def test_after_the_window_the_legacy_source_is_not_asked(
    redis_admin: redis.Redis,
    store: AsyncRedisStore,
    config: SessionConfig,
    star: Starsessions,
) -> None:
    old = star.cookie({"_user_id": "42"})
    source = star.source
    closed = AsyncLegacyMigration(source, until=later(hours=-1), user_id=by_user)
    manager, observer = make_manager(store, config, closed)
    users: list[str | None] = []
    await request(manager, [f"session={old}"], lambda c: users.append(c.session.user_id))
    assert users == [None]
    assert redis_admin.exists(star.prefix + old)
    assert observer.of(EventName.MIGRATED) == []


async def test_concurrent_requests_with_one_old_cookie_make_exactly_one_session(
    key_prefix: str,
    redis_admin: redis.Redis,
    store: AsyncRedisStore,
    config: SessionConfig,
    star: Starsessions,
) -> None:
    old = star.cookie({"_user_id": "42", "cart": [1, 2]})
    source = star.source
    migration = AsyncLegacyMigration(source, until=later(), user_id=by_user)
    manager, observer = make_manager(store, config, migration)
    users: list[str | None] = []

    async def one() -> str | None:
        return await request(manager, [f"session={old}"], lambda c: users.append(c.session.user_id))

    cookies = await async_gather([one] * 20)
    assert users == ["42"] * 20  # every racing request was served the user's session
    assert len(set(cookies)) == 1  # one ID handed out, to all of them
    assert cookies[0] is not None
    assert len(session_keys(redis_admin, key_prefix)) == 1  # exactly one sessionary session
    outcomes = [event.detail["outcome"] for event in observer.of(EventName.MIGRATED)]
    assert outcomes.count("created") == 1
    assert not redis_admin.exists(star.prefix + old)


# ---------------------------------------------------------------------- Flask-Session
async def test_flask_session_msgpack_record_migrates(
    redis_url: str,
    key_prefix: str,
    redis_admin: redis.Redis,
    store: AsyncRedisStore,
    legacy_redis: redis.asyncio.Redis,
    config: SessionConfig,
) -> None:
    prefix = f"{key_prefix}:fs:"
    old = flask_session_cookie(redis_url, prefix, {"_user_id": "7", "theme": "dark"})
    assert redis_admin.exists(prefix + old)
    source = AsyncFlaskSessionSource(legacy_redis, prefix=prefix)
    manager, observer = make_manager(
        store, config, AsyncLegacyMigration(source, until=later(), user_id=by_user)
    )
    seen: dict[str, object] = {}

    def look(cycle: SessionCycle) -> None:
        seen.update(cycle.session, user=cycle.session.user_id)

    assert await request(manager, [f"session={old}"], look) is not None
    assert seen == {"_user_id": "7", "theme": "dark", "user": "7"}
    assert not redis_admin.exists(prefix + old)
    assert [e.detail["outcome"] for e in observer.of(EventName.MIGRATED)] == ["created"]


async def test_flask_session_signed_id_needs_the_old_secret(
    redis_url: str,
    key_prefix: str,
    redis_admin: redis.Redis,
    store: AsyncRedisStore,
    legacy_redis: redis.asyncio.Redis,
    config: SessionConfig,
) -> None:
    prefix = f"{key_prefix}:fs:"
    old = flask_session_cookie(redis_url, prefix, {"_user_id": "7"}, signer=True)
    users: list[str | None] = []
    for secret, expected in (("not-the-old-secret", None), (OLD_SECRET, "7")):
        source = AsyncFlaskSessionSource(legacy_redis, prefix=prefix, secret_key=secret)
        manager, _ = make_manager(
            store, config, AsyncLegacyMigration(source, until=later(), user_id=by_user)
        )
        await request(manager, [f"session={old}"], lambda c: users.append(c.session.user_id))
        assert users[-1] == expected


# ---------------------------------------------------------------------- Starlette cookie
async def test_starlette_signed_cookie_migrates_with_the_old_secret(
    store: AsyncRedisStore, config: SessionConfig
) -> None:
    old = starlette_cookie({"_user_id": "5", "cart": ["x"]})
    users: list[str | None] = []
    seen: dict[str, object] = {}
    for secret, expected in (("another-secret", None), (OLD_SECRET, "5")):
        source = AsyncStarletteCookieSource(secret)
        manager, _ = make_manager(
            store, config, AsyncLegacyMigration(source, until=later(), user_id=by_user)
        )

        def look(cycle: SessionCycle) -> None:
            users.append(cycle.session.user_id)
            seen.update(cycle.session)

        await request(manager, [f"session={old}"], look)
        assert users[-1] == expected
    assert seen == {"_user_id": "5", "cart": ["x"]}


def test_flask_app_moving_from_flask_session_to_sessionary_keeps_its_users(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    """The old cookie rides along; sessionary's own cookie serves the session from then on."""
    prefix = f"{key_prefix}:fs:"
    old = flask_session_cookie(redis_url, prefix, {"_user_id": "7", "cart": [3]})
    legacy_client = redis.Redis.from_url(redis_url)
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    app = flask.Flask(__name__)
    app.config.update(SECRET_KEY=OLD_SECRET)
    migration = LegacyMigration(
        FlaskSessionSource(legacy_client, prefix=prefix), until=later(), user_id=by_user
    )
    Sessionary(app, store=store, legacy=migration)

    @app.get("/")
    def show() -> dict[str, object]:
        session = cast("SessionaryFlaskSession", flask.session)
        return {"data": dict(session), "user": session.user_id}

    browser = app.test_client()
    browser.set_cookie("session", old)
    first = browser.get("/", base_url="https://localhost")
    assert first.json == {"data": {"_user_id": "7", "cart": [3]}, "user": "7"}
    assert browser.get_cookie("__Host-session") is not None
    assert not redis_admin.exists(prefix + old)  # the old cookie now names nothing
    second = browser.get("/", base_url="https://localhost")
    assert second.json == first.json
    assert not redis_admin.exists(prefix + old)
    store.close()
    legacy_client.close()


async def test_an_unreachable_legacy_store_leaves_the_request_anonymous_and_says_so(
    store: AsyncRedisStore, config: SessionConfig
) -> None:
    dead = redis.asyncio.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2)
    source = AsyncStarsessionsSource(dead, prefix="gone.")
    manager, observer = make_manager(store, config, AsyncLegacyMigration(source, until=later()))
    users: list[str | None] = []
    await request(manager, ["session=abcdef0123456789"], lambda c: users.append(c.session.user_id))
    assert users == [None]
    [event] = observer.of(EventName.MIGRATED)
    assert event.detail["outcome"] == "unreadable"
    assert event.detail["reason"] in {"StoreUnavailableError", "StoreTimeoutError"}
    await dead.aclose()


async def test_a_mapped_user_that_is_not_an_id_is_reported_and_the_session_is_anonymous(
    store: AsyncRedisStore,
    config: SessionConfig,
    star: Starsessions,
) -> None:
    old = star.cookie({"_user_id": "line\nbreak", "cart": [1]})
    source = star.source
    manager, observer = make_manager(
        store, config, AsyncLegacyMigration(source, until=later(), user_id=by_user)
    )
    seen: list[object] = []
    await request(manager, [f"session={old}"], lambda c: seen.append(c.session.user_id))
    assert seen == [None]
    [event] = observer.of(EventName.MIGRATED)
    assert event.detail == {"source": "starsessions", "outcome": "created", "user_refused": True}


async def test_sessionarys_store_down_during_a_migration_follows_the_store_down_policy(
    redis_admin: redis.Redis,
    config: SessionConfig,
    star: Starsessions,
) -> None:
    old = star.cookie({"_user_id": "42"})
    down = AsyncRedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    source = star.source
    manager, _ = make_manager(down, config, AsyncLegacyMigration(source, until=later()))
    cycle = await manager.open([f"session={old}"])  # no exception: the policy decides
    assert cycle.session.unavailable
    with pytest.raises(StoreUnavailableError):
        cycle.session.get("_user_id")  # fail closed: the handler's use of it answers 503
    assert redis_admin.exists(star.prefix + old)  # nothing migrated, nothing lost
    await down.aclose()


async def test_a_request_that_raced_the_migration_is_served_within_the_grace(
    key_prefix: str,
    redis_admin: redis.Redis,
    store: AsyncRedisStore,
    config: SessionConfig,
    star: Starsessions,
) -> None:
    old = star.cookie({"_user_id": "42"})
    source = star.source
    migration = AsyncLegacyMigration(source, until=later(), user_id=by_user, grace=30)
    manager, observer = make_manager(store, config, migration)
    users: list[str | None] = []
    first = await request(manager, [f"session={old}"], lambda c: users.append(c.session.user_id))
    assert not redis_admin.exists(star.prefix + old)
    # sent before the first response arrived: the old cookie, the old record already gone
    late = await request(manager, [f"session={old}"], lambda c: users.append(c.session.user_id))
    assert users == ["42", "42"]
    assert late == first  # the same session, the same ID
    outcomes = [
        (e.detail["outcome"], e.detail.get("late")) for e in observer.of(EventName.MIGRATED)
    ]
    assert outcomes == [("created", None), ("joined", True)]
    assert len(session_keys(redis_admin, key_prefix)) == 1


async def test_a_locked_request_migrates_under_the_new_sessions_lock(
    key_prefix: str,
    redis_admin: redis.Redis,
    store: AsyncRedisStore,
    config: SessionConfig,
    star: Starsessions,
) -> None:
    old = star.cookie({"_user_id": "42", "n": 1})
    source = star.source
    manager, _ = make_manager(store, config, AsyncLegacyMigration(source, until=later()))
    cycle = await manager.open([f"session={old}"], lock=True)
    assert cycle.lock_token is not None  # the migrated session's lock is held
    assert list(redis_admin.scan_iter(match=f"{key_prefix}:s:*:lk")) != []
    cycle.session["n"] = 2
    update = await manager.commit(cycle)
    assert update.set_cookie is not None
    assert list(redis_admin.scan_iter(match=f"{key_prefix}:s:*:lk")) == []  # released
