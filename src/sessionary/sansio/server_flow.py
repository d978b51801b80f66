"""The server-side storage mode's flow: one request's reads and writes against a store.

:class:`ServerFlow` joins the request phase (:class:`~sessionary.sansio.server_load.
ServerLoad`) and the response phase (:class:`~sessionary.sansio.server_write.ServerWrite`)
over one :class:`~sessionary.sansio.server_record.ServerRecord`, dispatches each typed
result to the step that asked for it, and binds CSRF tokens to the session's ID.
"""

from __future__ import annotations

from collections.abc import Iterable

from sessionary.exceptions import SessionStateError
from sessionary.sansio.ids import SessionToken, mint_token, rotate_token
from sessionary.sansio.ops import (
    CommitResult,
    Create,
    DestroyResult,
    DiscardResult,
    LoadResult,
    Operation,
    Result,
)
from sessionary.sansio.request import RequestState
from sessionary.sansio.server_load import ServerLoad
from sessionary.sansio.server_record import ServerRecord
from sessionary.sansio.server_write import ServerWrite
from sessionary.sansio.session import Session

__all__ = ["ServerFlow"]


class ServerFlow:
    """One request of a server-side session: load, verify, commit."""

    __slots__ = ("_late", "_load", "_pending", "_record", "_state", "_write")

    def __init__(self, state: RequestState) -> None:
        self._state = state
        record = self._record = ServerRecord(state.core)
        self._load = ServerLoad(state, record)
        self._write: ServerWrite | None = None
        """Built by the first commit that may write (most requests write nothing)."""
        self._pending: Operation | None = None
        self._late = False

    def start(
        self, cookie_headers: Iterable[str], token_headers: Iterable[str]
    ) -> Operation | None:
        """The request phase's first operation, or ``None`` (no session presented)."""
        return self._load.start(cookie_headers, token_headers)

    def on_request(self, result: Result) -> Operation | None:
        """A request-phase result: the next operation, or ``None`` when the session is ready."""
        match result:
            case LoadResult():
                return self._load.loaded(result)
            case DiscardResult():
                return None  # the corrupt record is gone; the session is anonymous
        msg = f"unexpected {type(result).__name__} in the request phase"
        raise SessionStateError(msg)

    def plan(self, session: Session) -> Operation | None:
        """The commit's first operation, or ``None`` when nothing must be written."""
        if session.clean and not self._record.pre_minted:
            return None  # nothing to write: no write plan at all (most requests)
        op = self._pending = self._writer().plan(session)
        return op

    def _writer(self) -> ServerWrite:
        write = self._write
        if write is None:
            write = self._write = ServerWrite(self._state, self._record)
        return write

    def on_response(self, result: Result, session: Session) -> Operation | None:
        """A response-phase result: the next operation, or ``None`` when the commit is done."""
        write = self._writer()
        op: Operation | None
        match result:
            case CommitResult():
                created = isinstance(self._pending, Create)
                op = write.created(result) if created else write.updated(result)
            case DestroyResult() if self._late:
                write.late_destroyed(result.deleted)
                op = None
            case DestroyResult():
                op = write.destroyed(session, result.deleted)
            case DiscardResult():
                op = None  # a record found corrupt at commit time is gone
            case _:
                msg = f"unexpected {type(result).__name__} in the response phase"
                raise SessionStateError(msg)
        self._pending = op
        return op

    def late_op(self, session: Session) -> Operation | None:
        """After the response: the destroy a late logout asked for, if any (once)."""
        if self._late:
            return None
        self._late = True
        op = self._pending = self._writer().late_op(session)
        return op

    @property
    def loaded_id(self) -> str | None:
        """The client's ID when it named a live session."""
        token = self._state.token
        if self._record.stored is None or token is None:
            return None
        return token.value

    @property
    def loaded_deadline(self) -> int | None:
        """The loaded session's absolute deadline (ms), when the client named a live one."""
        stored = self._record.stored
        return None if stored is None else stored.meta.deadline

    def csrf_binding(self, *, create: bool, committed: bool) -> bytes | None:
        """What this session's CSRF secret is bound to (:mod:`sessionary.sansio.csrf`).

        The session's ID, which changes on every rotation (login, ``rotate()``): a token
        issued after :meth:`Session.login` or :meth:`Session.rotate` in this request is bound
        to the ID the commit will give. A visitor without a session is bound to a
        *pre-session ID* (:mod:`sessionary.sansio.presession`: the one its cookie carries, or
        one minted now and sent in the cookie at commit) without any store record (R70);
        with ``create=False`` it gets ``None`` instead of a new one.
        """
        del committed  # the ID is what the binding follows, whatever the phase
        state, record = self._state, self._record
        session = state.session
        pending = session.lifecycle if session is not None and not session.unavailable else None
        if record.stored is not None and state.token is not None and session is not None:
            if not session.is_new and pending is not None and pending.rotate:
                return _bind(record.next(rotate_token(state.token)))
            if not session.is_new:
                return _bind(state.token)
        if pending is not None and pending.auth_changed:
            return _bind(record.next(mint_token()))  # a login creates a new session
        if record.pre is None:
            if not create:
                return None
            record.pre = mint_token()
            record.pre_minted = True
        return _bind(record.pre)


def _bind(token: SessionToken) -> bytes:
    return b"id:" + token.value.encode("ascii")
