"""``flask.session``: the request's :class:`~sessionary.Session`, with Flask's attributes.

Kept apart from :mod:`sessionary.integrations.flask` (which re-exports
:class:`FlaskSession`): the object and the per-request state the extension keeps.
"""

from __future__ import annotations

from typing import TypeVar

from flask import request as current_request
from flask.sessions import SessionMixin
from werkzeug.exceptions import HTTPException

from sessionary.exceptions import ConfigurationError
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.gate import Refuse
from sessionary.sansio.session import Session

__all__ = ["STATE_KEY", "FlaskSession", "RequestState", "flask_session", "request_state"]

STATE_KEY = "sessionary.flask"


class RequestState:
    """What sessionary keeps per request (in ``request.environ``): the cycle and its fate."""

    __slots__ = ("cycle", "refusal", "settled")

    def __init__(self, cycle: SessionCycle, refusal: Refuse | HTTPException | None) -> None:
        self.cycle = cycle
        self.refusal = refusal
        """The gate refused the request (or its form could not be read): answered by a
        ``before_request`` hook, before any view."""
        self.settled = refusal is not None
        """The commit was made (or tried), or there is nothing to commit."""


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
        return request_state().cycle

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
