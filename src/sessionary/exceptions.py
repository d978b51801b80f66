"""The one exception tree of sessionary.

Every error sessionary raises on purpose derives from :class:`SessionaryError`, so
``except SessionaryError`` catches them all. Driver exceptions (redis-py, …) never
escape a store: they are mapped at the store boundary::

    SessionaryError
    ├── ConfigurationError             bad settings, found at start-up
    ├── CodecError                     a value could not be encoded or decoded
    │   ├── UnserializableValueError   (also a TypeError) value outside the codec's allowlist
    │   └── DecodeError                (also a ValueError) stored bytes are not a valid payload
    ├── SessionStateError              the session was used in a way its state forbids
    │   ├── SessionTooLargeError       the committed session would exceed ``max_size``
    │   │   └── CookieTooLargeError    a sealed cookie would exceed 4096 bytes with its name
    │   ├── SessionClosedError         the session was changed after its response was sent
    │   └── SessionLimitError          a login beyond ``max_sessions_per_user`` (reject_new)
    ├── ReauthenticationRequiredError  ``require_recent_auth`` found the last login too old
    ├── MigrationError                 a legacy session could not be read or migrated
    └── StoreError                     the store could not do what was asked
        ├── StoreUnavailableError      store down or unreachable → 503
        │   ├── StoreTimeoutError      the store did not answer in time → HTTP 503
        │   ├── StoreDurabilityError   too few replicas acknowledged a durable write → 503
        │   └── SessionReadOnlyError   a write to the read-only view served while down → 503
        ├── StoreConflictError         fields read and written changed meanwhile (raise) → 409
        │   └── SessionRotatedError    a concurrent login/rotation to another user → 409
        └── LockError                  the opt-in per-session lock
            ├── LockNotAcquiredError   another request held it longer than the wait allowed
            └── LockLostError          it expired before the commit; nothing was written

Messages never contain raw session IDs, tokens or keys (docs/security.md R79): where an ID
must be named, its keyed fingerprint is used.
"""

from __future__ import annotations

__all__ = [
    "CodecError",
    "ConfigurationError",
    "CookieTooLargeError",
    "DecodeError",
    "LockError",
    "LockLostError",
    "LockNotAcquiredError",
    "MigrationError",
    "ReauthenticationRequiredError",
    "SessionClosedError",
    "SessionLimitError",
    "SessionReadOnlyError",
    "SessionRotatedError",
    "SessionStateError",
    "SessionTooLargeError",
    "SessionaryError",
    "StoreConflictError",
    "StoreDurabilityError",
    "StoreError",
    "StoreTimeoutError",
    "StoreUnavailableError",
    "UnserializableValueError",
]


class SessionaryError(Exception):
    """Root of every error sessionary raises on purpose."""


class ConfigurationError(SessionaryError, ValueError):
    """Invalid configuration, detected when the configuration is built (at start-up)."""


class CodecError(SessionaryError):
    """A session value could not be encoded or decoded."""


class UnserializableValueError(CodecError, TypeError):
    """A value is not in the codec's type allowlist (raised when it is assigned or saved)."""


class DecodeError(CodecError, ValueError):
    """Stored bytes are not a valid payload for any known codec, or break a decoder limit."""


class SessionStateError(SessionaryError):
    """The session was used in a way its current state does not allow."""


class SessionTooLargeError(SessionStateError):
    """Committing would make the session larger than ``SessionConfig.max_size``.

    Nothing was written: the stored session is left as it was.
    """

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"session would be {size} bytes, over the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class CookieTooLargeError(SessionTooLargeError):
    """A sealed session cookie would exceed 4096 bytes (name plus value, RFC 6265bis).

    No ``Set-Cookie`` is sent: the client keeps its previous cookie and session. Store less
    in the session, or use a server-side store.
    """

    def __init__(self, size: int, limit: int) -> None:
        SessionStateError.__init__(
            self,
            f"sealed session cookie would be {size} bytes with its name, over the "
            f"{limit}-byte cookie limit; store less or use a server-side store",
        )
        self.size = size
        self.limit = limit


class SessionClosedError(SessionStateError):
    """The session was changed after its response headers had been sent."""


class ReauthenticationRequiredError(SessionaryError):
    """The user must authenticate again: their last authentication is too old (or absent).

    Raised by :meth:`sessionary.Session.require_recent_auth` before sensitive operations
    (changing a password or an e-mail address, payments). Catch it to ask for the password
    again (a re-authentication form), then call ``session.login(user)``.
    """

    def __init__(self, max_age_s: float, age_s: float | None) -> None:
        what = "never authenticated" if age_s is None else f"authenticated {age_s:.0f} s ago"
        super().__init__(f"recent authentication required (within {max_age_s:.0f} s; {what})")
        self.max_age_s = max_age_s
        self.age_s = age_s


class SessionLimitError(SessionStateError):
    """A login would exceed ``max_sessions_per_user`` (policy ``reject_new``); nothing was written.

    Check :meth:`~sessionary.AsyncSessionManager.count_user_sessions` before ``login()`` to
    show a friendly page, or catch this around the commit.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(f"the user already has the maximum of {limit} sessions")
        self.limit = limit


class MigrationError(SessionaryError):
    """A legacy session could not be migrated: unreadable, or in a format not allowed.

    Raised by legacy sources (:mod:`sessionary.sansio.migration`) for a record they cannot
    decode (corrupt, signed with another secret, or pickled without the explicit opt-in)
    and by a pickle opt-in that is refused. ``reason`` says which, never a value.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StoreError(SessionaryError):
    """The session store failed to perform an operation."""


class StoreUnavailableError(StoreError):
    """The store is down or unreachable. Adapters answer 503 when the handler needs the session."""


class StoreTimeoutError(StoreUnavailableError):
    """The store did not answer within its timeout."""


class StoreDurabilityError(StoreUnavailableError):
    """Fewer replicas than required acknowledged a durable write (Redis ``WAIT``).

    The write *was* applied on the primary, but a failover before it reaches a replica
    could undo it (a logged-out session coming back). Retrying is safe: a destroy is
    idempotent. ``required`` and ``acknowledged`` count replicas.
    """

    def __init__(self, operation: str, *, required: int, acknowledged: int) -> None:
        super().__init__(
            f"{operation}: {acknowledged} of {required} required replica(s) acknowledged the "
            "write in time; it may not survive a failover"
        )
        self.required = required
        self.acknowledged = acknowledged


class SessionReadOnlyError(StoreUnavailableError):
    """The store is down and this request got a read-only view (``fail_open_readonly``).

    Raised by every write (``session[k] = v``, ``del``, ``login``, ``logout``…): nothing can
    be stored until the store is back. Uncaught, adapters answer 503.
    """


class StoreConflictError(StoreError):
    """A concurrent request changed fields this request read and wrote (conflict policy ``raise``).

    Nothing was written. ``fields`` names the attributes that changed underneath (empty when
    the session kept changing under every attempt to write it). Adapters answer 409.
    """

    def __init__(self, fields: tuple[str, ...] = (), message: str | None = None) -> None:
        if message is None:
            message = f"session fields changed concurrently: {', '.join(fields)}"
        super().__init__(message)
        self.fields = fields


class SessionRotatedError(StoreConflictError):
    """Another request logged this session in (or changed its user) while this one ran.

    Raised by a login that lost to a concurrent login of the same session, and by a write
    whose session was meanwhile signed in or out as another user. Nothing was written and
    the client's ID is no longer valid; adapters answer 409, and the client may retry (it
    then starts from the session the winning request left, or a new one).
    """

    def __init__(self) -> None:
        super().__init__(
            (),
            "another request signed this session in or rotated it to another user meanwhile; "
            "nothing was written (retry the request)",
        )


class LockError(StoreError):
    """The per-session lock could not be acquired or was lost."""


class LockNotAcquiredError(LockError):
    """Another request held the session's lock for longer than the wait allowed."""


class LockLostError(LockError):
    """The lock expired (or was taken over) before the commit; nothing was written."""
