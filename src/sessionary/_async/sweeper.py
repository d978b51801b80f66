"""The expiry sweeper: reports ``expired_idle`` / ``expired_absolute`` events exactly once.

Redis forgets an expired session silently (its TTL fires), so the store keeps an expiry
schedule — sorted sets bucketed over hash slots, scored by the time a session may expire —
and the sweeper walks it. Run one in every application process or as a separate job: any
number may run at once, each expired session is reported by exactly one of them (the one
whose ``ZREM`` claims it). Keyspace notifications are not needed.

>>> sweeper = AsyncSweeper(manager)  # doctest: +SKIP
>>> await sweeper.run(interval=5.0, should_stop=stop_event.is_set)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

from sessionary._async.manager import AsyncSessionManager
from sessionary.exceptions import ConfigurationError, StoreError
from sessionary.observability import notify
from sessionary.sansio.expiry import swept_events
from sessionary.stores.base import (
    AsyncEventsInTransaction,
    AsyncExpirySweep,
    Capability,
    capabilities_of,
)

__all__ = ["AsyncSweeper"]

logger = logging.getLogger("sessionary")


class AsyncSweeper:
    """Finds expired sessions of a manager's store and publishes their events."""

    def __init__(self, manager: AsyncSessionManager, *, batch: int = 500) -> None:
        store = manager.store
        if Capability.EXPIRY_SWEEP not in capabilities_of(store):
            msg = (
                f"{type(store).__name__} has no expiry schedule to sweep "
                "(a RedisStore needs track_expiry=True for the sweeper)"
            )
            raise ConfigurationError(msg)
        self.manager = manager
        self.store = cast("AsyncExpirySweep", store)
        self.batch = batch

    async def sweep_once(self) -> int:
        """One pass over the schedule; returns how many expired sessions this sweeper won."""
        manager = self.manager
        now = manager.core.now_ms()
        idle = manager.config.idle_timeout_ms
        in_store = manager.core.events_in_store  # the tombstones and their events: one commit
        if in_store:
            store = cast("AsyncEventsInTransaction", self.store)
            expired = await store.sweep(now, idle, self.batch, record_events=True)
        else:
            expired = await self.store.sweep(now, idle, self.batch)
        if not expired:
            return 0
        events = swept_events(expired, now)
        for event in events:
            notify(manager.observer, event)
        if manager.events is not None and not in_store:
            await manager.events.publish(events)
        return len(events)

    async def run(
        self, *, interval: float = 5.0, should_stop: Callable[[], bool] = lambda: False
    ) -> int:
        """Sweep every ``interval`` seconds until ``should_stop()``; returns the total."""
        total = 0
        while not should_stop():
            try:
                total += await self.sweep_once()
            except StoreError:
                logger.warning("sessionary: expiry sweep failed; retrying in %.1f s", interval)
            await asyncio.sleep(interval)
        return total
