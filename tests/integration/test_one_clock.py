"""One clock: nodes whose wall clocks disagree or jump still agree on every deadline (R38).

Each "node" is a manager with its own (skewed) wall clock over its own connection to the
same Redis. With ``time_authority="store"`` (the default) every node judges expiry by the
Redis clock, carried forward by its monotonic clock; with ``"local"`` each node trusts its
own wall clock, which is what these tests show going wrong.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from sessionary import SessionManager
from sessionary.sansio.clock import AuthorityClock
from sessionary.sansio.core import SessionCore
from sessionary.sansio.events import EventName
from sessionary.stores import CookieStore, RedisStore
from sessionary.testing import CapturingObserver, FakeClock, session_config

IDLE_S = 2.0
ABSOLUTE_S = 3.0


class SkewedClock:
    """A node's wall clock: the real time plus an offset that can jump."""

    def __init__(self, offset_s: float = 0.0) -> None:
        self.offset_s = offset_s

    def __call__(self) -> float:
        return time.time() + self.offset_s


@pytest.fixture
def stores(redis_url: str, key_prefix: str) -> Iterator[list[RedisStore]]:
    opened = [RedisStore.from_url(redis_url, prefix=key_prefix) for _ in range(2)]
    yield opened
    for store in opened:
        store.close()


def node(store: RedisStore, clock: SkewedClock, authority: str) -> SessionManager:
    config = session_config(
        clock=clock,
        time_authority=authority,
        idle_timeout=IDLE_S,
        absolute_timeout=ABSOLUTE_S,
        touch_interval=0.5,
    )
    return SessionManager(store, config, observer=CapturingObserver())


def sign_in(manager: SessionManager) -> str:
    cycle = manager.open([])
    cycle.session.login("ada")
    update = manager.commit(cycle)
    assert update.set_cookie is not None
    return update.set_cookie.split(";", 1)[0]


def user_of(manager: SessionManager, cookie: str) -> str | None:
    cycle = manager.open([cookie])
    user = cycle.session.user_id
    manager.commit(cycle)
    return user


def share_the_secret(a: SessionManager, b: SessionManager) -> SessionManager:
    """Node ``b`` with ``a``'s configuration but its own clock and authority."""
    config = a.config
    clone = session_config(
        secret_keys=list(config.secrets),
        clock=b.config.clock,
        time_authority=b.config.time_authority,
        idle_timeout=IDLE_S,
        absolute_timeout=ABSOLUTE_S,
        touch_interval=0.5,
    )
    return SessionManager(b.store, clone, observer=CapturingObserver())


@pytest.mark.parametrize(("authority", "alive"), [("store", False), ("local", True)])
def test_a_node_ten_minutes_behind_does_not_keep_idle_sessions_alive(
    stores: list[RedisStore], authority: str, alive: bool
) -> None:
    on_time = node(stores[0], SkewedClock(), "store")
    behind = share_the_secret(on_time, node(stores[1], SkewedClock(-600), authority))
    cookie = sign_in(on_time)
    time.sleep(IDLE_S + 0.5)  # past the idle timeout, in real time
    assert (user_of(behind, cookie) == "ada") is alive


@pytest.mark.parametrize(("authority", "alive"), [("store", False), ("local", True)])
def test_a_node_clock_stepped_back_an_hour_does_not_stretch_the_absolute_deadline(
    stores: list[RedisStore], authority: str, alive: bool
) -> None:
    clock = SkewedClock()
    manager = node(stores[0], clock, authority)
    cookie = sign_in(manager)
    clock.offset_s = -3600  # an NTP step, a resumed VM
    deadline = time.monotonic() + ABSOLUTE_S + 0.5
    while time.monotonic() < deadline:  # active all along: only the absolute deadline ends it
        time.sleep(0.5)
        user_of(manager, cookie)
    fresh = share_the_secret(manager, node(stores[1], clock, authority))  # a restarted node
    assert (user_of(fresh, cookie) == "ada") is alive


@pytest.mark.parametrize(("authority", "alive"), [("store", True), ("local", False)])
def test_a_node_ten_minutes_ahead_does_not_expire_sessions_early(
    stores: list[RedisStore], authority: str, alive: bool
) -> None:
    on_time = node(stores[0], SkewedClock(), "store")
    ahead = share_the_secret(on_time, node(stores[1], SkewedClock(600), authority))
    cookie = sign_in(on_time)
    # Seconds after the login, well inside both timeouts in real time: a node whose wall
    # clock runs ten minutes ahead must not judge the session idle (or past its deadline).
    assert (user_of(ahead, cookie) == "ada") is alive


def test_an_absolute_expiry_in_real_time_tells_the_returning_client_why(
    stores: list[RedisStore],
) -> None:
    # Real timeouts on Redis: the record outlives its absolute deadline (never served) so
    # the session of the next request can say why it ended.
    manager = node(stores[0], SkewedClock(), "store")
    cookie = sign_in(manager)
    deadline = time.monotonic() + ABSOLUTE_S + 0.3
    while time.monotonic() < deadline:  # active all along: only the absolute deadline ends it
        time.sleep(0.4)
        cycle = manager.open([cookie])
        ended = cycle.session.end_reason
        user = cycle.session.user_id
        manager.commit(cycle)
        if user is None:
            break
    assert user is None
    assert ended == "expired_absolute"


def test_the_store_clock_is_sampled_once_a_minute_not_per_request(
    stores: list[RedisStore],
) -> None:
    manager = node(stores[0], SkewedClock(), "store")
    sent: list[str] = []
    original: Any = stores[0].client.execute_command

    def counting(*args: object, **options: object) -> object:
        sent.append(str(args[0]))
        return original(*args, **options)

    stores[0].client.execute_command = counting  # type: ignore[method-assign]
    cookie = sign_in(manager)
    for _ in range(5):
        user_of(manager, cookie)
    assert sent.count("TIME") == 1
    authority = manager.core.authority
    assert authority is not None
    assert authority.ready
    assert abs(manager.core.now_ms() - stores[0].server_time()) < 1000


def test_a_sealed_cookie_issued_in_the_future_is_refused() -> None:
    ahead = FakeClock(1_750_000_000 + 3600)
    config = session_config(clock=ahead)
    issuer = SessionCore(config, mode=CookieStore())
    cycle = issuer.begin([])
    cycle.session["a"] = 1
    cycle.finish()
    cookie = cycle.response().set_cookie
    assert cookie is not None
    now = FakeClock(1_750_000_000)
    reader = SessionCore(
        session_config(secret_keys=list(config.secrets), clock=now), mode=CookieStore()
    )
    opened = reader.begin([cookie.split(";", 1)[0]])
    assert opened.session.is_new
    (skew,) = [e for e in opened.drain_events() if e.name is EventName.CLOCK_SKEW]
    assert skew.detail["refused"] is True
    assert skew.detail["ahead_ms"] == 3_600_000


def test_the_authority_clock_follows_the_monotonic_clock_and_never_goes_back() -> None:
    mono = [100.0]
    clock = AuthorityClock(lambda: mono[0])
    assert clock.due()
    assert not clock.ready
    started = clock.begin_sample()
    mono[0] += 0.002  # a 2 ms round trip: the answer is dated at its middle
    clock.adopt(1_750_000_000_000, started)
    assert clock.now_ms() == 1_750_000_000_001
    mono[0] += 30
    assert clock.now_ms() == 1_750_000_030_001
    assert not clock.due()
    mono[0] += 30
    assert clock.due()
    clock.adopt(1_700_000_000_000, clock.begin_sample())  # the store's clock stepped back
    assert clock.now_ms() == 1_750_000_060_001  # ...but time here does not
    clock.defer()
    assert not clock.due()
