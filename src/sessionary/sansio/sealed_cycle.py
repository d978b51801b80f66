"""The client-side cycle: the whole session sealed in its cookie (:class:`~sessionary.CookieStore`).

A :class:`SealedCycle` is a :class:`~sessionary.sansio.cycle.SessionCycle` that never asks the
shell for an operation: the request phase opens the sealed cookie, the response phase seals
a new one. Adapters and managers drive it exactly like the server-side cycle (``next_op()``
is always ``None``), so every adapter gets the cookie store through the same manager API.

Opening follows SECURITY.md §C and §H: the raw value is capped first (4096 bytes with the
name, R20), then strictly base64url-decoded, the version byte checked, the box opened under
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

* each request carrying a cookie asks for one read (:meth:`SealedCycle.epoch_request`): the
  session's floor and, for an authenticated cookie, its user's epoch, together;
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
    SessionTooLargeError,
    StoreError,
)
from sessionary.sansio.cookie_state import (
    PIN_ENDED,
    CookieState,
    PinCookie,
    ReadCookieState,
    is_superseded,
)
from sessionary.sansio.cookies import MAX_COOKIE_BYTES, CookieReadStatus, read_cookie
from sessionary.sansio.cycle import _DONE, _READY, _REQUEST, _RESPONSE, SessionCycle
from sessionary.sansio.events import EventName
from sessionary.sansio.ids import SessionToken
from sessionary.sansio.keys import KeyRing
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
    from sessionary.sansio.cycle import SessionCore

__all__ = ["SEAL_PURPOSE", "SealedCycle", "cookie_aad"]

SEAL_PURPOSE = "session"


def cookie_aad(cookie_name: str, tenant: str) -> bytes:
    """The AAD of a sealed session cookie: its name, its purpose and its tenant."""
    return aad(b"sessionary/sealed-cookie/v1", cookie_name, SEAL_PURPOSE, tenant)


class SealedCycle(SessionCycle):
    """One request's session, carried in a sealed cookie. See the module docstring."""

    __slots__ = ("_aad", "_csrf_premint", "_payload", "_reseal", "_side_op")

    def __init__(
        self,
        core: SessionCore,
        cookie_headers: Iterable[str],
        *,
        client: str | None = None,
        tenant: str = "",
    ) -> None:
        super().__init__(core, (), client=client, tenant=tenant)  # anonymous, no operation
        self._payload: SealedPayload | None = None
        self._reseal = False
        self._csrf_premint: bytes | None = None
        self._side_op: ReadCookieState | PinCookie | None = None
        self._aad = cookie_aad(core.config.cookie.name, tenant)
        value = self._read_value(cookie_headers)
        if value is not None:
            self._open(value)

    # ------------------------------------------------------------------ request phase
    def _read_value(self, cookie_headers: Iterable[str]) -> str | None:
        name = self._core.config.cookie.name
        read = read_cookie(cookie_headers, name, MAX_COOKIE_BYTES - len(name))
        status = read.status
        if status is CookieReadStatus.ABSENT:
            return None
        if status is CookieReadStatus.PRESENT:
            return read.value
        self._clear_cookie = True
        if status is CookieReadStatus.CONFLICT:
            self._event(EventName.DUPLICATE_COOKIE, reason="differing values")
        else:
            self._event(EventName.INVALID_ID, reason="unreadable")
        return None

    def _open(self, value: str) -> None:
        core = self._core
        box = b64_decode(value)
        if box is not None:  # base64url: ASCII, safe to fingerprint in events
            self._token = SessionToken(value)
        payload = self._unseal(box) if box is not None else None
        if payload is None:
            self._clear_cookie = True
            self._event(EventName.INVALID_ID, reason="unreadable")
            return
        now = self.now
        ahead = max(payload.iat, payload.last_seen) - now
        if ahead > core.config.clock_skew_tolerance_ms:
            # Sealed by a node whose clock runs ahead (or forged with a future time): judged
            # by this node's clock it would live longer than its deadlines allow (R38).
            self._clear_cookie = True
            self._event(EventName.CLOCK_SKEW, ahead_ms=ahead, refused=True)
            return
        expired: EventName | None = None
        if now >= payload.exp:
            expired = EventName.EXPIRED_ABSOLUTE
        elif now >= payload.last_seen + core.config.idle_timeout_ms:
            expired = EventName.EXPIRED_IDLE
        if expired is not None:
            self._clear_cookie = True
            self._session = Session(core.codec, now=now, end_reason=expired.value)
            self._event(expired, user=payload.user)
            return
        self._payload = payload
        if core.revocation:
            # The session's floor (rollback, logout) and its user's epoch: one read.
            user = payload.user
            self._session = None
            self._phase = _REQUEST
            self._side_op = ReadCookieState(
                KeyRing.cookie_key(session_id(payload), self._tenant),
                None if user is None else KeyRing.user_key(user, self._tenant),
                now,
            )
            return
        self._admit(payload)

    def _admit(self, payload: SealedPayload) -> None:
        try:
            self._session = Session(
                self._core.codec,
                payload.attributes,
                now=self.now,
                is_new=False,
                user_id=payload.user,
                auth_time=payload.auth_time,
            )
        except DecodeError:  # authentic but a value does not decode: anonymous, as R58
            self._payload = None
            self._session = Session(self._core.codec, now=self.now)
            self._clear_cookie = True
            self._event(EventName.INVALID_ID, reason="unreadable")

    def fail(self, error: StoreError) -> None:
        """The revocation store failed: the session is unavailable (fail closed, R77)."""
        self._side_op = None
        super().fail(error)

    def epoch_request(self) -> ReadCookieState | PinCookie | None:
        """What the revocation store must do before the cycle goes on, if anything.

        A :class:`~sessionary.sansio.cookie_state.ReadCookieState` in the request phase, a
        :class:`~sessionary.sansio.cookie_state.PinCookie` after :meth:`finish` (a login,
        rotation or logout); answer with :meth:`send_epoch`.
        """
        return self._side_op

    def send_epoch(self, epoch: int | CookieState | None) -> None:
        """Feed the answer to :meth:`epoch_request`: the cookie's state, or the pinned floor.

        The read decides whether the cookie's session is admitted: not when its login
        predates the user's epoch, its session was logged out, or a later rotation superseded
        it (a copy, or a rollback).
        """
        op, payload = self._side_op, self._payload
        if op is None:
            super().send_epoch(epoch)  # raises: nothing is pending
            return
        self._side_op = None
        if isinstance(op, PinCookie):
            self._phase = _DONE
            return
        assert payload is not None
        assert isinstance(epoch, CookieState)
        self._phase = _READY
        if payload.user is not None and is_revoked(payload.stamp, epoch.epoch):
            self._refuse_cookie("revoked", clear=True)
            self._event(EventName.REVOKED, user=payload.user, reason="user epoch")
        elif epoch.floor is not None and epoch.floor >= PIN_ENDED:
            self._refuse_cookie(None, clear=True)
            self._event(EventName.INVALID_ID, reason="logged out")
        elif is_superseded(payload.pin, epoch.floor):
            # A copy from before a rotation: a rollback, or a request racing the rotation in
            # another tab; the cookie is left alone so a newer one in the browser survives.
            self._refuse_cookie(None, clear=False)
            self._event(EventName.INVALID_ID, reason="superseded")
        else:
            self._admit(payload)

    def _refuse_cookie(self, end_reason: str | None, *, clear: bool) -> None:
        self._payload = None
        self._session = Session(self._core.codec, now=self.now, end_reason=end_reason)
        self._clear_cookie = clear

    def _unseal(self, box: bytes) -> SealedPayload | None:
        core = self._core
        sealer = core.sealer
        assert sealer is not None
        opened = sealer.open(box, self._aad)
        if opened is None:
            return None
        plaintext, generation = opened
        try:
            payload = decode_payload(plaintext)
        except DecodeError:
            return None  # authentic but unparsable: only a bug could produce it; still anonymous
        if sum(map(len, payload.attributes)) + sum(map(len, payload.attributes.values())) > (
            core.config.max_size
        ):
            return None
        self._reseal = generation > 0 or not is_current(box)  # older key or legacy box
        return payload

    @property
    def loaded_id(self) -> str | None:
        """Always ``None``: a sealed session has no server-side ID."""
        return None

    # ------------------------------------------------------------------ response phase
    def finish(self, *, failed: bool = False) -> None:
        """The handler is done: seal the new cookie if anything must be written.

        ``failed``: keep only a logout or an explicit rotation (as the server-side cycle).
        """
        session = self._session
        if self._phase != _READY or session is None:
            super().finish()  # raises the state error
            return
        session.close()
        if failed and not session.unavailable and not session.read_only:
            session.discard_changes()
        try:
            self._plan_seal(session)
        finally:  # done, unless the revocation store must pin the session first
            self._phase = _RESPONSE if self._side_op is not None else _DONE

    def _plan_seal(self, session: Session) -> None:
        lifecycle = session.lifecycle
        delta = session.delta()
        loaded = self._payload
        destroyed = lifecycle.destroy_loaded and loaded is not None
        attributes = dict(loaded.attributes) if loaded is not None and not destroyed else {}
        attributes.update(delta.attributes)
        for name in delta.delete:
            attributes.pop(name, None)
        now = self.now
        config = self._core.config
        if destroyed and loaded is not None:
            self._clear_cookie = True
            self._event(EventName.DESTROYED, user=loaded.user)
            self._pin(loaded, PIN_ENDED)  # every copy of the session dies with the logout
        if session.is_new or loaded is None:
            premint = self._csrf_premint
            if not delta and not lifecycle.auth_changed and premint is None:
                return  # nothing to store: no cookie (R7)
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
                return  # unchanged and no sliding refresh due: no Set-Cookie (R31)
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
                self._pin(loaded, pin)
        self._seal(payload, event)

    def _pin(self, loaded: SealedPayload, floor: int) -> None:
        """With a revocation store: refuse the session's cookies pinned before ``floor``."""
        core = self._core
        if not core.revocation:
            return
        config = core.config
        self._side_op = PinCookie(
            KeyRing.cookie_key(session_id(loaded), self._tenant),
            floor,
            self.now,
            # Every cookie the floor can refuse expires within one absolute timeout.
            config.absolute_timeout_ms + config.clock_skew_tolerance_ms,
        )

    def _seal(self, payload: SealedPayload, event: EventName | None) -> None:
        core = self._core
        size = sum(map(len, payload.attributes)) + sum(map(len, payload.attributes.values()))
        if size > core.config.max_size:
            raise SessionTooLargeError(size, core.config.max_size)
        sealer = core.sealer
        assert sealer is not None
        value = b64_encode(sealer.seal(encode_payload(payload), self._aad))
        cookie_size = len(core.config.cookie.name) + len(value)
        if cookie_size > MAX_COOKIE_BYTES:
            raise CookieTooLargeError(cookie_size, MAX_COOKIE_BYTES)
        self._payload = payload
        self._set_cookie = (SessionToken(value), payload.exp)
        self._clear_cookie = False
        if event is not None:
            self._token = SessionToken(value)
            self._event(event, user=payload.user)

    def csrf_binding(self, *, create: bool = True) -> bytes | None:
        """The random value in the sealed payload this session's CSRF tokens are bound to.

        Replaced on login and rotation. A visitor without a session gets one minted now; the
        session cookie is then sealed at commit (a pre-session token, R70).
        """
        payload = self._payload
        session = self._session
        done = self._phase in (_RESPONSE, _DONE)
        live = done or (session is not None and not session.is_new)
        if payload is not None and live:
            return b"sealed:" + payload.csrf
        if self._csrf_premint is None:
            if not create:
                return None
            self._csrf_premint = secrets.token_bytes(CSRF_BINDING_BYTES)
        return b"sealed:" + self._csrf_premint
