"""Observers: how sessionary reports lifecycle events and store timings.

An :class:`Observer` receives every :class:`~sessionary.sansio.events.SessionEvent` and the
duration and outcome of every store operation. The default, :class:`LoggingObserver`, logs
security-relevant events to the ``sessionary.events`` logger with keyed fingerprints only
(never raw IDs, docs/security.md R79). Observers must not raise; if one does, the error is logged
and the request goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from sessionary.sansio.events import EventName, SessionEvent

__all__ = [
    "CACHE_OPERATION",
    "CACHE_OUTCOMES",
    "TOUCHED_OUTCOME",
    "LoggingObserver",
    "NullObserver",
    "Observer",
    "ObserverGroup",
    "notify",
]

TOUCHED_OUTCOME = "touched"
"""Outcome of a load that found the session and extended its idle expiry (the touch was due)."""

CACHE_OPERATION = "cache"
"""The operation name the local cache reports under: counts, not round trips (exporters
record no duration and no span for it)."""
CACHE_OUTCOMES = frozenset(
    {
        "hit",
        "miss",
        "miss_touch",
        "bypass",
        "confirm",
        "filled",
        "recovered",
        "evicted",
        "invalidated",
        "flush_disconnect",
        "flush_unanswered",
        "flush_server_flush",
        "flush_error",
        "flush_loop",
        "flush_topology",
    }
)
"""Outcomes the local cache reports as ``operation("cache", seconds, outcome)``: ``seconds`` is
how stale a ``hit`` may be, or the time bypassed for ``bypass`` and ``recovered``, else 0
(docs/cache.md)."""

events_logger = logging.getLogger("sessionary.events")
_logger = logging.getLogger("sessionary")

_WARNING_EVENTS = frozenset(
    {
        EventName.DUPLICATE_COOKIE,
        EventName.CONFLICT,
        EventName.CSRF_FAIL,
        EventName.CORRUPT_RECORD,
    }
)
_INFO_EVENTS = frozenset(
    {
        EventName.INVALID_ID,
        EventName.DESTROYED,
        EventName.ROTATED,
        EventName.EXPIRED_IDLE,
        EventName.EXPIRED_ABSOLUTE,
        EventName.COMMIT_REFUSED,
        EventName.ROTATION_JOINED,
    }
)


@runtime_checkable
class Observer(Protocol):
    """Receives lifecycle events and store-operation timings."""

    def event(self, event: SessionEvent) -> None:
        """A lifecycle event happened."""
        ...

    def operation(self, name: str, seconds: float, outcome: str) -> None:
        """A store operation (``load``, ``create``, ``update``, ``destroy``) finished.

        ``outcome`` is the result status (``found``, ``ok``, ``gone``…), ``touched`` for a
        load that found the session *and* performed the due sliding-expiry touch (``found``
        then means the throttle skipped the touch), ``deleted``/``absent`` for ``destroy``,
        or the name of the error type when it failed.
        """
        ...


class NullObserver:
    """Ignores everything."""

    def event(self, event: SessionEvent) -> None:
        """Ignore the event."""

    def operation(self, name: str, seconds: float, outcome: str) -> None:
        """Ignore the timing."""


class LoggingObserver:
    """Logs lifecycle events to ``sessionary.events`` (the default observer)."""

    def event(self, event: SessionEvent) -> None:
        """Log ``event`` at a level matching its security weight."""
        if event.name in _WARNING_EVENTS:
            level = logging.WARNING
        elif event.name in _INFO_EVENTS:
            level = logging.INFO
        else:
            level = logging.DEBUG
        if events_logger.isEnabledFor(level):
            events_logger.log(
                level,
                "session %s fp=%s user=%s %s",
                event.name.value,
                event.fingerprint,
                event.user,
                event.detail,
            )

    def operation(self, name: str, seconds: float, outcome: str) -> None:
        """Log slow or failed operations at DEBUG."""
        if _logger.isEnabledFor(logging.DEBUG):
            _logger.debug("store %s %s in %.3f ms", name, outcome, seconds * 1000)


class ObserverGroup:
    """Fans out to several observers."""

    def __init__(self, observers: Iterable[Observer]) -> None:
        self.observers = tuple(observers)

    def event(self, event: SessionEvent) -> None:
        """Forward to every observer."""
        for observer in self.observers:
            notify(observer, event)

    def operation(self, name: str, seconds: float, outcome: str) -> None:
        """Forward to every observer."""
        for observer in self.observers:
            try:
                observer.operation(name, seconds, outcome)
            except Exception:
                _logger.exception("sessionary: observer %r failed", observer)


def notify(observer: Observer, event: SessionEvent) -> None:
    """Deliver ``event``; an observer's own failure is logged, never propagated."""
    try:
        observer.event(event)
    except Exception:
        _logger.exception("sessionary: observer %r failed on %s", observer, event.name.value)
