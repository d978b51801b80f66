"""The response phase of a server-side session: the one write a request needs, if any.

Guarantees (R6, R7, R27-R32, R39, R63): an anonymous session that stores nothing creates
nothing; an unchanged session is never rewritten; a logout destroys the record (never
recreated by a slower request); a login or rotation changes the validator inside the same
record (no window where both IDs work); every write is conditional on the record version
the request read — a stale writer gets the record back and merges (disjoint keys kept,
read-and-written keys last-writer-wins or refused, a rotation by the same user joined, a
concurrent login refused visibly); the record MAC is recomputed over the whole new state.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from sessionary.exceptions import (
    LockLostError,
    SessionLimitError,
    SessionRotatedError,
    SessionTooLargeError,
    StoreConflictError,
    StoreError,
)
from sessionary.sansio.events import ChangeEvents, EventName, SessionEvent
from sessionary.sansio.ids import SessionToken, mint_token, rotate_token
from sessionary.sansio.ops import (
    CommitResult,
    CommitStatus,
    Create,
    Destroy,
    Discard,
    RecordMeta,
    StoredSession,
    Update,
    UserBinding,
)
from sessionary.sansio.presession import render_presession
from sessionary.sansio.race import judge_race
from sessionary.sansio.request import RequestState
from sessionary.sansio.server_record import ServerRecord
from sessionary.sansio.session import Delta, Lifecycle, Session
from sessionary.sansio.users import login_binding

__all__ = ["ServerWrite"]

_CREATE_ATTEMPTS = 3
_UPDATE_ATTEMPTS = 100  # a write that keeps finding the record changed gives up (409)
_NONCE_BYTES = 8  # idempotency token of one write (the Redis layout packs 8 bytes)
_NO_VALUES: Mapping[str, bytes] = {}
_NO_EVENTS = ChangeEvents()
Write = Create | Update | Destroy | Discard


class _WritePlan:
    """The planning half of :class:`ServerWrite`: which operation, built how."""

    __slots__ = (
        "_attempts",
        "_change",
        "_conflicts",
        "_delta",
        "_joined",
        "_lifecycle",
        "_new_deadline",
        "_new_digest",
        "_new_token",
        "_outgoing",
        "_record",
        "_rekey",
        "_state",
        "_update_binding",
    )

    def __init__(self, state: RequestState, record: ServerRecord) -> None:
        self._state = state
        self._record = record
        self._attempts = 0
        self._delta: Delta | None = None
        self._lifecycle: Lifecycle | None = None
        self._new_token: SessionToken | None = None
        self._new_deadline: int | None = None
        self._new_digest = b""
        self._update_binding: UserBinding | None = None
        self._outgoing: Mapping[str, bytes] = _NO_VALUES
        self._conflicts: tuple[str, ...] = ()
        self._joined = False
        """This write joined a rotation another request of the same user made meanwhile."""
        self._rekey = False
        """A re-authentication moves the session to the newest key (destroy, then create)."""
        self._change = _NO_EVENTS
        """The lifecycle events of the change in flight, emitted once it takes effect."""

    # ------------------------------------------------------------------ planning
    def plan(self, session: Session) -> Write | None:
        """The first operation of the commit, or ``None`` when nothing must be written."""
        lifecycle = self._lifecycle = session.lifecycle
        stored = self._record.stored
        if lifecycle.auth_changed and stored is not None and self._record.generation > 0:
            # Found under a retired key and re-authenticated: the deadline restarts, so move
            # the session to the newest key (a new record; the old one ends first, so a
            # failure in between signs the user out rather than keeping the old ID).
            self._rekey = True
        if (lifecycle.destroy_loaded or self._rekey) and stored is not None:
            if not self._rekey:  # a re-key reports the create that follows (rotated)
                user = stored.meta.user
                self._change = ChangeEvents((self._event(EventName.DESTROYED, user),))
            return self._destroy_op(stored)
        return self._plan_write(session, lifecycle)

    def late_op(self, session: Session) -> Destroy | None:
        """The destroy a logout after the headers asked for (``None``: nothing to end)."""
        stored = self._record.stored
        if not session.late_destroy or stored is None:
            return None
        user = stored.meta.user
        self._change = ChangeEvents((self._event(EventName.DESTROYED, user, late=True),))
        return self._destroy_op(stored)

    def _destroy_op(self, stored: StoredSession) -> Destroy:
        record = self._record
        return Destroy(record.key, record.digest, stored.meta.user_key, self._carried())

    def _carried(self) -> ChangeEvents | None:
        """What the change carries for the store to write with it (``None``: nothing)."""
        return self._change if self._state.core.events_in_store else None

    def _event(
        self, name: EventName, user: str | None, token: SessionToken | None = None, **detail: Any
    ) -> SessionEvent:
        """An event of a change about ``token`` (the presented ID when ``None``)."""
        state = self._state
        return state.new_event(name, state.token if token is None else token, user, detail)

    def _plan_write(self, session: Session, lifecycle: Lifecycle) -> Write | None:
        state, record = self._state, self._record
        delta = session.delta()
        if session.is_new:
            if not delta and not lifecycle.auth_changed:
                if record.pre_minted and record.pre is not None:  # a CSRF token was issued
                    value = render_presession(state.core.presession_keys[0], record.pre)
                    deadline = state.now + state.core.config.absolute_timeout_ms
                    state.set_cookie = (SessionToken(value), deadline)
                    state.clear_cookie = False
                return None  # an anonymous session that stores nothing creates nothing (R7)
            self._check_size(delta.size)
            self._delta = delta
            return self._create_op()
        if not delta and not lifecycle.rotate and not lifecycle.auth_changed:
            return None  # unchanged: no write at all (the load already touched if due)
        self._check_size(delta.size)
        stored, token = record.stored, state.token
        assert stored is not None
        assert token is not None
        digest = record.digest
        if lifecycle.rotate:
            token = record.next(rotate_token(token))
            digest = state.core.keyring.validator_digest(token.validator, record.generation)
        self._new_token = token
        self._new_digest = digest
        binding = self._binding(lifecycle) if lifecycle.auth_changed else None
        self._update_binding = binding
        self._new_deadline = binding.deadline if binding is not None else None
        at_rest = state.core.at_rest
        self._delta = delta
        self._outgoing = (
            delta.attributes if at_rest is None else at_rest.seal(record.key, delta.attributes)
        )
        return self._update_op(stored)

    def _update_op(self, base: StoredSession) -> Update:
        """The update turning ``base`` (the record as last read) into this request's state.

        The core writes the whole record's MAC, so it merges its delta into ``base``: the
        store refuses the write (STALE) if the record is no longer at ``base``'s version.
        """
        state, record = self._state, self._record
        lifecycle, delta, binding = self._lifecycle, self._delta, self._update_binding
        assert lifecycle is not None
        assert delta is not None
        attributes = self._outgoing
        auth = lifecycle.auth_changed
        meta = base.meta
        digest = meta.digest if self._joined else self._new_digest
        seal = record.seal_update(
            base,
            attributes,
            delta.delete,
            digest=digest,
            deadline=self._new_deadline,
            user=lifecycle.user_id if auth else None,
            auth_time=lifecycle.auth_time if auth else None,
            binding=binding,
        )
        self._change = self._update_events(lifecycle, binding)
        return Update(
            key=record.key,
            expect_version=meta.version,
            digest=digest,
            nonce=secrets.token_bytes(_NONCE_BYTES),
            now=state.now,
            max_idle=state.core.config.idle_timeout_ms,
            attributes=attributes,
            delete=delta.delete,
            seal=seal,
            user=lifecycle.user_id if auth else None,
            auth_time=lifecycle.auth_time if auth else None,
            deadline=self._new_deadline,
            binding=binding,
            lock_token=state.lock_token,
            linger=state.core.linger,
            events=self._carried(),
        )

    def _update_events(self, lifecycle: Lifecycle, binding: UserBinding | None) -> ChangeEvents:
        """What an update reports once it takes effect (most report nothing)."""
        joined, rotate, conflicts = self._joined, lifecycle.rotate, self._conflicts
        if not (joined or rotate or conflicts or binding is not None):
            return _NO_EVENTS
        user = lifecycle.user_id
        events = []
        if conflicts:
            conflict = self._event(EventName.CONFLICT, None, fields=list(conflicts), applied="ok")
            events.append(conflict)
        token = None  # the presented ID, unless this update rotates it
        if joined:
            # Another request of the same user rotated the ID meanwhile: this write goes to
            # the rotated record, whose new cookie that request's response carries.
            events.append(self._event(EventName.ROTATION_JOINED, user))
        elif rotate:
            token = self._new_token
            events.append(self._event(EventName.ROTATED, user, token))
        evicted = None if binding is None else self._event(EventName.EVICTED, user, token)
        return ChangeEvents(tuple(events), evicted)

    def _binding(self, lifecycle: Lifecycle) -> UserBinding | None:
        """Index a login under its user; re-authentication restarts the absolute deadline."""
        user, state = lifecycle.user_id, self._state
        if user is None:
            return None
        return login_binding(
            state.core,
            user,
            now=state.now,
            tenant=state.tenant,
            client=state.client,
            user_agent=state.user_agent,
        )

    def _check_size(self, size: int) -> None:
        limit = self._state.core.config.max_size
        if size > limit:
            raise SessionTooLargeError(size, limit)

    def _create_op(self) -> Create:
        state, record = self._state, self._record
        core = state.core
        config = core.config
        keyring = core.keyring
        lifecycle, delta = self._lifecycle, self._delta
        assert lifecycle is not None
        assert delta is not None
        # The ID a CSRF token of this request is bound to, if any: a login's new ID, or the
        # pre-session ID (never after a login: the token rotates on login).
        chosen = record.next_token if lifecycle.auth_changed else record.pre
        token = chosen if chosen is not None and self._attempts == 0 else mint_token()
        self._new_token = token
        self._attempts += 1
        record.generation = 0
        key = record.key = keyring.storage_key(token.selector, 0, state.tenant)
        digest = keyring.validator_digest(token.validator)
        deadline = state.now + config.absolute_timeout_ms
        attributes: Mapping[str, bytes] = delta.attributes
        if core.at_rest is not None:
            attributes = core.at_rest.seal(key, delta.attributes)
        binding = self._binding(lifecycle) if lifecycle.auth_changed else None
        user = lifecycle.user_id
        made = (
            self._event(EventName.ROTATED, user, token, rekeyed=True)
            if self._rekey
            else self._event(EventName.CREATED, user, token)
        )
        evicted = None if binding is None else self._event(EventName.EVICTED, user, token)
        self._change = ChangeEvents((made,), evicted)
        meta = RecordMeta(
            created=state.now,
            accessed=state.now,
            idle=config.idle_timeout_ms,
            deadline=deadline,
            digest=digest,
            user=lifecycle.user_id,
            auth_time=lifecycle.auth_time,
            user_key=None if binding is None else binding.user_key,
            device=None if binding is None else binding.device,
        )
        return Create(
            key=key,
            digest=digest,
            nonce=secrets.token_bytes(_NONCE_BYTES),
            now=state.now,
            idle=config.idle_timeout_ms,
            deadline=deadline,
            attributes=attributes,
            user=lifecycle.user_id,
            auth_time=lifecycle.auth_time,
            binding=binding,
            seal=record.seal_of(meta, attributes),
            linger=core.linger,
            events=self._carried(),
        )


class ServerWrite(_WritePlan):
    """Plans and follows one request's commit to a server-side store."""

    __slots__ = ()

    # ------------------------------------------------------------------ results
    def destroyed(self, session: Session, deleted: bool) -> Write | None:
        """The loaded record is gone (a logout, or the first half of a re-key)."""
        state = self._state
        stored, lifecycle = self._record.stored, self._lifecycle
        assert stored is not None
        assert lifecycle is not None
        state.clear_cookie = True
        state.set_cookie = None  # an ID handed out by a migration is dead too
        if self._rekey:  # the same session under the newest key: a new record with it all
            delta = self._delta = session.encoded()
            self._check_size(delta.size)
            return self._create_op()
        self._took_effect((), stored=deleted)  # destroyed (reported even if already gone)
        return self._plan_write(session, lifecycle)  # a new session, if written after logout

    def late_destroyed(self, deleted: bool) -> None:
        """The destroy of a late logout is done."""
        if deleted:
            self._took_effect((), stored=True)

    def created(self, result: CommitResult) -> Create | None:
        """A create's outcome: the cookie to set, or a retry under a fresh ID."""
        state, record = self._state, self._record
        token = self._new_token
        assert token is not None
        status = result.status
        if status is CommitStatus.OK:
            state.token = token
            record.digest = state.core.keyring.validator_digest(token.validator)
            state.set_cookie = (token, state.now + state.core.config.absolute_timeout_ms)
            state.clear_cookie = False
            self._took_effect(result.evicted)
            return None
        if status is CommitStatus.LIMIT:
            self._refuse_limit()
        if self._attempts >= _CREATE_ATTEMPTS:
            msg = "could not allocate a fresh session key (store reports every key as taken)"
            raise StoreError(msg)
        return self._create_op()  # the key is taken: retry with a fresh ID

    def updated(self, result: CommitResult) -> Update | Discard | None:
        """An update's outcome: done, a merge to retry, or a refusal."""
        state, record = self._state, self._record
        status = result.status
        lifecycle = self._lifecycle
        assert lifecycle is not None
        if status is CommitStatus.STALE:
            return self._merge(result.current)
        if status is CommitStatus.OK:
            if lifecycle.rotate and not self._joined:
                token, stored = self._new_token, record.stored
                assert token is not None
                assert stored is not None
                state.token = token
                record.digest = self._new_digest
                state.set_cookie = (token, self._new_deadline or stored.meta.deadline)
            self._took_effect(result.evicted)
            return None
        if status is CommitStatus.LIMIT:
            self._refuse_limit()
        if status is CommitStatus.LOCK_LOST:
            msg = "the session lock expired before the commit; nothing was written"
            raise LockLostError(msg)
        # GONE: destroyed or expired meanwhile — never resurrect it; the cookie is dead.
        state.clear_cookie = True
        state.set_cookie = None  # an ID handed out by a migration is dead too
        state.event(EventName.COMMIT_REFUSED, reason=status.value)
        return None

    def _merge(self, current: StoredSession | None) -> Update | Discard:
        """Another request wrote the record since it was read: merge this delta and retry.

        Disjoint writes never conflict; fields this request read and wrote are checked
        against what it read (the conflict policy decides); a rotation of the ID by another
        request of the same signed-in (or anonymous) user is joined, its writes carried
        over; a login that lost to another login or a change of user fails visibly
        (:class:`~sessionary.exceptions.SessionRotatedError`).
        """
        state, record = self._state, self._record
        lifecycle, stored, delta = self._lifecycle, record.stored, self._delta
        assert lifecycle is not None
        assert stored is not None
        assert delta is not None
        self._attempts += 1
        if current is None:
            msg = "the store refused an update as stale without returning the record"
            raise StoreError(msg)
        if not record.authentic(current):
            state.clear_cookie = True
            state.set_cookie = None  # an ID handed out by a migration is dead too
            state.event(EventName.CORRUPT_RECORD, reason="unauthenticated record")
            return Discard(record.key)
        verdict = judge_race(
            read=stored,
            current=current,
            digest=record.digest,
            expected=delta.expected,
            login=lifecycle.auth_changed,
        )
        if verdict.lost:
            state.event(EventName.COMMIT_REFUSED, reason="rotated")
            raise SessionRotatedError
        self._joined = self._joined or verdict.joined
        conflicts = self._conflicts = verdict.conflicts
        if conflicts and state.core.strict:
            state.event(EventName.CONFLICT, fields=list(conflicts), applied="conflict")
            raise StoreConflictError(conflicts)
        if self._attempts > _UPDATE_ATTEMPTS:
            msg = f"the session changed under {_UPDATE_ATTEMPTS} attempts to write it"
            raise StoreConflictError((), msg)
        return self._update_op(current)

    def _took_effect(self, evicted: tuple[str, ...], *, stored: bool = True) -> None:
        """The change in flight took effect: its events (``stored``: as the store saw it).

        When the change carried them, the store wrote them in its transaction (when the
        change took effect there: ``stored``) and the shell must not publish them again.
        """
        state = self._state
        recorded = stored and state.core.events_in_store
        state.changed(self._change.taken(evicted), recorded=recorded)

    def _refuse_limit(self) -> None:
        state = self._state
        limit = state.core.config.max_sessions_per_user
        state.event(EventName.COMMIT_REFUSED, reason="session limit")
        raise SessionLimitError(limit or 0)
