"""sessionary: distributed HTTP sessions, correct under concurrency and secure by default.

The public API, in one place::

    from sessionary import SessionConfig, AsyncSessionManager
    from sessionary.stores import AsyncRedisStore, AsyncMemoryStore
    from sessionary.integrations.asgi import SessionMiddleware

See ``README.md`` for a quick start per framework.
"""

from __future__ import annotations

from sessionary._async.events import AsyncMemoryEventLog
from sessionary._async.manager import AsyncSessionManager
from sessionary._async.sweeper import AsyncSweeper
from sessionary._sync.events import MemoryEventLog
from sessionary._sync.manager import SessionManager
from sessionary._sync.sweeper import Sweeper
from sessionary.config import (
    ClientBinding,
    ConflictPolicy,
    CookieOptions,
    LimitPolicy,
    SessionConfig,
    StoreDownPolicy,
)
from sessionary.exceptions import (
    CodecError,
    ConfigError,
    ConfigurationError,
    CookieTooLargeError,
    DecodeError,
    LockError,
    LockLostError,
    LockNotAcquiredError,
    ReauthenticationRequiredError,
    SessionaryError,
    SessionBackendError,
    SessionClosedError,
    SessionLimitError,
    SessionReadOnlyError,
    SessionRotatedError,
    SessionStateError,
    SessionTooLargeError,
    StoreConflictError,
    StoreDurabilityError,
    StoreError,
    StoreTimeoutError,
    StoreUnavailableError,
    UnserializableValueError,
)
from sessionary.observability import LoggingObserver, NullObserver, Observer, ObserverGroup
from sessionary.sansio.events import EventName, SessionEvent
from sessionary.sansio.session import Session
from sessionary.sansio.users import RevocationReason, UserSession

__version__ = "0.1.0"

__all__ = [
    "AsyncMemoryEventLog",
    "AsyncSessionManager",
    "AsyncSweeper",
    "ClientBinding",
    "CodecError",
    "ConfigError",
    "ConfigurationError",
    "ConflictPolicy",
    "CookieOptions",
    "CookieTooLargeError",
    "DecodeError",
    "EventName",
    "LimitPolicy",
    "LockError",
    "LockLostError",
    "LockNotAcquiredError",
    "LoggingObserver",
    "MemoryEventLog",
    "NullObserver",
    "Observer",
    "ObserverGroup",
    "ReauthenticationRequiredError",
    "RevocationReason",
    "Session",
    "SessionBackendError",
    "SessionClosedError",
    "SessionConfig",
    "SessionEvent",
    "SessionLimitError",
    "SessionManager",
    "SessionReadOnlyError",
    "SessionRotatedError",
    "SessionStateError",
    "SessionTooLargeError",
    "SessionaryError",
    "StoreConflictError",
    "StoreDownPolicy",
    "StoreDurabilityError",
    "StoreError",
    "StoreTimeoutError",
    "StoreUnavailableError",
    "Sweeper",
    "UnserializableValueError",
    "UserSession",
    "__version__",
]
