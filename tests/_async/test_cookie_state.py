"""The store side of sealed cookie floors, on every store kind (R27, R55).

``read_cookie_state`` reads a cookie session's floor and its user's epoch together;
``pin_cookie`` only ever raises the floor and keeps it at least its time to live. On a
Cluster the two keys live in different slots (read as one pipeline). The sync twin is
generated.
"""

from __future__ import annotations

import pytest

from sessionary.backends.sql import AsyncSQLStore
from sessionary.sansio.cookie_state import CookieState, PinCookie, ReadCookieState
from sessionary.sansio.keys import KeyRing
from sessionary.stores import AsyncMemoryStore, AsyncRedisStore
from sessionary.stores.base import AsyncSessionStore, Capability

pytestmark = pytest.mark.anyio

NOW = 1_750_000_000_000
HOUR_MS = 3_600_000


async def test_floors_rise_only_and_are_read_with_the_user_epoch(
    async_store: AsyncSessionStore,
) -> None:
    assert {Capability.COOKIE_STATES, Capability.USER_INDEX} <= async_store.capabilities
    assert isinstance(async_store, AsyncMemoryStore | AsyncRedisStore | AsyncSQLStore)
    cookie = KeyRing.cookie_key(b"s" * 16, "t1")
    user = KeyRing.user_key("ada", "t1")
    read = ReadCookieState(cookie, user, NOW)
    assert await async_store.read_cookie_state(read) == CookieState(None, None)
    assert await async_store.pin_cookie(PinCookie(cookie, NOW, NOW, 60_000)) == NOW
    assert await async_store.pin_cookie(PinCookie(cookie, NOW - 5, NOW, 60_000)) == NOW
    assert await async_store.read_cookie_state(read) == CookieState(NOW, None)
    await async_store.revoke_user(user, NOW + 1, sessions_end_by=NOW + 1 + HOUR_MS)
    assert await async_store.read_cookie_state(read) == CookieState(NOW, NOW + 1)
    anonymous = ReadCookieState(cookie, None, NOW)
    assert await async_store.read_cookie_state(anonymous) == CookieState(NOW, None)
    other = ReadCookieState(KeyRing.cookie_key(b"s" * 16, "t2"), None, NOW)
    assert await async_store.read_cookie_state(other) == CookieState(None, None)  # tenant
