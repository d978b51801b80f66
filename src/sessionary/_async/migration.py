"""Read-through migration from a legacy session library: the I/O of the migration.

The decisions are in :mod:`sessionary.sansio.migration`.

Configure the manager with ``legacy=AsyncLegacyMigration(source, until=...)``. A request
that names no live sessionary session but carries the source's cookie is migrated:

1. the source checks the cookie (a signature, the ID's form) and reads the old session;
2. its data goes through sessionary's codec (:func:`~sessionary.sansio.migration.convert`);
3. it is created under the ID derived from the old one (one record per old session, however
   many requests race: the store's ``Create`` admits one);
4. the old record is deleted: the old ID is dead at once;
5. the manager loads the new session for the handler and its response hands the ID out.

A client whose old record is already gone (a request that raced the one that migrated it)
is still given the migrated session while it is younger than ``grace``. After ``until`` the
source is never asked again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, cast

from sessionary.exceptions import (
    ConfigurationError,
    MigrationError,
    SessionaryError,
    StoreError,
)
from sessionary.sansio.context import CoreContext
from sessionary.sansio.cookies import CookieReadStatus, read_cookie
from sessionary.sansio.events import EventName, SessionEvent
from sessionary.sansio.ids import SessionToken
from sessionary.sansio.migration import (
    Converted,
    CopyReport,
    LegacySession,
    Scanned,
    UserMapper,
    convert,
    derive_token,
    plan_create,
    valid_user_id,
)
from sessionary.sansio.ops import CommitStatus, Create, Load, LoadStatus
from sessionary.stores.base import AsyncSessionStore

__all__ = ["AsyncLegacyMigration", "AsyncLegacyScan", "AsyncLegacySource", "Migrated"]

logger = logging.getLogger("sessionary")

_MAX_LEGACY_COOKIE = 4096
_NEVER_TOUCH = 2**62


class AsyncLegacySource(Protocol):
    """Where a legacy library keeps its sessions: recognise, read and delete one.

    ``identify`` is pure (it checks the cookie's signature or form and returns the legacy
    ID, or ``None``); ``read`` returns ``None`` for an unknown or expired session and raises
    :class:`~sessionary.exceptions.MigrationError` for a record it cannot read (corrupt, an
    unsupported format) and :class:`~sessionary.exceptions.StoreError` when the legacy store
    is unreachable; ``delete`` is idempotent.
    """

    name: str
    """Names the source in events and in the derived ID (``"flask-session"``...)."""
    cookie_name: str
    """The legacy library's cookie name."""

    def identify(self, cookie_value: str) -> str | None:
        """The legacy session ID the cookie carries, or ``None`` if it is not one."""
        ...

    async def read(self, legacy_id: str) -> LegacySession | None:
        """The legacy session, or ``None`` when the source does not know it."""
        ...

    async def delete(self, legacy_id: str) -> None:
        """End the legacy session (nothing when it is already gone)."""
        ...


@dataclass(frozen=True, slots=True)
class Migrated:
    """What a migration attempt gave: the ID to load (if any) and its event (if any)."""

    token: SessionToken | None
    event: SessionEvent | None = None


_NOTHING = Migrated(None)
_EXPIRED = "expired"
_ALREADY = "already migrated"
_UNREPRESENTABLE = "unrepresentable"
_TOO_LARGE = "too large"


class AsyncLegacyScan(AsyncLegacySource, Protocol):
    """A legacy source that can list its sessions too (for the bulk copy)."""

    def scan(self, batch: int = 500) -> AsyncIterator[Scanned]:
        """Every session of the source, read ``batch`` at a time."""
        ...


def _peek(core: CoreContext, token: SessionToken, now: int, tenant: str) -> Load:
    """A load of the session under ``token`` that never touches it."""
    return Load(
        key=core.keyring.storage_key(token.selector, 0, tenant),
        digest=core.keyring.validator_digest(token.validator),
        now=now,
        max_idle=core.config.idle_timeout_ms,
        touch_after=_NEVER_TOUCH,
    )


class AsyncLegacyMigration:
    """Read-through migration from ``source`` until ``until`` (see the module doc).

    ``user_id`` maps the legacy data to the signed-in user (``None``: the migrated session
    is anonymous); ``grace`` (seconds) is how long after a migration a request with the old
    cookie that raced it still gets the migrated session; ``strict=True`` refuses to
    migrate a session with a value sessionary's codec cannot represent (the user starts
    anonymous, the legacy record is kept) instead of migrating it without that value. Both
    are reported in the ``migrated`` event (``detail["dropped"]`` names the keys).
    """

    def __init__(
        self,
        source: AsyncLegacySource,
        *,
        until: dt.datetime,
        user_id: UserMapper | None = None,
        grace: float = 30.0,
        strict: bool = False,
    ) -> None:
        if until.tzinfo is None:
            msg = "until must be an aware datetime (the end of the migration window)"
            raise ConfigurationError(msg)
        if not 0 <= grace <= 3600:
            msg = "grace must be in [0, 3600] seconds"
            raise ConfigurationError(msg)
        self.source = source
        self.until_ms = int(until.timestamp() * 1000)
        self.user_id = user_id
        self.grace_ms = int(grace * 1000)
        self.strict = strict

    def __repr__(self) -> str:
        return f"{type(self).__name__}(source={self.source.name!r})"

    def active(self, now: int) -> bool:
        """Whether the migration window is still open at ``now`` (ms)."""
        return now < self.until_ms

    def legacy_id(self, cookie_headers: Iterable[str]) -> str | None:
        """The legacy ID the request's cookie carries, if any (no I/O)."""
        read = read_cookie(cookie_headers, self.source.cookie_name, _MAX_LEGACY_COOKIE)
        if read.status is not CookieReadStatus.PRESENT:
            return None
        return self.source.identify(read.value)

    async def migrate(
        self,
        core: CoreContext,
        store: AsyncSessionStore,
        legacy_id: str,
        *,
        now: int,
        tenant: str = "",
        client: str | None = None,
        user_agent: str | None = None,
    ) -> Migrated:
        """Migrate the legacy session ``legacy_id``: the ID to load it under, and the event.

        Store errors of ``store`` propagate (the manager applies the store-down policy);
        legacy source failures are logged and leave the request anonymous.
        """
        name = self.source.name
        token = self.token_for(core, legacy_id)
        try:
            legacy = await self.source.read(legacy_id)
        except (StoreError, SessionaryError) as exc:
            logger.warning("sessionary: legacy source %s could not be read: %s", name, exc)
            return Migrated(None, self._event(now, "unreadable", reason=type(exc).__name__))
        if legacy is None:
            return await self._late(core, store, token, now, tenant)
        planned = self._plan(
            core, token, legacy, now=now, tenant=tenant, client=client, user_agent=user_agent
        )
        if isinstance(planned, str):
            if planned == _EXPIRED:
                return _NOTHING  # expired in the legacy store meanwhile
            return Migrated(None, self._event(now, "refused", **self._why(planned, legacy, core)))
        op, converted = planned
        result = await store.create(op)
        if result.status not in (CommitStatus.OK, CommitStatus.EXISTS):
            return Migrated(None, self._event(now, "refused", reason=result.status.value))
        await self._delete(legacy_id)
        outcome = "created" if result.status is CommitStatus.OK else "joined"
        mapper = self.user_id
        refused = op.user is None and mapper is not None and mapper(legacy.data) is not None
        detail: dict[str, object] = {"dropped": list(converted.dropped)}
        if refused:  # the mapping gave something that is not a user ID: served anonymous
            detail["user_refused"] = True
        event = self._event(now, outcome, op.user, **detail)
        return Migrated(token, event)

    async def copy(
        self,
        core: CoreContext,
        store: AsyncSessionStore,
        *,
        dry_run: bool = False,
        tenant: str = "",
        batch: int = 500,
        progress: Callable[[CopyReport], None] | None = None,
    ) -> CopyReport:
        """Copy every live legacy session into ``store`` (the bulk migration).

        Each one is created under its derived ID, exactly as a request with its old cookie
        would: a session a live request (or an earlier run) already migrated is skipped,
        so a run is idempotent and an interrupted run is resumed by running it again. The
        legacy records are kept: the read-through deletes each one when its user comes back
        (and serves them the copy), and they stay for a rollback. ``dry_run`` writes nothing
        and reports what a run would do. ``progress`` is called after each record.
        """
        scan = getattr(self.source, "scan", None)
        if scan is None:
            msg = f"the {self.source.name} source cannot list its sessions"
            raise ConfigurationError(msg)
        report = CopyReport()
        async for _, found in cast("AsyncLegacyScan", self.source).scan(batch):
            if isinstance(found, MigrationError):
                report.fail(found.reason)
            elif found is None:
                report.skip(_EXPIRED)
            else:
                await self._copy_one(core, store, found, report, dry_run=dry_run, tenant=tenant)
            if progress is not None:
                progress(report)
        return report

    async def _copy_one(
        self,
        core: CoreContext,
        store: AsyncSessionStore,
        legacy: LegacySession,
        report: CopyReport,
        *,
        dry_run: bool,
        tenant: str,
    ) -> None:
        now = core.now_ms()
        token = self.token_for(core, legacy.legacy_id)
        planned = self._plan(core, token, legacy, now=now, tenant=tenant)
        if isinstance(planned, str):
            (report.skip if planned == _EXPIRED else report.fail)(planned)
            return
        op, converted = planned
        if dry_run:
            found = await store.load(_peek(core, token, now, tenant))
            if found.status is LoadStatus.FOUND:
                report.skip(_ALREADY)
                return
            status = CommitStatus.OK
        else:
            status = (await store.create(op)).status
        if status is CommitStatus.EXISTS:
            report.skip(_ALREADY)
        elif status is CommitStatus.OK:
            report.migrated += 1
            for name in converted.dropped:
                report.dropped[name] = report.dropped.get(name, 0) + 1
        else:
            report.fail(status.value)

    def _plan(
        self,
        core: CoreContext,
        token: SessionToken,
        legacy: LegacySession,
        *,
        now: int,
        tenant: str,
        client: str | None = None,
        user_agent: str | None = None,
    ) -> tuple[Create, Converted] | str:
        """The ``Create`` of ``legacy``, or why there is none."""
        converted = convert(core, legacy.data)
        if converted.dropped and self.strict:
            return _UNREPRESENTABLE
        if converted.size > core.config.max_size:
            return _TOO_LARGE
        op = plan_create(
            core,
            token,
            converted,
            now=now,
            expires_at=legacy.expires_at,
            user=self._user(legacy),
            tenant=tenant,
            client=client,
            user_agent=user_agent,
        )
        if op.deadline <= now:
            return _EXPIRED
        return op, converted

    def token_for(self, core: CoreContext, legacy_id: str) -> SessionToken:
        """The ID the legacy session ``legacy_id`` migrates to (derived, no I/O)."""
        return derive_token(core.keyring.subkeys("migration")[0], self.source.name, legacy_id)

    def _why(self, reason: str, legacy: LegacySession, core: CoreContext) -> dict[str, object]:
        if reason == _UNREPRESENTABLE:
            return {"dropped": list(convert(core, legacy.data).dropped)}
        return {"reason": reason}

    async def _delete(self, legacy_id: str) -> None:
        try:
            await self.source.delete(legacy_id)
        except StoreError:
            # The next request with the old cookie finds the record and joins the same
            # migrated session (the derived ID); nothing is duplicated.
            logger.warning("sessionary: could not delete a migrated %s session", self.source.name)

    async def _late(
        self,
        core: CoreContext,
        store: AsyncSessionStore,
        token: SessionToken,
        now: int,
        tenant: str,
    ) -> Migrated:
        """The old record is gone: the migrated session, if it is younger than ``grace``.

        For a request sent with the old cookie before the migrating request's response
        arrived; after ``grace`` the old cookie names nothing.
        """
        if self.grace_ms == 0:
            return _NOTHING
        found = await store.load(_peek(core, token, now, tenant))
        record = found.record
        if found.status is not LoadStatus.FOUND or record is None:
            return _NOTHING
        if now - record.meta.created > self.grace_ms:
            return _NOTHING
        return Migrated(token, self._event(now, "joined", late=True))

    def _user(self, legacy: LegacySession) -> str | None:
        """The mapped user, or ``None`` (anonymous) when there is none or it is not an ID."""
        if self.user_id is None:
            return None
        user = self.user_id(legacy.data)
        if user is None or isinstance(user, bool) or not isinstance(user, str | int):
            return None
        return valid_user_id(str(user))

    def _event(
        self, now: int, outcome: str, user: str | None = None, /, **detail: object
    ) -> SessionEvent:
        detail = {"source": self.source.name, "outcome": outcome, **detail}
        if not detail.get("dropped", True):
            del detail["dropped"]
        return SessionEvent(EventName.MIGRATED, now, None, user, detail)
