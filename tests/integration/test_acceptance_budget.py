"""The round-trip budget and hostile input, through the real ASGI middleware on real Redis.

* Round-trip budget, counted by a client that records every command: no cookie → 0; a read →
  1; a write → 2; an unchanged session whose touch is not due → no write; malformed or
  unknown IDs → 0 writes, and a fresh ID only when the handler writes.
* Malformed inputs of docs/security.md R19-R26 → anonymous, zero store calls, no 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import pytest
import redis

from sessionary import SessionConfig
from sessionary.integrations.asgi import SessionMiddleware
from sessionary.sansio.ids import parse_token
from sessionary.sansio.keys import KeyRing
from sessionary.stores import AsyncRedisStore
from sessionary.testing import FakeClock
from tests.redis_counting import AsyncCountingRedis

pytestmark = pytest.mark.anyio

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def app(scope: Scope, receive: Callable[[], Awaitable[Message]], send: Any) -> None:
    """A framework-free app: /read reads, /write increments, /none ignores the session."""
    path = scope["path"]
    body = b""
    if path == "/read":
        body = str(scope["session"].get("n")).encode()
    elif path == "/write":
        scope["session"]["n"] = scope["session"].get("n", 0) + 1
    elif path == "/login":
        scope["session"].login("u1")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


class Response:
    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""

    def header(self, name: bytes) -> list[bytes]:
        return [v for k, v in self.headers if k == name]

    @property
    def cookie(self) -> str | None:
        values = self.header(b"set-cookie")
        if not values:
            return None
        return values[0].decode().split(";", 1)[0].split("=", 1)[1]


async def call(
    middleware: SessionMiddleware,
    path: str,
    cookie_headers: list[bytes] | None = None,
    query: bytes = b"",
) -> Response:
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query,
        "headers": [(b"cookie", value) for value in (cookie_headers or [])],
        "client": ("203.0.113.7", 50000),
    }
    response = Response()

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            response.status = message["status"]
            response.headers = list(message.get("headers", []))
        else:
            response.body += message.get("body", b"")

    await middleware(scope, receive, send)
    return response


@pytest.fixture
def setup(
    async_redis_store: AsyncRedisStore, config: SessionConfig
) -> tuple[SessionMiddleware, AsyncRedisStore]:
    middleware = SessionMiddleware(app, store=async_redis_store, config=config)
    sent_by(async_redis_store).clear()
    return middleware, async_redis_store


def sent_by(store: AsyncRedisStore) -> list[str]:
    """Commands the store's counting client has sent so far."""
    client = store.client
    assert isinstance(client, AsyncCountingRedis)
    return client.sent


def cookie(config: SessionConfig, value: str) -> list[bytes]:
    return [f"{config.cookie.name}={value}".encode()]


async def test_round_trip_budget(
    setup: tuple[SessionMiddleware, AsyncRedisStore],
    config: SessionConfig,
    clock: FakeClock,
    redis_admin: redis.Redis,
) -> None:
    middleware, store = setup
    sent = sent_by(store)
    key = store.layout.session_key  # inspected through redis_admin, not the counted client

    response = await call(middleware, "/read")
    assert (response.status, sent) == (200, [])  # no cookie: zero commands
    assert response.cookie is None

    response = await call(middleware, "/write")
    assert sent == ["EVALSHA"]  # a new session: one create, no load
    session_id = response.cookie
    assert session_id is not None
    sent.clear()

    response = await call(middleware, "/read", cookie(config, session_id))
    assert (response.body, sent) == (b"1", ["HGETALL"])  # read: one command, no script
    assert response.cookie is None
    sent.clear()

    await call(middleware, "/write", cookie(config, session_id))
    assert sent == ["HGETALL", "EVALSHA"]  # write: load + commit
    sent.clear()

    await call(middleware, "/none", cookie(config, session_id))
    assert sent == ["HGETALL"]  # unchanged, touch not due: the load only, no write
    sent.clear()

    clock.advance(config.touch_interval_ms / 1000 + 1)
    before = redis_admin.hgetall(key(_storage_key(config, session_id)))
    response = await call(middleware, "/read", cookie(config, session_id))
    # The due touch: the read, then the conditional touch script (once per touch interval).
    assert (response.body, sent) == (b"2", ["HGETALL", "EVALSHA"])
    after = redis_admin.hgetall(key(_storage_key(config, session_id)))
    assert before != after  # the touch happened


def _storage_key(config: SessionConfig, session_id: str) -> str:
    token = parse_token(session_id)
    assert token is not None
    return KeyRing(config.secrets).storage_key(token.selector)


MALFORMED = [
    pytest.param("A" * 129, id="oversize-129"),
    pytest.param("A" * 10_000, id="oversize-10k"),
    pytest.param("A" * 42, id="short"),
    pytest.param("A" * 44, id="long"),
    pytest.param("A" * 42 + "B", id="non-canonical-last-char"),
    pytest.param("A" * 41 + "{}", id="braces"),
    pytest.param("A" * 42 + "*", id="glob"),
    pytest.param("A" * 21 + "\r\n" + "A" * 20, id="crlf"),
    pytest.param("A" * 42 + "\x00", id="nul"),
    pytest.param("é" * 43, id="non-ascii"),
    pytest.param("A" * 20 + "+/" + "A" * 21, id="std-base64-chars"),
    pytest.param('"' + "A" * 41 + '"', id="quoted"),
]


@pytest.mark.parametrize("value", MALFORMED)
@pytest.mark.parametrize("path", ["/read", "/write"])
async def test_malformed_ids_cost_nothing(
    setup: tuple[SessionMiddleware, AsyncRedisStore],
    config: SessionConfig,
    redis_admin: redis.Redis,
    value: str,
    path: str,
) -> None:
    middleware, store = setup
    header = f"{config.cookie.name}={value}".encode("utf-8", "surrogateescape")
    response = await call(middleware, path, [header])
    assert response.status == 200
    if path == "/read":
        assert sent_by(store) == []  # zero store calls
        assert response.body == b"None"  # anonymous
    else:
        assert sent_by(store) == ["EVALSHA"]  # only the create of a fresh session
        assert response.cookie not in (None, value)
        # the attacker's value is nowhere in Redis
        for key in redis_admin.scan_iter(match=f"{store.layout.prefix}:*"):
            assert value.encode("utf-8", "surrogateescape")[:43] not in key
            dump = redis_admin.hgetall(key)
            assert not any(value.encode("utf-8", "surrogateescape") in v for v in dump.values())


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(["__HOST-session={v}"], id="upper-case-prefix"),
        pytest.param(["__host-session={v}"], id="lower-case-prefix"),
        pytest.param(["session={v}"], id="unprefixed"),
        pytest.param(["x__Host-session={v}"], id="suffix-match"),
    ],
)
async def test_look_alike_names_are_ignored(
    setup: tuple[SessionMiddleware, AsyncRedisStore], config: SessionConfig, headers: list[str]
) -> None:
    middleware, store = setup
    created = await call(middleware, "/write")
    assert created.cookie is not None
    sent_by(store).clear()
    values = [h.format(v=created.cookie).encode() for h in headers]
    response = await call(middleware, "/read", values)
    assert (response.body, sent_by(store), response.cookie) == (b"None", [], None)


async def test_duplicate_cookies(
    setup: tuple[SessionMiddleware, AsyncRedisStore], config: SessionConfig
) -> None:
    middleware, store = setup
    first = (await call(middleware, "/write")).cookie
    second = (await call(middleware, "/write")).cookie
    assert first is not None
    assert second is not None
    sent_by(store).clear()
    name = config.cookie.name

    # identical values: accepted (one load)
    same = await call(middleware, "/read", [f"{name}={first}; {name}={first}".encode()])
    assert (same.body, sent_by(store)) == (b"1", ["HGETALL"])
    sent_by(store).clear()

    # differing values, even split over two Cookie lines (HTTP/2): anonymous, cleared, no call
    for headers in (
        [f"{name}={first}; {name}={second}".encode()],
        [f"other=1; {name}={first}".encode(), f"{name}={second}".encode()],
    ):
        response = await call(middleware, "/read", headers)
        assert (response.body, sent_by(store)) == (b"None", [])
        (cleared,) = response.header(b"set-cookie")
        assert b"Max-Age=0" in cleared

    # the session cookie in a second Cookie line is found
    split = await call(middleware, "/read", [b"a=1", f"{name}={second}".encode()])
    assert split.body == b"1"


async def test_unknown_well_formed_id_is_never_adopted(
    setup: tuple[SessionMiddleware, AsyncRedisStore],
    config: SessionConfig,
    redis_admin: redis.Redis,
) -> None:
    middleware, store = setup
    planted = "A" * 42 + "E"
    response = await call(middleware, "/read", cookie(config, planted))
    assert sent_by(store) == ["HGETALL"]  # one lookup, no write
    assert response.body == b"None"
    sent_by(store).clear()
    response = await call(middleware, "/write", cookie(config, planted))
    assert sent_by(store) == ["HGETALL", "EVALSHA"]  # lookup + create of a fresh session
    assert response.cookie not in (None, planted)
    keys = list(redis_admin.scan_iter(match=f"{store.layout.prefix}:*"))
    assert len(keys) == 1
    assert _storage_key(config, planted).encode() not in keys[0]


async def test_the_id_never_travels_in_the_query_string(
    setup: tuple[SessionMiddleware, AsyncRedisStore], config: SessionConfig
) -> None:
    middleware, store = setup
    session_id = (await call(middleware, "/write")).cookie
    sent_by(store).clear()
    query = f"session={session_id}&{config.cookie.name}={session_id}&sid={session_id}"
    response = await call(middleware, "/read", query=query.encode())
    assert (response.body, sent_by(store)) == (b"None", [])
