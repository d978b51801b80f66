"""A browser login through an adapter keeps its session hash in Redis's compact encoding.

A desktop Chrome ``User-Agent`` is 111 bytes; recorded whole, the device field was 144 bytes,
over Redis's ``hash-max-listpack-value`` (64), which converts the whole hash to the
``hashtable`` encoding. Recorded as its label (sansio/devices.py), the field stays within it;
so does the metadata header since its MAC has a field of its own (format 3,
backends/redis/_layout.py).
"""

from __future__ import annotations

import httpx2
import pytest
import redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sessionary.integrations.asgi import SessionMiddleware, get_manager, get_session
from sessionary.stores import AsyncRedisStore
from sessionary.testing import session_config

pytestmark = pytest.mark.anyio

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
DEVICE_FIELD = b"\xffd"
LISTPACK_VALUE = 64  # Redis's default hash-max-listpack-value


async def login(request: Request) -> JSONResponse:
    session = get_session(request)
    session.login("ada")
    return JSONResponse({"ok": True})


async def devices(request: Request) -> JSONResponse:
    listed = await get_manager(request).list_user_sessions("ada")
    return JSONResponse([entry.user_agent for entry in listed])


async def test_a_browser_login_through_an_adapter_stays_in_the_compact_encoding(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    store = AsyncRedisStore.from_url(redis_url, prefix=key_prefix)
    app = Starlette(routes=[Route("/login", login, methods=["POST"]), Route("/devices", devices)])
    app.add_middleware(SessionMiddleware, store=store, config=session_config())
    transport = httpx2.ASGITransport(app=app)
    headers = {"user-agent": CHROME}
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="https://testserver") as http:
            assert (await http.post("/login", headers=headers)).status_code == 200
            assert (await http.get("/devices")).json() == ["Chrome 120 on Windows"]
    finally:
        await store.aclose()
    hashes = [
        k for k in redis_admin.scan_iter(match=f"{key_prefix}*") if redis_admin.type(k) == b"hash"
    ]
    (key,) = hashes
    device = redis_admin.hget(key, DEVICE_FIELD)
    assert device is not None
    assert b"Chrome 120 on Windows" in device
    assert len(device) <= LISTPACK_VALUE
    fields: dict[bytes, bytes] = redis_admin.hgetall(key)  # type: ignore[assignment]
    assert all(len(value) <= LISTPACK_VALUE for value in fields.values())
    assert redis_admin.object("encoding", key) == b"listpack"
