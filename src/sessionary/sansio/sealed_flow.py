"""The sealed-cookie storage mode: the whole session in its cookie (``CookieStore``).

A :class:`SealedFlow` is what a :class:`~sessionary.sansio.cycle.SessionCycle` follows when
its core is in the sealed mode (:class:`~sessionary.sansio.modes.SealedMode`): the request
phase opens the sealed cookie, the response phase seals a new one. Without a revocation
store it never asks the shell for an operation; with one, the two it asks are ordinary
operations (:class:`~sessionary.sansio.cookie_state.ReadCookieState`,
:class:`~sessionary.sansio.cookie_state.PinCookie`). Adapters and managers drive it exactly
like the server-side flow, so every adapter gets the cookie store through the same API.

Opening follows R19-R26 and R53-R58 (docs/security.md): the raw value is capped first (4096 B,
name included, R20), then strictly base64url-decoded, the version byte checked, the box opened under
each key of the ring, and the payload parsed with exact bounds. Any failure at any step gives
the same outcome: an anonymous session, a clearing ``Set-Cookie`` and one ``invalid_id``
event with reason ``"unreadable"`` (R58). Expiry is judged from the sealed ``exp`` and
``last_seen`` (R54), never from cookie attributes.

Writing: an unchanged session is not re-sealed unless its sliding expiry is due or it was
opened with an older key or from a legacy box (then it is re-sealed under the newest key, in
the current box version). The new cookie must fit
4096 bytes with its name (R13); otherwise :class:`~sessionary.exceptions.CookieTooLargeError`
is raised and no ``Set-Cookie`` is sent, so the client keeps its previous cookie.

Without a server-side record, nothing revokes a copy of the cookie: a copy taken before a
logout, a login, a rotation or any write stays valid until its idle or absolute timeout, and
replaying an older cookie rolls the session back to that state (R55; see
``docs/security.md``). With a revocation store (``CookieStore(revocation=...)``) every cookie
carries its session's random ID and a *pin* (:mod:`sessionary.sansio.cookie_state`):

* each request carrying a cookie asks for one read (``ReadCookieState``): the session's
  floor and, for an authenticated cookie, its user's epoch, together;
* a login, ``reauthenticate()``, ``rotate()`` or ``elevate()`` raises the floor to the new
  cookie's pin, so every earlier copy is anonymous from then on (a write that must not be
  rolled back calls ``session.rotate()``); a logout ends the session's floor for good;
* a cookie sealed at a login older than the user's epoch is anonymous: ``revoke_user``
  ("log out everywhere") reaches cookie sessions.

Writes without a rotation do not raise the floor: a copy taken after the last rotation can
still bring back the state it holds.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sessionary.exceptions import (
    CookieTooLargeError,
    DecodeError,
    SessionStateError,
    SessionTooLargeError,
)
from sessionary.sansio.cookie_state import (
    PIN_ENDED,
    CookieState,
    PinCookie,
    ReadCookieState,
    is_superseded,
)
from sessionary.sansio.cookies import MAX_COOKIE_BYTES, CookieReadStatus, read_cookie
from sessionary.sansio.events import EventName
from sessionary.sansio.ids import SessionToken
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.ops import Operation, PinResult, Result
from sessionary.sansio.sealed import (
    CSRF_BINDING_BYTES,
    SID_BYTES,
    SealedPayload,
    aad,
    b64_decode,
    b64_encode,
    decode_payload,
    encode_payload,
    is_current,
    session_id,
)
from sessionary.sansio.session import Session
from sessionary.sansio.users import is_revoked

if TYPE_CHECKING:
    from sessionary.sansio.request import RequestState
    from sessionary.sansio.sealed import Sealer

__all__ = ["SEAL_PURPOSE", "SealedFlow", "cookie_aad"]

SEAL_PURPOSE = "session"


def cookie_aad(cookie_name: str, tenant: str) -> bytes:
    """The AAD of a sealed session cookie: its name, its purpose and its tenant."""
    return aad(b"sessionary/sealed-cookie/v1", cookie_name, SEAL_PURPOSE, tenant)


class SealedFlow:
    """One request's session carried in a sealed cookie. See the module docstring."""

    __slots__ = ("_aad", "_csrf_premint", "_payload", "_reseal", "_revocation", "_sealer", "_state")

    def __init__(self, state: RequestState, sealer: Sealer, *, revocation: bool) -> None:
        self._state = state
        self._sealer = sealer
        self._revocation = revocation
        """Whether a revocation store checks each cookie (floors, user epochs)."""
        self._payload: SealedPayload | None = None
        self._reseal = False
        self._csrf_premint: bytes | None = None
        self._aad = cookie_aad(state.core.config.cookie.name, state.tenant)

    # ------------------------------------------------------------------ request phase
    def start(
        self, cookie_headers: Iterable[str], token_headers: Iterable[str]
    ) -> ReadCookieState | None:
        """Open the presented cookie: the revocation store's read, or ``None`` (no I/O)."""
        del token_headers  # the sealed mode is cookie-only (checked by the mode)
        state = self._state
        state.session = Session(state.core.codec, now=state.now)  # until a cookie opens
        value = self._read_value(cookie_headers)
        return None if value is None else self._open(value)

    def _read_value(self, cookie_headers: Iterable[str]) -> str | None:
        state = self._state
        name = state.core.config.cookie.name
        read = read_cookie(cookie_headers, name, MAX_COOKIE_BYTES - len(name))
        status = read.status
        if status is CookieReadStatus.ABSENT:
            return None
        if status is CookieReadStatus.PRESENT:
            return read.value
        state.clear_cookie = True
        if status is CookieReadStatus.CONFLICT:
            state.event(EventName.DUPLICATE_COOKIE, reason="differing values")
        else:
            state.event(EventName.INVALID_ID, reason="unreadable")
        return None

    def _open(self, value: str) -> ReadCookieState | None:
        state = self._state
        core = state.core
        box = b64_decode(value)
        if box is not None:  # base64url: ASCII, safe to fingerprint in events
            state.token = SessionToken(value)
        payload = self._unseal(box) if box is not None else None
        if payload is None:
            state.clear_cookie = True
            state.event(EventName.INVALID_ID, reason="unreadable")
            return None
        now = state.now
        ahead = max(payload.iat, payload.last_seen) - now
        if ahead > core.config.clock_skew_tolerance_ms:
            # Sealed by a node whose clock runs ahead (or forged with a future time): judged
            # by this node's clock it would live longer than its deadlines allow (R38).
            state.clear_cookie = True
            state.event(EventName.CLOCK_SKEW, ahead_ms=ahead, refused=True)
            return None
        expired: EventName | None = None
        if now >= payload.exp:
            expired = EventName.EXPIRED_ABSOLUTE
        elif now >= payload.last_seen + core.config.idle_timeout_ms:
            expired = EventName.EXPIRED_IDLE
        if expired is not None:
            state.clear_cookie = True
            state.session = Session(core.codec, now=now, end_reason=expired.value)
            state.event(expired, user=payload.user)
            return None
        self._payload = payload
        if self._revocation:
            # The session's floor (rollback, logout) and its user's epoch: one read.
            user = payload.user
            state.session = None
            return ReadCookieState(
                KeyRing.cookie_key(session_id(payload), state.tenant),
                None if user is None else KeyRing.user_key(user, state.tenant),
                now,
            )
        self._admit(payload)
        return None

    def _admit(self, payload: SealedPayload) -> None:
        state = self._state
        try:
            state.session = Session(
                state.core.codec,
                payload.attributes,
                now=state.now,
                is_new=False,
                user_id=payload.user,
                auth_time=payload.auth_time,
            )
        except DecodeError:  # authentic but a value does not decode: anonymous, as R58
            self._payload = None
            state.session = Session(state.core.codec, now=state.now)
            state.clear_cookie = True
            state.event(EventName.INVALID_ID, reason="unreadable")

    def on_request(self, result: Result) -> Operation | None:
        """The revocation store's read (the only request-phase operation of this mode)."""
        match result:
            case CookieState():
                self.read(result)
                return None
        msg = f"unexpected {type(result).__name__} in the request phase"
        raise SessionStateError(msg)

    def on_response(self, result: Result, session: Session) -> Operation | None:
        """The pin's outcome (the only response-phase operation of this mode)."""
        del session
        match result:
            case PinResult():
                return None
        msg = f"unexpected {type(result).__name__} in the response phase"
        raise SessionStateError(msg)

    @staticmethod
    def late_op(session: Session) -> Operation | None:
        """Nothing: a sealed session cannot be ended once its cookie is out."""
        del session
        return None

    @property
    def loaded_id(self) -> str | None:
        """Always ``None``: a sealed session has no server-side ID."""
        return None

    @property
    def loaded_deadline(self) -> int | None:
        """Always ``None``: a sealed session is never handed out by a migration."""
        return None

    def read(self, found: CookieState) -> None:
        """The revocation store's answer: admit the cookie's session, or refuse it.

        Refused when its login predates the user's epoch, its session was logged out, or a
        later rotation superseded it (a copy, or a rollback).
        """
        state, payload = self._state, self._payload
        assert payload is not None
        if payload.user is not None and is_revoked(payload.stamp, found.epoch):
            self._refuse_cookie("revoked", clear=True)
            state.event(EventName.REVOKED, user=payload.user, reason="user epoch")
        elif found.floor is not None and found.floor >= PIN_ENDED:
            self._refuse_cookie(None, clear=True)
            state.event(EventName.INVALID_ID, reason="logged out")
        elif is_superseded(payload.pin, found.floor):
            # A copy from before a rotation: a rollback, or a request racing the rotation in
            # another tab; the cookie is left alone so a newer one in the browser survives.
            self._refuse_cookie(None, clear=False)
            state.event(EventName.INVALID_ID, reason="superseded")
        else:
            self._admit(payload)

    def _refuse_cookie(self, end_reason: str | None, *, clear: bool) -> None:
        state = self._state
        self._payload = None
        state.session = Session(state.core.codec, now=state.now, end_reason=end_reason)
        state.clear_cookie = clear

    def _unseal(self, box: bytes) -> SealedPayload | None:
        config = self._state.core.config
        opened = self._sealer.open(box, self._aad)
        if opened is None:
            return None
        plaintext, generation = opened
        try:
            payload = decode_payload(plaintext)
        except DecodeError:
            return None  # authentic but unparsable: only a bug could produce it; still anonymous
        size = sum(map(len, payload.attributes)) + sum(map(len, payload.attributes.values()))
        if size > config.max_size:
            return None
        self._reseal = generation > 0 or not is_current(box)  # older key or legacy box
        return payload

    # ------------------------------------------------------------------ response phase
    def plan(self, session: Session) -> PinCookie | None:
        """Seal the new cookie if anything must be written; the pin to write first, if any."""
        state = self._state
        lifecycle = session.lifecycle
        delta = session.delta()
        loaded = self._payload
        destroyed = lifecycle.destroy_loaded and loaded is not None
        attributes = dict(loaded.attributes) if loaded is not None and not destroyed else {}
        attributes.update(delta.attributes)
        for name in delta.delete:
            attributes.pop(name, None)
        now = state.now
        config = state.core.config
        pin_op: PinCookie | None = None
        if destroyed and loaded is not None:
            state.clear_cookie = True
            state.event(EventName.DESTROYED, user=loaded.user)
            pin_op = self._pin(loaded, PIN_ENDED)  # every copy of the session dies with it
        if session.is_new or loaded is None:
            premint = self._csrf_premint
            if not delta and not lifecycle.auth_changed and premint is None:
                return pin_op  # nothing to store: no cookie (R7)
            if premint is None or lifecycle.auth_changed:
                premint = secrets.token_bytes(CSRF_BINDING_BYTES)
            payload = SealedPayload(
                iat=now,
                exp=now + config.absolute_timeout_ms,
                last_seen=now,
                csrf=premint,
                attributes=attributes,
                user=lifecycle.user_id,
                auth_time=lifecycle.auth_time,
                stamp=now if lifecycle.auth_changed else None,
                sid=secrets.token_bytes(SID_BYTES),
                pin=now,
            )
            event: EventName | None = EventName.CREATED
        else:
            touch_due = now - loaded.last_seen >= config.touch_interval_ms
            changed = delta or lifecycle.rotate or lifecycle.auth_changed or self._reseal
            if not changed and not touch_due:
                return None  # unchanged and no sliding refresh due: no Set-Cookie (R31)
            auth = lifecycle.auth_changed
            # A login or a rotation supersedes every earlier cookie of the session.
            pinned = lifecycle.rotate or auth
            pin = max(now, loaded.pin + 1) if pinned else loaded.pin
            payload = SealedPayload(
                iat=loaded.iat,
                # Only a (re-)authentication restarts the absolute deadline (R39).
                exp=now + config.absolute_timeout_ms if auth else loaded.exp,
                last_seen=now,
                csrf=secrets.token_bytes(CSRF_BINDING_BYTES) if lifecycle.rotate else loaded.csrf,
                attributes=attributes,
                user=lifecycle.user_id if auth else loaded.user,
                auth_time=lifecycle.auth_time if auth else loaded.auth_time,
                stamp=now if auth else loaded.stamp,
                sid=session_id(loaded),
                pin=pin,
            )
            event = EventName.ROTATED if lifecycle.rotate else None
            if pinned:
                pin_op = self._pin(loaded, pin)
        self._seal(payload, event)
        return pin_op

    def _pin(self, loaded: SealedPayload, floor: int) -> PinCookie | None:
        """With a revocation store: refuse the session's cookies pinned before ``floor``."""
        if not self._revocation:
            return None
        state = self._state
        config = state.core.config
        return PinCookie(
            KeyRing.cookie_key(session_id(loaded), state.tenant),
            floor,
            state.now,
            # Every cookie the floor can refuse expires within one absolute timeout.
            config.absolute_timeout_ms + config.clock_skew_tolerance_ms,
        )

    def _seal(self, payload: SealedPayload, event: EventName | None) -> None:
        state = self._state
        config = state.core.config
        size = sum(map(len, payload.attributes)) + sum(map(len, payload.attributes.values()))
        if size > config.max_size:
            raise SessionTooLargeError(size, config.max_size)
        value = b64_encode(self._sealer.seal(encode_payload(payload), self._aad))
        cookie_size = len(config.cookie.name) + len(value)
        if cookie_size > MAX_COOKIE_BYTES:
            raise CookieTooLargeError(cookie_size, MAX_COOKIE_BYTES)
        self._payload = payload
        state.set_cookie = (SessionToken(value), payload.exp)
        state.clear_cookie = False
        if event is not None:
            state.token = SessionToken(value)
            state.event(event, user=payload.user)

    def csrf_binding(self, *, create: bool, committed: bool) -> bytes | None:
        """The random value in the sealed payload this session's CSRF tokens are bound to.

        Replaced on login and rotation. A visitor without a session gets one minted now; the
        session cookie is then sealed at commit (a pre-session token, R70). ``committed``:
        the response phase has begun (the payload is the one being sent).
        """
        payload = self._payload
        session = self._state.session
        live = committed or (session is not None and not session.is_new)
        if payload is not None and live:
            return b"sealed:" + payload.csrf
        if self._csrf_premint is None:
            if not create:
                return None
            self._csrf_premint = secrets.token_bytes(CSRF_BINDING_BYTES)
        return b"sealed:" + self._csrf_premint
