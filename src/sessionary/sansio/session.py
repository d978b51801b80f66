"""The :class:`Session` handed to request handlers: a tracked ``dict`` with a lifecycle.

The data half — a ``dict`` that serialises like one and records what the handler read and
wrote — is :class:`~sessionary.sansio.tracked.TrackedDict`. This adds what a session is:
who is signed in and since when, and the lifecycle requests (:meth:`Session.login`,
:meth:`~Session.reauthenticate`, :meth:`~Session.elevate`, :meth:`~Session.rotate`,
:meth:`~Session.logout`) that the cycle carries out at commit. Server-side metadata (user,
auth time, timestamps) is read-only for the handler.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sessionary.codecs.base import Codec
from sessionary.exceptions import (
    ReauthenticationRequiredError,
    SessionClosedError,
    SessionStateError,
)
from sessionary.sansio.tracked import Delta, TrackedDict

__all__ = ["Delta", "Lifecycle", "Session"]

_MAX_USER_ID_LENGTH = 256


@dataclass(slots=True)
class Lifecycle:
    """Lifecycle requests the handler made, for the cycle to carry out."""

    destroy_loaded: bool
    """Destroy the record this session was loaded from (logout)."""
    rotate: bool
    """Issue a new ID (login, privilege change)."""
    auth_changed: bool
    """``user_id``/``auth_time`` were set by :meth:`Session.login`."""
    user_id: str | None
    auth_time: int | None


class Session(TrackedDict):
    """A session's attributes, with change tracking and a lifecycle. See the module doc."""

    __slots__ = (
        "_auth_time",
        "_destroy_loaded",
        "_end_reason",
        "_is_new",
        "_late_destroy",
        "_loaded_auth_time",
        "_loaded_user_id",
        "_meta_changed",
        "_now",
        "_ref",
        "_rotate",
        "_rotate_requested",
        "_user_id",
    )

    def __init__(
        self,
        codec: Codec,
        raw: Mapping[str, bytes] | None = None,
        *,
        now: int = 0,
        is_new: bool = True,
        user_id: str | None = None,
        auth_time: int | None = None,
        error: BaseException | None = None,
        ref: str | Callable[[], str] | None = None,
        end_reason: str | None = None,
        read_only: BaseException | None = None,
    ) -> None:
        """Build a session; ``raw`` values are decoded now (``DecodeError`` if one fails)."""
        super().__init__(codec, raw, error=error, read_only=read_only)
        self._now = now
        self._is_new = is_new
        self._user_id = user_id
        self._auth_time = auth_time
        self._loaded_user_id = user_id
        self._loaded_auth_time = auth_time
        self._ref = ref
        self._end_reason = end_reason
        self._rotate = False
        self._rotate_requested = False
        """:meth:`rotate` or :meth:`elevate` was called (not only implied by a login)."""
        self._destroy_loaded = False
        self._late_destroy = False
        self._meta_changed = False

    def __repr__(self) -> str:
        if self._error is not None:
            return "<Session unavailable>"
        state = "new" if self._is_new else "loaded"
        return f"<Session {state} keys={sorted(dict.keys(self))!r}>"

    # ------------------------------------------------------------------ lifecycle
    @property
    def modified(self) -> bool:
        """Whether committing would write anything (computes the delta)."""
        return bool(self._destroy_loaded or self._rotate or self._meta_changed or self.delta())

    @property
    def clean(self) -> bool:
        """Whether nothing the handler did can need a write (a cheap check, no encoding).

        No assignment, deletion or read of a mutable value, and no login, logout or
        rotation. ``False`` does not mean something changed: :meth:`delta` decides that.
        """
        return not (self._dirty or self._rotate or self._meta_changed or self._destroy_loaded)

    @property
    def is_new(self) -> bool:
        """``True`` when no stored record backs this session (yet)."""
        return self._is_new

    @property
    def user_id(self) -> str | None:
        """The logged-in user, or ``None`` for an anonymous session."""
        self._check()
        return self._user_id

    @property
    def signed_in(self) -> bool:
        """Whether a user is signed in (for the cycle: reading it is no access)."""
        return self._user_id is not None

    @property
    def auth_time(self) -> dt.datetime | None:
        """When the user last authenticated (UTC), or ``None``."""
        self._check()
        if self._auth_time is None:
            return None
        return dt.datetime.fromtimestamp(self._auth_time / 1000, tz=dt.timezone.utc)

    @property
    def ref(self) -> str | None:
        """This session's handle in device lists (``UserSession.ref``); ``None`` if new."""
        ref = self._ref
        if callable(ref):  # computed on first use: most requests never ask
            ref = self._ref = ref()
        return ref

    @property
    def end_reason(self) -> str | None:
        """Why the session the client presented is no longer valid, if it just ended.

        ``"expired_idle"``, ``"expired_absolute"``, ``"revoked"`` (``revoke_user`` or
        ``revoke_session``) or ``"evicted"`` (``max_sessions_per_user``); ``None`` otherwise.
        Lets the application say *why* the user must sign in again.
        """
        return self._end_reason

    def login(self, user_id: str | int, *, auth_time: dt.datetime | None = None) -> None:
        """Record an authentication: rotates the ID, sets the user and the auth time.

        Logging in as a *different* user than the current one first clears the attributes,
        so nothing leaks from one account to the next (as Django's ``auth.login`` does).
        """
        self._check_writable()
        uid = str(user_id)
        if not uid or len(uid) > _MAX_USER_ID_LENGTH or not uid.isprintable():
            msg = f"user_id must be 1-{_MAX_USER_ID_LENGTH} printable characters"
            raise ValueError(msg)
        if self._user_id is not None and self._user_id != uid:
            self.clear()
        self._user_id = uid
        self._auth_time = self._now if auth_time is None else int(auth_time.timestamp() * 1000)
        self._meta_changed = True
        self._rotate = True

    def require_recent_auth(self, max_age: float | dt.timedelta) -> None:
        """Raise unless the user authenticated within ``max_age`` (seconds or a timedelta).

        Guard sensitive operations with it; on
        :class:`~sessionary.exceptions.ReauthenticationRequiredError` ask for the password
        again and call :meth:`login` (which records a fresh ``auth_time``).
        """
        self._check()
        limit_s = max_age.total_seconds() if isinstance(max_age, dt.timedelta) else max_age
        if isinstance(limit_s, bool) or not isinstance(limit_s, int | float) or limit_s <= 0:
            msg = "max_age must be a positive number of seconds or a timedelta"
            raise ValueError(msg)
        if self._user_id is None or self._auth_time is None:
            raise ReauthenticationRequiredError(limit_s, None)
        age_s = (self._now - self._auth_time) / 1000
        if age_s > limit_s:
            raise ReauthenticationRequiredError(limit_s, age_s)

    def rotate(self) -> None:
        """Issue a new ID at commit (privilege change); the old ID stops working at once.

        Also the way to say "this change must not be rolled back" (a role removed, a one-time
        token spent). With :class:`~sessionary.CookieStore` the old cookie stops working only
        when the cookie store has a revocation store; without one, every earlier copy stays
        valid until it expires (see ``docs/security.md``, R55).
        """
        self._check_writable()
        self._rotate = True
        self._rotate_requested = True

    def elevate(self) -> None:
        """Record a privilege change (a role granted, sudo mode): a new ID at commit (R6).

        The same as :meth:`rotate`, named for the case: the data stays, the old ID stops
        working at once (with the cookie store, only with a revocation store: see
        :meth:`rotate`), the CSRF token follows the new ID. The absolute deadline does not
        move: only :meth:`reauthenticate` (or :meth:`login`) can extend it.
        """
        self.rotate()

    def reauthenticate(self, *, auth_time: dt.datetime | None = None) -> None:
        """Record that the signed-in user proved their identity again (R6, R39).

        Call it after checking the password (or another factor) again, for example on
        :class:`~sessionary.exceptions.ReauthenticationRequiredError`. Like :meth:`login` for
        the same user: the data stays, the ID rotates at commit, ``auth_time`` becomes now (or
        ``auth_time``) and the absolute deadline restarts — the only way to extend it.
        Raises :class:`~sessionary.exceptions.SessionStateError` on an anonymous session.
        """
        self._check_writable()
        if self._user_id is None:
            msg = "reauthenticate() needs a signed-in session; call login() instead"
            raise SessionStateError(msg)
        self.login(self._user_id, auth_time=auth_time)

    def logout(self) -> None:
        """Destroy the stored session and clear the cookie at commit.

        With :class:`~sessionary.CookieStore`, copies of the cookie die too only when it has
        a revocation store (see :meth:`rotate`).

        The mapping becomes a new, empty, anonymous session: anything written afterwards
        (a flash message, say) is stored under a fresh ID.

        Called after the response headers were sent (a streaming response), the stored
        session is still ended — once the response is over — but the cookie cannot be
        cleared any more: :class:`~sessionary.exceptions.SessionClosedError` says so.
        """
        if self._closed and self._error is None and self._read_only is None:
            if not self._is_new:
                self._late_destroy = True
            msg = (
                "logout() after the response headers were sent: the session is ended on "
                "the server once the response is over, but its cookie could not be "
                "cleared; call logout() before the response starts"
            )
            raise SessionClosedError(msg)
        self._check_writable()
        if not self._is_new:
            self._destroy_loaded = True
        self._reset({})
        self._is_new = True
        self._ref = None
        self._user_id = None
        self._auth_time = None
        self._rotate = False
        self._rotate_requested = False
        self._meta_changed = False

    def discard_changes(self) -> None:
        """Forget what the handler changed, keeping only what security requires.

        Used when the request failed (an exception, a 5xx): its writes are not committed.
        A logout and an explicit :meth:`rotate`/:meth:`elevate` are kept (a failed request
        must not keep an ID alive that the application decided to end); a :meth:`login`
        and every attribute change are dropped, and so is anything written after a logout.
        """
        if self._destroy_loaded:
            self._reset({})
            return
        self._reset(self._raw)
        self._user_id = self._loaded_user_id
        self._auth_time = self._loaded_auth_time
        self._meta_changed = False
        self._rotate = self._rotate_requested

    @property
    def late_destroy(self) -> bool:
        """``True`` when :meth:`logout` was called after the headers were sent."""
        return self._late_destroy

    @property
    def lifecycle(self) -> Lifecycle:
        """The lifecycle requests made by the handler."""
        return Lifecycle(
            self._destroy_loaded, self._rotate, self._meta_changed, self._user_id, self._auth_time
        )
