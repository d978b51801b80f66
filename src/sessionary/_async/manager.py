"""The session manager: drives the sans-IO cycle against a store.

This is the only I/O loop in sessionary. Adapters call ``open`` when a request arrives and
``commit`` before the response headers leave. The asyncio manager is written by hand; the
sync manager is generated from it by ``scripts/unasync.py``.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable
from typing import Any, cast

from sessionary._async.events import AsyncEventSink
from sessionary._async.leases import async_wait_for_lease
from sessionary._async.migration import AsyncLegacyMigration
from sessionary.config import SessionConfig, StoreDownPolicy
from sessionary.exceptions import (
    ConfigurationError,
    LockNotAcquiredError,
    StoreError,
    StoreUnavailableError,
)
from sessionary.observability import (
    TOUCHED_OUTCOME,
    LoggingObserver,
    NullObserver,
    Observer,
    notify,
)
from sessionary.sansio.clock import AuthorityClock
from sessionary.sansio.cookie_state import CookieState, PinCookie, ReadCookieState
from sessionary.sansio.core import SessionCore
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.events import EventName, SessionEvent
from sessionary.sansio.gate import Gate, NeedForm, Open, Refuse, RequestInfo
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.modes import SERVER, SealedMode
from sessionary.sansio.ops import (
    CommitResult,
    Create,
    Destroy,
    DestroyResult,
    Discard,
    DiscardResult,
    Load,
    LoadResult,
    Operation,
    PinResult,
    Result,
    Update,
)
from sessionary.sansio.response import ResponseUpdate
from sessionary.sansio.session import Session
from sessionary.sansio.settle import COMMIT_ERRORS, Answer
from sessionary.sansio.users import RevocationReason, UserSession
from sessionary.stores.base import (
    AsyncClockSource,
    AsyncSessionLocks,
    AsyncSessionStore,
    AsyncUserIndex,
    Capability,
    capabilities_of,
)

__all__ = ["AsyncSessionManager"]

logger = logging.getLogger("sessionary")

DEFAULT_LOCK_LEASE_S = 10.0
DEFAULT_LOCK_WAIT_S = 5.0
_LOCK_TOKEN_BYTES = 16

_DELETED_OUTCOMES = {True: "deleted", False: "absent"}
_OPERATION_NAMES: dict[type, str] = {
    Load: "load",
    Create: "create",
    Update: "update",
    Destroy: "destroy",
    Discard: "discard",
    ReadCookieState: "cookie_state",
    PinCookie: "cookie_pin",
}


def _outcome(result: Result) -> str:
    """How an operation ended, for the observer."""
    match result:
        case LoadResult(record=record) if record is not None and record.touched:
            return TOUCHED_OUTCOME
        case LoadResult(status=status) | CommitResult(status=status):
            return str(status.value)
        case DestroyResult(deleted=deleted) | DiscardResult(deleted=deleted):
            return _DELETED_OUTCOMES[deleted]
        case CookieState(floor=floor):
            return "absent" if floor is None else "found"
    return "found"  # a pin: the floor now held


class AsyncSessionManager:
    """Loads and commits sessions for one application: a store plus a configuration.

    >>> manager = AsyncSessionManager(store, config)  # doctest: +SKIP
    >>> cycle = await manager.open(cookie_header_values)  # doctest: +SKIP
    >>> cycle.session["cart"] = [1, 2]  # doctest: +SKIP
    >>> headers = await manager.commit(cycle)  # doctest: +SKIP
    """

    def __init__(
        self,
        store: AsyncSessionStore | SealedMode,
        config: SessionConfig,
        *,
        observer: Observer | None = None,
        events: AsyncEventSink | None = None,
        lock_lease: float = DEFAULT_LOCK_LEASE_S,
        lock_wait: float = DEFAULT_LOCK_WAIT_S,
        legacy: AsyncLegacyMigration | None = None,
    ) -> None:
        if not isinstance(config, SessionConfig):
            msg = "config must be a SessionConfig"
            raise ConfigurationError(msg)
        # A CookieStore is a storage mode, not a store: its operations go to its revocation
        # store (if any); a server-side store performs its own.
        mode = store if isinstance(store, SealedMode) else SERVER
        io = mode.io_store(store)
        can = self._capabilities = capabilities_of(io)
        if isinstance(store, SealedMode):
            if io is not None and not {Capability.USER_INDEX, Capability.COOKIE_STATES} <= can:
                msg = "CookieStore(revocation=...) needs a store with per-user epochs and floors"
                raise ConfigurationError(msg)
        elif Capability.SESSIONS not in can or not callable(getattr(store, "aclose", None)):
            msg = (
                f"{type(store).__name__} is not a store of type AsyncSessionStore (it must "
                "declare the SESSIONS capability and be of this manager's flavour); pass "
                "AsyncMemoryStore, AsyncRedisStore or another AsyncSessionStore implementation"
            )
            raise ConfigurationError(msg)
        self.store = store
        self._io: object | None = io
        """The store that performs this manager's operations (the revocation store for
        cookie sessions, ``None`` for cookie sessions without one)."""
        self.config = config
        self.core = SessionCore(config, mode=mode)
        self.observer: Observer = observer if observer is not None else LoggingObserver()
        self.events = events
        """Durable event sink (e.g. :class:`AsyncRedisEventStream`), or ``None``."""
        if not 0 < lock_lease <= 3600 or not 0 <= lock_wait <= 3600:
            msg = "lock_lease must be in (0, 3600] seconds and lock_wait in [0, 3600]"
            raise ConfigurationError(msg)
        self.lock_lease_ms = int(lock_lease * 1000)
        self.lock_wait_s = lock_wait
        self._tenanted = False
        if legacy is not None and (isinstance(store, SealedMode) or config.transport != "cookie"):
            msg = "legacy= (read-through migration) needs a server-side store and cookies"
            raise ConfigurationError(msg)
        self.legacy = legacy
        """The read-through migration from a legacy session library, or ``None``."""
        self._clock: AsyncClockSource | None = (
            cast("AsyncClockSource", io)
            if self.core.authority is not None and Capability.CLOCK in can
            else None
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(store={self.store!r})"

    @property
    def request_header(self) -> str | None:
        """Header transport: the lower-case request header adapters pass as ``token_headers``.

        ``None`` in cookie mode (the default).
        """
        return self.core.request_header

    async def open(
        self,
        cookie_headers: Iterable[str],
        *,
        client: str | None = None,
        token_headers: Iterable[str] = (),
        user_agent: str | None = None,
        lock: bool = False,
        tenant: str = "",
        store_down: StoreDownPolicy | None = None,
    ) -> SessionCycle:
        """Start a request: read the ID and load the session (at most one round trip).

        ``cookie_headers``: the request's ``Cookie`` values; ``token_headers``: the values of
        :attr:`request_header` when the header transport is configured. ``client`` and
        ``user_agent`` describe the device in the user's session list (the address only as
        a keyed hash). ``tenant``: the tenant the server resolved for this request
        (:mod:`sessionary.sansio.tenants`), ``""`` for none.

        ``lock=True`` takes the session's fenced lock before loading it (for
        read-modify-write flows: wizards, carts): concurrent locked requests of one session
        run one after the other, and the commit is refused if the lock was lost. It costs
        one more round trip to take it and one to release it; waiting is bounded by
        ``lock_wait`` (then :class:`~sessionary.exceptions.LockNotAcquiredError`), the lease
        by ``lock_lease`` (renew it in long handlers with :meth:`renew_lock`).

        A store failure does not raise here; the store-down policy (``store_down``, else
        ``config.store_down``) decides: by default the session becomes *unavailable* and
        raises :class:`~sessionary.exceptions.StoreUnavailableError` only if the handler
        touches it; ``fail_open_readonly`` hands out an empty, read-only session.
        """
        if self._clock is not None and self.core.authority is not None:
            await self._sample_clock(self._clock, self.core.authority)
        if self.legacy is not None:
            cookie_headers = list(cookie_headers)  # read twice: by the cycle, by the migration
        cycle = self.core.begin(
            cookie_headers,
            client=client,
            token_headers=token_headers,
            user_agent=user_agent,
            tenant=tenant,
            store_down=store_down,
        )
        try:
            if lock:
                await self._acquire_lock(cycle)
            op = cycle.next_op()  # the loop of _drive, inlined: it runs on every request
            while op is not None:
                cycle.send(await self._perform(op))
                op = cycle.next_op()
            if self.legacy is not None:
                cycle = await self._read_through(
                    self.legacy,
                    cycle,
                    cookie_headers,
                    lock=lock,
                    client=client,
                    user_agent=user_agent,
                    store_down=store_down,
                )
        except LockNotAcquiredError:
            raise
        except StoreError as exc:
            cycle.fail(exc)
        if cycle.has_events:
            await self._publish(cycle)
        return cycle

    async def _read_through(
        self,
        legacy: AsyncLegacyMigration,
        cycle: SessionCycle,
        cookie_headers: Iterable[str],
        *,
        lock: bool,
        client: str | None,
        user_agent: str | None,
        store_down: StoreDownPolicy | None,
    ) -> SessionCycle:
        """No live session was named: migrate the legacy session the request carries, if any.

        Returns the cycle of the migrated session (its response hands the new ID out), or
        ``cycle`` unchanged. See :mod:`sessionary._async.migration`.
        """
        if cycle.loaded_id is not None or not legacy.active(cycle.now):
            return cycle
        legacy_id = legacy.legacy_id(cookie_headers)
        if legacy_id is None or cycle.session.unavailable:
            return cycle
        # The cycle of the migrated session, started before any I/O so that a store failure
        # meets it in its request phase: the store-down policy then applies as on any load.
        fresh = self.core.begin(
            [f"{self.config.cookie.name}={legacy.token_for(self.core, legacy_id).value}"],
            client=client,
            user_agent=user_agent,
            tenant=cycle.tenant,
            store_down=store_down,
        )
        try:
            migrated = await legacy.migrate(
                self.core,
                cast("AsyncSessionStore", self._io),
                legacy_id,
                now=cycle.now,
                tenant=cycle.tenant,
                client=client,
                user_agent=user_agent,
            )
            if migrated.event is not None:
                await self._publish(cycle)
                notify(self.observer, migrated.event)
                await self._deliver([migrated.event])
            if migrated.token is None:
                return cycle
            if lock:
                await self._acquire_lock(fresh)
            await self._drive(fresh)
        except LockNotAcquiredError:
            raise
        except StoreError as exc:
            await self._publish(cycle)
            fresh.fail(exc)
            return fresh
        fresh.hand_out()
        return fresh

    async def _sample_clock(self, source: AsyncClockSource, authority: AuthorityClock) -> None:
        """Take the store's time when a sample is due (about once a minute; R38)."""
        if not authority.due():
            return
        started = authority.begin_sample()
        try:
            server_ms = await source.server_time()
        except StoreError:
            logger.warning("sessionary: could not read the store's clock; retrying later")
            authority.defer()
            return
        authority.adopt(server_ms, started)

    async def commit(self, cycle: SessionCycle, *, failed: bool = False) -> ResponseUpdate:
        """Finish a request: commit what changed (at most one round trip) and return headers.

        ``failed``: the request failed (the handler raised or answers a 5xx): only a logout
        or an explicit rotation is committed, the handler's other changes are dropped.

        Raises :class:`~sessionary.exceptions.StoreError` subclasses when the commit could not
        be performed; adapters answer 503 (unavailable) or 409 (conflict) then.
        """
        try:
            cycle.finish(failed=failed)
            op = cycle.next_op()  # as in open()
            while op is not None:
                cycle.send(await self._perform(op))
                op = cycle.next_op()
        except StoreUnavailableError as exc:
            cycle.refuse(exc)
            raise
        finally:
            if cycle.lock_token is not None:
                await self._release_lock(cycle)
            if cycle.has_events:
                await self._publish(cycle)
        return cycle.response()

    # ------------------------------------------------------------------ adapters
    async def admit(
        self, gate: Gate, info: RequestInfo, request: object = None
    ) -> SessionCycle | Refuse | NeedForm:
        """A request arrives: the gate's decision and, once admitted, its loaded session.

        Returns the :class:`~sessionary.sansio.gate.Refuse` to answer instead (its event
        reported), the :class:`~sessionary.sansio.gate.NeedForm` to read before asking again
        with ``info.with_form(token)``, or the request's cycle: opened for the gate's tenant,
        lock and store-down policy, its CSRF token verified. ``request``, the framework's
        request object, is what the ``lock=`` and ``store_down=`` callables are given.
        """
        decision = gate.decide(info, request)
        if isinstance(decision, Open):
            try:
                cycle = await self.open_admitted(info, decision)
            except LockNotAcquiredError:
                if info.websocket:
                    raise
                decision = gate.busy(info)
            else:
                refused = gate.check(decision, cycle, info)
                if refused is None:
                    return cycle
                await self._release_lock(cycle)  # no commit will come
                decision = refused
        if isinstance(decision, Refuse) and decision.event is not None:
            notify(self.observer, decision.event)
        return decision

    async def open_admitted(self, info: RequestInfo, opened: Open) -> SessionCycle:
        """Open the session of a request the gate opened: its tenant, lock and store-down policy.

        :meth:`admit` does this at once; an adapter that loads lazily calls it when the
        handler first asks for the session. The CSRF token is :meth:`admit`'s to check.
        """
        return await self.open(
            info.cookies,
            client=info.client,
            token_headers=info.tokens,
            user_agent=info.user_agent,
            lock=opened.lock,
            tenant=opened.tenant,
            store_down=opened.store_down,
        )

    async def settle(
        self,
        cycle: SessionCycle,
        gate: Gate,
        *,
        status: int | None = None,
        error: BaseException | None = None,
    ) -> Answer:
        """Commit as the response starts with ``status`` (or after the handler raised ``error``).

        The gate's rules (:mod:`sessionary.sansio.settle`) decide what is committed and how
        the response is answered: a failed request commits only a logout or a rotation, a
        commit error becomes 503, 403 or 409, an outage the handler met becomes 503. Never
        raises a commit error: the :class:`~sessionary.sansio.settle.Answer` says it.
        """
        plan = gate.settlement(status=status, error=error, refused=cycle.session.refused)
        if plan.refuse is not None:
            cycle.refuse(plan.refuse)
        try:
            update = await self.commit(cycle, failed=plan.failed)
        except COMMIT_ERRORS as exc:
            return plan.after_error(exc)
        return plan.after(update)

    async def after_response(self, cycle: SessionCycle) -> None:
        """Once the response is over: end the session a late ``logout()`` asked to end.

        A handler that logs out while its (streaming) response is already being sent cannot
        clear the cookie any more; the stored session is still destroyed here. A store error
        is logged (the response is gone), never raised. A request that never committed (a
        WebSocket that never accepted) releases its lock here.
        """
        op = cycle.late_op()
        if op is None:
            await self._release_lock(cycle)  # nothing held once a commit came: no I/O
            return
        try:
            cycle.send(await self._perform(op))
        except StoreError:
            logger.warning("sessionary: could not end a session logged out after its response")
        await self._publish(cycle)

    async def refuse(self, cycle: SessionCycle, error: BaseException) -> None:
        """Record that a request is answered 503 for want of the store (event ``fail_closed``).

        For adapters whose handler raised the session's load error before any commit.
        """
        cycle.refuse(error)
        await self._publish(cycle)

    async def _drive(self, cycle: SessionCycle) -> None:
        op = cycle.next_op()
        while op is not None:
            cycle.send(await self._perform(op))
            op = cycle.next_op()

    async def _perform(self, op: Operation) -> Result:
        """Perform one operation on the store; each answers with its own result type."""
        # A session store, or a sealed cookie's revocation store (both checked when built).
        io: Any = self._io
        observer = self.observer
        timed = (
            type(observer) is not NullObserver
        )  # nothing to time for an observer that ignores it
        started = time.perf_counter() if timed else 0.0
        try:
            # One frame per operation: the dispatch is inlined (it runs on every request).
            result: Result
            match op:
                case Load():
                    result = await io.load(op)
                case Update():
                    result = await io.update(op)
                case Create():
                    result = await io.create(op)
                case Destroy():
                    result = DestroyResult(await io.destroy(op))
                case Discard():
                    result = DiscardResult(await io.discard(op))
                case PinCookie():  # a login, rotation or logout of a sealed cookie
                    result = PinResult(await io.pin_cookie(op))
                case ReadCookieState():  # the floor and the user epoch of a sealed cookie
                    result = await io.read_cookie_state(op)
        except StoreError as exc:
            if timed:
                elapsed = time.perf_counter() - started
                observer.operation(_OPERATION_NAMES[type(op)], elapsed, type(exc).__name__)
            raise
        if timed:
            elapsed = time.perf_counter() - started
            observer.operation(_OPERATION_NAMES[type(op)], elapsed, _outcome(result))
        return result

    async def _publish(self, cycle: SessionCycle) -> None:
        events = cycle.drain_events()
        for event in events:
            notify(self.observer, event)
        if events and self.events is not None:
            await self._deliver(events)

    async def _deliver(self, events: list[SessionEvent]) -> None:
        """Publish to the durable sink; its failure is logged, never fails the request."""
        sink = self.events
        if sink is None:
            return
        try:
            await sink.publish(events)
        except StoreError:
            logger.warning("sessionary: could not publish %d lifecycle events", len(events))

    # ------------------------------------------------------------------ locks
    def _locking_store(self) -> AsyncSessionLocks:
        if isinstance(self.store, SealedMode) or Capability.LOCKS not in self._capabilities:
            msg = f"{type(self.store).__name__} does not support the per-session lock"
            raise ConfigurationError(msg)
        return cast("AsyncSessionLocks", self._io)

    async def _acquire_lock(self, cycle: SessionCycle) -> None:
        op = cycle.next_op()
        if not isinstance(op, Load):
            return  # no session presented: nothing to lock (a new session is private)
        store = self._locking_store()
        token = secrets.token_bytes(_LOCK_TOKEN_BYTES)
        no_session: list[bool] = []

        async def take() -> bool:
            taken = await store.acquire_lock(op.key, token, self.lock_lease_ms, op.digest)
            if taken is None:  # not this ID's session (stale, stolen, unknown): no lock
                no_session.append(True)
                return True
            return taken

        await async_wait_for_lease(
            take, self.lock_wait_s, f"the session lock was busy for {self.lock_wait_s:g} s"
        )
        if not no_session:
            cycle.hold_lock(op.key, token)

    async def renew_lock(self, cycle: SessionCycle) -> bool:
        """Extend the lease of the lock ``cycle`` holds (call it in long handlers).

        ``False`` when the lock was already lost (the commit will be refused).
        """
        if cycle.lock_token is None or cycle.lock_key is None:
            return False
        store = self._locking_store()
        return await store.renew_lock(cycle.lock_key, cycle.lock_token, self.lock_lease_ms)

    async def _release_lock(self, cycle: SessionCycle) -> None:
        held = cycle.release_lock()
        if held is None:
            return
        key, token = held
        try:
            await self._locking_store().release_lock(key, token)
        except StoreError:
            logger.warning("sessionary: could not release a session lock (its lease ends it)")

    async def discard(self, cycle: SessionCycle) -> None:
        """The handler failed and nothing will be committed: release the lock, if any."""
        await self._release_lock(cycle)

    # ------------------------------------------------------------------ users
    def _user_store(self) -> AsyncUserIndex:
        store = self._io  # for cookie sessions, the revocation store keeps the epochs
        if Capability.USER_INDEX not in self._capabilities:
            msg = f"{type(store).__name__} does not keep per-user indexes"
            raise ConfigurationError(msg)
        return cast("AsyncUserIndex", store)

    def _now(self) -> int:
        return self.core.now_ms()

    def scope_by_tenant(self) -> None:
        """Sessions are scoped by tenant: every user-level operation must name its tenant.

        Adapters configured with ``tenants=`` call it, so that ``revoke_user("42")`` without
        ``tenant=`` is an error rather than a revocation of user 42 of the empty tenant.
        """
        self._tenanted = True

    def _user_key(self, user_id: str | int, tenant: str | None) -> str:
        if tenant is None:
            if self._tenanted:
                msg = (
                    "sessions are scoped by tenant here: pass tenant= (the tenant the server "
                    "resolved for the request) to user-level operations"
                )
                raise ConfigurationError(msg)
            tenant = ""
        return KeyRing.user_key(str(user_id), tenant)

    async def list_user_sessions(
        self, user_id: str | int, *, current: Session | None = None, tenant: str | None = None
    ) -> list[UserSession]:
        """The user's live sessions, oldest first: for a "Your devices" page.

        Pass the request's session as ``current`` to flag it. Each entry's ``ref`` names it
        for :meth:`revoke_session` without revealing its ID. With tenants, every user
        operation is scoped to the ``tenant`` the server resolved for the request.
        """
        store = self._user_store()
        keyring = self.core.keyring
        current_ref = current.ref if current is not None else None
        entries = await store.list_user(
            self._user_key(user_id, tenant), self._now(), self.config.idle_timeout_ms
        )
        out = []
        for key, meta in entries:
            ref = keyring.session_ref(key)
            out.append(UserSession.from_meta(ref, meta, current=ref == current_ref))
        return out

    async def count_user_sessions(self, user_id: str | int, *, tenant: str | None = None) -> int:
        """How many live sessions the user has (check before ``login`` under a limit)."""
        return len(await self.list_user_sessions(user_id, tenant=tenant))

    async def revoke_user(
        self,
        user_id: str | int,
        *,
        keep_current: Session | None = None,
        tenant: str | None = None,
        reason: RevocationReason = RevocationReason.LOGOUT_EVERYWHERE,
    ) -> int:
        """Log the user out everywhere (but the ``keep_current`` session, if given).

        One write makes every session of the user that began before now invalid, including
        logins racing this call; the cleanup then deletes the indexed sessions. Returns how
        many live sessions the cleanup deleted. Scoped to ``tenant`` (R66). ``reason`` goes
        into the ``revoked`` event (see the hooks :meth:`account_disabled`,
        :meth:`credentials_changed` and :meth:`admin_revoke`).
        """
        reason = RevocationReason(reason)
        store = self._user_store()
        uid = str(user_id)
        user_key = self._user_key(uid, tenant)
        now = self._now()
        keep = None
        if keep_current is not None and keep_current.ref is not None:
            keep = await self._key_of(store, user_key, keep_current.ref, now)
        ended = await store.revoke_user(
            user_key, now, keep, sessions_end_by=now + self.config.absolute_timeout_ms
        )
        await self._announce(
            EventName.REVOKED, uid, scope="user", sessions=ended, reason=reason.value
        )
        return ended

    async def account_disabled(self, user_id: str | int, *, tenant: str | None = None) -> int:
        """Hook for an account that was disabled or deleted: end all its sessions (R60).

        Nothing is kept, not even the caller's session. Returns how many sessions ended.
        """
        return await self.revoke_user(
            user_id, tenant=tenant, reason=RevocationReason.ACCOUNT_DISABLED
        )

    async def credentials_changed(
        self, user_id: str | int, *, keep_current: Session | None = None, tenant: str | None = None
    ) -> int:
        """Hook for a changed or removed password or authentication factor (R60).

        Ends every session of the user but ``keep_current`` (the session that made the
        change, if it should stay signed in); call ``keep_current.reauthenticate()`` too
        to give that session a new ID.
        """
        return await self.revoke_user(
            user_id,
            keep_current=keep_current,
            tenant=tenant,
            reason=RevocationReason.CREDENTIALS_CHANGED,
        )

    async def admin_revoke(self, user_id: str | int, *, tenant: str | None = None) -> int:
        """Hook for an administrator ending every session of a user (R60)."""
        return await self.revoke_user(user_id, tenant=tenant, reason=RevocationReason.ADMIN)

    async def revoke_session(
        self, user_id: str | int, session_ref: str, *, tenant: str | None = None
    ) -> bool:
        """End one of the user's sessions, named by its ``ref`` from the device list.

        Its next request is anonymous with ``end_reason == "revoked"``.
        """
        store = self._user_store()
        uid = str(user_id)
        user_key = self._user_key(uid, tenant)
        key = await self._key_of(store, user_key, session_ref, self._now())
        if key is None:
            return False
        ended = await store.end_session(user_key, key, "revoked")
        if ended:
            await self._announce(EventName.REVOKED, uid, scope="session", ref=session_ref)
        return ended

    async def _key_of(self, store: AsyncUserIndex, user_key: str, ref: str, now: int) -> str | None:
        keyring = self.core.keyring
        for key, _ in await store.list_user(user_key, now, self.config.idle_timeout_ms):
            if keyring.session_ref(key) == ref:
                return key
        return None

    async def _announce(self, name: EventName, user: str, **detail: object) -> None:
        event = SessionEvent(name, self._now(), None, user, dict(detail))
        notify(self.observer, event)
        await self._deliver([event])

    async def aclose(self) -> None:
        """Close the store (and the connections it created)."""
        await self.store.aclose()
