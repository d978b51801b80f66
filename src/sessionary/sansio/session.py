"""The :class:`Session` mapping handed to request handlers.

It behaves like a ``dict`` of JSON-like values (and is what ``request.session`` returns in
Starlette), while it records exactly what the handler did:

* values are decoded lazily, on first access;
* each assignment is encoded at once, so an unserializable value raises ``TypeError`` on
  the line that assigned it (R50);
* nested mutation (``session["cart"].append(x)``) needs no ``modified = True`` ritual: at
  commit every mutable value the handler touched is re-encoded and compared with the bytes
  that were loaded;
* keys whose state the handler observed *and* then changed are reported for the store's
  field-level compare-and-set, so concurrent writers of disjoint keys never conflict.

Lifecycle requests (:meth:`login`, :meth:`reauthenticate`, :meth:`elevate`, :meth:`rotate`,
:meth:`logout`) are recorded here and carried out by the cycle at commit. Server-side metadata
(user, auth time, timestamps) is read-only for the handler.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sessionary.codecs import decode_value
from sessionary.codecs.base import Codec
from sessionary.exceptions import (
    DecodeError,
    ReauthenticationRequiredError,
    SessionClosedError,
    SessionStateError,
)

__all__ = ["Delta", "Lifecycle", "Session"]

_UNDECODED: Any = object()
# Values of these types cannot change in place, so reading them never needs a re-encode.
_IMMUTABLE = frozenset(
    {
        str,
        int,
        float,
        bool,
        type(None),
        bytes,
        frozenset,
        Decimal,
        uuid.UUID,
        dt.datetime,
        dt.date,
        dt.time,
        dt.timedelta,
    }
)
_MAX_USER_ID_LENGTH = 256


@dataclass(slots=True)
class Delta:
    """What changed in a session's attributes since it was loaded."""

    attributes: dict[str, bytes]
    delete: tuple[str, ...]
    expected: dict[str, bytes | None]
    size: int
    """Encoded size of the attributes after the change (names plus values)."""

    def __bool__(self) -> bool:
        return bool(self.attributes or self.delete)

    def __repr__(self) -> str:
        # Names only, as Session's repr: values may hold tokens the application stored (R79).
        return (
            f"Delta(attributes={sorted(self.attributes)}, delete={self.delete}, "
            f"expected={sorted(self.expected)}, size={self.size})"
        )


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


class Session(MutableMapping[str, Any]):
    """A session's attributes, with change tracking. See the module docstring."""

    __slots__ = (
        "_accessed",
        "_auth_time",
        "_closed",
        "_codec",
        "_data",
        "_destroy_loaded",
        "_dirty",
        "_end_reason",
        "_error",
        "_is_new",
        "_meta_changed",
        "_now",
        "_raw",
        "_read",
        "_read_only",
        "_ref",
        "_refused",
        "_rotate",
        "_user_id",
        "_written",
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
        self._codec = codec
        self._raw: Mapping[str, bytes] = raw if raw is not None else {}
        self._data: dict[str, Any] = dict.fromkeys(self._raw, _UNDECODED)
        self._written: dict[str, bytes] = {}
        self._read: set[str] = set()
        self._now = now
        self._is_new = is_new
        self._user_id = user_id
        self._auth_time = auth_time
        self._error = error
        self._read_only = read_only
        """Raised by every write: the read-only view served while the store is down."""
        self._refused = False
        """Set once the load error was raised to the handler (the request is refused)."""
        self._ref = ref
        self._end_reason = end_reason
        self._accessed = False
        self._closed = False
        self._rotate = False
        self._destroy_loaded = False
        self._meta_changed = False
        self._dirty = False
        """Set when something may have changed: a write, a delete, or a mutable value read."""

    # ------------------------------------------------------------------ guards
    def _check(self) -> None:
        if self._error is not None:
            self._refused = True
            raise self._error
        self._accessed = True

    def _check_writable(self) -> None:
        self._check()
        if self._read_only is not None:
            raise self._read_only
        if self._closed:
            msg = "the session was changed after the response headers were sent"
            raise SessionClosedError(msg)

    # ------------------------------------------------------------------ mapping protocol
    def __getitem__(self, key: str) -> Any:
        self._check()
        self._read.add(key)  # observing absence is a read too (compare-and-set on "absent")
        value = self._data[key]  # KeyError propagates, like dict
        if value is _UNDECODED:
            value = self._decode(key)
        return value

    def _decode(self, key: str) -> Any:
        try:
            value = decode_value(self._raw[key])
        except DecodeError:
            # A corrupted field reads as absent rather than failing the request.
            del self._data[key]
            raise KeyError(key) from None
        self._data[key] = value
        if type(value) not in _IMMUTABLE:
            self._dirty = True  # the handler may mutate it in place: compare at commit
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        if type(key) is not str:
            msg = f"session keys must be str, not {type(key).__name__}"
            raise TypeError(msg)
        self._check_writable()
        self._written[key] = self._codec.encode(value)  # raises TypeError early (R50)
        self._data[key] = value
        self._dirty = True

    def __delitem__(self, key: str) -> None:
        self._check_writable()
        del self._data[key]
        self._written.pop(key, None)
        self._dirty = True

    def _decode_all(self) -> None:
        """Decode every value still encoded, dropping corrupted ones (whole-session views)."""
        for key in [k for k, v in self._data.items() if v is _UNDECODED]:
            try:
                self._decode(key)
            except KeyError:
                continue  # corrupted: already removed, so it is never listed

    def __iter__(self) -> Iterator[str]:
        self._check()
        self._decode_all()
        return iter(self._data)

    def __len__(self) -> int:
        self._check()
        self._decode_all()
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        self._check()
        if not isinstance(key, str):
            return False
        self._read.add(key)
        if self._data.get(key, None) is _UNDECODED:
            try:
                self._decode(key)
            except KeyError:
                return False
        return key in self._data

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value for ``key``, or ``default``."""
        try:
            return self[key]
        except KeyError:
            return default

    def clear(self) -> None:
        """Remove every attribute (blind deletes: no compare-and-set)."""
        self._check_writable()
        self._data.clear()
        self._written.clear()
        self._dirty = True

    def __repr__(self) -> str:
        if self._error is not None:
            return "<Session unavailable>"
        state = "new" if self._is_new else "loaded"
        return f"<Session {state} keys={sorted(self._data)!r}>"

    # ------------------------------------------------------------------ Starlette compatibility
    @property
    def accessed(self) -> bool:
        """Whether the handler looked at the session (drives ``Vary: Cookie``)."""
        return self._accessed

    def mark_accessed(self) -> None:
        """Called by Starlette's ``request.session``; raises if the store is unavailable."""
        self._check()

    @property
    def modified(self) -> bool:
        """Whether committing would write anything (computes the delta)."""
        return bool(self._destroy_loaded or self._rotate or self._meta_changed or self.delta())

    # ------------------------------------------------------------------ lifecycle
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
        """
        self._check_writable()
        if not self._is_new:
            self._destroy_loaded = True
        self._raw = {}
        self._data = {}
        self._written = {}
        self._read = set()
        self._is_new = True
        self._ref = None
        self._user_id = None
        self._auth_time = None
        self._rotate = False
        self._meta_changed = False

    # ------------------------------------------------------------------ for the cycle
    def delta(self) -> Delta:
        """Compute the attribute changes since load (re-encodes touched mutable values)."""
        if not self._dirty:
            return Delta({}, (), {}, 0)  # only immutable values were read: nothing changed
        raw = self._raw
        data = self._data
        written = self._written
        changed: dict[str, bytes] = {}
        size = 0
        for key, value in data.items():
            if value is _UNDECODED:  # never touched by the handler: unchanged
                size += len(key.encode()) + len(raw[key])
                continue
            encoded = written.get(key)
            if encoded is None or type(value) not in _IMMUTABLE:
                # Read, or written and then possibly mutated in place: compare fresh bytes.
                encoded = self._codec.encode(value)
            if raw.get(key) != encoded:
                changed[key] = encoded
            size += len(key.encode()) + len(encoded)
        delete = tuple(k for k in raw if k not in data)
        read = self._read
        expected = {k: raw.get(k) for k in (*changed, *delete) if k in read}
        return Delta(changed, delete, expected, size)

    def close(self) -> None:
        """Forbid further changes (called once the response headers are on their way)."""
        self._closed = True

    @property
    def unavailable(self) -> bool:
        """``True`` when the store failed to load this session."""
        return self._error is not None

    @property
    def read_only(self) -> bool:
        """``True`` for the read-only view served while the store is down."""
        return self._read_only is not None

    @property
    def error(self) -> BaseException | None:
        """The error that made this session unavailable, if any."""
        return self._error

    @property
    def refused(self) -> bool:
        """``True`` once the handler touched an unavailable session (and got the error)."""
        return self._refused

    @property
    def lifecycle(self) -> Lifecycle:
        """The lifecycle requests made by the handler."""
        return Lifecycle(
            self._destroy_loaded, self._rotate, self._meta_changed, self._user_id, self._auth_time
        )

    def require_available(self) -> None:
        """Raise the load error, if any (used by adapters that need the session)."""
        if self._error is not None:
            raise self._error
