"""Encryption at rest on real Redis: a dump shows no value; a forged record is anonymous (R42)."""

from __future__ import annotations

from collections.abc import Callable

import redis

from sessionary import Session, SessionManager
from sessionary.sansio.cycle import SessionCycle
from sessionary.stores import RedisStore
from sessionary.testing import capture_events, session_config


def _request(
    manager: SessionManager, cookie: str | None, handler: Callable[[Session], object]
) -> tuple[SessionCycle, str | None]:
    name = manager.config.cookie.name
    cycle = manager.open([f"{name}={cookie}"] if cookie else [])
    handler(cycle.session)
    update = manager.commit(cycle)
    if update.set_cookie is not None:
        cookie = update.set_cookie.split(";", 1)[0].split("=", 1)[1] or None
    return cycle, cookie


def test_values_are_unreadable_in_redis_and_forgeries_load_as_anonymous(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    events = capture_events()
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    manager = SessionManager(store, session_config(encrypt_at_rest=True), observer=events)
    try:
        _, cookie = _request(manager, None, lambda s: s.update(card="4111-1111", user="ada"))
        _, cookie = _request(manager, cookie, lambda s: s.login("ada"))
        seen: dict[str, object] = {}
        _request(manager, cookie, seen.update)
        assert seen == {"card": "4111-1111", "user": "ada"}
        (key,) = list(redis_admin.scan_iter(match=f"{key_prefix}:s:*"))  # the session hash
        record = redis_admin.hgetall(key)
        assert b"card" in record  # field names stay in the clear …
        assert all(b"4111" not in value for value in record.values())  # … values do not
        # An attacker with write access to Redis promotes the session's user.
        redis_admin.hset(key, b"\xffu", b"admin")
        cycle, after = _request(manager, cookie, lambda s: None)
        assert cycle.session.is_new
        assert after is None  # the cookie is cleared
        assert events.of(events.names()[-1])[-1].detail == {"reason": "unauthenticated record"}
    finally:
        store.close()
