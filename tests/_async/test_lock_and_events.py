"""The opt-in per-session lock, and lifecycle events delivered to a durable stream."""

from __future__ import annotations

import pytest

from sessionary import AsyncSessionManager, AsyncSweeper
from sessionary._async.events import AsyncMemoryEventLog
from sessionary.backends.redis._async.events import AsyncRedisEventStream
from sessionary.config import ConflictPolicy
from sessionary.exceptions import (
    ConfigurationError,
    LockLostError,
    LockNotAcquiredError,
    StoreConflictError,
)
from sessionary.sansio.events import EventName
from sessionary.stores import AsyncRedisStore
from sessionary.stores.base import AsyncSessionStore
from sessionary.testing import CapturingObserver, FakeClock, session_config
from tests._async.test_users import Device
from tests.concurrency import async_gather, async_sleep

pytestmark = pytest.mark.anyio

WRITERS = 50


async def increment(manager: AsyncSessionManager, device: Device, *, lock: bool) -> bool:
    """One read-modify-write request; ``False`` when the commit reported a conflict."""
    cycle = await manager.open(device.cookies(), lock=lock)
    session = cycle.session
    value = session["counter"]
    await async_sleep(0.001)  # the handler's own work, while others run
    session["counter"] = value + 1
    try:
        await manager.commit(cycle)
    except StoreConflictError:
        return False
    return True


async def counter(device: Device) -> int:
    value = (await device.request())["counter"]
    assert isinstance(value, int)
    return value


async def test_fifty_locked_increments_all_count(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    """Acceptance: 50 concurrent increments under the lock → the counter reads 50."""
    manager = AsyncSessionManager(
        async_store, session_config(clock=clock), observer=CapturingObserver(), lock_wait=30
    )
    device = Device(manager)
    await device.request(lambda s: s.__setitem__("counter", 0))
    results = await async_gather(
        [lambda: increment(manager, device, lock=True) for _ in range(WRITERS)], limit=WRITERS
    )
    assert all(results)
    assert await counter(device) == WRITERS


async def test_without_the_lock_strict_policy_never_loses_silently(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    """Documented behaviour without the lock, conflict policy ``raise``: every increment
    either commits or raises StoreConflictError, and the counter equals the commits."""
    manager = AsyncSessionManager(
        async_store,
        session_config(clock=clock, conflict_policy=ConflictPolicy.RAISE),
        observer=CapturingObserver(),
    )
    device = Device(manager)
    await device.request(lambda s: s.__setitem__("counter", 0))
    results = await async_gather(
        [lambda: increment(manager, device, lock=False) for _ in range(WRITERS)], limit=WRITERS
    )
    assert await counter(device) == sum(results)


async def test_without_the_lock_last_writer_wins_reports_every_lost_update(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    """Documented behaviour without the lock, default policy: increments can be lost, and a
    commit that overwrote a value changed since its read reports a ``conflict`` event (an
    ABA sequence can hide some losses, which is why read-modify-write needs the lock)."""
    observer = CapturingObserver()
    manager = AsyncSessionManager(async_store, session_config(clock=clock), observer=observer)
    device = Device(manager)
    await device.request(lambda s: s.__setitem__("counter", 0))
    await async_gather(
        [lambda: increment(manager, device, lock=False) for _ in range(WRITERS)], limit=WRITERS
    )
    lost = WRITERS - await counter(device)
    assert lost >= 0
    assert lost == 0 or observer.of(EventName.CONFLICT)


async def test_a_busy_lock_times_out_with_a_typed_error(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    manager = AsyncSessionManager(
        async_store, session_config(clock=clock), observer=CapturingObserver(), lock_wait=0.05
    )
    device = Device(manager)
    await device.request(lambda s: s.__setitem__("counter", 0))
    holder = await manager.open(device.cookies(), lock=True)
    with pytest.raises(LockNotAcquiredError):
        await manager.open(device.cookies(), lock=True)
    await manager.discard(holder)  # a failed handler releases the lock
    again = await manager.open(device.cookies(), lock=True)
    await manager.commit(again)


async def test_a_stale_id_cannot_hold_the_lock_of_the_session_it_no_longer_names(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    manager = AsyncSessionManager(
        async_store, session_config(clock=clock), observer=CapturingObserver(), lock_wait=0.05
    )
    device = Device(manager)
    await device.request(lambda s: s.__setitem__("counter", 0))
    stolen = device.cookies()  # copied before the login, whose rotation kills it
    await device.login("victim")
    squatter = await manager.open(stolen, lock=True)  # takes no lock: not this session's ID
    assert squatter.session.is_new
    assert squatter.lock_token is None
    mine = await manager.open(device.cookies(), lock=True)  # never a 409
    assert mine.session.user_id == "victim"
    mine.session["counter"] = 1
    await manager.commit(mine)
    await manager.discard(squatter)


async def test_an_expired_lease_refuses_the_commit_and_renewal_prevents_it(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    manager = AsyncSessionManager(
        async_store, session_config(clock=clock), observer=CapturingObserver(), lock_lease=1.0
    )
    device = Device(manager)
    await device.request(lambda s: s.__setitem__("counter", 0))

    # Leases run on the servers' real clocks, so this test takes real time. The renewals
    # come every 0.3 s, 1.2 s in all: longer than the 1 s lease, and each one early enough
    # to leave a loaded machine 0.7 s of slack.
    renewed = await manager.open(device.cookies(), lock=True)
    for _ in range(4):
        await async_sleep(0.3)
        assert await manager.renew_lock(renewed) is True
    renewed.session["counter"] = 1
    await manager.commit(renewed)

    lapsed = await manager.open(device.cookies(), lock=True)
    await async_sleep(1.5)  # past the lease, however slow the machine
    assert await manager.renew_lock(lapsed) is False
    lapsed.session["counter"] = 99
    with pytest.raises(LockLostError):
        await manager.commit(lapsed)
    assert await counter(device) == 1


async def test_locking_without_a_cookie_takes_no_lock(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    manager = AsyncSessionManager(async_store, session_config(clock=clock), lock_wait=0)
    cycle = await manager.open([], lock=True)
    assert cycle.lock_token is None
    assert await manager.renew_lock(cycle) is False
    cycle.session["x"] = 1
    await manager.commit(cycle)


def test_lock_settings_are_validated(clock: FakeClock) -> None:
    store = AsyncMemoryEventLog()  # not a store: the lock settings are checked first anyway
    with pytest.raises(ConfigurationError):
        AsyncSessionManager(store, session_config(clock=clock), lock_lease=0)  # type: ignore[arg-type]


async def test_events_reach_the_redis_stream_and_a_consumer_group(
    async_redis_store: AsyncRedisStore, key_prefix: str, clock: FakeClock
) -> None:
    stream = AsyncRedisEventStream(async_redis_store.client, prefix=key_prefix)
    await stream.ensure_group("audit")
    await stream.ensure_group("audit")  # idempotent
    manager = AsyncSessionManager(
        async_redis_store, session_config(clock=clock), observer=CapturingObserver(), events=stream
    )
    device = Device(manager)
    await device.request(lambda s: s.__setitem__("cart", [1]))
    await device.login("alice")
    await manager.revoke_user("bob")
    await device.request(lambda s: s.logout())

    names = [event.name for _, event in await stream.read()]
    assert names == [
        EventName.CREATED,
        EventName.ROTATED,
        EventName.REVOKED,
        EventName.DESTROYED,
    ]
    assert await stream.length() == 4
    batch = await stream.read_group("audit", "worker-1", count=10)
    assert [e.name for _, e in batch] == names
    assert batch[1][1].user == "alice"
    assert all(e.fingerprint is None or len(e.fingerprint) == 16 for _, e in batch)
    assert await stream.ack("audit", [entry_id for entry_id, _ in batch]) == 4
    assert await stream.read_group("audit", "worker-1") == []
    assert await stream.ack("audit", []) == 0
    assert "events" in repr(stream)


async def test_events_reach_the_memory_log(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    log = AsyncMemoryEventLog(maxlen=3)
    manager = AsyncSessionManager(async_store, session_config(clock=clock), events=log)
    device = Device(manager)
    await device.request(lambda s: s.__setitem__("cart", [1]))
    await device.login("alice")
    first = await log.read()
    assert [e.name for _, e in first] == [EventName.CREATED, EventName.ROTATED]
    assert await log.read(first[0][0]) == first[1:]
    await device.request(lambda s: s.logout())
    await device.login("bob")
    assert await log.length() == 3  # trimmed to maxlen


async def test_the_sweeper_reports_each_expiry_once(
    async_store: AsyncSessionStore, clock: FakeClock
) -> None:
    redis_store = getattr(async_store, "inner", async_store)  # through a wrapper too
    if hasattr(redis_store, "track_expiry"):  # a Redis store's knob (memory always sweeps)
        redis_store.track_expiry = True
    log = AsyncMemoryEventLog()
    observer = CapturingObserver()
    manager = AsyncSessionManager(
        async_store,
        session_config(clock=clock, idle_timeout=600, absolute_timeout=3600),
        observer=observer,
        events=log,
    )
    sweeper = AsyncSweeper(manager, batch=2)
    idle, busy = Device(manager), Device(manager)
    await idle.login("alice")
    await busy.request(lambda s: s.__setitem__("cart", [1]))
    clock.advance(500)
    await busy.request(lambda s: s.__setitem__("cart", [2]))
    clock.advance(200)  # idle is past its idle timeout; busy is not
    assert await sweeper.sweep_once() == 1
    assert await sweeper.sweep_once() == 0
    (event,) = observer.of(EventName.EXPIRED_IDLE)
    assert event.user == "alice"
    # Swept, but a tombstone still tells the returning client why (for expiry_notice).
    assert (await idle.request()).end_reason == "expired_idle"
    clock.advance(3600)  # busy reaches its absolute deadline
    assert await sweeper.sweep_once() == 1
    assert [e.name for _, e in await log.read()] == [
        EventName.CREATED,
        EventName.CREATED,
        EventName.EXPIRED_IDLE,  # the sweeper
        EventName.EXPIRED_IDLE,  # the client that came back
        EventName.EXPIRED_ABSOLUTE,
    ]
