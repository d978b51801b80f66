"""Django's settings → a :class:`~sessionary.SessionConfig` and the stores.

The keys are listed in :mod:`sessionary.integrations.django.conf`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from sessionary._async.memory import AsyncMemoryStore
from sessionary._sync.memory import MemoryStore
from sessionary.config import CookieOptions, SessionConfig
from sessionary.exceptions import ConfigurationError
from sessionary.integrations._settings import cookie_setting, samesite_setting, seconds_setting
from sessionary.integrations._store_url import MEMORY, async_store_from_url, store_from_url
from sessionary.stores.base import AsyncSessionStore, SessionStore
from sessionary.stores.memory import MemoryEngine

__all__ = ["config_from_settings", "sessionary_settings", "stores_from_settings"]

_DJANGO_COOKIE_NAME = "sessionid"
_DJANGO_COOKIE_AGE = 1_209_600  # two weeks
_TWELVE_HOURS = 12 * 3600.0
_PASSED_THROUGH = {
    "TRANSPORT": "transport",
    "TOKEN_HEADER": "token_header",
    "RESPONSE_TOKEN_HEADER": "response_token_header",
    "CODEC": "codec",
}


def sessionary_settings() -> dict[str, Any]:
    """``settings.SESSIONARY`` (``{}`` when unset)."""
    options = getattr(settings, "SESSIONARY", {})
    if not isinstance(options, dict):
        msg = "settings.SESSIONARY must be a dict"
        raise ConfigurationError(msg)
    return options


def _cookie(options: dict[str, Any]) -> CookieOptions:
    if not settings.SESSION_COOKIE_HTTPONLY:
        msg = "SESSION_COOKIE_HTTPONLY = False is not supported: the session ID stays HttpOnly"
        raise ConfigurationError(msg)
    insecure = bool(options.get("INSECURE_DEVELOPMENT_MODE", False))
    name = settings.SESSION_COOKIE_NAME
    return cookie_setting(
        name="__Host-session" if name == _DJANGO_COOKIE_NAME else name,
        domain=settings.SESSION_COOKIE_DOMAIN or None,
        path=settings.SESSION_COOKIE_PATH or "/",
        secure=bool(settings.SESSION_COOKIE_SECURE) or not insecure,
        samesite=samesite_setting(settings.SESSION_COOKIE_SAMESITE),
        persistent=not settings.SESSION_EXPIRE_AT_BROWSER_CLOSE,
        insecure_development_mode=insecure,
    )


def config_from_settings() -> SessionConfig:
    """Map ``settings.SESSIONARY`` and Django's ``SESSION_*`` onto a ``SessionConfig``."""
    options = sessionary_settings()
    if "CONFIG" in options:
        config = options["CONFIG"]
        if not isinstance(config, SessionConfig):
            msg = "SESSIONARY['CONFIG'] must be a sessionary.SessionConfig"
            raise ConfigurationError(msg)
        return config
    kwargs: dict[str, Any] = {}
    age = settings.SESSION_COOKIE_AGE
    if age != _DJANGO_COOKIE_AGE:
        kwargs["idle_timeout"] = seconds_setting(age, "SESSION_COOKIE_AGE")
        kwargs["absolute_timeout"] = max(kwargs["idle_timeout"], _TWELVE_HOURS)
    if "IDLE_TIMEOUT" in options:
        kwargs["idle_timeout"] = seconds_setting(options["IDLE_TIMEOUT"], "IDLE_TIMEOUT")
    if "ABSOLUTE_TIMEOUT" in options:
        kwargs["absolute_timeout"] = seconds_setting(
            options["ABSOLUTE_TIMEOUT"], "ABSOLUTE_TIMEOUT"
        )
    for option, name in _PASSED_THROUGH.items():
        if option in options:
            kwargs[name] = options[option]
    keys = options.get("SECRET_KEYS")
    if keys is not None:
        return SessionConfig(secret_keys=keys, cookie=_cookie(options), **kwargs)
    keys = [settings.SECRET_KEY, *(settings.SECRET_KEY_FALLBACKS or [])]
    try:
        return SessionConfig(secret_keys=keys, cookie=_cookie(options), **kwargs)
    except ConfigurationError as exc:
        if "secret_keys" not in str(exc):
            raise
        msg = f"{exc} (from SECRET_KEY/SECRET_KEY_FALLBACKS; or set SESSIONARY['SECRET_KEYS'])"
        raise ConfigurationError(msg) from exc


def stores_from_settings(
    options: dict[str, Any],
) -> tuple[SessionStore | None, AsyncSessionStore | None, bool]:
    """The sync and async stores, and whether they were built here (and are ours to close)."""
    store, async_store = options.get("STORE"), options.get("ASYNC_STORE")
    if store is None and async_store is None:
        url = options.get("STORE_URL", MEMORY)
        if url == MEMORY:  # one engine for both flavours
            engine = MemoryEngine()
            return MemoryStore(engine=engine), AsyncMemoryStore(engine=engine), True
        prefix = options.get("PREFIX", "sessionary")
        sync, async_ = (
            store_from_url(url, prefix=prefix),
            async_store_from_url(url, prefix=prefix),
        )
        return sync, async_, True
    if store is None and isinstance(async_store, AsyncMemoryStore):
        store = MemoryStore(engine=async_store.engine)
    elif async_store is None and isinstance(store, MemoryStore):
        async_store = AsyncMemoryStore(engine=store.engine)
    return store, async_store, False
