"""sessionary: distributed HTTP sessions, correct under concurrency and secure by default.

The public API, in one place::

    from sessionary import SessionConfig, AsyncSessionManager
    from sessionary.stores import AsyncRedisStore, AsyncMemoryStore
    from sessionary.integrations.asgi import SessionMiddleware

See ``README.md`` for a quick start per framework.

Every name is imported on first use (:mod:`sessionary._lazy`): ``import sessionary`` loads
none of the modules behind them, so a program that needs only the sans-IO core
(``import sessionary.sansio.ops``) loads neither asyncio nor redis-py nor the managers.
"""

from __future__ import annotations

import typing

from sessionary._lazy import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:
    from sessionary._async.events import AsyncMemoryEventLog
    from sessionary._async.manager import AsyncSessionManager
    from sessionary._async.migration import AsyncLegacyMigration
    from sessionary._async.sweeper import AsyncSweeper
    from sessionary._sync.events import MemoryEventLog
    from sessionary._sync.manager import SessionManager
    from sessionary._sync.migration import LegacyMigration
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
        ConfigurationError,
        CookieTooLargeError,
        DecodeError,
        LockError,
        LockLostError,
        LockNotAcquiredError,
        MigrationError,
        ReauthenticationRequiredError,
        SessionaryError,
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
    "AsyncLegacyMigration",
    "AsyncMemoryEventLog",
    "AsyncSessionManager",
    "AsyncSweeper",
    "ClientBinding",
    "CodecError",
    "ConfigurationError",
    "ConflictPolicy",
    "CookieOptions",
    "CookieTooLargeError",
    "DecodeError",
    "EventName",
    "LegacyMigration",
    "LimitPolicy",
    "LockError",
    "LockLostError",
    "LockNotAcquiredError",
    "LoggingObserver",
    "MemoryEventLog",
    "MigrationError",
    "NullObserver",
    "Observer",
    "ObserverGroup",
    "ReauthenticationRequiredError",
    "RevocationReason",
    "Session",
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

_HOMES = {
    "sessionary._async.events": ("AsyncMemoryEventLog",),
    "sessionary._async.manager": ("AsyncSessionManager",),
    "sessionary._async.migration": ("AsyncLegacyMigration",),
    "sessionary._async.sweeper": ("AsyncSweeper",),
    "sessionary._sync.events": ("MemoryEventLog",),
    "sessionary._sync.manager": ("SessionManager",),
    "sessionary._sync.migration": ("LegacyMigration",),
    "sessionary._sync.sweeper": ("Sweeper",),
    "sessionary.config": (
        "ClientBinding",
        "ConflictPolicy",
        "CookieOptions",
        "LimitPolicy",
        "SessionConfig",
        "StoreDownPolicy",
    ),
    "sessionary.exceptions": (
        "CodecError",
        "ConfigurationError",
        "CookieTooLargeError",
        "DecodeError",
        "LockError",
        "LockLostError",
        "LockNotAcquiredError",
        "MigrationError",
        "ReauthenticationRequiredError",
        "SessionaryError",
        "SessionClosedError",
        "SessionLimitError",
        "SessionReadOnlyError",
        "SessionRotatedError",
        "SessionStateError",
        "SessionTooLargeError",
        "StoreConflictError",
        "StoreDurabilityError",
        "StoreError",
        "StoreTimeoutError",
        "StoreUnavailableError",
        "UnserializableValueError",
    ),
    "sessionary.observability": (
        "LoggingObserver",
        "NullObserver",
        "Observer",
        "ObserverGroup",
    ),
    "sessionary.sansio.events": (
        "EventName",
        "SessionEvent",
    ),
    "sessionary.sansio.session": ("Session",),
    "sessionary.sansio.users": (
        "RevocationReason",
        "UserSession",
    ),
}
"""Where each public name is defined: the package imports it on first use (see below)."""

__getattr__ = _lazy_exports(
    __name__, {name: module for module, names in _HOMES.items() for name in names}
)
