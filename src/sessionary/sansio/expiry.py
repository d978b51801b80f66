"""Idle and absolute expiry arithmetic: the one definition every store follows.

All values are integer milliseconds. A session is expired when ``now`` has reached its
absolute deadline or its last persisted access plus its idle timeout. The store's time to
live is ``min(accessed + idle, deadline) - now``: it never reaches past the absolute
deadline (R36) and, because ``accessed`` only moves forward, a slower concurrent request
never shortens it. The TTL is only a garbage collector: expiry is decided on every read.
"""

from __future__ import annotations

from collections.abc import Sequence

from sessionary.sansio.events import EventName, SessionEvent, session_ref
from sessionary.sansio.ops import ExpiredSession, LoadStatus

__all__ = ["cookie_max_age_s", "effective_idle", "expiry_status", "touch_due", "ttl_ms"]


def effective_idle(record_idle: int, max_idle: int) -> int:
    """The idle timeout that applies: the record's own, capped by the configured one."""
    return min(record_idle, max_idle)


def expiry_status(*, now: int, accessed: int, idle: int, deadline: int) -> LoadStatus:
    """FOUND, EXPIRED_ABSOLUTE or EXPIRED_IDLE (absolute wins when both apply)."""
    if now >= deadline:
        return LoadStatus.EXPIRED_ABSOLUTE
    if now >= accessed + idle:
        return LoadStatus.EXPIRED_IDLE
    return LoadStatus.FOUND


def touch_due(*, now: int, accessed: int, touch_after: int) -> bool:
    """Whether a read should move ``accessed`` forward (the touch throttle)."""
    return now - accessed >= touch_after


def ttl_ms(*, now: int, accessed: int, idle: int, deadline: int) -> int:
    """The store time-to-live for a live session (at least 1 ms)."""
    return max(1, min(accessed + idle, deadline) - now)


def cookie_max_age_s(*, now: int, deadline: int, cap_s: int) -> int:
    """Cookie ``Max-Age``: never past the absolute deadline, never over the 400-day cap."""
    return max(0, min((deadline - now) // 1000, cap_s))


_EVENT_OF = {
    LoadStatus.EXPIRED_IDLE: EventName.EXPIRED_IDLE,
    LoadStatus.EXPIRED_ABSOLUTE: EventName.EXPIRED_ABSOLUTE,
}


def swept_events(expired: Sequence[ExpiredSession], now: int) -> list[SessionEvent]:
    """The ``expired_*`` events of the sessions a sweep ended at ``now`` (named by ``ref``)."""
    return [
        SessionEvent(
            _EVENT_OF.get(item.status, EventName.EXPIRED_IDLE),
            now,
            None,
            item.user,
            {"ref": session_ref(item.key), "source": "sweeper"},
        )
        for item in expired
    ]
