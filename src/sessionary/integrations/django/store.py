"""``SessionStore``: Django's ``SessionBase`` over a sessionary request cycle."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends.base import SessionBase

from sessionary._sync.manager import SessionManager
from sessionary.integrations.django.conf import get_manager
from sessionary.sansio.cycle import ResponseUpdate, SessionCycle
from sessionary.sansio.session import Session

__all__ = ["SessionStore"]


class SessionStore(SessionBase):
    """Django's session API backed by sessionary.

    Used per request by :class:`~sessionary.integrations.django.SessionMiddleware` (which
    hands it the request's cycle), or on its own like any Django engine:
    ``SessionStore(key)`` loads lazily, ``save()`` commits (creating, updating or
    destroying the record) and updates :attr:`session_key`.
    """

    def __init__(
        self,
        session_key: str | None = None,
        *,
        manager: SessionManager | None = None,
        cycle: SessionCycle | None = None,
    ) -> None:
        super().__init__(session_key)
        self._manager = manager or get_manager()
        self._cycle = cycle
        self.last_update: ResponseUpdate | None = None
        """Headers of the last commit performed by :meth:`save` (for the middleware)."""

    # ------------------------------------------------------------------ the cycle
    def _open(self, session_key: str | None) -> SessionCycle:
        manager = self._manager
        if not session_key:
            return manager.open([])
        config = manager.config
        if manager.request_header is not None:
            value = session_key
            if manager.request_header == "authorization":
                value = f"Session {session_key}"
            return manager.open([], token_headers=[value])
        return manager.open([f"{config.cookie.name}={session_key}"])

    @property
    def cycle(self) -> SessionCycle:
        """This request's cycle (opened on first use for stand-alone stores)."""
        if self._cycle is None:
            self._cycle = self._open(self.session_key)
        return self._cycle

    @property
    def sessionary(self) -> Session:
        """The underlying :class:`sessionary.Session` (``login``, ``logout``, ``user_id``)."""
        return self.cycle.session

    def _get_session(self, no_load: bool = False) -> Session:
        self.accessed = True
        session = self.cycle.session
        session.mark_accessed()
        return session

    async def _aget_session(self, no_load: bool = False) -> Session:
        return await sync_to_async(self._get_session)(no_load)

    _session = property(_get_session)

    def commit(self) -> ResponseUpdate:
        """Commit the cycle (at most one store round trip) and track the resulting key."""
        cycle = self.cycle
        update = self._manager.commit(cycle)
        issued = cycle.issued_id
        if issued is not None:
            self._session_key = issued
        elif cycle.ended or cycle.session.is_new:
            self._session_key = None
        self._cycle = None  # later use starts a new cycle under the new key
        self.last_update = update
        self.modified = False
        return update

    # ------------------------------------------------------------------ SessionBase
    def clear(self) -> None:
        """Remove every value (the record stays until saved)."""
        self._get_session().clear()
        self.modified = True

    def is_empty(self) -> bool:
        """True when there is no session key and no data."""
        if self.session_key:
            return False
        return self._cycle is None or len(self._cycle.session) == 0

    def cycle_key(self) -> None:
        """A new ID for the same data (``auth.login`` calls this): sessionary's rotation."""
        self._get_session().rotate()
        self.modified = True

    async def acycle_key(self) -> None:
        """Async :meth:`cycle_key`."""
        await sync_to_async(self.cycle_key)()

    def flush(self) -> None:
        """Destroy the session (``auth.logout``): the record goes, the cookie is cleared."""
        session = self._get_session()
        if session.is_new:
            session.clear()
        else:
            session.logout()
        self.modified = True
        self._session_key = None

    async def aflush(self) -> None:
        """Async :meth:`flush`."""
        await sync_to_async(self.flush)()

    def exists(self, session_key: str) -> bool:
        """Whether a live record exists for ``session_key``."""
        return not self._open(session_key).session.is_new

    def create(self) -> None:
        """Start a fresh session with no data; a record is written once it holds data."""
        if self._cycle is not None and not self._cycle.session.is_new:
            self._cycle.session.logout()
            self.commit()
        self._cycle = self._open(None)
        self._session_key = None
        self.modified = True

    def save(self, must_create: bool = False) -> None:
        """Write the changes (an empty new session is not stored: SECURITY.md R7)."""
        self.commit()

    def delete(self, session_key: str | None = None) -> None:
        """Delete ``session_key`` (default: this session) from the store."""
        if session_key is None or session_key == self.session_key:
            if self.session_key is None and self._cycle is None:
                return
            session = self._get_session()
            if not session.is_new:
                session.logout()
            self.commit()
            self._session_key = None
            return
        other = self._open(session_key)
        if not other.session.is_new:
            other.session.logout()
        self._manager.commit(other)

    def load(self) -> dict[str, Any]:
        """The session's data as a plain dict."""
        return dict(self._get_session())

    @classmethod
    def clear_expired(cls) -> None:
        """Nothing to do: the store expires sessions itself (idle and absolute timeouts)."""
