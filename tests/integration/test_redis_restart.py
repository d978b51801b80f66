"""A Redis restart without persistence is survived without restarting the application.

While Redis is down, requests that use the session fail closed (503, no cookie change);
once it is back (empty: no persistence, scripts flushed), requests work again through the
same store and connection pool — scripts are reloaded on ``NOSCRIPT``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from sessionary.stores import AsyncRedisStore
from sessionary.testing import session_config
from tests.integration.test_asgi import make_app
from tests.services import RedisServer, redis_server_binary

BASE = "https://testserver"


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer(redis_server_binary("a Redis to restart")).start()
    yield server
    server.stop()


def test_requests_fail_closed_while_redis_is_down_and_recover_after(
    own_redis: RedisServer,
) -> None:
    store = AsyncRedisStore.from_url(own_redis.url, timeout=0.5, retries=0)
    with TestClient(make_app(store, session_config()), base_url=BASE) as client:
        assert client.get("/write?a=1").json() == {"a": "1"}
        cookie = client.cookies["__Host-session"]

        port = own_redis.port
        own_redis.stop()
        down = client.get("/read")
        assert down.status_code == 503
        assert "set-cookie" not in down.headers
        assert client.get("/untouched").status_code == 200
        assert client.cookies["__Host-session"] == cookie  # the client's cookie was kept

        restarted = RedisServer(own_redis.binary, port=port).start()
        try:
            # No persistence: the session is gone, so the old cookie is answered as
            # anonymous (and cleared); new sessions work through the same pool, and the
            # flushed scripts are loaded again on the first NOSCRIPT.
            assert client.get("/read").json() == {}
            assert client.get("/write?b=2").json() == {"b": "2"}
            assert client.get("/read").json() == {"b": "2"}
        finally:
            restarted.stop()
