"""Rotating the secret: sessions found under a retired key move to the newest on re-login.

The guidance is "put the new key first, keep the old one for one absolute timeout": only a
(re-)authentication extends a session past its absolute deadline, and a re-authentication
moves the session to the newest key, so after one absolute timeout no session needs the old
key any more.
"""

from __future__ import annotations

import secrets

import pytest

from sessionary import AsyncSessionManager
from sessionary.sansio.events import EventName
from sessionary.stores.base import AsyncSessionStore
from sessionary.testing import CapturingObserver, FakeClock, session_config
from tests._async.test_manager import Client

pytestmark = pytest.mark.anyio


async def test_reauthentication_moves_a_session_to_the_newest_key(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    browser = Client(
        AsyncSessionManager(async_store, session_config(secret_keys=[old], clock=clock))
    )
    await browser.request(lambda s: s.login("ada"))
    await browser.request(lambda s: s.update(cart=[1]))
    observer = CapturingObserver()
    rotated = AsyncSessionManager(
        async_store, session_config(secret_keys=[new, old], clock=clock), observer=observer
    )
    browser.manager = rotated
    assert await browser.request() == {"cart": [1]}  # still found under the old key
    old_cookie = browser.cookie
    await browser.request(lambda s: s.reauthenticate())
    assert browser.cookie != old_cookie
    (moved,) = observer.of(EventName.ROTATED)
    assert moved.detail == {"rekeyed": True}
    # The old key can go: the session lives under the new one, with its data and user.
    browser.manager = AsyncSessionManager(
        async_store, session_config(secret_keys=[new], clock=clock)
    )
    seen: dict[str, object] = {}
    cycle = await browser.manager.open([f"__Host-session={browser.cookie}"])
    seen.update(cycle.session)
    assert (seen, cycle.session.user_id) == ({"cart": [1]}, "ada")
    await browser.manager.commit(cycle)
    assert len(await browser.manager.list_user_sessions("ada")) == 1
    # The ID it had under the old key is dead.
    stale = Client(rotated)
    stale.cookie = old_cookie
    assert await stale.request() == {}
