"""Live migration from another session library: the decisions, without I/O.

A request whose cookie sessionary does not recognise but a *legacy source* does (Flask-Session,
starsessions, Starlette's signed cookie...) gets its old session read, converted and stored
as a sessionary session; the shell (:mod:`sessionary._async.migration`) performs the reads
and writes this module plans.

* **One session per legacy session.** The new ID is *derived* from the legacy ID with a keyed
  hash (:func:`derive_token`, the key ring's ``migration`` subkey): concurrent requests with
  the same old cookie, and the bulk copy, all name the same record, whose ``Create`` only
  the first wins (``EXISTS`` for the others, which then load it). Nobody without the
  application's secret can compute it, and only a holder of the live legacy ID is ever
  given it (the shell asks the legacy source first).
* **Nothing dropped silently.** :func:`convert` encodes every value with sessionary's codec;
  a key it cannot represent is named in :attr:`Converted.dropped` (never its value) and in
  the ``migrated`` event.
* **Remaining lifetime kept.** The new record's absolute deadline is the legacy session's
  expiry when it has one, capped by ``absolute_timeout``.
"""

from __future__ import annotations

import hmac
import secrets
from base64 import urlsafe_b64encode
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sessionary.exceptions import CodecError, MigrationError
from sessionary.sansio.ids import SessionToken
from sessionary.sansio.ops import Create, RecordMeta
from sessionary.sansio.server_record import ServerRecord
from sessionary.sansio.users import login_binding

if TYPE_CHECKING:
    from sessionary.sansio.context import CoreContext

__all__ = [
    "Converted",
    "CopyReport",
    "LegacySession",
    "PickleTrust",
    "Scanned",
    "UserMapper",
    "convert",
    "derive_token",
    "plan_create",
    "valid_user_id",
]

UserMapper = Callable[[Mapping[str, Any]], "str | int | None"]
"""Maps a legacy session's data to the signed-in user's ID (``None``: anonymous).

For example ``lambda data: data.get("_auth_user_id")`` (Django) or
``lambda data: data.get("_user_id")`` (Flask-Login)."""

_NONCE_BYTES = 8


@dataclass(frozen=True, slots=True)
class LegacySession:
    """A session as a legacy source read it: its ID, its decoded data, its expiry."""

    legacy_id: str = field(repr=False)
    """The legacy library's session ID (a secret: never logged, never stored)."""
    data: Mapping[str, Any] = field(repr=False)
    """The decoded attributes, with the library's own metadata removed."""
    expires_at: int | None = None
    """When the legacy session would have expired (ms since the epoch), if known."""


@dataclass(frozen=True, slots=True)
class PickleTrust:
    """The application's explicit statement that only it can write a pickled legacy source.

    Unpickling runs whatever code the record's writer put in it (docs/security.md R49), so a
    source in a pickle format (Django's ``cache`` session backend) is read only with one of
    these, and is still refused when sessionary can see that others may write it (a Redis
    without a password, memcached). ``statement`` says who can write the source and why
    nobody else can ("the Redis at cache.internal: ACL user django only, TLS, private
    network"); it is logged when the source is built, so the decision is on record.
    """

    statement: str

    def __post_init__(self) -> None:
        if len(self.statement.strip()) < _MIN_STATEMENT:
            msg = "PickleTrust needs a statement of who can write the source and why no one else"
            raise MigrationError(msg)


_MIN_STATEMENT = 20

Scanned = tuple[str, "LegacySession | MigrationError | None"]
"""One record of a legacy source's scan: its ID and the session, the reason it could not be
read, or ``None`` when it vanished (expired) between the scan and the read."""


@dataclass(slots=True)
class CopyReport:
    """What a bulk copy did (:meth:`~sessionary.AsyncLegacyMigration.copy`), for its report.

    ``skipped`` and ``failed`` count by reason: ``"already migrated"`` (the session exists:
    an earlier run, or a live request), ``"expired"``; ``"unrepresentable"`` (with
    ``strict``), a decode reason (``MigrationError.reason``) or ``"limit"``.
    """

    migrated: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    """Keys left out of migrated sessions because the codec cannot represent them, by key."""

    @property
    def seen(self) -> int:
        """How many legacy records the copy looked at."""
        return self.migrated + sum(self.skipped.values()) + sum(self.failed.values())

    def skip(self, reason: str) -> None:
        """Count a record left alone for ``reason``."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def fail(self, reason: str) -> None:
        """Count a record that could not be migrated for ``reason``."""
        self.failed[reason] = self.failed.get(reason, 0) + 1


@dataclass(frozen=True, slots=True)
class Converted:
    """A legacy session's data as sessionary stores it."""

    attributes: dict[str, bytes] = field(repr=False)
    """Each representable value, encoded by the codec."""
    dropped: tuple[str, ...] = ()
    """The keys whose value the codec cannot represent (the values are not kept)."""
    size: int = 0
    """Encoded size of :attr:`attributes` (keys and values, bytes)."""


_MAX_USER_ID_LENGTH = 256  # as Session.login accepts


def valid_user_id(user: str) -> str | None:
    """``user`` when :meth:`Session.login` would accept it (1-256 printable characters)."""
    if not user or len(user) > _MAX_USER_ID_LENGTH or not user.isprintable():
        return None
    return user


def derive_token(key: bytes, source: str, legacy_id: str) -> SessionToken:
    """The sessionary ID a legacy session migrates to: a keyed hash of its legacy ID.

    ``key`` is the key ring's ``migration`` subkey; ``source`` names the legacy source, so
    two sources never share an ID. 32 bytes of HMAC-SHA256 in the form of a minted ID.
    """
    message = b"\x00".join((b"legacy", source.encode(), legacy_id.encode("utf-8", "replace")))
    raw = hmac.digest(key, message, "sha256")
    return SessionToken(urlsafe_b64encode(raw).rstrip(b"=").decode("ascii"))


def convert(core: CoreContext, data: Mapping[str, Any]) -> Converted:
    """Encode ``data`` with the core's codec, reporting what it cannot represent."""
    codec = core.codec
    attributes: dict[str, bytes] = {}
    dropped: list[str] = []
    size = 0
    for name, value in data.items():
        if not isinstance(name, str):
            dropped.append(repr(name)[:64])
            continue
        try:
            encoded = codec.encode(value)
        except CodecError:
            dropped.append(name)
            continue
        attributes[name] = encoded
        size += len(name.encode("utf-8", "surrogatepass")) + len(encoded)
    return Converted(attributes, tuple(sorted(dropped)), size)


def plan_create(
    core: CoreContext,
    token: SessionToken,
    converted: Converted,
    *,
    now: int,
    expires_at: int | None,
    user: str | None,
    tenant: str = "",
    client: str | None = None,
    user_agent: str | None = None,
) -> Create:
    """The ``Create`` of the migrated session under ``token``, signed in as ``user``.

    The absolute deadline is ``expires_at`` capped by ``absolute_timeout`` (the remaining
    lifetime is kept, never extended). No ``auth_time`` is recorded: sessionary does not
    know when the user last authenticated, so ``require_recent_auth`` asks again.
    """
    config = core.config
    deadline = now + config.absolute_timeout_ms
    if expires_at is not None:
        deadline = min(deadline, expires_at)
    record = ServerRecord(core, key=core.keyring.storage_key(token.selector, 0, tenant))
    digest = core.keyring.validator_digest(token.validator)
    attributes: Mapping[str, bytes] = converted.attributes
    if core.at_rest is not None:
        attributes = core.at_rest.seal(record.key, converted.attributes)
    binding = None
    if user is not None:
        binding = login_binding(
            core, user, now=now, tenant=tenant, client=client, user_agent=user_agent
        )
        binding = replace(binding, deadline=deadline)
    meta = RecordMeta(
        created=now,
        accessed=now,
        idle=config.idle_timeout_ms,
        deadline=deadline,
        digest=digest,
        user=user,
        user_key=None if binding is None else binding.user_key,
        device=None if binding is None else binding.device,
    )
    return Create(
        key=record.key,
        digest=digest,
        nonce=secrets.token_bytes(_NONCE_BYTES),
        now=now,
        idle=config.idle_timeout_ms,
        deadline=deadline,
        attributes=attributes,
        user=user,
        binding=binding,
        seal=record.seal_of(meta, attributes),
        linger=core.linger,
    )
