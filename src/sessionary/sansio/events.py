"""Lifecycle events the core emits (docs/security.md R80), delivered by the shell to an observer.

Events name sessions by a keyed fingerprint of their selector, which stays the same when the
ID rotates; raw IDs never appear.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any

import orjson

__all__ = ["ChangeEvents", "EventName", "SessionEvent", "decode_event", "encode_event"]


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
    CSRF_FAIL = "csrf_fail"
    """An unsafe request failed the CSRF origin or token check (``detail["reason"]``)."""
    FAIL_CLOSED = "fail_closed"
    """The store was unavailable and a request that needed the session was refused (503)."""
    FAIL_OPEN_READONLY = "fail_open_readonly"
    """Store unavailable; a route that allows it went on with an anonymous read-only view."""
    CLIENT_MISMATCH = "client_mismatch"
    """``client_binding``: an authenticated request came from another user agent or address
    than the login (``detail["fields"]``; ``detail["ended"]`` when enforced)."""
    CLOCK_SKEW = "clock_skew"
    """A record was stamped further in this node's future than ``clock_skew_tolerance``:
    this node's clock lags (``detail["behind_ms"]``). Check NTP."""
    CORRUPT_RECORD = "corrupt_record"
    """Alert: the store held a record that failed authentication, did not decode, or is not a
    session (``detail["reason"]``). It was treated as anonymous and deleted: someone or
    something wrote to the session store besides sessionary."""
    ROTATION_JOINED = "rotation_joined"
    """A write raced a rotation of its session by another request of the same user; it was
    carried over to the rotated record (whose new cookie the other response carries)."""
    MIGRATED = "migrated"
    """A legacy session became a sessionary session (``detail["source"]``, ``"outcome"``;
    ``detail["dropped"]`` names the values sessionary's codec cannot represent)."""


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """One lifecycle event. ``at`` is milliseconds since the epoch (UTC)."""

    name: EventName
    at: int
    fingerprint: str | None = None
    user: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChangeEvents:
    """The lifecycle events a change (a create, update or destroy) produces once it takes effect.

    The core builds them when it plans the change and emits :meth:`taken` when the store
    reports that the change took effect. When the manager's event sink is the store itself
    and the store declares ``Capability.EVENTS_IN_TRANSACTION``, the change carries them
    (``Create.events``, ``Update.events``, ``Destroy.events``) and the store writes
    :meth:`taken` in the change's own transaction: the events commit with the change, or
    neither does.
    """

    events: tuple[SessionEvent, ...] = ()
    evicted: SessionEvent | None = None
    """What each session a login ends is reported as: this event with its ``ref`` added."""
    counted: SessionEvent | None = None
    """Reported with how many sessions the change ended (``detail["sessions"]``): a
    revocation of every session of a user."""

    def taken(self, evicted: tuple[str, ...] = (), *, ended: int = 0) -> list[SessionEvent]:
        """The change's events as it took effect.

        ``evicted``: the storage keys of the sessions a login ended; ``ended``: how many
        sessions a revocation ended.
        """
        taken = list(self.events)
        template = self.evicted
        if template is not None:
            taken += (_with(template, ref=session_ref(key)) for key in evicted)
        if self.counted is not None:
            taken.append(_with(self.counted, sessions=ended))
        return taken


def _with(event: SessionEvent, **detail: object) -> SessionEvent:
    """``event`` with more detail."""
    more = {**event.detail, **detail}
    return SessionEvent(event.name, event.at, event.fingerprint, event.user, more)


def session_ref(storage_key: str) -> str:
    """A handle naming a stored session in device lists (reveals nothing about its ID).

    An unkeyed hash of the storage key (itself a keyed hash of the selector), so it is the
    same under every key ring: a ref listed before a rotation of ``secret_keys`` still
    names its session after it.
    """
    mac = blake2b(storage_key.encode("ascii"), digest_size=8, person=b"sessionary-ref")
    return mac.hexdigest()


def encode_event(event: SessionEvent) -> dict[bytes, bytes]:
    """Stream-entry fields for an event (``XADD``): name, time, fingerprint, user, detail."""
    fields = {b"event": event.name.value.encode(), b"at": str(event.at).encode()}
    if event.fingerprint is not None:
        fields[b"fp"] = event.fingerprint.encode()
    if event.user is not None:
        fields[b"user"] = event.user.encode("utf-8", "surrogatepass")
    if event.detail:
        fields[b"detail"] = orjson.dumps(event.detail, default=str)
    return fields


def decode_event(fields: dict[bytes, bytes]) -> SessionEvent | None:
    """The event of a stream entry; ``None`` for an entry that is not a sessionary event."""
    try:
        name = EventName(fields[b"event"].decode())
        at = int(fields[b"at"])
        detail = orjson.loads(fields[b"detail"]) if b"detail" in fields else {}
    except (KeyError, ValueError, UnicodeDecodeError, orjson.JSONDecodeError):
        return None
    fingerprint = fields.get(b"fp")
    user = fields.get(b"user")
    return SessionEvent(
        name,
        at,
        None if fingerprint is None else fingerprint.decode("ascii", "replace"),
        None if user is None else user.decode("utf-8", "replace"),
        detail if isinstance(detail, dict) else {},
    )
