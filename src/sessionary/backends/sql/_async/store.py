"""The SQL session store: ``AsyncSQLStore`` (asyncio) and its generated twin ``SQLStore``.

One implementation of the store operations for every SQL database: each operation is one
transaction on the driver (:mod:`sessionary.backends.sql._sqlite`,
:mod:`sessionary.backends.sql._async.postgres`), deciding with the same sans-IO helpers as
the memory engine (:mod:`sessionary.stores.memory`). A session is one row locked for the
length of the transaction (never a table); a user's logins are serialised by a lock on their
row of ``sessionary_users``, taken before any session row, so the session limit holds under
concurrent logins. Rows hold keyed hashes only (the core's storage keys and user tags).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeAlias, TypeVar

import orjson

from sessionary._async.events import StreamEntry
from sessionary.backends.sql._dialect import (
    ACQUIRE_AT_ONCE,
    EVENTS_PER_INSERT,
    LOAD_AT_ONCE,
    Statements,
    insert_events,
)
from sessionary.backends.sql._retry import Retry
from sessionary.backends.sql._rows import (
    SessionRow,
    SQLCensus,
    decode_attributes,
    encode_attributes,
    merge_attributes,
)
from sessionary.backends.sql._schema import (
    SCHEMA_VERSION,
    check_version,
    create_statements,
    row_security_statements,
)
from sessionary.exceptions import ConfigurationError
from sessionary.sansio.cookie_state import CookieState, PinCookie, ReadCookieState
from sessionary.sansio.events import ChangeEvents, EventName, SessionEvent
from sessionary.sansio.expiry import effective_idle, expiry_status, swept_events, ttl_ms
from sessionary.sansio.ops import (
    CommitResult,
    CommitStatus,
    Create,
    Destroy,
    Discard,
    ExpiredSession,
    Load,
    LoadResult,
    LoadStatus,
    RecordMeta,
    Update,
    UserBinding,
)
from sessionary.sansio.tenants import check_tenant
from sessionary.sansio.users import is_live_session_of, next_epoch, sessions_to_evict
from sessionary.stores.base import Capability

if TYPE_CHECKING:
    from sessionary.backends.sql._async.postgres_driver import AsyncPostgresDriver, AsyncPostgresTx
    from sessionary.backends.sql._sqlite import AsyncSQLiteDriver, AsyncSQLiteTx

    AsyncDriver: TypeAlias = AsyncSQLiteDriver | AsyncPostgresDriver
    AsyncTx: TypeAlias = AsyncSQLiteTx | AsyncPostgresTx

__all__ = ["AsyncSQLStore"]

T = TypeVar("T")

_OK = CommitResult(CommitStatus.OK)
_GONE = CommitResult(CommitStatus.GONE)
_EXISTS = CommitResult(CommitStatus.EXISTS)
_LIMIT = CommitResult(CommitStatus.LIMIT)
_LOCK_LOST = CommitResult(CommitStatus.LOCK_LOST)
_MISSING = LoadResult(LoadStatus.MISSING)
_INVALID = LoadResult(LoadStatus.INVALID)
_EMPTY = encode_attributes({})
_ATTEMPTS = 5
"""How often a transaction the database aborted (a deadlock, a serialisation failure) runs."""


def _expires_at(accessed: int, idle: int, deadline: int) -> int:
    return min(deadline, accessed + idle)


def _gc_at(now: int, accessed: int, idle: int, deadline: int, linger: int) -> int:
    return now + ttl_ms(now=now, accessed=accessed, idle=idle, deadline=deadline) + linger


class AsyncSQLStore:
    """Sessions in a SQL database (PostgreSQL or SQLite): the shared implementation.

    Use :class:`~sessionary.backends.sql.AsyncPostgresStore` or
    :class:`~sessionary.backends.sql.AsyncSQLiteStore`. ``tenant``: the tenant every row of
    this store carries (``""`` for none). The tables must exist at :data:`SCHEMA_VERSION`
    (``sessionary db init``); the first operation checks, and refuses any other version.
    """

    capabilities = frozenset(
        {
            Capability.SESSIONS,
            Capability.USER_INDEX,
            Capability.EXPIRY_SWEEP,
            Capability.LOCKS,
            Capability.COOKIE_STATES,
            Capability.EVENTS_IN_TRANSACTION,
        }
    )
    """What a SQL store can do. Passed as its manager's ``events=``, it writes a request's
    lifecycle events in the transaction of the change that produced them."""

    def __init__(self, driver: AsyncDriver, *, tenant: str = "", url_hint: str = "URL") -> None:
        self._driver = driver
        self._sql = Statements(driver.dialect)
        self.tenant = check_tenant(tenant) if tenant else ""
        self._url_hint = url_hint
        self._checked = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._url_hint!r})"

    # ------------------------------------------------------------------ transactions
    async def _run(self, body: Callable[[AsyncTx], Awaitable[T]], *, one: bool = False) -> T:
        """Run ``body`` in a transaction (``one``: a single statement, no transaction)."""
        if not self._checked:
            await self.check_schema()
        driver = self._driver
        for _ in range(_ATTEMPTS - 1):
            try:
                async with driver.statement() if one else driver.transaction() as tx:
                    return await body(tx)
            except Retry:
                continue
        async with driver.statement() if one else driver.transaction() as tx:
            return await body(tx)

    async def schema_version(self) -> int | None:
        """The schema version of the database's tables (``None``: no tables yet)."""
        async with self._driver.transaction() as tx:
            return await self._read_version(tx)

    async def _read_version(self, tx: AsyncTx) -> int | None:
        if not await tx.rows(self._driver.dialect.has_schema_table):
            return None
        rows = await tx.rows(self._sql.read_version)
        return int(rows[0][0]) if rows else None

    async def row_security(self) -> bool:
        """Whether the tables isolate tenants by row-level security (PostgreSQL).

        A store with no tenant then sees no row at all: name the tenant.
        """
        query = self._driver.dialect.row_security
        if not query:
            return False
        rows = await self._run(lambda tx: tx.rows(query), one=True)
        return bool(rows and rows[0][0])

    async def check_schema(self) -> None:
        """Refuse a database whose schema this release does not know (see ``sessionary db``)."""
        check_version(await self.schema_version(), self._url_hint)
        self._checked = True

    async def init_schema(self, *, row_security: bool = False) -> int | None:
        """Create the tables, or upgrade them, to :data:`SCHEMA_VERSION` (idempotent).

        Safe when several instances start at once: one transaction, serialised by an
        advisory lock on PostgreSQL and by the write lock on SQLite. Returns the version
        found before (``None``: there were no tables). A newer schema is refused.

        ``row_security`` (PostgreSQL): isolate tenants in the database too, by row-level
        security (:func:`~sessionary.backends.sql._schema.row_security_statements`); the
        application must then connect as a role that is not a superuser, and every store
        must name its ``tenant``.
        """
        if row_security and not self._driver.dialect.writable_ctes:
            msg = "row-level security needs PostgreSQL"
            raise ConfigurationError(msg)
        async with self._driver.transaction() as tx:
            if self._driver.dialect.schema_lock:
                await tx.rows(self._driver.dialect.schema_lock)
            found = await self._read_version(tx)
            if found is not None and found > SCHEMA_VERSION:
                check_version(found, self._url_hint)
            for statement in create_statements(self._driver.dialect.blob):
                await tx.run(statement)
            for statement in row_security_statements() if row_security else ():
                await tx.run(statement)
            await tx.run(self._sql.write_version, (SCHEMA_VERSION,))
        self._checked = True
        return found

    # ------------------------------------------------------------------ sessions
    async def _session(self, tx: AsyncTx, key: str, now: int) -> tuple[SessionRow, int | None]:
        """The row under ``key`` (locked) and its user's epoch; a dead row reads as none."""
        rows = await tx.rows(self._sql.select_session, (self.tenant, key))
        if not rows:
            return _NO_ROW
        row = SessionRow(rows[0][:-1])
        if int(row.gc_at) < now:
            await tx.run(self._sql.delete, (self.tenant, key))  # lazy garbage collection
            return _NO_ROW
        epoch = rows[0][-1]
        return row, None if epoch is None else int(epoch)

    async def load(self, op: Load) -> LoadResult:
        """Read, verify and (when due) touch a session; see :class:`~sessionary.sansio.ops.Load`.

        On PostgreSQL one statement (one round trip) reads, expires or touches; on SQLite
        one short transaction does.
        """
        if self._driver.dialect.writable_ctes:
            return await self._run(lambda tx: self._load_at_once(tx, op), one=True)
        return await self._run(lambda tx: self._load(tx, op))

    async def _load_at_once(self, tx: AsyncTx, op: Load) -> LoadResult:
        params = {
            "tenant": self.tenant,
            "key": op.key,
            "digest": op.digest,
            "now": op.now,
            "max_idle": op.max_idle,
            "touch_after": op.touch_after,
            "linger": op.linger,
        }
        rows = await tx.rows(LOAD_AT_ONCE, params)
        if not rows:
            return _MISSING
        row = SessionRow(rows[0][:-2])
        epoch, touches = rows[0][-2], int(rows[0][-1])
        if int(row.gc_at) < op.now:
            return _MISSING
        if not hmac.compare_digest(row.digest, op.digest):
            return _INVALID
        if row.ended is not None:
            return LoadResult(LoadStatus.ENDED, reason=str(row.ended))
        status = expiry_status(
            now=op.now,
            accessed=int(row.accessed),
            idle=effective_idle(int(row.idle), op.max_idle),
            deadline=int(row.deadline),
        )
        if status is not LoadStatus.FOUND:
            return LoadResult(status)
        if touches:
            row.accessed = op.now
        user_epoch = None if row.user_key is None or epoch is None else int(epoch)
        return LoadResult(LoadStatus.FOUND, row.stored(touched=touches > 0, user_epoch=user_epoch))

    async def _load(self, tx: AsyncTx, op: Load) -> LoadResult:
        row, epoch = await self._session(tx, op.key, op.now)
        if row is _NONE:
            return _MISSING
        if not hmac.compare_digest(row.digest, op.digest):
            return _INVALID
        if row.ended is not None:
            return LoadResult(LoadStatus.ENDED, reason=str(row.ended))
        idle = effective_idle(int(row.idle), op.max_idle)
        accessed, deadline = int(row.accessed), int(row.deadline)
        status = expiry_status(now=op.now, accessed=accessed, idle=idle, deadline=deadline)
        if status is not LoadStatus.FOUND:
            await tx.run(self._sql.delete, (self.tenant, op.key))
            return LoadResult(status)
        touched = op.now - accessed >= op.touch_after
        if touched:
            row.accessed = op.now
            gc_at = _gc_at(op.now, op.now, idle, deadline, op.linger)
            expires = _expires_at(op.now, int(row.idle), deadline)
            await tx.run(self._sql.touch, (op.now, gc_at, expires, self.tenant, op.key))
        epoch = epoch if row.user_key is not None else None
        return LoadResult(LoadStatus.FOUND, row.stored(touched=touched, user_epoch=epoch))

    async def create(self, op: Create) -> CommitResult:
        """Create a session record; see :class:`~sessionary.sansio.ops.Create`."""
        return await self._run(lambda tx: self._create(tx, op))

    async def _create(self, tx: AsyncTx, op: Create) -> CommitResult:
        if op.binding is not None:
            await self._lock_user(tx, op.binding.user_key)
        row, _ = await self._session(tx, op.key, op.now)
        if row is not _NONE:
            return _OK if hmac.compare_digest(row.nonce, op.nonce) else _EXISTS
        evicted = await self._admit(tx, op.key, op.binding, op.now, op.idle)
        if evicted is None:
            return _LIMIT
        binding = op.binding
        inserted = await tx.run(
            self._sql.insert,
            (
                self.tenant,
                op.key,
                op.digest,
                op.nonce,
                op.now,
                op.now,
                op.idle,
                op.deadline,
                1,
                op.user,
                op.auth_time,
                None if binding is None else binding.user_key,
                None if binding is None else binding.stamp,
                None if binding is None else binding.device,
                op.seal,
                encode_attributes(op.attributes),
                _gc_at(op.now, op.now, op.idle, op.deadline, op.linger),
                _expires_at(op.now, op.idle, op.deadline),
                None if binding is None else binding.deadline,
            ),
        )
        if not inserted:
            raise Retry  # another transaction created the key meanwhile: judge it again
        if op.events is not None:
            await self._insert_events(tx, _new_entries(op.events.taken(evicted)))
        return CommitResult(CommitStatus.OK, evicted=evicted) if evicted else _OK

    async def update(self, op: Update) -> CommitResult:
        """Write a new state conditionally; see :class:`~sessionary.sansio.ops.Update`."""
        return await self._run(lambda tx: self._update(tx, op))

    async def _refuse_update(self, tx: AsyncTx, row: SessionRow, op: Update) -> CommitResult | None:
        """The guards of an update, in the memory engine's order."""
        if row is _NONE or row.ended is not None:
            return _GONE
        if hmac.compare_digest(row.nonce, op.nonce):
            return _OK
        if op.lock_token is not None and not await tx.rows(
            self._sql.holds, (self.tenant, op.key, op.lock_token)
        ):
            return _LOCK_LOST
        status = expiry_status(
            now=op.now,
            accessed=int(row.accessed),
            idle=effective_idle(int(row.idle), op.max_idle),
            deadline=int(row.deadline),
        )
        if status is not LoadStatus.FOUND:
            await tx.run(self._sql.delete, (self.tenant, op.key))
            return _GONE
        if int(row.version) != op.expect_version:
            return CommitResult(CommitStatus.STALE, current=row.stored(touched=False))
        return None

    async def _update(self, tx: AsyncTx, op: Update) -> CommitResult:
        if op.binding is not None:
            await self._lock_user(tx, op.binding.user_key)
        row, _ = await self._session(tx, op.key, op.now)
        refusal = await self._refuse_update(tx, row, op)
        if refusal is not None:
            return refusal
        idle = effective_idle(int(row.idle), op.max_idle)
        evicted = await self._admit(tx, op.key, op.binding, op.now, idle)
        if evicted is None:
            return _LIMIT
        attributes = merge_attributes(decode_attributes(row.attributes), op.attributes, op.delete)
        accessed = max(int(row.accessed), op.now)
        deadline = int(row.deadline) if op.deadline is None else op.deadline
        binding = op.binding
        await tx.run(
            self._sql.write,
            (
                op.digest,
                op.nonce,
                accessed,
                deadline,
                op.expect_version + 1,
                row.user_id if op.user is None else op.user,
                row.auth_time if op.auth_time is None else op.auth_time,
                row.user_key if binding is None else binding.user_key,
                row.stamp if binding is None else binding.stamp,
                row.device if binding is None or binding.device is None else binding.device,
                op.seal,
                encode_attributes(attributes),
                _gc_at(op.now, accessed, idle, deadline, op.linger),
                _expires_at(accessed, int(row.idle), deadline),
                row.indexed_until if binding is None else binding.deadline,
                self.tenant,
                op.key,
            ),
        )
        if op.events is not None:
            await self._insert_events(tx, _new_entries(op.events.taken(evicted)))
        return CommitResult(CommitStatus.OK, evicted) if evicted else _OK

    async def destroy(self, op: Destroy) -> bool:
        """Delete a record if its digest matches; ``True`` when something was deleted.

        The events the destroy carries are written in its transaction when it deletes.
        """
        params = (self.tenant, op.key, op.digest)
        change = op.events
        if change is None:
            deleted = await self._run(lambda tx: tx.run(self._sql.destroy, params), one=True)
            return deleted > 0

        async def body(tx: AsyncTx) -> bool:
            if not await tx.run(self._sql.destroy, params):
                return False
            await self._insert_events(tx, _new_entries(change.taken()))
            return True

        return await self._run(body)

    async def discard(self, op: Discard) -> bool:
        """Delete whatever is under the key (the core found it corrupt or forged)."""
        deleted = await self._run(
            lambda tx: tx.run(self._sql.delete, (self.tenant, op.key)), one=True
        )
        return deleted > 0

    # ------------------------------------------------------------------ users
    async def _lock_user(self, tx: AsyncTx, user_key: str) -> tuple[int | None, int | None]:
        """Lock the user's row (created when missing); their epoch and its forget time."""
        await tx.run(self._sql.ensure_user, (self.tenant, user_key))
        rows = await tx.rows(self._sql.lock_user, (self.tenant, user_key))
        epoch, forget_at = rows[0]
        return (
            None if epoch is None else int(epoch),
            None if forget_at is None else int(forget_at),
        )

    async def _live_index(
        self, tx: AsyncTx, user_key: str, now: int, max_idle: int
    ) -> list[SessionRow]:
        """The user's indexed live sessions, oldest first; dead entries leave the index."""
        epoch_rows = await tx.rows(self._sql.epoch, (self.tenant, user_key))
        epoch = None if not epoch_rows or epoch_rows[0][0] is None else int(epoch_rows[0][0])
        live = []
        for raw in await tx.rows(self._sql.indexed, (self.tenant, user_key)):
            row = SessionRow(raw)
            alive = (
                int(row.gc_at) >= now
                and row.ended is None
                and is_live_session_of(
                    row.meta(), user_key, now=now, max_idle=max_idle, epoch=epoch
                )
            )
            if alive:
                live.append(row)
            else:
                await tx.run(self._sql.unindex, (self.tenant, row.key))
        return live

    async def _admit(
        self, tx: AsyncTx, key: str, binding: UserBinding | None, now: int, max_idle: int
    ) -> tuple[str, ...] | None:
        """Apply the session limit of a login; ``None`` means refuse."""
        if binding is None or binding.max_sessions is None:
            return ()
        live = await self._live_index(tx, binding.user_key, now, max_idle)
        others = ((int(row.indexed_until or 0), str(row.key)) for row in live if row.key != key)
        victims = sessions_to_evict(others, binding)
        for victim in victims or ():
            await self._end(tx, binding.user_key, victim, "evicted")
        return victims

    async def _end(self, tx: AsyncTx, user_key: str, key: str, reason: str) -> bool:
        ended = await tx.run(self._sql.end, (reason, _EMPTY, self.tenant, key, user_key))
        return ended > 0

    async def list_user(
        self, user_key: str, now: int, max_idle: int
    ) -> list[tuple[str, RecordMeta]]:
        """The user's live sessions (storage key, metadata), oldest first; prunes the index."""

        async def body(tx: AsyncTx) -> list[tuple[str, RecordMeta]]:
            rows = await self._live_index(tx, user_key, now, max_idle)
            return [(str(row.key), row.meta()) for row in rows]

        return await self._run(body)

    async def revoke_user(
        self,
        user_key: str,
        now: int,
        keep: str | None = None,
        *,
        sessions_end_by: int,
        events: ChangeEvents | None = None,
    ) -> int:
        """Move the user's epoch to ``now`` and end their sessions but ``keep``.

        The epoch row is kept until ``sessions_end_by`` (then :meth:`purge_expired` drops it).
        ``events`` (``taken(ended=...)``) are written in the same transaction.
        """

        async def body(tx: AsyncTx) -> int:
            epoch, forget_at = await self._lock_user(tx, user_key)
            kept = ""
            if keep is not None:
                row, _ = await self._session(tx, keep, now)
                alive = (
                    row is not _NONE
                    and row.ended is None
                    and is_live_session_of(
                        row.meta(), user_key, now=now, max_idle=1 << 62, epoch=epoch
                    )
                )
                if alive:
                    kept = keep
                    await tx.run(self._sql.restamp, (now + 1, self.tenant, keep))
            until = max(forget_at or 0, sessions_end_by)
            await tx.run(
                self._sql.set_epoch, (next_epoch(epoch, now), until, self.tenant, user_key)
            )
            revoke = ("revoked", _EMPTY, self.tenant, user_key, kept)
            ended = await tx.run(self._sql.revoke, revoke)
            if events is not None:
                await self._insert_events(tx, _new_entries(events.taken(ended=ended)))
            return ended

        return await self._run(body)

    async def end_session(
        self, user_key: str, key: str, reason: str, *, events: ChangeEvents | None = None
    ) -> bool:
        """Tombstone one session of the user (it then loads as ENDED with ``reason``).

        ``events`` are written in the same transaction when a session ended.
        """
        if events is None:
            return await self._run(lambda tx: self._end(tx, user_key, key, reason), one=True)

        async def body(tx: AsyncTx) -> bool:
            if not await self._end(tx, user_key, key, reason):
                return False
            await self._insert_events(tx, _new_entries(events.taken()))
            return True

        return await self._run(body)

    async def user_epoch(self, user_key: str) -> int | None:
        """The user's epoch, if any."""
        rows = await self._run(
            lambda tx: tx.rows(self._sql.epoch, (self.tenant, user_key)), one=True
        )
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    # ------------------------------------------------------------------ sealed cookie floors
    async def read_cookie_state(self, op: ReadCookieState) -> CookieState:
        """A sealed cookie session's floor and, for ``op.user_key``, its user's epoch."""
        params = (self.tenant, op.cookie_key, op.now, self.tenant, op.user_key)
        rows = await self._run(lambda tx: tx.rows(self._sql.cookie_state, params), one=True)
        floor, epoch = rows[0]
        return CookieState(
            None if floor is None else int(floor), None if epoch is None else int(epoch)
        )

    async def pin_cookie(self, op: PinCookie) -> int:
        """Raise a sealed cookie session's floor (never lower it); the floor now held."""
        params = (
            self.tenant,
            op.cookie_key,
            op.floor,
            op.now + op.ttl_ms,
            op.now,
            op.now,
        )
        rows = await self._run(lambda tx: tx.rows(self._sql.pin, params), one=True)
        return int(rows[0][0])

    # ------------------------------------------------------------------ locks
    async def acquire_lock(self, key: str, token: bytes, ttl_ms: int, digest: bytes) -> bool | None:
        """Take the lock unless another token holds it (``None``: no such session)."""
        if self._driver.dialect.writable_ctes:  # one statement: check the session, take the lock
            params = (self.tenant, key, digest, self.tenant, key, token, ttl_ms)
            rows = await self._run(lambda tx: tx.rows(ACQUIRE_AT_ONCE, params), one=True)
            found, taken = rows[0]
            return None if not found else bool(taken)

        async def body(tx: AsyncTx) -> bool | None:
            rows = await tx.rows(self._sql.session_digest, (self.tenant, key))
            if not rows or not hmac.compare_digest(bytes(rows[0][0]), digest):
                return None
            return await tx.run(self._sql.acquire, (self.tenant, key, token, ttl_ms)) > 0

        return await self._run(body)

    async def renew_lock(self, key: str, token: bytes, ttl_ms: int) -> bool:
        """Extend the lease while ``token`` holds the lock."""
        renewed = await self._run(
            lambda tx: tx.run(self._sql.renew, (ttl_ms, self.tenant, key, token)), one=True
        )
        return renewed > 0

    async def release_lock(self, key: str, token: bytes) -> bool:
        """Release the lock if ``token`` holds it."""
        released = await self._run(
            lambda tx: tx.run(self._sql.release, (self.tenant, key, token)), one=True
        )
        return released > 0

    # ------------------------------------------------------------------ expiry
    async def sweep(
        self, now: int, max_idle: int, limit: int = 500, *, record_events: bool = False
    ) -> list[ExpiredSession]:
        """Report sessions expired by ``now``, each once across concurrent sweepers.

        They become tombstones holding their end reason until their lingering time ends
        (rows past it are deleted); at most ``limit`` per call, in one transaction, with
        their ``expired_*`` events when ``record_events``.
        """
        del max_idle  # each record is judged by its own idle timeout, as the memory engine does

        async def body(tx: AsyncTx) -> list[ExpiredSession]:
            out = []
            for raw in await tx.rows(self._sql.due, (self.tenant, now, limit)):
                row = SessionRow(raw)
                status = expiry_status(
                    now=now,
                    accessed=int(row.accessed),
                    idle=int(row.idle),
                    deadline=int(row.deadline),
                )
                if status is LoadStatus.FOUND:
                    continue
                out.append(ExpiredSession(str(row.key), row.user_id, status))
                if int(row.gc_at) < now:
                    await tx.run(self._sql.delete, (self.tenant, row.key))
                else:
                    await tx.run(self._sql.tombstone, (status.value, _EMPTY, self.tenant, row.key))
            if record_events and out:
                await self._insert_events(tx, _new_entries(swept_events(out, now)))
            return out

        return await self._run(body)

    async def purge_expired(self, now_ms: int, batch: int = 1000) -> int:
        """Delete up to ``batch`` rows whose time-to-live has passed (R37); how many.

        Call it again while it returns ``batch``: each call is one short transaction, so a
        purge never holds long locks (``sessionary db purge`` does, with a progress bar).
        """

        async def body(tx: AsyncTx) -> int:
            purged = await tx.run(self._sql.purge, (self.tenant, self.tenant, now_ms, batch))
            await tx.run(self._sql.purge_locks, (self.tenant, now_ms))
            await tx.run(self._sql.purge_users, (self.tenant, now_ms))
            await tx.run(self._sql.purge_floors, (self.tenant, now_ms))
            return purged

        return await self._run(body)

    async def count(self) -> int:
        """How many rows (sessions and tombstones) this store's tenant has."""
        rows = await self._run(
            lambda tx: tx.rows(self._sql.count_sessions, (self.tenant,)), one=True
        )
        return int(rows[0][0])

    async def count_purgeable(self, now_ms: int) -> int:
        """How many rows :meth:`purge_expired` would delete at ``now_ms``."""
        params = (self.tenant, now_ms)
        rows = await self._run(lambda tx: tx.rows(self._sql.count_purgeable, params), one=True)
        return int(rows[0][0])

    # ------------------------------------------------------------------ audit trail
    async def publish(self, events: Sequence[SessionEvent]) -> None:
        """Append lifecycle events to ``sessionary_events`` (an event sink: ``events=store``).

        For deployments with no Redis: the manager and the sweeper then publish into the
        store's own database; a request's events about a change are written in the change's
        own transaction (capability ``EVENTS_IN_TRANSACTION``), the others here. Each event
        gets a new entry ID (``<ms>-<random>``).
        """
        await self.append_events(_new_entries(events))

    async def append_events(self, entries: Sequence[StreamEntry]) -> int:
        """Insert entries (ID, event) in one transaction; an ID already there is skipped.

        Idempotent, so a mover may insert a batch again after a failure (at least once, no
        duplicates). Returns how many rows are new.
        """
        if not entries:
            return 0
        return await self._run(lambda tx: self._insert_events(tx, entries))

    async def _insert_events(self, tx: AsyncTx, entries: Sequence[StreamEntry]) -> int:
        """Insert entries in ``tx`` (an ID already there is skipped); how many are new."""
        rows = [_event_row(self.tenant, entry_id, event) for entry_id, event in entries]
        added = 0
        for start in range(0, len(rows), EVENTS_PER_INSERT):
            chunk = rows[start : start + EVENTS_PER_INSERT]
            params = [value for row in chunk for value in row]
            added += await tx.run(insert_events(self._driver.dialect, len(chunk)), params)
        return added

    async def user_events(
        self, user: str, *, since_ms: int = 0, limit: int = 1000
    ) -> list[StreamEntry]:
        """The user's events from ``since_ms`` on, oldest first (at most ``limit``)."""
        params = (self.tenant, user, since_ms, limit)
        rows = await self._run(lambda tx: tx.rows(self._sql.user_events, params), one=True)
        return _event_entries(rows)

    async def recent_events(self, count: int) -> list[StreamEntry]:
        """The ``count`` most recent events, oldest first."""
        params = (self.tenant, count)
        rows = await self._run(lambda tx: tx.rows(self._sql.recent_events, params), one=True)
        return _event_entries(list(reversed(rows)))

    async def events_after(self, at: int, entry_id: str, *, count: int = 500) -> list[StreamEntry]:
        """Events after the one at ``at`` with ID ``entry_id``, oldest first (for tailing)."""
        params = (self.tenant, at, at, entry_id, count)
        rows = await self._run(lambda tx: tx.rows(self._sql.events_after, params), one=True)
        return _event_entries(rows)

    async def count_events(self) -> int:
        """How many events this store's tenant has in ``sessionary_events``."""
        rows = await self._run(lambda tx: tx.rows(self._sql.count_events, (self.tenant,)), one=True)
        return int(rows[0][0])

    # ------------------------------------------------------------------ operators
    async def census(self, now_ms: int) -> SQLCensus:
        """What ``sessionary stats`` shows of this store's tenant, in one statement."""
        t = self.tenant
        params = (t, now_ms, t, now_ms, t, now_ms, t, t, now_ms, t, t, now_ms, t)
        rows = await self._run(lambda tx: tx.rows(self._sql.census, params), one=True)
        return SQLCensus(*(int(value) for value in rows[0]))

    async def top_users(self, now_ms: int, count: int) -> list[tuple[str, int]]:
        """The users with the most live sessions, most first."""
        params = (self.tenant, now_ms, count)
        rows = await self._run(lambda tx: tx.rows(self._sql.top_users, params), one=True)
        return [(str(user), int(sessions)) for user, sessions in rows]

    async def forget_tenant(self) -> int:
        """Delete every row of this store's tenant, events included; how many sessions.

        For a tenant that leaves, or a benchmark's cleanup. Refused without a tenant.
        """
        if not self.tenant:
            msg = "forget_tenant() needs a store with a tenant"
            raise ConfigurationError(msg)

        async def body(tx: AsyncTx) -> int:
            counts = [
                await tx.run(statement, (self.tenant,)) for statement in self._sql.forget_tenant
            ]
            return counts[0]

        return await self._run(body)

    async def server_time(self) -> int:
        """The database's clock, in milliseconds since the epoch (PostgreSQL declares it)."""
        rows = await self._run(lambda tx: tx.rows(self._sql.now), one=True)
        return int(rows[0][0])

    async def aclose(self) -> None:
        """Release the connections."""
        await self._driver.aclose()


_NONE = SessionRow((None,) * 18)
"""Stands for "no row" (a dead row reads as none)."""
_NO_ROW: tuple[SessionRow, int | None] = (_NONE, None)


def _new_entries(events: Sequence[SessionEvent]) -> list[StreamEntry]:
    """Entries for events published here: each gets a new ID, ``<ms>-<random>``."""
    return [(f"{event.at}-{secrets.token_hex(8)}", event) for event in events]


def _event_row(tenant: str, entry_id: str, event: SessionEvent) -> tuple[object, ...]:
    detail = orjson.dumps(event.detail, default=str).decode() if event.detail else None
    return (tenant, entry_id, event.at, event.name.value, event.fingerprint, event.user, detail)


def _event_entries(rows: Sequence[tuple[object, ...]]) -> list[StreamEntry]:
    out: list[StreamEntry] = []
    for entry_id, at, name, fingerprint, user, detail in rows:
        try:
            kind = EventName(str(name))
        except ValueError:
            continue  # written by a newer release: not an event this one knows
        loaded = orjson.loads(str(detail)) if detail else {}
        event = SessionEvent(
            kind,
            int(str(at)),
            None if fingerprint is None else str(fingerprint),
            None if user is None else str(user),
            loaded if isinstance(loaded, dict) else {},
        )
        out.append((str(entry_id), event))
    return out
