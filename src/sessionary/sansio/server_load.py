"""The request phase of a server-side session: from the presented ID to the handler's session.

Guarantees (R4, R19-R22, R34-R36, R42, R52): no ID → no store call; a malformed, oversize
or conflicting ID → anonymous, no store call; a pre-session ID (:mod:`sessionary.sansio.
presession`) is recognised by its tag alone, never looked up; a known ID is loaded once per
generation of the key ring at most, and the core re-checks everything the store checked —
validator, record MAC, revocation, both expiry clocks, size — before the handler sees a
value. A record that fails authentication or does not decode is corrupt: anonymous, deleted
(:class:`~sessionary.sansio.ops.Discard`), reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial

from sessionary.config import ClientBinding
from sessionary.exceptions import DecodeError
from sessionary.sansio.cookies import CookieReadStatus, read_cookie
from sessionary.sansio.devices import compact_user_agent
from sessionary.sansio.events import EventName
from sessionary.sansio.ids import SessionToken, parse_token
from sessionary.sansio.keys import KeyRing
from sessionary.sansio.ops import Discard, Load, LoadResult, LoadStatus, StoredSession
from sessionary.sansio.presession import parse_presession
from sessionary.sansio.request import RequestState
from sessionary.sansio.server_record import ServerRecord
from sessionary.sansio.session import Session
from sessionary.sansio.transport import read_header_token
from sessionary.sansio.users import MAX_USER_AGENT_LENGTH, decode_device, is_revoked

__all__ = ["ServerLoad"]

_REVOKED = "revoked"  # a verdict beside the LoadStatus values: the user epoch passed it
_FORGED = "forged"  # the record failed authentication (its MAC)
_END_REASONS: dict[LoadStatus | str | None, str] = {
    LoadStatus.EXPIRED_IDLE: "expired_idle",
    LoadStatus.EXPIRED_ABSOLUTE: "expired_absolute",
    _REVOKED: "revoked",
}
_EXPIRY_REASONS = frozenset({"expired_idle", "expired_absolute"})
Verdict = LoadStatus | str | None


class ServerLoad:
    """Reads one request's session from a server-side store."""

    __slots__ = ("_mismatch", "_record", "_state")

    def __init__(self, state: RequestState, record: ServerRecord) -> None:
        self._state = state
        self._record = record
        self._mismatch = False
        """A generation of the ring found the selector with another validator."""

    def start(self, cookie_headers: Iterable[str], token_headers: Iterable[str]) -> Load | None:
        """Read the presented ID: the first load, or ``None`` (an anonymous session, no I/O)."""
        state = self._state
        token = self._read_token(token_headers if state.core.header_mode else cookie_headers)
        if token is None:
            state.session = Session(state.core.codec, now=state.now)
            return None
        state.token = token
        return self._load_op(0)

    def loaded(self, result: LoadResult) -> Load | Discard | None:
        """Judge a load: the next operation (an older key, a discard), or ``None`` when done."""
        record = self._record
        status = result.status
        no_record = status is LoadStatus.MISSING or status is LoadStatus.INVALID
        if no_record and record.generation + 1 < len(self._state.core.keyring):
            # An older key of the ring? Asked after a validator mismatch too, so that a dead
            # ID costs the same whether its record still lives or not (no liveness oracle).
            self._mismatch = self._mismatch or status is LoadStatus.INVALID
            return self._load_op(record.generation + 1)
        if status is LoadStatus.MISSING and self._mismatch:
            status = LoadStatus.INVALID
        if status is LoadStatus.CORRUPT:
            return self._corrupt(result.reason or "not a session record")
        stored = result.record
        verdict: Verdict = status
        if status is LoadStatus.FOUND and stored is not None:
            verdict = self._verify(stored)
            if verdict is _FORGED:
                return self._corrupt("unauthenticated record")
            if verdict is LoadStatus.FOUND:
                return self._accept(stored)
        self._no_session(verdict, stored, result.reason)
        return None

    # ------------------------------------------------------------------ reading the ID
    def _read_token(self, header_values: Iterable[str]) -> SessionToken | None:
        state = self._state
        core = state.core
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
            state.clear_cookie = True
            state.event(EventName.DUPLICATE_COOKIE, reason="differing values")
            return None
        token = parse_token(read.value) if status is CookieReadStatus.PRESENT else None
        if token is None and status is CookieReadStatus.PRESENT:
            self._record.pre = parse_presession(read.value, core.presession_keys)
            if self._record.pre is not None:
                return None  # a pre-session ID: no record to look up (no store call)
        if token is None:
            state.clear_cookie = True
            state.event(EventName.INVALID_ID, reason="malformed")
        return token

    def _load_op(self, generation: int) -> Load:
        state, record = self._state, self._record
        token = state.token
        assert token is not None
        core = state.core
        keyring = core.keyring
        config = core.config
        record.generation = generation
        record.key = keyring.storage_key(token.selector, generation, state.tenant)
        record.digest = keyring.validator_digest(token.validator, generation)
        return Load(
            key=record.key,
            digest=record.digest,
            now=state.now,
            max_idle=config.idle_timeout_ms,
            touch_after=config.touch_interval_ms,
            linger=core.linger,
        )

    # ------------------------------------------------------------------ verdicts
    def _verify(self, stored: StoredSession) -> Verdict:
        """Re-check what the store checked: the core, not the store, is the authority.

        ``INVALID`` for another validator; ``_FORGED`` when the record fails authentication
        (:mod:`sessionary.sansio.record_auth`); otherwise :meth:`_judge`'s verdict.
        """
        if not KeyRing.digests_equal(stored.meta.digest, self._record.digest):
            return LoadStatus.INVALID
        if not self._record.authentic(stored):
            return _FORGED
        return self._judge(stored)

    def _judge(self, stored: StoredSession) -> Verdict:
        """Revocation, expiry and size of an authentic record.

        ``None`` means the record is over the size limit; ``_REVOKED`` that its user's epoch
        has passed its stamp (``revoke_user``).
        """
        state = self._state
        meta = stored.meta
        if meta.user_key is not None and is_revoked(meta.stamp, stored.user_epoch):
            return _REVOKED
        config = state.core.config
        now = state.now
        if meta.accessed - now > config.clock_skew_tolerance_ms:
            # Another node stamped the last access further in our future than the tolerance:
            # this node's clock lags, and it would keep sessions alive for its lag (R38).
            state.event(EventName.CLOCK_SKEW, behind_ms=meta.accessed - now)
        if now >= meta.deadline:
            return LoadStatus.EXPIRED_ABSOLUTE
        if now >= meta.accessed + min(meta.idle, config.idle_timeout_ms):
            return LoadStatus.EXPIRED_IDLE
        attributes = stored.attributes
        if sum(map(len, attributes)) + sum(map(len, attributes.values())) > config.max_size:
            return None  # over the size limit (R51)
        return LoadStatus.FOUND

    def _accept(self, stored: StoredSession) -> Discard | None:
        """Hand the verified record to the handler, or refuse it as corrupt."""
        state = self._state
        core = state.core
        values: Mapping[str, bytes] | None = stored.attributes
        if core.at_rest is not None:
            values = core.at_rest.open(self._record.key, stored.attributes)
            if values is None:
                return self._corrupt("undecryptable value")
        meta = stored.meta
        try:
            session = Session(
                core.codec,
                values,
                now=state.now,
                is_new=False,
                user_id=meta.user,
                auth_time=meta.auth_time,
                ref=partial(core.keyring.session_ref, self._record.key),
            )
        except DecodeError:
            return self._corrupt("undecodable value")
        self._record.stored = stored
        state.session = session
        if meta.user is not None and core.binding is not ClientBinding.OFF:
            self._check_client(session, meta.device)
        return None

    def _corrupt(self, reason: str) -> Discard:
        """The key holds a corrupt or forged record: anonymous, and the record is deleted.

        Never served, never kept: the client's cookie is cleared, a ``corrupt_record`` alert
        is emitted and the shell is asked to :class:`~sessionary.sansio.ops.Discard` it.
        """
        state = self._state
        state.session = Session(state.core.codec, now=state.now)
        state.clear_cookie = True
        state.event(EventName.CORRUPT_RECORD, reason=reason)
        return Discard(self._record.key)

    def _no_session(
        self, verdict: Verdict, stored: StoredSession | None, ended: str | None
    ) -> None:
        """The presented ID gives no session: anonymous, with the event saying why."""
        state = self._state
        reason = _END_REASONS.get(verdict) if verdict is not LoadStatus.ENDED else ended
        state.session = Session(state.core.codec, now=state.now, end_reason=reason)
        if verdict is LoadStatus.ENDED:
            state.clear_cookie = True
            if reason in _EXPIRY_REASONS:  # a tombstone the expiry sweeper left
                state.event(EventName(reason))
            else:
                name = EventName.EVICTED if reason == "evicted" else EventName.REVOKED
                state.event(name, reason=reason or "ended")
        elif verdict is _REVOKED:
            state.clear_cookie = True
            assert stored is not None
            state.event(EventName.REVOKED, user=stored.meta.user, reason="user epoch")
        elif verdict is LoadStatus.MISSING or verdict is LoadStatus.INVALID:
            # Unknown, or a stale ID racing a rotation in another tab: anonymous, and the
            # cookie is left alone (the newer cookie in the browser must not be clobbered).
            # Both answer alike, so an old ID does not tell whether its session still lives;
            # only the event, on the server, says which.
            why = "unknown" if verdict is LoadStatus.MISSING else "validator mismatch"
            state.event(EventName.INVALID_ID, reason=why)
        elif verdict is None:
            state.clear_cookie = True
            state.event(EventName.INVALID_ID, reason="oversize record")
        else:
            state.clear_cookie = True
            expired = (
                EventName.EXPIRED_IDLE
                if verdict is LoadStatus.EXPIRED_IDLE
                else EventName.EXPIRED_ABSOLUTE
            )
            state.event(expired, user=stored.meta.user if stored is not None else None)

    def _check_client(self, session: Session, recorded: bytes | None) -> None:
        """Compare the request with the client that logged in (``client_binding``, R81)."""
        state = self._state
        core = state.core
        login = decode_device(recorded)
        fields = core.config.client_binding_fields
        differ = []
        agent = login.user_agent
        if "user_agent" in fields and agent is not None:
            current = (state.user_agent or "")[:MAX_USER_AGENT_LENGTH]
            # Recorded as its label (sansio/devices.py); whole by releases before the label.
            if agent not in {current, compact_user_agent(current)}:
                differ.append("user_agent")
        if "client" in fields and login.client_hash is not None:
            client = state.client
            # Recorded under the ring of the login: recognised under any of its secrets.
            if not client or not core.keyring.fingerprint_matches(
                "client:" + client, login.client_hash
            ):
                differ.append("client")
        if not differ:
            return
        enforce = core.binding is ClientBinding.ENFORCE
        state.event(EventName.CLIENT_MISMATCH, user=session.user_id, fields=differ, ended=enforce)
        if enforce:
            session.logout()  # destroyed at commit; the handler sees an anonymous session
