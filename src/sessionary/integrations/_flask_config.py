"""Flask's settings (``app.config``) → a :class:`~sessionary.SessionConfig` and the options.

Re-exported by :mod:`sessionary.integrations.flask`; the names are Flask's own
(``SESSION_COOKIE_*``, ``PERMANENT_SESSION_LIFETIME``) plus ``SESSIONARY_*``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Protocol, cast

from sessionary.config import SessionConfig
from sessionary.exceptions import ConfigurationError
from sessionary.integrations._settings import cookie_setting, samesite_setting, seconds_setting
from sessionary.sansio.gate import GateOptions

__all__ = ["config_from_flask", "options_from_flask"]

_FLASK_DEFAULT_LIFETIME = timedelta(days=31)


class Configured(Protocol):
    """A Flask or Quart application: what is read here is its ``config``."""

    @property
    def config(self) -> Mapping[str, Any]:
        """The application's settings."""
        ...


def config_from_flask(app: Configured) -> SessionConfig:
    """Map Flask's (or Quart's) session settings onto a :class:`~sessionary.SessionConfig`."""
    conf = app.config
    keys = conf.get("SESSIONARY_SECRET_KEYS")
    if keys is None:
        if not conf.get("SECRET_KEY"):
            msg = "set SECRET_KEY (or SESSIONARY_SECRET_KEYS) to use sessionary with Flask"
            raise ConfigurationError(msg)
        keys = [conf["SECRET_KEY"], *(conf.get("SECRET_KEY_FALLBACKS") or [])]
    if not conf.get("SESSION_COOKIE_HTTPONLY", True):
        msg = "SESSION_COOKIE_HTTPONLY = False is not supported: the session ID stays HttpOnly"
        raise ConfigurationError(msg)
    configured = conf.get("SESSION_COOKIE_NAME", "session")
    name = "__Host-session" if configured == "session" else configured
    path = conf.get("SESSION_COOKIE_PATH")
    if not path:  # Flask's fallback; a '__Host-' cookie is always for the whole host
        path = "/" if name.startswith("__Host-") else conf.get("APPLICATION_ROOT") or "/"
    insecure = bool(conf.get("SESSIONARY_INSECURE_DEVELOPMENT_MODE", False))
    cookie = cookie_setting(
        name=name,
        domain=conf.get("SESSION_COOKIE_DOMAIN") or None,
        path=path,
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
    if "SESSIONARY_STRICT_TRANSPORT_SECURITY" in conf:
        options["strict_transport_security"] = conf["SESSIONARY_STRICT_TRANSPORT_SECURITY"]
    return SessionConfig(secret_keys=keys, cookie=cookie, **options)


def options_from_flask(
    app: Configured, options: GateOptions, names: Iterable[str] = GateOptions.__optional_keys__
) -> GateOptions:
    """The options given (not ``None``), else their ``SESSIONARY_<NAME>`` in ``app.config``.

    ``names``: the options the adapter takes (Quart's include ``websocket_origins``).
    """
    found: dict[str, Any] = {}
    for name in names:
        value = options.get(name)
        if value is None:
            value = app.config.get(f"SESSIONARY_{name.upper()}")
        if value is not None:
            found[name] = value
    return cast(GateOptions, found)
