"""Django settings → sessionary configuration, and the process-wide session manager."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from django.conf import settings

from sessionary._sync.manager import SessionManager
from sessionary.config import CookieOptions, SameSite, SessionConfig
from sessionary.exceptions import ConfigurationError

__all__ = ["config_from_settings", "configure", "get_manager", "store_from_settings"]

_DJANGO_DEFAULT_COOKIE = "sessionid"
_DJANGO_DEFAULT_AGE = 1_209_600  # two weeks
_lock = threading.Lock()
_manager: SessionManager | None = None


def _options() -> dict[str, Any]:
    options = getattr(settings, "SESSIONARY", {})
    if not isinstance(options, dict):
        msg = "settings.SESSIONARY must be a dict"
        raise ConfigurationError(msg)
    return options


def _samesite(value: object) -> SameSite:
    lowered = str(value or "lax").lower()
    if lowered not in ("lax", "strict", "none"):
        msg = f"SESSION_COOKIE_SAMESITE must be 'Lax', 'Strict' or 'None', not {value!r}"
        raise ConfigurationError(msg)
    return lowered  # type: ignore[return-value]


def _seconds(value: object, what: str) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    msg = f"{what} must be seconds or a timedelta, not {value!r}"
    raise ConfigurationError(msg)


def config_from_settings() -> SessionConfig:
    """Build the :class:`~sessionary.SessionConfig` from Django's settings.

    ``SESSIONARY["SECRET_KEYS"]`` (else ``SECRET_KEY`` + ``SECRET_KEY_FALLBACKS``);
    ``SESSION_COOKIE_NAME`` when changed from ``"sessionid"`` (else ``__Host-session``),
    ``SESSION_COOKIE_DOMAIN``/``PATH``/``SAMESITE``; ``SESSION_COOKIE_SECURE=False`` only
    with ``SESSIONARY["INSECURE_DEVELOPMENT_MODE"]``; ``SESSION_EXPIRE_AT_BROWSER_CLOSE``
    → a browser-session cookie; ``SESSION_COOKIE_AGE`` (when changed) → absolute timeout;
    ``SESSIONARY["IDLE_TIMEOUT"]``/``["ABSOLUTE_TIMEOUT"]`` (seconds), ``["TRANSPORT"]``.
    """
    options = _options()
    keys = options.get("SECRET_KEYS")
    if keys is None:
        keys = [settings.SECRET_KEY, *(getattr(settings, "SECRET_KEY_FALLBACKS", None) or [])]
    insecure = bool(options.get("INSECURE_DEVELOPMENT_MODE", False))
    name = getattr(settings, "SESSION_COOKIE_NAME", _DJANGO_DEFAULT_COOKIE)
    cookie = CookieOptions(
        name="__Host-session" if name == _DJANGO_DEFAULT_COOKIE else name,
        domain=getattr(settings, "SESSION_COOKIE_DOMAIN", None) or None,
        path=getattr(settings, "SESSION_COOKIE_PATH", "/") or "/",
        secure=bool(getattr(settings, "SESSION_COOKIE_SECURE", False)) or not insecure,
        samesite=_samesite(getattr(settings, "SESSION_COOKIE_SAMESITE", "Lax")),
        persistent=not getattr(settings, "SESSION_EXPIRE_AT_BROWSER_CLOSE", False),
        insecure_development_mode=insecure,
    )
    kwargs: dict[str, Any] = {}
    age = getattr(settings, "SESSION_COOKIE_AGE", _DJANGO_DEFAULT_AGE)
    if age != _DJANGO_DEFAULT_AGE:
        kwargs["absolute_timeout"] = _seconds(age, "SESSION_COOKIE_AGE")
        kwargs["idle_timeout"] = min(30 * 60.0, kwargs["absolute_timeout"])
    if "ABSOLUTE_TIMEOUT" in options:
        kwargs["absolute_timeout"] = _seconds(options["ABSOLUTE_TIMEOUT"], "ABSOLUTE_TIMEOUT")
    if "IDLE_TIMEOUT" in options:
        kwargs["idle_timeout"] = _seconds(options["IDLE_TIMEOUT"], "IDLE_TIMEOUT")
    if "TRANSPORT" in options:
        kwargs["transport"] = options["TRANSPORT"]
    return SessionConfig(secret_keys=keys, cookie=cookie, **kwargs)


def store_from_settings() -> Any:
    """The sync store named by ``SESSIONARY["STORE_URL"]`` (``"memory"`` by default)."""
    options = _options()
    url = options.get("STORE_URL", "memory")
    if url == "memory":
        from sessionary._sync.memory import MemoryStore  # noqa: PLC0415

        return MemoryStore()
    from sessionary._sync.redis import RedisStore  # noqa: PLC0415 - redis is an extra

    return RedisStore.from_url(url, prefix=options.get("PREFIX", "sessionary"))


def configure(manager: SessionManager | None) -> None:
    """Use ``manager`` for every request (tests, or a store built in code); ``None`` resets."""
    global _manager  # noqa: PLW0603 - one manager per process, like Django's caches
    with _lock:
        _manager = manager


def get_manager() -> SessionManager:
    """The process-wide manager, built from the settings on first use."""
    global _manager  # noqa: PLW0603
    manager = _manager
    if manager is None:
        with _lock:
            if _manager is None:
                _manager = SessionManager(store_from_settings(), config_from_settings())
            manager = _manager
    return manager
