"""What becomes of a response once its session is committed: one table for every adapter.

A commit that fails replaces the application's response (and its ``Set-Cookie``):

* :class:`~sessionary.exceptions.StoreUnavailableError` → 503 (the store is down);
* :class:`~sessionary.exceptions.SessionLimitError` → 403 (a login over
  ``max_sessions_per_user`` with ``reject_new``; nothing was written);
* :class:`~sessionary.exceptions.StoreConflictError` and
  :class:`~sessionary.exceptions.LockError` → 409 (a conflicting write, or a lock lost or
  never obtained).

A *failed* request — the handler raised, or the response is a 5xx — commits only what must
hold for security: a logout and an explicit rotation (the response still carries the cleared
cookie or the new ID); the handler's other changes are dropped. ``commit_on_error=True``
commits a failed request like a successful one. A 500 after the handler touched a session
the store could not load is the framework's answer to the outage: it becomes a 503.
A handler that raised is left to the framework (and its error to the server's log), except
that an outage is answered 503, and a 500 is sent with the cookie when the ID changed (the
framework's own 500 could not carry it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from sessionary.exceptions import (
    LockError,
    SessionLimitError,
    StoreConflictError,
    StoreUnavailableError,
)
from sessionary.sansio.update import ResponseUpdate

__all__ = [
    "COMMIT_ERRORS",
    "FAILED",
    "OUTAGE",
    "REASONS",
    "SUCCEEDED",
    "Answer",
    "Settlement",
    "delivers_id",
    "error_status",
]

COMMIT_ERRORS = (StoreUnavailableError, SessionLimitError, StoreConflictError, LockError)
"""The commit failures an adapter answers itself (anything else is the application's 500)."""
_STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (StoreUnavailableError, 503),
    (SessionLimitError, 403),
    (StoreConflictError, 409),
    (LockError, 409),
)
REASONS = {
    400: b"Bad Request",
    403: b"Forbidden",
    409: b"Conflict",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}
"""The generic bodies of the answers adapters give themselves."""


def error_status(error: BaseException) -> int:
    """The HTTP status answering one of :data:`COMMIT_ERRORS`."""
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    msg = f"{type(error).__name__} is not a commit error"
    raise TypeError(msg)


class Answer(NamedTuple):
    """What the adapter does with the response once the session is settled.

    ``status is None``: keep the application's response and merge ``update`` into it (or,
    when the handler raised, leave the error to the framework). Otherwise replace it with
    ``status`` and :attr:`body`, carrying ``update`` when there is one. (A named tuple:
    every request builds one, docs/benchmarks.md.)
    """

    update: ResponseUpdate | None = None
    status: int | None = None
    reraise: bool = False
    """The handler's error goes on to the framework or server after this answer."""
    cause: BaseException | None = None
    """The commit error behind a replaced response, if any."""

    @property
    def body(self) -> bytes:
        """The generic body of :attr:`status` (empty when the response is kept)."""
        return b"" if self.status is None else REASONS[self.status]


def delivers_id(update: ResponseUpdate) -> bool:
    """Whether ``update`` sets or clears the client's ID (it must reach the client)."""
    return update.set_cookie is not None or update.token_header is not None


@dataclass(frozen=True, slots=True)
class Settlement:
    """The commit rules of one request (:meth:`sessionary.sansio.gate.Gate.settlement`)."""

    failed: bool
    """Commit only a logout or an explicit rotation."""
    refuse: BaseException | None = None
    """Record ``fail_closed`` for this error before committing (the handler's outage)."""
    outage: bool = False
    """Answer 503, whatever the commit gives."""
    raised: bool = False
    """The handler raised: the framework answers, unless the ID changed or it is an outage."""

    def after(self, update: ResponseUpdate) -> Answer:
        """The answer once the commit gave ``update``."""
        if self.outage:
            return Answer(update, 503)
        if self.raised:
            return (
                Answer(update, 500, reraise=True) if delivers_id(update) else Answer(reraise=True)
            )
        return Answer(update)

    def after_error(self, error: BaseException) -> Answer:
        """The answer once the commit raised ``error`` (one of :data:`COMMIT_ERRORS`)."""
        if self.outage:
            return Answer(status=503, cause=error)
        if self.raised:  # the request fails anyway: the application's error is the answer
            return Answer(reraise=True, cause=error)
        return Answer(status=error_status(error), cause=error)


SUCCEEDED = Settlement(failed=False)
"""The rules of a request that succeeded: commit everything."""
FAILED = Settlement(failed=True)
"""The rules of a request answered 5xx: commit only a logout or a rotation."""
OUTAGE = Settlement(failed=True, outage=True)
"""The rules of a request whose handler met the store's outage: 503."""
