"""sessionary: distributed HTTP sessions, correct under concurrency and secure by default.

The public API, in one place::

    from sessionary import SessionConfig, AsyncSessionManager
    from sessionary.stores import AsyncRedisStore, AsyncMemoryStore
    from sessionary.integrations.asgi import SessionMiddleware

See ``README.md`` for a quick start per framework.
"""

from __future__ import annotations

from sessionary._async.manager import AsyncSessionManager
from sessionary._sync.manager import SessionManager
from sessionary.config import ConflictPolicy, CookieOptions, SessionConfig
from sessionary.exceptions import (
    CodecError,
    ConfigError,
    ConfigurationError,
    DecodeError,
    ReauthenticationRequiredError,
    SessionaryError,
    SessionBackendError,
    SessionClosedError,
    SessionStateError,
    SessionTooLargeError,
    StoreConflictError,
    StoreError,
    StoreTimeoutError,
    StoreUnavailableError,
    UnserializableValueError,
)
from sessionary.observability import LoggingObserver, NullObserver, Observer, ObserverGroup
from sessionary.sansio.events import EventName, SessionEvent
from sessionary.sansio.session import Session

__version__ = "0.1.0"

__all__ = [
    "AsyncSessionManager",
    "CodecError",
    "ConfigError",
    "ConfigurationError",
    "ConflictPolicy",
    "CookieOptions",
    "DecodeError",
    "EventName",
    "LoggingObserver",
    "NullObserver",
    "Observer",
    "ObserverGroup",
    "ReauthenticationRequiredError",
    "Session",
    "SessionBackendError",
    "SessionClosedError",
    "SessionConfig",
    "SessionEvent",
    "SessionManager",
    "SessionStateError",
    "SessionTooLargeError",
    "SessionaryError",
    "StoreConflictError",
    "StoreError",
    "StoreTimeoutError",
    "StoreUnavailableError",
    "UnserializableValueError",
    "__version__",
]
