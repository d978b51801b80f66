"""Lifecycle events the core emits (SECURITY.md R80), delivered by the shell to an observer.

Events name sessions by a keyed fingerprint of their selector, which stays the same when the
ID rotates; raw IDs never appear.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EventName", "SessionEvent"]


class EventName(str, enum.Enum):
    """The kinds of lifecycle events."""

    CREATED = "created"
    ROTATED = "rotated"
    DESTROYED = "destroyed"
    EXPIRED_IDLE = "expired_idle"
    EXPIRED_ABSOLUTE = "expired_absolute"
    INVALID_ID = "invalid_id"
    """A malformed, oversize, unknown or unverifiable ID was presented."""
    DUPLICATE_COOKIE = "duplicate_cookie"
    """The session cookie appeared several times with different values."""
    CONFLICT = "conflict"
    """A commit found fields it read and wrote changed underneath (see ``detail``)."""
    COMMIT_REFUSED = "commit_refused"
    """A commit was refused because the session was destroyed or rotated meanwhile."""
    REVOKED = "revoked"
    """Ended by ``revoke_user`` / ``revoke_session``, or refused because its user epoch moved."""
    EVICTED = "evicted"
    """A session ended to respect ``max_sessions_per_user`` (policy ``evict_oldest``)."""
    FAIL_CLOSED = "fail_closed"
    """The store was unavailable and a request that needed the session was refused (503)."""
    FAIL_OPEN_READONLY = "fail_open_readonly"
    """Store unavailable; a route that allows it went on with an anonymous read-only view."""


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """One lifecycle event. ``at`` is milliseconds since the epoch (UTC)."""

    name: EventName
    at: int
    fingerprint: str | None = None
    user: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
