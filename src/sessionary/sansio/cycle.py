"""The request/response session cycle: a sans-IO state machine.

A :class:`SessionCycle` decides everything about one request's session and performs
nothing. The I/O shell drives it with a ten-line loop (compare h11's ``Connection`` and
httpx's ``auth_flow``)::

    cycle = core.begin(cookie_header_values)
    op = cycle.next_op()                    # Load, or None (no cookie: zero store calls)
    while op is not None:
        cycle.send(await store.run(op))
        op = cycle.next_op()
    session = cycle.session                 # hand to the request handler
    ...
    cycle.finish()                          # handler done: compute the writes
    op = cycle.next_op()                    # Update / Create / Destroy, or None
    while op is not None:
        cycle.send(await store.run(op))
        op = cycle.next_op()
    headers = cycle.response()              # Set-Cookie, Cache-Control, Vary

Guarantees implemented here (SECURITY.md §A to §E): no cookie → no store call; malformed,
oversize or conflicting cookies → anonymous with no store call; a presented unknown ID is
never adopted (the first write mints a fresh one); a read-only request never writes; login,
rotation and logout change the ID or end the session atomically; expired sessions are
anonymous and their cookie is cleared.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from sessionary.codecs import get_codec
from sessionary.config import (
    ClientBinding,
    ConflictPolicy,
    LimitPolicy,
    SessionConfig,
    StoreDownPolicy,
)
from sessionary.exceptions import (
    ConfigurationError,
    DecodeError,
    LockLostError,
    SessionLimitError,
    SessionReadOnlyError,
    SessionRotatedError,
    SessionStateError,
    SessionTooLargeError,
    StoreConflictError,
    StoreError,
)
from sessionary.sansio.at_rest import AtRest
from sessionary.sansio.clock import AuthorityClock
from sessionary.sansio.cookie_state import CookieState, PinCookie, ReadCookieState
from sessionary.sansio.cookies import (
    CookieReadStatus,
    read_cookie,
    render_clear_cookie,
    render_set_cookie,
)
from sessionary.sansio.events import EventName, SessionEvent
from sessionary.sansio.expiry import cookie_max_age_s
from sessionary.sansio.ids import SessionToken, mint_token, parse_token, rotate_token
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.ops import (
    CommitResult,
    CommitStatus,
    Create,
    Destroy,
    Discard,
    Load,
    LoadResult,
    LoadStatus,
    Operation,
    ReadEpoch,
    RecordMeta,
    StoredSession,
    Update,
    UserBinding,
)
from sessionary.sansio.presession import parse_presession, render_presession
from sessionary.sansio.record_auth import record_seal, seal_matches
from sessionary.sansio.sealed import Sealer
from sessionary.sansio.session import Delta, Lifecycle, Session
from sessionary.sansio.transport import read_header_token
from sessionary.sansio.users import (
    MAX_USER_AGENT_LENGTH,
    DeviceInfo,
    decode_device,
    encode_device,
    is_revoked,
)

__all__ = ["ResponseUpdate", "SessionCore", "SessionCycle"]

_CREATE_ATTEMPTS = 3
_UPDATE_ATTEMPTS = 100  # a write that keeps finding the record changed gives up (409)
_REVOKED = "revoked"  # a verdict of _verify beside the LoadStatus values
_FORGED = "forged"  # the record failed authentication (its MAC)
_END_REASONS: dict[LoadStatus | str | None, str] = {
    LoadStatus.EXPIRED_IDLE: "expired_idle",
    LoadStatus.EXPIRED_ABSOLUTE: "expired_absolute",
    _REVOKED: "revoked",
}
_EXPIRY_REASONS = frozenset({"expired_idle", "expired_absolute"})
_NONCE_BYTES = 8  # idempotency token of one write (the Redis layout packs 8 bytes)

Result = LoadResult | CommitResult | bool | None

_NO_VALUES: Mapping[str, bytes] = {}


@dataclass(slots=True)
class ResponseUpdate:
    """What the response must carry. Adapters translate this into their framework.

    Most adapters call :func:`sessionary.sansio.headers.header_changes` (or
    :meth:`headers`) rather than reading the fields one by one.
    """

    set_cookie: str | None = None
    """A full ``Set-Cookie`` header value, or ``None``."""
    vary_cookie: bool = False
    """Add :attr:`vary_name` to ``Vary`` (the response depends on the session)."""
    no_store: bool = False
    """Set ``Cache-Control: no-store`` (the response sets or clears the ID, R15)."""
    vary_name: str = "Cookie"
    """The request header the response depends on: ``Cookie``, or the token header."""
    token_header: tuple[str, str] | None = None
    """Header transport only: ``(name, new ID)`` to send, or ``(name, "")`` to forget it."""

    def __repr__(self) -> str:
        # Never the ID or the sealed cookie (R79): error trackers record the repr of locals.
        cookie = "<hidden>" if self.set_cookie is not None else None
        token = None if self.token_header is None else (self.token_header[0], "<hidden>")
        return (
            f"ResponseUpdate(set_cookie={cookie}, vary_cookie={self.vary_cookie}, "
            f"no_store={self.no_store}, vary_name={self.vary_name!r}, token_header={token!r})"
        )

    def headers(self) -> list[tuple[str, str]]:
        """The headers to add, for adapters that merge ``Vary`` themselves."""
        out: list[tuple[str, str]] = []
        if self.set_cookie is not None:
            out.append(("Set-Cookie", self.set_cookie))
        if self.token_header is not None:
            out.append(self.token_header)
        if self.no_store:
            out.append(("Cache-Control", "no-store"))
        if self.vary_cookie:
            out.append(("Vary", self.vary_name))
        return out


_NOTHING = ResponseUpdate()


class SessionCore:
    """Everything a cycle needs that is fixed per application: config, keys, codec."""

    __slots__ = (
        "_time_floor",
        "at_rest",
        "authority",
        "authorization",
        "binding",
        "codec",
        "config",
        "header_mode",
        "keyring",
        "linger",
        "presession_keys",
        "record_keys",
        "request_header",
        "revocation",
        "sealer",
        "strict",
        "vary",
    )

    def __init__(
        self, config: SessionConfig, *, sealed: bool = False, revocation: bool = False
    ) -> None:
        self.config = config
        self._time_floor = 0
        self.authority: AuthorityClock | None = (
            AuthorityClock() if config.time_authority == "store" else None
        )
        """The store's clock, once the shell samples it (``time_authority="store"``)."""
        self.binding = config.client_binding
        """``client_binding``: compare authenticated requests with the login's client."""
        self.keyring = KeyRing(config.secrets)
        self.record_keys = self.keyring.subkeys("record")
        self.presession_keys = self.keyring.subkeys("presession")
        """Tags of pre-session IDs (:mod:`sessionary.sansio.presession`), newest first."""
        """Per generation: the key of the records' MAC (:mod:`sessionary.sansio.record_auth`)."""
        self.linger = config.expiry_notice_ms
        """How long an expired record is kept for the returning client's ``end_reason``."""
        self.at_rest = AtRest(self.keyring) if config.encrypt_at_rest and not sealed else None
        """Encryption at rest of attribute values (server-side stores, opt-in)."""
        self.sealer: Sealer | None = None
        """Client-side mode (``sealed=True``): the whole session lives in a sealed cookie."""
        self.revocation = sealed and revocation
        """Client-side mode with a revocation store: authenticated cookies check the user
        epoch (:class:`~sessionary.sansio.ops.ReadEpoch`) on every request."""
        if sealed:
            if config.transport != "cookie":
                msg = "the cookie store needs transport='cookie'"
                raise ConfigurationError(msg)
            self.sealer = Sealer(self.keyring.subkeys("cookie-seal"))
        self.codec = get_codec(config.codec)
        self.strict = config.conflict_policy is ConflictPolicy.RAISE
        self.header_mode = config.transport == "header"
        self.authorization = self.header_mode and config.token_header.lower() == "authorization"
        self.request_header: str | None = config.token_header.lower() if self.header_mode else None
        """Lower-case name of the request header adapters must pass as ``token_headers``."""
        vary_name = config.token_header if self.header_mode else "Cookie"
        self.vary = ResponseUpdate(vary_cookie=True, vary_name=vary_name)

    def now_ms(self) -> int:
        """The current time in milliseconds, from one authority where there is one (R38).

        With ``time_authority="store"`` and a store that has a clock, the store's time as the
        shell last sampled it, advanced by a monotonic clock (:mod:`sessionary.sansio.clock`):
        a node's wall clock, however wrong, moves no deadline. Otherwise the configured clock,
        never going back: a wall clock stepped backwards (an NTP correction, a resumed VM)
        stays at the latest value returned until it catches up.
        """
        authority = self.authority
        if authority is not None and authority.ready:
            return authority.now_ms()
        now = int(self.config.clock() * 1000)
        floor = self._time_floor
        if now < floor:
            return floor
        # Unlocked (no threading in the sans-IO core): two threads racing here can at worst
        # leave the floor a few microseconds behind the newest value either of them read.
        self._time_floor = now
        return now

    def begin(
        self,
        cookie_headers: Iterable[str],
        *,
        client: str | None = None,
        token_headers: Iterable[str] = (),
        user_agent: str | None = None,
        tenant: str = "",
        store_down: StoreDownPolicy | None = None,
    ) -> SessionCycle:
        """Start the cycle for one request.

        ``cookie_headers`` are the request's ``Cookie`` header values; ``token_headers`` the
        values of :attr:`request_header` (header transport). The transport not configured is
        ignored. ``client`` (the peer address) and ``user_agent`` are recorded, the address
        as a keyed hash only, in the device list when the request logs in. ``tenant``
        (resolved by the server, :mod:`sessionary.sansio.tenants`) is bound into every
        storage key and the sealed cookie's AAD. ``store_down`` overrides
        ``config.store_down`` for this request (a route). In client-side mode the cycle is a
        :class:`~sessionary.sansio.sealed_cycle.SealedCycle`.
        """
        if self.sealer is not None:
            from sessionary.sansio.sealed_cycle import SealedCycle  # noqa: PLC0415 - cycle

            return SealedCycle(self, cookie_headers, client=client, tenant=tenant)
        return SessionCycle(
            self,
            cookie_headers,
            client=client,
            token_headers=token_headers,
            user_agent=user_agent,
            tenant=tenant,
            store_down=store_down,
        )


# Events about a presented ID that did not give a session carry the client address (R26).
_CLIENT_EVENTS = frozenset(
    {
        EventName.INVALID_ID,
        EventName.DUPLICATE_COOKIE,
        EventName.EXPIRED_IDLE,
        EventName.EXPIRED_ABSOLUTE,
    }
)

# Phases of a cycle, and what a pending response-phase operation is for.
_REQUEST, _READY, _RESPONSE, _DONE = 1, 2, 3, 4
_STEP_DESTROY, _STEP_CREATE, _STEP_UPDATE, _STEP_DISCARD, _STEP_LATE = 1, 2, 3, 4, 5


class SessionCycle:
    """One request's session, from ``Cookie`` headers to response headers. See module doc.

    An explicit state machine (no generators, no callbacks): :meth:`next_op` returns the
    pending operation and :meth:`send` consumes its result and decides the next one.
    """

    __slots__ = (
        "_attempts",
        "_clear_cookie",
        "_client",
        "_conflicts",
        "_core",
        "_delta",
        "_digest",
        "_events",
        "_generation",
        "_joined",
        "_key",
        "_lifecycle",
        "_mismatch",
        "_new_deadline",
        "_new_digest",
        "_new_token",
        "_next_token",
        "_op",
        "_outgoing",
        "_phase",
        "_pre",
        "_pre_minted",
        "_private",
        "_refused",
        "_rekey",
        "_session",
        "_set_cookie",
        "_step",
        "_store_down",
        "_stored",
        "_tenant",
        "_token",
        "_update_binding",
        "_user_agent",
        "lock_key",
        "lock_token",
        "now",
    )

    def __init__(
        self,
        core: SessionCore,
        cookie_headers: Iterable[str],
        *,
        client: str | None = None,
        token_headers: Iterable[str] = (),
        user_agent: str | None = None,
        tenant: str = "",
        store_down: StoreDownPolicy | None = None,
    ) -> None:
        self._core = core
        self._client = client
        self._store_down = core.config.store_down if store_down is None else store_down
        self._refused = False
        self._user_agent = user_agent
        self._tenant = tenant
        self.lock_token: bytes | None = None
        """The fenced lock token the shell acquired for this request, if any."""
        self.lock_key: str | None = None
        """The storage key the lock was taken on."""
        self.now = core.now_ms()
        self._events: list[SessionEvent] = []
        self._token: SessionToken | None = None
        self._key = ""
        self._digest = b""
        self._generation = 0
        self._stored: StoredSession | None = None
        self._session: Session | None = None
        self._set_cookie: tuple[SessionToken, int] | None = None  # token, absolute deadline
        self._clear_cookie = False
        self._op: Operation | None = None
        self._step = 0
        self._pre: SessionToken | None = None
        """The pre-session ID the client presented, or one minted for a CSRF token."""
        self._pre_minted = False
        self._next_token: SessionToken | None = None
        """The ID a pending login or rotation will give, once a CSRF token needed it."""
        self._mismatch = False
        """A generation of the ring found the selector with another validator."""
        self._private = False
        self._init_writes()
        token = self._read_token(token_headers if core.header_mode else cookie_headers)
        if token is None:
            self._phase = _READY
            self._session = Session(core.codec, now=self.now)
        else:
            self._token = token
            self._phase = _REQUEST
            self._op = self._load_op(0)

    def _init_writes(self) -> None:
        """The response phase's state: what the commit plans and has learnt so far."""
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
        step = self._step
        if self._phase == _REQUEST:
            if step == _STEP_DISCARD:
                self._step = 0
                self._phase = _READY  # the corrupt record is gone; the session is anonymous
                return
            self._loaded(result)  # type: ignore[arg-type]
            return
        try:
            if step == _STEP_UPDATE:
                self._updated(result)  # type: ignore[arg-type]
            elif step == _STEP_CREATE:
                self._created(result)  # type: ignore[arg-type]
            elif step == _STEP_DESTROY:
                self._destroyed()
            elif step == _STEP_LATE:
                self._late_destroyed(result)  # type: ignore[arg-type]
            # _STEP_DISCARD: a corrupt record found at commit time is gone; nothing more
        finally:
            if self._op is None:
                self._phase = _DONE

    def epoch_request(self) -> ReadEpoch | ReadCookieState | PinCookie | None:
        """A revocation-store request to answer with :meth:`send_epoch` before :meth:`next_op`.

        Only sealed cookie sessions with a revocation store ask one (in either phase).
        """
        return None

    def send_epoch(self, epoch: int | CookieState | None) -> None:
        """Feed the answer to :meth:`epoch_request`."""
        msg = "no epoch read is pending"
        raise SessionStateError(msg)

    def fail(self, error: StoreError) -> None:
        """The store failed during the request phase: apply the store-down policy.

        Nothing is raised now. ``fail_closed``: the session becomes *unavailable*; the handler
        gets the error (→ 503) only if it touches the session, and the response leaves the
        client's cookie alone (R77). ``fail_open_readonly``: the handler gets an empty,
        read-only session (event ``fail_open_readonly``); writes raise
        :class:`~sessionary.exceptions.SessionReadOnlyError`; no cookie is set either.
        """
        if self._phase != _REQUEST:
            raise error
        self._op = None
        self._phase = _READY
        codec = self._core.codec
        if self._store_down is StoreDownPolicy.FAIL_OPEN_READONLY:
            read_only = SessionReadOnlyError(
                "the session store is unavailable: this request has a read-only session"
            )
            read_only.__cause__ = error
            self._session = Session(codec, now=self.now, read_only=read_only)
            self._event(EventName.FAIL_OPEN_READONLY, reason=type(error).__name__)
            return
        self._session = Session(codec, now=self.now, error=error)

    def refuse(self, error: BaseException) -> None:
        """The request is answered 503 because the store is unavailable: event ``fail_closed``.

        Called by the shell (a failed commit) and by adapters (a handler that raised the
        load error); recorded once per request.
        """
        if not self._refused:
            self._refused = True
            self._event(EventName.FAIL_CLOSED, reason=type(error).__name__)

    @property
    def session(self) -> Session:
        """The session for the handler (available once the request phase is done)."""
        session = self._session
        if session is None or self._phase == _REQUEST:
            msg = "the session is not loaded yet: drive next_op()/send() first"
            raise SessionStateError(msg)
        return session

    def finish(self, *, failed: bool = False) -> None:
        """The handler is done: compute the writes. Further changes raise.

        ``failed``: the request failed (the handler raised, or the response is a 5xx), so
        only what security requires is committed — a logout or an explicit rotation — and
        the handler's other changes are dropped (:meth:`Session.discard_changes`).
        """
        session = self._session
        if self._phase != _READY or session is None:
            msg = "finish() must be called once, after the request phase"
            raise SessionStateError(msg)
        session.close()
        self._phase = _RESPONSE
        try:
            if session.unavailable or session.read_only:
                error = session.error
                if session.refused and error is not None:  # the handler got the load error
                    self.refuse(error)
                return
            if failed:
                session.discard_changes()
            lifecycle = self._lifecycle = session.lifecycle
            stored = self._stored
            if lifecycle.auth_changed and stored is not None and self._generation > 0:
                # Found under a retired key and re-authenticated: the deadline restarts, so
                # move the session to the newest key (a new record; the old one ends first,
                # so a failure in between signs the user out rather than keeping the old ID).
                self._rekey = True
            if (lifecycle.destroy_loaded or self._rekey) and stored is not None:
                self._step = _STEP_DESTROY
                self._op = Destroy(self._key, self._digest, stored.meta.user_key)
                return
            self._plan_write(session, lifecycle)
        finally:
            if self._op is None:
                self._phase = _DONE

    def late_op(self) -> Destroy | None:
        """After the response was sent: the destroy a late :meth:`Session.logout` asked for.

        A logout called while a streaming response was already on its way cannot clear the
        cookie any more, but the stored session still ends. Drive the returned operation with
        :meth:`send` like the others (``None``: nothing to do).
        """
        session = self._session
        stored = self._stored
        if self._phase != _DONE or session is None or not session.late_destroy:
            return None
        if stored is None or self._step == _STEP_LATE:
            return None
        self._step = _STEP_LATE
        self._phase = _RESPONSE
        self._op = Destroy(self._key, self._digest, stored.meta.user_key)
        return self._op

    def _late_destroyed(self, deleted: bool) -> None:
        stored = self._stored
        assert stored is not None
        if deleted:
            self._event(EventName.DESTROYED, user=stored.meta.user, late=True)

    def response(self) -> ResponseUpdate:
        """The headers the response must carry (after the response phase)."""
        if self._phase != _DONE:
            msg = "response() is available after finish() and its operations"
            raise SessionStateError(msg)
        core = self._core
        config = core.config
        session = self._session
        if self._set_cookie is not None:
            token, deadline = self._set_cookie
            if core.header_mode:
                return self._header_update(token.value)
            max_age = (
                cookie_max_age_s(now=self.now, deadline=deadline, cap_s=config.max_cookie_age_s)
                if config.cookie.persistent
                else None
            )
            cookie = render_set_cookie(config.cookie, token.value, max_age)
            return ResponseUpdate(cookie, vary_cookie=True, no_store=True)
        if self._clear_cookie:
            if core.header_mode:
                return self._header_update("")
            return ResponseUpdate(
                render_clear_cookie(config.cookie), vary_cookie=True, no_store=True
            )
        private = self._private  # a CSRF token was issued: never kept by a shared cache
        if private or (session is not None and session.accessed):
            vary = core.vary
            return replace(vary, no_store=True) if private else vary
        return _NOTHING

    def _header_update(self, value: str) -> ResponseUpdate:
        config = self._core.config
        return ResponseUpdate(
            vary_cookie=True,
            no_store=True,
            vary_name=config.token_header,
            token_header=(config.response_token_header, value),
        )

    @property
    def loaded_id(self) -> str | None:
        """The client's ID when it named a live session (after the request phase)."""
        if self._stored is None or self._token is None:
            return None
        return self._token.value

    @property
    def issued_id(self) -> str | None:
        """The ID the response hands out (created or rotated), once the commit is done.

        For adapters whose framework renders the cookie itself (Django's test tooling) and
        for header transports; ``None`` when the response keeps or clears the client's ID.
        """
        if self._phase != _DONE or self._set_cookie is None:
            return None
        return self._set_cookie[0].value

    @property
    def ended(self) -> bool:
        """Whether the response tells the client to forget its ID (after the commit)."""
        return self._phase == _DONE and self._set_cookie is None and self._clear_cookie

    def csrf_binding(self, *, create: bool = True) -> bytes | None:
        """What this session's CSRF secret is bound to (:mod:`sessionary.sansio.csrf`).

        The session's ID, which changes on every rotation (login, ``rotate()``): a token
        issued after :meth:`Session.login` or :meth:`Session.rotate` in this request is bound
        to the ID the commit will give. A visitor without a session is bound to a
        *pre-session ID* (:mod:`sessionary.sansio.presession`: the one its cookie carries, or
        one minted now and sent in the cookie at commit) without any store record (R70);
        with ``create=False`` it gets ``None`` instead of a new one.
        """
        session = self._session
        pending = session.lifecycle if session is not None and not session.unavailable else None
        if self._stored is not None and self._token is not None and session is not None:
            if not session.is_new and pending is not None and pending.rotate:
                return self._bind(self._next(rotate_token(self._token)))
            if not session.is_new:
                return self._bind(self._token)
        if pending is not None and pending.auth_changed:
            return self._bind(self._next(mint_token()))  # a login creates a new session
        if self._pre is None:
            if not create:
                return None
            self._pre = mint_token()
            self._pre_minted = True
        return self._bind(self._pre)

    def _next(self, fresh: SessionToken) -> SessionToken:
        if self._next_token is None:
            self._next_token = fresh
        return self._next_token

    @staticmethod
    def _bind(token: SessionToken) -> bytes:
        return b"id:" + token.value.encode("ascii")

    def mark_private(self) -> None:
        """The response carries this session's secret material (a CSRF token).

        It then gets ``Vary`` on the session and ``Cache-Control: no-store``, even when the
        session is neither written nor read.
        """
        self._private = True

    def drain_events(self) -> list[SessionEvent]:
        """Lifecycle events produced so far (each is returned once)."""
        events, self._events = self._events, []
        return events

    # ------------------------------------------------------------------ request phase
    def _read_token(self, header_values: Iterable[str]) -> SessionToken | None:
        core = self._core
        config = core.config
        if core.header_mode:
            read = read_header_token(
                header_values,
                authorization=core.authorization,
                max_length=config.max_raw_id_length,
            )
        else:
            read = read_cookie(header_values, config.cookie.name, config.max_raw_id_length)
        status = read.status
        if status is CookieReadStatus.ABSENT:
            return None
        if status is CookieReadStatus.CONFLICT:
            self._clear_cookie = True
            self._event(EventName.DUPLICATE_COOKIE, reason="differing values")
            return None
        token = parse_token(read.value) if status is CookieReadStatus.PRESENT else None
        if token is None and status is CookieReadStatus.PRESENT:
            self._pre = parse_presession(read.value, core.presession_keys)
            if self._pre is not None:
                return None  # a pre-session ID: no record to look up (no store call)
        if token is None:
            self._clear_cookie = True
            self._event(EventName.INVALID_ID, reason="malformed")
        return token

    def _load_op(self, generation: int) -> Load:
        token = self._token
        assert token is not None
        core = self._core
        keyring = core.keyring
        config = core.config
        self._generation = generation
        self._key = keyring.storage_key(token.selector, generation, self._tenant)
        self._digest = keyring.validator_digest(token.validator, generation)
        return Load(
            key=self._key,
            digest=self._digest,
            now=self.now,
            max_idle=config.idle_timeout_ms,
            touch_after=config.touch_interval_ms,
            linger=core.linger,
        )

    def _loaded(self, result: LoadResult) -> None:
        status = result.status
        no_record = status is LoadStatus.MISSING or status is LoadStatus.INVALID
        if no_record and self._generation + 1 < len(self._core.keyring):
            # An older key of the ring? Asked after a validator mismatch too, so that a dead
            # ID costs the same whether its record still lives or not (no liveness oracle).
            self._mismatch = self._mismatch or status is LoadStatus.INVALID
            self._op = self._load_op(self._generation + 1)
            return
        if status is LoadStatus.MISSING and self._mismatch:
            status = LoadStatus.INVALID
        self._phase = _READY
        record = result.record
        if status is LoadStatus.CORRUPT:
            self._corrupt(result.reason or "not a session record")
            return
        verdict: LoadStatus | str | None = status
        if status is LoadStatus.FOUND and record is not None:
            verdict = self._verify(record)
            if verdict is _FORGED:
                self._corrupt("unauthenticated record")
                return
            if verdict is LoadStatus.FOUND:
                self._accept(record)
                return
        self._no_session(verdict, record, result.reason)

    def _no_session(
        self, verdict: LoadStatus | str | None, record: StoredSession | None, ended: str | None
    ) -> None:
        """The presented ID gives no session: anonymous, with the event saying why."""
        reason = _END_REASONS.get(verdict) if verdict is not LoadStatus.ENDED else ended
        self._session = Session(self._core.codec, now=self.now, end_reason=reason)
        if verdict is LoadStatus.ENDED:
            self._clear_cookie = True
            if reason in _EXPIRY_REASONS:  # a tombstone the expiry sweeper left
                self._event(EventName(reason))
            else:
                name = EventName.EVICTED if reason == "evicted" else EventName.REVOKED
                self._event(name, reason=reason or "ended")
        elif verdict is _REVOKED:
            self._clear_cookie = True
            assert record is not None
            self._event(EventName.REVOKED, user=record.meta.user, reason="user epoch")
        elif verdict is LoadStatus.MISSING or verdict is LoadStatus.INVALID:
            # Unknown, or a stale ID racing a rotation in another tab: anonymous, and the
            # cookie is left alone (the newer cookie in the browser must not be clobbered).
            # Both answer alike, so an old ID does not tell whether its session still lives;
            # only the event, on the server, says which.
            reason = "unknown" if verdict is LoadStatus.MISSING else "validator mismatch"
            self._event(EventName.INVALID_ID, reason=reason)
        elif verdict is None:
            self._clear_cookie = True
            self._event(EventName.INVALID_ID, reason="oversize record")
        else:
            self._clear_cookie = True
            name = (
                EventName.EXPIRED_IDLE
                if verdict is LoadStatus.EXPIRED_IDLE
                else EventName.EXPIRED_ABSOLUTE
            )
            self._event(name, user=record.meta.user if record is not None else None)

    def _accept(self, record: StoredSession) -> None:
        """Hand the verified record to the handler, or refuse it as corrupt."""
        core = self._core
        values: Mapping[str, bytes] | None = record.attributes
        if core.at_rest is not None:
            values = core.at_rest.open(self._key, record.attributes)
            if values is None:
                self._corrupt("undecryptable value")
                return
        meta = record.meta
        try:
            session = Session(
                core.codec,
                values,
                now=self.now,
                is_new=False,
                user_id=meta.user,
                auth_time=meta.auth_time,
                ref=partial(core.keyring.session_ref, self._key),
            )
        except DecodeError:
            self._corrupt("undecodable value")
            return
        self._stored = record
        self._session = session
        if meta.user is not None and core.binding is not ClientBinding.OFF:
            self._check_client(meta.device)

    def _corrupt(self, reason: str) -> None:
        """The key holds a corrupt or forged record: anonymous, and the record is deleted.

        Never served, never kept: the client's cookie is cleared, a ``corrupt_record`` alert
        is emitted and the shell is asked to :class:`~sessionary.sansio.ops.Discard` it.
        """
        self._session = Session(self._core.codec, now=self.now)
        self._clear_cookie = True
        self._event(EventName.CORRUPT_RECORD, reason=reason)
        self._phase = _REQUEST
        self._step = _STEP_DISCARD
        self._op = Discard(self._key)

    def _seal_of(self, meta: RecordMeta, attributes: Mapping[str, bytes]) -> bytes:
        """The MAC a record with this metadata and these stored attributes must carry."""
        return record_seal(
            self._core.record_keys[self._generation],
            self._key,
            version=meta.version,
            digest=meta.digest,
            created=meta.created,
            idle=meta.idle,
            deadline=meta.deadline,
            user=meta.user,
            auth_time=meta.auth_time,
            user_key=meta.user_key,
            device=meta.device,
            attributes=attributes,
        )

    def _authentic(self, record: StoredSession) -> bool:
        return seal_matches(self._seal_of(record.meta, record.attributes), record.meta.seal)

    def _check_client(self, recorded: bytes | None) -> None:
        """Compare the request with the client that logged in (``client_binding``, R81)."""
        core = self._core
        login = decode_device(recorded)
        fields = core.config.client_binding_fields
        differ = []
        if "user_agent" in fields and login.user_agent is not None:
            current = (self._user_agent or "")[:MAX_USER_AGENT_LENGTH]
            if current != login.user_agent:
                differ.append("user_agent")
        if "client" in fields and login.client_hash is not None:
            client = self._client
            # Recorded under the ring of the login: recognised under any of its secrets.
            if not client or not core.keyring.fingerprint_matches(
                "client:" + client, login.client_hash
            ):
                differ.append("client")
        if not differ:
            return
        session = self._session
        assert session is not None
        enforce = core.binding is ClientBinding.ENFORCE
        self._event(EventName.CLIENT_MISMATCH, user=session.user_id, fields=differ, ended=enforce)
        if enforce:
            session.logout()  # destroyed at commit; the handler sees an anonymous session

    def _verify(self, record: StoredSession) -> LoadStatus | str | None:
        """Re-check what the store checked: the core, not the store, is the authority.

        ``INVALID`` for another validator; ``_FORGED`` when the record fails authentication
        (:mod:`sessionary.sansio.record_auth`); otherwise :meth:`_judge`'s verdict.
        """
        if not KeyRing.digests_equal(record.meta.digest, self._digest):
            return LoadStatus.INVALID
        if not self._authentic(record):
            return _FORGED
        return self._judge(record)

    def _judge(self, record: StoredSession) -> LoadStatus | str | None:
        """Revocation, expiry and size of an authentic record.

        ``None`` means the record is over the size limit; ``_REVOKED`` that its user's epoch
        has passed its stamp (``revoke_user``).
        """
        meta = record.meta
        if meta.user_key is not None and is_revoked(meta.stamp, record.user_epoch):
            return _REVOKED
        config = self._core.config
        now = self.now
        if meta.accessed - now > config.clock_skew_tolerance_ms:
            # Another node stamped the last access further in our future than the tolerance:
            # this node's clock lags, and it would keep sessions alive for its lag (R38).
            self._event(EventName.CLOCK_SKEW, behind_ms=meta.accessed - now)
        if now >= meta.deadline:
            return LoadStatus.EXPIRED_ABSOLUTE
        if now >= meta.accessed + min(meta.idle, config.idle_timeout_ms):
            return LoadStatus.EXPIRED_IDLE
        attributes = record.attributes
        if sum(map(len, attributes)) + sum(map(len, attributes.values())) > config.max_size:
            return None  # over the size limit (R51)
        return LoadStatus.FOUND

    # ------------------------------------------------------------------ response phase
    def _plan_write(self, session: Session, lifecycle: Lifecycle) -> None:
        """Decide the one write this response needs, if any."""
        delta = session.delta()
        if session.is_new:
            if not delta and not lifecycle.auth_changed:
                if self._pre_minted and self._pre is not None:  # a CSRF token was issued
                    value = render_presession(self._core.presession_keys[0], self._pre)
                    deadline = self.now + self._core.config.absolute_timeout_ms
                    self._set_cookie = (SessionToken(value), deadline)
                    self._clear_cookie = False
                return  # an anonymous session that stores nothing creates nothing (R7)
            self._check_size(delta.size)
            self._delta = delta
            self._step = _STEP_CREATE
            self._op = self._create_op()
            return
        if not delta and not lifecycle.rotate and not lifecycle.auth_changed:
            return  # unchanged: no write at all (the load already touched if due)
        self._check_size(delta.size)
        stored = self._stored
        token = self._token
        assert stored is not None
        assert token is not None
        digest = self._digest
        if lifecycle.rotate:
            token = self._next(rotate_token(token))
            digest = self._core.keyring.validator_digest(token.validator, self._generation)
        self._new_token = token
        self._new_digest = digest
        binding = self._binding(lifecycle) if lifecycle.auth_changed else None
        self._update_binding = binding
        self._new_deadline = binding.score if binding is not None else None
        at_rest = self._core.at_rest
        self._delta = delta
        self._outgoing = (
            delta.attributes if at_rest is None else at_rest.seal(self._key, delta.attributes)
        )
        self._step = _STEP_UPDATE
        self._op = self._update_op(stored)

    def _update_op(self, base: StoredSession) -> Update:
        """The update turning ``base`` (the record as last read) into this request's state.

        The core writes the whole record's MAC, so it merges its delta into ``base``: the
        store refuses the write (STALE) if the record is no longer at ``base``'s version.
        """
        lifecycle, delta, binding = self._lifecycle, self._delta, self._update_binding
        assert lifecycle is not None
        assert delta is not None
        attributes = self._outgoing
        merged = dict(base.attributes)
        for name in delta.delete:
            merged.pop(name, None)
        merged.update(attributes)
        auth = lifecycle.auth_changed
        meta = base.meta
        digest = meta.digest if self._joined else self._new_digest
        new_meta = RecordMeta(
            created=meta.created,
            accessed=meta.accessed,
            idle=meta.idle,
            deadline=meta.deadline if self._new_deadline is None else self._new_deadline,
            digest=digest,
            version=meta.version + 1,
            user=lifecycle.user_id if auth else meta.user,
            auth_time=lifecycle.auth_time if auth else meta.auth_time,
            user_key=meta.user_key if binding is None else binding.user_key,
            device=meta.device if binding is None or binding.device is None else binding.device,
        )
        return Update(
            key=self._key,
            expect_version=meta.version,
            digest=digest,
            nonce=secrets.token_bytes(_NONCE_BYTES),
            now=self.now,
            max_idle=self._core.config.idle_timeout_ms,
            attributes=attributes,
            delete=delta.delete,
            seal=self._seal_of(new_meta, merged),
            user=lifecycle.user_id if auth else None,
            auth_time=lifecycle.auth_time if auth else None,
            deadline=self._new_deadline,
            binding=binding,
            lock_token=self.lock_token,
            linger=self._core.linger,
        )

    def _binding(self, lifecycle: Lifecycle) -> UserBinding | None:
        """Index a login under its user; re-authentication restarts the absolute deadline."""
        user = lifecycle.user_id
        if user is None:
            return None
        core = self._core
        config = core.config
        client = self._client
        device = DeviceInfo(
            user_agent=self._user_agent,
            client_hash=core.keyring.fingerprint("client:" + client) if client else None,
        )
        return UserBinding(
            user_key=KeyRing.user_key(user, self._tenant),
            stamp=self.now,
            score=self.now + config.absolute_timeout_ms,
            device=encode_device(device),
            max_sessions=config.max_sessions_per_user,
            evict_oldest=config.session_limit is LimitPolicy.EVICT_OLDEST,
        )

    def _check_size(self, size: int) -> None:
        if size > self._core.config.max_size:
            raise SessionTooLargeError(size, self._core.config.max_size)

    def _create_op(self) -> Create:
        core = self._core
        config = core.config
        keyring = core.keyring
        lifecycle = self._lifecycle
        delta = self._delta
        assert lifecycle is not None
        assert delta is not None
        # The ID a CSRF token of this request is bound to, if any: a login's new ID, or the
        # pre-session ID (never after a login: the token rotates on login).
        chosen = self._next_token if lifecycle.auth_changed else self._pre
        token = chosen if chosen is not None and self._attempts == 0 else mint_token()
        self._new_token = token
        self._attempts += 1
        self._generation = 0
        key = self._key = keyring.storage_key(token.selector, 0, self._tenant)
        digest = keyring.validator_digest(token.validator)
        deadline = self.now + config.absolute_timeout_ms
        attributes: Mapping[str, bytes] = delta.attributes
        if core.at_rest is not None:
            attributes = core.at_rest.seal(key, delta.attributes)
        binding = self._binding(lifecycle) if lifecycle.auth_changed else None
        meta = RecordMeta(
            created=self.now,
            accessed=self.now,
            idle=config.idle_timeout_ms,
            deadline=deadline,
            digest=digest,
            version=1,
            user=lifecycle.user_id,
            auth_time=lifecycle.auth_time,
            user_key=None if binding is None else binding.user_key,
            device=None if binding is None else binding.device,
        )
        return Create(
            key=key,
            digest=digest,
            nonce=secrets.token_bytes(_NONCE_BYTES),
            now=self.now,
            idle=config.idle_timeout_ms,
            deadline=deadline,
            attributes=attributes,
            user=lifecycle.user_id,
            auth_time=lifecycle.auth_time,
            binding=binding,
            seal=self._seal_of(meta, attributes),
            linger=core.linger,
        )

    def _destroyed(self) -> None:
        stored = self._stored
        session, lifecycle = self._session, self._lifecycle
        assert stored is not None
        assert session is not None
        assert lifecycle is not None
        self._clear_cookie = True
        if self._rekey:  # the same session under the newest key: a new record with it all
            delta = self._delta = session.encoded()
            self._check_size(delta.size)
            self._step = _STEP_CREATE
            self._op = self._create_op()
            return
        self._event(EventName.DESTROYED, user=stored.meta.user)
        self._plan_write(session, lifecycle)  # a new session, if the handler wrote after logout

    def _created(self, result: CommitResult) -> None:
        token = self._new_token
        assert token is not None
        status = result.status
        if status is CommitStatus.OK:
            self._token = token
            self._digest = self._core.keyring.validator_digest(token.validator)
            self._set_cookie = (token, self.now + self._core.config.absolute_timeout_ms)
            self._clear_cookie = False
            user = self._lifecycle.user_id if self._lifecycle is not None else None
            if self._rekey:
                self._event(EventName.ROTATED, user=user, rekeyed=True)
            else:
                self._event(EventName.CREATED, user=user)
            self._report_evictions(result, user)
            return
        if status is CommitStatus.LIMIT:
            self._refuse_limit()
        if self._attempts >= _CREATE_ATTEMPTS:
            msg = "could not allocate a fresh session key (store reports every key as taken)"
            raise StoreError(msg)
        self._op = self._create_op()  # the key is taken: retry with a fresh ID

    def _updated(self, result: CommitResult) -> None:
        status = result.status
        lifecycle = self._lifecycle
        assert lifecycle is not None
        if status is CommitStatus.STALE:
            self._merge(result.current)
            return
        if status is CommitStatus.OK:
            if self._conflicts:
                self._event(EventName.CONFLICT, fields=list(self._conflicts), applied="ok")
            if self._joined:
                # Another request of the same user rotated the ID meanwhile: this write went
                # to the rotated record, whose new cookie that request's response carries.
                self._event(EventName.ROTATION_JOINED, user=lifecycle.user_id)
            elif lifecycle.rotate:
                token, stored = self._new_token, self._stored
                assert token is not None
                assert stored is not None
                self._token = token
                self._digest = self._new_digest
                self._set_cookie = (token, self._new_deadline or stored.meta.deadline)
                self._event(EventName.ROTATED, user=lifecycle.user_id)
            self._report_evictions(result, lifecycle.user_id)
            return
        if status is CommitStatus.LIMIT:
            self._refuse_limit()
        if status is CommitStatus.LOCK_LOST:
            msg = "the session lock expired before the commit; nothing was written"
            raise LockLostError(msg)
        # GONE: destroyed or expired meanwhile — never resurrect it; the cookie is dead.
        self._clear_cookie = True
        self._event(EventName.COMMIT_REFUSED, reason=status.value)

    def _merge(self, current: StoredSession | None) -> None:
        """Another request wrote the record since it was read: merge this delta and retry.

        Disjoint writes never conflict; fields this request read and wrote are checked
        against what it read (the conflict policy decides); a rotation of the ID by another
        request of the same signed-in (or anonymous) user is joined, its writes carried
        over; a login that lost to another login or a change of user fails visibly
        (:class:`~sessionary.exceptions.SessionRotatedError`).
        """
        lifecycle, stored, delta = self._lifecycle, self._stored, self._delta
        assert lifecycle is not None
        assert stored is not None
        assert delta is not None
        self._attempts += 1
        if current is None:
            msg = "the store refused an update as stale without returning the record"
            raise StoreError(msg)
        if not self._authentic(current):
            self._clear_cookie = True
            self._event(EventName.CORRUPT_RECORD, reason="unauthenticated record")
            self._step = _STEP_DISCARD
            self._op = Discard(self._key)
            return
        if not KeyRing.digests_equal(current.meta.digest, self._digest):
            if lifecycle.auth_changed or current.meta.user != stored.meta.user:
                self._event(EventName.COMMIT_REFUSED, reason="rotated")
                raise SessionRotatedError
            self._joined = True
        read = stored.attributes  # compare-and-set against the bytes this request read
        conflicts = tuple(
            name
            for name, value in delta.expected.items()
            if current.attributes.get(name) != (None if value is None else read.get(name))
        )
        if conflicts and self._core.strict:
            self._event(EventName.CONFLICT, fields=list(conflicts), applied="conflict")
            raise StoreConflictError(conflicts)
        self._conflicts = conflicts
        if self._attempts > _UPDATE_ATTEMPTS:
            msg = f"the session changed under {_UPDATE_ATTEMPTS} attempts to write it"
            raise StoreConflictError((), msg)
        self._op = self._update_op(current)

    def _report_evictions(self, result: CommitResult, user: str | None) -> None:
        keyring = self._core.keyring
        for key in result.evicted:
            self._event(EventName.EVICTED, user=user, ref=keyring.session_ref(key))

    def _refuse_limit(self) -> None:
        limit = self._core.config.max_sessions_per_user
        self._event(EventName.COMMIT_REFUSED, reason="session limit")
        raise SessionLimitError(limit or 0)

    # ------------------------------------------------------------------ helpers
    def _event(self, name: EventName, user: str | None = None, **detail: Any) -> None:
        token = self._token
        fingerprint = self._core.keyring.fingerprint(token.selector) if token is not None else None
        if self._client is not None and name in _CLIENT_EVENTS:
            detail["client"] = self._client  # for brute-force detection and rate limits (R26)
        self._events.append(SessionEvent(name, self.now, fingerprint, user, detail))
