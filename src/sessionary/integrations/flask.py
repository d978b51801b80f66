"""Flask: ``flask.session`` backed by sessionary (needs ``pip install 'sessionary[flask]'``).

::

    from flask import Flask, session
    from sessionary.integrations.flask import Sessionary
    from sessionary.stores import RedisStore

    app = Flask(__name__)
    app.config["SECRET_KEY"] = os.environ["SESSION_SECRET"]
    Sessionary(app, store=RedisStore.from_url("redis://localhost:6379/0"))

    @app.post("/login")
    def login():
        session.login("42")   # rotates the ID; session.logout() ends it everywhere
        ...

``flask.session`` stays a mutable mapping (with ``login``, ``logout``, ``rotate`` and
``user_id`` on top). The configuration is read from ``app.config`` unless a
:class:`~sessionary.SessionConfig` is passed:

* ``SESSIONARY_SECRET_KEYS`` (a list), else ``SECRET_KEY`` + ``SECRET_KEY_FALLBACKS``;
* ``SESSION_COOKIE_NAME`` when changed from Flask's ``"session"`` (else sessionary's
  ``__Host-session``), ``SESSION_COOKIE_DOMAIN``, ``SESSION_COOKIE_PATH``,
  ``SESSION_COOKIE_SAMESITE`` (``None`` keeps ``Lax``), ``SESSION_COOKIE_PARTITIONED``;
* ``SESSION_COOKIE_SECURE=False`` is honoured only with
  ``SESSIONARY_INSECURE_DEVELOPMENT_MODE=True`` (Flask's default is ``False``; sessionary keeps
  ``Secure`` on, which browsers accept from ``http://localhost``);
* ``PERMANENT_SESSION_LIFETIME`` is the idle timeout when changed from Flask's 31 days;
  ``SESSIONARY_IDLE_TIMEOUT`` / ``SESSIONARY_ABSOLUTE_TIMEOUT`` (seconds) set both clocks.

``session.permanent`` is accepted and ignored: sessionary's idle and absolute timeouts decide
a session's life. A store outage answers 503 (only on requests that touch the session).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

try:
    from flask import Flask, Request, Response
    from flask.sessions import SessionInterface, SessionMixin
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    msg = "sessionary.integrations.flask needs Flask: pip install 'sessionary[flask]'"
    raise ImportError(msg) from exc

from sessionary._sync.manager import SessionManager
from sessionary.config import CookieOptions, SessionConfig
from sessionary.exceptions import ConfigurationError, StoreConflictError, StoreUnavailableError
from sessionary.integrations._settings import samesite_setting, seconds_setting
from sessionary.observability import Observer
from sessionary.sansio.cycle import SessionCycle
from sessionary.sansio.headers import header_changes
from sessionary.sansio.session import Session

if TYPE_CHECKING:
    from sessionary.stores.base import Store

__all__ = ["FlaskSession", "Sessionary", "SessionaryInterface", "config_from_flask"]

_FLASK_DEFAULT_LIFETIME = timedelta(days=31)
_EXTENSION = "sessionary"


class FlaskSession(SessionMixin):
    """``flask.session``: a thin view over the request's :class:`sessionary.Session`."""

    def __init__(self, cycle: SessionCycle) -> None:
        self.cycle = cycle
        self.session: Session = cycle.session

    # -- mapping
    def __getitem__(self, key: str) -> Any:
        return self.session[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.session[key] = value

    def __delitem__(self, key: str) -> None:
        del self.session[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.session)

    def __len__(self) -> int:
        return len(self.session)

    def __contains__(self, key: object) -> bool:
        return key in self.session

    def get(self, key: str, default: Any = None) -> Any:
        """``session.get(key, default)``."""
        return self.session.get(key, default)

    def clear(self) -> None:
        """Remove every attribute (the session itself stays; see :meth:`logout`)."""
        self.session.clear()

    # -- Flask's SessionMixin
    @property
    def permanent(self) -> bool:
        """Accepted for Flask compatibility; sessionary's timeouts decide the lifetime."""
        return True

    @permanent.setter
    def permanent(self, value: bool) -> None:
        pass

    @property
    def new(self) -> bool:  # type: ignore[override]
        """Whether the session did not exist before this request."""
        return self.session.is_new

    @property
    def modified(self) -> bool:
        """Whether this request changed the session.

        Setting it (Flask's idiom after mutating a nested value) is accepted and not needed:
        nested changes are detected at commit by comparing encoded values.
        """
        return self.session.modified

    @modified.setter
    def modified(self, value: bool) -> None:
        pass

    @property
    def accessed(self) -> bool:
        """Whether this request read or wrote the session (Flask sets it; tracked here)."""
        return self.session.accessed

    @accessed.setter
    def accessed(self, value: bool) -> None:
        if value:
            self.session.mark_accessed()

    # -- sessionary's lifecycle
    @property
    def user_id(self) -> str | None:
        """The signed-in user, or ``None``."""
        return self.session.user_id

    def login(self, user_id: str | int) -> None:
        """Sign ``user_id`` in: rotates the session ID (keeps the data)."""
        self.session.login(user_id)

    def logout(self) -> None:
        """End the session: deleted from the store, cookie cleared."""
        self.session.logout()

    def rotate(self) -> None:
        """Issue a new ID for the same session (after a privilege change)."""
        self.session.rotate()


def config_from_flask(app: Flask) -> SessionConfig:
    """Map Flask's session settings onto a :class:`~sessionary.SessionConfig`."""
    conf = app.config
    keys = conf.get("SESSIONARY_SECRET_KEYS")
    if keys is None:
        if not conf.get("SECRET_KEY"):
            msg = "set SECRET_KEY (or SESSIONARY_SECRET_KEYS) to use sessionary with Flask"
            raise ConfigurationError(msg)
        keys = [conf["SECRET_KEY"], *(conf.get("SECRET_KEY_FALLBACKS") or [])]
    name = conf.get("SESSION_COOKIE_NAME", "session")
    insecure = bool(conf.get("SESSIONARY_INSECURE_DEVELOPMENT_MODE", False))
    cookie = CookieOptions(
        name="__Host-session" if name == "session" else name,
        domain=conf.get("SESSION_COOKIE_DOMAIN") or None,
        path=conf.get("SESSION_COOKIE_PATH") or "/",
        secure=bool(conf.get("SESSION_COOKIE_SECURE")) or not insecure,
        samesite=samesite_setting(conf.get("SESSION_COOKIE_SAMESITE")),
        partitioned=bool(conf.get("SESSION_COOKIE_PARTITIONED", False)),
        insecure_development_mode=insecure,
    )
    options: dict[str, Any] = {}
    lifetime = conf.get("PERMANENT_SESSION_LIFETIME", _FLASK_DEFAULT_LIFETIME)
    if lifetime != _FLASK_DEFAULT_LIFETIME:
        idle = seconds_setting(lifetime, "PERMANENT_SESSION_LIFETIME")
        options["idle_timeout"] = idle
        options["absolute_timeout"] = max(idle, 12 * 3600)
    if "SESSIONARY_IDLE_TIMEOUT" in conf:
        options["idle_timeout"] = seconds_setting(conf["SESSIONARY_IDLE_TIMEOUT"], "idle timeout")
    if "SESSIONARY_ABSOLUTE_TIMEOUT" in conf:
        absolute = seconds_setting(conf["SESSIONARY_ABSOLUTE_TIMEOUT"], "absolute timeout")
        options["absolute_timeout"] = absolute
    return SessionConfig(secret_keys=keys, cookie=cookie, **options)


class SessionaryInterface(SessionInterface):
    """Flask's session interface, driving sessionary's sync manager."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager

    def open_session(self, app: Flask, request: Request) -> FlaskSession:
        """Read the ID and load the session (at most one store round trip)."""
        header = self.manager.request_header
        tokens = request.headers.getlist(header) if header is not None else ()
        cycle = self.manager.open(
            request.headers.getlist("Cookie"),
            client=request.remote_addr,
            token_headers=tokens,
            user_agent=request.headers.get("User-Agent"),
        )
        return FlaskSession(cycle)

    def is_null_session(self, obj: object) -> bool:
        """Sessionary has no null sessions."""
        return False

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Commit before the response leaves, then add the cookie headers."""
        if not isinstance(session, FlaskSession):
            return
        try:
            update = self.manager.commit(session.cycle)
        except StoreUnavailableError:
            _replace_with_error(response, 503, "Service Unavailable")
            return
        except StoreConflictError:
            _replace_with_error(response, 409, "Conflict")
            return
        changes = header_changes(update, response.headers.get("Vary"))
        for name, value in changes.replace.items():
            response.headers[name] = value
        for name, value in changes.append:
            response.headers.add(name, value)


def _replace_with_error(response: Response, status: int, text: str) -> None:
    response.status_code = status
    response.set_data(text)
    response.headers.remove("Set-Cookie")
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"


def _unavailable(error: StoreUnavailableError) -> tuple[str, int, dict[str, str]]:
    return "Service Unavailable", 503, {"Cache-Control": "no-store"}


class Sessionary:
    """The Flask extension: ``Sessionary(app, store=...)`` or ``ext.init_app(app)``."""

    def __init__(
        self,
        app: Flask | None = None,
        *,
        store: Store | None = None,
        config: SessionConfig | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.observer = observer
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Install sessionary as ``app.session_interface`` and register the 503 handler."""
        store = self.store
        if store is None:
            from sessionary._sync.memory import MemoryStore  # noqa: PLC0415

            store = self.store = MemoryStore()
        config = self.config or config_from_flask(app)
        manager = SessionManager(store, config, observer=self.observer)
        app.session_interface = SessionaryInterface(manager)
        app.register_error_handler(StoreUnavailableError, _unavailable)
        app.extensions[_EXTENSION] = self

    def close(self) -> None:
        """Close the store (call at process shutdown)."""
        if self.store is not None:
            self.store.close()
