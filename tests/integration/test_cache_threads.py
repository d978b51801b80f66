"""The sync cache shared by threads (``CachingStore``): four threads read one cookie from
one cache while another instance logs it out; no read started later than the bound after
the logout finds the old user, and no thread fails."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from sessionary import SessionManager
from sessionary.stores import CachingStore, RedisStore
from sessionary.testing import session_config

pytestmark = pytest.mark.redis

BOUND_MS = 5.0


def test_threads_sharing_one_cache_never_serve_a_logout_past_the_bound(
    redis_url: str, redis_admin: redis.Redis, key_prefix: str
) -> None:
    config = session_config()
    writer = SessionManager(
        CachingStore(RedisStore.from_url(redis_url, prefix=key_prefix), staleness_ms=BOUND_MS),
        config,
    )
    shared = CachingStore(RedisStore.from_url(redis_url, prefix=key_prefix), staleness_ms=BOUND_MS)
    reader = SessionManager(shared, config)
    name = config.cookie.name
    cycle = writer.open([])
    cycle.session.login("alice")
    update = writer.commit(cycle)
    assert update.set_cookie is not None
    cookie = update.set_cookie.split(";", 1)[0]
    changed_at: list[float] = []
    seen: list[tuple[float, object]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read_loop() -> None:
        try:
            while not stop.is_set():
                started = time.monotonic()
                cycle = reader.open([cookie])
                user = cycle.session.user_id
                reader.commit(cycle)
                seen.append((started, user))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=read_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 10
        while not shared.stats.get("hit") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert shared.stats.get("hit"), shared.stats
        cycle = writer.open([cookie])
        cycle.session.logout()
        writer.commit(cycle)
        changed_at.append(time.monotonic())
        time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
        shared.close()
        writer.store.close()
    assert not errors, errors
    late = [(at - changed_at[0], user) for at, user in seen if at - changed_at[0] > BOUND_MS / 1000]
    assert late, "no read after the logout"
    assert all(user is None for _, user in late), [x for x in late if x[1] is not None][:5]
    assert any(user == "alice" for at, user in seen if at < changed_at[0])
    assert name in cookie
