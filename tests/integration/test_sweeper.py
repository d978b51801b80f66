"""The expiry sweeper: each expired session reported exactly once, whoever sweeps.

Acceptance: 3 sweeper *processes* over 5 000 expiring sessions → exactly 5 000 ``expired``
events in the Redis Stream, none twice; live sessions are rescheduled, never reported.
"""

from __future__ import annotations

import multiprocessing
import secrets
from collections import Counter

import pytest
import redis

from sessionary import MemoryEventLog, SessionManager, Sweeper
from sessionary.exceptions import ConfigurationError
from sessionary.sansio.events import EventName
from sessionary.sansio.ops import Create
from sessionary.stores import MemoryStore, RedisEventStream, RedisStore
from sessionary.testing import CapturingObserver, FakeClock, session_config
from tests.helpers import HOUR, MINUTE, T0

IDLE_EXPIRING = 2_500
ABSOLUTE_EXPIRING = 2_500
ALIVE = 500
SWEEP_AT = T0 + 30 * MINUTE


def populate(store: RedisStore | MemoryStore) -> None:
    """2 500 idle-expiring, 2 500 absolute-expiring and 500 live sessions, at T0."""
    plans = (
        [(10 * MINUTE, T0 + 12 * HOUR)] * IDLE_EXPIRING
        + [(HOUR, T0 + 20 * MINUTE)] * ABSOLUTE_EXPIRING
        + [(2 * HOUR, T0 + 12 * HOUR)] * ALIVE
    )
    for index, (idle, deadline) in enumerate(plans):
        store.create(
            Create(
                key=secrets.token_urlsafe(16),
                digest=secrets.token_bytes(16),
                nonce=secrets.token_bytes(8),
                now=T0,
                idle=idle,
                deadline=deadline,
                attributes={"n": b"\x011"},
                user=f"user-{index % 7}",
                seal=secrets.token_bytes(16),  # stores keep the record MAC as given
            )
        )


def manager_for(store: RedisStore | MemoryStore, events: object) -> SessionManager:
    clock = FakeClock(SWEEP_AT / 1000)
    return SessionManager(
        store,
        session_config(clock=clock, idle_timeout=2 * HOUR / 1000, absolute_timeout=12 * 3600),
        observer=CapturingObserver(),
        events=events,  # type: ignore[arg-type]
    )


def sweep_in_process(url: str, prefix: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    """One sweeper process: sweep until a pass finds nothing (runs in a spawned child)."""
    store = RedisStore.from_url(url, prefix=prefix, track_expiry=True, timeout=10)
    try:
        manager = manager_for(store, RedisEventStream(store.client, prefix=prefix))
        sweeper = Sweeper(manager, batch=200)
        barrier.wait(timeout=60)  # all three start together, so they really race
        while sweeper.sweep_once():
            pass
    finally:
        store.close()


@pytest.mark.slow
def test_three_sweeper_processes_report_each_expiry_exactly_once(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    store = RedisStore.from_url(redis_url, prefix=key_prefix, track_expiry=True, timeout=10)
    try:
        populate(store)
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(3)
        workers = [
            context.Process(target=sweep_in_process, args=(redis_url, key_prefix, barrier))
            for _ in range(3)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        assert [w.exitcode for w in workers] == [0, 0, 0]

        stream = RedisEventStream(store.client, prefix=key_prefix)
        events = []
        after = "0"
        while batch := stream.read(after, count=1000):
            events += [event for _, event in batch]
            after = batch[-1][0]
        refs = Counter(event.detail["ref"] for event in events)
        names = Counter(event.name for event in events)
        assert len(events) == IDLE_EXPIRING + ABSOLUTE_EXPIRING
        assert max(refs.values()) == 1  # none twice
        assert names == {
            EventName.EXPIRED_IDLE: IDLE_EXPIRING,
            EventName.EXPIRED_ABSOLUTE: ABSOLUTE_EXPIRING,
        }
        assert {event.user for event in events} == {f"user-{i}" for i in range(7)}
        # The live sessions stay scheduled (rescheduled at their expiry), unreported.
        scheduled = sum(
            redis_admin.zcard(store.layout.due_key(bucket)) for bucket in range(store.due_buckets)
        )
        assert scheduled == ALIVE
    finally:
        store.close()


def test_memory_sweeper_reports_expired_sessions_once() -> None:
    store = MemoryStore(max_entries=100_000)
    populate(store)
    log = MemoryEventLog(maxlen=100_000)
    sweeper = Sweeper(manager_for(store, log))
    assert sweeper.sweep_once() == IDLE_EXPIRING + ABSOLUTE_EXPIRING
    assert sweeper.sweep_once() == 0
    assert log.length() == IDLE_EXPIRING + ABSOLUTE_EXPIRING
    assert len(store.engine) == ALIVE


def test_sweeper_needs_an_expiry_schedule(redis_url: str, key_prefix: str) -> None:
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    try:
        with pytest.raises(ConfigurationError, match="track_expiry"):
            Sweeper(manager_for(store, None))
    finally:
        store.close()


def test_sweeper_run_stops_when_asked(
    redis_url: str, key_prefix: str, redis_admin: redis.Redis
) -> None:
    store = RedisStore.from_url(redis_url, prefix=key_prefix, track_expiry=True)
    try:
        manager = manager_for(store, RedisEventStream(store.client, prefix=key_prefix))
        passes = iter([False, False, True])
        assert Sweeper(manager).run(interval=0.01, should_stop=lambda: next(passes)) == 0
    finally:
        store.close()
