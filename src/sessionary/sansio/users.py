"""Users and their sessions: revocation, device lists, session limits (sans-IO decisions).

Every authenticated session carries a *revocation stamp* (the time its login began) and is
indexed under its user (a sorted set scored by the session's absolute deadline). Each user
has an *epoch*: the time of their last ``revoke_user``. A session is live only while its
stamp is later than its user's epoch, so ``revoke_user`` is one write, whatever the number
of sessions, and it wins over every login that began before it — even one that commits
afterwards, or a session a missed delete left behind (docs/security.md R34-R40).

The store reads the epoch together with the session and the core decides here; stores
never compare stamps themselves.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from sessionary.config import LimitPolicy
from sessionary.sansio.devices import compact_user_agent
from sessionary.sansio.expiry import effective_idle, expiry_status
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.ops import LoadStatus, RecordMeta, UserBinding

if TYPE_CHECKING:
    from sessionary.sansio.context import CoreContext

__all__ = [
    "MAX_USER_AGENT_LENGTH",
    "DeviceInfo",
    "RevocationReason",
    "UserSession",
    "decode_device",
    "encode_device",
    "is_live",
    "is_live_session_of",
    "is_revoked",
    "login_binding",
    "next_epoch",
    "sessions_to_evict",
]

MAX_USER_AGENT_LENGTH = 256


class RevocationReason(str, enum.Enum):
    """Why every session of a user ended: the ``reason`` of the ``revoked`` event.

    The three cases ASVS 7.4.2/7.4.3/7.4.5 name each have a hook on the manager
    (``account_disabled``, ``credentials_changed``, ``admin_revoke``); ``revoke_user``
    defaults to ``LOGOUT_EVERYWHERE``, the user's own "log out everywhere".
    """

    LOGOUT_EVERYWHERE = "logout_everywhere"
    ACCOUNT_DISABLED = "account_disabled"
    """The account was disabled or deleted: every session ends, none is kept."""
    CREDENTIALS_CHANGED = "credentials_changed"
    """A password or another authentication factor changed or was removed."""
    ADMIN = "admin"
    """An administrator ended the user's sessions."""


def is_revoked(stamp: int | None, epoch: int | None) -> bool:
    """Whether a session stamped ``stamp`` is revoked by its user's ``epoch``."""
    if epoch is None or epoch <= 0:
        return False
    return stamp is None or stamp <= epoch


def next_epoch(current: int | None, now: int) -> int:
    """The epoch ``revoke_user`` sets: never moves backwards, even under clock skew."""
    return max(current or 0, now)


def sessions_to_evict(
    others: Iterable[tuple[int, str]], binding: UserBinding
) -> tuple[str, ...] | None:
    """Apply the session limit to a login, given the user's *other* live sessions.

    ``others`` are ``(score, storage key)`` pairs (the score is the absolute deadline, so
    the lowest is the oldest login). Returns the keys to evict, oldest first (empty when
    within the limit), or ``None`` when the login must be refused (policy ``reject_new``).
    """
    limit = binding.max_sessions
    if limit is None:
        return ()
    ordered = sorted(others)
    excess = len(ordered) - limit + 1
    if excess <= 0:
        return ()
    if not binding.evict_oldest:
        return None
    return tuple(key for _, key in ordered[:excess])


def is_live(meta: RecordMeta, now: int, max_idle: int) -> bool:
    """Whether a record's expiry arithmetic says it is still alive at ``now``."""
    idle = effective_idle(meta.idle, max_idle)
    return (
        expiry_status(now=now, accessed=meta.accessed, idle=idle, deadline=meta.deadline)
        is LoadStatus.FOUND
    )


def is_live_session_of(
    meta: RecordMeta | None, user_key: str, *, now: int, max_idle: int, epoch: int | None
) -> bool:
    """Whether a user-index entry still names a live session of that user.

    ``meta`` is ``None`` for a missing record or a tombstone; a record indexed under another
    user, expired, or revoked by the user's ``epoch`` is dead too (the index prunes it).
    """
    return (
        meta is not None
        and meta.user_key == user_key
        and is_live(meta, now, max_idle)
        and not is_revoked(meta.stamp, epoch)
    )


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the login request looked like: its ``User-Agent`` and a keyed client-IP hash."""

    user_agent: str | None = None
    client_hash: str | None = None


def encode_device(info: DeviceInfo) -> bytes:
    """Encode device information for storage (compact JSON, within 64 bytes).

    The agent is stored as its label (:func:`~sessionary.sansio.devices.compact_user_agent`),
    so that the record stays in Redis's compact hash encoding.
    """
    data: dict[str, str] = {}
    if info.user_agent:
        data["ua"] = compact_user_agent(info.user_agent)
    if info.client_hash:
        data["ip"] = info.client_hash
    return orjson.dumps(data)


def decode_device(raw: bytes | None) -> DeviceInfo:
    """Decode device information; anything malformed reads as unknown."""
    if not raw:
        return DeviceInfo()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return DeviceInfo()
    if not isinstance(data, dict):
        return DeviceInfo()
    ua, ip = data.get("ua"), data.get("ip")
    return DeviceInfo(
        user_agent=ua[:MAX_USER_AGENT_LENGTH] if isinstance(ua, str) else None,
        client_hash=ip if isinstance(ip, str) else None,
    )


@dataclass(frozen=True, slots=True)
class UserSession:
    """One live session of a user, as ``list_user_sessions`` reports it.

    ``ref`` names the session for :meth:`revoke_session` without revealing its ID.
    Times are UTC seconds since the epoch.
    """

    ref: str
    created: float
    last_seen: float
    expires: float
    auth_time: float | None
    user_agent: str | None
    client_hash: str | None
    current: bool

    @classmethod
    def from_meta(cls, ref: str, meta: RecordMeta, *, current: bool) -> UserSession:
        """Build the entry from a record's metadata."""
        device = decode_device(meta.device)
        return cls(
            ref=ref,
            created=meta.created / 1000,
            last_seen=meta.accessed / 1000,
            expires=min(meta.deadline, meta.accessed + meta.idle) / 1000,
            auth_time=None if meta.auth_time is None else meta.auth_time / 1000,
            user_agent=device.user_agent,
            client_hash=device.client_hash,
            current=current,
        )

    def describe_age(self, now: float | None = None) -> str:
        """``"3 min ago"``-style text for the last activity (for device pages and the CLI)."""
        seconds = max(0.0, (time.time() if now is None else now) - self.last_seen)
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
            if seconds >= size:
                return f"{int(seconds // size)} {unit} ago"
        return "just now"


def login_binding(
    core: CoreContext,
    user_id: str,
    *,
    now: int,
    tenant: str,
    client: str | None,
    user_agent: str | None,
) -> UserBinding:
    """Index a login under its user: its device, its deadline, the session limit."""
    config = core.config
    keyring = core.keyring
    device = DeviceInfo(
        user_agent=user_agent,
        client_hash=keyring.fingerprint("client:" + client) if client else None,
    )
    return UserBinding(
        user_key=KeyRing.user_key(user_id, tenant),
        stamp=now,
        deadline=now + config.absolute_timeout_ms,
        device=encode_device(device),
        max_sessions=config.max_sessions_per_user,
        evict_oldest=config.session_limit is LimitPolicy.EVICT_OLDEST,
    )
