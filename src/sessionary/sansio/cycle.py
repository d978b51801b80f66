"""The request/response session cycle: a sans-IO state machine.

A :class:`SessionCycle` decides everything about one request's session and performs
nothing. The I/O shell drives it with a ten-line loop (compare h11's ``Connection`` and
httpx's ``auth_flow``)::

    cycle = core.begin(cookie_header_values)
    op = cycle.next_op()                    # Load, or None (no cookie: zero store calls)
    while op is not None:
        cycle.send(await store.run(op))     # each operation's own result type
        op = cycle.next_op()
    session = cycle.session                 # hand to the request handler
    ...
    cycle.finish()                          # handler done: compute the writes
    op = cycle.next_op()                    # Update / Create / Destroy, or None
    while op is not None:
        cycle.send(await store.run(op))
        op = cycle.next_op()
    headers = cycle.response()              # Set-Cookie, Cache-Control, Vary

The phases are an explicit table (:mod:`sessionary.sansio.phase`); what the operations are
is the storage mode's business (:mod:`sessionary.sansio.modes`: a server-side store, or the
sealed cookie); the headers are planned apart (:mod:`sessionary.sansio.response`).

Guarantees implemented by the flows (docs/security.md R1-R7, R34-R40): no cookie → no store call;
malformed, oversize or conflicting cookies → anonymous with no store call; a presented
unknown ID is never adopted (the first write mints a fresh one); a read-only request never
writes; login, rotation and logout change the ID or end the session atomically; expired
sessions are anonymous and their cookie is cleared.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from sessionary.config import StoreDownPolicy
from sessionary.exceptions import SessionReadOnlyError, SessionStateError, StoreError
from sessionary.sansio.events import EventName, SessionEvent
from sessionary.sansio.ops import Operation, Result
from sessionary.sansio.phase import Phase, Step, advance
from sessionary.sansio.request import RequestState
from sessionary.sansio.response import ResponseUpdate, plan_response
from sessionary.sansio.session import Session

if TYPE_CHECKING:
    from sessionary.sansio.context import CoreContext

__all__ = ["Flow", "FlowSource", "ResponseUpdate", "SessionCycle"]

# The transitions every request takes whose source phase is known where they happen, looked
# up once in the table (sansio/phase.py) instead of on each request.
_READY = advance(Phase.REQUEST, Step.LOADED)
_DONE = advance(Phase.RESPONSE, Step.COMMITTED)


class Flow(Protocol):
    """What a storage mode does for one request (server-side store, sealed cookie)."""

    def start(
        self, cookie_headers: Iterable[str], token_headers: Iterable[str]
    ) -> Operation | None:
        """Read the presented ID: the request phase's first operation, or ``None``."""
        ...

    def on_request(self, result: Result) -> Operation | None:
        """A request-phase result: the next operation, or ``None`` when the session is ready."""
        ...

    def plan(self, session: Session) -> Operation | None:
        """The handler is done: the commit's first operation, or ``None``."""
        ...

    def on_response(self, result: Result, session: Session) -> Operation | None:
        """A response-phase result: the next operation, or ``None`` when the commit is done."""
        ...

    def late_op(self, session: Session) -> Operation | None:
        """After the response: an operation a late logout asks for, or ``None``."""
        ...

    @property
    def loaded_id(self) -> str | None:
        """The client's ID when it named a live session."""
        ...

    @property
    def loaded_deadline(self) -> int | None:
        """The loaded session's absolute deadline (ms), or ``None``."""
        ...

    def csrf_binding(self, *, create: bool, committed: bool) -> bytes | None:
        """What the session's CSRF secret is bound to."""
        ...


class FlowSource(Protocol):
    """A storage mode: starts the flow each request follows."""

    def flow(self, state: RequestState) -> Flow:
        """The flow one request follows in this mode."""
        ...


class SessionCycle:
    """One request's session, from ``Cookie`` headers to response headers. See module doc.

    An explicit state machine (no generators, no callbacks): :meth:`next_op` returns the
    pending operation and :meth:`send` consumes its result and decides the next one.
    """

    __slots__ = ("_flow", "_op", "_phase", "_refused", "_state", "lock_key")

    def __init__(
        self,
        core: CoreContext,
        mode: FlowSource,
        cookie_headers: Iterable[str],
        *,
        client: str | None = None,
        token_headers: Iterable[str] = (),
        user_agent: str | None = None,
        tenant: str = "",
        store_down: StoreDownPolicy = StoreDownPolicy.FAIL_CLOSED,
    ) -> None:
        state = self._state = RequestState(
            core,
            core.now_ms(),
            client=client,
            user_agent=user_agent,
            tenant=tenant,
            store_down=store_down,
        )
        self._refused = False
        self.lock_key: str | None = None
        """The storage key the shell's lock was taken on (see :meth:`hold_lock`)."""
        self._flow = mode.flow(state)
        self._op = self._flow.start(cookie_headers, token_headers)
        self._phase = Phase.REQUEST if self._op is not None else _READY

    # ------------------------------------------------------------------ driver interface
    def next_op(self) -> Operation | None:
        """The operation the shell must perform next, or ``None`` when this phase is done."""
        return self._op

    def send(self, result: Result) -> None:
        """Feed the result of the operation returned by :meth:`next_op`."""
        if self._op is None:
            msg = "no operation is pending"
            raise SessionStateError(msg)
        self._op = None
        if self._phase is Phase.REQUEST:
            self._op = self._flow.on_request(result)
            if self._op is None:
                self._phase = _READY  # from REQUEST, checked above
            return
        session = self._state.session
        assert session is not None
        try:
            self._op = self._flow.on_response(result, session)
        finally:
            if self._op is None:
                self._phase = advance(self._phase, Step.COMMITTED)

    def adopt(self, session: Session) -> None:
        """Take over the empty session an adapter handed out before beginning this cycle.

        For a request that presented no ID, whose adapter gave the handler a fresh
        ``Session`` and begins the cycle only if the handler used it (an anonymous request
        that never touches its session costs no cycle at all). Only a cycle that read no ID
        and a session that no stored record backs can be joined this way.
        """
        state = self._state
        current = state.session
        if (
            self._phase is not Phase.READY
            or state.token is not None
            or state.clear_cookie
            or current is None
            or not current.is_new
            or not session.is_new
            or session.unavailable
        ):
            msg = "only a cycle without a presented ID can adopt a new session"
            raise SessionStateError(msg)
        state.session = session

    def fail(self, error: StoreError) -> None:
        """The store failed during the request phase: apply the store-down policy.

        Nothing is raised now. ``fail_closed``: the session becomes *unavailable*; the handler
        gets the error (→ 503) only if it touches the session, and the response leaves the
        client's cookie alone (R77). ``fail_open_readonly``: the handler gets an empty,
        read-only session (event ``fail_open_readonly``); writes raise
        :class:`~sessionary.exceptions.SessionReadOnlyError`; no cookie is set either.
        """
        if self._phase is not Phase.REQUEST:
            raise error
        self._phase = advance(self._phase, Step.FAILED)
        self._op = None
        state = self._state
        codec = state.core.codec
        if state.store_down is StoreDownPolicy.FAIL_OPEN_READONLY:
            read_only = SessionReadOnlyError(
                "the session store is unavailable: this request has a read-only session"
            )
            read_only.__cause__ = error
            state.session = Session(codec, now=state.now, read_only=read_only)
            state.event(EventName.FAIL_OPEN_READONLY, reason=type(error).__name__)
            return
        state.session = Session(codec, now=state.now, error=error)

    def refuse(self, error: BaseException) -> None:
        """The request is answered 503 because the store is unavailable: event ``fail_closed``.

        Called by the shell (a failed commit) and by adapters (a handler that raised the
        load error); recorded once per request.
        """
        if not self._refused:
            self._refused = True
            self._state.event(EventName.FAIL_CLOSED, reason=type(error).__name__)

    def hold_lock(self, key: str, token: bytes) -> None:
        """The shell took the session's fenced lock: commits must still hold it."""
        self.lock_key = key
        self._state.lock_token = token

    def release_lock(self) -> tuple[str, bytes] | None:
        """Forget the lock (the shell releases it); ``(key, token)`` if one was held."""
        token, key = self._state.lock_token, self.lock_key
        self._state.lock_token = None
        return None if token is None or key is None else (key, token)

    @property
    def lock_token(self) -> bytes | None:
        """The fenced lock token this request holds, if any."""
        return self._state.lock_token

    @property
    def tenant(self) -> str:
        """The tenant the server resolved for this request (``""`` without tenants)."""
        return self._state.tenant

    @property
    def now(self) -> int:
        """The request's time (ms since the epoch), from the core's clock."""
        return self._state.now

    @property
    def session(self) -> Session:
        """The session for the handler (available once the request phase is done)."""
        session = self._state.session
        if session is None or self._phase is Phase.REQUEST:
            msg = "the session is not loaded yet: drive next_op()/send() first"
            raise SessionStateError(msg)
        return session

    def finish(self, *, failed: bool = False) -> None:
        """The handler is done: compute the writes. Further changes raise.

        ``failed``: the request failed (the handler raised, or the response is a 5xx), so
        only what security requires is committed — a logout or an explicit rotation — and
        the handler's other changes are dropped (:meth:`Session.discard_changes`).
        """
        self._phase = advance(self._phase, Step.FINISHED)
        session = self._state.session
        assert session is not None
        session.close()
        try:
            if session.unavailable or session.read_only:
                error = session.error
                if session.refused and error is not None:  # the handler got the load error
                    self.refuse(error)
                return
            if failed:
                session.discard_changes()
            self._op = self._flow.plan(session)
        finally:
            if self._op is None:
                self._phase = _DONE  # from RESPONSE, entered above

    def late_op(self) -> Operation | None:
        """After the response was sent: the destroy a late :meth:`Session.logout` asked for.

        A logout called while a streaming response was already on its way cannot clear the
        cookie any more, but the stored session still ends. Drive the returned operation with
        :meth:`send` like the others (``None``: nothing to do).
        """
        session = self._state.session
        if self._phase is not Phase.DONE or session is None or not session.late_destroy:
            return None
        op = self._flow.late_op(session)
        if op is not None:
            self._phase = advance(self._phase, Step.LATE)
            self._op = op
        return op

    def response(self) -> ResponseUpdate:
        """The headers the response must carry (after the response phase)."""
        if self._phase is not Phase.DONE:
            msg = "response() is available after finish() and its operations"
            raise SessionStateError(msg)
        return plan_response(self._state)

    @property
    def loaded_id(self) -> str | None:
        """The client's ID when it named a live session (after the request phase)."""
        return self._flow.loaded_id

    def hand_out(self) -> None:
        """The client reached this session without holding its ID: the response hands it out.

        For a migration (:mod:`sessionary.sansio.migration`): the session was loaded under
        the ID derived from the client's legacy cookie, which the client learns only from
        this response's ``Set-Cookie``. Nothing happens when no live session was loaded.
        """
        state = self._state
        deadline = self._flow.loaded_deadline
        if self._phase is not Phase.READY or state.token is None or deadline is None:
            return
        state.set_cookie = (state.token, deadline)
        state.clear_cookie = False

    @property
    def issued_id(self) -> str | None:
        """The ID the response hands out (created or rotated), once the commit is done.

        For adapters whose framework renders the cookie itself (Django's test tooling) and
        for header transports; ``None`` when the response keeps or clears the client's ID.
        """
        issued = self._state.set_cookie
        if self._phase is not Phase.DONE or issued is None:
            return None
        return issued[0].value

    @property
    def ended(self) -> bool:
        """Whether the response tells the client to forget its ID (after the commit)."""
        state = self._state
        return self._phase is Phase.DONE and state.set_cookie is None and state.clear_cookie

    def csrf_binding(self, *, create: bool = True) -> bytes | None:
        """What this session's CSRF secret is bound to (:mod:`sessionary.sansio.csrf`).

        With ``create=False`` a visitor without a session gets ``None`` rather than a new
        pre-session binding (see the storage mode's flow).
        """
        committed = self._phase in (Phase.RESPONSE, Phase.DONE)
        return self._flow.csrf_binding(create=create, committed=committed)

    def mark_private(self) -> None:
        """The response carries this session's secret material (a CSRF token).

        It then gets ``Vary`` on the session and ``Cache-Control: no-store``, even when the
        session is neither written nor read.
        """
        self._state.private = True

    @property
    def has_events(self) -> bool:
        """Whether lifecycle events wait to be drained."""
        return bool(self._state.events)

    def drain_events(self) -> list[SessionEvent]:
        """Lifecycle events produced so far (each is returned once)."""
        state = self._state
        events, state.events = state.events, []
        return events

    def drain_recorded(self) -> list[SessionEvent]:
        """Those of the drained events the store wrote with their change (each returned once).

        The shell tells its observer about every event but publishes only the others: these
        are in the event sink already, committed in the change's own transaction.
        """
        state = self._state
        recorded, state.recorded = state.recorded, []
        return recorded
