"""``flask.session``: the request's :class:`~sessionary.Session`, with Flask's attributes.

Kept apart from :mod:`sessionary.integrations.flask` (which re-exports
:class:`FlaskSession`): the object and the per-request state the extension keeps.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request as current_request
from flask.ctx import RequestContext
from flask.globals import request_ctx
from flask.sessions import SessionMixin
from werkzeug.exceptions import HTTPException

from sessionary._sync.manager import SessionManager
from sessionary.codecs.base import Codec
from sessionary.exceptions import ConfigurationError, SessionStateError
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.gate import Open, Refuse, RequestInfo
from sessionary.sansio.session import Session

__all__ = [
    "LATE_LOAD",
    "STATE_KEY",
    "FlaskSession",
    "PendingFlaskSession",
    "RequestState",
    "flask_session",
    "lazy_supported",
    "pending_session",
    "request_state",
]

LATE_LOAD = "the response is on its way: a lazily loaded session must be used before it starts"

STATE_KEY = "sessionary.flask"


class RequestState:
    """What sessionary keeps per request (in ``request.environ``): the cycle and its fate.

    ``cycle`` is ``None`` on a lazy mount until the view first uses ``flask.session``:
    :meth:`load` opens it then from ``admitted`` (the request the gate let in).
    """

    __slots__ = ("admitted", "cycle", "manager", "refusal", "settled")

    def __init__(
        self,
        cycle: SessionCycle | None,
        refusal: Refuse | HTTPException | None,
        *,
        manager: SessionManager | None = None,
        admitted: tuple[RequestInfo, Open] | None = None,
    ) -> None:
        self.cycle = cycle
        self.refusal = refusal
        """The gate refused the request (or its form could not be read): answered by a
        ``before_request`` hook, before any view."""
        self.settled = refusal is not None
        """The commit was made (or tried), or there is nothing to commit."""
        self.manager = manager
        self.admitted = admitted

    def load(self) -> SessionCycle:
        """The request's cycle, opened now on a lazy mount (one round trip at most)."""
        cycle = self.cycle
        if cycle is None:
            if self.settled or self.manager is None or self.admitted is None:
                raise SessionStateError(LATE_LOAD)
            cycle = self.cycle = self.manager.open_admitted(*self.admitted)
        return cycle


def request_state() -> RequestState:
    """The current request's state (inside a request served by the extension)."""
    state = current_request.environ.get(STATE_KEY)
    if not isinstance(state, RequestState):
        msg = "flask.session is not a sessionary session: is Sessionary installed?"
        raise ConfigurationError(msg)
    return state


class FlaskSession(Session):
    """``flask.session``: the request's :class:`sessionary.Session` itself, for Flask.

    A ``dict`` like Flask's own session (``return dict(session)``, ``session |= {...}``,
    ``json.dumps(session._get_current_object())`` all behave as on Flask's), with Flask's
    session attributes (``new``, ``modified``, ``accessed``, ``permanent``) and sessionary's
    lifecycle (``login``, ``logout``, ``rotate``, ``user_id``...) on top.
    """

    __slots__ = ()  # the layout of Session: the request's session object is re-classed

    @property
    def session(self) -> Session:
        """The sessionary session (this object; kept for code written for older versions)."""
        return self

    @property
    def cycle(self) -> SessionCycle:
        """The request's session cycle (inside a request)."""
        return request_state().load()

    @property
    def permanent(self) -> bool:
        """Accepted for Flask compatibility; sessionary's timeouts decide the lifetime.

        The cookie is persistent (``Max-Age``: the session's remaining absolute lifetime)
        unless ``CookieOptions(persistent=False)`` makes every session cookie a browser
        session cookie; one session cannot differ from the others.
        """
        return True

    @permanent.setter
    def permanent(self, value: bool) -> None:
        pass

    @property
    def new(self) -> bool:
        """Whether the session did not exist before this request."""
        return self.is_new

    @property
    def modified(self) -> bool:
        """Whether this request changed the session.

        Setting it (Flask's idiom after mutating a nested value) is accepted and not needed:
        nested changes are detected at commit by comparing encoded values.
        """
        return Session.modified.fget(self)  # type: ignore[attr-defined,no-any-return]

    @modified.setter
    def modified(self, value: bool) -> None:
        pass

    @property
    def accessed(self) -> bool:
        """Whether this request read or wrote the session (Flask sets it; tracked here)."""
        return Session.accessed.fget(self)  # type: ignore[attr-defined,no-any-return]

    @accessed.setter
    def accessed(self, value: bool) -> None:
        if value:
            self.mark_accessed()


SessionMixin.register(FlaskSession)


class PendingFlaskSession(FlaskSession):
    """``flask.session`` of a lazy mount before the view uses it: the first use loads it.

    Flask (3.1 and later) sets ``accessed`` on the session each time ``flask.session`` is
    looked up, then returns the request context's session: setting it here loads the
    request's session and puts it in the context's place, so the lookup returns the loaded
    one. This object itself refuses every use.
    """

    __slots__ = ()

    @property
    def accessed(self) -> bool:
        """Never: the session was not loaded."""
        return False

    @accessed.setter
    def accessed(self, value: bool) -> None:
        if value:
            loaded: FlaskSession = flask_session(request_state().load())
            context: Any = request_ctx  # a LocalProxy of the request context
            context._get_current_object()._session = loaded


def lazy_supported() -> bool:
    """Whether this Flask sets ``accessed`` on each ``flask.session`` lookup (3.1 and later)."""
    return isinstance(getattr(RequestContext, "session", None), property)


def pending_session(codec: Codec) -> PendingFlaskSession:
    """The placeholder a lazy mount hands Flask (any use but the lookup raises)."""
    session = Session(codec, error=SessionStateError(LATE_LOAD))
    session.__class__ = PendingFlaskSession
    assert isinstance(session, PendingFlaskSession)
    return session


S = TypeVar("S", bound=FlaskSession)


def flask_session(cycle: SessionCycle, kind: type[S] = FlaskSession) -> S:  # type: ignore[assignment]
    """The cycle's session as ``flask.session`` (the same object, re-classed as ``kind``).

    Quart's session is a ``kind`` of its own (:mod:`sessionary.integrations.quart`).
    """
    session = cycle.session
    # Same memory layout (FlaskSession adds no slots): the session the cycle commits is the
    # very object Flask hands out, so nothing is copied back and forth.
    session.__class__ = kind
    assert isinstance(session, kind)
    return session
