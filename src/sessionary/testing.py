"""A test kit for applications using sessionary (and for sessionary's own tests).

* :class:`FakeClock` — an injectable clock (``SessionConfig(clock=FakeClock())``) to test
  idle and absolute expiry without sleeping.
* :class:`CapturingObserver` / :func:`capture_events` — collect lifecycle events.
* :func:`session_config` — a valid configuration with a random secret, for tests only.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from sessionary.config import SessionConfig
from sessionary.sansio.events import EventName, SessionEvent

__all__ = ["CapturingObserver", "FakeClock", "capture_events", "session_config"]


class FakeClock:
    """A manually advanced clock, in seconds since the epoch. Thread-safe.

    >>> clock = FakeClock(1_700_000_000)
    >>> clock.advance(90)
    >>> clock()
    1700000090.0
    """

    def __init__(self, start: float | None = None) -> None:
        self._now = float(time.time() if start is None else start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        """The current fake time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or backward, with a negative value)."""
        with self._lock:
            self._now += seconds

    def set(self, now: float) -> None:
        """Jump to ``now``."""
        with self._lock:
            self._now = float(now)


class CapturingObserver:
    """An observer that keeps every event and operation it receives."""

    def __init__(self) -> None:
        self.events: list[SessionEvent] = []
        self.operations: list[tuple[str, float, str]] = []
        self._lock = threading.Lock()

    def event(self, event: SessionEvent) -> None:
        """Keep ``event``."""
        with self._lock:
            self.events.append(event)

    def operation(self, name: str, seconds: float, outcome: str) -> None:
        """Keep the timing."""
        with self._lock:
            self.operations.append((name, seconds, outcome))

    def names(self) -> list[EventName]:
        """The names of the captured events, in order."""
        return [e.name for e in self.events]

    def of(self, name: EventName) -> list[SessionEvent]:
        """The captured events called ``name``."""
        return [e for e in self.events if e.name is name]

    def clear(self) -> None:
        """Forget everything captured so far."""
        with self._lock:
            self.events.clear()
            self.operations.clear()


def capture_events() -> CapturingObserver:
    """Return a fresh :class:`CapturingObserver` (pass it as ``observer=``)."""
    return CapturingObserver()


def session_config(**overrides: Any) -> SessionConfig:
    """A :class:`SessionConfig` with a fresh random secret; keyword arguments override."""
    overrides.setdefault("secret_keys", [secrets.token_bytes(32)])
    return SessionConfig(**overrides)
